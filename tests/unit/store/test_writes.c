/*
 * test_writes.c: the write path (validate -> encrypt -> store), the registry loader,
 * key rotation and the audit trail each write leaves in its own transaction, on a real
 * database (SQLite or PostgreSQL, store_fixture.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/log.h"
#include "store/migrate.h"
#include "store/writes.h"
#include "store_fixture.h"

#define KEY_A "kYpIWBE6Hs7nMIdQ7ktwtBEFV0PBx6iz3bmUvbp7oMI="
#define KEY_B "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4="

static wf_keyring *ring(const char *keys)
{
    wf_keyring *kr = NULL;
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_keyring_new(NULL, keys, &kr, &err), 0);
    return kr;
}

/* Creates an engine named name with an optional key. */
static void add(fixture *f, const wf_keyring *kr, const char *name, const char *key)
{
    wf_engine_patch p = WF_ENGINE_PATCH_INIT;
    p.name = name;
    p.engine_type = "n8n";
    p.api_url = "http://127.0.0.1:5678";
    if (key) {
        p.key_op = WF_KEYOP_SET;
        p.api_key = key;
        p.api_key_len = strlen(key);
    }
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_writes_create(f->s, kr, &p, NULL, NULL, &err), 0);
}

static char *stored_token(fixture *f, const char *name)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT api_key_encrypted FROM workflow_engines WHERE name='%s'",
             name);
    return side_query(f->path, sql);
}

static void test_create_encrypts_the_key(void **state)
{
    fixture *f = *state;
    wf_keyring *kr = ring(KEY_A);
    wf_engine_patch p = WF_ENGINE_PATCH_INIT;
    p.name = "n1";
    p.engine_type = "n8n";
    p.api_url = "https://n8n.example/";
    p.key_op = WF_KEYOP_SET;
    p.api_key = "the-key-in-clear";
    p.api_key_len = strlen(p.api_key);
    wf_engine *e = NULL;
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_writes_create(f->s, kr, &p, NULL, &e, &err), 0);
    assert_non_null(e);
    assert_int_equal(e->key_status, WF_KEY_OK);
    assert_true(e->id > 0);

    char *tok = stored_token(f, "n1");
    assert_non_null(tok);
    assert_memory_equal(tok, "gAAAAA", 6);
    assert_null(strstr(tok, "the-key-in-clear"));
    wf_buf plain;
    wf_buf_init_secret(&plain);
    assert_int_equal(wf_keyring_decrypt(kr, tok, &plain, NULL, &err), 0);
    assert_string_equal(wf_buf_cstr(&plain), "the-key-in-clear");
    wf_buf_wipe(&plain);
    free(tok);
    wf_engine_free(e);
    wf_keyring_free(kr);
}

static void test_create_without_keys_is_refused(void **state)
{
    fixture *f = *state;
    wf_keyring *empty = NULL;
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_keyring_new(NULL, NULL, &empty, &err), 0);
    wf_engine_patch p = WF_ENGINE_PATCH_INIT;
    p.name = "n2";
    p.engine_type = "n8n";
    p.api_url = "https://n8n.example/";
    p.key_op = WF_KEYOP_SET;
    p.api_key = "k";
    p.api_key_len = 1;
    assert_int_equal(wf_writes_create(f->s, empty, &p, NULL, NULL, &err), WF_ERR_KEY);
    assert_non_null(strstr(err.msg, "SECRET_KEY"));
    char *n = side_query(f->path, "SELECT count(*) FROM workflow_engines");
    assert_string_equal(n, "0");
    free(n);
    /* without a key the same engine can be stored */
    p.key_op = WF_KEYOP_KEEP;
    assert_int_equal(wf_writes_create(f->s, empty, &p, NULL, NULL, &err), 0);
    wf_keyring_free(empty);
}

static void test_invalid_create_writes_nothing(void **state)
{
    fixture *f = *state;
    wf_keyring *kr = ring(KEY_A);
    wf_engine_patch p = WF_ENGINE_PATCH_INIT;
    p.name = "Bad";
    p.engine_type = "airflow";
    p.api_url = "ftp://x";
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_writes_create(f->s, kr, &p, NULL, NULL, &err), WF_ERR_INVALID);
    assert_int_equal(err.nfields, 3);
    char *n = side_query(f->path, "SELECT count(*) FROM workflow_engines");
    assert_string_equal(n, "0");
    free(n);
    wf_keyring_free(kr);
}

