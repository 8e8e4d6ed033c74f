/*
 * test_store.c: a backend on a real database, SQLite or PostgreSQL (store_fixture.h):
 * opening (SQLite: folders, pragmas, URLs; PostgreSQL: URLs, passwords kept out of
 * messages, reconnecting), the engine rows (insert, get, list, update, rename, delete,
 * conflicts, the created_by foreign key, key compare-and-set), transactions, rows left
 * by other programs, schema introspection, and change notifications.
 */
#include "store/migrate.h"
#include "store/store.h"
#include "store_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

static wf_store *store_of(void **state)
{
    return ((fixture *)*state)->s;
}

/* Inserts a test engine and returns its id. */
static int64_t add(wf_store *s, const char *name, const char *token)
{
    wf_engine *e = test_engine(name, token);
    wf_err err;
    int64_t id = 0;
    wf_err_init(&err);
    assert_int_equal(wf_store_engine_insert(s, e, &id, &err), 0);
    wf_engine_free(e);
    assert_true(id > 0);
    return id;
}

static int64_t count_of(wf_store *s)
{
    int64_t n = -1;
    assert_int_equal(wf_store_engine_count(s, &n, NULL), 0);
    return n;
}

/* For what only one backend has (a file, a URL): the other skips the test. */
#define ONLY_SQLITE()                                                                              \
    do {                                                                                           \
        if (fixture_is_pg())                                                                       \
            skip();                                                                                \
    } while (0)
#define ONLY_PG()                                                                                  \
    do {                                                                                           \
        if (!fixture_is_pg())                                                                      \
            skip();                                                                                \
    } while (0)

static void assert_iso_utc(const char *ts)
{
    assert_non_null(ts);
    assert_int_equal(strlen(ts), 20);
    assert_true(ts[4] == '-' && ts[10] == 'T' && ts[13] == ':' && ts[19] == 'Z');
}

/* ---- opening ---- */

static void test_open_creates_folder(void **state)
{
    (void)state;
    ONLY_SQLITE();
    fixture *f = fixture_new();
    assert_non_null(f);
    char path[700], url[720];
    snprintf(path, sizeof path, "%s/var/nested/wfreg.db", f->dir);
    snprintf(url, sizeof url, "sqlite:%s", path);
    wf_store *s = NULL;
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_store_open(url, &s, &err), 0);
    assert_string_equal(wf_store_dialect(s), "sqlite");
    assert_int_equal(wf_store_exec(s, "CREATE TABLE t (x)", &err), 0);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 077, 0); /* the file is the owner's only */
    wf_store_close(s);
    fixture_free(f);
}

static void test_open_relative_path(void **state)
{
    (void)state;
    ONLY_SQLITE();
    fixture *f = fixture_new();
    assert_non_null(f);
    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(f->dir), 0);
    wf_store *s = NULL;
    int rc = wf_store_open("sqlite:./var/wfreg.db", &s, NULL);
    wf_store_close(s);
    int exists = access("var/wfreg.db", F_OK);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(rc, 0);
    assert_int_equal(exists, 0);
    fixture_free(f);
}

/* The earlier Python system's URL form: sqlite:////abs/path (and sqlite:///rel). */
static void test_open_sqlalchemy_url(void **state)
{
    (void)state;
    ONLY_SQLITE();
    fixture *f = fixture_new();
    assert_non_null(f);
    char path[700], url[720];
    snprintf(path, sizeof path, "%s/py.db", f->dir);
    snprintf(url, sizeof url, "sqlite:///%s", path);
    wf_store *s = NULL;
    assert_int_equal(wf_store_open(url, &s, NULL), 0);
    wf_store_close(s);
    assert_int_equal(access(path, F_OK), 0);
    assert_int_equal(wf_store_open("sqlite://host/x.db", &s, NULL), WF_ERR_INVALID);
    fixture_free(f);
}

