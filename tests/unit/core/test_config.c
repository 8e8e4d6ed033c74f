/*
 * test_config.c: configuration from the environment, database URL redaction, and the
 * engines the environment declares (with the log lines they cause, captured through
 * wf_log_set_stream).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../test_support.h"

/* Reading a block fresh from malloc is what these tests do on purpose: valgrind is told
 * that it is defined (its allocator never hands a freed block back at once anyway). */
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#else
#define VALGRIND_MAKE_MEM_DEFINED(p, n) ((void)(p), (void)(n))
#endif

static const char *const config_vars[] = {
    "DATABASE_URL", "SECRET_KEY", "WFREG_FERNET_KEYS", "WFREG_LISTEN", "LOG_LEVEL",
    "LOG_FORMAT",   NULL};

static int setup(void **state)
{
    (void)state;
    for (size_t i = 0; config_vars[i]; i++)
        unsetenv(config_vars[i]);
    wf_log_setup(WF_LOG_DEBUG, WF_LOG_TEXT);
    log_text = NULL;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    capture_reset();
    wf_log_clear_secrets();
    wf_log_setup(WF_LOG_INFO, WF_LOG_TEXT);
    return 0;
}

/* ---- wf_config_from_env ------------------------------------------------------------ */

static void test_defaults(void **state)
{
    (void)state;
    wf_config c;
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_config_from_env(&c, &err), 0);
    assert_string_equal(c.database_url, "sqlite:./var/wfreg.db");
    assert_null(c.secret_key);
    assert_null(c.fernet_keys);
    assert_string_equal(c.listen, "127.0.0.1:8080");
    assert_int_equal(c.log_level, WF_LOG_INFO);
    assert_int_equal(c.log_format, WF_LOG_TEXT);
    wf_config_free(&c);
    wf_config_free(&c); /* twice is harmless */
}

static void test_empty_means_unset(void **state)
{
    (void)state;
    setenv("SECRET_KEY", "", 1);
    setenv("WFREG_FERNET_KEYS", "", 1);
    setenv("DATABASE_URL", "", 1);
    setenv("LOG_LEVEL", "", 1);
    wf_config c;
    assert_int_equal(wf_config_from_env(&c, NULL), 0);
    assert_null(c.secret_key);
    assert_null(c.fernet_keys);
    assert_string_equal(c.database_url, WF_DEFAULT_DATABASE_URL);
    assert_int_equal(c.log_level, WF_LOG_INFO);
    wf_config_free(&c);
}

static void test_values(void **state)
{
    (void)state;
    setenv("DATABASE_URL", "postgresql://wf:db-pass-1234@db:5432/wfreg", 1);
    setenv("SECRET_KEY", "my-secret-key-value", 1);
    setenv("WFREG_FERNET_KEYS", "fernetkeyAAAA, fernetkeyBBBB", 1);
    setenv("WFREG_LISTEN", "0.0.0.0:9000", 1);
    setenv("LOG_LEVEL", "WARNING", 1);
    setenv("LOG_FORMAT", "json", 1);
    wf_config c;
    assert_int_equal(wf_config_from_env(&c, NULL), 0);
    assert_string_equal(c.database_url, "postgresql://wf:db-pass-1234@db:5432/wfreg");
    assert_string_equal(c.secret_key, "my-secret-key-value");
    assert_string_equal(c.fernet_keys, "fernetkeyAAAA, fernetkeyBBBB");
    assert_string_equal(c.listen, "0.0.0.0:9000");
    assert_int_equal(c.log_level, WF_LOG_WARN);
    assert_int_equal(c.log_format, WF_LOG_JSON);
    wf_config_free(&c);

    /* every secret was registered for redaction as it was read */
    capture_start();
    wf_info("db-pass-1234 my-secret-key-value fernetkeyAAAA fernetkeyBBBB");
    const char *log = capture_stop();
    assert_null(strstr(log, "db-pass-1234"));
    assert_null(strstr(log, "my-secret-key-value"));
    assert_null(strstr(log, "fernetkey"));
    assert_int_equal(count_of(log, "***"), 4);
}

