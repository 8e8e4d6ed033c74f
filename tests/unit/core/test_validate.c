/*
 * test_validate.c: the rules of validate.c, each at its boundaries, the collection of
 * every error of a patch at once, wf_engine_apply_patch and wf_engine_config_long.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/wf_engine.h"

#include <stdlib.h>
#include <string.h>

#include "../test_support.h"

/* ---- helpers ----------------------------------------------------------------------- */

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* A string of exactly len bytes: prefix, then 'a's, then suffix. */
static char *padded(const char *prefix, size_t len, const char *suffix)
{
    size_t np = strlen(prefix), ns = strlen(suffix);
    assert_true(len >= np + ns);
    char *s = repeat('a', len);
    memcpy(s, prefix, np);
    memcpy(s + len - ns, suffix, ns);
    return s;
}

static const wf_field_err *find_field(const wf_err *err, const char *field)
{
    for (size_t i = 0; i < err->nfields && i < WF_ERR_MAX_FIELDS; i++) {
        if (!strcmp(err->fields[i].field, field))
            return &err->fields[i];
    }
    return NULL;
}

/* Asserts that err holds exactly one error, for field, of that type. */
static void assert_one(const wf_err *err, const char *field, const char *type)
{
    assert_int_equal(err->code, WF_ERR_INVALID);
    assert_int_equal(err->nfields, 1);
    assert_string_equal(err->fields[0].field, field);
    assert_string_equal(err->fields[0].type, type);
    assert_true(strlen(err->fields[0].msg) > 0);
}

typedef int (*check_fn)(const char *, wf_err *);

static void ok(check_fn fn, const char *value)
{
    wf_err err;
    wf_err_init(&err);
    int rc = fn(value, &err);
    if (rc != 0)
        fail_msg("'%s' rejected: %s", value ? value : "(null)", err.msg);
    assert_int_equal(err.nfields, 0);
}

static void bad(check_fn fn, const char *value, const char *field, const char *type)
{
    wf_err err;
    wf_err_init(&err);
    if (fn(value, &err) != WF_ERR_INVALID)
        fail_msg("'%s' accepted", value ? value : "(null)");
    assert_one(&err, field, type);
}

static int check_url(const char *v, wf_err *err)
{
    return wf_engine_check_url(v, err);
}

static int check_key_str(const char *v, wf_err *err)
{
    return wf_engine_check_api_key(v, v ? strlen(v) : 0, err);
}

static int check_config_n8n(const char *v, wf_err *err)
{
    return wf_engine_check_config(v, "n8n", err);
}

static int check_config_windmill(const char *v, wf_err *err)
{
    return wf_engine_check_config(v, "windmill", err);
}

/* ---- name -------------------------------------------------------------------------- */

static void test_name_valid(void **state)
{
    (void)state;
    ok(wf_engine_check_name, "a");
    ok(wf_engine_check_name, "7");
    ok(wf_engine_check_name, "n8n-prod");
    ok(wf_engine_check_name, "team_a.prefect-2");
    ok(wf_engine_check_name, "a-");
    ok(wf_engine_check_name, "a_");
    ok(wf_engine_check_name, "a.");
    char *s = repeat('n', 255);
    ok(wf_engine_check_name, s);
    free(s);
}

static void test_name_invalid(void **state)
{
    (void)state;
    bad(wf_engine_check_name, NULL, "name", "missing");
    bad(wf_engine_check_name, "", "name", "too_short");
    char *s = repeat('n', 256);
    bad(wf_engine_check_name, s, "name", "too_long");
    free(s);
    bad(wf_engine_check_name, "N8n", "name", "pattern");
    bad(wf_engine_check_name, "n8N", "name", "pattern");
    bad(wf_engine_check_name, "-n8n", "name", "pattern");
    bad(wf_engine_check_name, "_n8n", "name", "pattern");
    bad(wf_engine_check_name, ".n8n", "name", "pattern");
    bad(wf_engine_check_name, "n8n prod", "name", "pattern");
    bad(wf_engine_check_name, "n8n/prod", "name", "pattern");
    bad(wf_engine_check_name, "n8n\n", "name", "pattern");
    bad(wf_engine_check_name, "caf\xc3\xa9", "name", "pattern");
}