static void test_pragmas(void **state)
{
    fixture *f = *state;
    if (!fixture_is_pg()) {
        /* WAL is a property of the file: another connection sees it */
        char *mode = side_query(f->path, "PRAGMA journal_mode");
        assert_non_null(mode);
        assert_string_equal(mode, "wal");
        free(mode);
    }
    /* foreign_keys is per connection on SQLite: see it enforced on ours */
    wf_err err;
    wf_err_init(&err);
    wf_engine *e = test_engine("orphan", NULL);
    e->created_by = 42;
    assert_int_equal(wf_store_engine_insert(f->s, e, NULL, &err), WF_ERR_CONFLICT);
    assert_non_null(strstr(err.msg, "created_by"));
    wf_engine_free(e);
}

static void test_open_memory(void **state)
{
    (void)state;
    ONLY_SQLITE();
    wf_store *s = NULL;
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_store_open("sqlite::memory:", &s, &err), 0);
    assert_int_equal(wf_migrate_up(s, NULL, NULL, &err), 0);
    add(s, "mem", NULL);
    assert_int_equal(count_of(s), 1);
    wf_store_close(s);
}

static void test_open_bad_urls(void **state)
{
    (void)state;
    wf_store *s = NULL;
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_store_open("mysql://root:s3cr3tpw@h/x", &s, &err), WF_ERR_INVALID);
    assert_string_equal(err.msg, "DATABASE_URL: must start with sqlite: or postgresql://");
    wf_err_init(&err);
    assert_int_equal(wf_store_open("sqlite:", &s, &err), WF_ERR_INVALID);
}

/* Nothing listens on port 1: every form of a PostgreSQL URL reaches libpq, and the
 * failure names the server with the password masked. No server needed. */
static void test_pg_unreachable(void **state)
{
    (void)state;
    const char *urls[] = {
        "postgresql://wfreg:s3cr3tpw@127.0.0.1:1/wfreg?connect_timeout=2",
        "postgres://wfreg:s3cr3tpw@127.0.0.1:1/wfreg",
        "postgresql+psycopg2://wfreg:s3cr3tpw@127.0.0.1:1/wfreg",
        "host=127.0.0.1 port=1 user=wfreg password=s3cr3tpw dbname=wfreg",
    };
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        wf_store *s = NULL;
        wf_err err;
        wf_err_init(&err);
        assert_int_equal(wf_store_open(urls[i], &s, &err), WF_ERR_DB);
        assert_null(s);
        if (!strstr(err.msg, "postgresql: cannot connect to ") || strstr(err.msg, "s3cr3tpw") ||
            !strstr(err.msg, "***") || !strstr(err.msg, "127.0.0.1"))
            fail_msg("%s: %s", urls[i], err.msg);
    }
}

/* A string libpq cannot parse: its complaint may quote the URL; ours does not. */
static void test_pg_malformed(void **state)
{
    (void)state;
    const char *urls[] = {"postgresql://wfreg:s3cr3tpw@[::1/wfreg",
                          "postgresql://wfreg:s3cr3tpw@h/wfreg?s3cr3tpw=1",
                          "host=h password='s3cr3tpw"};
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        wf_store *s = NULL;
        wf_err err;
        wf_err_init(&err);
        assert_int_equal(wf_store_open(urls[i], &s, &err), WF_ERR_INVALID);
        if (!strstr(err.msg, "not a valid PostgreSQL connection string") ||
            strstr(err.msg, "s3cr3tpw"))
            fail_msg("%s: %s", urls[i], err.msg);
    }
}

/* The cluster's URL with another password. */
static void wrong_password_url(const char *url, char *out, size_t cap)
{
    const char *colon = strchr(url + strlen("postgresql://"), ':'), *at = strchr(url, '@');
    assert_non_null(colon);
    assert_non_null(at);
    snprintf(out, cap, "%.*s:wrong-pw-42x%s", (int)(colon - url), url, at);
}

static void test_pg_wrong_password(void **state)
{
    ONLY_PG();
    fixture *f = *state;
    char url[700];
    wrong_password_url(f->url, url, sizeof url);
    wf_store *s = NULL;
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_store_open(url, &s, &err), WF_ERR_DB);
    if (!strstr(err.msg, "password authentication failed") || strstr(err.msg, "wrong-pw-42x") ||
        !strstr(err.msg, "wfreg:***@"))
        fail_msg("%s", err.msg);
    /* nor the real one */
    char real[128];
    const char *from = strchr(f->url + strlen("postgresql://"), ':') + 1;
    snprintf(real, sizeof real, "%.*s", (int)(strchr(from, '@') - from), from);
    assert_null(strstr(err.msg, real));
}

