/*
 * registry.c: the merged, immutable view of every engine (registry.h).
 *
 * A snapshot owns its records: the database ones and the environment ones, each kept
 * sorted by name, and one more sorted array of pointers to the visible engines (the
 * database ones plus the environment ones no database engine shadows). Legacy database
 * rows may share a name: all are kept, ordered by id, and a lookup (a lower-bound
 * binary search) finds the first. Nothing in a snapshot changes after wf_snapshot_new
 * returns, so any number of threads read it without locks.
 *
 * Lifetime is a reference count (C11 atomics). The registry's mutex guards exactly two
 * things: copying the current pointer together with taking a reference, and replacing
 * the pointer. Building a snapshot, and freeing an old one, happen outside it. A second
 * mutex serialises whole loads, so that a slow load can never swap in an older view
 * over a newer one, and guards the set of notes (shadowed and shared names) logged.
 */
#include "registry.h"
#include "buf.h"
#include "log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct wf_snapshot {
    atomic_size_t refs;
    wf_engine **db; /* owned, sorted by name, then id (legacy rows may share a name) */
    size_t ndb;
    wf_engine **env; /* owned, sorted by name */
    size_t nenv;
    const wf_engine **visible; /* borrowed from db and env, sorted by name, then id */
    size_t nvisible;
    size_t nactive;
};

struct wf_registry {
    pthread_mutex_t lock; /* current: pointer copy + reference, and the swap */
    wf_snapshot *current;
    pthread_mutex_t load_lock; /* one load at a time; guards logged */
    char **logged;             /* what has been logged once: kind letter + engine name */
    size_t nlogged;
};

/* ---- snapshot --------------------------------------------------------------------- */

/* An engine and its place in the caller's array: ties sort by id, then by place, so
 * that records with one name have a stable order (and the first given wins a tie). */