static void test_name_message_names_the_character(void **state)
{
    (void)state;
    wf_err err;
    wf_err_init(&err);
    wf_engine_check_name("ab/c", &err);
    assert_non_null(strstr(err.fields[0].msg, "'/' at position 3"));
    assert_non_null(strstr(err.msg, "name: "));
}

/* ---- engine_type ------------------------------------------------------------------- */

static void test_type(void **state)
{
    (void)state;
    for (size_t i = 0; wf_engine_types[i]; i++)
        ok(wf_engine_check_type, wf_engine_types[i]);
    bad(wf_engine_check_type, NULL, "engine_type", "missing");
    bad(wf_engine_check_type, "", "engine_type", "missing");
    bad(wf_engine_check_type, "N8N", "engine_type", "enum");
    char *s = repeat('x', 51);
    bad(wf_engine_check_type, s, "engine_type", "too_long");
    free(s);

    wf_err err;
    wf_err_init(&err);
    wf_engine_check_type("airflow", &err);
    assert_non_null(strstr(err.fields[0].msg, "n8n, prefect, windmill"));
    assert_non_null(strstr(err.fields[0].msg, "'airflow'"));
}

/* ---- api_url ----------------------------------------------------------------------- */

static void test_url_valid(void **state)
{
    (void)state;
    ok(check_url, "http://localhost:5678");
    ok(check_url, "https://n8n.example.com");
    ok(check_url, "https://n8n.example.com/");
    ok(check_url, "https://n8n.example.com/api/v1?team=a&x=%20y");
    ok(check_url, "https://n8n.example.com?x=1");
    ok(check_url, "HTTPS://N8N.Example.COM:443/");
    ok(check_url, "http://10.0.0.7:1/");
    ok(check_url, "http://host:65535");
    ok(check_url, "http://[::1]:8080/api");
    ok(check_url, "http://[2001:db8::42]");
    ok(check_url, "http://[::ffff:192.0.2.1]/");
    ok(check_url, "http://windmill_internal.svc.local/");
}

static void test_url_length(void **state)
{
    (void)state;
    char *s = padded("https://h.example/", 500, "");
    ok(check_url, s);
    free(s);
    s = padded("https://h.example/", 501, "");
    bad(check_url, s, "api_url", "too_long");
    free(s);
}

static void test_url_scheme_and_host(void **state)
{
    (void)state;
    bad(check_url, NULL, "api_url", "missing");
    bad(check_url, "", "api_url", "missing");
    bad(check_url, "ftp://files.example.com", "api_url", "url_scheme");
    bad(check_url, "localhost:5678", "api_url", "url_scheme");
    bad(check_url, "//example.com", "api_url", "url_scheme");
    bad(check_url, "http:/example.com", "api_url", "url_scheme");
    bad(check_url, "javascript://x", "api_url", "url_scheme");
    bad(check_url, "http://", "api_url", "url_host");
    bad(check_url, "http:///api", "api_url", "url_host");
    bad(check_url, "http://?x=1", "api_url", "url_host");
    bad(check_url, "http://:8080/", "api_url", "url_host");
    bad(check_url, "http://-x.example/", "api_url", "url_host");
    bad(check_url, "http://ex%41mple.com/", "api_url", "url_host");
    bad(check_url, "http://[::1/", "api_url", "url_host");
    bad(check_url, "http://[]/", "api_url", "url_host");
    bad(check_url, "http://[zz::1]/", "api_url", "url_host");
    bad(check_url, "http://[::1]x/", "api_url", "url_host");
    bad(check_url, "http://[::1]:0/", "api_url", "url_port");
}

static void test_url_port(void **state)
{
    (void)state;
    ok(check_url, "http://h:1");
    bad(check_url, "http://h:0", "api_url", "url_port");
    bad(check_url, "http://h:65536/", "api_url", "url_port");
    bad(check_url, "http://h:123456/", "api_url", "url_port");
    bad(check_url, "http://h:/", "api_url", "url_port");
    bad(check_url, "http://h:80a/", "api_url", "url_port");
    bad(check_url, "http://h:-1/", "api_url", "url_port");
    bad(check_url, "http://h:80:81/", "api_url", "url_port");
}

