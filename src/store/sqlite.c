/*
 * sqlite.c: the SQLite backend of the store (DATABASE_URL "sqlite:PATH"), wfreg's
 * default database. One wf_sqlite is one connection, used by one thread at a time.
 *
 * How it behaves, and why:
 * - WAL journal, so that readers (other instances, the CLI) never block the writer, and
 *   synchronous=NORMAL, which is durable across application crashes in WAL mode;
 *   busy_timeout, set right after opening (before the switch to WAL, which locks), lets
 *   a second writer wait instead of failing at once.
 * - foreign_keys=ON, so that created_by really references app_users like on PostgreSQL.
 * - A file this process may not write is opened read-only (SQLite's choice): reads work,
 *   writes fail. sq_read_only tells, and whether the file is writable now: the server
 *   then reopens every connection (api/watch.c explains why every one, at once).
 * - Every value is bound to a prepared statement; no value is ever formatted into SQL.
 * - Each engine_* writer is its own BEGIN IMMEDIATE transaction unless the caller has
 *   opened one with wf_store_begin, so that an import or a key rotation is one commit.
 * - Rows are served as they are stored, whatever wrote them (the earlier Python system,
 *   a DBA by hand): NULL config reads as "{}", text that is not JSON stays as text, and
 *   a timestamp in any common format is turned into ISO 8601 UTC or else kept verbatim.
 *   Loading never fails over one odd row.
 * - Users, tokens and the audit trail (migration 0003) live in sqlite_auth.c. Times written by
 *   wfreg (expires_at, revoked_at) use CURRENT_TIMESTAMP's form "YYYY-MM-DD HH:MM:SS" in
 *   UTC, like every other timestamp in the file, and are compared with datetime().
 */
#include "backends.h"
#include "store.h"
#include "sqlite_internal.h"

#include "../core/buf.h"
#include "../core/text.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ENGINE_COLUMNS                                                                             \
    "id, name, engine_type, api_url, api_key_encrypted, active, config, created_by, "              \
    "created_at, updated_at"

int wf_sqlite_db_fail(wf_sqlite *q, wf_err *err, const char *what)
{
    return wf_err_set(err, WF_ERR_DB, "sqlite: %s: %s", what, sqlite3_errmsg(q->db));
}

