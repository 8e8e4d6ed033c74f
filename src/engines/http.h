/*
 * http.h: the HTTP client the engine adapters use to talk to n8n, Prefect and Windmill,
 * over libcurl. Nothing outside src/engines includes curl.
 *
 * One request is a wf_http_request: what to send (method, URL, headers, body, limits) and
 * what came back (status, body, content type, or why nothing usable came back). Every
 * request is bounded and safe by construction:
 * - one timeout (timeout_ms) covers connecting and the whole transfer, redirects followed
 *   included;
 * - TLS is verified unless verify_tls is false (the adapter logs that, once per engine);
 * - only http and https; no proxy unless one is given (the environment's http_proxy and
 *   friends are ignored: a surprise proxy would see every API key);
 * - redirects are never followed by curl. This client follows a redirect itself only when
 *   it stays on the same scheme, host and port (at most WF_HTTP_MAX_REDIRECTS); a redirect
 *   to anywhere else ends the request with WF_HTTP_REDIRECT and the target's origin in
 *   the detail, so that the headers (the API key) never reach another host;
 * - the body read is capped (max_body, default WF_HTTP_MAX_BODY): over it, WF_HTTP_TOO_LARGE;
 * - headers (which hold the key) live in a wiped buffer, and are wiped in curl's copy too;
 *   no detail or log line ever contains a header value.
 *
 * Concurrency: a wf_http_multi runs any number of requests at once on one curl multi
 * handle (the fan-out to every engine). wf_http_multi_add() hands it a request and a
 * function to call when that request is over; that function may add further requests
 * (the next page, the next step of a test). wf_http_multi_run() blocks until no request
 * is left, waiting in curl_multi_poll.
 *
 * For the server (DESIGN.md: libevent's loop drives curl): wf_http_multi_new_evented()
 * makes a multi that a libevent event_base drives (http_event.c): requests added to it
 * run while the loop runs, and their callbacks (the same ones) are called from the loop,
 * so a worker never blocks on an engine. wf_http_multi_run() is for a multi of its own,
 * made with wf_http_multi_new(): the command line's, or a thread's that may block.
 */
#ifndef WF_ENGINES_HTTP_H
#define WF_ENGINES_HTTP_H

#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>

#define WF_HTTP_MAX_BODY (8u << 20) /* 8 MiB: far beyond any page an engine sends */
#define WF_HTTP_MAX_REDIRECTS 3
#define WF_HTTP_DETAIL_MAX 256

/* How a request ended. WF_HTTP_OK means an HTTP answer arrived (any status). */
typedef enum wf_http_result {
    WF_HTTP_PENDING = 0,   /* not run yet */
    WF_HTTP_OK = 1,        /* an answer: see status */
    WF_HTTP_TIMEOUT = 2,   /* no complete answer within timeout_ms */
    WF_HTTP_CONNECT = 3,   /* host unknown, connection refused, no route */
    WF_HTTP_RESET = 4,     /* connected, but the connection broke or closed without an answer */
    WF_HTTP_TLS = 5,       /* TLS handshake or certificate check failed */
    WF_HTTP_TOO_LARGE = 6, /* the body is over max_body */
    WF_HTTP_REDIRECT = 7,  /* a redirect to another origin, or too many: not followed */
    WF_HTTP_FAILED = 8,    /* anything else (bad URL, out of memory, ...) */
} wf_http_result;

typedef struct wf_http_request {
    /* what to send (set before running; wf_http_request_reset clears them) */
    const char *method; /* "GET", "POST", ...: a static string */
    wf_buf url;
    wf_buf headers; /* secret buffer: "Name: value\n" lines (wf_http_request_header) */
    wf_buf body;    /* sent when has_body */
    bool has_body;
    long timeout_ms;   /* > 0; connect and transfer together */
    bool verify_tls;   /* verify the peer's certificate and name */
    const char *proxy; /* NULL: no proxy at all; else curl's proxy string (borrowed) */
    size_t max_body;   /* 0: WF_HTTP_MAX_BODY */
    long delay_ms;     /* wait this long before sending (a retry's pause) */

    /* what came back */
    wf_http_result result;
    long status;                     /* HTTP status, 0 when none */
    wf_buf response;                 /* the body, NUL-terminated */
    char content_type[128];          /* "" when none */
    long retry_after;                /* seconds from Retry-After, 0 when none */
    long elapsed_ms;                 /* from sending to the end, redirects included */
    int redirects;                   /* same-origin redirects followed */
    char detail[WF_HTTP_DETAIL_MAX]; /* why, when result is not WF_HTTP_OK; never a secret */

    void *priv; /* http.c's state while the request runs */
} wf_http_request;

/* Initialises every field (timeout 5000 ms, TLS verified, method GET). */
void wf_http_request_init(wf_http_request *r);
/* Clears what to send and what came back so that the struct can carry the next request;
 * keeps timeout_ms, verify_tls, proxy and max_body. Headers are wiped. */
void wf_http_request_reset(wf_http_request *r);
/* Releases everything (headers wiped). The request must not be running. */
void wf_http_request_free(wf_http_request *r);

/* Adds a header. A name or value holding CR, LF or NUL is refused (WF_ERR_INVALID):
 * nothing may be smuggled into the request. */
int wf_http_request_header(wf_http_request *r, const char *name, const char *value);

/* Does the content type say JSON ("application/json", "+json")? */
bool wf_http_is_json(const wf_http_request *r);

/* "scheme://host:port" of url as libcurl reads it (host lowercased, port explicit) into
 * out; false when curl does not read it as a URL with a host. What "the same host" means
 * for redirects and the API key. */
bool wf_http_origin_of(const char *url, char *out, size_t outlen);

/* A short name for people: "timeout", "connection refused", ... */
const char *wf_http_result_name(wf_http_result res);

/* Runs one request, blocking until it ends. Returns 0 (look at r->result), or
 * WF_ERR_NOMEM / WF_ERR_INTERNAL when curl could not even start. */
int wf_http_perform(wf_http_request *r);
/* Runs n requests concurrently on one multi handle, blocking until all have ended. */
int wf_http_perform_all(wf_http_request **rs, size_t n);

typedef struct wf_http_multi wf_http_multi;
typedef void (*wf_http_done_fn)(wf_http_request *r, void *ud);
struct event_base;

/* NULL when out of memory or when curl cannot be initialised. */
wf_http_multi *wf_http_multi_new(void);
/* A multi that base's loop drives: use it from the loop's thread only, and never call
 * wf_http_multi_run on it. NULL when out of memory. */
wf_http_multi *wf_http_multi_new_evented(struct event_base *base);
/* Frees the multi handle; requests still in it end as WF_HTTP_FAILED without their
 * callbacks being called. Accepts NULL. Not from inside one of its callbacks. */
void wf_http_multi_free(wf_http_multi *m);
/* Starts r (after r->delay_ms); done(r, ud) runs once it has ended, from inside
 * wf_http_multi_run, and may add more requests. r must stay valid until then. A request
 * that cannot start ends at once (its callback still runs, from the loop). */
int wf_http_multi_add(wf_http_multi *m, wf_http_request *r, wf_http_done_fn done, void *ud);
/* Runs until no request is left in m. Returns 0, or WF_ERR_INTERNAL when curl's multi
 * interface failed (every request still running then ends as WF_HTTP_FAILED), or
 * WF_ERR_INVALID for an evented multi (its loop runs it). */
int wf_http_multi_run(wf_http_multi *m);

#endif
