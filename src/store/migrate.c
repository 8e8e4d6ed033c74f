/*
 * migrate.c: the schema migration runner. The scripts live in store/migrations as
 * NNNN_name.{sqlite,pg}.{up,down}.sql and are embedded at build time (core/embed.h);
 * this file turns their file names into the ordered wf_migration list, and applies,
 * reverts, prints and verifies them through the store interface only, so it works the
 * same on every backend (each picks its dialect's scripts).
 *
 * The database records what it has applied in wfreg_migrations (version, name, the
 * SHA-256 of the up script, applied_at). A script edited after it was applied is
 * refused by up: the database would no longer match what the file says. An Alembic
 * alembic_version table left by the earlier Python system is never read or written.
 *
 * Each migration runs in its own transaction together with its version row, and checks
 * again that it is still pending once it holds the write lock, so that two instances
 * starting at once cannot both apply it. The lock is the backend's: SQLite's BEGIN
 * IMMEDIATE, PostgreSQL's pg_advisory_xact_lock taken by wf_store_begin (postgres.c).
 * Creating the version table takes it too: two concurrent CREATE TABLE IF NOT EXISTS
 * can collide on PostgreSQL.
 */
#include "migrate.h"
#include "../core/embed.h"
#include "../crypto/hash.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The version table: the same DDL on SQLite and PostgreSQL. */
static const char VERSION_TABLE_DDL[] =
    "CREATE TABLE IF NOT EXISTS wfreg_migrations (\n"
    "  version TEXT PRIMARY KEY,\n"
    "  name TEXT NOT NULL,\n"
    "  checksum TEXT NOT NULL,\n"
    "  applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP\n"
    ");\n";

/* ---- what the migrations create ------------------------------------------------------
 * verify checks the database against this table, and down uses it to know which
 * migration drops workflow_engines. It MUST change with the scripts in migrations/:
 * a column or an index added there is a name added here. */

static const char *const app_users_columns[] = {"id",     "username",   "password_hash", "role",
                                                "active", "created_at", "updated_at",    NULL};
static const char *const app_users_indexes[] = {"ix_app_users_username", NULL};
static const char *const app_users_unique[] = {"ix_app_users_username", NULL};

static const char *const workflow_engines_columns[] = {
    "id",         "name",       "engine_type", "api_url", "api_key_encrypted", "active", "config",
    "created_by", "created_at", "updated_at",  NULL};
static const char *const workflow_engines_indexes[] = {
    "ix_workflow_engines_id", "ix_workflow_engines_name", "ix_workflow_engines_engine_type",
    "ix_workflow_engines_active", NULL};
static const char *const workflow_engines_unique[] = {"ix_workflow_engines_name", NULL};

static const char *const api_tokens_columns[] = {
    "id", "user_id", "kind", "label", "token_hash", "created_at", "expires_at", "revoked_at", NULL};
static const char *const api_tokens_indexes[] = {"ix_api_tokens_user_id", NULL};

static const char *const audit_log_columns[] = {
    "id", "created_at", "actor_id", "actor", "action", "engine_id", "engine_name", "fields", NULL};
static const char *const audit_log_indexes[] = {"ix_audit_log_engine_id",
                                                "ix_audit_log_engine_name", NULL};
static const char *const wfreg_state_columns[] = {"id", "version", NULL};
static const char *const none[] = {NULL};

static const struct expected_table {
    const char *version; /* the migration that creates the table */
    const char *table;
    const char *const *columns;
    const char *const *indexes;
    const char *const *unique; /* those of indexes that must be UNIQUE */
} expected_tables[] = {
    {"0001", "app_users", app_users_columns, app_users_indexes, app_users_unique},
    {"0002", "workflow_engines", workflow_engines_columns, workflow_engines_indexes,
     workflow_engines_unique},
    {"0003", "api_tokens", api_tokens_columns, api_tokens_indexes, none},
    {"0003", "audit_log", audit_log_columns, audit_log_indexes, none},
    {"0004", "wfreg_state", wfreg_state_columns, none, none},
};

#define ENGINES_TABLE "workflow_engines"