static int run(wf_sqlite *q, const char *sql, wf_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(q->db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    int rc = wf_err_set(err, WF_ERR_DB, "sqlite: %s", msg ? msg : sqlite3_errmsg(q->db));
    sqlite3_free(msg);
    return rc;
}

int wf_sqlite_prepare(wf_sqlite *q, const char *sql, sqlite3_stmt **st, wf_err *err)
{
    if (sqlite3_prepare_v2(q->db, sql, -1, st, NULL) == SQLITE_OK)
        return 0;
    *st = NULL;
    return wf_sqlite_db_fail(q, err, "prepare");
}

int wf_sqlite_bind_text(sqlite3_stmt *st, int i, const char *v)
{
    return v ? sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

/* ---- transactions ---------------------------------------------------------------- */

static void rollback_raw(wf_sqlite *q)
{
    /* SQLite may already have rolled back by itself (after SQLITE_FULL, for one). */
    if (!sqlite3_get_autocommit(q->db))
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
}

static int sq_begin(wf_store *s, wf_err *err)
{
    wf_sqlite *q = sq(s);
    if (q->tx_depth > 0) {
        q->tx_depth++;
        return 0;
    }
    int rc = run(q, "BEGIN IMMEDIATE", err);
    if (rc == 0) {
        q->tx_depth = 1;
        q->tx_doomed = false;
    }
    return rc;
}

static int sq_commit(wf_store *s, wf_err *err)
{
    wf_sqlite *q = sq(s);
    if (q->tx_depth == 0)
        return wf_err_set(err, WF_ERR_INTERNAL, "sqlite: commit without a transaction");
    if (--q->tx_depth > 0)
        return 0;
    if (q->tx_doomed) {
        q->tx_doomed = false;
        rollback_raw(q);
        return wf_err_set(err, WF_ERR_DB, "sqlite: transaction rolled back by an inner step");
    }
    if (sqlite3_get_autocommit(q->db))
        return wf_err_set(err, WF_ERR_DB, "sqlite: the transaction was rolled back by SQLite");
    int rc = run(q, "COMMIT", err);
    if (rc)
        rollback_raw(q);
    return rc;
}

static void sq_rollback(wf_store *s)
{
    wf_sqlite *q = sq(s);
    if (q->tx_depth == 0)
        return;
    if (--q->tx_depth > 0) {
        q->tx_doomed = true;
        return;
    }
    q->tx_doomed = false;
    rollback_raw(q);
}

/* A writer's own transaction, unless the caller holds one (then it joins that). */
static int own_begin(wf_sqlite *q, bool *own, wf_err *err)
{
    *own = q->tx_depth == 0;
    return *own ? run(q, "BEGIN IMMEDIATE", err) : 0;
}

static int own_end(wf_sqlite *q, bool own, int rc, wf_err *err)
{
    if (!own)
        return rc;
    if (rc == 0) {
        rc = run(q, "COMMIT", err);
        if (rc)
            rollback_raw(q);
    } else {
        rollback_raw(q);
    }
    return rc;
}

static int sq_exec(wf_store *s, const char *sql, wf_err *err)
{
    return run(sq(s), sql, err);
}

/* ---- reading rows as they are ------------------------------------------------------ */

/* A copy of a text column; dflt (may be NULL) for SQL NULL. *ok turns false when out
 * of memory. */
char *wf_sqlite_col_dup(sqlite3_stmt *st, int i, const char *dflt, bool *ok)
{
    const char *v = (const char *)sqlite3_column_text(st, i);
    if (!v)
        v = dflt;
    if (!v)
        return NULL;
    char *c = strdup(v);
    if (!c)
        *ok = false;
    return c;
}

/* Booleans as SQLite holds them: 0/1, or text such as "true" from a hand-made row. */
bool wf_sqlite_col_bool(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) != SQLITE_TEXT)
        return sqlite3_column_int64(st, i) != 0;
    const char *v = (const char *)sqlite3_column_text(st, i);
    static const char *const yes[] = {"1", "t", "true", "y", "yes", "on", NULL};
    for (size_t k = 0; v && yes[k]; k++) {
        if (!strcasecmp(v, yes[k]))
            return true;
    }
    return false;
}

/* A timestamp column as ISO 8601 UTC, or its text verbatim when it cannot be read as
 * a time; NULL for SQL NULL. */
char *wf_sqlite_col_timestamp(sqlite3_stmt *st, int i, bool *ok)
{
    char iso[WF_TEXT_ISO_MAX];
    time_t t = 0;
    int type = sqlite3_column_type(st, i);
    bool is_time = false;
    if (type == SQLITE_INTEGER) {
        t = (time_t)sqlite3_column_int64(st, i); /* Unix seconds */
        is_time = true;
    } else if (type == SQLITE_FLOAT) {
        double v = sqlite3_column_double(st, i);
        /* julianday() values are near 2.4 million; anything larger is Unix seconds.
         * Rounded to the nearest second: a Julian day is inexact in binary. Only a time
         * an ISO 8601 year can hold is converted: casting 1e308, an infinity or a NaN to
         * time_t is undefined behaviour; such a value is kept as its text. */
        double secs = (v < 1e7 ? (v - 2440587.5) * 86400.0 : v) + 0.5;
        if (secs >= (double)WF_TEXT_TIME_MIN && secs <= (double)WF_TEXT_TIME_MAX) {
            t = (time_t)secs;
            is_time = true;
        }
    } else if (type != SQLITE_NULL) {
        is_time = wf_text_parse_time((const char *)sqlite3_column_text(st, i), &t);
    }
    if (is_time && wf_text_iso_time(t, -1, iso)) { /* years 1-9999, else the text */
        char *c = strdup(iso);
        if (!c)
            *ok = false;
        return c;
    }
    return wf_sqlite_col_dup(st, i, NULL, ok);
}