static void test_update_key_ops(void **state)
{
    fixture *f = *state;
    wf_keyring *kr = ring(KEY_A);
    add(f, kr, "u1", "first");
    char *t1 = stored_token(f, "u1");

    wf_err err;
    wf_err_init(&err);
    wf_engine_patch keep = WF_ENGINE_PATCH_INIT;
    keep.api_url = "http://127.0.0.1:1";
    assert_int_equal(wf_writes_update(f->s, kr, NULL, "u1", &keep, NULL, NULL, &err), 0);
    char *t2 = stored_token(f, "u1");
    assert_string_equal(t1, t2); /* KEEP leaves the token alone */

    wf_engine_patch set = WF_ENGINE_PATCH_INIT;
    set.key_op = WF_KEYOP_SET;
    set.api_key = "second";
    set.api_key_len = 6;
    assert_int_equal(wf_writes_update(f->s, kr, NULL, "u1", &set, NULL, NULL, &err), 0);
    char *t3 = stored_token(f, "u1");
    assert_string_not_equal(t2, t3);

    wf_engine_patch rm = WF_ENGINE_PATCH_INIT;
    rm.key_op = WF_KEYOP_REMOVE;
    wf_engine *e = NULL;
    assert_int_equal(wf_writes_update(f->s, kr, NULL, "u1", &rm, NULL, &e, &err), 0);
    assert_int_equal(e->key_status, WF_KEY_NONE);
    char *t4 = stored_token(f, "u1");
    assert_string_equal(t4, "(null)");

    wf_engine_patch bad = WF_ENGINE_PATCH_INIT;
    bad.api_url = "nope";
    assert_int_equal(wf_writes_update(f->s, kr, NULL, "u1", &bad, NULL, NULL, &err),
                     WF_ERR_INVALID);
    char *url = side_query(f->path, "SELECT api_url FROM workflow_engines WHERE name='u1'");
    assert_string_equal(url, "http://127.0.0.1:1");

    assert_int_equal(wf_writes_update(f->s, kr, NULL, "missing", &keep, NULL, NULL, &err),
                     WF_ERR_NOT_FOUND);
    free(url);
    free(t1);
    free(t2);
    free(t3);
    free(t4);
    wf_engine_free(e);
    wf_keyring_free(kr);
}

/* Loads a registry over the fixture with one environment engine named env_name. */
static wf_registry *load(fixture *f, const wf_keyring *kr, const char *env_name)
{
    wf_engine *env = wf_engine_new();
    env->name = strdup(env_name);
    env->engine_type = strdup("n8n");
    env->api_url = strdup("http://127.0.0.1:9");
    env->api_key_env = strdup("env-key");
    env->source = WF_SOURCE_ENVIRONMENT;
    env->key_status = WF_KEY_OK;
    wf_registry *r = wf_registry_new();
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_writes_load_registry(r, f->s, kr, &env, 1, false, &err), 0);
    wf_engine_free(env);
    return r;
}

static void test_environment_engines_are_read_only(void **state)
{
    fixture *f = *state;
    wf_keyring *kr = ring(KEY_A);
    wf_registry *r = load(f, kr, "n8n-default");
    wf_snapshot *snap = wf_registry_acquire(r);
    wf_err err;
    wf_err_init(&err);
    wf_engine_patch p = WF_ENGINE_PATCH_INIT;
    p.active = 0;
    assert_int_equal(wf_writes_update(f->s, kr, snap, "n8n-default", &p, NULL, NULL, &err),
                     WF_ERR_CONFLICT);
    assert_non_null(strstr(err.msg, "read-only"));
    assert_int_equal(wf_writes_delete(f->s, snap, "n8n-default", NULL, &err), WF_ERR_CONFLICT);
    assert_int_equal(wf_writes_delete(f->s, snap, "nothing", NULL, &err), WF_ERR_NOT_FOUND);
    wf_snapshot_unref(snap);
    wf_registry_free(r);
    wf_keyring_free(kr);
}

static void test_registry_reports_unreadable_keys(void **state)
{
    fixture *f = *state;
    wf_keyring *a = ring(KEY_A), *b = ring(KEY_B);
    add(f, a, "k1", "secret-1");
    add(f, NULL, "k2", NULL);
    wf_registry *r = load(f, b, "env-one"); /* the wrong key: k1 cannot be opened */
    wf_snapshot *snap = wf_registry_acquire(r);
    assert_int_equal(wf_snapshot_count(snap), 3);
    assert_int_equal(wf_snapshot_find(snap, "k1")->key_status, WF_KEY_UNREADABLE);
    assert_int_equal(wf_snapshot_find(snap, "k2")->key_status, WF_KEY_NONE);
    assert_int_equal(wf_snapshot_find(snap, "env-one")->key_status, WF_KEY_OK);
    assert_int_equal(wf_snapshot_find(snap, "env-one")->source, WF_SOURCE_ENVIRONMENT);
    wf_snapshot_unref(snap);
    wf_registry_free(r);
    r = load(f, a, "env-one");
    snap = wf_registry_acquire(r);
    assert_int_equal(wf_snapshot_find(snap, "k1")->key_status, WF_KEY_OK);
    wf_snapshot_unref(snap);
    wf_registry_free(r);
    wf_keyring_free(a);
    wf_keyring_free(b);
}

