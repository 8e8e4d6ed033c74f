/*
 * postgres_auth.c: users, tokens and the audit trail (migration 0003) of the PostgreSQL
 * backend. postgres.c opens the connection and fills the ops table with these functions;
 * how the backend behaves, and why, is explained at the top of postgres.c.
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

/* ---- users, tokens and the audit trail ------------------------------------------------ */

#define USER_COLUMNS "id, username, password_hash, role, active, created_at, updated_at"

/* What a failed write to app_users, api_tokens or audit_log means for the caller. */
static int auth_write_fail(wf_pg *p, const PGresult *r, const char *what, const char *unique_msg,
                           wf_err *err)
{
    const char *state = wf_pg_sqlstate(r);
    if (!strcmp(state, "23505"))
        return wf_err_set(err, WF_ERR_CONFLICT, "%s", unique_msg);
    if (!strcmp(state, "23503"))
        return wf_err_set(err, WF_ERR_NOT_FOUND, "%s: no such user", what);
    if (wf_pg_is_data_error(state)) {
        wf_buf msg = WF_BUF_INIT;
        wf_pg_clean_text(p, PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY), &msg);
        int rc = wf_err_set(err, WF_ERR_INVALID, "%s: a value is not allowed (%s)", what,
                            wf_buf_cstr(&msg));
        wf_buf_free(&msg);
        return rc;
    }
    return wf_pg_db_fail(p, r, what, err);
}

static wf_user *user_from_row(const PGresult *r, int row)
{
    wf_user *u = calloc(1, sizeof *u);
    bool ok = u != NULL;
    if (!u)
        return NULL;
    u->id = wf_pg_int64_at(r, row, 0);
    u->username = wf_pg_col_dup(r, row, 1, "", &ok);
    u->password_hash = wf_pg_col_dup(r, row, 2, "", &ok);
    u->role = wf_pg_col_dup(r, row, 3, "", &ok);
    u->is_active = wf_pg_col_bool(r, row, 4);
    u->created_at = wf_pg_col_timestamp(r, row, 5, &ok);
    u->updated_at = wf_pg_col_timestamp(r, row, 6, &ok);
    if (!ok) {
        wf_user_free(u);
        return NULL;
    }
    return u;
}

int wf_pg_user_insert(wf_store *s, const char *username, const char *password_hash,
                      const char *role, int64_t *id, wf_err *err)
{
    wf_pg *p = pg(s);
    const char *args[] = {username, password_hash, role};
    PGresult *r = wf_pg_write_query(p,
                                    "INSERT INTO app_users (username, password_hash, role, active)"
                                    " VALUES ($1, $2, $3, true) RETURNING id",
                                    3, args);
    int rc = 0;
    if (!wf_pg_res_ok(r)) {
        char taken[320];
        snprintf(taken, sizeof taken, "username: a user named '%.255s' already exists",
                 username ? username : "");
        rc = auth_write_fail(p, r, "adding a user", taken, err);
    } else if (id) {
        *id = wf_pg_int64_at(r, 0, 0);
    }
    PQclear(r);
    return rc;
}

int wf_pg_user_get(wf_store *s, const char *username, wf_user **out, wf_err *err)
{
    wf_pg *p = pg(s);
    const char *args[] = {username};
    *out = NULL;
    PGresult *r =
        wf_pg_query(p, "SELECT " USER_COLUMNS " FROM app_users WHERE username = $1", 1, args);
    int rc = 0;
    if (!wf_pg_res_ok(r))
        rc = wf_pg_db_fail(p, r, "reading a user", err);
    else if (PQntuples(r) == 0)
        rc = wf_err_set(err, WF_ERR_NOT_FOUND, "no user named '%.255s'", username);
    else if (!(*out = user_from_row(r, 0)))
        rc = wf_err_set(err, WF_ERR_NOMEM, "postgresql: out of memory reading a user");
    PQclear(r);
    return rc;
}

