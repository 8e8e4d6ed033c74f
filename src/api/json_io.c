/*
 * json_io.c: JSON in and out. Every error has the shape FastAPI clients already parse:
 * {"detail": "..."} for 4xx/5xx in general, and for 422 a list with one entry per bad
 * field, {"loc": ["body", "api_url"], "msg": "...", "type": "..."}. Messages come from
 * wf_err, which never holds a secret.
 */
#include "internal.h"

#include "core/buf.h"

#include <event2/buffer.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Headers every response carries: content type, no caching of API answers, and no
 * sniffing of JSON as something else. */
static void common_headers(wf_req *r, const char *type)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
    if (type)
        evhttp_add_header(h, "Content-Type", type);
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "Cache-Control", "no-store");
    if (atomic_load(&r->w->api->stopping))
        evhttp_add_header(h, "Connection", "close");
    /* libevent sends neither a body nor a length with an answer to CONNECT (it expects a
     * tunnel to follow), which would leave the client waiting: say there is no body. */
    if (evhttp_request_get_command(r->req) == EVHTTP_REQ_CONNECT)
        evhttp_add_header(h, "Content-Length", "0");
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Internal Server Error";
    }
}

void wf_send(wf_req *r, int status, struct evbuffer *body)
{
    r->status = status;
    if (evhttp_request_get_command(r->req) == EVHTTP_REQ_HEAD) {
        /* libevent 2.1 sends a body given to a HEAD answer, without a length, and the
         * next answer on the connection would be read as part of it: the length GET
         * would have, and no body */
        char len[24];
        snprintf(len, sizeof len, "%zu", body ? evbuffer_get_length(body) : 0);
        evhttp_add_header(evhttp_request_get_output_headers(r->req), "Content-Length", len);
        evhttp_send_reply(r->req, status, reason(status), NULL);
        return;
    }
    evhttp_send_reply(r->req, status, reason(status), body);
}

void wf_reply_json(wf_req *r, int status, json_t *body)
{
    struct evbuffer *out = evbuffer_new();
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text || !out) {
        status = 500;
        free(text);
        text = strdup("{\"detail\":\"out of memory\"}");
    }
    if (out && text)
        evbuffer_add(out, text, strlen(text));
    common_headers(r, "application/json");
    wf_send(r, status, out);
    if (out)
        evbuffer_free(out);
    free(text);
}

void wf_reply_json_text(wf_req *r, int status, const char *text, size_t len)
{
    struct evbuffer *out = evbuffer_new();
    if (out)
        evbuffer_add(out, text, len);
    common_headers(r, "application/json");
    wf_send(r, status, out);
    if (out)
        evbuffer_free(out);
}

/* Replaces every byte that is not part of valid UTF-8 with '?', in place: a message can
 * quote a name from the request or from a legacy row, and JSON must stay valid. */
static void utf8_clean(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        size_t n = *p < 0x80         ? 1
                   : (*p >> 5) == 6  ? 2
                   : (*p >> 4) == 14 ? 3
                   : (*p >> 3) == 30 ? 4
                                     : 0;
        size_t i = 1;
        while (n && i < n && (p[i] & 0xC0) == 0x80)
            i++;
        if (n == 0 || i < n) {
            *p++ = '?';
            continue;
        }
        p += n;
    }
}

void wf_reply_detail(wf_req *r, int status, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    if (vsnprintf(msg, sizeof msg, fmt, ap) < 0)
        msg[0] = '\0';
    va_end(ap);
    json_t *body = json_pack("{s:s}", "detail", msg);
    if (!body) { /* not UTF-8 (overlong forms and the like included): clean it and retry */
        utf8_clean(msg);
        body = json_pack("{s:s}", "detail", msg);
    }
    wf_reply_json(r, status, body ? body : json_pack("{s:s}", "detail", "invalid request"));
}

json_t *wf_unknown_members(json_t *body, const char *const *known, size_t nknown)
{
    json_t *extra = NULL;
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v)
    {
        bool ok = false;
        for (size_t i = 0; i < nknown && !ok; i++)
            ok = !strcmp(k, known[i]);
        if (ok)
            continue;
        if (!extra)
            extra = json_array();
        /* the key exactly as sent: jansson has checked that it is UTF-8 */
        json_array_append_new(extra, json_pack("{s:[s,s], s:s, s:s}", "loc", "body", k, "msg",
                                               "unknown field", "type", "extra_forbidden"));
    }
    return extra;
}

