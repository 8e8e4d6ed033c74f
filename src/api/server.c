/*
 * server.c: `wfreg serve`'s engine room. One listening socket; one worker thread per
 * processor, each with its own libevent loop, evhttp instance and database connection,
 * all accepting on the same socket. Reads are answered from the shared registry
 * snapshot; a worker that writes reloads the snapshot before it answers. Worker 0 also
 * watches the database for commits by other processes (PRAGMA data_version, every
 * 250 ms) and reloads the registry and the token snapshot when one happened.
 *
 * Limits: request headers 16 KiB, bodies 1 MiB (413), idle connections closed after
 * idle_timeout_s, and at most max_connections open connections (each worker stops
 * accepting at its share until one closes; the rest wait in the kernel's backlog).
 *
 * Engine calls (workflows_api.c) never block a loop: each worker has a curl multi that
 * its own loop drives, and a handler that waits for engines takes its request over
 * (wf_req_defer); the request is answered, logged and counted when the engines have
 * answered. A background thread checks the engines' health (engine_health.c).
 *
 * Stopping: SIGTERM or SIGINT stops the accepting, lets requests in flight finish (and
 * tells keep-alive clients Connection: close), then ends the loops, at most 5 s later.
 * Requests still waiting for an engine then are dropped (their connections close).
 *
 * libevent allocates with core/secmem.h's functions: a request's body (an API key, a
 * password) is overwritten when its buffers are freed.
 */
#include "internal.h"

#include "core/log.h"
#include "core/secmem.h"
#include "store/migrate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define STOP_GRACE_MS 4500

extern char **environ;

/* --- requests ------------------------------------------------------------------------ */

static const char *method_name(enum evhttp_cmd_type cmd)
{
    switch (cmd) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_PATCH: return "PATCH";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_TRACE: return "TRACE";
    default: return "OTHER";
    }
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Answers 405 with the methods the path does allow. */
static void method_not_allowed(wf_req *r, const char *path)
{
    wf_buf allow = WF_BUF_INIT;
    for (size_t i = 0; i < wf_nroutes; i++) {
        char *params[2] = {NULL, NULL};
        bool known;
        if (wf_route_match(wf_routes[i].method, path, params, &known) == &wf_routes[i])
            wf_buf_printf(&allow, "%s%s", allow.len ? ", " : "", wf_routes[i].method);
        free(params[0]);
        free(params[1]);
    }
    evhttp_add_header(evhttp_request_get_output_headers(r->req), "Allow", wf_buf_cstr(&allow));
    wf_buf_free(&allow);
    wf_reply_detail(r, 405, "Method Not Allowed");
}

static void count_connection(wf_worker *w, struct evhttp_connection *evcon);

/* Whether this worker may use the database now. While the watch finds it silent, no:
 * the request is answered 503 at once instead of waiting on a dead connection. Once it
 * is back (a newer generation), or after this worker's own request saw it fail, the
 * worker's connection is reopened first; one closed at the watch's request is opened. */
static bool worker_store_ready(wf_worker *w)
{
    wf_api *api = w->api;
    if (!atomic_load(&api->db_ok))
        return false;
    unsigned gen = atomic_load(&api->db_generation);
    if (w->store && !w->store_broken && w->store_generation == gen)
        return true;
    if (!w->store) {
        if (wf_store_open(api->config->database_url, &w->store, NULL) < 0)
            return false;
    } else if (wf_store_ping(w->store, NULL) < 0 && wf_store_reconnect(w->store, NULL) < 0) {
        return false;
    }
    w->store_broken = false;
    w->store_generation = gen;
    return true;
}

