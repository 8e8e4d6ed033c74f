/*
 * sqlite_auth.c: users, tokens and the audit trail (migration 0003) of the SQLite
 * backend. sqlite.c opens the connection and fills the ops table with these functions;
 * how the backend behaves, and why, is explained at the top of sqlite.c.
 */
#include "backends.h"
#include "store.h"
#include "sqlite_internal.h"

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

/* ---- users, tokens and the audit trail ------------------------------------------------ */

/* Collects every row of a stepped statement into an array of `size`-byte elements:
 * fill makes one element from the current row (false: out of memory), clear releases a
 * filled one. On failure nothing is returned and everything is released. */
typedef bool (*row_fill_fn)(sqlite3_stmt *st, void *elem);
typedef void (*row_clear_fn)(void *elem);

static int collect_rows(wf_sqlite *q, sqlite3_stmt *st, size_t size, row_fill_fn fill,
                        row_clear_fn clear, void **out, size_t *n, const char *what, wf_err *err)
{
    char *v = NULL;
    size_t len = 0, cap = 0;
    int step, rc = 0;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char *nv = realloc(v, ncap * size);
            if (!nv)
                goto nomem;
            v = nv;
            cap = ncap;
        }
        memset(v + len * size, 0, size);
        bool ok = fill(st, v + len * size);
        len++; /* a half-filled element is cleared with the rest */
        if (!ok)
            goto nomem;
    }
    if (step != SQLITE_DONE)
        rc = wf_sqlite_db_fail(q, err, what);
    goto done;
nomem:
    rc = wf_err_set(err, WF_ERR_NOMEM, "sqlite: out of memory %s", what);
done:
    if (rc) {
        for (size_t i = 0; i < len; i++)
            clear(v + i * size);
        free(v);
        v = NULL;
        len = 0;
    }
    *out = v;
    *n = len;
    return rc;
}

/* A time given as ISO 8601 (or any form wf_text_parse_time reads) in the form
 * CURRENT_TIMESTAMP writes, so that stored times compare as text and as datetime(). */
static bool to_db_time(const char *iso, char out[32])
{
    time_t t;
    struct tm tm;
    return wf_text_parse_time(iso, &t) && gmtime_r(&t, &tm) &&
           strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tm) > 0;
}

/* What a failed write to app_users or api_tokens means for the caller. */
static int auth_write_fail(wf_sqlite *q, const char *what, const char *unique_msg, wf_err *err)
{
    switch (sqlite3_extended_errcode(q->db)) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY: return wf_err_set(err, WF_ERR_CONFLICT, "%s", unique_msg);
    case SQLITE_CONSTRAINT_CHECK:
    case SQLITE_CONSTRAINT_NOTNULL:
        return wf_err_set(err, WF_ERR_INVALID, "%s: a value is not allowed (%s)", what,
                          sqlite3_errmsg(q->db));
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return wf_err_set(err, WF_ERR_NOT_FOUND, "%s: no such user", what);
    default: return wf_sqlite_db_fail(q, err, what);
    }
}

#define USER_COLUMNS "id, username, password_hash, role, active, created_at, updated_at"

static bool user_fill(sqlite3_stmt *st, void *elem)
{
    wf_user *u = calloc(1, sizeof *u);
    bool ok = u != NULL;
    *(wf_user **)elem = u;
    if (!u)
        return false;
    u->id = sqlite3_column_int64(st, 0);
    u->username = wf_sqlite_col_dup(st, 1, "", &ok);
    u->password_hash = wf_sqlite_col_dup(st, 2, "", &ok);
    u->role = wf_sqlite_col_dup(st, 3, "", &ok);
    u->is_active = wf_sqlite_col_bool(st, 4);
    u->created_at = wf_sqlite_col_timestamp(st, 5, &ok);
    u->updated_at = wf_sqlite_col_timestamp(st, 6, &ok);
    return ok;
}

static void user_clear(void *elem)
{
    wf_user_free(*(wf_user **)elem);
}

int wf_sqlite_user_insert(wf_store *s, const char *username, const char *password_hash,
                          const char *role, int64_t *id, wf_err *err)
{
    wf_sqlite *q = sq(s);
    sqlite3_stmt *st = NULL;
    int rc = wf_sqlite_prepare(q,
                               "INSERT INTO app_users (username, password_hash, role, active)"
                               " VALUES (?1, ?2, ?3, 1)",
                               &st, err);
    if (rc)
        return rc;
    if (wf_sqlite_bind_text(st, 1, username) != SQLITE_OK ||
        wf_sqlite_bind_text(st, 2, password_hash) != SQLITE_OK ||
        wf_sqlite_bind_text(st, 3, role) != SQLITE_OK) {
        rc = wf_sqlite_db_fail(q, err, "adding a user");
    } else if (sqlite3_step(st) != SQLITE_DONE) {
        char taken[320];
        snprintf(taken, sizeof taken, "username: a user named '%.255s' already exists",
                 username ? username : "");
        rc = auth_write_fail(q, "adding a user", taken, err);
    } else if (id) {
        *id = sqlite3_last_insert_rowid(q->db);
    }
    sqlite3_finalize(st);
    return rc;
}

