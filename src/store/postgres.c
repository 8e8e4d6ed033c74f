/*
 * postgres.c: the PostgreSQL backend of the store (DATABASE_URL "postgresql://...",
 * "postgres://..." or a libpq "key=value" string), for several wfreg instances over one
 * registry. One wf_pg is one libpq connection, used by one thread at a time. It behaves
 * as sqlite.c does, operation for operation; where PostgreSQL differs, this file bridges:
 *
 * - The URL goes to libpq untouched (sslmode, connect_timeout, options, ...). Defaults
 *   set before it, so that the URL overrides them: connect_timeout=10 (libpq would wait
 *   for the kernel's TCP timeout) and fallback_application_name=wfreg. Each session is
 *   then set to TimeZone UTC (so now() in a TIMESTAMP column is UTC, as the checklist's
 *   DDL and CURRENT_TIMESTAMP on SQLite store it), DateStyle ISO and UTF8.
 * - Messages never hold the password: a connection failure is told with the URL masked
 *   (core/config.h) and with any occurrence of the password cut from libpq's text; a URL
 *   libpq cannot parse is reported without the quoted parts of libpq's message, which
 *   may echo it.
 * - Every value is a parameter of PQexecParams, sent as text; the column gives it its
 *   type (JSONB config, BOOLEAN active, INTEGER ids). Nothing is formatted into SQL but
 *   the constant of the advisory lock.
 * - Transactions: wf_store_begin is BEGIN plus pg_advisory_xact_lock(WF_PG_WRITE_LOCK),
 *   which serialises wfreg's transactions across every instance exactly as SQLite's
 *   BEGIN IMMEDIATE does on one file: a read-then-write (an update and its audit row, a
 *   migration and its re-check) never interleaves with another. Single statements run
 *   in autocommit and take no lock. Nesting is sqlite.c's: inner levels only count, an
 *   inner rollback dooms the outer commit.
 * - A failed statement aborts a PostgreSQL transaction; on SQLite the transaction goes
 *   on. So that a writer joining a caller's transaction can fail (a taken name) and the
 *   caller continue, each write inside a caller's transaction runs under a savepoint.
 * - Rows are served as they are: text columns as text, NULL config as "{}", booleans
 *   from t/f (or 1/true/yes), timestamps read as text and turned into ISO 8601 UTC by
 *   core/text.c, or kept verbatim ("infinity", BC dates, years past 9999).
 * - Lists are ordered by name COLLATE "C": byte order, the same as SQLite's BINARY,
 *   whatever the database's collation.
 * - Change signals: migration 0004 gives wfreg_state(version), bumped by a statement
 *   trigger on workflow_engines, app_users and api_tokens, which also sends NOTIFY
 *   wfreg_changes (payload: the table) in the writing transaction; PostgreSQL delivers it
 *   at commit, from whoever commits (an instance, the command line, psql by hand).
 *   data_version reads that number; listen/notifications watch the channel.
 */
#include "backends.h"
#include "store.h"
#include "postgres_internal.h"

#include "../core/buf.h"
#include "../core/config.h"
#include "../core/log.h"
#include "../core/text.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* pg_advisory_xact_lock key of wfreg's write transactions (migrations included): the
 * bytes "wfreg-wr" as a big-endian int64, unlikely to collide with another program's. */
#define WF_PG_WRITE_LOCK "8603689917986207602"
#define WF_PG_LOCK_SQL "SELECT pg_advisory_xact_lock(" WF_PG_WRITE_LOCK ")"

#define CONNECT_TIMEOUT_S "10"

#define ENGINE_COLUMNS                                                                             \
    "id, name, engine_type, api_url, api_key_encrypted, active, config, created_by, "              \
    "created_at, updated_at"

/* ---- messages ---------------------------------------------------------------------- */

/* libpq's text on one line (its line breaks as "; "), with the password (if any)
 * replaced by ***. */
void wf_pg_clean_text(const wf_pg *p, const char *msg, wf_buf *out)
{
    size_t plen = p->password ? strlen(p->password) : 0;
    const char *gap = NULL; /* white space not yet written: " ", or "; " over a line break */
    for (const char *c = msg ? msg : ""; *c;) {
        if (*c == '\n' || *c == '\r') {
            gap = out->len ? "; " : NULL;
            c++;
        } else if (*c == '\t' || *c == ' ') {
            gap = gap ? gap : (out->len ? " " : NULL);
            c++;
        } else {
            if (gap)
                wf_buf_puts(out, gap);
            gap = NULL;
            if (plen && !strncmp(c, p->password, plen)) {
                wf_buf_puts(out, "***");
                c += plen;
            } else {
                wf_buf_putc(out, *c++);
            }
        }
    }
}

