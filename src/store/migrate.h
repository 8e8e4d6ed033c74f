/*
 * migrate.h: versioned schema migrations, embedded in the binary at build time from
 * store/migrations/NNNN_name.{sqlite,pg}.{up,down}.sql, applied in order and recorded in
 * the table wfreg_migrations (version, name, checksum, applied_at). The checksum is the
 * SHA-256 of the up script: an applied migration whose script has since been edited is
 * refused, never silently re-run or ignored.
 */
#ifndef WF_STORE_MIGRATE_H
#define WF_STORE_MIGRATE_H

#include "../core/buf.h"
#include "../core/err.h"
#include "store.h"

#include <stdbool.h>
#include <stddef.h>

/* One migration as embedded (both dialects). */
typedef struct wf_migration {
    const char *version; /* "0001" */
    const char *name;    /* "app_users" */
    const char *sqlite_up, *sqlite_down, *pg_up, *pg_down;
} wf_migration;

/* The embedded migrations, in order, and how many. */
const wf_migration *wf_migrations(size_t *n);
/* The last embedded version: the schema "head". */
const char *wf_migrate_head(void);

/* What status reports per migration. */
typedef struct wf_migration_state {
    const char *version; /* points into the embedded table (or the row, for unknown) */
    const char *name;
    bool is_applied;
    bool is_known;         /* false: applied in the database but not embedded (newer wfreg?) */
    bool checksum_matches; /* meaningful when applied and known */
    char applied_at[40];
} wf_migration_state;

/* One entry per embedded migration, plus any applied-but-unknown rows. The caller frees
 * *out with free(). */
int wf_migrate_status(wf_store *s, wf_migration_state **out, size_t *n, wf_err *err);
/* The version applied last, or "" for none; out has room for 32 bytes. */
int wf_migrate_current(wf_store *s, char out[32], wf_err *err);
/* True when every embedded migration is applied with a matching checksum. */
int wf_migrate_is_at_head(wf_store *s, bool *at_head, wf_err *err);
/* The first applied migration whose script differs from the embedded one (a checksum
 * mismatch: the schema is not at head although the version says so), as
 * "0002 (workflow_engines)"; "" when there is none. */
#define WF_MIGRATE_LABEL_MAX 96
int wf_migrate_find_mismatch(wf_store *s, char out[WF_MIGRATE_LABEL_MAX], wf_err *err);

/* Applies every pending migration up to target (NULL: head), each in its own
 * transaction with its version row. Refuses (WF_ERR_DB, naming the version) when an
 * applied migration's checksum differs. *napplied (may be NULL) counts what ran. */
int wf_migrate_up(wf_store *s, const char *target, size_t *napplied, wf_err *err);
/* The SQL a DBA would run by hand for the same pending migrations: one BEGIN ... COMMIT
 * with the version-table creation and rows included. Appended to out. */
int wf_migrate_up_sql(wf_store *s, const char *target, wf_buf *out, wf_err *err);
/* Reverts applied migrations newer than target (NULL: only the last one). Refuses with
 * WF_ERR_CONFLICT to drop workflow_engines while it holds rows unless force. */
int wf_migrate_down(wf_store *s, const char *target, bool force, size_t *nreverted, wf_err *err);
/* Checks the version (at head, checksums match), the tables, their columns and the
 * indexes (the unique ones UNIQUE) against what the migrations create. Appends one line
 * per check to report ("ok   table workflow_engines", "FAIL index
 * ix_workflow_engines_active missing", "FAIL index ix_workflow_engines_name is not
 * UNIQUE").
 * Returns 0 when all pass, WF_ERR_DB when any fails. */
int wf_migrate_verify(wf_store *s, wf_buf *report, wf_err *err);

#endif