static void test_percent_encoded_password_registered(void **state)
{
    (void)state;
    setenv("DATABASE_URL", "postgresql://wf:p%40ss%2Fword@db/wfreg", 1);
    wf_config c;
    assert_int_equal(wf_config_from_env(&c, NULL), 0);
    wf_config_free(&c);
    capture_start();
    wf_info("raw p%%40ss%%2Fword decoded p@ss/word");
    const char *log = capture_stop();
    assert_null(strstr(log, "p%40ss"));
    assert_null(strstr(log, "p@ss/word"));
}

/* wf_config_free overwrites what held a secret, DATABASE_URL (its password) too: the
 * block malloc hands out next (glibc: the same one, from its tcache) holds none of it.
 * Under ASan, whose quarantine never hands a freed block back, this proves nothing. */
static void test_free_wipes_database_url(void **state)
{
    (void)state;
    const char *url = "postgresql://wfreg:freed-password-0123456789-abcdefghijklmnopqrstuvwxyz"
                      "@db.example.com:5432/wfreg";
    setenv("DATABASE_URL", url, 1);
    wf_config c;
    assert_int_equal(wf_config_from_env(&c, NULL), 0);
    wf_config_free(&c);
    size_t n = strlen(url) + 1;
    char *again = malloc(n);
    assert_non_null(again);
    VALGRIND_MAKE_MEM_DEFINED(again, n);
    /* past the allocator's own 16 bytes */
    int found = memmem(again + 16, n - 16, "freed-password", 14) != NULL;
    free(again);
    assert_false(found);
}

/* A key=value DATABASE_URL with "://" in a value: its password is still registered. */
static void test_keyword_password_registered(void **state)
{
    (void)state;
    setenv("DATABASE_URL", "host=db password=kv-pass-4321 application_name=http://x", 1);
    wf_config c;
    assert_int_equal(wf_config_from_env(&c, NULL), 0);
    wf_config_free(&c);
    capture_start();
    wf_info("password kv-pass-4321");
    const char *log = capture_stop();
    assert_null(strstr(log, "kv-pass-4321"));
}

/* However many passwords a DATABASE_URL repeats, each is registered (libpq uses the last). */
static void test_every_repeated_password_registered(void **state)
{
    (void)state;
    setenv("DATABASE_URL",
           "password=pw-0001 password=pw-0002 password=pw-0003 password=pw-0004 "
           "password=pw-0005 password=pw-0006 password=pw-0007 password=pw-0008 "
           "password=pw-0009 host=db",
           1);
    wf_config c;
    assert_int_equal(wf_config_from_env(&c, NULL), 0);
    wf_config_free(&c);
    capture_start();
    wf_info("last pw-0009");
    const char *log = capture_stop();
    assert_null(strstr(log, "pw-0009"));
}

static void test_log_level_invalid(void **state)
{
    (void)state;
    setenv("LOG_LEVEL", "verbose", 1);
    setenv("SECRET_KEY", "some-secret", 1);
    wf_config c;
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_config_from_env(&c, &err), WF_ERR_INVALID);
    assert_string_equal(err.msg, "LOG_LEVEL: must be one of debug, info, warning, error");
    assert_null(c.database_url);
    assert_null(c.secret_key);
    wf_config_free(&c);

    unsetenv("LOG_LEVEL");
    setenv("LOG_FORMAT", "xml", 1);
    wf_err_init(&err);
    assert_int_equal(wf_config_from_env(&c, &err), WF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "LOG_FORMAT"));
    wf_config_free(&c);
}

/* ---- redaction --------------------------------------------------------------------- */

static void redacts_to(const char *url, const char *want)
{
    wf_buf b = WF_BUF_INIT;
    assert_int_equal(wf_config_redact_db_url(url, &b), 0);
    if (strcmp(wf_buf_cstr(&b), want))
        fail_msg("redact(%s) = %s, want %s", url, wf_buf_cstr(&b), want);
    wf_buf_free(&b);
}

