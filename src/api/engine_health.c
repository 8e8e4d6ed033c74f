/*
 * engine_health.c: the background health monitor (issue 5) and the table it fills.
 *
 * The monitor is a thread of its own with its own libevent loop and a curl multi that
 * the loop drives: it checks every active engine (the adapter's test: status, latency)
 * every interval (WFREG_HEALTH_INTERVAL, default 30 s), so a check never holds up a
 * worker that answers requests, and the watch thread's database calls (which may block
 * while PostgreSQL is away) never hold up a check. A failing engine is checked less
 * often: the interval doubles with each consecutive failure, up to 10 minutes. An engine
 * whose record changes (URL, key, config) is checked again at once. At most
 * MAX_RUNNING checks are in flight, so 10,000 engines never open 10,000 sockets at once.
 *
 * The table (name -> last status, latency, time) is what the rest of the server reads:
 * each engine's JSON gets a "health" member, /metrics gets wfreg_engine_up and the last
 * latency, and once the first round is over the log gets one summary line. A manual
 * test (POST /api/v1/engines/{name}/test) records its result here too. One mutex guards
 * the table; readers hold it for one binary search.
 */
#include "internal.h"

#include "core/log.h"
#include "engines/adapter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_INTERVAL_S 30
#define MAX_BACKOFF_S 600
#define TICK_MS 250
#define MAX_RUNNING 64

/* What the table knows of one engine. */
typedef struct entry {
    char *name;
    char *fingerprint; /* what the check depends on: a change means check again now */
    bool has_result;
    wf_call_status status;
    long latency_ms;
    time_t checked_at;
    int failures;   /* consecutive checks that did not find it up */
    int64_t due_ms; /* when the next check is due (monotonic) */
    bool is_running;
    bool is_seen; /* active in the snapshot of the current tick */
} entry;

/* One check in flight: the snapshot keeps its engine alive. */
typedef struct check {
    wf_health *h;
    wf_snapshot *snap;
    const wf_engine *e;
    wf_adapter_call call;
    wf_job *job;
    struct check *prev, *next;
} check;

struct wf_health {
    pthread_mutex_t lock; /* guards the table and the counters below */
    entry *v;             /* sorted by name */
    size_t n, cap;
    size_t unchecked; /* entries without a result yet */
    bool is_summary_due;

