/*
 * engine_cache.c: each engine's JSON text, made once per registry snapshot instead of
 * once per request. Listing 50 engines then costs 50 copies of ready bytes, not 50
 * trees of jansson objects serialised anew.
 *
 * The cache belongs to one snapshot: when the registry swaps in a new snapshot, the
 * first request that sees it installs a fresh, empty cache for it. Texts are made
 * lazily, by whichever request needs one first; two requests that race for the same
 * engine both make it and one keeps its copy (compare-and-swap), so no lock is held
 * while serialising.
 *
 * What changes more often than the registry (an engine's health, engine_health.c) is not
 * cached: the caller passes it as extra members, spliced in before the closing brace.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

struct wf_engine_cache {
    pthread_mutex_t lock; /* guards cur: the pointer copy and the reference only */
    struct texts *cur;
};

typedef struct texts {
    atomic_int refs;
    wf_snapshot *snap; /* a reference: the engines the texts describe */
    size_t n;
    _Atomic(char *) text[]; /* one per visible engine, in snapshot order; NULL until made */
} texts;

static void texts_unref(texts *t)
{
    if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(atomic_load(&t->text[i]));
    wf_snapshot_unref(t->snap);
    free(t);
}

int wf_engine_cache_new(wf_engine_cache **out)
{
    wf_engine_cache *c = calloc(1, sizeof *c);
    if (!c)
        return WF_ERR_NOMEM;
    pthread_mutex_init(&c->lock, NULL);
    *out = c;
    return 0;
}

void wf_engine_cache_free(wf_engine_cache *c)
{
    if (!c)
        return;
    texts_unref(c->cur);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* The texts of snap, installing a new cache when the current one is for another. */
static texts *texts_for(wf_engine_cache *c, wf_snapshot *snap)
{
    pthread_mutex_lock(&c->lock);
    texts *t = c->cur;
    if (t && t->snap == snap)
        atomic_fetch_add(&t->refs, 1);
    else
        t = NULL;
    pthread_mutex_unlock(&c->lock);
    if (t)
        return t;

    size_t n = wf_snapshot_count(snap);
    t = calloc(1, sizeof *t + n * sizeof t->text[0]);
    if (!t)
        return NULL;
    atomic_init(&t->refs, 2); /* the cache's and the caller's */
    t->snap = wf_snapshot_ref(snap);
    t->n = n;
    for (size_t i = 0; i < n; i++)
        atomic_init(&t->text[i], NULL);
    pthread_mutex_lock(&c->lock);
    texts *old = c->cur;
    c->cur = t;
    pthread_mutex_unlock(&c->lock);
    texts_unref(old);
    return t;
}

/* Engine i's text, made now if nobody has made it yet. */
static const char *text_at(texts *t, size_t i)
{
    char *s = atomic_load(&t->text[i]);
    if (s)
        return s;
    json_t *j = wf_engine_to_json(wf_snapshot_at(t->snap, i));
    char *made = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!made)
        return NULL;
    char *expected = NULL;
    if (atomic_compare_exchange_strong(&t->text[i], &expected, made))
        return made;
    free(made);
    return expected;
}

int wf_engine_cache_append(wf_engine_cache *c, wf_snapshot *snap, size_t index, const char *extra,
                           wf_buf *out)
{
    texts *t = texts_for(c, snap);
    const char *s = t && index < t->n ? text_at(t, index) : NULL;
    size_t len = s ? strlen(s) : 0;
    int rc = WF_ERR_NOMEM;
    if (s && extra && len >= 2 && s[len - 1] == '}') {
        wf_buf_put(out, s, len - 1); /* an engine's object is never empty: "{...,extra}" */
        wf_buf_putc(out, ',');
        wf_buf_puts(out, extra);
        rc = wf_buf_putc(out, '}');
    } else if (s) {
        rc = wf_buf_puts(out, s);
    }
    texts_unref(t);
    return rc;
}