/* ---- the embedded list ------------------------------------------------------------- */

typedef struct parsed_name {
    char version[16];
    char name[64];
} parsed_name;

static wf_migration *g_list;
static parsed_name *g_names; /* g_list[i].version and .name point here */
static size_t g_count;
static bool g_failed;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* Splits "NNNN_name.dialect.direction.sql"; *slot says which script of the migration the
 * file is (0 sqlite up, 1 sqlite down, 2 pg up, 3 pg down). False for any other name. */
static bool parse_file_name(const char *file, parsed_name *p, int *slot)
{
    static const char *const suffixes[] = {"sqlite.up.sql", "sqlite.down.sql", "pg.up.sql",
                                           "pg.down.sql"};
    size_t vlen = strspn(file, "0123456789");
    if (vlen == 0 || vlen >= sizeof p->version || file[vlen] != '_')
        return false;
    const char *name = file + vlen + 1;
    size_t nlen = strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_");
    if (nlen == 0 || nlen >= sizeof p->name || name[nlen] != '.')
        return false;
    for (*slot = 0; *slot < 4; (*slot)++) {
        if (!strcmp(name + nlen + 1, suffixes[*slot]))
            break;
    }
    if (*slot == 4)
        return false;
    memcpy(p->version, file, vlen);
    p->version[vlen] = '\0';
    memcpy(p->name, name, nlen);
    p->name[nlen] = '\0';
    return true;
}

/* Files are sorted by name, so the four scripts of one migration are neighbours. */
static void build_list(void)
{
    size_t max = wf_embed_migrations_count;
    g_list = calloc(max + 1, sizeof *g_list);
    g_names = calloc(max + 1, sizeof *g_names);
    if (!g_list || !g_names) {
        g_failed = true;
        return;
    }
    for (size_t i = 0; i < max; i++) {
        const wf_embedded_file *f = &wf_embed_migrations[i];
        parsed_name p;
        int slot;
        if (!parse_file_name(f->name, &p, &slot))
            continue; /* a README or the like */
        if (g_count == 0 || strcmp(g_names[g_count - 1].version, p.version) ||
            strcmp(g_names[g_count - 1].name, p.name)) {
            g_names[g_count] = p;
            g_list[g_count].version = g_names[g_count].version;
            g_list[g_count].name = g_names[g_count].name;
            g_count++;
        }
        wf_migration *m = &g_list[g_count - 1];
        const char **scripts[] = {&m->sqlite_up, &m->sqlite_down, &m->pg_up, &m->pg_down};
        *scripts[slot] = (const char *)f->data;
    }
}

static int load_list(const wf_migration **list, size_t *n, wf_err *err)
{
    pthread_once(&g_once, build_list);
    if (g_failed)
        return wf_err_set(err, WF_ERR_NOMEM, "migrate: out of memory reading the migrations");
    *list = g_list;
    *n = g_count;
    return 0;
}

const wf_migration *wf_migrations(size_t *n)
{
    const wf_migration *list = NULL;
    *n = 0;
    if (load_list(&list, n, NULL))
        return NULL;
    return list;
}

const char *wf_migrate_head(void)
{
    size_t n;
    const wf_migration *list = wf_migrations(&n);
    return n ? list[n - 1].version : "";
}

/* ---- helpers ----------------------------------------------------------------------- */

static const char *script_of(const wf_migration *m, const char *dialect, bool up)
{
    if (!strcmp(dialect, "pg"))
        return up ? m->pg_up : m->pg_down;
    return up ? m->sqlite_up : m->sqlite_down;
}

/* Versions compare as numbers: "2" and "0002" are the same version. */
static int version_cmp(const char *a, const char *b)
{
    while (*a == '0' && a[1])
        a++;
    while (*b == '0' && b[1])
        b++;
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return la < lb ? -1 : 1;
    return strcmp(a, b);
}

static bool is_base(const char *target)
{
    return !strcmp(target, "base") || (target[0] && strspn(target, "0") == strlen(target));
}

