/*
 * test_auth_store.c: the store's users, tokens and audit trail on a real database
 * (SQLite or PostgreSQL, store_fixture.h):
 * users (unique names, roles, updates), tokens (stored by hash, times in and out,
 * expiry, revocation and disabled users filtered, logout by hash, cascade on user
 * delete), the audit log (order, limit, renames followed, rollback) and data_version
 * seen from another connection.
 */
#include "store/migrate.h"
#include "store/store.h"
#include "store_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HASH_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define HASH_D "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"

static void assert_iso_utc(const char *ts)
{
    assert_non_null(ts);
    assert_int_equal(strlen(ts), 20);
    assert_true(ts[4] == '-' && ts[10] == 'T' && ts[13] == ':' && ts[19] == 'Z');
}

static int64_t add_user(wf_store *s, const char *name, const char *role)
{
    int64_t id = 0;
    wf_err err;
    wf_err_init(&err);
    if (wf_store_user_insert(s, name, "$argon2id$v=19$m=19456,t=2,p=1$x$y", role, &id, &err))
        fail_msg("user_insert: %s", err.msg);
    assert_true(id > 0);
    return id;
}

static int64_t add_token(wf_store *s, int64_t user, const char *hash, const char *expires)
{
    int64_t id = 0;
    wf_err err;
    wf_err_init(&err);
    if (wf_store_token_insert(s, user, "api", "ci", hash, expires, &id, &err))
        fail_msg("token_insert: %s", err.msg);
    return id;
}

static void exec_ok(wf_store *s, const char *sql)
{
    wf_err err;
    wf_err_init(&err);
    if (wf_store_exec(s, sql, &err))
        fail_msg("exec: %s", err.msg);
}

/* ---- users ---- */

static void test_users(void **state)
{
    fixture *f = *state;
    wf_err err;
    wf_err_init(&err);
    int64_t bob = add_user(f->s, "bob", "viewer");
    add_user(f->s, "alice", "admin");

    assert_int_equal(wf_store_user_insert(f->s, "bob", "h", "admin", NULL, &err), WF_ERR_CONFLICT);
    assert_non_null(strstr(err.msg, "bob"));
    assert_int_equal(wf_store_user_insert(f->s, "carol", "h", "root", NULL, &err), WF_ERR_INVALID);

    wf_user *u = NULL;
    assert_int_equal(wf_store_user_get(f->s, "bob", &u, &err), 0);
    assert_int_equal(u->id, bob);
    assert_string_equal(u->username, "bob");
    assert_string_equal(u->role, "viewer");
    assert_memory_equal(u->password_hash, "$argon2id$", 10);
    assert_true(u->is_active);
    assert_iso_utc(u->created_at);
    assert_iso_utc(u->updated_at);

    free(u->role);
    u->role = strdup("admin");
    free(u->password_hash);
    u->password_hash = strdup("$argon2id$new");
    u->is_active = false;
    exec_ok(f->s, "UPDATE app_users SET updated_at = '2001-01-01 00:00:00' WHERE username='bob'");
    assert_int_equal(wf_store_user_update(f->s, u, &err), 0);
    wf_user_free(u);
    u = NULL;
    assert_int_equal(wf_store_user_get(f->s, "bob", &u, &err), 0);
    assert_string_equal(u->role, "admin");
    assert_string_equal(u->password_hash, "$argon2id$new");
    assert_false(u->is_active);
    assert_string_not_equal(u->updated_at, "2001-01-01T00:00:00Z");

    free(u->role);
    u->role = strdup("owner");
    assert_int_equal(wf_store_user_update(f->s, u, &err), WF_ERR_INVALID);
    u->id = 999;
    free(u->role);
    u->role = strdup("viewer");
    assert_int_equal(wf_store_user_update(f->s, u, &err), WF_ERR_NOT_FOUND);
    wf_user_free(u);

    assert_int_equal(wf_store_user_get(f->s, "nobody", &u, &err), WF_ERR_NOT_FOUND);
    assert_null(u);

    wf_user **list = NULL;
    size_t n = 0;
    assert_int_equal(wf_store_user_list(f->s, &list, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0]->username, "alice");
    assert_string_equal(list[1]->username, "bob");
    for (size_t i = 0; i < n; i++)
        wf_user_free(list[i]);
    free(list);
}

