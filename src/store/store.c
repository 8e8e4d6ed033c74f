/*
 * store.c: the generic face of the store. wf_store_open picks a backend by the scheme
 * of DATABASE_URL; every other function forwards to the backend's ops table, so that
 * the rest of wfreg never knows which database it talks to.
 *
 * DATABASE_URL may carry a password (postgresql://user:secret@host/db): no message
 * made here ever contains the URL, and postgres.c masks it in its own.
 */
#include "store.h"
#include "backends.h"

#include "../core/buf.h"

#include <stdlib.h>
#include <string.h>

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The path inside a "sqlite:" URL. "sqlite:PATH" is wfreg's form (PATH relative or
 * absolute, ":memory:" for tests); "sqlite:///rel.db" and "sqlite:////abs.db" are
 * SQLAlchemy's, accepted so that the earlier Python system's URL keeps working. */
static const char *sqlite_path(const char *url)
{
    const char *p = url + strlen("sqlite:");
    if (has_prefix(p, "///"))
        return p + 3;
    if (has_prefix(p, "//"))
        return NULL; /* a host part: not a file */
    return p;
}

/* A libpq "key=value ..." string: it starts with a keyword and an '=' ("host=db
 * dbname=wfreg"), which no URL or path does. */
static bool is_keyword_value(const char *s)
{
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz_");
    while (n > 0 && s[n] == ' ')
        n++;
    return n > 0 && s[n] == '=';
}

static int open_url(const char *database_url, bool create, wf_store **out, wf_err *err)
{
    *out = NULL;
    if (!database_url || !database_url[0])
        return wf_err_set(err, WF_ERR_INVALID, "DATABASE_URL: is empty");
    if (has_prefix(database_url, "sqlite:")) {
        const char *path = sqlite_path(database_url);
        if (!path || !path[0])
            return wf_err_set(err, WF_ERR_INVALID,
                              "DATABASE_URL: sqlite: must be followed by a file path");
        return wf_sqlite_open(path, create, out, err);
    }
    (void)create; /* PostgreSQL never creates a database: opening only connects */
    if (has_prefix(database_url, "postgresql://") || has_prefix(database_url, "postgres://") ||
        has_prefix(database_url, "postgresql+") || is_keyword_value(database_url))
        return wf_pg_open(database_url, out, err);
    return wf_err_set(err, WF_ERR_INVALID,
                      "DATABASE_URL: must start with sqlite: or postgresql://");
}

int wf_store_open(const char *database_url, wf_store **out, wf_err *err)
{
    return open_url(database_url, true, out, err);
}

int wf_store_open_existing(const char *database_url, wf_store **out, wf_err *err)
{
    return open_url(database_url, false, out, err);
}

void wf_store_close(wf_store *s)
{
    if (s)
        s->ops->close(s);
}

const char *wf_store_dialect(const wf_store *s)
{
    return s->ops->dialect;
}

const char *wf_store_tx_lock_sql(const wf_store *s)
{
    return s->ops->tx_lock_sql;
}