static void test_redact(void **state)
{
    (void)state;
    redacts_to("postgresql://user:secret@host:5432/db?sslmode=require",
               "postgresql://user:***@host:5432/db?sslmode=require");
    redacts_to("postgres://user:secret@host", "postgres://user:***@host");
    redacts_to("postgresql://user:p%40ss%3Aw%2F@host/db", "postgresql://user:***@host/db");
    redacts_to("postgresql://user:p@ss@w0rd@host/db", "postgresql://user:***@host/db");
    redacts_to("postgresql://user:p#ss@host/db", "postgresql://user:***@host/db");
    redacts_to("postgresql://user:pw@[::1]:5432/db", "postgresql://user:***@[::1]:5432/db");
    redacts_to("postgresql://user:pw@h1:5432,h2:5433/db",
               "postgresql://user:***@h1:5432,h2:5433/db");
    redacts_to("postgresql://host/db?user=u&password=secret&sslmode=require",
               "postgresql://host/db?user=u&password=***&sslmode=require");
    redacts_to("postgresql://u:a1@h/db?password=b2", "postgresql://u:***@h/db?password=***");
    redacts_to("postgresql://h/db?sslpassword=k&PASSWORD=x",
               "postgresql://h/db?sslpassword=***&PASSWORD=***");
    /* libpq knows no fragment: a '#' is part of a query's value (found by
     * tests/fuzz/fuzz_db_url) */
    redacts_to("postgresql://h/db?password=a#b&x=1", "postgresql://h/db?password=***&x=1");
    /* an '@' in a query's password is no end of a user name: the query is read where libpq
     * reads it, and what the userinfo rule masks merges with it (tests/fuzz/fuzz_db_url) */
    redacts_to("postgresql://host/db?user=u&password=://s@cret&sslmode=require",
               "postgresql://host/db?user=u&password=***&sslmode=require");
    redacts_to("postgresql://h/db?password=x&a=b:c@d", "postgresql://h/db?password=***&a=b:***@d");
    /* libpq percent-decodes a query's keys too (found by tests/fuzz/fuzz_db_url) */
    redacts_to("postgresql://h/db?pass%77ord=secret", "postgresql://h/db?pass%77ord=***");
    redacts_to("postgresql://u:p@h/db?%70assword=s2&%73slpassword=k",
               "postgresql://u:***@h/db?%70assword=***&%73slpassword=***");
    /* a raw '/', '?' or '#' in a password: libpq cannot parse it, yet it is a secret */
    redacts_to("postgresql://user:pa/ss0rd@host/db", "postgresql://user:***@host/db");
    redacts_to("postgresql://user:pa?ss@host/db", "postgresql://user:***@host/db");
    redacts_to("postgresql://user:a/b?c#d@host:5432/db?sslmode=require",
               "postgresql://user:***@host:5432/db?sslmode=require");
    redacts_to("postgresql://user:p?password=x@host/db?password=y",
               "postgresql://user:***@host/db?password=***");
    redacts_to("postgresql://user:pa/ss@host/db?application_name=a@b",
               "postgresql://user:***@b"); /* an '@' in the query: masks too much, not too little */
    /* nothing to hide */
    redacts_to("postgresql://user@host:5432/db", "postgresql://user@host:5432/db");
    redacts_to("postgresql://user:@host/db", "postgresql://user:@host/db");
    redacts_to("postgresql://host/db?password=", "postgresql://host/db?password=");
    redacts_to("postgresql://host/my@db", "postgresql://host/my@db");
    redacts_to("postgresql:///db?host=/run/postgresql", "postgresql:///db?host=/run/postgresql");
    redacts_to("sqlite:./var/wfreg.db", "sqlite:./var/wfreg.db");
    redacts_to("sqlite:///srv/a:b@c.db", "sqlite:///srv/a:b@c.db");
    redacts_to("", "");
}