/* One row of SELECT ENGINE_COLUMNS as a record; NULL when out of memory. */
static wf_engine *engine_from_row(sqlite3_stmt *st)
{
    wf_engine *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    bool ok = true;
    e->id = sqlite3_column_int64(st, 0);
    e->name = wf_sqlite_col_dup(st, 1, "", &ok);
    e->engine_type = wf_sqlite_col_dup(st, 2, "", &ok);
    e->api_url = wf_sqlite_col_dup(st, 3, "", &ok);
    e->api_key_encrypted = wf_sqlite_col_dup(st, 4, NULL, &ok);
    e->is_active = wf_sqlite_col_bool(st, 5);
    e->config = wf_sqlite_col_dup(st, 6, "{}", &ok);
    e->created_by = sqlite3_column_int64(st, 7); /* NULL reads as 0 */
    e->created_at = wf_sqlite_col_timestamp(st, 8, &ok);
    e->updated_at = wf_sqlite_col_timestamp(st, 9, &ok);
    e->source = WF_SOURCE_DATABASE;
    e->key_status =
        e->api_key_encrypted && e->api_key_encrypted[0] ? WF_KEY_UNCHECKED : WF_KEY_NONE;
    if (!ok) {
        wf_engine_free(e);
        return NULL;
    }
    return e;
}

/* ---- engines ----------------------------------------------------------------------- */

static int sq_engine_list(wf_store *s, wf_engine ***out, size_t *n, wf_err *err)
{
    wf_sqlite *q = sq(s);
    wf_engine **v = NULL;
    size_t len = 0, cap = 0;
    sqlite3_stmt *st = NULL;
    int rc = wf_sqlite_prepare(q, "SELECT " ENGINE_COLUMNS " FROM workflow_engines ORDER BY name",
                               &st, err);
    *out = NULL;
    *n = 0;
    if (rc)
        goto done;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            wf_engine **nv = realloc(v, ncap * sizeof *nv);
            if (!nv) {
                rc = wf_err_set(err, WF_ERR_NOMEM, "sqlite: out of memory listing engines");
                goto done;
            }
            v = nv;
            cap = ncap;
        }
        if (!(v[len] = engine_from_row(st))) {
            rc = wf_err_set(err, WF_ERR_NOMEM, "sqlite: out of memory listing engines");
            goto done;
        }
        len++;
    }
    if (step != SQLITE_DONE)
        rc = wf_sqlite_db_fail(q, err, "listing engines");
done:
    sqlite3_finalize(st);
    if (rc) {
        for (size_t i = 0; i < len; i++)
            wf_engine_free(v[i]);
        free(v);
        return rc;
    }
    *out = v;
    *n = len;
    return 0;
}

static int sq_engine_get(wf_store *s, const char *name, wf_engine **out, wf_err *err)
{
    wf_sqlite *q = sq(s);
    sqlite3_stmt *st = NULL;
    *out = NULL;
    int rc = wf_sqlite_prepare(q, "SELECT " ENGINE_COLUMNS " FROM workflow_engines WHERE name = ?1",
                               &st, err);
    if (rc)
        goto done;
    if (wf_sqlite_bind_text(st, 1, name) != SQLITE_OK) {
        rc = wf_sqlite_db_fail(q, err, "reading an engine");
        goto done;
    }
    int step = sqlite3_step(st);
    if (step == SQLITE_DONE)
        rc = wf_err_set(err, WF_ERR_NOT_FOUND, "no engine named '%s'", name);
    else if (step != SQLITE_ROW)
        rc = wf_sqlite_db_fail(q, err, "reading an engine");
    else if (!(*out = engine_from_row(st)))
        rc = wf_err_set(err, WF_ERR_NOMEM, "sqlite: out of memory reading an engine");
done:
    sqlite3_finalize(st);
    return rc;
}