static bool conn_lost(const wf_pg *p)
{
    return PQstatus(p->conn) != CONNECTION_OK;
}

/* A failed statement as WF_ERR_DB: "postgresql: WHAT: MESSAGE". */
int wf_pg_db_fail(wf_pg *p, const PGresult *r, const char *what, wf_err *err)
{
    const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    wf_buf msg = WF_BUF_INIT;
    wf_pg_clean_text(p, primary ? primary : PQerrorMessage(p->conn), &msg);
    int rc = wf_err_set(err, WF_ERR_DB, "postgresql: %s: %s%s", what,
                        conn_lost(p) ? "connection lost: " : "",
                        msg.len ? wf_buf_cstr(&msg) : "out of memory");
    wf_buf_free(&msg);
    return rc;
}

const char *wf_pg_sqlstate(const PGresult *r)
{
    const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return s ? s : "";
}

/* ---- running statements ------------------------------------------------------------ */

bool wf_pg_res_ok(const PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
}

/* One statement with text parameters (NULL: SQL NULL). PQclear the result. */
PGresult *wf_pg_query(wf_pg *p, const char *sql, int n, const char *const *args)
{
    return PQexecParams(p->conn, sql, n, NULL, args, NULL, NULL, 0);
}

/* A statement without parameters (or several, for scripts); true when it succeeded. */
static bool simple(wf_pg *p, const char *sql)
{
    PGresult *r = PQexec(p->conn, sql);
    bool ok = wf_pg_res_ok(r);
    PQclear(r);
    return ok;
}

/* Inside a caller's transaction, a write runs under a savepoint, so that its failure
 * leaves the transaction usable (see the top of the file). */
static bool savepoint(wf_pg *p)
{
    return p->tx_depth > 0 && simple(p, "SAVEPOINT wf_write");
}

static void savepoint_end(wf_pg *p, bool taken, bool ok)
{
    if (taken)
        simple(p, ok ? "RELEASE SAVEPOINT wf_write"
                     : "ROLLBACK TO SAVEPOINT wf_write; RELEASE SAVEPOINT wf_write");
}

PGresult *wf_pg_write_query(wf_pg *p, const char *sql, int n, const char *const *args)
{
    bool taken = savepoint(p);
    PGresult *r = wf_pg_query(p, sql, n, args);
    savepoint_end(p, taken, wf_pg_res_ok(r));
    return r;
}

/* Rows a write changed (PQcmdTuples). */
long wf_pg_changes(PGresult *r)
{
    return strtol(PQcmdTuples(r), NULL, 10);
}