/* ---- engines ---- */

static void test_insert_get(void **state)
{
    wf_store *s = store_of(state);
    wf_engine *e = test_engine("n8n-prod", "gAAAAAtoken");
    free(e->config);
    e->config = strdup("{\"timeout_ms\":5000}");
    e->is_active = false;
    int64_t id = 0;
    assert_int_equal(wf_store_engine_insert(s, e, &id, NULL), 0);
    wf_engine_free(e);

    wf_engine *g = NULL;
    assert_int_equal(wf_store_engine_get(s, "n8n-prod", &g, NULL), 0);
    assert_int_equal(g->id, id);
    assert_string_equal(g->name, "n8n-prod");
    assert_string_equal(g->engine_type, "n8n");
    assert_string_equal(g->api_url, "http://n8n.internal:5678");
    assert_string_equal(g->api_key_encrypted, "gAAAAAtoken");
    assert_false(g->is_active);
    assert_true(json_same(g->config, "{\"timeout_ms\":5000}"));
    assert_int_equal(g->created_by, 0);
    assert_iso_utc(g->created_at);
    assert_iso_utc(g->updated_at);
    assert_int_equal(g->source, WF_SOURCE_DATABASE);
    assert_int_equal(g->key_status, WF_KEY_UNCHECKED);
    wf_engine_free(g);

    add(s, "keyless", NULL);
    assert_int_equal(wf_store_engine_get(s, "keyless", &g, NULL), 0);
    assert_null(g->api_key_encrypted);
    assert_int_equal(g->key_status, WF_KEY_NONE);
    assert_string_equal(g->config, "{}");
    assert_true(g->is_active);
    wf_engine_free(g);
}

static void test_get_not_found(void **state)
{
    wf_engine *g = NULL;
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_store_engine_get(store_of(state), "nope", &g, &err), WF_ERR_NOT_FOUND);
    assert_null(g);
    assert_non_null(strstr(err.msg, "nope"));
}

static void test_list_ordered_by_name(void **state)
{
    wf_store *s = store_of(state);
    add(s, "zeta", NULL);
    add(s, "alpha", "tok");
    add(s, "mid", NULL);
    wf_engine **v = NULL;
    size_t n = 0;
    assert_int_equal(wf_store_engine_list(s, &v, &n, NULL), 0);
    assert_int_equal(n, 3);
    assert_string_equal(v[0]->name, "alpha");
    assert_string_equal(v[1]->name, "mid");
    assert_string_equal(v[2]->name, "zeta");
    assert_int_equal(v[0]->key_status, WF_KEY_UNCHECKED);
    assert_int_equal(v[1]->key_status, WF_KEY_NONE);
    for (size_t i = 0; i < n; i++)
        wf_engine_free(v[i]);
    free(v);
    assert_int_equal(count_of(s), 3);
}

static void test_list_empty(void **state)
{
    wf_engine **v = NULL;
    size_t n = 7;
    assert_int_equal(wf_store_engine_list(store_of(state), &v, &n, NULL), 0);
    assert_int_equal(n, 0);
    free(v);
}

static void test_update_and_rename(void **state)
{
    wf_store *s = store_of(state);
    int64_t id = add(s, "old-name", "tok1");
    wf_engine *g = NULL;
    assert_int_equal(wf_store_engine_get(s, "old-name", &g, NULL), 0);
    char *created = strdup(g->created_at);
    free(g->name);
    g->name = strdup("new-name");
    free(g->api_url);
    g->api_url = strdup("https://n8n.example.com");
    free(g->config);
    g->config = strdup("{\"a\":1}");
    g->is_active = false;
    free(g->api_key_encrypted);
    g->api_key_encrypted = NULL;
    assert_int_equal(wf_store_engine_update(s, id, g, NULL), 0);
    wf_engine_free(g);

    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_store_engine_get(s, "old-name", &g, &err), WF_ERR_NOT_FOUND);
    assert_int_equal(wf_store_engine_get(s, "new-name", &g, NULL), 0);
    assert_int_equal(g->id, id);
    assert_string_equal(g->api_url, "https://n8n.example.com");
    assert_true(json_same(g->config, "{\"a\":1}"));
    assert_false(g->is_active);
    assert_null(g->api_key_encrypted);
    assert_string_equal(g->created_at, created);
    wf_engine_free(g);
    free(created);
}