typedef struct ranked {
    wf_engine *e;
    size_t idx;
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    int c = strcmp(x->e->name, y->e->name);
    if (c)
        return c;
    if (x->e->id != y->e->id)
        return x->e->id < y->e->id ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Moves recs into a new array sorted by name (then id). NULL entries are skipped and
 * nameless records freed. With keep_duplicates (the database) every record is kept:
 * legacy rows may share a name (a NULL name read as "" beside a real ""), and each row
 * must be listed. Without it (the environment, whose loader settles duplicates itself)
 * only the first of a name is kept. */
static wf_engine **sorted_copy(wf_engine **recs, size_t n, bool keep_duplicates, size_t *out_n)
{
    ranked *tmp = calloc(n + 1, sizeof *tmp);
    wf_engine **out = calloc(n + 1, sizeof *out);
    size_t k = 0, u = 0;
    if (!tmp || !out) {
        free(tmp);
        free(out);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (recs[i] && recs[i]->name)
            tmp[k++] = (ranked){recs[i], i};
        else
            wf_engine_free(recs[i]);
    }
    qsort(tmp, k, sizeof *tmp, cmp_ranked);
    for (size_t i = 0; i < k; i++) {
        if (keep_duplicates || u == 0 || strcmp(out[u - 1]->name, tmp[i].e->name))
            out[u++] = tmp[i].e;
        else
            wf_engine_free(tmp[i].e);
    }
    free(tmp);
    *out_n = u;
    return out;
}

/* The first entry of a name-sorted array whose name is `name` (lower bound), or NULL. */
static const wf_engine *bsearch_name(const wf_engine *const *v, size_t n, const char *name)
{
    size_t lo = 0, hi = n;
    if (!name)
        return NULL;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(v[mid]->name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && !strcmp(v[lo]->name, name) ? v[lo] : NULL;
}

/* Interleaves db and env by name; a database engine hides the env engine of its name
 * (every database record of that name says so). */
static void merge(wf_snapshot *s)
{
    size_t i = 0, j = 0;
    const wf_engine *const *env = (const wf_engine *const *)s->env;
    while (i < s->ndb || j < s->nenv) {
        int c = i == s->ndb ? 1 : j == s->nenv ? -1 : strcmp(s->db[i]->name, s->env[j]->name);
        const wf_engine *e;
        if (c <= 0) {
            s->db[i]->shadows_env = bsearch_name(env, s->nenv, s->db[i]->name) != NULL;
            e = s->db[i++];
            /* the shadowed env engine is skipped once every db record of its name is in */
            if (c == 0 && (i == s->ndb || strcmp(s->db[i]->name, s->env[j]->name)))
                j++;
        } else {
            e = s->env[j++];
        }
        s->visible[s->nvisible++] = e;
        s->nactive += e->is_active;
    }
}

static void snapshot_free(wf_snapshot *s)
{
    for (size_t i = 0; i < s->ndb; i++)
        wf_engine_free(s->db[i]);
    for (size_t i = 0; i < s->nenv; i++)
        wf_engine_free(s->env[i]);
    free(s->db);
    free(s->env);
    free(s->visible);
    free(s);
}

wf_snapshot *wf_snapshot_new(wf_engine **db, size_t ndb, wf_engine **env, size_t nenv)
{
    wf_snapshot *s = calloc(1, sizeof *s);
    if (!s)
        goto fail;
    atomic_init(&s->refs, 1);
    s->db = sorted_copy(db, ndb, true, &s->ndb);
    if (!s->db)
        goto fail;
    ndb = 0; /* db's records now belong to s->db */
    s->env = sorted_copy(env, nenv, false, &s->nenv);
    if (!s->env)
        goto fail;
    nenv = 0;
    s->visible = calloc(s->ndb + s->nenv + 1, sizeof *s->visible);
    if (!s->visible)
        goto fail;
    for (size_t i = 0; i < s->ndb; i++)
        s->db[i]->source = WF_SOURCE_DATABASE;
    for (size_t i = 0; i < s->nenv; i++)
        s->env[i]->source = WF_SOURCE_ENVIRONMENT;
    merge(s);
    return s;
fail:
    for (size_t i = 0; i < ndb; i++)
        wf_engine_free(db[i]);
    for (size_t i = 0; i < nenv; i++)
        wf_engine_free(env[i]);
    if (s)
        snapshot_free(s);
    return NULL;
}

wf_snapshot *wf_snapshot_ref(wf_snapshot *s)
{
    if (s)
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void wf_snapshot_unref(wf_snapshot *s)
{
    if (!s)
        return;
    /* acq_rel: every holder's reads happen before the last one frees (release), and
     * the freer sees them (acquire). A standalone fence would do, but ThreadSanitizer
     * does not model fences, and this keeps it quiet for nothing. */
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
        snapshot_free(s);
}

size_t wf_snapshot_count(const wf_snapshot *s)
{
    return s->nvisible;
}

const wf_engine *wf_snapshot_at(const wf_snapshot *s, size_t i)
{
    return i < s->nvisible ? s->visible[i] : NULL;
}

size_t wf_snapshot_count_active(const wf_snapshot *s)
{
    return s->nactive;
}

const wf_engine *wf_snapshot_find(const wf_snapshot *s, const char *name)
{
    return bsearch_name(s->visible, s->nvisible, name);
}

const wf_engine *wf_snapshot_find_env(const wf_snapshot *s, const char *name)
{
    return bsearch_name((const wf_engine *const *)s->env, s->nenv, name);
}

size_t wf_snapshot_count_source(const wf_snapshot *s, wf_engine_source src)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nvisible; i++)
        n += s->visible[i]->source == src;
    return n;
}

/* ---- registry --------------------------------------------------------------------- */

wf_registry *wf_registry_new(void)
{
    wf_registry *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->current = wf_snapshot_new(NULL, 0, NULL, 0);
    if (!r->current) {
        free(r);
        return NULL;
    }
    pthread_mutex_init(&r->lock, NULL);
    pthread_mutex_init(&r->load_lock, NULL);
    return r;
}

void wf_registry_free(wf_registry *r)
{
    if (!r)
        return;
    wf_snapshot_unref(r->current);
    for (size_t i = 0; i < r->nlogged; i++)
        free(r->logged[i]);
    free(r->logged);
    pthread_mutex_destroy(&r->lock);
    pthread_mutex_destroy(&r->load_lock);
    free(r);
}

wf_snapshot *wf_registry_acquire(wf_registry *r)
{
    pthread_mutex_lock(&r->lock);
    wf_snapshot *s = wf_snapshot_ref(r->current);
    pthread_mutex_unlock(&r->lock);
    return s;
}

void wf_registry_swap(wf_registry *r, wf_snapshot *snap)
{
    if (!snap)
        return;
    pthread_mutex_lock(&r->lock);
    wf_snapshot *old = r->current;
    r->current = snap;
    pthread_mutex_unlock(&r->lock);
    wf_snapshot_unref(old); /* outside the lock: freeing may take a while */
}

/* True the first time (per registry) it is asked about this kind of note and name, so
 * that a server reloading every second says a thing once. Caller holds load_lock. Out
 * of memory only means a name may be logged again later. */
static bool first_time(wf_registry *r, char kind, const char *name)
{
    for (size_t i = 0; i < r->nlogged; i++) {
        if (r->logged[i][0] == kind && !strcmp(r->logged[i] + 1, name))
            return false;
    }
    char **grown = realloc(r->logged, (r->nlogged + 1) * sizeof *grown);
    char *entry = malloc(strlen(name) + 2);
    if (grown)
        r->logged = grown;
    if (!grown || !entry) {
        free(entry);
        return true;
    }
    entry[0] = kind;
    strcpy(entry + 1, name);
    r->logged[r->nlogged++] = entry;
    return true;
}

/* Logs each newly shadowed environment engine, and each name that several database
 * rows share (only legacy rows can: the unique index forbids it since), once. */
static void log_notes(wf_registry *r, const wf_snapshot *s)
{
    for (size_t i = 0; i < s->ndb; i++) {
        const wf_engine *e = s->db[i];
        bool repeat = i > 0 && !strcmp(s->db[i - 1]->name, e->name);
        if (e->shadows_env && !repeat && first_time(r, 's', e->name))
            wf_info("Engine '%s' from the environment is shadowed by the database engine of "
                    "the same name",
                    e->name);
        if (repeat && first_time(r, 'd', e->name)) {
            wf_buf ids = WF_BUF_INIT;
            size_t first = i - 1;
            wf_buf_printf(&ids, "%lld", (long long)s->db[first]->id);
            for (; i < s->ndb && !strcmp(s->db[i]->name, e->name); i++)
                wf_buf_printf(&ids, ", %lld", (long long)s->db[i]->id);
            i--; /* the loop's i++ moves past the group */
            wf_warn("Engine name '%s' is held by %zu database rows (ids %s): all are listed, "
                    "a lookup by name finds id %lld; rename the others",
                    e->name, i + 1 - first, wf_buf_cstr(&ids), (long long)s->db[first]->id);
            wf_buf_free(&ids);
        }
    }
}

/* Asks the keyring about every database engine with a token. */
static void check_keys(const wf_registry_source *src, wf_engine **db, size_t ndb, bool log_startup)
{
    for (size_t i = 0; i < ndb; i++) {
        wf_engine *e = db[i];
        if (!e)
            continue;
        e->key_number = 0;
        if (!e->api_key_encrypted || !e->api_key_encrypted[0]) {
            e->key_status = WF_KEY_NONE;
            continue;
        }
        if (!src->key_status)
            continue;
        int index = -1;
        e->key_status = src->key_status(src->ctx, e, &index);
        e->key_number = e->key_status == WF_KEY_OK && index >= 0 ? index + 1 : 0;
        if (e->key_status == WF_KEY_UNREADABLE && log_startup)
            wf_error("Engine '%s': API key unreadable with the configured keys", e->name);
    }
}

/* Copies the borrowed environment records. */
static wf_engine **copy_env(const wf_registry_source *src, wf_err *err)
{
    wf_engine **env = calloc(src->nenv + 1, sizeof *env);
    for (size_t i = 0; env && i < src->nenv; i++) {
        if (src->env[i] && !(env[i] = wf_engine_dup(src->env[i]))) {
            for (size_t j = 0; j < i; j++)
                wf_engine_free(env[j]);
            free(env);
            env = NULL;
        }
    }
    if (!env)
        wf_err_set(err, WF_ERR_NOMEM, "out of memory copying environment engines");
    return env;
}

int wf_registry_load(wf_registry *r, const wf_registry_source *src, bool log_startup, wf_err *err)
{
    wf_engine **db = NULL, **env = NULL;
    size_t ndb = 0;
    int rc = 0;

    pthread_mutex_lock(&r->load_lock);
    if (log_startup)
        wf_info("Initializing workflow engine registry (multi-source)");
    if (src->load_db) {
        rc = src->load_db(src->ctx, &db, &ndb, err);
        if (rc < 0) {
            db = NULL; /* a failed load hands nothing over */
            ndb = 0;
            goto done;
        }
        rc = 0;
    }
    check_keys(src, db, ndb, log_startup);

    if (log_startup)
        wf_info("Loading workflow engines from environment variables");
    env = copy_env(src, err);
    if (!env) {
        rc = WF_ERR_NOMEM;
        goto done;
    }
    wf_snapshot *snap = wf_snapshot_new(db, ndb, env, src->nenv);
    ndb = 0; /* the records are the snapshot's now, or freed */
    if (!snap) {
        rc = wf_err_set(err, WF_ERR_NOMEM, "out of memory building the engine registry");
        goto done;
    }
    log_notes(r, snap);
    size_t nvisible = snap->nvisible, nactive = snap->nactive;
    wf_registry_swap(r, snap);
    if (log_startup) {
        wf_info("Workflow registry initialized with %zu engines", nvisible);
        wf_info("Workflows : %zu/%zu engines enabled", nactive, nvisible);
    }
done:
    pthread_mutex_unlock(&r->load_lock);
    for (size_t i = 0; i < ndb; i++)
        wf_engine_free(db[i]);
    free(db);
    free(env);
    return rc;
}