int64_t wf_pg_int64_at(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

void wf_pg_fmt_id(char out[24], int64_t id)
{
    snprintf(out, 24, "%lld", (long long)id);
}

/* Runs a query whose answer is one integer. */
static int query_int64(wf_pg *p, const char *sql, const char *arg, int64_t *out, const char *what,
                       wf_err *err)
{
    PGresult *r = wf_pg_query(p, sql, arg ? 1 : 0, &arg);
    int rc = 0;
    if (!wf_pg_res_ok(r) || PQntuples(r) < 1)
        rc = wf_pg_db_fail(p, r, what, err);
    else
        *out = wf_pg_int64_at(r, 0, 0);
    PQclear(r);
    return rc;
}

/* ---- transactions ------------------------------------------------------------------ */

static void rollback_raw(wf_pg *p)
{
    if (PQtransactionStatus(p->conn) != PQTRANS_IDLE)
        simple(p, "ROLLBACK");
}

static int pg_begin(wf_store *s, wf_err *err)
{
    wf_pg *p = pg(s);
    if (p->tx_depth > 0) {
        p->tx_depth++;
        return 0;
    }
    PGresult *r = PQexec(p->conn, "BEGIN; " WF_PG_LOCK_SQL);
    int rc = wf_pg_res_ok(r) ? 0 : wf_pg_db_fail(p, r, "beginning a transaction", err);
    PQclear(r);
    if (rc) {
        rollback_raw(p);
        return rc;
    }
    p->tx_depth = 1;
    p->tx_doomed = false;
    return 0;
}

static int pg_commit(wf_store *s, wf_err *err)
{
    wf_pg *p = pg(s);
    if (p->tx_depth == 0)
        return wf_err_set(err, WF_ERR_INTERNAL, "postgresql: commit without a transaction");
    if (--p->tx_depth > 0)
        return 0;
    PGTransactionStatusType ts = PQtransactionStatus(p->conn);
    if (p->tx_doomed || ts != PQTRANS_INTRANS) {
        bool doomed = p->tx_doomed;
        p->tx_doomed = false;
        rollback_raw(p);
        if (doomed)
            return wf_err_set(err, WF_ERR_DB,
                              "postgresql: transaction rolled back by an inner step");
        return wf_pg_db_fail(p, NULL, "the transaction failed and was rolled back", err);
    }
    PGresult *r = PQexec(p->conn, "COMMIT");
    int rc = 0;
    if (!wf_pg_res_ok(r))
        rc = wf_pg_db_fail(p, r, "committing", err);
    else if (strcmp(PQcmdStatus(r), "COMMIT") != 0) /* an aborted transaction "commits" */
        rc = wf_err_set(err, WF_ERR_DB, "postgresql: the transaction was rolled back");
    PQclear(r);
    if (rc)
        rollback_raw(p);
    return rc;
}

static void pg_rollback(wf_store *s)
{
    wf_pg *p = pg(s);
    if (p->tx_depth == 0)
        return;
    if (--p->tx_depth > 0) {
        p->tx_doomed = true;
        return;
    }
    p->tx_doomed = false;
    rollback_raw(p);
}

static int pg_exec(wf_store *s, const char *sql, wf_err *err)
{
    wf_pg *p = pg(s);
    bool taken = savepoint(p);
    PGresult *r = PQexec(p->conn, sql);
    bool ok = wf_pg_res_ok(r);
    int rc = ok ? 0 : wf_pg_db_fail(p, r, "exec", err);
    PQclear(r);
    savepoint_end(p, taken, ok);
    return rc;
}

/* ---- reading rows as they are ------------------------------------------------------ */

/* A copy of a text column; dflt (may be NULL) for SQL NULL. *ok turns false when out of
 * memory. */
char *wf_pg_col_dup(const PGresult *r, int row, int col, const char *dflt, bool *ok)
{
    const char *v = PQgetisnull(r, row, col) ? dflt : PQgetvalue(r, row, col);
    if (!v)
        return NULL;
    char *c = strdup(v);
    if (!c)
        *ok = false;
    return c;
}

/* Booleans: t/f from a BOOLEAN column, or 1/true/yes from a hand-made one. */
bool wf_pg_col_bool(const PGresult *r, int row, int col)
{
    static const char *const yes[] = {"1", "t", "true", "y", "yes", "on", NULL};
    const char *v = PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
    for (size_t k = 0; v && yes[k]; k++) {
        if (!strcasecmp(v, yes[k]))
            return true;
    }
    return false;
}

/* A timestamp as ISO 8601 UTC, or its text verbatim when it cannot be read as a time;
 * NULL for SQL NULL. */
char *wf_pg_col_timestamp(const PGresult *r, int row, int col, bool *ok)
{
    char iso[WF_TEXT_ISO_MAX];
    time_t t;
    if (!PQgetisnull(r, row, col) && wf_text_parse_time(PQgetvalue(r, row, col), &t) &&
        wf_text_iso_time(t, -1, iso)) {
        char *c = strdup(iso);
        if (!c)
            *ok = false;
        return c;
    }
    return wf_pg_col_dup(r, row, col, NULL, ok);
}

/* One row of SELECT ENGINE_COLUMNS as a record; NULL when out of memory. */
static wf_engine *engine_from_row(const PGresult *r, int row)
{
    wf_engine *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    bool ok = true;
    e->id = wf_pg_int64_at(r, row, 0);
    e->name = wf_pg_col_dup(r, row, 1, "", &ok);
    e->engine_type = wf_pg_col_dup(r, row, 2, "", &ok);
    e->api_url = wf_pg_col_dup(r, row, 3, "", &ok);
    e->api_key_encrypted = wf_pg_col_dup(r, row, 4, NULL, &ok);
    e->is_active = wf_pg_col_bool(r, row, 5);
    e->config = wf_pg_col_dup(r, row, 6, "{}", &ok);
    e->created_by = wf_pg_int64_at(r, row, 7);
    e->created_at = wf_pg_col_timestamp(r, row, 8, &ok);
    e->updated_at = wf_pg_col_timestamp(r, row, 9, &ok);
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

static int pg_engine_list(wf_store *s, wf_engine ***out, size_t *n, wf_err *err)
{
    wf_pg *p = pg(s);
    *out = NULL;
    *n = 0;
    PGresult *r = wf_pg_query(
        p, "SELECT " ENGINE_COLUMNS " FROM workflow_engines ORDER BY name COLLATE \"C\"", 0, NULL);
    int rc = 0, rows = PQntuples(r);
    wf_engine **v = NULL;
    int len = 0;
    if (!wf_pg_res_ok(r)) {
        rc = wf_pg_db_fail(p, r, "listing engines", err);
        goto done;
    }
    if (rows > 0 && !(v = calloc((size_t)rows, sizeof *v)))
        goto nomem;
    for (; len < rows; len++) {
        if (!(v[len] = engine_from_row(r, len)))
            goto nomem;
    }
    goto done;
nomem:
    rc = wf_err_set(err, WF_ERR_NOMEM, "postgresql: out of memory listing engines");
done:
    PQclear(r);
    if (rc) {
        for (int i = 0; i < len; i++)
            wf_engine_free(v[i]);
        free(v);
        return rc;
    }
    *out = v;
    *n = (size_t)len;
    return 0;
}

static int pg_engine_get(wf_store *s, const char *name, wf_engine **out, wf_err *err)
{
    wf_pg *p = pg(s);
    const char *args[] = {name};
    *out = NULL;
    PGresult *r =
        wf_pg_query(p, "SELECT " ENGINE_COLUMNS " FROM workflow_engines WHERE name = $1", 1, args);
    int rc = 0;
    if (!wf_pg_res_ok(r))
        rc = wf_pg_db_fail(p, r, "reading an engine", err);
    else if (PQntuples(r) == 0)
        rc = wf_err_set(err, WF_ERR_NOT_FOUND, "no engine named '%s'", name);
    else if (!(*out = engine_from_row(r, 0)))
        rc = wf_err_set(err, WF_ERR_NOMEM, "postgresql: out of memory reading an engine");
    PQclear(r);
    return rc;
}

/* A value the database refused (a CHECK, NOT NULL, a too-long text, JSON that is not):
 * WF_ERR_INVALID with the database's words, which name the constraint, not the value. */
bool wf_pg_is_data_error(const char *state)
{
    return !strncmp(state, "22", 2) || !strcmp(state, "23502") || !strcmp(state, "23514");
}

/* What a failed INSERT or UPDATE of an engine means for the caller. */
static int write_fail(wf_pg *p, const PGresult *r, const wf_engine *e, const char *what,
                      wf_err *err)
{
    const char *state = wf_pg_sqlstate(r);
    if (!strcmp(state, "23505"))
        return wf_err_set(err, WF_ERR_CONFLICT, "name: an engine named '%s' already exists",
                          e->name);
    if (!strcmp(state, "23503"))
        return wf_err_set(err, WF_ERR_CONFLICT, "created_by: no user with id %lld",
                          (long long)e->created_by);
    int rc = wf_pg_db_fail(p, r, what, err);
    if (wf_pg_is_data_error(state) && err)
        err->code = rc = WF_ERR_INVALID;
    return rc;
}

static int check_required(const wf_engine *e, wf_err *err)
{
    if (!e->name || !e->engine_type || !e->api_url)
        return wf_err_set(err, WF_ERR_INVALID,
                          "store: an engine needs a name, an engine_type and an api_url");
    return 0;
}

static int pg_engine_insert(wf_store *s, const wf_engine *e, int64_t *id, wf_err *err)
{
    wf_pg *p = pg(s);
    char by[24];
    int rc = check_required(e, err);
    if (rc)
        return rc;
    wf_pg_fmt_id(by, e->created_by);
    const char *args[] = {e->name,
                          e->engine_type,
                          e->api_url,
                          e->api_key_encrypted,
                          e->is_active ? "true" : "false",
                          e->config ? e->config : "{}",
                          e->created_by ? by : NULL};
    PGresult *r = wf_pg_write_query(p,
                                    "INSERT INTO workflow_engines (name, engine_type, api_url,"
                                    " api_key_encrypted, active, config, created_by)"
                                    " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                                    7, args);
    if (!wf_pg_res_ok(r))
        rc = write_fail(p, r, e, "adding an engine", err);
    else if (id)
        *id = wf_pg_int64_at(r, 0, 0);
    PQclear(r);
    return rc;
}

static int pg_engine_update(wf_store *s, int64_t id, const wf_engine *e, wf_err *err)
{
    wf_pg *p = pg(s);
    char ids[24];
    int rc = check_required(e, err);
    if (rc)
        return rc;
    wf_pg_fmt_id(ids, id);
    const char *args[] = {e->name,
                          e->engine_type,
                          e->api_url,
                          e->api_key_encrypted,
                          e->is_active ? "true" : "false",
                          e->config ? e->config : "{}",
                          ids};
    PGresult *r =
        wf_pg_write_query(p,
                          "UPDATE workflow_engines SET name = $1, engine_type = $2,"
                          " api_url = $3, api_key_encrypted = $4, active = $5, config = $6,"
                          " updated_at = now() WHERE id = $7",
                          7, args);
    if (!wf_pg_res_ok(r))
        rc = write_fail(p, r, e, "updating an engine", err);
    else if (wf_pg_changes(r) == 0)
        rc = wf_err_set(err, WF_ERR_NOT_FOUND, "no engine with id %lld", (long long)id);
    PQclear(r);
    return rc;
}

static int pg_engine_delete(wf_store *s, const char *name, wf_err *err)
{
    wf_pg *p = pg(s);
    const char *args[] = {name};
    PGresult *r = wf_pg_write_query(p, "DELETE FROM workflow_engines WHERE name = $1", 1, args);
    int rc = 0;
    if (!wf_pg_res_ok(r))
        rc = wf_pg_db_fail(p, r, "deleting an engine", err);
    else if (wf_pg_changes(r) == 0)
        rc = wf_err_set(err, WF_ERR_NOT_FOUND, "no engine named '%s'", name);
    PQclear(r);
    return rc;
}

static int pg_engine_count(wf_store *s, int64_t *n, wf_err *err)
{
    return query_int64(pg(s), "SELECT count(*) FROM workflow_engines", NULL, n, "counting engines",
                       err);
}

static int pg_engine_swap_key(wf_store *s, int64_t id, const char *old_token, const char *new_token,
                              bool *changed, wf_err *err)
{
    wf_pg *p = pg(s);
    char ids[24];
    *changed = false;
    wf_pg_fmt_id(ids, id);
    const char *args[] = {new_token, ids, old_token};
    /* IS NOT DISTINCT FROM, not =: a NULL old_token matches an engine without a key */
    PGresult *r = wf_pg_write_query(p,
                                    "UPDATE workflow_engines SET api_key_encrypted = $1,"
                                    " updated_at = now() WHERE id = $2"
                                    " AND api_key_encrypted IS NOT DISTINCT FROM $3",
                                    3, args);
    int rc = 0;
    if (!wf_pg_res_ok(r))
        rc = wf_pg_db_fail(p, r, "replacing an engine's key", err);
    else
        *changed = wf_pg_changes(r) > 0;
    PQclear(r);
    return rc;
}

/* ---- schema introspection ---------------------------------------------------------- */

/* The tables of the current schema (the first of search_path), as migrations made them. */
#define TABLE_OID                                                                                  \
    "(SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n"                      \
    " ON n.oid = c.relnamespace WHERE c.relname = $1 AND c.relkind IN ('r', 'p')"                  \
    " AND n.nspname = current_schema())"

static int pg_table_exists(wf_store *s, const char *table, bool *exists, wf_err *err)
{
    int64_t n = 0;
    int rc = query_int64(pg(s), "SELECT count(*) FROM " TABLE_OID " t", table, &n,
                         "reading the schema", err);
    *exists = rc == 0 && n > 0;
    return rc;
}

/* The first column of every row of a query over one text argument. */
static int collect_names(wf_pg *p, const char *sql, const char *arg, char ***names, size_t *n,
                         wf_err *err)
{
    PGresult *r = wf_pg_query(p, sql, 1, &arg);
    char **v = NULL;
    int rc = 0, len = 0, rows = PQntuples(r);
    if (!wf_pg_res_ok(r)) {
        rc = wf_pg_db_fail(p, r, "reading the schema", err);
        goto done;
    }
    if (rows > 0 && !(v = calloc((size_t)rows, sizeof *v)))
        goto nomem;
    for (; len < rows; len++) {
        if (!(v[len] = strdup(PQgetvalue(r, len, 0))))
            goto nomem;
    }
    goto done;
nomem:
    rc = wf_err_set(err, WF_ERR_NOMEM, "postgresql: out of memory reading the schema");
done:
    PQclear(r);
    if (rc) {
        wf_strv_free(v, (size_t)len);
        v = NULL;
        len = 0;
    }
    *names = v;
    *n = (size_t)len;
    return rc;
}

static int pg_table_columns(wf_store *s, const char *table, char ***names, size_t *n, wf_err *err)
{
    return collect_names(pg(s),
                         "SELECT attname FROM pg_catalog.pg_attribute WHERE attrelid = " TABLE_OID
                         " AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                         table, names, n, err);
}

/* Only indexes made by CREATE INDEX, as on SQLite: not those PostgreSQL makes for a
 * PRIMARY KEY or a UNIQUE constraint (workflow_engines_pkey, workflow_engines_name_key). */
#define NAMED_INDEXES                                                                              \
    "SELECT ic.relname FROM pg_catalog.pg_index i"                                                 \
    " JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid"                                        \
    " WHERE i.indrelid = " TABLE_OID " AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k"   \
    " WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid"                                 \
    " AND k.contype IN ('p', 'u', 'x'))"

static int pg_table_indexes(wf_store *s, const char *table, char ***names, size_t *n, wf_err *err)
{
    return collect_names(pg(s), NAMED_INDEXES " ORDER BY 1", table, names, n, err);
}

static int pg_table_unique_indexes(wf_store *s, const char *table, char ***names, size_t *n,
                                   wf_err *err)
{
    return collect_names(pg(s), NAMED_INDEXES " AND i.indisunique ORDER BY 1", table, names, n,
                         err);
}

/* ---- the migrations table ------------------------------------------------------------ */

static int pg_migrations_applied(wf_store *s, wf_migration_row **rows, size_t *n, wf_err *err)
{
    wf_pg *p = pg(s);
    bool exists = false;
    *rows = NULL;
    *n = 0;
    int rc = pg_table_exists(s, "wfreg_migrations", &exists, err);
    if (rc || !exists)
        return rc; /* a database that was never migrated has applied nothing */
    PGresult *r = wf_pg_query(p,
                              "SELECT version, name, checksum, applied_at FROM wfreg_migrations"
                              " ORDER BY length(version), version",
                              0, NULL);
    int len = PQntuples(r);
    wf_migration_row *v = NULL;
    bool ok = true;
    if (!wf_pg_res_ok(r)) {
        rc = wf_pg_db_fail(p, r, "reading wfreg_migrations", err);
        PQclear(r);
        return rc;
    }
    if (len > 0 && !(v = calloc((size_t)len, sizeof *v)))
        ok = false;
    for (int i = 0; ok && i < len; i++) {
        v[i].version = wf_pg_col_dup(r, i, 0, "", &ok);
        v[i].name = wf_pg_col_dup(r, i, 1, "", &ok);
        v[i].checksum = wf_pg_col_dup(r, i, 2, "", &ok);
        v[i].applied_at = wf_pg_col_timestamp(r, i, 3, &ok);
    }
    PQclear(r);
    if (!ok) {
        wf_migration_rows_free(v, v ? (size_t)len : 0);
        return wf_err_set(err, WF_ERR_NOMEM, "postgresql: out of memory reading migrations");
    }
    *rows = v;
    *n = (size_t)len;
    return 0;
}

/* Runs one write statement over text arguments. */
static int run_write(wf_pg *p, const char *sql, int nargs, const char *const *args,
                     const char *what, wf_err *err)
{
    PGresult *r = wf_pg_write_query(p, sql, nargs, args);
    int rc = wf_pg_res_ok(r) ? 0 : wf_pg_db_fail(p, r, what, err);
    PQclear(r);
    return rc;
}

static int pg_migration_record(wf_store *s, const char *version, const char *name,
                               const char *checksum, wf_err *err)
{
    const char *args[] = {version, name, checksum};
    return run_write(pg(s),
                     "INSERT INTO wfreg_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                     3, args, "writing wfreg_migrations", err);
}

static int pg_migration_forget(wf_store *s, const char *version, wf_err *err)
{
    const char *args[] = {version};
    return run_write(pg(s), "DELETE FROM wfreg_migrations WHERE version = $1", 1, args,
                     "writing wfreg_migrations", err);
}

/* ---- changes made by others ---------------------------------------------------------- */

static int pg_data_version(wf_store *s, int64_t *v, wf_err *err)
{
    return query_int64(pg(s), "SELECT version FROM wfreg_state WHERE id = 1", NULL, v,
                       "reading wfreg_state (is the schema at head?)", err);
}

static int pg_listen(wf_store *s, wf_err *err)
{
    wf_pg *p = pg(s);
    PGresult *r = PQexec(p->conn, "LISTEN " WF_STORE_CHANNEL);
    int rc = wf_pg_res_ok(r) ? 0 : wf_pg_db_fail(p, r, "listening for changes", err);
    PQclear(r);
    return rc;
}

static int pg_socket(wf_store *s)
{
    return PQsocket(pg(s)->conn);
}

static unsigned change_of(const char *table)
{
    if (!strcmp(table, "workflow_engines"))
        return WF_STORE_CHANGED_ENGINES;
    if (!strcmp(table, "app_users"))
        return WF_STORE_CHANGED_USERS;
    if (!strcmp(table, "api_tokens"))
        return WF_STORE_CHANGED_TOKENS;
    return WF_STORE_CHANGED_ENGINES | WF_STORE_CHANGED_USERS | WF_STORE_CHANGED_TOKENS;
}

static int pg_notifications(wf_store *s, unsigned *changed, wf_err *err)
{
    wf_pg *p = pg(s);
    PGnotify *note;
    *changed = 0;
    if (!PQconsumeInput(p->conn) || conn_lost(p))
        return wf_pg_db_fail(p, NULL, "reading notifications", err);
    while ((note = PQnotifies(p->conn))) {
        *changed |= change_of(note->extra ? note->extra : "");
        PQfreemem(note);
    }
    return 0;
}

static int pg_ping(wf_store *s, wf_err *err)
{
    wf_pg *p = pg(s);
    PGresult *r = PQexec(p->conn, "SELECT 1");
    int rc = wf_pg_res_ok(r) ? 0 : wf_pg_db_fail(p, r, "ping", err);
    PQclear(r);
    return rc;
}

/* ---- opening and closing ------------------------------------------------------------- */

/* libpq's notices ("relation already exists, skipping" from IF NOT EXISTS) would go to
 * standard error; they are only of interest when debugging. */
static void on_notice(void *arg, const char *message)
{
    wf_buf msg = WF_BUF_INIT;
    wf_pg_clean_text(arg, message, &msg);
    wf_debug("postgresql: %s", wf_buf_cstr(&msg));
    wf_buf_free(&msg);
}

/* libpq's complaint about a string it cannot parse, with every quoted part (which may
 * be a piece of the URL, password included) left out. */
static void unquoted(const char *msg, wf_buf *out)
{
    bool in_quotes = false;
    for (const char *c = msg ? msg : ""; *c; c++) {
        if (*c == '"') {
            if (!in_quotes)
                wf_buf_puts(out, "\"...\"");
            in_quotes = !in_quotes;
        } else if (!in_quotes && *c != '\n') {
            wf_buf_putc(out, *c);
        }
    }
}

/* What every session needs, whatever the server's defaults. */
static int session_setup(wf_pg *p, wf_err *err)
{
    PQsetNoticeProcessor(p->conn, on_notice, p);
    PGresult *r = PQexec(p->conn, "SET TimeZone TO 'UTC'; SET DateStyle TO 'ISO, MDY';"
                                  " SET client_encoding TO 'UTF8'");
    int rc = wf_pg_res_ok(r) ? 0 : wf_pg_db_fail(p, r, "setting up the session", err);
    PQclear(r);
    return rc;
}

/* Why the connection failed. When libpq split the URL otherwise than wfreg masks it (a
 * raw '/', '?' or '@' in the password), its message may quote a piece of the password as
 * a port, a host or a database: then no quoted part is shown. */
static int connect_fail(wf_pg *p, wf_err *err)
{
    wf_buf msg = WF_BUF_INIT, text = WF_BUF_INIT;
    if (p->is_ambiguous)
        unquoted(PQerrorMessage(p->conn), &text);
    wf_pg_clean_text(p, p->is_ambiguous ? wf_buf_cstr(&text) : PQerrorMessage(p->conn), &msg);
    int rc = wf_err_set(err, WF_ERR_DB, "postgresql: cannot connect to %s: %s%s", p->where,
                        msg.len ? wf_buf_cstr(&msg) : "out of memory",
                        p->is_ambiguous ? " (are the password's special characters"
                                          " percent-encoded?)"
                                        : "");
    wf_buf_free(&text);
    wf_buf_free(&msg);
    return rc;
}

static int pg_reconnect(wf_store *s, wf_err *err)
{
    wf_pg *p = pg(s);
    p->tx_depth = 0; /* whatever was open is gone with the old connection */
    p->tx_doomed = false;
    PQreset(p->conn);
    if (PQstatus(p->conn) != CONNECTION_OK)
        return connect_fail(p, err);
    return session_setup(p, err);
}

static void pg_close(wf_store *s)
{
    wf_pg *p = pg(s);
    if (p->conn) {
        if (PQstatus(p->conn) == CONNECTION_OK)
            rollback_raw(p);
        PQfinish(p->conn);
    }
    free(p->where);
    wf_free_secret(p->password);
    free(p);
}

static const wf_store_ops postgres_ops = {
    .name = "postgresql",
    .dialect = "pg",
    .tx_lock_sql = WF_PG_LOCK_SQL,
    .close = pg_close,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .exec = pg_exec,
    .engine_list = pg_engine_list,
    .engine_get = pg_engine_get,
    .engine_insert = pg_engine_insert,
    .engine_update = pg_engine_update,
    .engine_delete = pg_engine_delete,
    .engine_count = pg_engine_count,
    .engine_swap_key = pg_engine_swap_key,
    .table_exists = pg_table_exists,
    .table_columns = pg_table_columns,
    .table_indexes = pg_table_indexes,
    .table_unique_indexes = pg_table_unique_indexes,
    .migrations_applied = pg_migrations_applied,
    .migration_record = pg_migration_record,
    .migration_forget = pg_migration_forget,
    .user_insert = wf_pg_user_insert,
    .user_get = wf_pg_user_get,
    .user_list = wf_pg_user_list,
    .user_update = wf_pg_user_update,
    .token_insert = wf_pg_token_insert,
    .token_list = wf_pg_token_list,
    .token_revoke = wf_pg_token_revoke,
    .token_revoke_hash = wf_pg_token_revoke_hash,
    .audit_insert = wf_pg_audit_insert,
    .audit_list = wf_pg_audit_list,
    .data_version = pg_data_version,
    .ping = pg_ping,
    .reconnect = pg_reconnect,
    .listen = pg_listen,
    .socket = pg_socket,
    .notifications = pg_notifications,
};

/* Whether each secret wfreg masks in url (the text that stands for a "***" of masked)
 * is the password libpq found, so that cutting that password from libpq's messages
 * cuts every piece of it. False when they differ, or when masked cannot be laid over
 * url (a "***" in the URL itself): the safe side. */
static bool secrets_agree(const char *url, const char *masked, const char *password)
{
    const char *mark = strstr(masked, "***");
    if (!mark)
        return true; /* nothing masked: nothing to leak */
    size_t pos = (size_t)(mark - masked), len = strlen(url);
    if (!password || strncmp(url, masked, pos))
        return false;
    for (const char *piece = mark + 3;;) {
        const char *next = strstr(piece, "***");
        size_t plen = next ? (size_t)(next - piece) : strlen(piece);
        const char *found;
        if (next) { /* the next piece, where the secret ends */
            char *want = strndup(piece, plen);
            found = want ? strstr(url + pos, want) : NULL;
            free(want);
        } else { /* the last piece ends the URL */
            found = len - pos >= plen && !strcmp(url + len - plen, piece) ? url + len - plen : NULL;
        }
        if (!found)
            return false;
        wf_buf secret;
        wf_buf_init_secret(&secret);
        wf_config_decode_secret(url + pos, (size_t)(found - url) - pos, &secret);
        bool same = wf_buf_ok(&secret) && !strcmp(wf_buf_cstr(&secret), password);
        wf_buf_wipe(&secret);
        if (!same)
            return false;
        if (!next)
            return true;
        pos = (size_t)(found - url) + plen;
        piece = next + 3;
    }
}

/* Parses the string as libpq will and keeps its password (to cut from messages). */
static int parse_conninfo(wf_pg *p, const char *conninfo, wf_err *err)
{
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &msg);
    if (!opts) {
        wf_buf text = WF_BUF_INIT;
        unquoted(msg, &text);
        int rc = wf_err_set(err, WF_ERR_INVALID,
                            "DATABASE_URL: not a valid PostgreSQL connection string: %s",
                            msg ? wf_buf_cstr(&text) : "out of memory");
        wf_buf_free(&text);
        PQfreemem(msg);
        return rc;
    }
    int rc = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val)
            continue;
        if (!strcmp(o->keyword, "password") && o->val[0] && !(p->password = strdup(o->val)))
            rc = wf_err_set(err, WF_ERR_NOMEM, "postgresql: out of memory");
        if (!strcmp(o->keyword, "password"))
            wf_secure_zero(o->val, strlen(o->val));
    }
    PQconninfoFree(opts);
    return rc;
}

int wf_pg_open(const char *url, wf_store **out, wf_err *err)
{
    wf_buf conninfo = WF_BUF_INIT, where = WF_BUF_INIT;
    wf_pg *p = NULL;
    int rc = 0;
    *out = NULL;
    wf_buf_init_secret(&conninfo);
    /* SQLAlchemy's "postgresql+psycopg2://" is libpq's "postgresql://" */
    const char *plus = !strncmp(url, "postgresql+", 11) ? strstr(url, "://") : NULL;
    if (plus) {
        wf_buf_puts(&conninfo, "postgresql");
        wf_buf_puts(&conninfo, plus);
    } else {
        wf_buf_puts(&conninfo, url);
    }
    wf_config_redact_db_url(url, &where);
    if (!(p = calloc(1, sizeof *p)) || !wf_buf_ok(&conninfo) ||
        !(p->where = wf_buf_detach(&where))) {
        rc = wf_err_set(err, WF_ERR_NOMEM, "postgresql: out of memory");
        goto done;
    }
    p->base.ops = &postgres_ops;
    if ((rc = parse_conninfo(p, wf_buf_cstr(&conninfo), err)))
        goto done;
    p->is_ambiguous = !secrets_agree(url, p->where, p->password);
    /* defaults first, so that the URL (expanded from dbname) overrides them */
    const char *const keys[] = {"connect_timeout", "dbname", "fallback_application_name", NULL};
    const char *const vals[] = {CONNECT_TIMEOUT_S, wf_buf_cstr(&conninfo), "wfreg", NULL};
    p->conn = PQconnectdbParams(keys, vals, 1);
    if (!p->conn) {
        rc = wf_err_set(err, WF_ERR_NOMEM, "postgresql: out of memory");
        goto done;
    }
    if (PQstatus(p->conn) != CONNECTION_OK) {
        rc = connect_fail(p, err);
        goto done;
    }
    rc = session_setup(p, err);
done:
    wf_buf_wipe(&conninfo);
    wf_buf_free(&where);
    if (rc) {
        if (p)
            pg_close(&p->base);
        return rc;
    }
    *out = &p->base;
    return 0;
}
