/*
 * store.h: the one interface to wfreg's database. Each backend (sqlite.c, postgres.c)
 * fills a wf_store_ops table; everything above this folder calls the wf_store_*
 * functions below and never sees SQL.
 *
 * A wf_store is one connection. Every write is one transaction: the engine_* writers
 * open their own unless the caller has opened one with wf_store_begin (then they join
 * it, so that an import or a rotation commits or rolls back whole).
 *
 * Besides engines and migrations it keeps the users (app_users), their API and session
 * tokens (api_tokens, by SHA-256 only) and the audit trail of engine changes (audit_log).
 * Timestamps go in and out as ISO 8601 UTC "YYYY-MM-DDTHH:MM:SSZ".
 */
#ifndef WF_STORE_STORE_H
#define WF_STORE_STORE_H

#include "../core/err.h"
#include "../core/wf_engine.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wf_store wf_store;

/* One row of the migrations table. */
typedef struct wf_migration_row {
    char *version;    /* "0001" */
    char *name;       /* "app_users" */
    char *checksum;   /* hex SHA-256 of the up script as applied */
    char *applied_at; /* ISO 8601 UTC */
} wf_migration_row;

void wf_migration_rows_free(wf_migration_row *rows, size_t n);

/* One row of app_users. Timestamps ISO 8601 UTC. */
typedef struct wf_user {
    int64_t id;
    char *username;
    char *password_hash; /* PHC string; never printed, never sent to a client */
    char *role;          /* "admin" | "viewer" */
    bool is_active;
    char *created_at;
    char *updated_at;
} wf_user;

void wf_user_free(wf_user *u); /* accepts NULL */

/* One row of api_tokens, with its user joined from app_users. */
typedef struct wf_token_row {
    int64_t id;
    int64_t user_id;
    char *kind;  /* "session" | "api" */
    char *label; /* may be NULL */
    char *token_hash;
    char *created_at;
    char *expires_at; /* NULL: never */
    char *revoked_at; /* NULL: live */
    char *username;
    char *role;
    bool user_active;
} wf_token_row;

void wf_token_rows_free(wf_token_row *rows, size_t n);

/* One row of audit_log: who changed which engine, how, and which fields (names only). */
typedef struct wf_audit_row {
    int64_t id;
    char *created_at;
    int64_t actor_id;  /* 0: none (the command line) */
    char *actor;       /* "alice", "cli" */
    char *action;      /* "create" | "update" | "delete" | "key_rotate" */
    int64_t engine_id; /* 0: none */
    char *engine_name; /* the name at the time of the change */
    char *fields;      /* JSON array text of field names: ["api_url","api_key"] */
} wf_audit_row;

void wf_audit_rows_free(wf_audit_row *rows, size_t n);