static void dispatch(wf_req *r, const char *method)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(r->req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    if (!path || !*path) {
        wf_reply_detail(r, 400, "the request has no path");
        return;
    }
    bool path_known = false;
    r->route = wf_route_match(method, path, r->params, &path_known);
    if (!r->route) {
        if (path_known)
            method_not_allowed(r, path);
        else
            wf_reply_detail(r, 404, "Not Found");
        return;
    }
    if (query) {
        if (evhttp_parse_query_str(query, &r->query) < 0) {
            wf_reply_detail(r, 400, "the query string does not parse");
            return;
        }
        r->has_query = true;
    }
    bool needs_db =
        !strncmp(r->route->pattern, "/api/", 5) || !strcmp(r->route->pattern, "/readyz");
    if (needs_db && !worker_store_ready(r->w)) {
        wf_reply_detail(r, 503,
                        "database unavailable: the registry cannot reach its database; "
                        "it answers again as soon as the database does");
        return;
    }
    if (wf_auth_check(r))
        r->route->handler(r);
}

/* The end of a request once it has been answered: access log, metrics, in flight. */
static void request_end(wf_req *r)
{
    wf_api *api = r->w->api;
    double took = seconds_since(&r->t0);
    wf_metrics_observe(api->metrics, wf_route_index(r->route), r->status, took);
    /* The route's pattern, never the raw path or query: those could carry anything. */
    wf_info("%s %s %d %.2fms user=%s", r->method, r->route ? r->route->pattern : "-", r->status,
            took * 1000.0, r->who.username[0] ? r->who.username : "-");
    if (r->has_query)
        evhttp_clear_headers(&r->query);
    free(r->params[0]);
    free(r->params[1]);
    atomic_fetch_sub(&api->inflight, 1);
}

/* --- NUL bytes ------------------------------------------------------------------------ */

/* libevent keeps the request line and the header values as C strings: it would hand us
 * "Authorization: Bearer <token>\0junk" as the token alone, "Content-Type:
 * application/json\0x" as JSON, and it takes a header line that starts with a NUL for
 * the end of the headers. RFC 9110 (5.5): a recipient of a NUL in a field value MUST
 * reject the message. No valid request to this server holds a NUL anywhere (its bodies
 * are JSON, where a raw NUL is never valid), so each connection's input is searched as
 * it arrives, before evhttp parses it; a connection that sent one has every request
 * answered 400 and is closed. The mark is a second callback on the connection's input
 * buffer (its presence is the flag), so that it lives and dies with the connection:
 * nothing to allocate or free per connection. */
static void nul_seen(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
    (void)in;
    (void)info;
    (void)arg;
}

static void nul_search(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
    (void)arg;
    if (info->n_added == 0)
        return;
    struct evbuffer_ptr from;
    size_t len = evbuffer_get_length(in);
    if (info->n_added > len ||
        evbuffer_ptr_set(in, &from, len - info->n_added, EVBUFFER_PTR_SET) < 0)
        return;
    if (evbuffer_search(in, "", 1, &from).pos < 0)
        return;
    /* marked for good: no need to search this connection again (libevent allows a
     * callback to remove itself) */
    evbuffer_remove_cb(in, nul_search, NULL);
    evbuffer_add_cb(in, nul_seen, NULL);
}

/* evhttp's bufferevent for each new connection: its own kind, with the search above on
 * its input. */
static struct bufferevent *new_connection_bev(struct event_base *base, void *arg)
{
    (void)arg;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (bev && evbuffer_add_cb(bufferevent_get_input(bev), nul_search, NULL) == NULL) {
        bufferevent_free(bev);
        return NULL;
    }
    return bev;
}

/* Has this request's connection sent a NUL byte? */
static bool sent_nul(struct evhttp_connection *evcon)
{
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    struct evbuffer *in = bev ? bufferevent_get_input(bev) : NULL;
    if (!in || evbuffer_remove_cb(in, nul_seen, NULL) < 0)
        return false;
    evbuffer_add_cb(in, nul_seen, NULL); /* put back: the connection stays marked */
    return true;
}