static void test_url_userinfo_fragment_spaces(void **state)
{
    (void)state;
    bad(check_url, "https://user:hunter22@n8n.example.com/", "api_url", "url_userinfo");
    bad(check_url, "https://user@n8n.example.com/", "api_url", "url_userinfo");
    bad(check_url, "https://:pw@n8n.example.com/", "api_url", "url_userinfo");
    bad(check_url, "https://h.example/#top", "api_url", "url_fragment");
    bad(check_url, "https://h.example#", "api_url", "url_fragment");
    bad(check_url, "https://h.example/a b", "api_url", "control_char");
    bad(check_url, " https://h.example/", "api_url", "control_char");
    bad(check_url, "https://h.example/\n", "api_url", "control_char");
    bad(check_url, "https://h.example/\t", "api_url", "control_char");
    bad(check_url, "https://h.exa\x7fmple/", "api_url", "control_char");

    wf_err err;
    wf_err_init(&err);
    wf_engine_check_url("https://admin:hunter22@n8n.example.com/", &err);
    assert_non_null(strstr(err.msg, "credentials belong in the API key, not the URL"));
    assert_null(strstr(err.msg, "hunter22"));
    assert_null(strstr(err.msg, "admin"));
}

static void test_url_ascii_only(void **state)
{
    (void)state;
    /* a URL is ASCII: other bytes travel percent-encoded, whether UTF-8 or not */
    bad(check_url, "https://h.example/caf\xc3\xa9", "api_url", "non_ascii");
    bad(check_url, "https://h.example/?q=\xff", "api_url", "non_ascii");
    bad(check_url, "https://h.example/\xe9", "api_url", "non_ascii");
    bad(check_url, "https://h\xc3\xa9.example/", "api_url", "non_ascii");
    ok(check_url, "https://h.example/caf%C3%A9?q=%FF");
    wf_err err;
    wf_err_init(&err);
    wf_engine_check_url("https://h.example/caf\xc3\xa9", &err);
    assert_non_null(strstr(err.msg, "percent-encode"));
}

/* ---- api_key ----------------------------------------------------------------------- */

static void test_key(void **state)
{
    (void)state;
    char *s = repeat('k', 4096);
    ok(check_key_str, s);
    free(s);
    s = repeat('k', 4097);
    bad(check_key_str, s, "api_key", "too_long");
    free(s);
    ok(check_key_str, "k");
    ok(check_key_str, "n8n_api_0123456789abcdef ~!@#$%^&*()\xc3\xa9");
    bad(check_key_str, "", "api_key", "too_short");
    bad(check_key_str, "secret-key\n", "api_key", "control_char");
    bad(check_key_str, "secret\x01key", "api_key", "control_char");
    bad(check_key_str, "secret\x7fkey", "api_key", "control_char");

    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_engine_check_api_key(NULL, 0, &err), WF_ERR_INVALID);
    assert_one(&err, "api_key", "missing");

    /* a NUL inside the counted bytes is a control character too */
    wf_err_init(&err);
    assert_int_equal(wf_engine_check_api_key("abc\0def", 7, &err), WF_ERR_INVALID);
    assert_one(&err, "api_key", "control_char");
}

static void test_key_never_in_message(void **state)
{
    (void)state;
    const char *keys[] = {"sk-live-SECRET-0001\n", "sk-live-SECRET-0001\x1b[2J", ""};
    for (size_t i = 0; i < 3; i++) {
        wf_err err;
        wf_err_init(&err);
        assert_int_equal(wf_engine_check_api_key(keys[i], strlen(keys[i]), &err), WF_ERR_INVALID);
        assert_null(strstr(err.msg, "SECRET"));
        assert_null(strstr(err.fields[0].msg, "SECRET"));
    }
    char *s = padded("sk-live-SECRET-", 5000, "");
    wf_err err;
    wf_err_init(&err);
    wf_engine_check_api_key(s, strlen(s), &err);
    assert_null(strstr(err.msg, "SECRET"));
    free(s);
}

