/*
 * metrics.c: counters for /metrics in Prometheus' text format: requests by route,
 * method and status, a latency histogram by route, and the registry's engines by type,
 * source and state. Counters are atomics indexed by route (the route table's order), so
 * workers never wait on each other to count.
 */
#include "internal.h"

#include "core/buf.h"

#include <stdlib.h>
#include <string.h>

static const int statuses[] = {200, 201, 202, 204, 400, 401, 403, 404, 405,
                               409, 413, 415, 422, 429, 500, 502, 503, 504};
#define NSTATUS (sizeof statuses / sizeof statuses[0])
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                 0.1,    0.25,  0.5,    1.0,   2.5,  5.0};
#define NBUCKET (sizeof buckets / sizeof buckets[0])

typedef struct route_counts {
    atomic_uint_fast64_t by_status[NSTATUS + 1]; /* the last slot: any other status */
    atomic_uint_fast64_t le[NBUCKET + 1];        /* the last slot: +Inf */
    atomic_uint_fast64_t sum_us;
} route_counts;

struct wf_metrics {
    route_counts *routes; /* wf_nroutes + 1: the last one for unmatched requests */
};

int wf_metrics_new(wf_metrics **out)
{
    wf_metrics *m = calloc(1, sizeof *m);
    if (m)
        m->routes = calloc(wf_nroutes + 1, sizeof *m->routes);
    if (!m || !m->routes) {
        free(m);
        return WF_ERR_NOMEM;
    }
    *out = m;
    return 0;
}

void wf_metrics_free(wf_metrics *m)
{
    if (!m)
        return;
    free(m->routes);
    free(m);
}

void wf_metrics_observe(wf_metrics *m, size_t route_index, int status, double seconds)
{
    if (route_index > wf_nroutes)
        route_index = wf_nroutes;
    route_counts *rc = &m->routes[route_index];
    size_t s = 0;
    while (s < NSTATUS && statuses[s] != status)
        s++;
    atomic_fetch_add_explicit(&rc->by_status[s], 1, memory_order_relaxed);
    size_t b = 0;
    while (b < NBUCKET && seconds > buckets[b])
        b++;
    atomic_fetch_add_explicit(&rc->le[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&rc->sum_us, (uint_fast64_t)(seconds * 1e6), memory_order_relaxed);
}

/* A label value with Prometheus' escapes (a legacy engine type may hold anything). */
void wf_metrics_label(wf_buf *out, const char *v)
{
    for (const char *p = v ? v : ""; *p; p++) {
        if (*p == '\\' || *p == '"')
            wf_buf_printf(out, "\\%c", *p);
        else if (*p == '\n')
            wf_buf_puts(out, "\\n");
        else
            wf_buf_putc(out, *p);
    }
}

static void route_labels(wf_buf *out, size_t i)
{
    wf_buf_puts(out, "route=\"");
    wf_metrics_label(out, i < wf_nroutes ? wf_routes[i].pattern : "unmatched");
    wf_buf_printf(out, "\",method=\"%s\"", i < wf_nroutes ? wf_routes[i].method : "any");
}

static void render_requests(wf_metrics *m, wf_buf *out)
{
    wf_buf_puts(out, "# HELP wfreg_http_requests_total HTTP requests by route, method and "
                     "status.\n# TYPE wfreg_http_requests_total counter\n");
    for (size_t i = 0; i <= wf_nroutes; i++) {
        for (size_t s = 0; s <= NSTATUS; s++) {
            uint_fast64_t n = atomic_load(&m->routes[i].by_status[s]);
            if (!n)
                continue;
            wf_buf_puts(out, "wfreg_http_requests_total{");
            route_labels(out, i);
            if (s < NSTATUS)
                wf_buf_printf(out, ",status=\"%d\"} %llu\n", statuses[s], (unsigned long long)n);
            else
                wf_buf_printf(out, ",status=\"other\"} %llu\n", (unsigned long long)n);
        }
    }
}

static void render_latency(wf_metrics *m, wf_buf *out)
{
    wf_buf_puts(out, "# HELP wfreg_http_request_duration_seconds Time to answer, by route.\n"
                     "# TYPE wfreg_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i <= wf_nroutes; i++) {
        route_counts *rc = &m->routes[i];
        uint_fast64_t cum = 0;
        for (size_t b = 0; b <= NBUCKET; b++)
            cum += atomic_load(&rc->le[b]);
        if (!cum)
            continue;
        uint_fast64_t total = cum;
        cum = 0;
        for (size_t b = 0; b <= NBUCKET; b++) {
            cum += atomic_load(&rc->le[b]);
            wf_buf_puts(out, "wfreg_http_request_duration_seconds_bucket{");
            route_labels(out, i);
            if (b < NBUCKET)
                wf_buf_printf(out, ",le=\"%g\"} %llu\n", buckets[b], (unsigned long long)cum);
            else
                wf_buf_printf(out, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
        }
        wf_buf_puts(out, "wfreg_http_request_duration_seconds_sum{");
        route_labels(out, i);
        wf_buf_printf(out, "} %.6f\n", (double)atomic_load(&rc->sum_us) / 1e6);
        wf_buf_puts(out, "wfreg_http_request_duration_seconds_count{");
        route_labels(out, i);
        wf_buf_printf(out, "} %llu\n", (unsigned long long)total);
    }
}

/* One gauge line per (type, source, active) present in the snapshot. */
static void render_engines(const wf_snapshot *snap, wf_buf *out)
{
    wf_buf_puts(out, "# HELP wfreg_engines Engines in the registry by type, source and state.\n"
                     "# TYPE wfreg_engines gauge\n");
    size_t n = wf_snapshot_count(snap);
    bool *done = calloc(n ? n : 1, sizeof *done);
    if (!done)
        return;
    for (size_t i = 0; i < n; i++) {
        if (done[i])
            continue;
        const wf_engine *a = wf_snapshot_at(snap, i);
        size_t count = 0;
        for (size_t j = i; j < n; j++) {
            const wf_engine *b = wf_snapshot_at(snap, j);
            if (!done[j] && !strcmp(a->engine_type, b->engine_type) && a->source == b->source &&
                a->is_active == b->is_active) {
                done[j] = true;
                count++;
            }
        }
        wf_buf_puts(out, "wfreg_engines{engine_type=\"");
        wf_metrics_label(out, a->engine_type);
        wf_buf_printf(out, "\",source=\"%s\",active=\"%s\"} %zu\n",
                      wf_engine_source_name(a->source), a->is_active ? "true" : "false", count);
    }
    free(done);
}

void wf_metrics_render(wf_metrics *m, const wf_snapshot *snap, wf_buf *out)
{
    render_requests(m, out);
    render_latency(m, out);
    render_engines(snap, out);
}