static void on_request(struct evhttp_request *req, void *arg)
{
    wf_worker *w = arg;
    atomic_fetch_add(&w->api->inflight, 1);

    wf_req r;
    memset(&r, 0, sizeof r);
    clock_gettime(CLOCK_MONOTONIC, &r.t0);
    r.req = req;
    r.w = w;
    TAILQ_INIT(&r.query);
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    char *peer = NULL;
    ev_uint16_t port = 0;
    if (evcon) {
        evhttp_connection_get_peer(evcon, &peer, &port);
        count_connection(w, evcon);
    }
    r.client = peer;
    r.method = method_name(evhttp_request_get_command(req));
    if (sent_nul(evcon)) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        wf_reply_detail(&r, 400, "the request holds a NUL byte");
    } else {
        dispatch(&r, r.method);
    }
    if (!r.is_deferred) /* else the handler's copy ends it, once answered */
        request_end(&r);
}

wf_req *wf_req_defer(wf_req *r, void (*abandon)(wf_req *d), void *ctx)
{
    wf_req *d = malloc(sizeof *d);
    if (!d)
        return NULL;
    *d = *r;
    TAILQ_INIT(&d->query);
    if (r->has_query)
        TAILQ_CONCAT(&d->query, &r->query, next);
    r->has_query = false;
    r->params[0] = r->params[1] = NULL;
    r->is_deferred = true;
    d->client = NULL; /* the connection's: it may close before the answer */
    d->abandon = abandon;
    d->ctx = ctx;
    d->prev = NULL;
    d->next = r->w->deferred;
    if (d->next)
        d->next->prev = d;
    r->w->deferred = d;
    return d;
}

void wf_req_finish(wf_req *d)
{
    wf_worker *w = d->w;
    if (d->prev)
        d->prev->next = d->next;
    else
        w->deferred = d->next;
    if (d->next)
        d->next->prev = d->prev;
    request_end(d);
    free(d);
}

/* The worker has stopped with requests still waiting for engines (past the grace
 * period): the handlers free their state and each request is given a 503, which frees
 * it (a request whose client has gone belongs to no connection any more) though the
 * loop no longer runs to send it: the client sees its connection close. The worker's
 * curl multi must be freed first: no job is running then. */
static void abandon_deferred(wf_worker *w)
{
    while (w->deferred) {
        wf_req *d = w->deferred;
        if (d->abandon)
            d->abandon(d);
        wf_reply_detail(d, 503, "the server stopped before the engines answered");
        wf_req_finish(d);
    }
}

/* --- connections ----------------------------------------------------------------------- */

/* The connection cap. A worker counts the connections that have sent a request (a set
 * of evhttp connections it has seen, released by evhttp's close callback); at its share
 * of max_connections it stops accepting until one closes, and further clients wait in
 * the kernel's backlog. A connection that never sends a request is not counted: evhttp
 * closes it when its idle timeout passes. */
typedef struct conn_set {
    int open;  /* counted connections */
    int limit; /* this worker's share */
    void **slot;
    size_t cap; /* a power of two, well above limit */
} conn_set;

static size_t slot_of(const conn_set *cs, const void *p)
{
    uintptr_t h = (uintptr_t)p;
    h ^= h >> 17;
    h *= 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 7) & (cs->cap - 1);
}

/* Adds p; true when it was not there yet (and there was room). */
static bool set_add(conn_set *cs, void *p)
{
    if ((size_t)cs->open + 1 >= cs->cap / 2)
        return false; /* full: leave it uncounted rather than probe forever */
    size_t i = slot_of(cs, p);
    while (cs->slot[i]) {
        if (cs->slot[i] == p)
            return false;
        i = (i + 1) & (cs->cap - 1);
    }
    cs->slot[i] = p;
    cs->open++;
    return true;
}

/* Removes p (backward-shift deletion keeps the probe chains whole). */
static bool set_remove(conn_set *cs, void *p)
{
    size_t i = slot_of(cs, p);
    while (cs->slot[i] && cs->slot[i] != p)
        i = (i + 1) & (cs->cap - 1);
    if (!cs->slot[i])
        return false;
    cs->slot[i] = NULL;
    cs->open--;
    for (size_t j = (i + 1) & (cs->cap - 1); cs->slot[j]; j = (j + 1) & (cs->cap - 1)) {
        void *q = cs->slot[j];
        cs->slot[j] = NULL;
        size_t k = slot_of(cs, q);
        while (cs->slot[k])
            k = (k + 1) & (cs->cap - 1);
        cs->slot[k] = q;
    }
    return true;
}