/* What a failed INSERT or UPDATE of an engine means for the caller. */
static int write_fail(wf_sqlite *q, const wf_engine *e, const char *what, wf_err *err)
{
    switch (sqlite3_extended_errcode(q->db)) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        return wf_err_set(err, WF_ERR_CONFLICT, "name: an engine named '%s' already exists",
                          e->name);
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return wf_err_set(err, WF_ERR_CONFLICT, "created_by: no user with id %lld",
                          (long long)e->created_by);
    default: return wf_sqlite_db_fail(q, err, what);
    }
}

static int check_required(const wf_engine *e, wf_err *err)
{
    if (!e->name || !e->engine_type || !e->api_url)
        return wf_err_set(err, WF_ERR_INVALID,
                          "store: an engine needs a name, an engine_type and an api_url");
    return 0;
}

/* Binds name, engine_type, api_url, api_key_encrypted, active, config to ?1..?6. */
static int bind_engine(sqlite3_stmt *st, const wf_engine *e)
{
    int rc = wf_sqlite_bind_text(st, 1, e->name);
    if (rc == SQLITE_OK)
        rc = wf_sqlite_bind_text(st, 2, e->engine_type);
    if (rc == SQLITE_OK)
        rc = wf_sqlite_bind_text(st, 3, e->api_url);
    if (rc == SQLITE_OK)
        rc = wf_sqlite_bind_text(st, 4, e->api_key_encrypted);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 5, e->is_active ? 1 : 0);
    if (rc == SQLITE_OK)
        rc = wf_sqlite_bind_text(st, 6, e->config ? e->config : "{}");
    return rc;
}

static int sq_engine_insert(wf_store *s, const wf_engine *e, int64_t *id, wf_err *err)
{
    wf_sqlite *q = sq(s);
    sqlite3_stmt *st = NULL;
    bool own = false;
    int rc = check_required(e, err);
    if (rc || (rc = own_begin(q, &own, err)))
        return rc;
    rc = wf_sqlite_prepare(
        q,
        "INSERT INTO workflow_engines (name, engine_type, api_url, api_key_encrypted,"
        " active, config, created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        &st, err);
    if (rc)
        goto done;
    int b = bind_engine(st, e);
    if (b == SQLITE_OK)
        b = e->created_by ? sqlite3_bind_int64(st, 7, e->created_by) : sqlite3_bind_null(st, 7);
    if (b != SQLITE_OK) {
        rc = wf_sqlite_db_fail(q, err, "adding an engine");
        goto done;
    }
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = write_fail(q, e, "adding an engine", err);
        goto done;
    }
    if (id)
        *id = sqlite3_last_insert_rowid(q->db);
done:
    sqlite3_finalize(st);
    return own_end(q, own, rc, err);
}

static int sq_engine_update(wf_store *s, int64_t id, const wf_engine *e, wf_err *err)
{
    wf_sqlite *q = sq(s);
    sqlite3_stmt *st = NULL;
    bool own = false;
    int rc = check_required(e, err);
    if (rc || (rc = own_begin(q, &own, err)))
        return rc;
    rc = wf_sqlite_prepare(q,
                           "UPDATE workflow_engines SET name = ?1, engine_type = ?2, api_url = ?3,"
                           " api_key_encrypted = ?4, active = ?5, config = ?6,"
                           " updated_at = CURRENT_TIMESTAMP WHERE id = ?7",
                           &st, err);
    if (rc)
        goto done;
    int b = bind_engine(st, e);
    if (b == SQLITE_OK)
        b = sqlite3_bind_int64(st, 7, id);
    if (b != SQLITE_OK) {
        rc = wf_sqlite_db_fail(q, err, "updating an engine");
        goto done;
    }
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = write_fail(q, e, "updating an engine", err);
    else if (sqlite3_changes(q->db) == 0)
        rc = wf_err_set(err, WF_ERR_NOT_FOUND, "no engine with id %lld", (long long)id);
done:
    sqlite3_finalize(st);
    return own_end(q, own, rc, err);
}