/* A backend may leave an operation out (NULL) while it is being written. */
#define WF_STORE_CALL(s, op, err, ...)                                                             \
    ((s)->ops->op ? (s)->ops->op((s), __VA_ARGS__)                                                 \
                  : wf_err_set((err), WF_ERR_INTERNAL, "store %s: %s is not implemented",          \
                               (s)->ops->name, #op))

int wf_store_begin(wf_store *s, wf_err *err)
{
    return WF_STORE_CALL(s, begin, err, err);
}

int wf_store_commit(wf_store *s, wf_err *err)
{
    return WF_STORE_CALL(s, commit, err, err);
}

void wf_store_rollback(wf_store *s)
{
    if (s && s->ops->rollback)
        s->ops->rollback(s);
}

int wf_store_exec(wf_store *s, const char *sql, wf_err *err)
{
    return WF_STORE_CALL(s, exec, err, sql, err);
}

int wf_store_engine_list(wf_store *s, wf_engine ***out, size_t *n, wf_err *err)
{
    return WF_STORE_CALL(s, engine_list, err, out, n, err);
}

int wf_store_engine_get(wf_store *s, const char *name, wf_engine **out, wf_err *err)
{
    return WF_STORE_CALL(s, engine_get, err, name, out, err);
}

int wf_store_engine_insert(wf_store *s, const wf_engine *e, int64_t *id, wf_err *err)
{
    return WF_STORE_CALL(s, engine_insert, err, e, id, err);
}

int wf_store_engine_update(wf_store *s, int64_t id, const wf_engine *e, wf_err *err)
{
    return WF_STORE_CALL(s, engine_update, err, id, e, err);
}

int wf_store_engine_delete(wf_store *s, const char *name, wf_err *err)
{
    return WF_STORE_CALL(s, engine_delete, err, name, err);
}

int wf_store_engine_count(wf_store *s, int64_t *n, wf_err *err)
{
    return WF_STORE_CALL(s, engine_count, err, n, err);
}

int wf_store_engine_swap_key(wf_store *s, int64_t id, const char *old_token, const char *new_token,
                             bool *changed, wf_err *err)
{
    return WF_STORE_CALL(s, engine_swap_key, err, id, old_token, new_token, changed, err);
}

int wf_store_table_exists(wf_store *s, const char *table, bool *exists, wf_err *err)
{
    return WF_STORE_CALL(s, table_exists, err, table, exists, err);
}

int wf_store_table_columns(wf_store *s, const char *table, char ***names, size_t *n, wf_err *err)
{
    return WF_STORE_CALL(s, table_columns, err, table, names, n, err);
}

int wf_store_table_indexes(wf_store *s, const char *table, char ***names, size_t *n, wf_err *err)
{
    return WF_STORE_CALL(s, table_indexes, err, table, names, n, err);
}

int wf_store_table_unique_indexes(wf_store *s, const char *table, char ***names, size_t *n,
                                  wf_err *err)
{
    return WF_STORE_CALL(s, table_unique_indexes, err, table, names, n, err);
}

int wf_store_migrations_applied(wf_store *s, wf_migration_row **rows, size_t *n, wf_err *err)
{
    return WF_STORE_CALL(s, migrations_applied, err, rows, n, err);
}

int wf_store_migration_record(wf_store *s, const char *version, const char *name,
                              const char *checksum, wf_err *err)
{
    return WF_STORE_CALL(s, migration_record, err, version, name, checksum, err);
}

int wf_store_migration_forget(wf_store *s, const char *version, wf_err *err)
{
    return WF_STORE_CALL(s, migration_forget, err, version, err);
}

int wf_store_user_insert(wf_store *s, const char *username, const char *password_hash,
                         const char *role, int64_t *id, wf_err *err)
{
    return WF_STORE_CALL(s, user_insert, err, username, password_hash, role, id, err);
}

int wf_store_user_get(wf_store *s, const char *username, wf_user **out, wf_err *err)
{
    return WF_STORE_CALL(s, user_get, err, username, out, err);
}

int wf_store_user_list(wf_store *s, wf_user ***out, size_t *n, wf_err *err)
{
    return WF_STORE_CALL(s, user_list, err, out, n, err);
}

int wf_store_user_update(wf_store *s, const wf_user *u, wf_err *err)
{
    return WF_STORE_CALL(s, user_update, err, u, err);
}

int wf_store_token_insert(wf_store *s, int64_t user_id, const char *kind, const char *label,
                          const char *token_hash, const char *expires_at, int64_t *id, wf_err *err)
{
    return WF_STORE_CALL(s, token_insert, err, user_id, kind, label, token_hash, expires_at, id,
                         err);
}

int wf_store_token_list(wf_store *s, bool all, wf_token_row **out, size_t *n, wf_err *err)
{
    return WF_STORE_CALL(s, token_list, err, all, out, n, err);
}

int wf_store_token_revoke(wf_store *s, int64_t id, wf_err *err)
{
    return WF_STORE_CALL(s, token_revoke, err, id, err);
}

int wf_store_token_revoke_hash(wf_store *s, const char *token_hash, wf_err *err)
{
    return WF_STORE_CALL(s, token_revoke_hash, err, token_hash, err);
}

int wf_store_audit_insert(wf_store *s, const wf_audit_row *a, wf_err *err)
{
    return WF_STORE_CALL(s, audit_insert, err, a, err);
}

int wf_store_audit_list(wf_store *s, int64_t engine_id, const char *engine_name, int limit,
                        wf_audit_row **out, size_t *n, wf_err *err)
{
    return WF_STORE_CALL(s, audit_list, err, engine_id, engine_name, limit, out, n, err);
}

int wf_store_data_version(wf_store *s, int64_t *v, wf_err *err)
{
    return WF_STORE_CALL(s, data_version, err, v, err);
}

/* The optional operations: a backend without them has nothing to do there. */

int wf_store_ping(wf_store *s, wf_err *err)
{
    return s->ops->ping ? s->ops->ping(s, err) : 0;
}

int wf_store_reconnect(wf_store *s, wf_err *err)
{
    return s->ops->reconnect ? s->ops->reconnect(s, err) : 0;
}

bool wf_store_read_only(wf_store *s, bool *writable_now)
{
    if (writable_now)
        *writable_now = false;
    return s->ops->read_only ? s->ops->read_only(s, writable_now) : false;
}

int wf_store_listen(wf_store *s, wf_err *err)
{
    return s->ops->listen ? s->ops->listen(s, err) : 0;
}

int wf_store_socket(wf_store *s)
{
    return s->ops->socket ? s->ops->socket(s) : -1;
}

int wf_store_notifications(wf_store *s, unsigned *changed, wf_err *err)
{
    *changed = 0;
    return s->ops->notifications ? s->ops->notifications(s, changed, err) : 0;
}

void wf_strv_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void wf_migration_rows_free(wf_migration_row *rows, size_t n)
{
    if (!rows)
        return;
    for (size_t i = 0; i < n; i++) {
        free(rows[i].version);
        free(rows[i].name);
        free(rows[i].checksum);
        free(rows[i].applied_at);
    }
    free(rows);
}

void wf_user_free(wf_user *u)
{
    if (!u)
        return;
    free(u->username);
    wf_free_secret(u->password_hash); /* a hash, but one an attacker could grind on */
    free(u->role);
    free(u->created_at);
    free(u->updated_at);
    free(u);
}

void wf_token_rows_free(wf_token_row *rows, size_t n)
{
    if (!rows)
        return;
    for (size_t i = 0; i < n; i++) {
        free(rows[i].kind);
        free(rows[i].label);
        free(rows[i].token_hash);
        free(rows[i].created_at);
        free(rows[i].expires_at);
        free(rows[i].revoked_at);
        free(rows[i].username);
        free(rows[i].role);
    }
    free(rows);
}

void wf_audit_rows_free(wf_audit_row *rows, size_t n)
{
    if (!rows)
        return;
    for (size_t i = 0; i < n; i++) {
        free(rows[i].created_at);
        free(rows[i].actor);
        free(rows[i].action);
        free(rows[i].engine_name);
        free(rows[i].fields);
    }
    free(rows);
}
