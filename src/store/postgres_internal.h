/*
 * postgres_internal.h: what postgres.c and postgres_auth.c share, and nothing else includes
 * it. The connection (wf_pg), the helpers both use to run statements, read rows and
 * report errors, and the user, token and audit operations that postgres.c puts in its ops
 * table.
 */
#ifndef WF_STORE_POSTGRES_INTERNAL_H
#define WF_STORE_POSTGRES_INTERNAL_H

#include "store.h"

#include "../core/buf.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct wf_pg {
    struct wf_store base; /* first, so that a wf_store * is a wf_pg * */
    PGconn *conn;
    int tx_depth;      /* nesting of wf_store_begin; 0: no caller transaction */
    bool tx_doomed;    /* an inner level rolled back: the outer commit must roll back */
    char *where;       /* the URL with its password masked, for messages */
    char *password;    /* secret, to cut from libpq's messages; NULL when the URL has none */
    bool is_ambiguous; /* libpq reads the URL's password otherwise than wfreg masks it */
} wf_pg;

static inline wf_pg *pg(wf_store *s)
{
    return (wf_pg *)s;
}

/* Helpers of postgres.c, shared with postgres_auth.c. */
long wf_pg_changes(PGresult *r);
void wf_pg_clean_text(const wf_pg *p, const char *msg, wf_buf *out);
bool wf_pg_col_bool(const PGresult *r, int row, int col);
char *wf_pg_col_dup(const PGresult *r, int row, int col, const char *dflt, bool *ok);
char *wf_pg_col_timestamp(const PGresult *r, int row, int col, bool *ok);
int wf_pg_db_fail(wf_pg *p, const PGresult *r, const char *what, wf_err *err);
void wf_pg_fmt_id(char out[24], int64_t id);
int64_t wf_pg_int64_at(const PGresult *r, int row, int col);
bool wf_pg_is_data_error(const char *state);
PGresult *wf_pg_query(wf_pg *p, const char *sql, int n, const char *const *args);
bool wf_pg_res_ok(const PGresult *r);
const char *wf_pg_sqlstate(const PGresult *r);
PGresult *wf_pg_write_query(wf_pg *p, const char *sql, int n, const char *const *args);

/* Users, tokens and the audit trail (postgres_auth.c), for the ops table. */
int wf_pg_audit_insert(wf_store *s, const wf_audit_row *a, wf_err *err);
int wf_pg_audit_list(wf_store *s, int64_t engine_id, const char *engine_name, int limit,
                     wf_audit_row **out, size_t *n, wf_err *err);
int wf_pg_token_insert(wf_store *s, int64_t user_id, const char *kind, const char *label,
                       const char *token_hash, const char *expires_at, int64_t *id, wf_err *err);
int wf_pg_token_list(wf_store *s, bool all, wf_token_row **out, size_t *n, wf_err *err);
int wf_pg_token_revoke(wf_store *s, int64_t id, wf_err *err);
int wf_pg_token_revoke_hash(wf_store *s, const char *token_hash, wf_err *err);
int wf_pg_user_get(wf_store *s, const char *username, wf_user **out, wf_err *err);
int wf_pg_user_insert(wf_store *s, const char *username, const char *password_hash,
                      const char *role, int64_t *id, wf_err *err);
int wf_pg_user_list(wf_store *s, wf_user ***out, size_t *n, wf_err *err);
int wf_pg_user_update(wf_store *s, const wf_user *u, wf_err *err);

#endif
