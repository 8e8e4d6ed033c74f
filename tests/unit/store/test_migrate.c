/*
 * test_migrate.c: the migration runner on a real database, SQLite or PostgreSQL
 * (store_fixture.h): the embedded list, up from empty and again, up to a target, status,
 * the printed SQL (and that printing writes nothing), checksum refusal, verify, down
 * with its guard and targets, adopting a database made by the earlier Python system
 * (Alembic at 453c1befe40), and four instances migrating one database at once.
 */
#include "store/migrate.h"
#include "store/store.h"
#include "store_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>

#define NMIGRATIONS 4

static int setup(void **state)
{
    *state = fixture_new();
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    fixture_free(*state);
    return 0;
}

static wf_store *store_of(void **state)
{
    return ((fixture *)*state)->s;
}

static void up_ok(wf_store *s, const char *target, size_t expect_applied)
{
    wf_err err;
    size_t n = 99;
    wf_err_init(&err);
    int rc = wf_migrate_up(s, target, &n, &err);
    if (rc)
        fail_msg("migrate up: %s", err.msg);
    assert_int_equal(n, expect_applied);
}

static void exec_ok(wf_store *s, const char *sql)
{
    wf_err err;
    wf_err_init(&err);
    if (wf_store_exec(s, sql, &err))
        fail_msg("exec: %s", err.msg);
}

static bool table_exists(wf_store *s, const char *table)
{
    bool exists = false;
    assert_int_equal(wf_store_table_exists(s, table, &exists, NULL), 0);
    return exists;
}

static void assert_current(wf_store *s, const char *expect)
{
    char cur[32];
    assert_int_equal(wf_migrate_current(s, cur, NULL), 0);
    assert_string_equal(cur, expect);
}

static void add_engine(wf_store *s, const char *name)
{
    wf_engine *e = test_engine(name, NULL);
    assert_int_equal(wf_store_engine_insert(s, e, NULL, NULL), 0);
    wf_engine_free(e);
}

/* ---- the embedded list ---- */

static void test_embedded_list(void **state)
{
    (void)state;
    size_t n = 0;
    const wf_migration *m = wf_migrations(&n);
    assert_int_equal(n, NMIGRATIONS);
    assert_string_equal(m[0].version, "0001");
    assert_string_equal(m[0].name, "app_users");
    assert_string_equal(m[1].version, "0002");
    assert_string_equal(m[1].name, "workflow_engines");
    assert_string_equal(m[2].version, "0003");
    assert_string_equal(m[2].name, "auth_audit");
    assert_string_equal(m[3].version, "0004");
    assert_string_equal(m[3].name, "change_version");
    for (size_t i = 0; i < n; i++) {
        assert_non_null(m[i].sqlite_up);
        assert_non_null(m[i].sqlite_down);
        assert_non_null(m[i].pg_up);
        assert_non_null(m[i].pg_down);
        if (i > 0)
            assert_true(strcmp(m[i - 1].version, m[i].version) < 0);
    }
    assert_non_null(strstr(m[1].pg_up, "id SERIAL PRIMARY KEY"));
    assert_non_null(strstr(m[1].pg_up, "config JSONB DEFAULT '{}'"));
    assert_non_null(strstr(m[1].pg_down, "DROP TABLE IF EXISTS workflow_engines CASCADE"));
    assert_non_null(strstr(m[2].sqlite_up, "token_hash CHAR(64) NOT NULL UNIQUE"));
    assert_non_null(strstr(m[2].pg_up, "ON DELETE SET NULL"));
    assert_non_null(strstr(m[3].pg_up, "pg_notify('wfreg_changes'"));
    assert_string_equal(wf_migrate_head(), "0004");
}

/* ---- up ---- */

static void test_up_from_empty_and_again(void **state)
{
    wf_store *s = store_of(state);
    bool at_head = true;
    assert_int_equal(wf_migrate_is_at_head(s, &at_head, NULL), 0);
    assert_false(at_head);
    assert_current(s, "");

    up_ok(s, NULL, NMIGRATIONS);
    assert_true(table_exists(s, "app_users"));
    assert_true(table_exists(s, "workflow_engines"));
    assert_true(table_exists(s, "api_tokens"));
    assert_true(table_exists(s, "audit_log"));
    assert_true(table_exists(s, "wfreg_state"));
    assert_true(table_exists(s, "wfreg_migrations"));
    assert_current(s, "0004");
    assert_int_equal(wf_migrate_is_at_head(s, &at_head, NULL), 0);
    assert_true(at_head);

    up_ok(s, NULL, 0); /* idempotent */
    up_ok(s, "head", 0);
}