static int sq_engine_delete(wf_store *s, const char *name, wf_err *err)
{
    wf_sqlite *q = sq(s);
    sqlite3_stmt *st = NULL;
    bool own = false;
    int rc = own_begin(q, &own, err);
    if (rc)
        return rc;
    rc = wf_sqlite_prepare(q, "DELETE FROM workflow_engines WHERE name = ?1", &st, err);
    if (rc)
        goto done;
    if (wf_sqlite_bind_text(st, 1, name) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
        rc = wf_sqlite_db_fail(q, err, "deleting an engine");
    else if (sqlite3_changes(q->db) == 0)
        rc = wf_err_set(err, WF_ERR_NOT_FOUND, "no engine named '%s'", name);
done:
    sqlite3_finalize(st);
    return own_end(q, own, rc, err);
}

/* Runs a query whose answer is one integer. */
static int query_int64(wf_sqlite *q, const char *sql, const char *arg, int64_t *out, wf_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = wf_sqlite_prepare(q, sql, &st, err);
    if (rc)
        goto done;
    if ((arg && wf_sqlite_bind_text(st, 1, arg) != SQLITE_OK) || sqlite3_step(st) != SQLITE_ROW) {
        rc = wf_sqlite_db_fail(q, err, "query");
        goto done;
    }
    *out = sqlite3_column_int64(st, 0);
done:
    sqlite3_finalize(st);
    return rc;
}

static int sq_engine_count(wf_store *s, int64_t *n, wf_err *err)
{
    return query_int64(sq(s), "SELECT count(*) FROM workflow_engines", NULL, n, err);
}

static int sq_engine_swap_key(wf_store *s, int64_t id, const char *old_token, const char *new_token,
                              bool *changed, wf_err *err)
{
    wf_sqlite *q = sq(s);
    sqlite3_stmt *st = NULL;
    bool own = false;
    *changed = false;
    int rc = own_begin(q, &own, err);
    if (rc)
        return rc;
    /* IS, not =: a NULL old_token matches an engine without a key */
    rc = wf_sqlite_prepare(
        q,
        "UPDATE workflow_engines SET api_key_encrypted = ?1,"
        " updated_at = CURRENT_TIMESTAMP WHERE id = ?2 AND api_key_encrypted IS ?3",
        &st, err);
    if (rc)
        goto done;
    if (wf_sqlite_bind_text(st, 1, new_token) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, id) != SQLITE_OK ||
        wf_sqlite_bind_text(st, 3, old_token) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE) {
        rc = wf_sqlite_db_fail(q, err, "replacing an engine's key");
        goto done;
    }
    *changed = sqlite3_changes(q->db) > 0;
done:
    sqlite3_finalize(st);
    return own_end(q, own, rc, err);
}

/* ---- schema introspection ---------------------------------------------------------- */

static int sq_table_exists(wf_store *s, const char *table, bool *exists, wf_err *err)
{
    int64_t n = 0;
    int rc = query_int64(sq(s),
                         "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                         " AND name = ?1",
                         table, &n, err);
    *exists = rc == 0 && n > 0;
    return rc;
}

/* The first column of every row of a query over one bound argument, skipping names
 * that start with skip (may be NULL). */
static int collect_names(wf_sqlite *q, const char *sql, const char *arg, const char *skip,
                         char ***names, size_t *n, wf_err *err)
{
    char **v = NULL;
    size_t len = 0, cap = 0;
    sqlite3_stmt *st = NULL;
    int rc = wf_sqlite_prepare(q, sql, &st, err), step;
    if (rc)
        goto done;
    if (wf_sqlite_bind_text(st, 1, arg) != SQLITE_OK) {
        rc = wf_sqlite_db_fail(q, err, "reading the schema");
        goto done;
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        if (!name || (skip && !strncmp(name, skip, strlen(skip))))
            continue;
        if (len == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = realloc(v, cap * sizeof *nv);
            if (!nv)
                goto nomem;
            v = nv;
        }
        if (!(v[len] = strdup(name)))
            goto nomem;
        len++;
    }
    if (step != SQLITE_DONE)
        rc = wf_sqlite_db_fail(q, err, "reading the schema");
    goto done;
nomem:
    rc = wf_err_set(err, WF_ERR_NOMEM, "sqlite: out of memory reading the schema");
done:
    sqlite3_finalize(st);
    if (rc) {
        wf_strv_free(v, len);
        v = NULL;
        len = 0;
    }
    *names = v;
    *n = len;
    return rc;
}