int wf_sqlite_user_get(wf_store *s, const char *username, wf_user **out, wf_err *err)
{
    wf_sqlite *q = sq(s);
    sqlite3_stmt *st = NULL;
    *out = NULL;
    int rc = wf_sqlite_prepare(q, "SELECT " USER_COLUMNS " FROM app_users WHERE username = ?1", &st,
                               err);
    if (rc)
        return rc;
    int step = wf_sqlite_bind_text(st, 1, username) == SQLITE_OK ? sqlite3_step(st) : SQLITE_ERROR;
    if (step == SQLITE_DONE) {
        rc = wf_err_set(err, WF_ERR_NOT_FOUND, "no user named '%.255s'", username);
    } else if (step != SQLITE_ROW) {
        rc = wf_sqlite_db_fail(q, err, "reading a user");
    } else if (!user_fill(st, out)) {
        wf_user_free(*out);
        *out = NULL;
        rc = wf_err_set(err, WF_ERR_NOMEM, "sqlite: out of memory reading a user");
    }
    sqlite3_finalize(st);
    return rc;
}

int wf_sqlite_user_list(wf_store *s, wf_user ***out, size_t *n, wf_err *err)
{
    wf_sqlite *q = sq(s);
    sqlite3_stmt *st = NULL;
    void *v = NULL;
    *out = NULL;
    *n = 0;
    int rc =
        wf_sqlite_prepare(q, "SELECT " USER_COLUMNS " FROM app_users ORDER BY username", &st, err);
    if (rc == 0)
        rc = collect_rows(q, st, sizeof(wf_user *), user_fill, user_clear, &v, n, "listing users",
                          err);
    sqlite3_finalize(st);
    *out = v;
    return rc;
}

int wf_sqlite_user_update(wf_store *s, const wf_user *u, wf_err *err)
{
    wf_sqlite *q = sq(s);
    sqlite3_stmt *st = NULL;
    int rc = wf_sqlite_prepare(q,
                               "UPDATE app_users SET password_hash = ?1, role = ?2, active = ?3,"
                               " updated_at = CURRENT_TIMESTAMP WHERE id = ?4",
                               &st, err);
    if (rc)
        return rc;
    if (wf_sqlite_bind_text(st, 1, u->password_hash) != SQLITE_OK ||
        wf_sqlite_bind_text(st, 2, u->role) != SQLITE_OK ||
        sqlite3_bind_int(st, 3, u->is_active ? 1 : 0) != SQLITE_OK ||
        sqlite3_bind_int64(st, 4, u->id) != SQLITE_OK)
        rc = wf_sqlite_db_fail(q, err, "updating a user");
    else if (sqlite3_step(st) != SQLITE_DONE)
        rc = auth_write_fail(q, "updating a user", "username: taken", err);
    else if (sqlite3_changes(q->db) == 0)
        rc = wf_err_set(err, WF_ERR_NOT_FOUND, "no user with id %lld", (long long)u->id);
    sqlite3_finalize(st);
    return rc;
}

int wf_sqlite_token_insert(wf_store *s, int64_t user_id, const char *kind, const char *label,
                           const char *token_hash, const char *expires_at, int64_t *id, wf_err *err)
{
    wf_sqlite *q = sq(s);
    sqlite3_stmt *st = NULL;
    char expires[32];
    if (expires_at && !to_db_time(expires_at, expires))
        return wf_err_set(err, WF_ERR_INVALID, "expires_at: not an ISO 8601 time");
    int rc =
        wf_sqlite_prepare(q,
                          "INSERT INTO api_tokens (user_id, kind, label, token_hash, expires_at)"
                          " VALUES (?1, ?2, ?3, ?4, ?5)",
                          &st, err);
    if (rc)
        return rc;
    if (sqlite3_bind_int64(st, 1, user_id) != SQLITE_OK ||
        wf_sqlite_bind_text(st, 2, kind) != SQLITE_OK ||
        wf_sqlite_bind_text(st, 3, label) != SQLITE_OK ||
        wf_sqlite_bind_text(st, 4, token_hash) != SQLITE_OK ||
        wf_sqlite_bind_text(st, 5, expires_at ? expires : NULL) != SQLITE_OK)
        rc = wf_sqlite_db_fail(q, err, "adding a token");
    else if (sqlite3_step(st) != SQLITE_DONE)
        rc = auth_write_fail(q, "adding a token", "token: already stored", err);
    else if (id)
        *id = sqlite3_last_insert_rowid(q->db);
    sqlite3_finalize(st);
    return rc;
}