static void test_redact_libpq_keywords(void **state)
{
    (void)state;
    redacts_to("host=db user=u password=secret dbname=x", "host=db user=u password=*** dbname=x");
    redacts_to("password=secret", "password=***");
    redacts_to("host=db password = secret port=5432", "host=db password = *** port=5432");
    redacts_to("host=db password='se cret \\' x' dbname=x", "host=db password=*** dbname=x");
    redacts_to("host=db sslpassword=k1 password=k2", "host=db sslpassword=*** password=***");
    redacts_to("host=db user=password dbname=password", "host=db user=password dbname=password");
    redacts_to("host=db user=u", "host=db user=u");
    /* libpq's white space is isspace()'s, and a backslash escapes one in a bare value
     * (found by tests/fuzz/fuzz_db_url) */
    redacts_to("host=db password=se\\ cret dbname=x", "host=db password=*** dbname=x");
    redacts_to("host=db\vpassword=secret", "host=db\vpassword=***");
    redacts_to("host=db\fpassword=secret\fdbname=x", "host=db\fpassword=***\fdbname=x");
    redacts_to("host=db password\v= secret", "host=db password\v= ***");
    /* a value that holds "://" does not make the string a URL: libpq reads key=value
     * pairs unless the string starts with a scheme (found by tests/fuzz/fuzz_db_url) */
    redacts_to("host=db password=ab://cd", "host=db password=***");
    redacts_to("host=db password=secret application_name=https://app.example",
               "host=db password=*** application_name=https://app.example");
    redacts_to(" postgresql://user:pw@host/db", " postgresql://user:***@host/db");
    /* the store takes any driver name after "postgresql+", up to the first "://" */
    redacts_to("postgresql+psy@copg2://user:secret@host/db",
               "postgresql+psy@copg2://user:***@host/db");
    /* libpq keeps the last of repeated keys: every one is masked, however many
     * (found by tests/fuzz/fuzz_db_url: the ninth was shown) */
    redacts_to("password=p1 password=p2 password=p3 password=p4 password=p5 password=p6 "
               "password=p7 password=p8 password=p9 host=h",
               "password=*** password=*** password=*** password=*** password=*** "
               "password=*** password=*** password=*** password=*** host=h");
    redacts_to("postgresql://u:p0@h/db?password=p1&password=p2&password=p3&password=p4"
               "&password=p5&password=p6&password=p7&password=p8&password=p9",
               "postgresql://u:***@h/db?password=***&password=***&password=***&password=***"
               "&password=***&password=***&password=***&password=***&password=***");
}

/* ---- env engines ------------------------------------------------------------------- */

typedef struct loaded {
    wf_engine **v;
    size_t n;
    size_t ninvalid;
} loaded;

/* Loads with the log captured; the log text is in log_text afterwards. */
static loaded load(char *const *envp)
{
    loaded l = {NULL, 0, 99};
    wf_err err;
    wf_err_init(&err);
    capture_start();
    int rc = wf_config_env_engines(envp, &l.v, &l.n, &l.ninvalid, &err);
    capture_stop();
    if (rc != 0)
        fail_msg("wf_config_env_engines: %s", err.msg);
    return l;
}

static void loaded_free(loaded *l)
{
    for (size_t i = 0; i < l->n; i++)
        wf_engine_free(l->v[i]);
    free(l->v);
}

static void assert_env_engine(const wf_engine *e, const char *name, const char *type,
                              const char *url, const char *key)
{
    assert_string_equal(e->name, name);
    assert_string_equal(e->engine_type, type);
    assert_string_equal(e->api_url, url);
    if (key) {
        assert_string_equal(e->api_key_env, key);
        assert_int_equal(e->key_status, WF_KEY_OK);
    } else {
        assert_null(e->api_key_env);
        assert_int_equal(e->key_status, WF_KEY_NONE);
    }
    assert_null(e->api_key_encrypted);
    assert_int_equal(e->source, WF_SOURCE_ENVIRONMENT);
    assert_int_equal(e->id, 0);
    assert_null(e->created_at);
    assert_null(e->updated_at);
}

static void test_env_none(void **state)
{
    (void)state;
    char *envp[] = {"PATH=/usr/bin", "HOME=/root", NULL};
    loaded l = load(envp);
    assert_int_equal(l.n, 0);
    assert_int_equal(l.ninvalid, 0);
    assert_string_equal(log_text, "");
    loaded_free(&l);

    char *empty[] = {NULL};
    l = load(empty);
    assert_int_equal(l.n, 0);
    loaded_free(&l);
}

static void test_env_n8n_no_warning_when_complete(void **state)
{
    (void)state;
    char *envp[] = {"N8N_API_URL=http://n8n:5678", "N8N_API_KEY=n8n-key-0123456789", NULL};
    loaded l = load(envp);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.ninvalid, 0);
    assert_env_engine(l.v[0], "n8n-default", "n8n", "http://n8n:5678", "n8n-key-0123456789");
    assert_true(l.v[0]->is_active);
    assert_string_equal(l.v[0]->config, "{}");
    assert_true(wf_engine_has_api_key(l.v[0]));
    /* the checklist's cosmetic warning must not exist: nothing is logged at all */
    assert_string_equal(log_text, "");
    loaded_free(&l);

    /* and the key is registered: a later line never shows it */
    capture_start();
    wf_error("oops n8n-key-0123456789");
    assert_null(strstr(capture_stop(), "n8n-key-0123456789"));
}