/* ---- config ------------------------------------------------------------------------ */

static void test_config_json(void **state)
{
    (void)state;
    ok(check_config_n8n, "{}");
    ok(check_config_n8n, NULL);
    ok(check_config_n8n, "{\"anything\": [1, {\"x\": null}], \"verify_tls\": false}");
    bad(check_config_n8n, "not json", "config", "json_invalid");
    bad(check_config_n8n, "{\"a\": 1", "config", "json_invalid");
    bad(check_config_n8n, "", "config", "json_invalid");
    bad(check_config_n8n, "[1, 2]", "config", "json_not_object");
    bad(check_config_n8n, "5", "config", "json_not_object");
    bad(check_config_n8n, "\"x\"", "config", "json_not_object");
    bad(check_config_n8n, "null", "config", "json_not_object");
    bad(check_config_n8n, "{\"a\": 1, \"a\": 2}", "config", "json_invalid");

    wf_err err;
    wf_err_init(&err);
    wf_engine_check_config("{\"a\": 1, \"a\": 2}", "n8n", &err);
    assert_non_null(strstr(err.msg, "duplicate"));
}

static void test_config_size(void **state)
{
    (void)state;
    char *s = padded("{\"k\":\"", WF_ENGINE_CONFIG_MAX, "\"}");
    ok(check_config_n8n, s);
    free(s);
    s = padded("{\"k\":\"", WF_ENGINE_CONFIG_MAX + 1, "\"}");
    bad(check_config_n8n, s, "config", "too_long");
    free(s);
}

static void test_config_known_keys(void **state)
{
    (void)state;
    ok(check_config_n8n, "{\"timeout_ms\": 1}");
    ok(check_config_n8n, "{\"timeout_ms\": 120000}");
    bad(check_config_n8n, "{\"timeout_ms\": 0}", "config.timeout_ms", "range");
    bad(check_config_n8n, "{\"timeout_ms\": -5}", "config.timeout_ms", "range");
    bad(check_config_n8n, "{\"timeout_ms\": 120001}", "config.timeout_ms", "range");
    bad(check_config_n8n, "{\"timeout_ms\": \"5\"}", "config.timeout_ms", "type");
    bad(check_config_n8n, "{\"timeout_ms\": 1.5}", "config.timeout_ms", "type");
    bad(check_config_n8n, "{\"timeout_ms\": true}", "config.timeout_ms", "type");
    ok(check_config_n8n, "{\"verify_tls\": true}");
    bad(check_config_n8n, "{\"verify_tls\": \"yes\"}", "config.verify_tls", "type");
    bad(check_config_n8n, "{\"verify_tls\": 1}", "config.verify_tls", "type");

    wf_err err;
    wf_err_init(&err);
    assert_int_equal(
        wf_engine_check_config("{\"timeout_ms\": 0, \"verify_tls\": \"yes\"}", "n8n", &err),
        WF_ERR_INVALID);
    assert_int_equal(err.nfields, 2);
}

static void test_config_workspace(void **state)
{
    (void)state;
    ok(check_config_windmill, "{\"workspace\": \"main\"}");
    bad(check_config_windmill, "{}", "config.workspace", "missing");
    bad(check_config_windmill, NULL, "config.workspace", "missing");
    bad(check_config_windmill, "{\"workspace\": \"\"}", "config.workspace", "too_short");
    bad(check_config_windmill, "{\"workspace\": 5}", "config.workspace", "type");
    bad(check_config_windmill, "{\"workspace\": \"a b\"}", "config.workspace", "control_char");
    /* other types don't care */
    ok(check_config_n8n, "{\"workspace\": 5}");
    assert_int_equal(wf_engine_check_config("{}", NULL, NULL), 0);
}

/* ---- the patch --------------------------------------------------------------------- */