static bool token_fill(sqlite3_stmt *st, void *elem)
{
    wf_token_row *t = elem;
    bool ok = true;
    t->id = sqlite3_column_int64(st, 0);
    t->user_id = sqlite3_column_int64(st, 1);
    t->kind = wf_sqlite_col_dup(st, 2, "", &ok);
    t->label = wf_sqlite_col_dup(st, 3, NULL, &ok);
    t->token_hash = wf_sqlite_col_dup(st, 4, "", &ok);
    t->created_at = wf_sqlite_col_timestamp(st, 5, &ok);
    t->expires_at = wf_sqlite_col_timestamp(st, 6, &ok);
    t->revoked_at = wf_sqlite_col_timestamp(st, 7, &ok);
    t->username = wf_sqlite_col_dup(st, 8, "", &ok);
    t->role = wf_sqlite_col_dup(st, 9, "", &ok);
    t->user_active = wf_sqlite_col_bool(st, 10);
    return ok;
}

static void token_clear(void *elem)
{
    wf_token_row *t = elem;
    free(t->kind);
    free(t->label);
    free(t->token_hash);
    free(t->created_at);
    free(t->expires_at);
    free(t->revoked_at);
    free(t->username);
    free(t->role);
}

/* Drops the rows of disabled users. In C rather than SQL so that "active" means what
 * col_bool says, whatever a hand-made row holds. */
static void drop_inactive(wf_token_row *v, size_t *n)
{
    size_t kept = 0;
    for (size_t i = 0; i < *n; i++) {
        if (v[i].user_active)
            v[kept++] = v[i];
        else
            token_clear(&v[i]);
    }
    *n = kept;
}

int wf_sqlite_token_list(wf_store *s, bool all, wf_token_row **out, size_t *n, wf_err *err)
{
    wf_sqlite *q = sq(s);
    sqlite3_stmt *st = NULL;
    void *v = NULL;
    *out = NULL;
    *n = 0;
    /* datetime() reads any stored form; a time it cannot read makes the token unusable */
    int rc =
        wf_sqlite_prepare(q,
                          "SELECT t.id, t.user_id, t.kind, t.label, t.token_hash, t.created_at,"
                          " t.expires_at, t.revoked_at, u.username, u.role, u.active"
                          " FROM api_tokens t JOIN app_users u ON u.id = t.user_id"
                          " WHERE ?1 OR (t.revoked_at IS NULL AND (t.expires_at IS NULL"
                          " OR datetime(t.expires_at) > datetime('now')))"
                          " ORDER BY t.id",
                          &st, err);
    if (rc)
        return rc;
    if (sqlite3_bind_int(st, 1, all ? 1 : 0) != SQLITE_OK)
        rc = wf_sqlite_db_fail(q, err, "listing tokens");
    else
        rc = collect_rows(q, st, sizeof(wf_token_row), token_fill, token_clear, &v, n,
                          "listing tokens", err);
    sqlite3_finalize(st);
    if (rc == 0 && !all)
        drop_inactive(v, n);
    *out = v;
    return rc;
}

/* Revokes the unrevoked token with that hash (when hash is given) or that id. An expired
 * token that was never revoked can still be revoked: harmless, and what an operator
 * cleaning up expects. */