static void test_env_url_without_key(void **state)
{
    (void)state;
    char *envp[] = {"N8N_API_URL=http://n8n:5678", "N8N_API_KEY=", NULL};
    loaded l = load(envp);
    assert_int_equal(l.n, 1);
    assert_env_engine(l.v[0], "n8n-default", "n8n", "http://n8n:5678", NULL);
    assert_false(wf_engine_has_api_key(l.v[0]));
    assert_non_null(strstr(log_text, "WARNING"));
    assert_non_null(strstr(log_text, "n8n-default: N8N_API_KEY is not set; the engine is "
                                     "registered without an API key"));
    assert_int_equal(count_of(log_text, "\n"), 1);
    loaded_free(&l);
}

static void test_env_key_without_url(void **state)
{
    (void)state;
    char *envp[] = {"N8N_API_KEY=n8n-key-0123456789", NULL};
    loaded l = load(envp);
    assert_int_equal(l.n, 0);
    assert_int_equal(l.ninvalid, 0);
    assert_non_null(strstr(log_text, "WARNING"));
    assert_non_null(strstr(
        log_text, "N8N_API_KEY is set but N8N_API_URL is not: engine n8n-default not loaded"));
    assert_null(strstr(log_text, "n8n-key-0123456789"));
    loaded_free(&l);
}

static void test_env_prefect_and_windmill(void **state)
{
    (void)state;
    char *envp[] = {"WINDMILL_API_URL=https://wm.example.com",
                    "WINDMILL_API_KEY=wm-key-0123456789",
                    "WINDMILL_WORKSPACE=ops",
                    "PREFECT_API_URL=http://prefect:4200/api",
                    "PREFECT_API_KEY=pf-key-0123456789",
                    "N8N_API_URL=http://n8n:5678",
                    "N8N_API_KEY=n8n-key-0123456789",
                    NULL};
    loaded l = load(envp);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.ninvalid, 0);
    assert_env_engine(l.v[0], "n8n-default", "n8n", "http://n8n:5678", "n8n-key-0123456789");
    assert_env_engine(l.v[1], "prefect-default", "prefect", "http://prefect:4200/api",
                      "pf-key-0123456789");
    assert_env_engine(l.v[2], "windmill-default", "windmill", "https://wm.example.com",
                      "wm-key-0123456789");
    assert_string_equal(l.v[2]->config, "{\"workspace\":\"ops\"}");
    assert_string_equal(log_text, "");
    loaded_free(&l);
}

static void test_env_windmill_without_workspace(void **state)
{
    (void)state;
    char *envp[] = {"WINDMILL_API_URL=https://wm.example.com", "WINDMILL_API_KEY=wm-key-0123456789",
                    NULL};
    loaded l = load(envp);
    assert_int_equal(l.n, 0);
    assert_int_equal(l.ninvalid, 1);
    assert_non_null(strstr(log_text, "ERROR"));
    assert_non_null(strstr(log_text, "WINDMILL_WORKSPACE"));
    assert_non_null(strstr(log_text, "config.workspace"));
    assert_null(strstr(log_text, "wm-key-0123456789"));
    loaded_free(&l);
}

static void test_env_windmill_workspace_not_utf8(void **state)
{
    (void)state;
    /* once "out of memory" for every command: now that engine alone is skipped */
    char *envp[] = {"WINDMILL_API_URL=https://wm.example.com", "WINDMILL_API_KEY=wm-key-0123456789",
                    "WINDMILL_WORKSPACE=caf\xe9", "N8N_API_URL=http://n8n:5678", NULL};
    loaded l = load(envp);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0]->name, "n8n-default");
    assert_int_equal(l.ninvalid, 1);
    assert_int_equal(count_of(log_text, "ERROR"), 1);
    assert_non_null(strstr(log_text, "WINDMILL_WORKSPACE: engine windmill-default not loaded"));
    assert_non_null(strstr(log_text, "UTF-8"));
    assert_null(strstr(log_text, "wm-key-0123456789"));
    loaded_free(&l);
}