static int sq_table_columns(wf_store *s, const char *table, char ***names, size_t *n, wf_err *err)
{
    return collect_names(sq(s), "SELECT name FROM pragma_table_info(?1) ORDER BY cid", table, NULL,
                         names, n, err);
}

static int sq_table_indexes(wf_store *s, const char *table, char ***names, size_t *n, wf_err *err)
{
    /* only named indexes: those SQLite makes for UNIQUE and PRIMARY KEY are not asked for */
    return collect_names(sq(s), "SELECT name FROM pragma_index_list(?1) ORDER BY name", table,
                         "sqlite_autoindex_", names, n, err);
}

static int sq_table_unique_indexes(wf_store *s, const char *table, char ***names, size_t *n,
                                   wf_err *err)
{
    return collect_names(sq(s),
                         "SELECT name FROM pragma_index_list(?1) WHERE \"unique\" ORDER BY name",
                         table, "sqlite_autoindex_", names, n, err);
}

/* ---- the migrations table ------------------------------------------------------------ */

static int read_migration_rows(wf_sqlite *q, sqlite3_stmt *st, wf_migration_row **rows, size_t *n,
                               wf_err *err)
{
    wf_migration_row *v = NULL;
    size_t len = 0, cap = 0;
    int step, rc = 0;
    bool ok = true;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            cap = cap ? cap * 2 : 8;
            wf_migration_row *nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                ok = false;
                break;
            }
            v = nv;
        }
        wf_migration_row *r = &v[len++];
        r->version = wf_sqlite_col_dup(st, 0, "", &ok);
        r->name = wf_sqlite_col_dup(st, 1, "", &ok);
        r->checksum = wf_sqlite_col_dup(st, 2, "", &ok);
        r->applied_at = wf_sqlite_col_timestamp(st, 3, &ok);
        if (!ok)
            break;
    }
    if (!ok)
        rc = wf_err_set(err, WF_ERR_NOMEM, "sqlite: out of memory reading migrations");
    else if (step != SQLITE_DONE)
        rc = wf_sqlite_db_fail(q, err, "reading wfreg_migrations");
    if (rc) {
        wf_migration_rows_free(v, len);
        v = NULL;
        len = 0;
    }
    *rows = v;
    *n = len;
    return rc;
}

static int sq_migrations_applied(wf_store *s, wf_migration_row **rows, size_t *n, wf_err *err)
{
    wf_sqlite *q = sq(s);
    sqlite3_stmt *st = NULL;
    bool exists = false;
    *rows = NULL;
    *n = 0;
    int rc = sq_table_exists(s, "wfreg_migrations", &exists, err);
    if (rc || !exists)
        return rc; /* a database that was never migrated has applied nothing */
    rc = wf_sqlite_prepare(q,
                           "SELECT version, name, checksum, applied_at FROM wfreg_migrations"
                           " ORDER BY length(version), version",
                           &st, err);
    if (rc == 0)
        rc = read_migration_rows(q, st, rows, n, err);
    sqlite3_finalize(st);
    return rc;
}

/* Runs one write statement with up to three bound texts. */
static int run_bound(wf_sqlite *q, const char *sql, const char *a, const char *b, const char *c,
                     wf_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = wf_sqlite_prepare(q, sql, &st, err);
    if (rc)
        return rc;
    int nparams = sqlite3_bind_parameter_count(st);
    const char *args[3] = {a, b, c};
    for (int i = 0; i < nparams && i < 3 && rc == 0; i++) {
        if (wf_sqlite_bind_text(st, i + 1, args[i]) != SQLITE_OK)
            rc = wf_sqlite_db_fail(q, err, "bind");
    }
    if (rc == 0 && sqlite3_step(st) != SQLITE_DONE)
        rc = wf_sqlite_db_fail(q, err, "writing wfreg_migrations");
    sqlite3_finalize(st);
    return rc;
}