/* What the runner knows: the embedded list, the applied rows, the store's dialect. */
typedef struct plan {
    const wf_migration *list;
    size_t n;
    wf_migration_row *rows; /* ordered by version */
    size_t nrows;
    const char *dialect;
} plan;

static int plan_load(wf_store *s, plan *p, wf_err *err)
{
    memset(p, 0, sizeof *p);
    p->dialect = wf_store_dialect(s);
    int rc = load_list(&p->list, &p->n, err);
    if (rc == 0)
        rc = wf_store_migrations_applied(s, &p->rows, &p->nrows, err);
    return rc;
}

static void plan_free(plan *p)
{
    wf_migration_rows_free(p->rows, p->nrows);
    p->rows = NULL;
    p->nrows = 0;
}

static const wf_migration_row *plan_row(const plan *p, const char *version)
{
    for (size_t i = 0; i < p->nrows; i++) {
        if (!version_cmp(p->rows[i].version, version))
            return &p->rows[i];
    }
    return NULL;
}

static const wf_migration *plan_find(const plan *p, const char *version_or_name)
{
    bool is_number = strspn(version_or_name, "0123456789") == strlen(version_or_name);
    for (size_t i = 0; i < p->n; i++) {
        if ((is_number && !version_cmp(p->list[i].version, version_or_name)) ||
            !strcmp(p->list[i].name, version_or_name))
            return &p->list[i];
    }
    return NULL;
}

/* Whether the applied script of m (row) is the one embedded now. A migration without a
 * script for this dialect cannot have been applied by wfreg: it counts as matching. */
static bool checksum_matches(const plan *p, const wf_migration *m, const wf_migration_row *row)
{
    const char *script = script_of(m, p->dialect, true);
    char sum[65];
    if (!script)
        return true;
    wf_sha256_hex(script, strlen(script), sum);
    return !strcmp(row->checksum, sum);
}

static int check_checksums(const plan *p, wf_err *err)
{
    for (size_t i = 0; i < p->n; i++) {
        const wf_migration_row *row = plan_row(p, p->list[i].version);
        if (row && !checksum_matches(p, &p->list[i], row))
            return wf_err_set(err, WF_ERR_DB,
                              "migration %s (%s) was applied with a different script: "
                              "checksum mismatch",
                              p->list[i].version, p->list[i].name);
    }
    return 0;
}

/* How many migrations from the start of the list up to target: n for NULL or "head",
 * 0 for "base" (or "0000"), else up to and including the version or name given. */
static int resolve_target(const plan *p, const char *target, size_t *end, wf_err *err)
{
    if (!target || !strcmp(target, "head")) {
        *end = p->n;
        return 0;
    }
    if (is_base(target)) {
        *end = 0;
        return 0;
    }
    const wf_migration *m = plan_find(p, target);
    if (!m)
        return wf_err_set(err, WF_ERR_NOT_FOUND, "migration '%.64s': no such version (head is %s)",
                          target, p->n ? p->list[p->n - 1].version : "none");
    *end = (size_t)(m - p->list) + 1;
    return 0;
}

static void migration_label(const wf_migration *m, char *out, size_t cap)
{
    snprintf(out, cap, "migration %s (%s)", m->version, m->name);
}

/* ---- status ------------------------------------------------------------------------ */

static void fill_state(wf_migration_state *st, const wf_migration_row *row)
{
    st->is_applied = row != NULL;
    snprintf(st->applied_at, sizeof st->applied_at, "%s",
             row && row->applied_at ? row->applied_at : "");
}