static void test_env_family_invalid(void **state)
{
    (void)state;
    char *envp[] = {"N8N_API_URL=ftp://n8n", "N8N_API_KEY=n8n-key-0123456789",
                    "PREFECT_API_URL=http://prefect:4200", "PREFECT_API_KEY=pf-key-012345\x01",
                    NULL};
    loaded l = load(envp);
    assert_int_equal(l.n, 0);
    assert_int_equal(l.ninvalid, 2);
    assert_int_equal(count_of(log_text, "ERROR"), 2);
    assert_non_null(strstr(log_text, "N8N_API_URL: engine n8n-default not loaded: api_url: "));
    assert_non_null(strstr(log_text, "PREFECT_API_KEY: engine prefect-default not loaded: "
                                     "api_key: "));
    assert_null(strstr(log_text, "n8n-key-0123456789"));
    assert_null(strstr(log_text, "pf-key-012345"));
    loaded_free(&l);
}

static void test_env_json_engine(void **state)
{
    (void)state;
    char *envp[] = {
        "WFREG_ENGINE_TEAM_A={\"engine_type\":\"n8n\",\"api_url\":\"https://a.example.com\","
        "\"api_key\":\"team-a-key-0123\",\"config\":{ \"timeout_ms\" : 5000, \"z\": [1] },"
        "\"active\":false}",
        "WFREG_ENGINE_X={\"engine_type\":\"prefect\",\"api_url\":\"http://p:4200\","
        "\"name\":\"prefect.custom\"}",
        NULL};
    loaded l = load(envp);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.ninvalid, 0);
    assert_env_engine(l.v[0], "prefect.custom", "prefect", "http://p:4200", NULL);
    assert_true(l.v[0]->is_active);
    assert_string_equal(l.v[0]->config, "{}");
    assert_env_engine(l.v[1], "team-a", "n8n", "https://a.example.com", "team-a-key-0123");
    assert_false(l.v[1]->is_active);
    assert_string_equal(l.v[1]->config, "{\"timeout_ms\":5000,\"z\":[1]}");
    assert_string_equal(log_text, "");
    loaded_free(&l);
}

static void test_env_json_engine_invalid(void **state)
{
    (void)state;
    char *envp[] = {
        /* bad url and type */
        "WFREG_ENGINE_BAD={\"engine_type\":\"airflow\",\"api_url\":\"http://u:p@h\","
        "\"api_key\":\"bad-key-0123456789\"}",
        /* broken JSON around the key: jansson's message would quote it */
        "WFREG_ENGINE_BROKEN={\"api_key\":\"broken-key-0123\" \"x\"}", "WFREG_ENGINE_ARRAY=[1,2]",
        "WFREG_ENGINE_TYPES={\"engine_type\":5,\"api_url\":\"http://h\",\"active\":\"yes\"}",
        "WFREG_ENGINE_CFG={\"engine_type\":\"n8n\",\"api_url\":\"http://h\",\"config\":\"{}\"}",
        "WFREG_ENGINE_CAPS={\"engine_type\":\"n8n\",\"api_url\":\"http://h\",\"name\":\"Caps\"}",
        "WFREG_ENGINE_DUPKEY={\"engine_type\":\"n8n\",\"engine_type\":\"n8n\"}",
        "WFREG_ENGINE_={\"engine_type\":\"n8n\",\"api_url\":\"http://h\"}",
        "WFREG_ENGINE_OK={\"engine_type\":\"n8n\",\"api_url\":\"http://ok\"}", NULL};
    loaded l = load(envp);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0]->name, "ok");
    assert_int_equal(l.ninvalid, 8);
    assert_int_equal(count_of(log_text, "ERROR"), 8);
    assert_non_null(strstr(log_text, "WFREG_ENGINE_BAD: engine bad not loaded: engine_type: "));
    assert_non_null(strstr(log_text, "api_url: must not contain a user name or password"));
    assert_non_null(strstr(log_text, "WFREG_ENGINE_BROKEN: engine not loaded: invalid JSON"));
    assert_non_null(strstr(log_text, "WFREG_ENGINE_ARRAY: engine not loaded: must be a JSON"));
    assert_non_null(strstr(log_text, "WFREG_ENGINE_TYPES"));
    assert_non_null(strstr(log_text, "active: must be true or false"));
    assert_non_null(strstr(log_text, "WFREG_ENGINE_CFG"));
    assert_non_null(strstr(log_text, "WFREG_ENGINE_CAPS: engine Caps not loaded: name: "));
    assert_non_null(strstr(log_text, "WFREG_ENGINE_DUPKEY"));
    assert_non_null(strstr(log_text, "WFREG_ENGINE_: engine ? not loaded: name: "));
    assert_null(strstr(log_text, "bad-key-0123456789"));
    assert_null(strstr(log_text, "broken-key"));
    loaded_free(&l);
}