void wf_reply_invalid_with(wf_req *r, const char *where, const wf_err *err, json_t *extra)
{
    json_t *list = extra ? extra : json_array();
    size_t n = err->nfields < WF_ERR_MAX_FIELDS ? err->nfields : WF_ERR_MAX_FIELDS;
    for (size_t i = 0; i < n; i++) {
        const wf_field_err *f = &err->fields[i];
        json_t *loc = json_pack("[s]", where);
        /* our own nested names: "config.timeout_ms" -> ["body", "config", "timeout_ms"] */
        if (!strncmp(f->field, "config.", 7)) {
            json_array_append_new(loc, json_string("config"));
            json_array_append_new(loc, json_string(f->field + 7));
        } else {
            json_array_append_new(loc, json_string(f->field));
        }
        json_array_append_new(
            list, json_pack("{s:o, s:s, s:s}", "loc", loc, "msg", f->msg, "type", f->type));
    }
    if (json_array_size(list) == 0)
        json_array_append_new(list, json_pack("{s:[s], s:s, s:s}", "loc", where, "msg", err->msg,
                                              "type", "value_error"));
    wf_reply_json(r, 422, json_pack("{s:o}", "detail", list));
}

void wf_reply_invalid(wf_req *r, const char *where, const wf_err *err)
{
    wf_reply_invalid_with(r, where, err, NULL);
}

void wf_reply_error(wf_req *r, int rc, const wf_err *err)
{
    const char *msg = err && err->msg[0] ? err->msg : wf_err_code_name(rc);
    switch (rc) {
    case WF_ERR_INVALID:
        if (err && err->nfields) {
            wf_reply_invalid(r, "body", err);
            return;
        }
        wf_reply_detail(r, 422, "%s", msg);
        return;
    case WF_ERR_NOT_FOUND: wf_reply_detail(r, 404, "%s", msg); return;
    case WF_ERR_CONFLICT: wf_reply_detail(r, 409, "%s", msg); return;
    case WF_ERR_DB:
        r->w->store_broken = true; /* checked, and reopened if need be, before the next one */
        wf_reply_detail(r, 503, "database unavailable: %s", msg);
        return;
    default: wf_reply_detail(r, 500, "%s", msg); return;
    }
}

void wf_reply_empty(wf_req *r, int status)
{
    common_headers(r, NULL);
    wf_send(r, status, NULL);
}

/* True for "application/json" with optional parameters ("; charset=utf-8"). */
static bool is_json_type(const char *ct)
{
    if (!ct)
        return false;
    while (*ct == ' ')
        ct++;
    size_t n = strlen("application/json");
    return !strncasecmp(ct, "application/json", n) &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

json_t *wf_read_json_object(wf_req *r)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
    size_t len = evbuffer_get_length(in);
    const char *ct = evhttp_find_header(evhttp_request_get_input_headers(r->req), "Content-Type");
    if (!is_json_type(ct)) {
        wf_reply_detail(r, 415, "the body must be JSON (Content-Type: application/json)");
        return NULL;
    }
    if (len > WF_API_MAX_BODY) {
        wf_reply_detail(r, 413, "the body is larger than %d bytes", WF_API_MAX_BODY);
        return NULL;
    }
    const char *data = (const char *)evbuffer_pullup(in, (ev_ssize_t)len);
    json_error_t jerr;
    json_t *j = json_loadb(data ? data : "", len, WF_API_JSON_FLAGS, &jerr);
    if (!j) {
        /* jansson's text can quote the input ("near '...'"), which may hold a key: cut it */
        char *near = strstr(jerr.text, " near ");
        if (near)
            *near = '\0';
        if (strstr(jerr.text, "duplicate object key")) {
            wf_reply_json(r, 422,
                          json_pack("{s:[{s:[s], s:s, s:s}]}", "detail", "loc", "body", "msg",
                                    "an object has a duplicate key", "type", "duplicate_key"));
            return NULL;
        }
        wf_reply_detail(r, 400, "the body is not valid JSON (line %d, column %d): %s", jerr.line,
                        jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        wf_reply_json(r, 422,
                      json_pack("{s:[{s:[s], s:s, s:s}]}", "detail", "loc", "body", "msg",
                                "must be a JSON object", "type", "object_type"));
        return NULL;
    }
    return j;
}

const char *wf_query(wf_req *r, const char *name)
{
    return r->has_query ? evhttp_find_header(&r->query, name) : NULL;
}