int wf_pg_user_list(wf_store *s, wf_user ***out, size_t *n, wf_err *err)
{
    wf_pg *p = pg(s);
    *out = NULL;
    *n = 0;
    PGresult *r = wf_pg_query(
        p, "SELECT " USER_COLUMNS " FROM app_users ORDER BY username COLLATE \"C\"", 0, NULL);
    int rc = 0, len = 0, rows = PQntuples(r);
    wf_user **v = NULL;
    if (!wf_pg_res_ok(r)) {
        rc = wf_pg_db_fail(p, r, "listing users", err);
        goto done;
    }
    if (rows > 0 && !(v = calloc((size_t)rows, sizeof *v)))
        goto nomem;
    for (; len < rows; len++) {
        if (!(v[len] = user_from_row(r, len)))
            goto nomem;
    }
    goto done;
nomem:
    rc = wf_err_set(err, WF_ERR_NOMEM, "postgresql: out of memory listing users");
done:
    PQclear(r);
    if (rc) {
        for (int i = 0; i < len; i++)
            wf_user_free(v[i]);
        free(v);
        return rc;
    }
    *out = v;
    *n = (size_t)len;
    return 0;
}

int wf_pg_user_update(wf_store *s, const wf_user *u, wf_err *err)
{
    wf_pg *p = pg(s);
    char ids[24];
    wf_pg_fmt_id(ids, u->id);
    const char *args[] = {u->password_hash, u->role, u->is_active ? "true" : "false", ids};
    PGresult *r =
        wf_pg_write_query(p,
                          "UPDATE app_users SET password_hash = $1, role = $2, active = $3,"
                          " updated_at = now() WHERE id = $4",
                          4, args);
    int rc = 0;
    if (!wf_pg_res_ok(r))
        rc = auth_write_fail(p, r, "updating a user", "username: taken", err);
    else if (wf_pg_changes(r) == 0)
        rc = wf_err_set(err, WF_ERR_NOT_FOUND, "no user with id %lld", (long long)u->id);
    PQclear(r);
    return rc;
}

/* A time given as ISO 8601 (or any form wf_text_parse_time reads) as a UTC TIMESTAMP. */
static bool to_db_time(const char *iso, char out[32])
{
    time_t t;
    struct tm tm;
    return wf_text_parse_time(iso, &t) && gmtime_r(&t, &tm) &&
           strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tm) > 0;
}