typedef struct wf_store_ops {
    const char *name;    /* "sqlite" */
    const char *dialect; /* which migration scripts apply: "sqlite" | "pg" */
    /* The statement that follows BEGIN in this backend's transactions (PostgreSQL: the
     * advisory lock that serialises wfreg's writers); NULL when BEGIN itself locks. */
    const char *tx_lock_sql;
    void (*close)(wf_store *s);

    int (*begin)(wf_store *s, wf_err *err);
    int (*commit)(wf_store *s, wf_err *err);
    void (*rollback)(wf_store *s);
    /* Runs a script of one or more statements (migrations only). */
    int (*exec)(wf_store *s, const char *sql, wf_err *err);

    int (*engine_list)(wf_store *s, wf_engine ***out, size_t *n, wf_err *err);
    int (*engine_get)(wf_store *s, const char *name, wf_engine **out, wf_err *err);
    int (*engine_insert)(wf_store *s, const wf_engine *e, int64_t *id, wf_err *err);
    int (*engine_update)(wf_store *s, int64_t id, const wf_engine *e, wf_err *err);
    int (*engine_delete)(wf_store *s, const char *name, wf_err *err);
    int (*engine_count)(wf_store *s, int64_t *n, wf_err *err);
    int (*engine_swap_key)(wf_store *s, int64_t id, const char *old_token, const char *new_token,
                           bool *changed, wf_err *err);

    int (*table_exists)(wf_store *s, const char *table, bool *exists, wf_err *err);
    int (*table_columns)(wf_store *s, const char *table, char ***names, size_t *n, wf_err *err);
    int (*table_indexes)(wf_store *s, const char *table, char ***names, size_t *n, wf_err *err);
    int (*table_unique_indexes)(wf_store *s, const char *table, char ***names, size_t *n,
                                wf_err *err);
    int (*migrations_applied)(wf_store *s, wf_migration_row **rows, size_t *n, wf_err *err);
    int (*migration_record)(wf_store *s, const char *version, const char *name,
                            const char *checksum, wf_err *err);
    int (*migration_forget)(wf_store *s, const char *version, wf_err *err);

    int (*user_insert)(wf_store *s, const char *username, const char *password_hash,
                       const char *role, int64_t *id, wf_err *err);
    int (*user_get)(wf_store *s, const char *username, wf_user **out, wf_err *err);
    int (*user_list)(wf_store *s, wf_user ***out, size_t *n, wf_err *err);
    int (*user_update)(wf_store *s, const wf_user *u, wf_err *err);
    int (*token_insert)(wf_store *s, int64_t user_id, const char *kind, const char *label,
                        const char *token_hash, const char *expires_at, int64_t *id, wf_err *err);
    int (*token_list)(wf_store *s, bool all, wf_token_row **out, size_t *n, wf_err *err);
    int (*token_revoke)(wf_store *s, int64_t id, wf_err *err);
    int (*token_revoke_hash)(wf_store *s, const char *token_hash, wf_err *err);
    int (*audit_insert)(wf_store *s, const wf_audit_row *a, wf_err *err);
    int (*audit_list)(wf_store *s, int64_t engine_id, const char *engine_name, int limit,
                      wf_audit_row **out, size_t *n, wf_err *err);
    int (*data_version)(wf_store *s, int64_t *v, wf_err *err);

    /* Optional (NULL: nothing to do, no socket, no notifications): see the functions. */
    int (*ping)(wf_store *s, wf_err *err);
    int (*reconnect)(wf_store *s, wf_err *err);
    bool (*read_only)(wf_store *s, bool *writable_now);
    int (*listen)(wf_store *s, wf_err *err);
    int (*socket)(wf_store *s);
    int (*notifications)(wf_store *s, unsigned *changed, wf_err *err);
} wf_store_ops;

/* Every backend's handle starts with this, so that the generic functions can dispatch. */
struct wf_store {
    const wf_store_ops *ops;
};

/* Opens the database a DATABASE_URL names: "sqlite:PATH" (the folder of PATH is created
 * when missing; "sqlite::memory:" for tests), or PostgreSQL: "postgresql://...",
 * "postgres://...", SQLAlchemy's "postgresql+DRIVER://..." or a libpq "key=value ..."
 * string, every libpq parameter (sslmode, connect_timeout, ...) passed through. A
 * connection that fails is WF_ERR_DB, a string libpq cannot parse WF_ERR_INVALID.
 * Messages never contain a password. Does not migrate. */
int wf_store_open(const char *database_url, wf_store **out, wf_err *err);
/* The same for commands that only look (migrate status, verify, up --sql, check): a
 * missing database is WF_ERR_NOT_FOUND "no database at PATH (run wfreg migrate up)",
 * nothing is created, and the journal mode is left as it is. (PostgreSQL never creates
 * a database: both open the same way.) */
int wf_store_open_existing(const char *database_url, wf_store **out, wf_err *err);
void wf_store_close(wf_store *s); /* accepts NULL */
const char *wf_store_dialect(const wf_store *s);
/* ops->tx_lock_sql: what migrate up --sql prints after BEGIN; NULL for none. */
const char *wf_store_tx_lock_sql(const wf_store *s);

int wf_store_begin(wf_store *s, wf_err *err);
int wf_store_commit(wf_store *s, wf_err *err);
void wf_store_rollback(wf_store *s);
int wf_store_exec(wf_store *s, const char *sql, wf_err *err);