static void test_env_unknown_member_warns(void **state)
{
    (void)state;
    char *envp[] = {"WFREG_ENGINE_A={\"engine_type\":\"n8n\",\"api_url\":\"http://h\","
                    "\"apikey\":\"typo-key-0123456\"}",
                    NULL};
    loaded l = load(envp);
    assert_int_equal(l.n, 1);
    assert_non_null(strstr(log_text, "WARNING"));
    assert_non_null(strstr(log_text, "WFREG_ENGINE_A: unknown member \"apikey\" ignored"));
    assert_null(strstr(log_text, "typo-key"));
    loaded_free(&l);
}

static void test_env_sorted_and_duplicates(void **state)
{
    (void)state;
    char *envp[] = {
        "WFREG_ENGINE_ZED={\"engine_type\":\"n8n\",\"api_url\":\"http://zed\"}",
        "WFREG_ENGINE_N8N_DEFAULT={\"engine_type\":\"n8n\",\"api_url\":\"http://other\"}",
        "WFREG_ENGINE_B={\"engine_type\":\"n8n\",\"api_url\":\"http://b2\",\"name\":\"alpha\"}",
        "WFREG_ENGINE_A={\"engine_type\":\"n8n\",\"api_url\":\"http://a1\",\"name\":\"alpha\"}",
        "N8N_API_URL=http://n8n:5678",
        "N8N_API_KEY=n8n-key-0123456789",
        "WFREG_ENGINE_MID={\"engine_type\":\"n8n\",\"api_url\":\"http://mid\"}",
        NULL};
    loaded l = load(envp);
    assert_int_equal(l.n, 4);
    assert_int_equal(l.ninvalid, 2);
    assert_string_equal(l.v[0]->name, "alpha");
    assert_string_equal(l.v[0]->api_url, "http://a1"); /* WFREG_ENGINE_A < WFREG_ENGINE_B */
    assert_string_equal(l.v[1]->name, "mid");
    assert_string_equal(l.v[2]->name, "n8n-default");
    assert_string_equal(l.v[2]->api_url, "http://n8n:5678"); /* N8N_API_URL < WFREG_... */
    assert_string_equal(l.v[3]->name, "zed");
    assert_non_null(strstr(log_text, "WFREG_ENGINE_B: engine alpha not loaded: the name is "
                                     "already declared by WFREG_ENGINE_A"));
    assert_non_null(strstr(log_text, "WFREG_ENGINE_N8N_DEFAULT: engine n8n-default not loaded: "
                                     "the name is already declared by N8N_API_URL"));
    assert_null(strstr(log_text, "n8n-key-0123456789"));
    loaded_free(&l);
}

static void test_env_ninvalid_optional(void **state)
{
    (void)state;
    char *envp[] = {"N8N_API_URL=bad", NULL};
    wf_engine **v = NULL;
    size_t n = 5;
    capture_start();
    assert_int_equal(wf_config_env_engines(envp, &v, &n, NULL, NULL), 0);
    capture_stop();
    assert_int_equal(n, 0);
    free(v);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_defaults),
        T(test_empty_means_unset),
        T(test_values),
        T(test_percent_encoded_password_registered),
        T(test_free_wipes_database_url),
        T(test_keyword_password_registered),
        T(test_every_repeated_password_registered),
        T(test_log_level_invalid),
        T(test_redact),
        T(test_redact_libpq_keywords),
        T(test_env_none),
        T(test_env_n8n_no_warning_when_complete),
        T(test_env_url_without_key),
        T(test_env_key_without_url),
        T(test_env_prefect_and_windmill),
        T(test_env_windmill_without_workspace),
        T(test_env_windmill_workspace_not_utf8),
        T(test_env_family_invalid),
        T(test_env_json_engine),
        T(test_env_json_engine_invalid),
        T(test_env_unknown_member_warns),
        T(test_env_sorted_and_duplicates),
        T(test_env_ninvalid_optional),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
