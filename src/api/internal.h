/*
 * internal.h: what the files of api/ share and nothing outside uses: the server's
 * shared state, a worker (one thread, one event loop, one database connection), the
 * request context handlers receive, the route table, and the reply helpers that give
 * every error the shape FastAPI clients already parse ({"detail": ...}).
 */
#ifndef WF_API_INTERNAL_H
#define WF_API_INTERNAL_H

#include "api.h"
#include "core/registry.h"
#include "crypto/keyring.h"
#include "engines/adapter.h"
#include "store/store.h"
#include "store/writes.h"

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define WF_API_MAX_BODY (1024 * 1024)
#define WF_API_MAX_HEADERS (16 * 1024)

typedef enum wf_role_need { WF_NEED_NONE = 0, WF_NEED_VIEWER = 1, WF_NEED_ADMIN = 2 } wf_role_need;

typedef struct wf_auth wf_auth;       /* auth.c: the snapshot of usable tokens */
typedef struct wf_metrics wf_metrics; /* metrics.c */
typedef struct wf_limiter wf_limiter;
typedef struct wf_engine_cache wf_engine_cache;
typedef struct wf_watch wf_watch;   /* watch.c */
typedef struct wf_health wf_health; /* engine_health.c: the engines' last health checks */
/* engine_cache.c */                /* auth.c: failed-login slow-down */

/* What every worker shares. Everything here is either immutable after start, atomic,
 * or guarded by its own lock (registry, auth, metrics, limiter). */
typedef struct wf_api {
    const wf_config *config;
    wf_api_options opts;
    wf_keyring *keyring;
    wf_registry *registry;
    wf_auth *auth;
    wf_metrics *metrics;
    wf_limiter *limiter;
    wf_engine_cache *engine_json;
    wf_health *health;
    wf_engine **env; /* the environment's engines, read once at start */
    size_t nenv;
    atomic_bool stopping; /* set on SIGTERM/SIGINT: answer with Connection: close */
    atomic_int inflight;  /* requests being handled right now */
    atomic_int connections;
    /* false while worker 0's watch finds the database silent: the API answers 503 then
     * (the rule: a registry that cannot reach its database says so, rather than
     * serving a snapshot that may be stale) */
    atomic_bool db_ok;
    /* bumped by the watch each time the database comes back: a worker whose connection
     * is older reopens it before its next request */
    atomic_uint db_generation;
    /* the workers, for the watch, which may have them all close their connections at
     * once (a SQLite file writable again: watch.c), and how many have done so */
    struct wf_worker *workers;
    int nworkers;
    atomic_int stores_closed;
    /* One writer at a time in this process: SQLite allows one anyway, and a worker that
     * waits here wakes the moment the other is done, where SQLite's busy handler would
     * sleep in steps of milliseconds. */
    pthread_mutex_t write_lock;
} wf_api;

struct conn_set;

typedef struct wf_worker {
    wf_api *api;
    int index;
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    wf_store *store; /* this worker's own connection; NULL while closed at the watch's
                        request (wf_api_close_stores), opened before the next request */
    pthread_t thread;
    unsigned store_generation; /* the api->db_generation this worker's store is from */
    bool store_broken;         /* a request saw WF_ERR_DB: reopen before the next one */
    struct conn_set *conns;    /* server.c: the connections this worker counts */
    wf_http_multi *engines;    /* engine calls, driven by this worker's loop */
    struct wf_req *deferred;   /* requests taken over by a handler, not answered yet */
} wf_worker;

/* The authenticated caller of a request. */
typedef struct wf_principal {
    int64_t user_id;
    char username[72];
    char role[16];
    char token_hash[65];
} wf_principal;

struct wf_route;

/* One request as a handler sees it. */
typedef struct wf_req {
    struct evhttp_request *req;
    wf_worker *w;
    const char *method; /* "GET", ...: a static string */
    const struct wf_route *route;
    char *params[2]; /* decoded path parameters ({name}, {run_id}) */
    struct evkeyvalq query;
    bool has_query;
    wf_principal who;   /* valid when route->need != WF_NEED_NONE */
    int status;         /* what was answered, for the access log and metrics */
    const char *client; /* peer address, for the login limiter */
    struct timespec t0; /* when it arrived */

    /* a request a handler answers later (wf_req_defer) */
    bool is_deferred;                  /* (on the original) it was taken over */
    void (*abandon)(struct wf_req *d); /* frees ctx when the worker stops first */
    void *ctx;                         /* the handler's state */
    struct wf_req *prev, *next;        /* in the worker's list */
} wf_req;