int wf_pg_token_insert(wf_store *s, int64_t user_id, const char *kind, const char *label,
                       const char *token_hash, const char *expires_at, int64_t *id, wf_err *err)
{
    wf_pg *p = pg(s);
    char expires[32], uid[24];
    if (expires_at && !to_db_time(expires_at, expires))
        return wf_err_set(err, WF_ERR_INVALID, "expires_at: not an ISO 8601 time");
    wf_pg_fmt_id(uid, user_id);
    const char *args[] = {uid, kind, label, token_hash, expires_at ? expires : NULL};
    PGresult *r = wf_pg_write_query(p,
                                    "INSERT INTO api_tokens (user_id, kind, label, token_hash,"
                                    " expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                                    5, args);
    int rc = 0;
    if (!wf_pg_res_ok(r))
        rc = auth_write_fail(p, r, "adding a token", "token: already stored", err);
    else if (id)
        *id = wf_pg_int64_at(r, 0, 0);
    PQclear(r);
    return rc;
}

static bool token_fill(const PGresult *r, int row, wf_token_row *t)
{
    bool ok = true;
    t->id = wf_pg_int64_at(r, row, 0);
    t->user_id = wf_pg_int64_at(r, row, 1);
    t->kind = wf_pg_col_dup(r, row, 2, "", &ok);
    t->label = wf_pg_col_dup(r, row, 3, NULL, &ok);
    t->token_hash = wf_pg_col_dup(r, row, 4, "", &ok);
    t->created_at = wf_pg_col_timestamp(r, row, 5, &ok);
    t->expires_at = wf_pg_col_timestamp(r, row, 6, &ok);
    t->revoked_at = wf_pg_col_timestamp(r, row, 7, &ok);
    t->username = wf_pg_col_dup(r, row, 8, "", &ok);
    t->role = wf_pg_col_dup(r, row, 9, "", &ok);
    t->user_active = wf_pg_col_bool(r, row, 10);
    return ok;
}

/* Releases what token_fill made and zeroes the row. */
static void token_clear(wf_token_row *t)
{
    free(t->kind);
    free(t->label);
    free(t->token_hash);
    free(t->created_at);
    free(t->expires_at);
    free(t->revoked_at);
    free(t->username);
    free(t->role);
    memset(t, 0, sizeof *t);
}

int wf_pg_token_list(wf_store *s, bool all, wf_token_row **out, size_t *n, wf_err *err)
{
    wf_pg *p = pg(s);
    const char *args[] = {all ? "true" : "false"};
    *out = NULL;
    *n = 0;
    /* the UTC wall time, whatever the session's zone, to compare with TIMESTAMP columns;
     * disabled users are dropped in C, where "active" means what col_bool says */
    PGresult *r =
        wf_pg_query(p,
                    "SELECT t.id, t.user_id, t.kind, t.label, t.token_hash, t.created_at,"
                    " t.expires_at, t.revoked_at, u.username, u.role, u.active"
                    " FROM api_tokens t JOIN app_users u ON u.id = t.user_id"
                    " WHERE $1::boolean OR (t.revoked_at IS NULL AND (t.expires_at IS NULL"
                    " OR t.expires_at > (now() AT TIME ZONE 'UTC')))"
                    " ORDER BY t.id",
                    1, args);
    int rows = PQntuples(r);
    size_t kept = 0;
    wf_token_row *v = NULL;
    bool ok = true;
    if (!wf_pg_res_ok(r)) {
        int rc = wf_pg_db_fail(p, r, "listing tokens", err);
        PQclear(r);
        return rc;
    }
    if (rows > 0 && !(v = calloc((size_t)rows, sizeof *v)))
        ok = false;
    for (int i = 0; ok && i < rows; i++) {
        ok = token_fill(r, i, &v[kept]);
        if (ok && !all && !v[kept].user_active)
            token_clear(&v[kept]); /* the slot is filled again by the next row */
        else if (ok)
            kept++;
    }
    PQclear(r);
    if (!ok) {
        wf_token_rows_free(v, v ? kept + 1 : 0); /* the half-filled one too */
        return wf_err_set(err, WF_ERR_NOMEM, "postgresql: out of memory listing tokens");
    }
    *out = v;
    *n = kept;
    return 0;
}

/* Revokes the unrevoked token with that hash (when hash is given) or that id. */
static int token_revoke_by(wf_pg *p, int64_t id, const char *hash, wf_err *err)
{
    char ids[24];
    wf_pg_fmt_id(ids, id);
    const char *args[] = {hash ? hash : ids};
    PGresult *r =
        wf_pg_write_query(p,
                          hash ? "UPDATE api_tokens SET revoked_at = (now() AT TIME ZONE 'UTC')"
                                 " WHERE token_hash = $1 AND revoked_at IS NULL"
                               : "UPDATE api_tokens SET revoked_at = (now() AT TIME ZONE 'UTC')"
                                 " WHERE id = $1 AND revoked_at IS NULL",
                          1, args);
    int rc = 0;
    if (!wf_pg_res_ok(r))
        rc = wf_pg_db_fail(p, r, "revoking a token", err);
    else if (wf_pg_changes(r) == 0 && hash)
        rc = wf_err_set(err, WF_ERR_NOT_FOUND, "token: not found or already revoked");
    else if (wf_pg_changes(r) == 0)
        rc = wf_err_set(err, WF_ERR_NOT_FOUND, "no live token with id %lld", (long long)id);
    PQclear(r);
    return rc;
}

int wf_pg_token_revoke(wf_store *s, int64_t id, wf_err *err)
{
    return token_revoke_by(pg(s), id, NULL, err);
}

int wf_pg_token_revoke_hash(wf_store *s, const char *token_hash, wf_err *err)
{
    if (!token_hash)
        return wf_err_set(err, WF_ERR_INVALID, "token: missing");
    return token_revoke_by(pg(s), 0, token_hash, err);
}

int wf_pg_audit_insert(wf_store *s, const wf_audit_row *a, wf_err *err)
{
    wf_pg *p = pg(s);
    char actor[24], engine[24];
    if (!a->actor || !a->action || !a->engine_name)
        return wf_err_set(err, WF_ERR_INVALID,
                          "store: an audit row needs an actor, an action and an engine_name");
    wf_pg_fmt_id(actor, a->actor_id);
    wf_pg_fmt_id(engine, a->engine_id);
    const char *args[] = {
        a->actor_id > 0 ? actor : NULL,   a->actor,       a->action,
        a->engine_id > 0 ? engine : NULL, a->engine_name, a->fields ? a->fields : "[]"};
    /* no transaction of its own: inside the caller's, or one statement on its own */
    PGresult *r = wf_pg_write_query(p,
                                    "INSERT INTO audit_log (actor_id, actor, action, engine_id,"
                                    " engine_name, fields) VALUES ($1, $2, $3, $4, $5, $6)",
                                    6, args);
    int rc = 0;
    if (!wf_pg_res_ok(r) && !strcmp(wf_pg_sqlstate(r), "23503"))
        rc = wf_err_set(err, WF_ERR_NOT_FOUND, "audit: no user with id %lld",
                        (long long)a->actor_id);
    else if (!wf_pg_res_ok(r))
        rc = wf_pg_db_fail(p, r, "writing the audit log", err);
    PQclear(r);
    return rc;
}

int wf_pg_audit_list(wf_store *s, int64_t engine_id, const char *engine_name, int limit,
                     wf_audit_row **out, size_t *n, wf_err *err)
{
    wf_pg *p = pg(s);
    char ids[24], lim[24];
    *out = NULL;
    *n = 0;
    wf_pg_fmt_id(ids, engine_id);
    wf_pg_fmt_id(lim, limit);
    const char *args[] = {engine_id > 0 ? ids : engine_name, limit > 0 ? lim : NULL};
    /* the engine's id survives renames, so by id is the whole history of one engine;
     * LIMIT NULL is no limit */
    PGresult *r = wf_pg_query(p,
                              engine_id > 0 ? "SELECT id, created_at, actor_id, actor, action,"
                                              " engine_id, engine_name, fields FROM audit_log"
                                              " WHERE engine_id = $1 ORDER BY id DESC LIMIT $2"
                                            : "SELECT id, created_at, actor_id, actor, action,"
                                              " engine_id, engine_name, fields FROM audit_log"
                                              " WHERE engine_name = $1 ORDER BY id DESC LIMIT $2",
                              2, args);
    int rows = PQntuples(r);
    wf_audit_row *v = NULL;
    bool ok = true;
    if (!wf_pg_res_ok(r)) {
        int rc = wf_pg_db_fail(p, r, "reading the audit log", err);
        PQclear(r);
        return rc;
    }
    if (rows > 0 && !(v = calloc((size_t)rows, sizeof *v)))
        ok = false;
    for (int i = 0; ok && i < rows; i++) {
        v[i].id = wf_pg_int64_at(r, i, 0);
        v[i].created_at = wf_pg_col_timestamp(r, i, 1, &ok);
        v[i].actor_id = wf_pg_int64_at(r, i, 2);
        v[i].actor = wf_pg_col_dup(r, i, 3, "", &ok);
        v[i].action = wf_pg_col_dup(r, i, 4, "", &ok);
        v[i].engine_id = wf_pg_int64_at(r, i, 5);
        v[i].engine_name = wf_pg_col_dup(r, i, 6, "", &ok);
        v[i].fields = wf_pg_col_dup(r, i, 7, "[]", &ok);
    }
    PQclear(r);
    if (!ok) {
        wf_audit_rows_free(v, v ? (size_t)rows : 0);
        return wf_err_set(err, WF_ERR_NOMEM, "postgresql: out of memory reading the audit log");
    }
    *out = v;
    *n = (size_t)rows;
    return 0;
}