static void test_up_to_target(void **state)
{
    wf_store *s = store_of(state);
    up_ok(s, "0001", 1);
    assert_true(table_exists(s, "app_users"));
    assert_false(table_exists(s, "workflow_engines"));
    assert_current(s, "0001");
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_migrate_up(s, "0009", NULL, &err), WF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "0009"));
    up_ok(s, "workflow_engines", 1); /* a name works too */
    assert_current(s, "0002");
    assert_false(table_exists(s, "audit_log"));
    up_ok(s, NULL, 2);
    assert_current(s, "0004");
}

static void test_up_memory(void **state)
{
    (void)state;
    if (fixture_is_pg())
        skip();
    wf_store *s = NULL;
    assert_int_equal(wf_store_open("sqlite::memory:", &s, NULL), 0);
    up_ok(s, NULL, NMIGRATIONS);
    wf_store_close(s);
}

static void test_status(void **state)
{
    wf_store *s = store_of(state);
    wf_migration_state *st = NULL;
    size_t n = 0;
    assert_int_equal(wf_migrate_status(s, &st, &n, NULL), 0);
    assert_int_equal(n, NMIGRATIONS);
    assert_false(st[0].is_applied);
    assert_true(st[0].is_known);
    free(st);

    up_ok(s, "0001", 1);
    assert_int_equal(wf_migrate_status(s, &st, &n, NULL), 0);
    assert_int_equal(n, NMIGRATIONS);
    assert_string_equal(st[0].version, "0001");
    assert_string_equal(st[0].name, "app_users");
    assert_true(st[0].is_applied);
    assert_true(st[0].checksum_matches);
    assert_int_equal(strlen(st[0].applied_at), 20);
    assert_int_equal(st[0].applied_at[19], 'Z');
    assert_false(st[1].is_applied);
    free(st);

    /* a row from a newer wfreg */
    exec_ok(s, "INSERT INTO wfreg_migrations (version, name, checksum)"
               " VALUES ('0099', 'future', 'abc')");
    assert_int_equal(wf_migrate_status(s, &st, &n, NULL), 0);
    assert_int_equal(n, NMIGRATIONS + 1);
    assert_string_equal(st[NMIGRATIONS].version, "0099");
    assert_string_equal(st[NMIGRATIONS].name, "future");
    assert_false(st[NMIGRATIONS].is_known);
    assert_true(st[NMIGRATIONS].is_applied);
    free(st);
}

/* ---- up --sql ---- */

static void test_up_sql(void **state)
{
    fixture *f = *state;
    wf_buf b = WF_BUF_INIT;
    assert_int_equal(wf_migrate_up_sql(f->s, NULL, &b, NULL), 0);
    const char *sql = wf_buf_cstr(&b);
    const char *want[] = {"BEGIN;",
                          "COMMIT;",
                          "CREATE TABLE IF NOT EXISTS wfreg_migrations",
                          "CREATE TABLE IF NOT EXISTS app_users",
                          "CREATE TABLE IF NOT EXISTS workflow_engines",
                          "ix_workflow_engines_id",
                          "ix_workflow_engines_name",
                          "ix_workflow_engines_engine_type",
                          "ix_workflow_engines_active",
                          "VALUES ('0001', 'app_users', '",
                          "VALUES ('0002', 'workflow_engines', '",
                          "CREATE TABLE IF NOT EXISTS api_tokens",
                          "CREATE TABLE IF NOT EXISTS audit_log",
                          "ix_api_tokens_user_id",
                          "ix_audit_log_engine_id",
                          "ix_audit_log_engine_name",
                          "VALUES ('0003', 'auth_audit', '",
                          "CREATE TABLE IF NOT EXISTS wfreg_state",
                          "VALUES ('0004', 'change_version', '"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (!strstr(sql, want[i]))
            fail_msg("up --sql lacks \"%s\"", want[i]);
    }
    assert_true(strstr(sql, "BEGIN;") < strstr(sql, "COMMIT;"));
    /* PostgreSQL: under the lock the instances take, right after BEGIN */
    const char *lock = strstr(sql, "SELECT pg_advisory_xact_lock(");
    if (fixture_is_pg())
        assert_true(lock && lock < strstr(sql, "CREATE TABLE IF NOT EXISTS wfreg_migrations"));
    else
        assert_null(lock);
    /* it wrote nothing */
    assert_false(table_exists(f->s, "wfreg_migrations"));
    assert_false(table_exists(f->s, "workflow_engines"));
    assert_current(f->s, "");

    /* what a DBA would run by hand leaves the database exactly at head */
    exec_ok(f->s, sql);
    wf_buf_free(&b);
    bool at_head = false;
    assert_int_equal(wf_migrate_is_at_head(f->s, &at_head, NULL), 0);
    assert_true(at_head);
    up_ok(f->s, NULL, 0);

    wf_buf_init(&b);
    assert_int_equal(wf_migrate_up_sql(f->s, NULL, &b, NULL), 0);
    assert_non_null(strstr(wf_buf_cstr(&b), "nothing to apply"));
    assert_null(strstr(wf_buf_cstr(&b), "BEGIN;"));
    wf_buf_free(&b);
}