static void test_rename_conflict(void **state)
{
    wf_store *s = store_of(state);
    int64_t a = add(s, "a", NULL);
    add(s, "b", NULL);
    wf_engine *e = test_engine("b", NULL);
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_store_engine_update(s, a, e, &err), WF_ERR_CONFLICT);
    assert_string_equal(err.msg, "name: an engine named 'b' already exists");
    wf_engine_free(e);
    wf_engine *g = NULL;
    assert_int_equal(wf_store_engine_get(s, "a", &g, NULL), 0); /* unchanged */
    wf_engine_free(g);
}

static void test_insert_duplicate(void **state)
{
    wf_store *s = store_of(state);
    add(s, "dup", NULL);
    wf_engine *e = test_engine("dup", NULL);
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_store_engine_insert(s, e, NULL, &err), WF_ERR_CONFLICT);
    assert_string_equal(err.msg, "name: an engine named 'dup' already exists");
    wf_engine_free(e);
    assert_int_equal(count_of(s), 1);
}

static void test_update_delete_missing(void **state)
{
    wf_store *s = store_of(state);
    wf_engine *e = test_engine("ghost", NULL);
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_store_engine_update(s, 999, e, &err), WF_ERR_NOT_FOUND);
    wf_engine_free(e);
    wf_err_init(&err);
    assert_int_equal(wf_store_engine_delete(s, "ghost", &err), WF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "ghost"));
}

static void test_delete(void **state)
{
    wf_store *s = store_of(state);
    add(s, "gone", NULL);
    add(s, "kept", NULL);
    assert_int_equal(wf_store_engine_delete(s, "gone", NULL), 0);
    assert_int_equal(count_of(s), 1);
    wf_engine *g = NULL;
    assert_int_equal(wf_store_engine_get(s, "gone", &g, NULL), WF_ERR_NOT_FOUND);
}

static void test_ids_not_reused(void **state)
{
    wf_store *s = store_of(state);
    int64_t a = add(s, "first", NULL);
    assert_int_equal(wf_store_engine_delete(s, "first", NULL), 0);
    int64_t b = add(s, "second", NULL);
    assert_true(b > a);
}

static void test_created_by_foreign_key(void **state)
{
    wf_store *s = store_of(state);
    wf_err err;
    wf_err_init(&err);
    wf_engine *e = test_engine("owned", NULL);
    e->created_by = 1;
    assert_int_equal(wf_store_engine_insert(s, e, NULL, &err), WF_ERR_CONFLICT);
    assert_string_equal(err.msg, "created_by: no user with id 1");
    assert_int_equal(wf_store_exec(s,
                                   "INSERT INTO app_users (username, password_hash, role)"
                                   " VALUES ('admin', 'x', 'admin')",
                                   &err),
                     0);
    assert_int_equal(wf_store_engine_insert(s, e, NULL, &err), 0);
    wf_engine_free(e);
    wf_engine *g = NULL;
    assert_int_equal(wf_store_engine_get(s, "owned", &g, NULL), 0);
    assert_int_equal(g->created_by, 1);
    wf_engine_free(g);
    /* the user cannot go while an engine points at it */
    assert_int_equal(wf_store_exec(s, "DELETE FROM app_users", &err), WF_ERR_DB);
}