int wf_migrate_status(wf_store *s, wf_migration_state **out, size_t *n, wf_err *err)
{
    plan p;
    size_t nunknown = 0, text = 0;
    *out = NULL;
    *n = 0;
    int rc = plan_load(s, &p, err);
    if (rc)
        goto done;
    for (size_t i = 0; i < p.nrows; i++) {
        if (!plan_find(&p, p.rows[i].version)) {
            nunknown++;
            text += strlen(p.rows[i].version) + strlen(p.rows[i].name) + 2;
        }
    }
    /* one block: the states, then the text of unknown rows, so one free() releases all */
    size_t total = p.n + nunknown;
    wf_migration_state *v = calloc(1, total * sizeof *v + text + 1);
    if (!v) {
        rc = wf_err_set(err, WF_ERR_NOMEM, "migrate: out of memory");
        goto done;
    }
    char *tail = (char *)(v + total);
    for (size_t i = 0; i < p.n; i++) {
        const wf_migration_row *row = plan_row(&p, p.list[i].version);
        v[i].version = p.list[i].version;
        v[i].name = p.list[i].name;
        v[i].is_known = true;
        v[i].checksum_matches = row && checksum_matches(&p, &p.list[i], row);
        fill_state(&v[i], row);
    }
    for (size_t i = 0, k = p.n; i < p.nrows; i++) {
        if (plan_find(&p, p.rows[i].version))
            continue;
        v[k].version = tail;
        tail = stpcpy(tail, p.rows[i].version) + 1;
        v[k].name = tail;
        tail = stpcpy(tail, p.rows[i].name) + 1;
        fill_state(&v[k++], &p.rows[i]);
    }
    *out = v;
    *n = total;
done:
    plan_free(&p);
    return rc;
}

int wf_migrate_current(wf_store *s, char out[32], wf_err *err)
{
    wf_migration_row *rows = NULL;
    size_t n = 0;
    out[0] = '\0';
    int rc = wf_store_migrations_applied(s, &rows, &n, err);
    if (rc == 0 && n > 0)
        snprintf(out, 32, "%s", rows[n - 1].version); /* rows are ordered by version */
    wf_migration_rows_free(rows, n);
    return rc;
}

int wf_migrate_find_mismatch(wf_store *s, char out[WF_MIGRATE_LABEL_MAX], wf_err *err)
{
    plan p;
    out[0] = '\0';
    int rc = plan_load(s, &p, err);
    for (size_t i = 0; rc == 0 && i < p.n && !out[0]; i++) {
        const wf_migration_row *row = plan_row(&p, p.list[i].version);
        if (row && !checksum_matches(&p, &p.list[i], row))
            snprintf(out, WF_MIGRATE_LABEL_MAX, "%s (%s)", p.list[i].version, p.list[i].name);
    }
    plan_free(&p);
    return rc;
}

int wf_migrate_is_at_head(wf_store *s, bool *at_head, wf_err *err)
{
    plan p;
    *at_head = false;
    int rc = plan_load(s, &p, err);
    if (rc == 0) {
        *at_head = true;
        for (size_t i = 0; i < p.n; i++) {
            const wf_migration_row *row = plan_row(&p, p.list[i].version);
            if (!row || !checksum_matches(&p, &p.list[i], row))
                *at_head = false;
        }
    }
    plan_free(&p);
    return rc;
}

/* ---- up ---------------------------------------------------------------------------- */

static int is_applied(wf_store *s, const char *version, bool *applied, wf_err *err)
{
    wf_migration_row *rows = NULL;
    size_t n = 0;
    int rc = wf_store_migrations_applied(s, &rows, &n, err);
    *applied = false;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!version_cmp(rows[i].version, version))
            *applied = true;
    }
    wf_migration_rows_free(rows, n);
    return rc;
}

/* Applies one migration with its version row in one transaction; *ran says whether it
 * did (false when another instance got there first). */
static int apply_one(wf_store *s, const wf_migration *m, const char *dialect, bool *ran,
                     wf_err *err)
{
    const char *script = script_of(m, dialect, true);
    char sum[65], label[96];
    bool in_tx = false, applied = false;
    int rc = 0;
    *ran = false;
    migration_label(m, label, sizeof label);
    if (!script) {
        rc = wf_err_set(err, WF_ERR_INTERNAL, "%s has no %s up script", label, dialect);
        goto done;
    }
    wf_sha256_hex(script, strlen(script), sum);
    if ((rc = wf_store_begin(s, err)))
        goto done;
    in_tx = true;
    /* we hold the write lock now: look again */
    if ((rc = is_applied(s, m->version, &applied, err)) || applied)
        goto done;
    if ((rc = wf_store_exec(s, script, err)) ||
        (rc = wf_store_migration_record(s, m->version, m->name, sum, err)))
        goto done;
    in_tx = false;
    if ((rc = wf_store_commit(s, err)) == 0)
        *ran = true;
done:
    if (in_tx)
        wf_store_rollback(s);
    if (rc)
        wf_err_prefix(err, label);
    return rc;
}

