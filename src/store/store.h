/*
 * store.h: the one interface to wfreg's database. Each backend (sqlite.c now, postgres.c
 * later) fills a wf_store_ops table; everything above this folder calls the wf_store_*
 * functions below and never sees SQL.
 *
 * A wf_store is one connection. Every write is one transaction: the engine_* writers
 * open their own unless the caller has opened one with wf_store_begin (then they join
 * it, so that an import or a rotation commits or rolls back whole).
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

typedef struct wf_store_ops {
    const char *name;    /* "sqlite" */
    const char *dialect; /* which migration scripts apply: "sqlite" | "pg" */
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
    int (*migrations_applied)(wf_store *s, wf_migration_row **rows, size_t *n, wf_err *err);
    int (*migration_record)(wf_store *s, const char *version, const char *name,
                            const char *checksum, wf_err *err);
    int (*migration_forget)(wf_store *s, const char *version, wf_err *err);
} wf_store_ops;

/* Every backend's handle starts with this, so that the generic functions can dispatch. */
struct wf_store {
    const wf_store_ops *ops;
};

/* Opens the database a DATABASE_URL names: "sqlite:PATH" (the folder of PATH is created
 * when missing; "sqlite::memory:" for tests). "postgresql://" and "postgres://" are
 * answered with a clear "not yet supported" WF_ERR_DB until that backend exists.
 * Messages never contain a password. Does not migrate. */
int wf_store_open(const char *database_url, wf_store **out, wf_err *err);
void wf_store_close(wf_store *s); /* accepts NULL */
const char *wf_store_dialect(const wf_store *s);

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
void wf_strv_free(char **v, size_t n);

int wf_store_migrations_applied(wf_store *s, wf_migration_row **rows, size_t *n, wf_err *err);
int wf_store_migration_record(wf_store *s, const char *version, const char *name,
                              const char *checksum, wf_err *err);
int wf_store_migration_forget(wf_store *s, const char *version, wf_err *err);

#endif
