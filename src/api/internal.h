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

#define WF_API_MAX_BODY (1024 * 1024)
#define WF_API_MAX_HEADERS (16 * 1024)

typedef enum wf_role_need { WF_NEED_NONE = 0, WF_NEED_VIEWER = 1, WF_NEED_ADMIN = 2 } wf_role_need;

typedef struct wf_auth wf_auth;       /* auth.c: the snapshot of usable tokens */
typedef struct wf_metrics wf_metrics; /* metrics.c */
typedef struct wf_limiter wf_limiter;
typedef struct wf_engine_cache wf_engine_cache;
typedef struct wf_watch wf_watch; /* watch.c */
/* engine_cache.c */              /* auth.c: failed-login slow-down */

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
    wf_store *store; /* this worker's own connection */
    pthread_t thread;
    unsigned store_generation; /* the api->db_generation this worker's store is from */
    bool store_broken;         /* a request saw WF_ERR_DB: reopen before the next one */
    struct conn_set *conns;    /* server.c: the connections this worker counts */
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
    const struct wf_route *route;
    char *params[2]; /* decoded path parameters ({name}, {run_id}) */
    struct evkeyvalq query;
    bool has_query;
    wf_principal who;   /* valid when route->need != WF_NEED_NONE */
    int status;         /* what was answered, for the access log and metrics */
    const char *client; /* peer address, for the login limiter */
} wf_req;

typedef void (*wf_handler)(wf_req *r);

typedef struct wf_route {
    const char *method;  /* "GET", "POST", "PATCH", "DELETE" */
    const char *pattern; /* "/api/v1/engines/{name}" */
    wf_handler handler;
    wf_role_need need;
    const int *statuses; /* what it may answer, 0-terminated (checked against openapi) */
} wf_route;

/* router.c */
extern const wf_route wf_routes[];
extern const size_t wf_nroutes;
/* Matches method and path; fills params (decoded, caller frees). Returns the route, or
 * NULL with *path_known telling 405 (path exists for another method) from 404. */
const wf_route *wf_route_match(const char *method, const char *path, char *params[2],
                               bool *path_known);
/* The route table's index of r (for metrics). */
size_t wf_route_index(const wf_route *r);

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
void wf_handle_engines_list(wf_req *r);
void wf_handle_engine_get(wf_req *r);
void wf_handle_engine_create(wf_req *r);
void wf_handle_engine_patch(wf_req *r);
void wf_handle_engine_delete(wf_req *r);
void wf_handle_engine_history(wf_req *r);

/* health_api.c */
void wf_handle_healthz(wf_req *r);
void wf_handle_readyz(wf_req *r);
void wf_handle_metrics(wf_req *r);
void wf_handle_openapi(wf_req *r);

/* engine_cache.c: appends the JSON text of snapshot engine `index` to out. */
int wf_engine_cache_new(wf_engine_cache **out);
void wf_engine_cache_free(wf_engine_cache *c);
int wf_engine_cache_append(wf_engine_cache *c, wf_snapshot *snap, size_t index, wf_buf *out);
/* json_io.c: sends ready JSON text. */
void wf_reply_json_text(wf_req *r, int status, const char *text, size_t len);

/* metrics.c */
int wf_metrics_new(wf_metrics **out);
void wf_metrics_free(wf_metrics *m);
/* route_index == wf_nroutes for requests that matched no route. */
void wf_metrics_observe(wf_metrics *m, size_t route_index, int status, double seconds);
/* Appends the Prometheus text exposition. */
void wf_metrics_render(wf_metrics *m, const wf_snapshot *snap, wf_buf *out);

/* server.c: reloads the registry (and the auth snapshot) from w's connection, or from
 * any connection. */
int wf_api_reload(wf_worker *w, bool auth_too, wf_err *err);
int wf_api_reload_with(wf_api *api, wf_store *s, bool auth_too, wf_err *err);

/* watch.c: a thread that keeps the snapshots in step with the database and tells
 * whether it answers (api->db_ok, api->db_generation). */
int wf_watch_start(wf_api *api, wf_watch **out, wf_err *err);
void wf_watch_stop(wf_watch *w); /* accepts NULL */

#endif