static void test_rotation(void **state)
{
    fixture *f = *state;
    wf_keyring *old = ring(KEY_A), *both = ring(KEY_B "," KEY_A), *fresh = ring(KEY_B);
    add(f, old, "r1", "one");
    add(f, old, "r2", "two");
    add(f, fresh, "r3", "three"); /* already under the new key */
    add(f, NULL, "r4", NULL);     /* no key */
    wf_err err;
    wf_err_init(&err);
    wf_rotate_report rep;
    char *before = stored_token(f, "r1");
    assert_int_equal(wf_writes_rotate_keys(f->s, both, true, NULL, &rep, NULL, NULL, &err), 0);
    assert_int_equal(rep.total, 3);
    assert_int_equal(rep.rotated, 2);
    assert_int_equal(rep.current, 1);
    char *still = stored_token(f, "r1");
    assert_string_equal(before, still); /* a dry run writes nothing */

    assert_int_equal(wf_writes_rotate_keys(f->s, both, false, NULL, &rep, NULL, NULL, &err), 0);
    assert_int_equal(rep.rotated, 2);
    char *after = stored_token(f, "r1");
    assert_string_not_equal(before, after);
    wf_buf plain;
    wf_buf_init_secret(&plain);
    assert_int_equal(wf_keyring_decrypt(fresh, after, &plain, NULL, &err), 0);
    assert_string_equal(wf_buf_cstr(&plain), "one");
    wf_buf_wipe(&plain);

    /* a token no key opens is left alone and counted */
    assert_int_equal(wf_store_exec(f->s,
                                   "UPDATE workflow_engines SET api_key_encrypted="
                                   "'gAAAAABbroken' WHERE name='r2'",
                                   &err),
                     0);
    assert_int_equal(wf_writes_rotate_keys(f->s, both, false, NULL, &rep, NULL, NULL, &err), 0);
    assert_int_equal(rep.unreadable, 1);
    assert_int_equal(rep.current, 2);
    char *broken = stored_token(f, "r2");
    assert_string_equal(broken, "gAAAAABbroken");
    free(broken);
    free(before);
    free(still);
    free(after);
    wf_keyring_free(old);
    wf_keyring_free(both);
    wf_keyring_free(fresh);
}

/* ---- the audit trail ---- */

static char *q1(fixture *f, const char *sql)
{
    char *v = side_query(f->path, sql);
    assert_non_null(v);
    return v;
}

static void expect_sql(fixture *f, const char *sql, const char *want)
{
    char *v = q1(f, sql);
    if (strcmp(v, want))
        fail_msg("%s: got '%s', expected '%s'", sql, v, want);
    free(v);
}

/* The audit rows of engine id, newest first, as "action fields actor" lines. */
static char *history(fixture *f, int64_t id)
{
    wf_audit_row *rows = NULL;
    size_t n = 0;
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_store_audit_list(f->s, id, NULL, 0, &rows, &n, &err), 0);
    wf_buf b = WF_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        wf_buf_printf(&b, "%s %s %s%s", rows[i].action, rows[i].fields, rows[i].actor,
                      i + 1 < n ? "\n" : "");
    wf_audit_rows_free(rows, n);
    return wf_buf_detach(&b);
}

static void expect_history(fixture *f, int64_t id, const char *want)
{
    char *h = history(f, id);
    if (strcmp(h, want))
        fail_msg("history of %lld:\n%s\nexpected:\n%s", (long long)id, h, want);
    free(h);
}

static void update_ok(fixture *f, const wf_keyring *kr, const char *name, const wf_engine_patch *p,
                      const wf_actor *actor)
{
    wf_err err;
    wf_err_init(&err);
    if (wf_writes_update(f->s, kr, NULL, name, p, actor, NULL, &err))
        fail_msg("update %s: %s", name, err.msg);
}