/* The version table, created under the write lock. */
static int create_version_table(wf_store *s, wf_err *err)
{
    int rc = wf_store_begin(s, err);
    if (rc)
        return rc;
    if ((rc = wf_store_exec(s, VERSION_TABLE_DDL, err))) {
        wf_store_rollback(s);
        return rc;
    }
    return wf_store_commit(s, err);
}

int wf_migrate_up(wf_store *s, const char *target, size_t *napplied, wf_err *err)
{
    plan p;
    size_t end = 0, count = 0;
    bool pending = false;
    int rc = plan_load(s, &p, err);
    if (rc == 0)
        rc = resolve_target(&p, target, &end, err);
    if (rc == 0)
        rc = check_checksums(&p, err);
    for (size_t i = 0; i < end && !pending; i++)
        pending = plan_row(&p, p.list[i].version) == NULL;
    if (rc == 0 && pending)
        rc = create_version_table(s, err);
    for (size_t i = 0; rc == 0 && i < end; i++) {
        bool ran = false;
        if (plan_row(&p, p.list[i].version))
            continue;
        rc = apply_one(s, &p.list[i], p.dialect, &ran, err);
        if (ran)
            count++;
    }
    if (napplied)
        *napplied = count;
    plan_free(&p);
    return rc;
}

/* One pending migration as a DBA would run it: its script and its version row. The
 * version, name and checksum are digits, [a-z0-9_] and hex, so literals are safe. */
static int append_migration_sql(const plan *p, const wf_migration *m, wf_buf *out, wf_err *err)
{
    const char *script = script_of(m, p->dialect, true);
    char sum[65];
    if (!script)
        return wf_err_set(err, WF_ERR_INTERNAL, "migration %s (%s) has no %s up script", m->version,
                          m->name, p->dialect);
    wf_sha256_hex(script, strlen(script), sum);
    size_t len = strlen(script);
    wf_buf_printf(out, "\n-- %s %s\n%s%s", m->version, m->name, script,
                  len && script[len - 1] == '\n' ? "" : "\n");
    wf_buf_printf(out,
                  "INSERT INTO wfreg_migrations (version, name, checksum) "
                  "VALUES ('%s', '%s', '%s');\n",
                  m->version, m->name, sum);
    return 0;
}

int wf_migrate_up_sql(wf_store *s, const char *target, wf_buf *out, wf_err *err)
{
    plan p;
    size_t end = 0, pending = 0;
    int rc = plan_load(s, &p, err);
    if (rc == 0)
        rc = resolve_target(&p, target, &end, err);
    if (rc == 0)
        rc = check_checksums(&p, err);
    if (rc)
        goto done;
    for (size_t i = 0; i < end; i++)
        pending += plan_row(&p, p.list[i].version) ? 0 : 1;
    if (pending == 0) {
        wf_buf_printf(out, "-- wfreg migrate up --sql (%s): nothing to apply.\n", p.dialect);
        goto done;
    }
    const char *lock = wf_store_tx_lock_sql(s);
    wf_buf_printf(out,
                  "-- wfreg migrate up --sql (%s): %zu migration(s), up to %s.\n"
                  "-- Run it as one transaction; it records each version in wfreg_migrations.\n"
                  "BEGIN;\n",
                  p.dialect, pending, p.list[end - 1].version);
    if (lock) /* the lock wfreg's instances take: safe while they start */
        wf_buf_printf(out, "%s;\n", lock);
    wf_buf_puts(out, VERSION_TABLE_DDL);
    for (size_t i = 0; rc == 0 && i < end; i++) {
        if (!plan_row(&p, p.list[i].version))
            rc = append_migration_sql(&p, &p.list[i], out, err);
    }
    wf_buf_puts(out, "\nCOMMIT;\n");
done:
    if (rc == 0 && !wf_buf_ok(out))
        rc = wf_err_set(err, WF_ERR_NOMEM, "migrate: out of memory");
    plan_free(&p);
    return rc;
}

