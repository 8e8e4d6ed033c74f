/*
 * router.c: the route table and path matching. The table is the single list of what the
 * API serves: the dispatcher matches against it, the metrics count by it, and a test
 * checks that openapi.json documents exactly these routes, methods and status codes.
 *
 * Patterns are literal segments and "{param}" segments; a parameter matches one segment
 * and is URL-decoded (so a legacy engine named "My Engine" is found as My%20Engine).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static const int st_health[] = {200, 0};
static const int st_ready[] = {200, 503, 0};
static const int st_login[] = {200, 400, 401, 413, 415, 422, 429, 0};
static const int st_logout[] = {204, 401, 0};
static const int st_me[] = {200, 401, 0};
static const int st_list[] = {200, 401, 422, 0};
static const int st_get[] = {200, 401, 404, 0};
static const int st_create[] = {201, 400, 401, 403, 409, 413, 415, 422, 0};
static const int st_patch[] = {200, 400, 401, 403, 404, 409, 413, 415, 422, 0};
static const int st_delete[] = {204, 401, 403, 404, 409, 0};
/* the engines themselves (workflows_api.c): 502 unreachable or a bad answer, 504 timeout */
static const int st_test[] = {200, 401, 404, 0};
static const int st_workflows[] = {200, 401, 422, 0};
static const int st_engine_workflows[] = {200, 401, 404, 502, 504, 0};
static const int st_run_start[] = {202, 400, 401, 403, 404, 409, 413, 415, 422, 502, 504, 0};
static const int st_run_status[] = {200, 401, 404, 502, 504, 0};
static const int st_page[] = {200, 304, 404, 0};

const wf_route wf_routes[] = {
    {"GET", "/healthz", wf_handle_healthz, WF_NEED_NONE, st_health, false},
    {"GET", "/readyz", wf_handle_readyz, WF_NEED_NONE, st_ready, false},
    {"GET", "/metrics", wf_handle_metrics, WF_NEED_NONE, st_health, false},
    {"GET", "/openapi.json", wf_handle_openapi, WF_NEED_NONE, st_health, false},
    {"POST", "/api/v1/auth/login", wf_handle_login, WF_NEED_NONE, st_login, false},
    {"POST", "/api/v1/auth/logout", wf_handle_logout, WF_NEED_VIEWER, st_logout, false},
    {"GET", "/api/v1/auth/me", wf_handle_me, WF_NEED_VIEWER, st_me, false},
    {"GET", "/api/v1/engines", wf_handle_engines_list, WF_NEED_VIEWER, st_list, false},
    {"POST", "/api/v1/engines", wf_handle_engine_create, WF_NEED_ADMIN, st_create, false},
    {"GET", "/api/v1/engines/{name}", wf_handle_engine_get, WF_NEED_VIEWER, st_get, false},
    {"PATCH", "/api/v1/engines/{name}", wf_handle_engine_patch, WF_NEED_ADMIN, st_patch, false},
    {"DELETE", "/api/v1/engines/{name}", wf_handle_engine_delete, WF_NEED_ADMIN, st_delete, false},
    {"GET", "/api/v1/engines/{name}/history", wf_handle_engine_history, WF_NEED_VIEWER, st_get,
     false},
    {"POST", "/api/v1/engines/{name}/test", wf_handle_engine_test, WF_NEED_VIEWER, st_test, false},
    {"GET", "/api/v1/workflows", wf_handle_workflows_list, WF_NEED_VIEWER, st_workflows, false},
    {"GET", "/api/v1/engines/{name}/workflows", wf_handle_engine_workflows, WF_NEED_VIEWER,
     st_engine_workflows, false},
    {"POST", "/api/v1/engines/{name}/workflows/{id}/runs", wf_handle_run_start, WF_NEED_ADMIN,
     st_run_start, false},
    {"GET", "/api/v1/engines/{name}/runs/{run_id}", wf_handle_run_status, WF_NEED_VIEWER,
     st_run_status, false},
    /* the admin page (web_api.c): it logs in through the API like any client */
    {"GET", "/", wf_handle_page, WF_NEED_NONE, st_page, true},
    {"GET", "/ui/{file}", wf_handle_page, WF_NEED_NONE, st_page, true},
    /* HEAD as GET (RFC 9110); libevent sends the headers of the answer without its body */
    {"HEAD", "/", wf_handle_page, WF_NEED_NONE, st_page, true},
    {"HEAD", "/ui/{file}", wf_handle_page, WF_NEED_NONE, st_page, true},
};
const size_t wf_nroutes = sizeof wf_routes / sizeof wf_routes[0];

size_t wf_route_index(const wf_route *r)
{
    return r ? (size_t)(r - wf_routes) : wf_nroutes;
}

static void free_params(char *params[2])
{
    for (int i = 0; i < 2; i++) {
        free(params[i]);
        params[i] = NULL;
    }
}

/* Compares one pattern with a path, segment by segment; fills params on a match and
 * leaves them empty otherwise. */
static bool match(const char *pattern, const char *path, char *params[2])
{
    const char *p = pattern, *s = path;
    int np = 0;
    while (*p && *s) {
        if (*p != '/' || *s != '/')
            goto fail;
        p++;
        s++;
        const char *pend = strchr(p, '/'), *send = strchr(s, '/');
        size_t plen = pend ? (size_t)(pend - p) : strlen(p);
        size_t slen = send ? (size_t)(send - s) : strlen(s);
        if (plen && p[0] == '{') {
            if (slen == 0 || np >= 2)
                goto fail;
            char *raw = strndup(s, slen);
            size_t dlen = 0;
            params[np] = raw ? evhttp_uridecode(raw, 0, &dlen) : NULL;
            free(raw);
            /* %00 would cut the name short in C ("victim%00x" finding "victim"): no name
             * holds a NUL, so such a path matches nothing */
            if (!params[np] || strlen(params[np++]) != dlen)
                goto fail;
        } else if (plen != slen || memcmp(p, s, plen) != 0) {
            goto fail;
        }
        p += plen;
        s += slen;
    }
    if (*p == '\0' && *s == '\0')
        return true;
fail:
    free_params(params);
    return false;
}

const wf_route *wf_route_match(const char *method, const char *path, char *params[2],
                               bool *path_known)
{
    *path_known = false;
    for (size_t i = 0; i < wf_nroutes; i++) {
        if (!match(wf_routes[i].pattern, path, params))
            continue;
        if (!strcmp(wf_routes[i].method, method))
            return &wf_routes[i];
        *path_known = true;
        free_params(params);
    }
    return NULL;
}