typedef void (*wf_handler)(wf_req *r);

typedef struct wf_route {
    const char *method;  /* "GET", "POST", "PATCH", "DELETE" */
    const char *pattern; /* "/api/v1/engines/{name}" */
    wf_handler handler;
    wf_role_need need;
    const int *statuses; /* what it may answer, 0-terminated (checked against openapi) */
    bool page;           /* the admin page's files: not part of the API's openapi.json */
} wf_route;

/* server.c: answering later. A handler that waits for something (the engines' answers)
 * takes the request over: it stays pending in evhttp and counts as in flight (SIGTERM
 * waits for it, up to the grace period). The copy returned owns the path parameters and
 * the query (the original is left empty; client is NULL: the connection may go). The
 * handler replies with the usual helpers on the copy, then calls wf_req_finish. If the
 * worker stops first, abandon(d) frees the handler's state and the request is dropped.
 * NULL when out of memory (nothing is taken over then). */
wf_req *wf_req_defer(wf_req *r, void (*abandon)(wf_req *d), void *ctx);
/* After the reply: the access log line, metrics, no longer in flight; frees d. */
void wf_req_finish(wf_req *d);

/* server.c: has every worker close its database connection, each in its own thread at
 * once (api->stores_closed counts them); a worker opens it again before its next request
 * that needs it, once api->db_ok allows. For the watch (watch.c). */
void wf_api_close_stores(wf_api *api);

/* router.c */
extern const wf_route wf_routes[];
extern const size_t wf_nroutes;
/* Matches method and path; fills params (decoded, caller frees). Returns the route, or
 * NULL with *path_known telling 405 (path exists for another method) from 404. */
const wf_route *wf_route_match(const char *method, const char *path, char *params[2],
                               bool *path_known);
/* The route table's index of r (for metrics). */
size_t wf_route_index(const wf_route *r);

/* json_io.c: sends an answer with body (may be NULL) and sets r->status; to HEAD, the
 * headers and the body's length only. Every reply goes through here. */