static void test_swap_key(void **state)
{
    wf_store *s = store_of(state);
    int64_t id = add(s, "rot", "old-token");
    bool changed = true;
    assert_int_equal(wf_store_engine_swap_key(s, id, "other", "new-token", &changed, NULL), 0);
    assert_false(changed);
    assert_int_equal(wf_store_engine_swap_key(s, id, "old-token", "new-token", &changed, NULL), 0);
    assert_true(changed);
    wf_engine *g = NULL;
    assert_int_equal(wf_store_engine_get(s, "rot", &g, NULL), 0);
    assert_string_equal(g->api_key_encrypted, "new-token");
    wf_engine_free(g);
    /* a second swap from the old token no longer applies */
    assert_int_equal(wf_store_engine_swap_key(s, id, "old-token", "x", &changed, NULL), 0);
    assert_false(changed);
    /* NULL matches an engine without a key */
    int64_t bare = add(s, "bare", NULL);
    assert_int_equal(wf_store_engine_swap_key(s, bare, NULL, "t", &changed, NULL), 0);
    assert_true(changed);
}

/* ---- transactions ---- */

static void test_tx_rollback(void **state)
{
    wf_store *s = store_of(state);
    assert_int_equal(wf_store_begin(s, NULL), 0);
    add(s, "one", NULL);
    add(s, "two", NULL);
    assert_int_equal(count_of(s), 2); /* visible inside */
    wf_store_rollback(s);
    assert_int_equal(count_of(s), 0);
    char *n = side_query(((fixture *)*state)->path, "SELECT count(*) FROM workflow_engines");
    assert_string_equal(n, "0");
    free(n);
}

static void test_tx_commit(void **state)
{
    wf_store *s = store_of(state);
    fixture *f = *state;
    assert_int_equal(wf_store_begin(s, NULL), 0);
    add(s, "kept", NULL);
    char *n = side_query(f->path, "SELECT count(*) FROM workflow_engines");
    assert_string_equal(n, "0"); /* not yet visible to others */
    free(n);
    assert_int_equal(wf_store_commit(s, NULL), 0);
    n = side_query(f->path, "SELECT count(*) FROM workflow_engines");
    assert_string_equal(n, "1");
    free(n);
}

static void test_tx_failed_writer_keeps_caller_tx(void **state)
{
    wf_store *s = store_of(state);
    assert_int_equal(wf_store_begin(s, NULL), 0);
    add(s, "x", NULL);
    wf_engine *e = test_engine("x", NULL);
    assert_int_equal(wf_store_engine_insert(s, e, NULL, NULL), WF_ERR_CONFLICT);
    wf_engine_free(e);
    add(s, "y", NULL);
    assert_int_equal(wf_store_commit(s, NULL), 0);
    assert_int_equal(count_of(s), 2);
}

static void test_tx_nested_rollback_dooms_outer(void **state)
{
    wf_store *s = store_of(state);
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_store_begin(s, NULL), 0);
    add(s, "outer", NULL);
    assert_int_equal(wf_store_begin(s, NULL), 0);
    add(s, "inner", NULL);
    wf_store_rollback(s);
    assert_int_equal(wf_store_commit(s, &err), WF_ERR_DB);
    assert_int_equal(count_of(s), 0);
    assert_int_equal(wf_store_commit(s, &err), WF_ERR_INTERNAL); /* nothing open */
}

/* ---- rows written by others ---- */

