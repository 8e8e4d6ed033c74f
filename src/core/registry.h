/*
 * registry.h: the merged view of every engine, from the database and the environment,
 * as an immutable snapshot (name -> engine) that is swapped whole after each write.
 *
 * Readers take a reference to the current snapshot and read it without further locks;
 * a writer builds a complete new snapshot first and only then swaps the pointer, so a
 * lookup never waits for a writer's work (the one mutex guards a pointer copy and a
 * reference count, nothing more).
 *
 * Merge rule (DESIGN.md): a database engine shadows an environment engine of the same
 * name; the environment engine stays reachable through wf_snapshot_find_env so that
 * `engines show` can say so. Environment engines are read-only.
 */
#ifndef WF_CORE_REGISTRY_H
#define WF_CORE_REGISTRY_H

#include "err.h"
#include "wf_engine.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct wf_snapshot wf_snapshot;
typedef struct wf_registry wf_registry;

/* Builds a snapshot from database and environment records, taking ownership of every
 * record (the arrays themselves stay the caller's). Marks shadowing database engines.
 * Returns NULL when out of memory (the records are freed then too). */
wf_snapshot *wf_snapshot_new(wf_engine **db, size_t ndb, wf_engine **env, size_t nenv);
wf_snapshot *wf_snapshot_ref(wf_snapshot *s);
void wf_snapshot_unref(wf_snapshot *s); /* accepts NULL */

/* The visible engines (shadowed environment engines excluded), sorted by name, then id:
 * every database record, even legacy rows that share a name. */
size_t wf_snapshot_count(const wf_snapshot *s);
const wf_engine *wf_snapshot_at(const wf_snapshot *s, size_t i);
size_t wf_snapshot_count_active(const wf_snapshot *s);
/* Binary search by exact name; NULL when absent. Of several database records with one
 * name, the one with the lowest id. */
const wf_engine *wf_snapshot_find(const wf_snapshot *s, const char *name);
/* The environment engine of that name, even when a database engine shadows it. */
const wf_engine *wf_snapshot_find_env(const wf_snapshot *s, const char *name);
/* Counts of visible engines by source. */
size_t wf_snapshot_count_source(const wf_snapshot *s, wf_engine_source src);

wf_registry *wf_registry_new(void);
void wf_registry_free(wf_registry *r); /* drops its reference to the current snapshot */

/* A reference to the current snapshot (never NULL: an empty one before any load);
 * release with wf_snapshot_unref. */
wf_snapshot *wf_registry_acquire(wf_registry *r);
/* Installs snap (taking ownership of the caller's reference) and drops the old one. */
void wf_registry_swap(wf_registry *r, wf_snapshot *snap);

/* Where a load takes its engines from. load_db returns the database's records (owned by
 * the caller afterwards; free each and the array). key_status, when set, is asked for
 * each database engine that has a token, and sets *key_index to the key that opens it
 * (0 = the first; it starts at -1): both are kept in the record (key_status,
 * key_number), so that nobody decrypts the tokens again to report on them. The
 * environment records are borrowed and copied. */
typedef struct wf_registry_source {
    void *ctx;
    int (*load_db)(void *ctx, wf_engine ***out, size_t *n, wf_err *err);
    wf_key_status (*key_status)(void *ctx, const wf_engine *e, int *key_index);
    wf_engine *const *env;
    size_t nenv;
} wf_registry_source;

/* Loads both sources, builds and swaps in a new snapshot. With log_startup, writes the
 * checklist's lines ("Initializing workflow engine registry (multi-source)", "Loading
 * workflow engines from environment variables", "Workflow registry initialized with X
 * engines", "Workflows : X/Y engines enabled") and one error line per engine whose key
 * is unreadable. A shadowed environment engine is logged once per registry, at info; a
 * name shared by several database rows once, at warning. */
int wf_registry_load(wf_registry *r, const wf_registry_source *src, bool log_startup, wf_err *err);

#endif