void wf_send(wf_req *r, int status, struct evbuffer *body);
/* json_io.c: replies. Each sets r->status and sends the response. */
void wf_reply_json(wf_req *r, int status, json_t *body); /* steals body */
void wf_reply_detail(wf_req *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 422 with one {"loc": [where, field...], "msg", "type"} entry per field error. */
void wf_reply_invalid(wf_req *r, const char *where, const wf_err *err);
/* The same, with extra detail entries first (stolen; may be NULL). */
void wf_reply_invalid_with(wf_req *r, const char *where, const wf_err *err, json_t *extra);
/* The members of body not in known, as 422 detail entries naming each key exactly as
 * sent; NULL when there are none. */
json_t *wf_unknown_members(json_t *body, const char *const *known, size_t nknown);
/* Maps a WF_ERR_* code to its status and replies with err's message. */
void wf_reply_error(wf_req *r, int rc, const wf_err *err);
void wf_reply_empty(wf_req *r, int status);
/* Reads the JSON body: 415 unless application/json, 400 when it does not parse, 422 for
 * duplicate keys or a body that is not an object. Returns NULL after replying. */
json_t *wf_read_json_object(wf_req *r);
/* How it parses a body: duplicate keys refused; any value (the object check is its own). */
#define WF_API_JSON_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY)
/* A query parameter, or NULL. */
const char *wf_query(wf_req *r, const char *name);

/* auth.c */
int wf_auth_new(wf_auth **out);
void wf_auth_free(wf_auth *a);
/* Rebuilds the snapshot of usable tokens from the store. */
int wf_auth_reload(wf_auth *a, wf_store *s, wf_err *err);
/* Checks the request's bearer token and role; replies 401/403 and returns false when
 * the request may not go on. */
bool wf_auth_check(wf_req *r);
int wf_limiter_new(wf_limiter **out);
void wf_limiter_free(wf_limiter *l);
void wf_handle_login(wf_req *r);
void wf_handle_logout(wf_req *r);
void wf_handle_me(wf_req *r);

/* engines_api.c */
/* A request body (a JSON object) as a patch: the members checked for type only (the
 * rules are wf_engine_validate_patch's), missing ones reported on create, and unknown
 * ones returned in *extra as 422 detail entries (NULL when none; caller decrefs). The
 * patch's strings point into body; *config_text is the compact text of "config" (caller
 * frees). Returns 0, or WF_ERR_INVALID with the field errors in err. */
int wf_api_engine_patch_from_body(json_t *body, bool is_create, wf_engine_patch *p,
                                  char **config_text, json_t **extra, wf_err *err);
void wf_handle_engines_list(wf_req *r);
void wf_handle_engine_get(wf_req *r);
void wf_handle_engine_create(wf_req *r);
void wf_handle_engine_patch(wf_req *r);
void wf_handle_engine_delete(wf_req *r);
void wf_handle_engine_history(wf_req *r);

/* workflows_api.c: the engines themselves, through their adapters */
void wf_handle_engine_test(wf_req *r);
void wf_handle_workflows_list(wf_req *r);
void wf_handle_engine_workflows(wf_req *r);
void wf_handle_run_start(wf_req *r);
void wf_handle_run_status(wf_req *r);

/* engine_health.c: the health monitor and its table (keyed by engine name). */
int wf_health_new(wf_health **out);
/* Starts the monitor's thread (interval_s <= 0: no checks; the table stays empty). */
int wf_health_start(wf_health *h, wf_api *api, int interval_s, wf_err *err);
/* Stops the monitor (if started) and frees everything; accepts NULL. */
void wf_health_free(wf_health *h);
/* Records a result (a manual test's) for an active engine. */
void wf_health_record(wf_health *h, const wf_engine *e, wf_call_status st, long latency_ms);
/* {"status": "up|down|unauthorized|timeout|error|unknown", "checked_at": ISO or null,
 * "latency_ms": n or null} for the engine of that name, as text appended to out, or as
 * a new JSON object (NULL when out of memory). */
void wf_health_append_json(wf_health *h, const char *name, wf_buf *out);
json_t *wf_health_json(wf_health *h, const char *name);
/* wfreg_engine_up and wfreg_engine_check_latency_seconds, per checked engine. */
void wf_health_render_metrics(wf_health *h, wf_buf *out);

/* health_api.c */
void wf_handle_healthz(wf_req *r);
void wf_handle_readyz(wf_req *r);
void wf_handle_metrics(wf_req *r);
void wf_handle_openapi(wf_req *r);
/* web_api.c: the admin page, "/" and "/ui/{file}" */
void wf_handle_page(wf_req *r);

/* engine_cache.c: appends the JSON text of snapshot engine `index` to out, with the
 * members in `extra` (JSON text such as "\"health\":{...}", or NULL) added last: what
 * changes between snapshots is cached, what changes more often is spliced in. */
int wf_engine_cache_new(wf_engine_cache **out);
void wf_engine_cache_free(wf_engine_cache *c);
int wf_engine_cache_append(wf_engine_cache *c, wf_snapshot *snap, size_t index, const char *extra,
                           wf_buf *out);
/* json_io.c: sends ready JSON text. */
void wf_reply_json_text(wf_req *r, int status, const char *text, size_t len);

/* metrics.c */
int wf_metrics_new(wf_metrics **out);
void wf_metrics_free(wf_metrics *m);
/* route_index == wf_nroutes for requests that matched no route. */
void wf_metrics_observe(wf_metrics *m, size_t route_index, int status, double seconds);
/* Appends the Prometheus text exposition. */
void wf_metrics_render(wf_metrics *m, const wf_snapshot *snap, wf_buf *out);
/* Appends v as a label value, with Prometheus' escapes. */
void wf_metrics_label(wf_buf *out, const char *v);

/* server.c: reloads the registry (and the auth snapshot) from w's connection, or from
 * any connection. */
int wf_api_reload(wf_worker *w, bool auth_too, wf_err *err);
int wf_api_reload_with(wf_api *api, wf_store *s, bool auth_too, wf_err *err);

/* watch.c: a thread that keeps the snapshots in step with the database and tells
 * whether it answers (api->db_ok, api->db_generation). */
int wf_watch_start(wf_api *api, wf_watch **out, wf_err *err);
void wf_watch_stop(wf_watch *w); /* accepts NULL */

#endif