static void test_legacy_rows_load(void **state)
{
    ONLY_SQLITE();
    wf_store *s = store_of(state);
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(
        wf_store_exec(s,
                      "INSERT INTO workflow_engines (name, engine_type, api_url, active, config,"
                      " created_at, updated_at) VALUES"
                      " ('My N8N', 'n8n', 'http://x', 1, NULL, '2025-01-02 03:04:05.123456',"
                      "  '2025-01-02T05:04:05+02:00'),"
                      " ('bad-json', 'n8n', 'http://x', 'true', 'not json', 'yesterday',"
                      "  1735787045),"
                      " ('julian', 'prefect', 'http://y', 0, '', julianday('2025-01-02 03:04:05'),"
                      "  '2025-01-02')",
                      &err),
        0);
    wf_engine **v = NULL;
    size_t n = 0;
    assert_int_equal(wf_store_engine_list(s, &v, &n, &err), 0);
    assert_int_equal(n, 3);
    /* BINARY order: capitals first */
    assert_string_equal(v[0]->name, "My N8N");
    assert_string_equal(v[0]->config, "{}");
    assert_string_equal(v[0]->created_at, "2025-01-02T03:04:05Z");
    assert_string_equal(v[0]->updated_at, "2025-01-02T03:04:05Z");
    assert_string_equal(v[1]->name, "bad-json");
    assert_string_equal(v[1]->config, "not json");
    assert_true(v[1]->is_active);
    assert_string_equal(v[1]->created_at, "yesterday"); /* kept as it is */
    assert_string_equal(v[1]->updated_at, "2025-01-02T03:04:05Z");
    assert_string_equal(v[2]->name, "julian");
    assert_false(v[2]->is_active);
    assert_string_equal(v[2]->created_at, "2025-01-02T03:04:05Z");
    assert_string_equal(v[2]->updated_at, "2025-01-02T00:00:00Z");
    for (size_t i = 0; i < n; i++)
        wf_engine_free(v[i]);
    free(v);

    wf_engine *g = NULL;
    assert_int_equal(wf_store_engine_get(s, "My N8N", &g, NULL), 0);
    free(g->name);
    g->name = strdup("my-n8n"); /* an adopted row can be renamed */
    assert_int_equal(wf_store_engine_update(s, g->id, g, NULL), 0);
    wf_engine_free(g);
    assert_int_equal(wf_store_engine_get(s, "my-n8n", &g, NULL), 0);
    assert_iso_utc(g->updated_at);
    wf_engine_free(g);
}

/* What the Python system (or a DBA) may have left in PostgreSQL: NULL and non-object
 * JSON configs, a config column of type TEXT holding text that is not JSON, timestamps
 * with a zone, at infinity, before Christ or past 9999. All served, none fatal. */
static void test_legacy_rows_load_pg(void **state)
{
    ONLY_PG();
    wf_store *s = store_of(state);
    wf_err err;
    wf_err_init(&err);
    if (wf_store_exec(s,
                      "INSERT INTO workflow_engines (name, engine_type, api_url, active, config,"
                      " created_at, updated_at) VALUES"
                      " ('My N8N', 'n8n', 'http://x', true, NULL, '2025-01-02 03:04:05.123456',"
                      "  '2025-01-02 03:04:05'),"
                      " ('bad-json', 'n8n', 'http://x', true, '\"a string\"', 'infinity',"
                      "  '2025-01-02'),"
                      " ('ancient', 'prefect', 'http://y', false, '[1,2]',"
                      "  '0044-03-15 00:00:00 BC', '10000-01-01 00:00:00')",
                      &err))
        fail_msg("%s", err.msg);
    wf_engine **v = NULL;
    size_t n = 0;
    assert_int_equal(wf_store_engine_list(s, &v, &n, &err), 0);
    assert_int_equal(n, 3);
    /* byte order, as on SQLite, whatever the database's collation: capitals first */
    assert_string_equal(v[0]->name, "My N8N");
    assert_string_equal(v[0]->config, "{}");
    assert_string_equal(v[0]->created_at, "2025-01-02T03:04:05Z");
    assert_string_equal(v[0]->updated_at, "2025-01-02T03:04:05Z");
    assert_string_equal(v[1]->name, "ancient");
    assert_false(v[1]->is_active);
    assert_true(json_same(v[1]->config, "[1,2]"));
    assert_string_equal(v[1]->created_at, "0044-03-15 00:00:00 BC"); /* kept as it is */
    assert_string_equal(v[1]->updated_at, "10000-01-01 00:00:00");
    assert_string_equal(v[2]->name, "bad-json");
    assert_string_equal(v[2]->config, "\"a string\"");
    assert_string_equal(v[2]->created_at, "infinity");
    assert_string_equal(v[2]->updated_at, "2025-01-02T00:00:00Z");
    for (size_t i = 0; i < n; i++)
        wf_engine_free(v[i]);
    free(v);

    /* a schema made by hand: config as TEXT, timestamps WITH TIME ZONE */
    if (wf_store_exec(s,
                      "ALTER TABLE workflow_engines ALTER COLUMN config TYPE TEXT,"
                      " ALTER COLUMN created_at TYPE TIMESTAMPTZ;"
                      "UPDATE workflow_engines SET config = 'not json',"
                      " created_at = '2025-01-02 05:04:05+02' WHERE name = 'My N8N'",
                      &err))
        fail_msg("%s", err.msg);
    wf_engine *g = NULL;
    assert_int_equal(wf_store_engine_get(s, "My N8N", &g, &err), 0);
    assert_string_equal(g->config, "not json");
    assert_string_equal(g->created_at, "2025-01-02T03:04:05Z");
    free(g->name);
    g->name = strdup("my-n8n"); /* an adopted row can be renamed, its config kept */
    assert_int_equal(wf_store_engine_update(s, g->id, g, &err), 0);
    wf_engine_free(g);
    assert_int_equal(wf_store_engine_get(s, "my-n8n", &g, NULL), 0);
    assert_string_equal(g->config, "not json");
    assert_iso_utc(g->updated_at);
    wf_engine_free(g);
}