/* Every engine, ordered by name, source WF_SOURCE_DATABASE, key_status UNCHECKED when a
 * token is stored (else NONE), timestamps as ISO 8601 UTC. Free each and the array. */
int wf_store_engine_list(wf_store *s, wf_engine ***out, size_t *n, wf_err *err);
/* WF_ERR_NOT_FOUND when no engine has that exact name. */
int wf_store_engine_get(wf_store *s, const char *name, wf_engine **out, wf_err *err);
/* Inserts name, engine_type, api_url, api_key_encrypted, active, config, created_by
 * (0 = NULL); the database sets id and timestamps. WF_ERR_CONFLICT when the name is
 * taken. */
int wf_store_engine_insert(wf_store *s, const wf_engine *e, int64_t *id, wf_err *err);
/* Writes every column but id and created_* of the row with that id from e (a rename is
 * a new e->name) and sets updated_at to now. WF_ERR_NOT_FOUND, WF_ERR_CONFLICT. */
int wf_store_engine_update(wf_store *s, int64_t id, const wf_engine *e, wf_err *err);
int wf_store_engine_delete(wf_store *s, const char *name, wf_err *err);
int wf_store_engine_count(wf_store *s, int64_t *n, wf_err *err);
/* Compare-and-set of one engine's token, for key rotation: sets new_token only where
 * the stored token still equals old_token; *changed says whether it did. */
int wf_store_engine_swap_key(wf_store *s, int64_t id, const char *old_token, const char *new_token,
                             bool *changed, wf_err *err);

int wf_store_table_exists(wf_store *s, const char *table, bool *exists, wf_err *err);
/* Names, in table order / any order; free with wf_strv_free. */
int wf_store_table_columns(wf_store *s, const char *table, char ***names, size_t *n, wf_err *err);
int wf_store_table_indexes(wf_store *s, const char *table, char ***names, size_t *n, wf_err *err);
/* The named indexes of the table that are UNIQUE (a subset of table_indexes). */
int wf_store_table_unique_indexes(wf_store *s, const char *table, char ***names, size_t *n,
                                  wf_err *err);
void wf_strv_free(char **v, size_t n);

int wf_store_migrations_applied(wf_store *s, wf_migration_row **rows, size_t *n, wf_err *err);
int wf_store_migration_record(wf_store *s, const char *version, const char *name,
                              const char *checksum, wf_err *err);
int wf_store_migration_forget(wf_store *s, const char *version, wf_err *err);

/* ---- users, tokens, audit ----------------------------------------------------------- */

/* Inserts a user (active; the database sets id and timestamps). The caller has checked
 * the username and hashed the password. WF_ERR_CONFLICT when the username is taken,
 * WF_ERR_INVALID for a role other than admin or viewer. */
int wf_store_user_insert(wf_store *s, const char *username, const char *password_hash,
                         const char *role, int64_t *id, wf_err *err);
/* WF_ERR_NOT_FOUND when no user has that exact username. Free with wf_user_free. */
int wf_store_user_get(wf_store *s, const char *username, wf_user **out, wf_err *err);
/* Every user, ordered by username. Free each with wf_user_free, then the array. */
int wf_store_user_list(wf_store *s, wf_user ***out, size_t *n, wf_err *err);
/* Writes password_hash, role and is_active of the user with id u->id and sets updated_at
 * to now. WF_ERR_NOT_FOUND, WF_ERR_INVALID (role). */
int wf_store_user_update(wf_store *s, const wf_user *u, wf_err *err);

/* Stores a token by its hash. kind "session" or "api"; label may be NULL; expires_at
 * ISO 8601 UTC or NULL for never. WF_ERR_NOT_FOUND when there is no such user,
 * WF_ERR_INVALID for a bad kind or time, WF_ERR_CONFLICT when the hash is taken. */
int wf_store_token_insert(wf_store *s, int64_t user_id, const char *kind, const char *label,
                          const char *token_hash, const char *expires_at, int64_t *id, wf_err *err);
/* all=false: only usable tokens (not revoked, not expired, user active); all=true: every
 * token. Ordered by id. Free with wf_token_rows_free. */