    /* the monitor: only its own thread touches these once it runs */
    wf_api *api;
    int interval_s;
    pthread_t thread;
    bool is_started;
    struct event_base *base;
    struct event *tick;
    wf_http_multi *http;
    check *running;
    int nrunning;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the table ----------------------------------------------------------------------- */

/* The index of name, or where it would go (*found false). Lock held. */
static size_t find(const wf_health *h, const char *name, bool *found)
{
    size_t lo = 0, hi = h->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(h->v[mid].name, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

/* The entry for name, made (unchecked, due now) when there is none. Lock held. */
static entry *find_or_add(wf_health *h, const char *name, int64_t now)
{
    bool found;
    size_t i = find(h, name, &found);
    if (found)
        return &h->v[i];
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        entry *v = realloc(h->v, cap * sizeof *v);
        if (!v)
            return NULL;
        h->v = v;
        h->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return NULL;
    memmove(&h->v[i + 1], &h->v[i], (h->n - i) * sizeof *h->v);
    memset(&h->v[i], 0, sizeof *h->v);
    h->v[i].name = copy;
    h->v[i].due_ms = now;
    h->n++;
    h->unchecked++;
    return &h->v[i];
}

static void remove_at(wf_health *h, size_t i)
{
    if (!h->v[i].has_result)
        h->unchecked--;
    free(h->v[i].name);
    free(h->v[i].fingerprint);
    memmove(&h->v[i], &h->v[i + 1], (h->n - i - 1) * sizeof *h->v);
    h->n--;
}

/* The next check after a result: the interval, doubled per consecutive failure, capped. */
static int64_t next_due(const wf_health *h, const entry *en, int64_t now)
{
    int64_t s = h->interval_s > 0 ? h->interval_s : DEFAULT_INTERVAL_S;
    int64_t cap = s > MAX_BACKOFF_S ? s : MAX_BACKOFF_S;
    for (int i = 0; i < en->failures && s < cap; i++)
        s *= 2;
    return now + (s < cap ? s : cap) * 1000;
}

/* Records a result in entry en. Lock held. */
static void record(wf_health *h, entry *en, wf_call_status st, long latency_ms)
{
    if (!en->has_result)
        h->unchecked--;
    en->has_result = true;
    en->status = st;
    en->latency_ms = latency_ms;
    en->checked_at = time(NULL);
    en->failures = st == WF_CALL_UP ? 0 : en->failures + 1;
    en->due_ms = next_due(h, en, mono_ms());
}

void wf_health_record(wf_health *h, const wf_engine *e, wf_call_status st, long latency_ms)
{
    if (!h || !e->is_active)
        return;
    pthread_mutex_lock(&h->lock);
    entry *en = find_or_add(h, e->name, mono_ms());
    if (en)
        record(h, en, st, latency_ms);
    pthread_mutex_unlock(&h->lock);
}

void wf_health_append_json(wf_health *h, const char *name, wf_buf *out)
{
    bool found = false;
    entry copy;
    pthread_mutex_lock(&h->lock);
    size_t i = find(h, name, &found);
    if (found)
        copy = h->v[i];
    pthread_mutex_unlock(&h->lock);
    if (!found || !copy.has_result) {
        wf_buf_puts(out, "{\"status\":\"unknown\",\"checked_at\":null,\"latency_ms\":null}");
        return;
    }
    struct tm tm;
    char at[32];
    gmtime_r(&copy.checked_at, &tm);
    strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    wf_buf_printf(out, "{\"status\":\"%s\",\"checked_at\":\"%s\",\"latency_ms\":%ld}",
                  wf_call_status_name(copy.status), at, copy.latency_ms);
}

json_t *wf_health_json(wf_health *h, const char *name)
{
    wf_buf text = WF_BUF_INIT;
    wf_health_append_json(h, name, &text);
    json_t *o = wf_buf_ok(&text) ? json_loads(text.ptr, 0, NULL) : NULL;
    wf_buf_free(&text);
    return o;
}

void wf_health_render_metrics(wf_health *h, wf_buf *out)
{
    wf_buf up = WF_BUF_INIT, lat = WF_BUF_INIT;
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < h->n; i++) {
        const entry *en = &h->v[i];
        if (!en->has_result)
            continue;
        wf_buf_puts(&up, "wfreg_engine_up{engine=\"");
        wf_metrics_label(&up, en->name);
        wf_buf_printf(&up, "\"} %d\n", en->status == WF_CALL_UP);
        wf_buf_puts(&lat, "wfreg_engine_check_latency_seconds{engine=\"");
        wf_metrics_label(&lat, en->name);
        wf_buf_printf(&lat, "\"} %.3f\n", (double)en->latency_ms / 1000.0);
    }
    pthread_mutex_unlock(&h->lock);
    wf_buf_puts(out, "# HELP wfreg_engine_up Whether the last health check found the engine up "
                     "(1) or not (0).\n# TYPE wfreg_engine_up gauge\n");
    wf_buf_put(out, wf_buf_cstr(&up), up.len);
    wf_buf_puts(out, "# HELP wfreg_engine_check_latency_seconds How long the last health check "
                     "of the engine took.\n# TYPE wfreg_engine_check_latency_seconds gauge\n");
    wf_buf_put(out, wf_buf_cstr(&lat), lat.len);
    wf_buf_free(&up);
    wf_buf_free(&lat);
}

/* ---- the summary --------------------------------------------------------------------- */

/* "Engine health: X up, Y down, ..." once every active engine has a first result. Lock
 * held. */
static void maybe_summary(wf_health *h)
{
    if (!h->is_summary_due || h->unchecked > 0)
        return;
    h->is_summary_due = false;
    size_t count[WF_CALL_ERROR + 1] = {0};
    for (size_t i = 0; i < h->n; i++)
        count[h->v[i].status <= WF_CALL_ERROR ? h->v[i].status : WF_CALL_ERROR]++;
    wf_info("Engine health: %zu up, %zu down, %zu unauthorized, %zu timeout, %zu error "
            "(%zu active engines checked)",
            count[WF_CALL_UP], count[WF_CALL_DOWN], count[WF_CALL_UNAUTHORIZED],
            count[WF_CALL_TIMEOUT], count[WF_CALL_ERROR], h->n);
}

/* ---- the checks ---------------------------------------------------------------------- */

static void check_free(check *c)
{
    wf_job_free(c->job);
    wf_adapter_call_clear(&c->call);
    wf_snapshot_unref(c->snap);
    free(c);
}

static void check_unlink(wf_health *h, check *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        h->running = c->next;
    if (c->next)
        c->next->prev = c->prev;
    h->nrunning--;
}

static void on_check_done(wf_job *j, void *ud)
{
    check *c = ud;
    wf_health *h = c->h;
    pthread_mutex_lock(&h->lock);
    bool found;
    size_t i = find(h, c->e->name, &found);
    if (found) {
        h->v[i].is_running = false;
        record(h, &h->v[i], wf_job_status(j), wf_job_latency_ms(j));
    }
    maybe_summary(h);
    pthread_mutex_unlock(&h->lock);
    check_unlink(h, c);
    check_free(c);
}

/* Starts the test of e (a reference to snap is taken). False when out of memory. */
static bool check_start(wf_health *h, wf_snapshot *snap, const wf_engine *e)
{
    check *c = calloc(1, sizeof *c);
    if (!c)
        return false;
    c->h = h;
    c->snap = wf_snapshot_ref(snap);
    c->e = e;
    if (wf_api_prepare_call(h->api->keyring, e, &c->call) < 0 ||
        !(c->job = wf_job_new_test(&c->call))) {
        check_free(c);
        return false;
    }
    c->next = h->running;
    if (c->next)
        c->next->prev = c;
    h->running = c;
    h->nrunning++;
    wf_job_start(c->job, h->http, on_check_done, c); /* may finish at once */
    return true;
}

/* What a check depends on, as one string (a change means: check again now). */
static char *fingerprint(const wf_engine *e)
{
    wf_buf b = WF_BUF_INIT;
    wf_buf_printf(&b, "%s\n%s\n%s\n%s\n%s", e->engine_type ? e->engine_type : "",
                  e->api_url ? e->api_url : "", e->config ? e->config : "",
                  e->api_key_encrypted ? e->api_key_encrypted : "",
                  e->updated_at ? e->updated_at : "");
    return wf_buf_detach(&b);
}

/* Marks the snapshot's active engines seen (adding new ones) and collects those due. Lock
 * held. Returns how many went into due[] (at most max). */
static size_t collect_due(wf_health *h, wf_snapshot *snap, const wf_engine **due, size_t max)
{
    int64_t now = mono_ms();
    size_t ndue = 0;
    for (size_t i = 0; i < h->n; i++)
        h->v[i].is_seen = false;
    for (size_t i = 0; i < wf_snapshot_count(snap); i++) {
        const wf_engine *e = wf_snapshot_at(snap, i);
        entry *en = e->is_active ? find_or_add(h, e->name, now) : NULL;
        if (!en)
            continue;
        en->is_seen = true;
        char *fp = fingerprint(e);
        if (fp && (!en->fingerprint || strcmp(fp, en->fingerprint))) {
            bool is_change = en->fingerprint != NULL;
            free(en->fingerprint);
            en->fingerprint = fp;
            fp = NULL;
            if (is_change) {
                en->due_ms = now;
                en->failures = 0;
            }
        }
        free(fp);
        if (!en->is_running && now >= en->due_ms && ndue < max) {
            en->is_running = true;
            due[ndue++] = e;
        }
    }
    for (size_t i = h->n; i-- > 0;) {
        if (!h->v[i].is_seen && !h->v[i].is_running)
            remove_at(h, i); /* deleted or deactivated: its health is unknown again */
    }
    return ndue;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    wf_health *h = arg;
    if (atomic_load(&h->api->stopping))
        return;
    wf_snapshot *snap = wf_registry_acquire(h->api->registry);
    size_t room = h->nrunning < MAX_RUNNING ? (size_t)(MAX_RUNNING - h->nrunning) : 0;
    const wf_engine *due[MAX_RUNNING];
    pthread_mutex_lock(&h->lock);
    size_t n = collect_due(h, snap, due, room);
    maybe_summary(h);
    pthread_mutex_unlock(&h->lock);
    for (size_t i = 0; i < n; i++) {
        if (!check_start(h, snap, due[i])) {
            pthread_mutex_lock(&h->lock);
            bool found;
            size_t k = find(h, due[i]->name, &found);
            if (found)
                h->v[k].is_running = false;
            pthread_mutex_unlock(&h->lock);
        }
    }
    wf_snapshot_unref(snap);
}

/* ---- start and stop ------------------------------------------------------------------ */

static void *monitor_main(void *arg)
{
    wf_health *h = arg;
    on_tick(-1, 0, h); /* the first round at once */
    event_base_dispatch(h->base);
    return NULL;
}

int wf_health_new(wf_health **out)
{
    wf_health *h = calloc(1, sizeof *h);
    if (!h)
        return WF_ERR_NOMEM;
    pthread_mutex_init(&h->lock, NULL);
    *out = h;
    return 0;
}

int wf_health_start(wf_health *h, wf_api *api, int interval_s, wf_err *err)
{
    h->api = api;
    h->interval_s = interval_s;
    if (interval_s <= 0) {
        wf_info("Engine health checks are off (WFREG_HEALTH_INTERVAL=0)");
        return 0;
    }
    h->base = event_base_new();
    h->http = h->base ? wf_http_multi_new_evented(h->base) : NULL;
    struct timeval every = {0, TICK_MS * 1000};
    h->tick = h->http ? event_new(h->base, -1, EV_PERSIST, on_tick, h) : NULL;
    if (!h->tick || event_add(h->tick, &every) < 0)
        return wf_err_set(err, WF_ERR_NOMEM, "cannot start the engine health monitor");
    h->is_summary_due = true;
    if (pthread_create(&h->thread, NULL, monitor_main, h) != 0)
        return wf_err_set(err, WF_ERR_INTERNAL, "cannot start the engine health monitor");
    h->is_started = true;
    return 0;
}

void wf_health_free(wf_health *h)
{
    if (!h)
        return;
    if (h->is_started) {
        event_base_loopexit(h->base, NULL);
        pthread_join(h->thread, NULL);
    }
    wf_http_multi_free(h->http); /* checks in flight end without their callbacks */
    while (h->running) {
        check *c = h->running;
        check_unlink(h, c);
        check_free(c);
    }
    if (h->tick)
        event_free(h->tick);
    if (h->base)
        event_base_free(h->base);
    for (size_t i = 0; i < h->n; i++) {
        free(h->v[i].name);
        free(h->v[i].fingerprint);
    }
    free(h->v);
    pthread_mutex_destroy(&h->lock);
    free(h);
}