static void update_accepting(wf_worker *w)
{
    if (!w->bound)
        return;
    struct evconnlistener *l = evhttp_bound_socket_get_listener(w->bound);
    if (w->conns->open >= w->conns->limit)
        evconnlistener_disable(l);
    else if (!atomic_load(&w->api->stopping))
        evconnlistener_enable(l);
}

static void on_connection_close(struct evhttp_connection *evcon, void *arg)
{
    wf_worker *w = arg;
    if (set_remove(w->conns, evcon)) {
        atomic_fetch_sub(&w->api->connections, 1);
        update_accepting(w);
    }
}

/* libevent writes at most 16 KiB at a time by default: an answer over that (a page of
 * engines, the workflows of every engine) took two writes, and with Nagle's algorithm
 * on the second waited for the client's delayed ACK, 40 ms. Answers are built whole:
 * write up to WRITE_AT_ONCE in one go, and send what is written at once. */
#define WRITE_AT_ONCE (256 * 1024)

static void tune_socket(struct evhttp_connection *evcon)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    int one = 1;
    if (bev)
        bufferevent_set_max_single_write(bev, WRITE_AT_ONCE);
    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Called at each request: counts the connection the first time it is seen. */
static void count_connection(wf_worker *w, struct evhttp_connection *evcon)
{
    evhttp_connection_set_closecb(evcon, on_connection_close, w);
    if (set_add(w->conns, evcon)) {
        tune_socket(evcon);
        atomic_fetch_add(&w->api->connections, 1);
        update_accepting(w);
    }
}

/* --- reloads ----------------------------------------------------------------------------- */

int wf_api_reload_with(wf_api *api, wf_store *s, bool auth_too, wf_err *err)
{
    int rc =
        wf_writes_load_registry(api->registry, s, api->keyring, api->env, api->nenv, false, err);
    if (rc == 0 && auth_too)
        rc = wf_auth_reload(api->auth, s, err);
    return rc;
}

int wf_api_reload(wf_worker *w, bool auth_too, wf_err *err)
{
    return wf_api_reload_with(w->api, w->store, auth_too, err);
}

/* --- workers ----------------------------------------------------------------------------- */

static void *worker_main(void *arg)
{
    wf_worker *w = arg;
    event_base_dispatch(w->base);
    return NULL;
}

static int worker_start(wf_worker *w, evutil_socket_t listen_fd, wf_err *err)
{
    wf_api *api = w->api;
    int rc = wf_store_open(api->config->database_url, &w->store, err);
    if (rc < 0)
        return rc;
    w->base = event_base_new();
    w->http = w->base ? evhttp_new(w->base) : NULL;
    w->conns = calloc(1, sizeof *w->conns);
    w->engines = w->base ? wf_http_multi_new_evented(w->base) : NULL;
    if (!w->http || !w->conns || !w->engines)
        return wf_err_set(err, WF_ERR_NOMEM, "cannot start a worker: out of memory");
    w->conns->limit = api->opts.max_connections / api->opts.workers;
    if (w->conns->limit < 1)
        w->conns->limit = 1;
    w->conns->cap = 64;
    while (w->conns->cap < (size_t)w->conns->limit * 4)
        w->conns->cap *= 2;
    w->conns->slot = calloc(w->conns->cap, sizeof *w->conns->slot);
    if (!w->conns->slot)
        return wf_err_set(err, WF_ERR_NOMEM, "cannot start a worker: out of memory");

    evhttp_set_max_headers_size(w->http, WF_API_MAX_HEADERS);
    /* libevent answers a body over its own limit with a page of HTML and no callback; its
     * limit is set at twice ours so that json_io.c answers the usual 413 in JSON (and the
     * access log has it), while libevent still bounds what one request may buffer. */
    evhttp_set_max_body_size(w->http, 2 * WF_API_MAX_BODY);
    evhttp_set_timeout(w->http, api->opts.idle_timeout_s);
    /* Every method reaches the router, which answers 405 (or 404) itself; libevent would
     * answer an unknown one with a 501 page of HTML. 0xFFFF includes libevent's internal
     * "unknown method" bit. */
    evhttp_set_allowed_methods(w->http, 0xFFFF);
    evhttp_set_gencb(w->http, on_request, w);
    evhttp_set_bevcb(w->http, new_connection_bev, NULL);
    /* Each evhttp closes the socket it is given when freed: give each its own copy. */
    evutil_socket_t fd = dup(listen_fd);
    if (fd < 0 || !(w->bound = evhttp_accept_socket_with_handle(w->http, fd))) {
        if (fd >= 0)
            close(fd);
        return wf_err_set(err, WF_ERR_IO, "cannot accept on the listening socket: %s",
                          strerror(errno));
    }
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
        return wf_err_set(err, WF_ERR_INTERNAL, "cannot start a worker thread");
    return 0;
}