/* ---- tokens ---- */

static void test_token_insert_errors_and_times(void **state)
{
    fixture *f = *state;
    wf_err err;
    wf_err_init(&err);
    int64_t u = add_user(f->s, "tok", "viewer");
    int64_t id = add_token(f->s, u, HASH_A, "2999-06-07T08:09:10Z");
    assert_true(id > 0);

    char *stored = side_query(f->path, "SELECT expires_at FROM api_tokens WHERE id = 1");
    assert_string_equal(stored, "2999-06-07 08:09:10"); /* CURRENT_TIMESTAMP's form */
    free(stored);
    stored = side_query(f->path, "SELECT token_hash FROM api_tokens WHERE id = 1");
    assert_string_equal(stored, HASH_A);
    free(stored);

    assert_int_equal(wf_store_token_insert(f->s, u, "api", NULL, HASH_A, NULL, NULL, &err),
                     WF_ERR_CONFLICT);
    assert_int_equal(wf_store_token_insert(f->s, 999, "api", NULL, HASH_B, NULL, NULL, &err),
                     WF_ERR_NOT_FOUND);
    assert_int_equal(wf_store_token_insert(f->s, u, "cookie", NULL, HASH_B, NULL, NULL, &err),
                     WF_ERR_INVALID);
    assert_int_equal(
        wf_store_token_insert(f->s, u, "api", NULL, HASH_B, "next tuesday", NULL, &err),
        WF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "expires_at"));

    wf_token_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(wf_store_token_list(f->s, true, &rows, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].id, id);
    assert_int_equal(rows[0].user_id, u);
    assert_string_equal(rows[0].kind, "api");
    assert_string_equal(rows[0].label, "ci");
    assert_string_equal(rows[0].token_hash, HASH_A);
    assert_iso_utc(rows[0].created_at);
    assert_string_equal(rows[0].expires_at, "2999-06-07T08:09:10Z");
    assert_null(rows[0].revoked_at);
    assert_string_equal(rows[0].username, "tok");
    assert_string_equal(rows[0].role, "viewer");
    assert_true(rows[0].user_active);
    wf_token_rows_free(rows, n);
}