/* ---- changes seen by others ---- */

static void test_notifications(void **state)
{
    fixture *f = *state;
    wf_err err;
    wf_err_init(&err);
    wf_store *watcher = NULL;
    unsigned changed = 99;
    assert_int_equal(wf_store_open(f->url, &watcher, &err), 0);
    assert_int_equal(wf_store_listen(watcher, &err), 0);
    int fd = wf_store_socket(watcher);
    assert_int_equal(wf_store_notifications(watcher, &changed, &err), 0);
    assert_int_equal(changed, 0);
    if (!fixture_is_pg()) { /* SQLite has none: the server polls data_version */
        assert_int_equal(fd, -1);
        wf_store_close(watcher);
        return;
    }
    assert_true(fd >= 0);
    struct pollfd pfd = {fd, POLLIN, 0};

    /* inside a transaction: nothing until the commit */
    assert_int_equal(wf_store_begin(f->s, &err), 0);
    add(f->s, "seen", NULL);
    assert_int_equal(poll(&pfd, 1, 200), 0);
    assert_int_equal(wf_store_commit(f->s, &err), 0);
    assert_int_equal(poll(&pfd, 1, 2000), 1);
    assert_int_equal(wf_store_notifications(watcher, &changed, &err), 0);
    assert_int_equal(changed, WF_STORE_CHANGED_ENGINES);

    /* a rolled back change is never announced */
    assert_int_equal(wf_store_begin(f->s, &err), 0);
    add(f->s, "unseen", NULL);
    wf_store_rollback(f->s);
    assert_int_equal(poll(&pfd, 1, 200), 0);

    /* every writer, not only wfreg: psql by hand on another connection */
    char *id = side_query(f->path, "INSERT INTO app_users (username, password_hash)"
                                   " VALUES ('by-hand', 'x') RETURNING id");
    assert_non_null(id);
    free(id);
    assert_int_equal(poll(&pfd, 1, 2000), 1);
    assert_int_equal(wf_store_notifications(watcher, &changed, &err), 0);
    assert_int_equal(changed, WF_STORE_CHANGED_USERS);
    wf_store_close(watcher);
}

static void test_pg_reconnect(void **state)
{
    ONLY_PG();
    fixture *f = *state;
    wf_err err;
    wf_err_init(&err);
    add(f->s, "before", NULL);
    assert_int_equal(wf_store_ping(f->s, &err), 0);
    /* the server ends our session (a restart, a failover, an idle timeout) */
    char *n = side_query(f->path, "SELECT count(pg_terminate_backend(pid, 5000))"
                                  " FROM pg_stat_activity WHERE datname = current_database()"
                                  " AND application_name = 'wfreg'");
    assert_string_equal(n, "1");
    free(n);
    assert_int_equal(wf_store_ping(f->s, &err), WF_ERR_DB);
    int64_t count = 0;
    wf_err_init(&err);
    assert_int_equal(wf_store_engine_count(f->s, &count, &err), WF_ERR_DB);
    assert_non_null(strstr(err.msg, "connection"));
    assert_int_equal(wf_store_reconnect(f->s, &err), 0);
    assert_int_equal(wf_store_ping(f->s, &err), 0);
    assert_int_equal(count_of(f->s), 1);

    /* a transaction open when the connection went is lost, and its depth with it */
    assert_int_equal(wf_store_begin(f->s, &err), 0);
    add(f->s, "lost", NULL);
    n = side_query(f->path, "SELECT count(pg_terminate_backend(pid, 5000))"
                            " FROM pg_stat_activity WHERE datname = current_database()"
                            " AND application_name = 'wfreg'");
    free(n);
    assert_int_equal(wf_store_commit(f->s, &err), WF_ERR_DB);
    assert_int_equal(wf_store_reconnect(f->s, &err), 0);
    assert_int_equal(count_of(f->s), 1);
    assert_int_equal(wf_store_begin(f->s, &err), 0);
    add(f->s, "after", NULL);
    assert_int_equal(wf_store_commit(f->s, &err), 0);
    assert_int_equal(count_of(f->s), 2);
}