/* Runs in the worker's own thread: stop accepting. */
static void stop_accepting(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    wf_worker *w = arg;
    if (w->bound) {
        evhttp_del_accept_socket(w->http, w->bound);
        w->bound = NULL;
    }
}

/* In the worker's thread, between two requests: see wf_api_close_stores. */
static void close_store(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    wf_worker *w = arg;
    wf_store_close(w->store);
    w->store = NULL;
    atomic_fetch_add(&w->api->stores_closed, 1);
}

void wf_api_close_stores(wf_api *api)
{
    struct timeval now = {0, 0};
    atomic_store(&api->stores_closed, 0);
    for (int i = 0; i < api->nworkers; i++)
        event_base_once(api->workers[i].base, -1, EV_TIMEOUT, close_store, &api->workers[i], &now);
}

static void worker_free(wf_worker *w)
{
    wf_http_multi_free(w->engines); /* engine calls in flight end without callbacks */
    abandon_deferred(w);
    if (w->http)
        evhttp_free(w->http); /* closes connections: their close callbacks use conns */
    if (w->base)
        event_base_free(w->base);
    if (w->conns)
        free(w->conns->slot);
    free(w->conns);
    wf_store_close(w->store);
}

/* --- the listening socket ---------------------------------------------------------------- */

static int open_listener(const char *listen_addr, evutil_socket_t *out, char *shown, size_t cap,
                         wf_err *err)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    /* libevent's parser refuses port 0, which asks the kernel for any free port (tests
     * use it): parse ":1" instead and set the port back to 0. */
    char addr[300];
    snprintf(addr, sizeof addr, "%s", listen_addr);
    size_t alen = strlen(addr);
    bool any_port = alen > 2 && !strcmp(addr + alen - 2, ":0");
    if (any_port)
        addr[alen - 1] = '1';
    int parsed = evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &len);
    if (parsed == 0 && any_port) {
        if (ss.ss_family == AF_INET6)
            ((struct sockaddr_in6 *)&ss)->sin6_port = 0;
        else
            ((struct sockaddr_in *)&ss)->sin_port = 0;
    }
    if (parsed < 0 || strlen(listen_addr) >= sizeof addr)
        return wf_err_set(err, WF_ERR_INVALID,
                          "WFREG_LISTEN: '%s' is not ADDRESS:PORT (127.0.0.1:8080, [::1]:8080)",
                          listen_addr);
    evutil_socket_t fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&ss, (socklen_t)len) < 0 || listen(fd, 1024) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return wf_err_set(err, WF_ERR_IO, "cannot listen on %s: %s", listen_addr, strerror(e));
    }
    socklen_t slen = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &slen);
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        port = ntohs(a->sin6_port);
        snprintf(shown, cap, "http://[%s]:%d", host, port);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        port = ntohs(a->sin_port);
        snprintf(shown, cap, "http://%s:%d", host, port);
    }
    *out = fd;
    return 0;
}