/* ---- down -------------------------------------------------------------------------- */

static bool creates_table(const wf_migration *m, const char *table)
{
    for (size_t i = 0; i < sizeof expected_tables / sizeof expected_tables[0]; i++) {
        if (!strcmp(expected_tables[i].table, table) &&
            !version_cmp(expected_tables[i].version, m->version))
            return true;
    }
    return false;
}

/* Registered engines are the one thing a down must not drop by accident. */
static int guard_engines(wf_store *s, const wf_migration *m, wf_err *err)
{
    bool exists = false;
    int64_t n = 0;
    if (!creates_table(m, ENGINES_TABLE))
        return 0;
    int rc = wf_store_table_exists(s, ENGINES_TABLE, &exists, err);
    if (rc == 0 && exists)
        rc = wf_store_engine_count(s, &n, err);
    if (rc == 0 && n > 0)
        rc = wf_err_set(err, WF_ERR_CONFLICT,
                        ENGINES_TABLE " holds %lld engine%s; use --force to drop them",
                        (long long)n, n == 1 ? "" : "s");
    return rc;
}

static int revert_one(wf_store *s, const wf_migration *m, const char *dialect, bool force,
                      wf_err *err)
{
    const char *script = script_of(m, dialect, false);
    char label[96];
    bool in_tx = false;
    int rc = 0;
    migration_label(m, label, sizeof label);
    if (!script) {
        rc = wf_err_set(err, WF_ERR_INTERNAL, "%s has no %s down script", label, dialect);
        goto done;
    }
    if ((rc = wf_store_begin(s, err)))
        goto done;
    in_tx = true;
    if (!force && (rc = guard_engines(s, m, err)))
        goto done;
    if ((rc = wf_store_exec(s, script, err)) ||
        (rc = wf_store_migration_forget(s, m->version, err)))
        goto done;
    in_tx = false;
    rc = wf_store_commit(s, err);
done:
    if (in_tx)
        wf_store_rollback(s);
    if (rc && rc != WF_ERR_CONFLICT)
        wf_err_prefix(err, label);
    return rc;
}

int wf_migrate_down(wf_store *s, const char *target, bool force, size_t *nreverted, wf_err *err)
{
    plan p;
    const char *stop = NULL; /* revert applied versions newer than this; NULL: the newest */
    size_t count = 0;
    int rc = plan_load(s, &p, err);
    if (rc)
        goto done;
    if (target && is_base(target)) {
        stop = "0";
    } else if (target) {
        const wf_migration *m = plan_find(&p, target);
        if (!m) {
            rc = wf_err_set(err, WF_ERR_NOT_FOUND, "migration '%.64s': no such version", target);
            goto done;
        }
        stop = m->version;
    }
    for (size_t k = p.nrows; rc == 0 && k-- > 0;) {
        const wf_migration_row *row = &p.rows[k];
        if (stop ? version_cmp(row->version, stop) <= 0 : count == 1)
            break;
        const wf_migration *m = plan_find(&p, row->version);
        if (!m)
            rc = wf_err_set(err, WF_ERR_DB,
                            "migration %s (%s) is applied but unknown to this wfreg; revert "
                            "it with the wfreg that applied it",
                            row->version, row->name);
        else if ((rc = revert_one(s, m, p.dialect, force, err)) == 0)
            count++;
    }
done:
    if (nreverted)
        *nreverted = count;
    plan_free(&p);
    return rc;
}

/* ---- verify ------------------------------------------------------------------------ */

typedef struct report {
    wf_buf *out;
    size_t checks, failed;
} report;

