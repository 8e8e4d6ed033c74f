/*
 * sqlite_internal.h: what sqlite.c and sqlite_auth.c share, and nothing else includes it.
 * The connection (wf_sqlite), the helpers both use to prepare, bind and read rows and to
 * report errors, and the user, token and audit operations that sqlite.c puts in its ops
 * table.
 */
#ifndef WF_STORE_SQLITE_INTERNAL_H
#define WF_STORE_SQLITE_INTERNAL_H

#include "store.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct wf_sqlite {
    struct wf_store base; /* first, so that a wf_store * is a wf_sqlite * */
    sqlite3 *db;
    char *path;     /* the file (sq_read_only looks at it); NULL for ":memory:" */
    int tx_depth;   /* nesting of wf_store_begin; 0: no caller transaction */
    bool tx_doomed; /* an inner level rolled back: the outer commit must roll back */
} wf_sqlite;

static inline wf_sqlite *sq(wf_store *s)
{
    return (wf_sqlite *)s;
}

/* Helpers of sqlite.c, shared with sqlite_auth.c. */
int wf_sqlite_bind_text(sqlite3_stmt *st, int i, const char *v);
bool wf_sqlite_col_bool(sqlite3_stmt *st, int i);
char *wf_sqlite_col_dup(sqlite3_stmt *st, int i, const char *dflt, bool *ok);
char *wf_sqlite_col_timestamp(sqlite3_stmt *st, int i, bool *ok);
int wf_sqlite_db_fail(wf_sqlite *q, wf_err *err, const char *what);
int wf_sqlite_prepare(wf_sqlite *q, const char *sql, sqlite3_stmt **st, wf_err *err);

/* Users, tokens and the audit trail (sqlite_auth.c), for the ops table. */
int wf_sqlite_audit_insert(wf_store *s, const wf_audit_row *a, wf_err *err);
int wf_sqlite_audit_list(wf_store *s, int64_t engine_id, const char *engine_name, int limit,
                         wf_audit_row **out, size_t *n, wf_err *err);
int wf_sqlite_token_insert(wf_store *s, int64_t user_id, const char *kind, const char *label,
                           const char *token_hash, const char *expires_at, int64_t *id,
                           wf_err *err);
int wf_sqlite_token_list(wf_store *s, bool all, wf_token_row **out, size_t *n, wf_err *err);
int wf_sqlite_token_revoke(wf_store *s, int64_t id, wf_err *err);
int wf_sqlite_token_revoke_hash(wf_store *s, const char *token_hash, wf_err *err);
int wf_sqlite_user_get(wf_store *s, const char *username, wf_user **out, wf_err *err);
int wf_sqlite_user_insert(wf_store *s, const char *username, const char *password_hash,
                          const char *role, int64_t *id, wf_err *err);
int wf_sqlite_user_list(wf_store *s, wf_user ***out, size_t *n, wf_err *err);
int wf_sqlite_user_update(wf_store *s, const wf_user *u, wf_err *err);

#endif