/* --- start and stop ---------------------------------------------------------------------- */

typedef struct server {
    wf_api api;
    wf_worker *workers;
    int nworkers;
    struct event_base *main_base;
    struct event *stop_tick;
    struct timespec stop_started;
    wf_watch *watch;
} server;

/* Main thread, every 20 ms after a stop signal: end the loops once nothing is in flight
 * or the grace period is over. */
static void on_stop_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    server *sv = arg;
    double waited = seconds_since(&sv->stop_started) * 1000.0;
    if (atomic_load(&sv->api.inflight) > 0 && waited < STOP_GRACE_MS)
        return;
    for (int i = 0; i < sv->nworkers; i++)
        event_base_loopexit(sv->workers[i].base, NULL);
    event_base_loopexit(sv->main_base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    server *sv = arg;
    if (atomic_exchange(&sv->api.stopping, true))
        return;
    wf_info("Received %s: no longer accepting; finishing requests in flight",
            sig == SIGTERM ? "SIGTERM" : "SIGINT");
    clock_gettime(CLOCK_MONOTONIC, &sv->stop_started);
    struct timeval now = {0, 0};
    for (int i = 0; i < sv->nworkers; i++)
        event_base_once(sv->workers[i].base, -1, EV_TIMEOUT, stop_accepting, &sv->workers[i], &now);
    struct timeval tick = {0, 20 * 1000};
    sv->stop_tick = event_new(sv->main_base, -1, EV_PERSIST, on_stop_tick, sv);
    if (sv->stop_tick)
        event_add(sv->stop_tick, &tick);
}

/* The shared state: keys, the environment's engines, registry, tokens, metrics. */
static int api_init(wf_api *api, const wf_config *config, const wf_api_options *opts, wf_err *err)
{
    api->config = config;
    api->opts = *opts;
    pthread_mutex_init(&api->write_lock, NULL);
    atomic_init(&api->db_ok, true);
    int rc = wf_keyring_new(config->secret_key, config->fernet_keys, &api->keyring, err);
    if (rc < 0)
        return rc;
    if (!wf_keyring_can_encrypt(api->keyring))
        return wf_err_set(err, WF_ERR_KEY,
                          "no SECRET_KEY or WFREG_FERNET_KEYS: refusing to start a server that "
                          "could not store API keys (make a key with 'wfreg keys generate')");
    size_t ninvalid = 0;
    rc = wf_config_env_engines(environ, &api->env, &api->nenv, &ninvalid, err);
    if (rc < 0)
        return rc;
    api->registry = wf_registry_new();
    if (!api->registry || wf_auth_new(&api->auth) < 0 || wf_metrics_new(&api->metrics) < 0 ||
        wf_limiter_new(&api->limiter) < 0 || wf_engine_cache_new(&api->engine_json) < 0 ||
        wf_health_new(&api->health) < 0)
        return wf_err_set(err, WF_ERR_NOMEM, "out of memory");
    return 0;
}

static void api_free(wf_api *api)
{
    wf_health_free(api->health); /* stops the monitor first: it reads the rest */
    wf_engine_cache_free(api->engine_json);
    wf_limiter_free(api->limiter);
    wf_metrics_free(api->metrics);
    wf_auth_free(api->auth);
    wf_registry_free(api->registry);
    wf_engines_free(api->env, api->nenv);
    wf_keyring_free(api->keyring);
    pthread_mutex_destroy(&api->write_lock);
}

/* Checks the schema and loads both snapshots once, with the startup log lines. */
static int first_load(wf_api *api, wf_err *err)
{
    wf_store *s = NULL;
    bool at_head = false;
    int rc = wf_store_open(api->config->database_url, &s, err);
    if (rc == 0)
        rc = wf_migrate_is_at_head(s, &at_head, err);
    if (rc == 0 && !at_head)
        rc = wf_err_set(err, WF_ERR_DB,
                        "the database schema is not at %s: run 'wfreg migrate up' (or serve "
                        "--migrate)",
                        wf_migrate_head());
    if (rc == 0)
        rc =
            wf_writes_load_registry(api->registry, s, api->keyring, api->env, api->nenv, true, err);
    if (rc == 0)
        rc = wf_auth_reload(api->auth, s, err);
    wf_store_close(s);
    return rc;
}

