/*
 * fuzz_route.c: a request's method, path and query through what server.c's dispatch does
 * before any handler runs: libevent's parsing of the request target
 * (evhttp_uri_parse_with_flags, as evhttp parses a request line), the route table
 * (wf_route_match, with its URL-decoded path parameters), the 405 search over every
 * route, and the query string (evhttp_parse_query_str, then the handlers' lookups).
 *
 * Input: one letter that picks the method (G GET, P POST, A PATCH, D DELETE, H HEAD,
 * U PUT, anything else OPTIONS), then the request target
 * ("/api/v1/engines/n8n%20prod/runs/42?x=1"), up to its first NUL.
 *
 * The check: a route that matches gives parameters that, encoded again and put back into
 * its pattern, match the same route with the same parameters (decoding loses nothing and
 * lets nothing through that a plain name would not).
 */
#include "api/internal.h"

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

static const char *method_of(uint8_t c)
{
    switch (c) {
    case 'G': return "GET";
    case 'P': return "POST";
    case 'A': return "PATCH";
    case 'D': return "DELETE";
    case 'H': return "HEAD";
    case 'U': return "PUT";
    default: return "OPTIONS";
    }
}

static void must(bool ok, const char *what, const char *target)
{
    if (!ok) {
        fprintf(stderr, "fuzz_route: %s: %s\n", what, target);
        abort();
    }
}

/* The route's pattern with params (encoded) in place of its {...} segments. */
static char *rebuild(const char *pattern, char *params[2])
{
    wf_buf b = WF_BUF_INIT;
    int np = 0;
    for (const char *p = pattern; *p;) {
        if (*p == '{') {
            char *enc = np < 2 && params[np] ? evhttp_uriencode(params[np], -1, 0) : NULL;
            wf_buf_puts(&b, enc ? enc : "");
            free(enc);
            np++;
            p = strchr(p, '}');
            p = p ? p + 1 : p + strlen(p);
        } else {
            wf_buf_putc(&b, *p++);
        }
    }
    return wf_buf_detach(&b);
}

static void check_round_trip(const char *method, const wf_route *r, char *params[2],
                             const char *target)
{
    char *again = rebuild(r->pattern, params);
    must(again != NULL, "out of memory", target);
    char *p2[2] = {NULL, NULL};
    bool known = false;
    const wf_route *r2 = wf_route_match(method, again, p2, &known);
    must(r2 == r, "the re-encoded path matches another route", target);
    for (int i = 0; i < 2; i++)
        must((!params[i] && !p2[i]) || (params[i] && p2[i] && !strcmp(params[i], p2[i])),
             "a parameter does not survive encoding and decoding", target);
    free(p2[0]);
    free(p2[1]);
    free(again);
}

static void route(const char *method, const char *path, const char *target)
{
    char *params[2] = {NULL, NULL};
    bool known = false;
    const wf_route *r = wf_route_match(method, path, params, &known);
    if (r) {
        for (int i = 0; i < 2; i++)
            must(!params[i] || params[i][0], "an empty path parameter", target);
        check_round_trip(method, r, params, target);
    } else {
        must(!params[0] && !params[1], "parameters left over from no match", target);
        if (known) { /* server.c answers 405 with the methods the path has */
            for (size_t i = 0; i < wf_nroutes; i++) {
                char *p[2] = {NULL, NULL};
                bool k;
                wf_route_match(wf_routes[i].method, path, p, &k);
                free(p[0]);
                free(p[1]);
            }
        }
    }
    free(params[0]);
    free(params[1]);
}

static void query(const char *q)
{
    struct evkeyvalq kv;
    TAILQ_INIT(&kv);
    if (evhttp_parse_query_str(q, &kv) == 0) {
        static const char *const names[] = {"engine_type", "source", "active",
                                            "limit",       "offset", "engine"};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            evhttp_find_header(&kv, names[i]);
    }
    evhttp_clear_headers(&kv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *method = method_of(data[0]);
    char *target = strndup((const char *)data + 1, size - 1);
    if (!target)
        return 0;
    struct evhttp_uri *uri = evhttp_uri_parse_with_flags(target, EVHTTP_URI_NONCONFORMANT);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    if (path && *path) { /* else server.c answers 400 */
        route(method, path, target);
        const char *q = evhttp_uri_get_query(uri);
        if (q)
            query(q);
    }
    if (uri)
        evhttp_uri_free(uri);
    free(target);
    return 0;
}