static void test_audit_rows(void **state)
{
    fixture *f = *state;
    wf_keyring *kr = ring(KEY_A);
    wf_err err;
    wf_err_init(&err);
    add(f, kr, "a1", "secret-key-value");
    expect_sql(f,
               "SELECT actor || ' ' || action || ' ' || engine_name || ' ' || fields"
               " || ' ' || CASE WHEN actor_id IS NULL THEN 1 ELSE 0 END"
               " || ' ' || CASE WHEN engine_id = 1 THEN 1 ELSE 0 END FROM audit_log",
               "cli create a1 [\"name\",\"engine_type\",\"api_url\",\"active\",\"config\","
               "\"api_key\"] 1 1");

    wf_engine_patch p = WF_ENGINE_PATCH_INIT;
    p.api_url = "http://127.0.0.1:5679";
    p.config = "{ \"timeout_ms\" : 5 }";
    update_ok(f, kr, "a1", &p, NULL);

    /* the same values again (config spaced differently): nothing changes, no row */
    wf_engine_patch same = WF_ENGINE_PATCH_INIT;
    same.api_url = "http://127.0.0.1:5679";
    same.config = "{\"timeout_ms\":5}";
    same.active = 1;
    update_ok(f, kr, "a1", &same, NULL);

    int64_t alice = 0;
    assert_int_equal(wf_store_user_insert(f->s, "alice", "$argon2id$x", "admin", &alice, &err), 0);
    wf_actor who = {alice, "alice"};
    wf_engine_patch ren = WF_ENGINE_PATCH_INIT;
    ren.name = "a2";
    ren.active = 0;
    ren.engine_type = "prefect";
    update_ok(f, kr, "a1", &ren, &who);

    wf_engine_patch key = WF_ENGINE_PATCH_INIT;
    key.key_op = WF_KEYOP_SET;
    key.api_key = "another-secret";
    key.api_key_len = strlen(key.api_key);
    update_ok(f, kr, "a2", &key, NULL);
    wf_engine_patch rm = WF_ENGINE_PATCH_INIT;
    rm.key_op = WF_KEYOP_REMOVE;
    update_ok(f, kr, "a2", &rm, NULL);
    update_ok(f, kr, "a2", &rm, NULL); /* no key left to remove: no row */

    assert_int_equal(wf_writes_delete(f->s, NULL, "a2", &who, &err), 0);
    expect_history(f, 1,
                   "delete [] alice\n"
                   "update [\"api_key\"] cli\n"
                   "update [\"api_key\"] cli\n"
                   "update [\"name\",\"engine_type\",\"active\"] alice\n"
                   "update [\"api_url\",\"config\"] cli\n"
                   "create [\"name\",\"engine_type\",\"api_url\",\"active\",\"config\","
                   "\"api_key\"] cli");
    expect_sql(f, "SELECT group_concat(DISTINCT engine_name) FROM audit_log", "a1,a2");
    expect_sql(f, "SELECT count(*) FROM audit_log WHERE actor_id = 1", "2");
    /* never a value */
    expect_sql(f,
               "SELECT count(*) FROM audit_log WHERE fields LIKE '%secret%'"
               " OR fields LIKE '%127.0.0.1%' OR fields LIKE '%gAAAA%'",
               "0");
    /* a create without a key does not name api_key */
    add(f, kr, "plain", NULL);
    expect_sql(f, "SELECT fields FROM audit_log WHERE engine_name = 'plain'",
               "[\"name\",\"engine_type\",\"api_url\",\"active\",\"config\"]");
    wf_keyring_free(kr);
}