static void test_token_list_filters(void **state)
{
    fixture *f = *state;
    wf_err err;
    wf_err_init(&err);
    int64_t on = add_user(f->s, "on", "admin"), off = add_user(f->s, "off", "viewer");
    int64_t live = add_token(f->s, on, HASH_A, NULL);
    int64_t future = add_token(f->s, on, HASH_B, "2999-01-01T00:00:00Z");
    int64_t expired = add_token(f->s, on, HASH_C, "2001-01-01T00:00:00Z");
    add_token(f->s, off, HASH_D, NULL);
    exec_ok(f->s, "UPDATE app_users SET active = false WHERE username = 'off'");

    wf_token_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(wf_store_token_list(f->s, false, &rows, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(rows[0].id, live);
    assert_int_equal(rows[1].id, future);
    wf_token_rows_free(rows, n);

    assert_int_equal(wf_store_token_revoke(f->s, live, &err), 0);
    assert_int_equal(wf_store_token_revoke(f->s, live, &err), WF_ERR_NOT_FOUND);
    assert_int_equal(wf_store_token_revoke(f->s, 4242, &err), WF_ERR_NOT_FOUND);
    assert_int_equal(wf_store_token_list(f->s, false, &rows, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].id, future);
    wf_token_rows_free(rows, n);

    /* all: every token, in id order, with revoked_at and the disabled user */
    assert_int_equal(wf_store_token_list(f->s, true, &rows, &n, &err), 0);
    assert_int_equal(n, 4);
    assert_int_equal(rows[0].id, live);
    assert_iso_utc(rows[0].revoked_at);
    assert_int_equal(rows[2].id, expired);
    assert_string_equal(rows[2].expires_at, "2001-01-01T00:00:00Z");
    assert_string_equal(rows[3].username, "off");
    assert_false(rows[3].user_active);
    wf_token_rows_free(rows, n);

    /* a hand-written expiry in another form is still honoured */
    exec_ok(f->s, "UPDATE api_tokens SET expires_at = '2002-02-02T02:02:02Z' WHERE id = 2");
    assert_int_equal(wf_store_token_list(f->s, false, &rows, &n, &err), 0);
    assert_int_equal(n, 0);
    wf_token_rows_free(rows, n);
}

static void test_revoke_hash_and_cascade(void **state)
{
    fixture *f = *state;
    wf_err err;
    wf_err_init(&err);
    int64_t u = add_user(f->s, "lo", "viewer");
    add_token(f->s, u, HASH_A, NULL);
    add_token(f->s, u, HASH_B, NULL);
    assert_int_equal(wf_store_token_revoke_hash(f->s, HASH_A, &err), 0);
    assert_int_equal(wf_store_token_revoke_hash(f->s, HASH_A, &err), WF_ERR_NOT_FOUND);
    assert_null(strstr(err.msg, HASH_A));
    assert_int_equal(wf_store_token_revoke_hash(f->s, HASH_C, &err), WF_ERR_NOT_FOUND);
    wf_token_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(wf_store_token_list(f->s, false, &rows, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].token_hash, HASH_B);
    wf_token_rows_free(rows, n);

    exec_ok(f->s, "DELETE FROM app_users WHERE username = 'lo'");
    char *left = side_query(f->path, "SELECT count(*) FROM api_tokens");
    assert_string_equal(left, "0");
    free(left);
}

/* ---- audit ---- */

static void audit(wf_store *s, int64_t actor_id, const char *actor, const char *action,
                  int64_t engine_id, const char *name, const char *fields)
{
    wf_audit_row a = {0,         NULL,         actor_id,      (char *)actor, (char *)action,
                      engine_id, (char *)name, (char *)fields};
    wf_err err;
    wf_err_init(&err);
    if (wf_store_audit_insert(s, &a, &err))
        fail_msg("audit_insert: %s", err.msg);
}

static void test_audit_order_limit_and_renames(void **state)
{
    fixture *f = *state;
    wf_err err;
    wf_err_init(&err);
    int64_t alice = add_user(f->s, "alice", "admin");
    audit(f->s, alice, "alice", "create", 7, "old-name", "[\"name\",\"api_url\"]");
    audit(f->s, 0, "cli", "update", 7, "new-name", "[\"name\"]");
    audit(f->s, 0, "cli", "update", 8, "other", "[\"active\"]");
    audit(f->s, alice, "alice", "delete", 7, "new-name", NULL);

    wf_audit_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(wf_store_audit_list(f->s, 7, NULL, 0, &rows, &n, &err), 0);
    assert_int_equal(n, 3); /* both names: the id is the engine */
    assert_string_equal(rows[0].action, "delete");
    assert_string_equal(rows[0].fields, "[]");
    assert_int_equal(rows[0].actor_id, alice);
    assert_string_equal(rows[1].engine_name, "new-name");
    assert_int_equal(rows[1].actor_id, 0);
    assert_string_equal(rows[1].actor, "cli");
    assert_string_equal(rows[2].action, "create");
    assert_string_equal(rows[2].engine_name, "old-name");
    assert_string_equal(rows[2].fields, "[\"name\",\"api_url\"]");
    assert_int_equal(rows[2].engine_id, 7);
    assert_iso_utc(rows[2].created_at);
    assert_true(rows[0].id > rows[1].id && rows[1].id > rows[2].id);
    wf_audit_rows_free(rows, n);

    assert_int_equal(wf_store_audit_list(f->s, 7, NULL, 2, &rows, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].action, "delete");
    wf_audit_rows_free(rows, n);

    assert_int_equal(wf_store_audit_list(f->s, 0, "new-name", 0, &rows, &n, &err), 0);
    assert_int_equal(n, 2);
    wf_audit_rows_free(rows, n);
    assert_int_equal(wf_store_audit_list(f->s, 0, "nothing", 0, &rows, &n, &err), 0);
    assert_int_equal(n, 0);
    wf_audit_rows_free(rows, n);

    /* actor 0 and engine 0 are stored as NULL; a deleted user leaves the history */
    char *v = side_query(f->path, "SELECT count(*) FROM audit_log WHERE actor_id IS NULL");
    assert_string_equal(v, "2");
    free(v);
    exec_ok(f->s, "DELETE FROM app_users WHERE username = 'alice'");
    v = side_query(f->path, "SELECT count(*) FROM audit_log WHERE actor_id IS NULL");
    assert_string_equal(v, "4");
    free(v);
}

static void test_audit_joins_the_transaction(void **state)
{
    fixture *f = *state;
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_store_begin(f->s, &err), 0);
    audit(f->s, 0, "cli", "create", 1, "gone", "[]");
    wf_store_rollback(f->s);
    char *v = side_query(f->path, "SELECT count(*) FROM audit_log");
    assert_string_equal(v, "0");
    free(v);

    assert_int_equal(wf_store_begin(f->s, &err), 0);
    audit(f->s, 0, "cli", "create", 1, "kept", "[]");
    assert_int_equal(wf_store_commit(f->s, &err), 0);
    v = side_query(f->path, "SELECT engine_name FROM audit_log");
    assert_string_equal(v, "kept");
    free(v);

    wf_audit_row bad = {0};
    bad.actor = "cli";
    assert_int_equal(wf_store_audit_insert(f->s, &bad, &err), WF_ERR_INVALID);
}

/* ---- data_version ---- */

static void test_data_version(void **state)
{
    fixture *f = *state;
    wf_err err;
    wf_err_init(&err);
    wf_store *other = NULL;
    assert_int_equal(wf_store_open(f->url, &other, &err), 0);
    int64_t v1 = 0, v2 = 0, v3 = 0, v4 = 0;
    assert_int_equal(wf_store_data_version(f->s, &v1, &err), 0);
    add_user(f->s, "self", "viewer");
    assert_int_equal(wf_store_data_version(f->s, &v2, &err), 0);
    if (fixture_is_pg())
        assert_true(v2 > v1); /* PostgreSQL counts every commit, ours too */
    else
        assert_int_equal(v1, v2); /* SQLite: our own commit leaves the number */
    add_user(other, "someone-else", "viewer");
    assert_int_equal(wf_store_data_version(f->s, &v3, &err), 0);
    assert_int_not_equal(v2, v3);
    /* a token is a change too (a login on another instance, a revocation) */
    int64_t id = 0;
    wf_user *u = NULL;
    assert_int_equal(wf_store_user_get(other, "self", &u, &err), 0);
    assert_int_equal(wf_store_token_insert(other, u->id, "session", NULL, HASH_A, NULL, &id, &err),
                     0);
    wf_user_free(u);
    assert_int_equal(wf_store_data_version(f->s, &v4, &err), 0);
    assert_int_not_equal(v3, v4);
    wf_store_close(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_users, fixture_setup_at_head, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_token_insert_errors_and_times, fixture_setup_at_head,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_token_list_filters, fixture_setup_at_head,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_revoke_hash_and_cascade, fixture_setup_at_head,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_audit_order_limit_and_renames, fixture_setup_at_head,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_audit_joins_the_transaction, fixture_setup_at_head,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_data_version, fixture_setup_at_head, fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