static int token_revoke_by(wf_sqlite *q, int64_t id, const char *hash, wf_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = wf_sqlite_prepare(q,
                               hash ? "UPDATE api_tokens SET revoked_at = CURRENT_TIMESTAMP"
                                      " WHERE token_hash = ?1 AND revoked_at IS NULL"
                                    : "UPDATE api_tokens SET revoked_at = CURRENT_TIMESTAMP"
                                      " WHERE id = ?1 AND revoked_at IS NULL",
                               &st, err);
    if (rc)
        return rc;
    int b = hash ? wf_sqlite_bind_text(st, 1, hash) : sqlite3_bind_int64(st, 1, id);
    if (b != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
        rc = wf_sqlite_db_fail(q, err, "revoking a token");
    else if (sqlite3_changes(q->db) == 0 && hash)
        rc = wf_err_set(err, WF_ERR_NOT_FOUND, "token: not found or already revoked");
    else if (sqlite3_changes(q->db) == 0)
        rc = wf_err_set(err, WF_ERR_NOT_FOUND, "no live token with id %lld", (long long)id);
    sqlite3_finalize(st);
    return rc;
}

int wf_sqlite_token_revoke(wf_store *s, int64_t id, wf_err *err)
{
    return token_revoke_by(sq(s), id, NULL, err);
}

int wf_sqlite_token_revoke_hash(wf_store *s, const char *token_hash, wf_err *err)
{
    if (!token_hash)
        return wf_err_set(err, WF_ERR_INVALID, "token: missing");
    return token_revoke_by(sq(s), 0, token_hash, err);
}

static int bind_id_or_null(sqlite3_stmt *st, int i, int64_t id)
{
    return id > 0 ? sqlite3_bind_int64(st, i, id) : sqlite3_bind_null(st, i);
}

int wf_sqlite_audit_insert(wf_store *s, const wf_audit_row *a, wf_err *err)
{
    wf_sqlite *q = sq(s);
    sqlite3_stmt *st = NULL;
    if (!a->actor || !a->action || !a->engine_name)
        return wf_err_set(err, WF_ERR_INVALID,
                          "store: an audit row needs an actor, an action and an engine_name");
    /* no transaction of its own: inside the caller's, or one statement on its own */
    int rc =
        wf_sqlite_prepare(q,
                          "INSERT INTO audit_log (actor_id, actor, action, engine_id, engine_name,"
                          " fields) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                          &st, err);
    if (rc)
        return rc;
    int b = bind_id_or_null(st, 1, a->actor_id);
    if (b == SQLITE_OK)
        b = wf_sqlite_bind_text(st, 2, a->actor);
    if (b == SQLITE_OK)
        b = wf_sqlite_bind_text(st, 3, a->action);
    if (b == SQLITE_OK)
        b = bind_id_or_null(st, 4, a->engine_id);
    if (b == SQLITE_OK)
        b = wf_sqlite_bind_text(st, 5, a->engine_name);
    if (b == SQLITE_OK)
        b = wf_sqlite_bind_text(st, 6, a->fields ? a->fields : "[]");
    if (b != SQLITE_OK)
        rc = wf_sqlite_db_fail(q, err, "writing the audit log");
    else if (sqlite3_step(st) != SQLITE_DONE)
        rc = sqlite3_extended_errcode(q->db) == SQLITE_CONSTRAINT_FOREIGNKEY
                 ? wf_err_set(err, WF_ERR_NOT_FOUND, "audit: no user with id %lld",
                              (long long)a->actor_id)
                 : wf_sqlite_db_fail(q, err, "writing the audit log");
    sqlite3_finalize(st);
    return rc;
}

static bool audit_fill(sqlite3_stmt *st, void *elem)
{
    wf_audit_row *a = elem;
    bool ok = true;
    a->id = sqlite3_column_int64(st, 0);
    a->created_at = wf_sqlite_col_timestamp(st, 1, &ok);
    a->actor_id = sqlite3_column_int64(st, 2); /* NULL reads as 0 */
    a->actor = wf_sqlite_col_dup(st, 3, "", &ok);
    a->action = wf_sqlite_col_dup(st, 4, "", &ok);
    a->engine_id = sqlite3_column_int64(st, 5);
    a->engine_name = wf_sqlite_col_dup(st, 6, "", &ok);
    a->fields = wf_sqlite_col_dup(st, 7, "[]", &ok);
    return ok;
}

static void audit_clear(void *elem)
{
    wf_audit_row *a = elem;
    free(a->created_at);
    free(a->actor);
    free(a->action);
    free(a->engine_name);
    free(a->fields);
}

int wf_sqlite_audit_list(wf_store *s, int64_t engine_id, const char *engine_name, int limit,
                         wf_audit_row **out, size_t *n, wf_err *err)
{
    wf_sqlite *q = sq(s);
    sqlite3_stmt *st = NULL;
    void *v = NULL;
    *out = NULL;
    *n = 0;
    /* the engine's id survives renames, so by id is the whole history of one engine */
    int rc = wf_sqlite_prepare(q,
                               engine_id > 0
                                   ? "SELECT id, created_at, actor_id, actor, action, engine_id,"
                                     " engine_name, fields FROM audit_log WHERE engine_id = ?1"
                                     " ORDER BY id DESC LIMIT ?2"
                                   : "SELECT id, created_at, actor_id, actor, action, engine_id,"
                                     " engine_name, fields FROM audit_log WHERE engine_name = ?1"
                                     " ORDER BY id DESC LIMIT ?2",
                               &st, err);
    if (rc)
        return rc;
    int b = engine_id > 0 ? sqlite3_bind_int64(st, 1, engine_id)
                          : wf_sqlite_bind_text(st, 1, engine_name);
    if (b == SQLITE_OK)
        b = sqlite3_bind_int(st, 2, limit > 0 ? limit : -1); /* negative: no limit */
    if (b != SQLITE_OK)
        rc = wf_sqlite_db_fail(q, err, "reading the audit log");
    else
        rc = collect_rows(q, st, sizeof(wf_audit_row), audit_fill, audit_clear, &v, n,
                          "reading the audit log", err);
    sqlite3_finalize(st);
    *out = v;
    return rc;
}