static void test_up_sql_partial(void **state)
{
    wf_store *s = store_of(state);
    up_ok(s, "0001", 1);
    wf_buf b = WF_BUF_INIT;
    assert_int_equal(wf_migrate_up_sql(s, NULL, &b, NULL), 0);
    assert_null(strstr(wf_buf_cstr(&b), "'0001'"));
    assert_non_null(strstr(wf_buf_cstr(&b), "'0002'"));
    wf_buf_free(&b);
}

/* ---- checksums ---- */

static void test_checksum_refusal(void **state)
{
    wf_store *s = store_of(state);
    up_ok(s, NULL, NMIGRATIONS);
    exec_ok(s, "UPDATE wfreg_migrations SET checksum = 'x' WHERE version = '0002'");
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_migrate_up(s, NULL, NULL, &err), WF_ERR_DB);
    assert_string_equal(err.msg, "migration 0002 (workflow_engines) was applied with a "
                                 "different script: checksum mismatch");
    wf_buf b = WF_BUF_INIT;
    wf_err_init(&err);
    assert_int_equal(wf_migrate_up_sql(s, NULL, &b, &err), WF_ERR_DB);
    wf_buf_free(&b);
    bool at_head = true;
    assert_int_equal(wf_migrate_is_at_head(s, &at_head, NULL), 0);
    assert_false(at_head);
    wf_buf_init(&b);
    assert_int_equal(wf_migrate_verify(s, &b, NULL), WF_ERR_DB);
    assert_non_null(strstr(wf_buf_cstr(&b), "FAIL migration 0002 (workflow_engines)"));
    wf_buf_free(&b);
}

/* ---- verify ---- */

static void test_verify_ok(void **state)
{
    wf_store *s = store_of(state);
    up_ok(s, NULL, NMIGRATIONS);
    wf_buf b = WF_BUF_INIT;
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_migrate_verify(s, &b, &err), 0);
    const char *r = wf_buf_cstr(&b);
    assert_null(strstr(r, "FAIL"));
    assert_non_null(strstr(r, "ok   table workflow_engines\n"));
    assert_non_null(strstr(r, "ok   column workflow_engines.api_key_encrypted\n"));
    assert_non_null(strstr(r, "ok   index ix_workflow_engines_active\n"));
    assert_non_null(strstr(r, "ok   schema version at head 0004\n"));
    assert_non_null(strstr(r, "ok   index ix_workflow_engines_name is UNIQUE\n"));
    assert_non_null(strstr(r, "ok   column wfreg_state.version\n"));
    assert_non_null(strstr(r, "ok   table api_tokens\n"));
    assert_non_null(strstr(r, "ok   column api_tokens.token_hash\n"));
    assert_non_null(strstr(r, "ok   index ix_api_tokens_user_id\n"));
    assert_non_null(strstr(r, "ok   table audit_log\n"));
    assert_non_null(strstr(r, "ok   column audit_log.fields\n"));
    assert_non_null(strstr(r, "ok   index ix_audit_log_engine_id\n"));
    assert_non_null(strstr(r, "ok   index ix_audit_log_engine_name\n"));
    wf_buf_free(&b);
}

static void test_verify_empty(void **state)
{
    wf_buf b = WF_BUF_INIT;
    assert_int_equal(wf_migrate_verify(store_of(state), &b, NULL), WF_ERR_DB);
    assert_non_null(strstr(wf_buf_cstr(&b), "FAIL table workflow_engines missing"));
    assert_non_null(strstr(wf_buf_cstr(&b), "FAIL migration 0001 (app_users) not applied"));
    wf_buf_free(&b);
}