static int sq_migration_record(wf_store *s, const char *version, const char *name,
                               const char *checksum, wf_err *err)
{
    return run_bound(sq(s),
                     "INSERT INTO wfreg_migrations (version, name, checksum) VALUES (?1, ?2, ?3)",
                     version, name, checksum, err);
}

static int sq_migration_forget(wf_store *s, const char *version, wf_err *err)
{
    return run_bound(sq(s), "DELETE FROM wfreg_migrations WHERE version = ?1", version, NULL, NULL,
                     err);
}

static int sq_data_version(wf_store *s, int64_t *v, wf_err *err)
{
    return query_int64(sq(s), "PRAGMA data_version", NULL, v, err);
}

/* ---- opening and closing ------------------------------------------------------------- */

static void sq_close(wf_store *s)
{
    wf_sqlite *q = sq(s);
    if (q->db) {
        rollback_raw(q);
        sqlite3_close_v2(q->db);
    }
    free(q->path);
    free(q);
}

/* ---- a connection opened read-only ------------------------------------------------- */

/* Whether this process may write the database now: the file, and its -wal and -shm
 * files where they exist (while they do, the folder need not be writable). */
static bool files_writable(const char *path)
{
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    bool ok = true;
    wf_buf p = WF_BUF_INIT;
    for (size_t i = 0; ok && i < sizeof suffixes / sizeof suffixes[0]; i++) {
        wf_buf_clear(&p);
        wf_buf_printf(&p, "%s%s", path, suffixes[i]);
        if (!wf_buf_ok(&p))
            break;
        /* the effective ids', as opening the file would check them */
        if (faccessat(AT_FDCWD, wf_buf_cstr(&p), R_OK | W_OK, AT_EACCESS) != 0)
            ok = i > 0 && errno == ENOENT; /* no -wal or -shm file is no obstacle */
    }
    ok = ok && wf_buf_ok(&p);
    wf_buf_free(&p);
    return ok;
}

/* SQLite opens a file this process may not write read-only, silently: reads work,
 * writes fail ("attempt to write a readonly database"). */
static bool sq_read_only(wf_store *s, bool *writable_now)
{
    wf_sqlite *q = sq(s);
    bool ro = q->path && sqlite3_db_readonly(q->db, "main") == 1;
    if (writable_now)
        *writable_now = ro && files_writable(q->path);
    return ro;
}

static const wf_store_ops sqlite_ops = {
    .name = "sqlite",
    .dialect = "sqlite",
    .close = sq_close,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .exec = sq_exec,
    .engine_list = sq_engine_list,
    .engine_get = sq_engine_get,
    .engine_insert = sq_engine_insert,
    .engine_update = sq_engine_update,
    .engine_delete = sq_engine_delete,
    .engine_count = sq_engine_count,
    .engine_swap_key = sq_engine_swap_key,
    .table_exists = sq_table_exists,
    .table_columns = sq_table_columns,
    .table_indexes = sq_table_indexes,
    .table_unique_indexes = sq_table_unique_indexes,
    .migrations_applied = sq_migrations_applied,
    .migration_record = sq_migration_record,
    .migration_forget = sq_migration_forget,
    .user_insert = wf_sqlite_user_insert,
    .user_get = wf_sqlite_user_get,
    .user_list = wf_sqlite_user_list,
    .user_update = wf_sqlite_user_update,
    .token_insert = wf_sqlite_token_insert,
    .token_list = wf_sqlite_token_list,
    .token_revoke = wf_sqlite_token_revoke,
    .token_revoke_hash = wf_sqlite_token_revoke_hash,
    .audit_insert = wf_sqlite_audit_insert,
    .audit_list = wf_sqlite_audit_list,
    .data_version = sq_data_version,
    .read_only = sq_read_only,
};