int wf_store_token_list(wf_store *s, bool all, wf_token_row **out, size_t *n, wf_err *err);
/* Sets revoked_at to now. WF_ERR_NOT_FOUND if no unrevoked token has that id / hash. */
int wf_store_token_revoke(wf_store *s, int64_t id, wf_err *err);
int wf_store_token_revoke_hash(wf_store *s, const char *token_hash, wf_err *err); /* logout */

/* Appends an audit row (actor_id, actor, action, engine_id, engine_name, fields; id and
 * created_at are set by the database). Joins the caller's transaction, so that the row
 * commits or rolls back with the change it records. */
int wf_store_audit_insert(wf_store *s, const wf_audit_row *a, wf_err *err);
/* engine_id > 0: that engine's rows (renames followed); else rows whose engine_name
 * matches. Newest first, at most limit (<= 0: all). Free with wf_audit_rows_free. */
int wf_store_audit_list(wf_store *s, int64_t engine_id, const char *engine_name, int limit,
                        wf_audit_row **out, size_t *n, wf_err *err);

/* A number that changes whenever another connection commits a change; the server polls
 * it and reloads its snapshots when it differs from the value it last saw.
 * - SQLite: PRAGMA data_version, which changes when any other connection commits
 *   anything to the file; this connection's own commits leave it as it is.
 * - PostgreSQL: wfreg_state.version (migration 0004), bumped by a trigger in every
 *   transaction that writes workflow_engines, app_users or api_tokens, whoever commits
 *   it: this connection's own commits change it too. WF_ERR_DB before 0004. */
int wf_store_data_version(wf_store *s, int64_t *v, wf_err *err);

/* ---- for a server: connection state and change notifications ------------------------ */

/* One round trip: 0 when the database answers, WF_ERR_DB when it does not (then
 * wf_store_reconnect). SQLite: always 0. */
int wf_store_ping(wf_store *s, wf_err *err);
/* PostgreSQL: drops the connection and opens it again with the same URL and session
 * settings (blocks for up to connect_timeout, 10 s unless the URL says otherwise). An
 * open transaction is lost (its nesting is reset) and LISTEN must be repeated; every
 * operation on a lost connection fails fast with WF_ERR_DB "... connection lost ...".
 * Nothing reconnects by itself. SQLite: nothing to do, 0. */
int wf_store_reconnect(wf_store *s, wf_err *err);
/* SQLite: whether this connection was opened while the database's file was read-only
 * for this process (SQLite then opens it read-only: reads work, writes fail), and in
 * *writable_now (may be NULL) whether the file and its -wal and -shm files are writable
 * now. A connection opened after that one, while any connection of the process to the
 * file is still open, cannot write either (they share one -shm mapping): to write
 * again, close them all, then open again. PostgreSQL: false. */
bool wf_store_read_only(wf_store *s, bool *writable_now);

/* The channel on which every committed change to workflow_engines, app_users or
 * api_tokens is announced (PostgreSQL NOTIFY, sent by the trigger of migration 0004 in
 * the writing transaction, so by every writer, psql by hand included). The payload is
 * the table's name. */
#define WF_STORE_CHANNEL "wfreg_changes"
#define WF_STORE_CHANGED_ENGINES 1u
#define WF_STORE_CHANGED_USERS 2u
#define WF_STORE_CHANGED_TOKENS 4u

/* PostgreSQL: LISTEN on WF_STORE_CHANNEL on this connection (again after every
 * reconnect; notifications sent while it was lost are gone: reload in full). SQLite:
 * nothing (poll wf_store_data_version). */
int wf_store_listen(wf_store *s, wf_err *err);
/* The socket to watch for reading after wf_store_listen (an event loop adds it with
 * EV_READ); -1 when there is none (SQLite, or no connection). It changes with every
 * reconnect: ask again. */
int wf_store_socket(wf_store *s);
/* Reads, without blocking, what has arrived on the socket, and sets *changed to the
 * WF_STORE_CHANGED_* bits of the tables named since the last call (0: nothing). WF_ERR_DB
 * when the connection is lost. SQLite: always 0. */
int wf_store_notifications(wf_store *s, unsigned *changed, wf_err *err);

#endif