static void test_verify_missing_index(void **state)
{
    wf_store *s = store_of(state);
    up_ok(s, NULL, NMIGRATIONS);
    exec_ok(s, "DROP INDEX ix_workflow_engines_active");
    wf_buf b = WF_BUF_INIT;
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_migrate_verify(s, &b, &err), WF_ERR_DB);
    assert_non_null(strstr(wf_buf_cstr(&b), "FAIL index ix_workflow_engines_active missing\n"));
    assert_non_null(strstr(wf_buf_cstr(&b), "ok   index ix_workflow_engines_name\n"));
    assert_non_null(strstr(err.msg, "1 of"));
    wf_buf_free(&b);
}

static void test_verify_missing_column(void **state)
{
    wf_store *s = store_of(state);
    up_ok(s, NULL, NMIGRATIONS);
    exec_ok(s, "ALTER TABLE workflow_engines DROP COLUMN config");
    wf_buf b = WF_BUF_INIT;
    assert_int_equal(wf_migrate_verify(s, &b, NULL), WF_ERR_DB);
    assert_non_null(strstr(wf_buf_cstr(&b), "FAIL column workflow_engines.config missing\n"));
    wf_buf_free(&b);
}

/* ---- down ---- */

static void test_down_guard_and_force(void **state)
{
    wf_store *s = store_of(state);
    up_ok(s, NULL, NMIGRATIONS);
    add_engine(s, "keep-me");
    add_engine(s, "me-too");
    wf_err err;
    size_t n = 99;
    wf_err_init(&err);
    /* the newest migrations (the change counter, tokens and audit) go without a guard */
    assert_int_equal(wf_migrate_down(s, NULL, false, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_false(table_exists(s, "wfreg_state"));
    assert_current(s, "0003");
    assert_int_equal(wf_migrate_down(s, NULL, false, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_false(table_exists(s, "audit_log"));
    assert_current(s, "0002");
    n = 99;
    assert_int_equal(wf_migrate_down(s, NULL, false, &n, &err), WF_ERR_CONFLICT);
    assert_string_equal(err.msg, "workflow_engines holds 2 engines; use --force to drop them");
    assert_int_equal(n, 0);
    assert_true(table_exists(s, "workflow_engines"));
    assert_current(s, "0002");

    assert_int_equal(wf_migrate_down(s, NULL, true, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_false(table_exists(s, "workflow_engines"));
    assert_true(table_exists(s, "app_users"));
    assert_current(s, "0001");
}

static void test_down_targets(void **state)
{
    wf_store *s = store_of(state);
    size_t n = 99;
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_migrate_down(s, NULL, false, &n, NULL), 0); /* nothing applied */
    assert_int_equal(n, 0);

    up_ok(s, NULL, NMIGRATIONS);
    assert_int_equal(wf_migrate_down(s, "0007", false, &n, &err), WF_ERR_NOT_FOUND);
    assert_int_equal(wf_migrate_down(s, "0001", false, &n, NULL), 0);
    assert_int_equal(n, NMIGRATIONS - 1);
    assert_current(s, "0001");
    assert_int_equal(wf_migrate_down(s, "0001", false, &n, NULL), 0); /* already there */
    assert_int_equal(n, 0);

    up_ok(s, NULL, NMIGRATIONS - 1);
    assert_int_equal(wf_migrate_down(s, "base", false, &n, NULL), 0);
    assert_int_equal(n, NMIGRATIONS);
    assert_current(s, "");
    assert_false(table_exists(s, "app_users"));
    assert_false(table_exists(s, "api_tokens"));
    assert_false(table_exists(s, "wfreg_state"));

    up_ok(s, NULL, NMIGRATIONS);
    assert_int_equal(wf_migrate_down(s, "0000", false, &n, NULL), 0);
    assert_int_equal(n, NMIGRATIONS);
    up_ok(s, NULL, NMIGRATIONS); /* and back up again */
}

static void test_down_unknown_applied(void **state)
{
    wf_store *s = store_of(state);
    up_ok(s, NULL, NMIGRATIONS);
    exec_ok(s, "INSERT INTO wfreg_migrations (version, name, checksum)"
               " VALUES ('0099', 'future', 'abc')");
    wf_err err;
    wf_err_init(&err);
    assert_int_equal(wf_migrate_down(s, NULL, false, NULL, &err), WF_ERR_DB);
    assert_non_null(strstr(err.msg, "0099"));
    assert_current(s, "0099");
}

/* ---- adopting the Python system's database ---- */

/* The deployment checklist's DDL in SQLite's types, as SQLAlchemy would have made it,
 * plus Alembic's version table and one row written the Python way. */
static const char PYTHON_DB[] =
    "CREATE TABLE app_users (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  username VARCHAR(255) NOT NULL UNIQUE, password_hash TEXT NOT NULL,"
    "  role VARCHAR(20) NOT NULL DEFAULT 'viewer', active BOOLEAN NOT NULL DEFAULT 1,"
    "  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,"
    "  updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);"
    "CREATE TABLE workflow_engines (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  name VARCHAR(255) NOT NULL UNIQUE, engine_type VARCHAR(50) NOT NULL,"
    "  api_url VARCHAR(500) NOT NULL, api_key_encrypted TEXT,"
    "  active BOOLEAN NOT NULL DEFAULT 1, config TEXT DEFAULT '{}',"
    "  created_by INTEGER REFERENCES app_users(id),"
    "  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,"
    "  updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);"
    "CREATE INDEX ix_workflow_engines_id ON workflow_engines(id);"
    "CREATE UNIQUE INDEX ix_workflow_engines_name ON workflow_engines(name);"
    "CREATE INDEX ix_workflow_engines_engine_type ON workflow_engines(engine_type);"
    "CREATE INDEX ix_workflow_engines_active ON workflow_engines(active);"
    "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);"
    "INSERT INTO alembic_version VALUES ('453c1befe40');"
    "INSERT INTO app_users (username, password_hash, role) VALUES ('admin', 'x', 'admin');"
    "INSERT INTO workflow_engines (name, engine_type, api_url, api_key_encrypted, active,"
    "  config, created_by, created_at, updated_at) VALUES ('Legacy N8N', 'n8n',"
    "  'http://n8n:5678', 'gAAAAAlegacy', 1, '{\"workspace\": \"x\"}', 1,"
    "  '2025-01-02 03:04:05.123456', '2025-01-02 03:04:05.123456');";

/* The file as a new string (free() it). */
static char *read_text(const char *path)
{
    FILE *fp = fopen(path, "r");
    char *text = NULL;
    long len;
    if (fp && fseek(fp, 0, SEEK_END) == 0 && (len = ftell(fp)) >= 0 &&
        fseek(fp, 0, SEEK_SET) == 0 && (text = calloc(1, (size_t)len + 1)) &&
        fread(text, 1, (size_t)len, fp) != (size_t)len) {
        free(text);
        text = NULL;
    }
    if (fp)
        fclose(fp);
    return text;
}

static void adopt_sqlite(fixture *f)
{
    exec_ok(f->s, PYTHON_DB);
    up_ok(f->s, NULL, NMIGRATIONS);

    wf_engine *g = NULL;
    assert_int_equal(wf_store_engine_get(f->s, "Legacy N8N", &g, NULL), 0);
    assert_string_equal(g->created_at, "2025-01-02T03:04:05Z");
    assert_string_equal(g->api_key_encrypted, "gAAAAAlegacy");
    assert_string_equal(g->config, "{\"workspace\": \"x\"}");
    assert_int_equal(g->created_by, 1);
    assert_int_equal(g->key_status, WF_KEY_UNCHECKED);
    wf_engine_free(g);
}

/* tests/data/python-era.pg.sql: the checklist's DDL verbatim, an app_users without
 * wfreg's columns, engines with Fernet tokens made by Python. */
static void adopt_pg(fixture *f)
{
    char path[1024];
    const char *data = getenv("WF_TEST_DATA");
    snprintf(path, sizeof path, "%s/python-era.pg.sql", data ? data : "tests/data");
    char *sql = read_text(path);
    if (!sql)
        fail_msg("cannot read %s", path);
    exec_ok(f->s, sql);
    free(sql);
    char *before = side_query(f->path, "SELECT group_concat(name || '=' || api_key_encrypted)"
                                       " FROM (SELECT * FROM workflow_engines ORDER BY id) e");
    up_ok(f->s, NULL, NMIGRATIONS);
    char *after = side_query(f->path, "SELECT group_concat(name || '=' || api_key_encrypted)"
                                      " FROM (SELECT * FROM workflow_engines ORDER BY id) e");
    assert_string_equal(after, before); /* nothing rewritten */
    free(before);
    free(after);

    wf_engine *g = NULL;
    assert_int_equal(wf_store_engine_get(f->s, "n8n-prod", &g, NULL), 0);
    assert_string_equal(g->created_at, "2024-11-05T08:00:00Z");
    assert_string_equal(g->updated_at, "2024-11-06T12:30:45Z");
    assert_memory_equal(g->api_key_encrypted, "gAAAAAB", 7);
    assert_true(json_same(g->config, "{\"timeout_ms\": 5000}"));
    assert_int_equal(g->created_by, 1);
    wf_engine_free(g);
    assert_int_equal(wf_store_engine_get(f->s, "Prefect Cloud", &g, NULL), 0);
    assert_string_equal(g->config, "{}"); /* NULL */
    wf_engine_free(g);

    /* the Python system's users: kept, with wfreg's columns added, unable to log in */
    wf_user *u = NULL;
    assert_int_equal(wf_store_user_get(f->s, "ops", &u, NULL), 0);
    assert_int_equal(u->id, 1);
    assert_string_equal(u->password_hash, "");
    assert_string_equal(u->role, "viewer");
    assert_string_equal(u->created_at, "2024-11-03T09:15:00Z");
    wf_user_free(u);
    char *kept = side_query(f->path, "SELECT count(*) FROM app_users"
                                     " WHERE hashed_password LIKE '$2b$%'");
    assert_string_equal(kept, "2");
    free(kept);
    /* and wfreg can add its own, although hashed_password was NOT NULL */
    wf_err err;
    wf_err_init(&err);
    if (wf_store_user_insert(f->s, "admin", "$argon2id$x", "admin", NULL, &err))
        fail_msg("user_insert: %s", err.msg);
}

static void test_adopt_python_database(void **state)
{
    fixture *f = *state;
    if (fixture_is_pg())
        adopt_pg(f);
    else
        adopt_sqlite(f);
    char *v = side_query(f->path, "SELECT group_concat(version_num) FROM alembic_version");
    assert_string_equal(v, "453c1befe40");
    free(v);

    wf_buf b = WF_BUF_INIT;
    wf_err err;
    wf_err_init(&err);
    if (wf_migrate_verify(f->s, &b, &err))
        fail_msg("verify: %s\n%s", err.msg, wf_buf_cstr(&b));
    wf_buf_free(&b);
    up_ok(f->s, NULL, 0);
}

static void test_two_connections(void **state)
{
    fixture *f = *state;
    wf_store *other = NULL;
    assert_int_equal(wf_store_open(f->url, &other, NULL), 0);
    up_ok(f->s, NULL, NMIGRATIONS);
    up_ok(other, NULL, 0);
    wf_store_close(other);
}

/* ---- instances starting at once ---- */

typedef struct racer {
    const char *url;
    pthread_barrier_t *start;
    size_t applied;
    int rc;
    char msg[WF_ERR_MSG_MAX];
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    wf_store *s = NULL;
    wf_err err;
    wf_err_init(&err);
    pthread_barrier_wait(r->start);
    r->rc = wf_store_open(r->url, &s, &err);
    if (r->rc == 0)
        r->rc = wf_migrate_up(s, NULL, &r->applied, &err);
    snprintf(r->msg, sizeof r->msg, "%s", err.msg);
    wf_store_close(s);
    return NULL;
}

/* Four instances migrate an empty database at once: all succeed, each migration runs
 * exactly once (under the backend's write lock, re-checked once held). */
static void test_concurrent_up(void **state)
{
    fixture *f = *state;
    enum { N = 4 };
    pthread_t th[N];
    racer r[N];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, N);
    for (int i = 0; i < N; i++) {
        r[i] = (racer){.url = f->url, .start = &start};
        assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
    }
    size_t total = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        if (r[i].rc)
            fail_msg("instance %d: %s", i, r[i].msg);
        total += r[i].applied;
    }
    pthread_barrier_destroy(&start);
    assert_int_equal(total, NMIGRATIONS);
    char *n = side_query(f->path, "SELECT count(*) FROM wfreg_migrations");
    assert_string_equal(n, "4");
    free(n);
    assert_current(f->s, "0004");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedded_list),
        cmocka_unit_test_setup_teardown(test_up_from_empty_and_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_up_to_target, setup, teardown),
        cmocka_unit_test(test_up_memory),
        cmocka_unit_test_setup_teardown(test_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_up_sql, setup, teardown),
        cmocka_unit_test_setup_teardown(test_up_sql_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checksum_refusal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_missing_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_missing_column, setup, teardown),
        cmocka_unit_test_setup_teardown(test_down_guard_and_force, setup, teardown),
        cmocka_unit_test_setup_teardown(test_down_targets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_down_unknown_applied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_adopt_python_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_up, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