static void normalise(wf_api_options *o)
{
    if (o->workers <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        o->workers = n > 0 ? (int)(n > 64 ? 64 : n) : 1;
    }
    if (o->max_connections <= 0)
        o->max_connections = 1024;
    if (o->session_ttl_s <= 0)
        o->session_ttl_s = 12 * 3600;
    if (o->idle_timeout_s <= 0)
        o->idle_timeout_s = 30;
    if (o->health_interval_s == 0)
        o->health_interval_s = 30;
}

int wf_api_serve(const wf_config *config, const wf_api_options *opts_in, wf_err *err)
{
    server sv;
    memset(&sv, 0, sizeof sv);
    wf_api_options opts = *opts_in;
    normalise(&opts);
    evutil_socket_t listen_fd = -1;
    struct event *sigterm = NULL, *sigint = NULL;
    sigset_t block, old;
    int started = 0;
    char url[128] = "";
    /* Before any other libevent call, as libevent asks (secmem's functions would mix
     * with libc's anyway). */
    event_set_mem_functions(wf_secmem_malloc, wf_secmem_realloc, wf_secmem_free);
    evthread_use_pthreads();
    signal(SIGPIPE, SIG_IGN);

    int rc = api_init(&sv.api, config, &opts, err);
    if (rc == 0)
        rc = first_load(&sv.api, err);
    if (rc == 0)
        rc = open_listener(opts.listen ? opts.listen : config->listen, &listen_fd, url, sizeof url,
                           err);
    if (rc < 0)
        goto done;
    sv.main_base = event_base_new();
    sv.workers = calloc((size_t)opts.workers, sizeof *sv.workers);
    if (!sv.main_base || !sv.workers) {
        rc = wf_err_set(err, WF_ERR_NOMEM, "out of memory");
        goto done;
    }
    sigterm = evsignal_new(sv.main_base, SIGTERM, on_signal, &sv);
    sigint = evsignal_new(sv.main_base, SIGINT, on_signal, &sv);
    evsignal_add(sigterm, NULL);
    evsignal_add(sigint, NULL);
    /* Workers must not take the stop signals: the main loop handles them. */
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    sv.nworkers = opts.workers;
    for (int i = 0; i < opts.workers && rc == 0; i++) {
        sv.workers[i].api = &sv.api;
        sv.workers[i].index = i;
        rc = worker_start(&sv.workers[i], listen_fd, err);
        if (rc == 0)
            started++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc < 0) {
        for (int i = 0; i < started; i++)
            event_base_loopexit(sv.workers[i].base, NULL);
        goto join;
    }
    sv.api.workers = sv.workers;
    sv.api.nworkers = started;
    rc = wf_watch_start(&sv.api, &sv.watch, err);
    if (rc == 0)
        rc = wf_health_start(sv.api.health, &sv.api, opts.health_interval_s, err);
    if (rc < 0) {
        for (int i = 0; i < started; i++)
            event_base_loopexit(sv.workers[i].base, NULL);
        goto join;
    }
    wf_info("Listening on %s with %d worker(s)", url, opts.workers);
    event_base_dispatch(sv.main_base);
join:
    for (int i = 0; i < started; i++)
        pthread_join(sv.workers[i].thread, NULL);
    wf_watch_stop(sv.watch);
    if (rc == 0)
        wf_info("Stopped");
done:
    for (int i = 0; sv.workers && i < sv.nworkers; i++)
        worker_free(&sv.workers[i]);
    free(sv.workers);
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    if (sv.stop_tick)
        event_free(sv.stop_tick);
    if (sv.main_base)
        event_base_free(sv.main_base);
    if (listen_fd >= 0)
        close(listen_fd);
    api_free(&sv.api);
    return rc;
}