/* The engine a patch applies to: stored, with an encrypted key. */
static wf_engine *stored(const char *name, const char *type, const char *config)
{
    wf_engine *e = stored_engine(name, type, "https://old.example.com", config);
    e->api_key_encrypted = strdup("gAAAAAtoken");
    return e;
}

static void test_patch_create_required(void **state)
{
    (void)state;
    wf_engine_patch p = WF_ENGINE_PATCH_INIT;
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_engine_validate_patch(&p, NULL, &err), WF_ERR_INVALID);
    assert_int_equal(err.nfields, 3);
    assert_string_equal(find_field(&err, "name")->type, "missing");
    assert_string_equal(find_field(&err, "engine_type")->type, "missing");
    assert_string_equal(find_field(&err, "api_url")->type, "missing");

    p.name = "n8n-prod";
    p.engine_type = "n8n";
    p.api_url = "https://n8n.example.com";
    wf_err_init(&err);
    assert_int_equal(wf_engine_validate_patch(&p, NULL, &err), 0);
    assert_int_equal(err.code, WF_OK);
}

static void test_patch_update_only_what_is_set(void **state)
{
    (void)state;
    /* a stored row that breaks today's rules is left alone by an update */
    wf_engine *cur = stored("Legacy Name", "n8n", "{\"timeout_ms\": 0}");
    wf_engine_patch p = WF_ENGINE_PATCH_INIT;
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_engine_validate_patch(&p, cur, &err), 0);
    p.active = 0;
    assert_int_equal(wf_engine_validate_patch(&p, cur, &err), 0);
    p.name = "legacy-name";
    assert_int_equal(wf_engine_validate_patch(&p, cur, &err), 0);
    p.name = "Still Bad";
    assert_int_equal(wf_engine_validate_patch(&p, cur, &err), WF_ERR_INVALID);
    assert_int_equal(err.nfields, 1);
    wf_engine_free(cur);
}

static void test_patch_windmill_create(void **state)
{
    (void)state;
    wf_engine_patch p = WF_ENGINE_PATCH_INIT;
    p.name = "wm";
    p.engine_type = "windmill";
    p.api_url = "https://wm.example.com";
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_engine_validate_patch(&p, NULL, &err), WF_ERR_INVALID);
    assert_one(&err, "config.workspace", "missing");

    p.config = "{\"workspace\": \"ops\"}";
    wf_err_init(&err);
    assert_int_equal(wf_engine_validate_patch(&p, NULL, &err), 0);
}

static void test_patch_windmill_update(void **state)
{
    (void)state;
    wf_err err;
    wf_engine *n8n = stored("a", "n8n", "{}");
    wf_engine *wm_old = stored("b", "windmill", "{}"); /* adopted row without workspace */
    wf_engine *wm = stored("c", "windmill", "{\"workspace\":\"ops\"}");

    /* changing the type to windmill without a workspace fails */
    wf_engine_patch p = WF_ENGINE_PATCH_INIT;
    p.engine_type = "windmill";
    wf_err_init(&err);
    assert_int_equal(wf_engine_validate_patch(&p, n8n, &err), WF_ERR_INVALID);
    assert_one(&err, "config.workspace", "missing");
    /* ... and works with one */
    p.config = "{\"workspace\":\"ops\"}";
    wf_err_init(&err);
    assert_int_equal(wf_engine_validate_patch(&p, n8n, &err), 0);

    /* touching neither type nor config leaves an old record alone */
    wf_engine_patch q = WF_ENGINE_PATCH_INIT;
    q.api_url = "https://new.example.com";
    wf_err_init(&err);
    assert_int_equal(wf_engine_validate_patch(&q, wm_old, &err), 0);

    /* a new config for a windmill record needs the workspace */
    q.config = "{\"timeout_ms\": 5000}";
    wf_err_init(&err);
    assert_int_equal(wf_engine_validate_patch(&q, wm, &err), WF_ERR_INVALID);
    assert_one(&err, "config.workspace", "missing");

    /* a new config and a new type: the new type decides */
    q.engine_type = "prefect";
    wf_err_init(&err);
    assert_int_equal(wf_engine_validate_patch(&q, wm, &err), 0);

    wf_engine_free(n8n);
    wf_engine_free(wm_old);
    wf_engine_free(wm);
}