static void test_failed_writes_leave_no_audit_row(void **state)
{
    fixture *f = *state;
    wf_keyring *kr = ring(KEY_A);
    wf_err err;
    wf_err_init(&err);
    add(f, kr, "b1", NULL);
    add(f, kr, "b2", NULL);
    expect_sql(f, "SELECT count(*) FROM audit_log", "2");

    wf_engine_patch dup = WF_ENGINE_PATCH_INIT;
    dup.name = "b1";
    dup.engine_type = "n8n";
    dup.api_url = "http://127.0.0.1:1";
    assert_int_equal(wf_writes_create(f->s, kr, &dup, NULL, NULL, &err), WF_ERR_CONFLICT);
    wf_engine_patch bad = WF_ENGINE_PATCH_INIT;
    bad.name = "Bad Name";
    assert_int_equal(wf_writes_create(f->s, kr, &bad, NULL, NULL, &err), WF_ERR_INVALID);
    wf_engine_patch taken = WF_ENGINE_PATCH_INIT;
    taken.name = "b2";
    assert_int_equal(wf_writes_update(f->s, kr, NULL, "b1", &taken, NULL, NULL, &err),
                     WF_ERR_CONFLICT);
    assert_int_equal(wf_writes_update(f->s, kr, NULL, "zz", &taken, NULL, NULL, &err),
                     WF_ERR_NOT_FOUND);
    assert_int_equal(wf_writes_delete(f->s, NULL, "zz", NULL, &err), WF_ERR_NOT_FOUND);
    expect_sql(f, "SELECT count(*) FROM audit_log", "2");

    /* and when the audit row cannot be written, the change does not happen either */
    assert_int_equal(wf_store_exec(f->s, "DROP TABLE audit_log", &err), 0);
    wf_engine_patch p = WF_ENGINE_PATCH_INIT;
    p.name = "b3";
    p.engine_type = "n8n";
    p.api_url = "http://127.0.0.1:1";
    assert_int_equal(wf_writes_create(f->s, kr, &p, NULL, NULL, &err), WF_ERR_DB);
    assert_non_null(strstr(err.msg, "audit"));
    wf_engine_patch url = WF_ENGINE_PATCH_INIT;
    url.api_url = "http://127.0.0.1:2";
    assert_int_equal(wf_writes_update(f->s, kr, NULL, "b1", &url, NULL, NULL, &err), WF_ERR_DB);
    assert_int_equal(wf_writes_delete(f->s, NULL, "b2", NULL, &err), WF_ERR_DB);
    expect_sql(f, "SELECT group_concat(name || '=' || api_url) FROM workflow_engines",
               "b1=http://127.0.0.1:5678,b2=http://127.0.0.1:5678");
    wf_keyring_free(kr);
}

static void test_rollback_removes_change_and_audit(void **state)
{
    fixture *f = *state;
    wf_keyring *kr = ring(KEY_A);
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_store_begin(f->s, &err), 0);
    add(f, kr, "c1", "k1-secret");
    wf_engine_patch p = WF_ENGINE_PATCH_INIT;
    p.active = 0;
    update_ok(f, kr, "c1", &p, NULL);
    assert_int_equal(wf_writes_delete(f->s, NULL, "c1", NULL, &err), 0);
    wf_store_rollback(f->s);
    expect_sql(f, "SELECT count(*) FROM audit_log", "0");
    expect_sql(f, "SELECT count(*) FROM workflow_engines", "0");

    /* committed whole, the caller's transaction keeps all three rows */
    assert_int_equal(wf_store_begin(f->s, &err), 0);
    add(f, kr, "c2", NULL);
    update_ok(f, kr, "c2", &p, NULL);
    assert_int_equal(wf_store_commit(f->s, &err), 0);
    expect_sql(f, "SELECT group_concat(action) FROM audit_log", "create,update");
    wf_keyring_free(kr);
}

static void test_rotation_is_audited(void **state)
{
    fixture *f = *state;
    wf_keyring *old = ring(KEY_A), *both = ring(KEY_B "," KEY_A), *fresh = ring(KEY_B);
    add(f, old, "r1", "one");
    add(f, fresh, "r2", "two"); /* already current: not rotated, not audited */
    wf_err err;
    wf_err_init(&err);
    wf_rotate_report rep;
    assert_int_equal(wf_writes_rotate_keys(f->s, both, true, NULL, &rep, NULL, NULL, &err), 0);
    expect_sql(f, "SELECT count(*) FROM audit_log WHERE action = 'key_rotate'", "0");
    wf_actor who = {0, "ops-script"};
    assert_int_equal(wf_writes_rotate_keys(f->s, both, false, &who, &rep, NULL, NULL, &err), 0);
    assert_int_equal(rep.rotated, 1);
    expect_sql(f,
               "SELECT group_concat(engine_name || ' ' || fields || ' ' || actor) FROM audit_log"
               " WHERE action = 'key_rotate'",
               "r1 [\"api_key\"] ops-script");
    wf_keyring_free(old);
    wf_keyring_free(both);
    wf_keyring_free(fresh);
}

int main(void)
{
    wf_log_setup(WF_LOG_OFF, WF_LOG_TEXT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_encrypts_the_key, fixture_setup_at_head,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_create_without_keys_is_refused, fixture_setup_at_head,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_create_writes_nothing, fixture_setup_at_head,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_update_key_ops, fixture_setup_at_head,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_environment_engines_are_read_only,
                                        fixture_setup_at_head, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_registry_reports_unreadable_keys,
                                        fixture_setup_at_head, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_rotation, fixture_setup_at_head, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_audit_rows, fixture_setup_at_head, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_failed_writes_leave_no_audit_row,
                                        fixture_setup_at_head, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_rollback_removes_change_and_audit,
                                        fixture_setup_at_head, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_rotation_is_audited, fixture_setup_at_head,
                                        fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