static void check(report *r, bool ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void check(report *r, bool ok, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    if (vsnprintf(line, sizeof line, fmt, ap) < 0)
        line[0] = '\0';
    va_end(ap);
    wf_buf_printf(r->out, "%s%s\n", ok ? "ok   " : "FAIL ", line);
    r->checks++;
    r->failed += ok ? 0 : 1;
}

static void verify_versions(const plan *p, report *r)
{
    bool at_head = true;
    for (size_t i = 0; i < p->n; i++) {
        const wf_migration *m = &p->list[i];
        const wf_migration_row *row = plan_row(p, m->version);
        if (!row)
            check(r, false, "migration %s (%s) not applied", m->version, m->name);
        else if (!checksum_matches(p, m, row))
            check(r, false,
                  "migration %s (%s) applied with a different script (checksum "
                  "mismatch)",
                  m->version, m->name);
        else
            check(r, true, "migration %s (%s) applied", m->version, m->name);
        at_head = at_head && row && checksum_matches(p, m, row);
    }
    for (size_t i = 0; i < p->nrows; i++) {
        if (!plan_find(p, p->rows[i].version))
            check(r, false, "migration %s (%s) applied but unknown to this wfreg",
                  p->rows[i].version, p->rows[i].name);
    }
    const char *head = p->n ? p->list[p->n - 1].version : "none";
    check(r, at_head, "schema version %s head %s", at_head ? "at" : "not at", head);
}

static bool contains(char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n && name; i++) {
        if (!strcmp(names[i], name))
            return true;
    }
    return false;
}

static bool listed(const char *const *list, const char *name)
{
    for (size_t i = 0; list[i]; i++) {
        if (!strcmp(list[i], name))
            return true;
    }
    return false;
}

/* Each expected index: present, and UNIQUE where the migration makes it so (an index of
 * that name made by hand without UNIQUE would let two engines share a name). */
static void verify_indexes(const struct expected_table *t, char **idx, size_t nidx, char **uniq,
                           size_t nuniq, report *r)
{
    for (size_t i = 0; t->indexes[i]; i++) {
        const char *name = t->indexes[i];
        bool present = contains(idx, nidx, name);
        check(r, present, "index %s%s", name, present ? "" : " missing");
        if (present && listed(t->unique, name)) {
            bool unique = contains(uniq, nuniq, name);
            check(r, unique, "index %s %s", name, unique ? "is UNIQUE" : "is not UNIQUE");
        }
    }
}

static int verify_table(wf_store *s, const struct expected_table *t, report *r, wf_err *err)
{
    bool exists = false;
    char **cols = NULL, **idx = NULL, **uniq = NULL;
    size_t ncols = 0, nidx = 0, nuniq = 0;
    int rc = wf_store_table_exists(s, t->table, &exists, err);
    if (rc)
        goto done;
    check(r, exists, "table %s%s", t->table, exists ? "" : " missing");
    if (!exists)
        goto done;
    if ((rc = wf_store_table_columns(s, t->table, &cols, &ncols, err)) ||
        (rc = wf_store_table_indexes(s, t->table, &idx, &nidx, err)) ||
        (rc = wf_store_table_unique_indexes(s, t->table, &uniq, &nuniq, err)))
        goto done;
    for (size_t i = 0; t->columns[i]; i++) {
        bool ok = contains(cols, ncols, t->columns[i]);
        check(r, ok, "column %s.%s%s", t->table, t->columns[i], ok ? "" : " missing");
    }
    verify_indexes(t, idx, nidx, uniq, nuniq, r);
done:
    wf_strv_free(cols, ncols);
    wf_strv_free(idx, nidx);
    wf_strv_free(uniq, nuniq);
    return rc;
}

int wf_migrate_verify(wf_store *s, wf_buf *out, wf_err *err)
{
    plan p;
    report r = {out, 0, 0};
    int rc = plan_load(s, &p, err);
    if (rc)
        goto done;
    verify_versions(&p, &r);
    for (size_t i = 0; rc == 0 && i < sizeof expected_tables / sizeof expected_tables[0]; i++)
        rc = verify_table(s, &expected_tables[i], &r, err);
    if (rc == 0 && !wf_buf_ok(out))
        rc = wf_err_set(err, WF_ERR_NOMEM, "migrate: out of memory");
    else if (rc == 0 && r.failed)
        rc = wf_err_set(err, WF_ERR_DB, "schema check failed: %zu of %zu checks failed", r.failed,
                        r.checks);
done:
    plan_free(&p);
    return rc;
}