static void test_patch_key_and_active(void **state)
{
    (void)state;
    wf_engine *cur = stored("a", "n8n", "{}");
    wf_engine_patch p = WF_ENGINE_PATCH_INIT;
    wf_err err;

    p.api_key = "ignored\n"; /* KEEP: the key is not looked at */
    wf_err_init(&err);
    assert_int_equal(wf_engine_validate_patch(&p, cur, &err), 0);

    p.key_op = WF_KEYOP_SET;
    p.api_key_len = strlen(p.api_key);
    wf_err_init(&err);
    assert_int_equal(wf_engine_validate_patch(&p, cur, &err), WF_ERR_INVALID);
    assert_one(&err, "api_key", "control_char");

    p.key_op = WF_KEYOP_REMOVE;
    wf_err_init(&err);
    assert_int_equal(wf_engine_validate_patch(&p, cur, &err), 0);

    p.active = 2;
    wf_err_init(&err);
    assert_int_equal(wf_engine_validate_patch(&p, cur, &err), WF_ERR_INVALID);
    assert_one(&err, "active", "type");
    p.active = -2;
    wf_err_init(&err);
    assert_int_equal(wf_engine_validate_patch(&p, cur, &err), WF_ERR_INVALID);
    wf_engine_free(cur);
}

static void test_patch_collects_all_errors(void **state)
{
    (void)state;
    wf_engine_patch p = WF_ENGINE_PATCH_INIT;
    p.name = "Bad Name";
    p.engine_type = "airflow";
    p.api_url = "ftp://x";
    p.config = "{\"timeout_ms\": 0, \"verify_tls\": \"yes\"}";
    p.active = 3;
    p.key_op = WF_KEYOP_SET;
    p.api_key = "top-secret-value\n";
    p.api_key_len = strlen(p.api_key);

    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_engine_validate_patch(&p, NULL, &err), WF_ERR_INVALID);
    assert_int_equal(err.nfields, 7);
    const char *fields[] = {"name",   "engine_type",       "api_url",          "api_key",
                            "active", "config.timeout_ms", "config.verify_tls"};
    for (size_t i = 0; i < 7; i++)
        assert_non_null(find_field(&err, fields[i]));
    assert_null(strstr(err.msg, "top-secret-value"));

    /* errors the caller already collected are kept */
    wf_err_init(&err);
    wf_err_field(&err, "colour", "extra_forbidden", "unknown member");
    wf_engine_patch q = WF_ENGINE_PATCH_INIT;
    q.name = "-x";
    wf_engine *cur = stored("a", "n8n", "{}");
    assert_int_equal(wf_engine_validate_patch(&q, cur, &err), WF_ERR_INVALID);
    assert_int_equal(err.nfields, 2);
    wf_engine_free(cur);
}

/* ---- apply_patch, config_long ------------------------------------------------------ */

static void test_apply_create(void **state)
{
    (void)state;
    wf_engine_patch p = WF_ENGINE_PATCH_INIT;
    p.name = "n8n-prod";
    p.engine_type = "n8n";
    p.api_url = "https://n8n.example.com";
    p.config = "{ \"z\": 1,\n  \"a\": [true, null], \"r\": 1.1 , \"u\": \"\\u00e9\" }";
    p.key_op = WF_KEYOP_SET;
    p.api_key = "secret-1";
    p.api_key_len = 8;
    wf_engine *e = wf_engine_apply_patch(NULL, &p);
    assert_non_null(e);
    assert_string_equal(e->name, "n8n-prod");
    assert_string_equal(e->engine_type, "n8n");
    assert_string_equal(e->api_url, "https://n8n.example.com");
    assert_string_equal(e->config, "{\"z\":1,\"a\":[true,null],\"r\":1.1,\"u\":\"\xc3\xa9\"}");
    assert_true(e->is_active);
    assert_null(e->api_key_encrypted);
    assert_null(e->api_key_env);
    assert_int_equal(e->id, 0);
    wf_engine_free(e);
}