/* ---- schema introspection and errors ---- */

static bool has(char **v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(v[i], name))
            return true;
    }
    return false;
}

static void test_schema_introspection(void **state)
{
    wf_store *s = store_of(state);
    bool exists = false;
    assert_int_equal(wf_store_table_exists(s, "workflow_engines", &exists, NULL), 0);
    assert_true(exists);
    assert_int_equal(wf_store_table_exists(s, "nope", &exists, NULL), 0);
    assert_false(exists);

    char **v = NULL;
    size_t n = 0;
    assert_int_equal(wf_store_table_columns(s, "workflow_engines", &v, &n, NULL), 0);
    assert_int_equal(n, 10);
    assert_string_equal(v[0], "id");
    assert_string_equal(v[9], "updated_at");
    wf_strv_free(v, n);

    assert_int_equal(wf_store_table_indexes(s, "workflow_engines", &v, &n, NULL), 0);
    assert_int_equal(n, 4);
    assert_true(has(v, n, "ix_workflow_engines_id"));
    assert_true(has(v, n, "ix_workflow_engines_name"));
    assert_true(has(v, n, "ix_workflow_engines_engine_type"));
    assert_true(has(v, n, "ix_workflow_engines_active"));
    for (size_t i = 0; i < n; i++)
        assert_null(strstr(v[i], "sqlite_autoindex"));
    wf_strv_free(v, n);

    assert_int_equal(wf_store_table_columns(s, "nope", &v, &n, NULL), 0);
    assert_int_equal(n, 0);
    wf_strv_free(v, n);
}

static void test_exec_error(void **state)
{
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_store_exec(store_of(state), "SELEC nonsense", &err), WF_ERR_DB);
    assert_non_null(strstr(err.msg, "syntax error"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_creates_folder),
        cmocka_unit_test(test_open_relative_path),
        cmocka_unit_test(test_open_sqlalchemy_url),
        cmocka_unit_test_setup_teardown(test_pragmas, fixture_setup_at_head, fixture_teardown),
        cmocka_unit_test(test_open_memory),
        cmocka_unit_test(test_open_bad_urls),
        cmocka_unit_test(test_pg_unreachable),
        cmocka_unit_test(test_pg_malformed),
        cmocka_unit_test_setup_teardown(test_pg_wrong_password, fixture_setup_at_head,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_insert_get, fixture_setup_at_head, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_get_not_found, fixture_setup_at_head,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_list_ordered_by_name, fixture_setup_at_head,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_list_empty, fixture_setup_at_head, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_update_and_rename, fixture_setup_at_head,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_rename_conflict, fixture_setup_at_head,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_insert_duplicate, fixture_setup_at_head,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_update_delete_missing, fixture_setup_at_head,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_delete, fixture_setup_at_head, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_ids_not_reused, fixture_setup_at_head,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_created_by_foreign_key, fixture_setup_at_head,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_swap_key, fixture_setup_at_head, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_tx_rollback, fixture_setup_at_head, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_tx_commit, fixture_setup_at_head, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_tx_failed_writer_keeps_caller_tx,
                                        fixture_setup_at_head, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_tx_nested_rollback_dooms_outer, fixture_setup_at_head,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_legacy_rows_load, fixture_setup_at_head,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_legacy_rows_load_pg, fixture_setup_at_head,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_notifications, fixture_setup_at_head,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_pg_reconnect, fixture_setup_at_head, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_schema_introspection, fixture_setup_at_head,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_exec_error, fixture_setup_at_head, fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