/* mkdir -p of the folder that will hold path. Folders are made 0750 and the file 0600
 * (below): the database holds password hashes and encrypted API keys. */
static int make_parent_dirs(const char *path, wf_err *err)
{
    char *dir = strdup(path);
    int rc = 0;
    if (!dir)
        return wf_err_set(err, WF_ERR_NOMEM, "sqlite: out of memory");
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        goto done; /* the current folder, or the root */
    *slash = '\0';
    for (char *p = dir + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
            rc = wf_err_set(err, WF_ERR_IO, "sqlite: cannot create folder '%s': %s", dir,
                            strerror(errno));
            goto done;
        }
        *p = saved;
        if (saved == '\0')
            break;
    }
done:
    free(dir);
    return rc;
}

/* Creates a missing database file readable by its owner only. SQLite gives the -wal and
 * -shm files the same mode. An error here is left for sqlite3_open_v2 to report. */
static void create_private_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
}

#define BUSY_TIMEOUT_MS 5000

/* Switches the file to WAL (a no-op once any process has: the mode is persistent). The
 * switch needs an exclusive lock, and where waiting could deadlock (two processes that
 * both opened a new file) SQLite answers SQLITE_BUSY at once instead of calling the
 * busy handler: retried here, within the same busy timeout. */
static int set_wal(wf_sqlite *q, wf_err *err)
{
    for (int waited = 0;; waited += 10) {
        int rc = sqlite3_exec(q->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            return 0;
        if ((rc & 0xff) != SQLITE_BUSY || waited >= BUSY_TIMEOUT_MS)
            return wf_sqlite_db_fail(q, err, "switching to WAL");
        sqlite3_sleep(10);
    }
}

static int apply_pragmas(wf_sqlite *q, bool keep_journal_mode, wf_err *err)
{
    int rc = 0;
    if (!keep_journal_mode)
        rc = set_wal(q, err);
    if (rc == 0)
        rc = run(q, "PRAGMA foreign_keys=ON", err);
    if (rc == 0)
        rc = run(q, "PRAGMA synchronous=NORMAL", err);
    return rc;
}

int wf_sqlite_open(const char *path, bool create, wf_store **out, wf_err *err)
{
    bool is_memory = !strcmp(path, ":memory:");
    wf_sqlite *q = NULL;
    struct stat sb;
    int rc = 0;
    *out = NULL;
    if (!is_memory && create) {
        if ((rc = make_parent_dirs(path, err)))
            goto done;
        create_private_file(path);
    } else if (!is_memory && stat(path, &sb) != 0 && errno == ENOENT) {
        rc = wf_err_set(err, WF_ERR_NOT_FOUND, "no database at %s (run wfreg migrate up)", path);
        goto done;
    }
    if (!(q = calloc(1, sizeof *q))) {
        rc = wf_err_set(err, WF_ERR_NOMEM, "sqlite: out of memory");
        goto done;
    }
    q->base.ops = &sqlite_ops;
    if (!is_memory && !(q->path = strdup(path))) {
        rc = wf_err_set(err, WF_ERR_NOMEM, "sqlite: out of memory");
        goto done;
    }
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &q->db, flags, NULL) != SQLITE_OK) {
        rc = wf_err_set(err, WF_ERR_DB, "sqlite: cannot open database '%s': %s", path,
                        q->db ? sqlite3_errmsg(q->db) : "out of memory");
        goto done;
    }
    sqlite3_extended_result_codes(q->db, 1);
    /* first of all: switching a new file to WAL takes a write lock, and a second process
     * opening the same new file at that moment must wait for it, not fail at once */
    sqlite3_busy_timeout(q->db, BUSY_TIMEOUT_MS);
    /* an existing database is only looked at: its journal mode is left as it is */
    rc = apply_pragmas(q, is_memory || !create, err);
done:
    if (rc) {
        if (q)
            sq_close(&q->base);
        return rc;
    }
    *out = &q->base;
    return 0;
}