static void test_apply_update(void **state)
{
    (void)state;
    wf_engine *cur = stored("a", "n8n", "{\"timeout_ms\":5}");
    wf_engine_patch p = WF_ENGINE_PATCH_INIT;
    p.api_url = "https://new.example.com";
    p.active = 0;
    p.key_op = WF_KEYOP_REMOVE;
    wf_engine *e = wf_engine_apply_patch(cur, &p);
    assert_non_null(e);
    assert_ptr_not_equal(e, cur);
    assert_string_equal(e->name, "a");
    assert_string_equal(e->engine_type, "n8n");
    assert_string_equal(e->api_url, "https://new.example.com");
    assert_string_equal(e->config, "{\"timeout_ms\":5}");
    assert_false(e->is_active);
    assert_int_equal(e->id, 7);
    assert_string_equal(e->api_key_encrypted, "gAAAAAtoken"); /* keys are the caller's */
    assert_string_equal(e->created_at, "2026-01-01T00:00:00Z");
    assert_string_equal(cur->api_url, "https://old.example.com"); /* current untouched */

    wf_engine_patch q = WF_ENGINE_PATCH_INIT;
    q.active = 1;
    q.config = "{}";
    q.name = "b";
    wf_engine *f = wf_engine_apply_patch(e, &q);
    assert_true(f->is_active);
    assert_string_equal(f->config, "{}");
    assert_string_equal(f->name, "b");
    wf_engine_free(f);
    wf_engine_free(e);
    wf_engine_free(cur);
}

static void test_config_long(void **state)
{
    (void)state;
    wf_engine *e = stored("a", "n8n",
                          "{\"timeout_ms\": 2500, \"verify_tls\": false, \"on\": true, "
                          "\"s\": \"5\", \"r\": 1.5, \"big\": 9007199254740993}");
    assert_int_equal(wf_engine_config_long(e, "timeout_ms", 30000), 2500);
    assert_int_equal(wf_engine_config_long(e, "verify_tls", 1), 0);
    assert_int_equal(wf_engine_config_long(e, "on", 0), 1);
    assert_int_equal(wf_engine_config_long(e, "s", 42), 42);
    assert_int_equal(wf_engine_config_long(e, "r", 42), 42);
    assert_int_equal(wf_engine_config_long(e, "absent", 42), 42);
    assert_true(wf_engine_config_long(e, "big", 0) == 9007199254740993L);
    free(e->config);
    e->config = strdup("not json");
    assert_int_equal(wf_engine_config_long(e, "timeout_ms", 30000), 30000);
    free(e->config);
    e->config = strdup("[1]");
    assert_int_equal(wf_engine_config_long(e, "timeout_ms", 30000), 30000);
    assert_int_equal(wf_engine_config_long(NULL, "x", 3), 3);
    wf_engine_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_valid),
        cmocka_unit_test(test_name_invalid),
        cmocka_unit_test(test_name_message_names_the_character),
        cmocka_unit_test(test_type),
        cmocka_unit_test(test_url_valid),
        cmocka_unit_test(test_url_length),
        cmocka_unit_test(test_url_scheme_and_host),
        cmocka_unit_test(test_url_port),
        cmocka_unit_test(test_url_userinfo_fragment_spaces),
        cmocka_unit_test(test_url_ascii_only),
        cmocka_unit_test(test_key),
        cmocka_unit_test(test_key_never_in_message),
        cmocka_unit_test(test_config_json),
        cmocka_unit_test(test_config_size),
        cmocka_unit_test(test_config_known_keys),
        cmocka_unit_test(test_config_workspace),
        cmocka_unit_test(test_patch_create_required),
        cmocka_unit_test(test_patch_update_only_what_is_set),
        cmocka_unit_test(test_patch_windmill_create),
        cmocka_unit_test(test_patch_windmill_update),
        cmocka_unit_test(test_patch_key_and_active),
        cmocka_unit_test(test_patch_collects_all_errors),
        cmocka_unit_test(test_apply_create),
        cmocka_unit_test(test_apply_update),
        cmocka_unit_test(test_config_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
