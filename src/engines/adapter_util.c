/*
 * adapter_util.c: what the adapters share (adapter_util.h): building a request from the
 * engine's record, turning an answer into a status and a detail for people, adding
 * results, and reading JSON and timestamps defensively.
 *
 * Details quote the engine's own error message, made printable and short; a message that
 * quotes the key back is not shown at all (a misconfigured proxy might echo headers).
 */
#include "adapter_util.h"

#include "core/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MESSAGE_MAX 200 /* characters of an engine's message quoted in a detail */

/* ---- building a request ------------------------------------------------------------ */

void wf_job_begin(wf_job *j, const char *method)
{
    wf_http_request *r = &j->req;
    wf_http_request_reset(r);
    r->method = method;
    r->timeout_ms = j->call->timeout_ms;
    r->verify_tls = j->call->verify_tls;
    r->proxy = j->call->proxy;
    const char *base = j->call->engine->api_url ? j->call->engine->api_url : "";
    size_t n = strcspn(base, "?#"); /* the paths below go before any query */
    while (n && base[n - 1] == '/')
        n--;
    wf_buf_put(&r->url, base, n);
    wf_http_request_header(r, "Accept", "application/json");
}

void wf_job_path(wf_job *j, const char *s)
{
    wf_buf_puts(&j->req.url, s);
}

static void put_escaped(wf_buf *b, const char *s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/');
        if (plain) {
            wf_buf_putc(b, (char)c);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            wf_buf_put(b, esc, 3);
        }
    }
}

void wf_job_path_value(wf_job *j, const char *s, bool keep_slash)
{
    put_escaped(&j->req.url, s, keep_slash);
}

void wf_job_query(wf_job *j, const char *name, const char *value)
{
    wf_buf *u = &j->req.url;
    wf_buf_putc(u, strchr(wf_buf_cstr(u), '?') ? '&' : '?');
    put_escaped(u, name, false);
    wf_buf_putc(u, '=');
    put_escaped(u, value, false);
}

void wf_job_query_long(wf_job *j, const char *name, long value)
{
    char num[32];
    snprintf(num, sizeof num, "%ld", value);
    wf_job_query(j, name, num);
}

void wf_job_header(wf_job *j, const char *name, const char *value)
{
    if (wf_http_request_header(&j->req, name, value) < 0)
        j->req.headers.failed = true; /* wf_job_send says so */
}

static void base64_put(wf_buf *out, const unsigned char *in, size_t len)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        char q[4] = {tbl[(v >> 18) & 63], tbl[(v >> 12) & 63],
                     i + 1 < len ? tbl[(v >> 6) & 63] : '=', i + 2 < len ? tbl[v & 63] : '='};
        wf_buf_put(out, q, 4);
        wf_secure_zero(&v, sizeof v);
        wf_secure_zero(q, sizeof q);
    }
}

void wf_job_auth(wf_job *j, const char *scheme, const char *credentials, bool base64)
{
    wf_buf v;
    wf_buf_init_secret(&v);
    wf_buf_printf(&v, "%s ", scheme);
    if (base64)
        base64_put(&v, (const unsigned char *)credentials, strlen(credentials));
    else
        wf_buf_puts(&v, credentials);
    if (!wf_buf_ok(&v))
        j->req.headers.failed = true;
    else
        wf_job_header(j, "Authorization", v.ptr);
    wf_buf_wipe(&v);
}

void wf_job_body_json(wf_job *j, const json_t *o)
{
    wf_http_request *r = &j->req;
    char *s = json_dumps(o, JSON_COMPACT);
    if (s)
        wf_buf_puts(&r->body, s);
    else
        r->body.failed = true;
    free(s);
    r->has_body = true;
    wf_http_request_header(r, "Content-Type", "application/json");
}

int wf_job_send(wf_job *j)
{
    wf_http_request *r = &j->req;
    if (r->headers.failed)
        return wf_job_fail(j, WF_CALL_ERROR,
                           "the API key or a header value cannot be sent (line breaks?)");
    if (!wf_buf_ok(&r->url) || !wf_buf_ok(&r->body))
        return wf_job_fail(j, WF_CALL_ERROR, "out of memory");
    return WF_STEP_SEND;
}

/* ---- reading the answer ------------------------------------------------------------ */

static void set_detail(wf_job *j, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void set_detail(wf_job *j, const char *fmt, va_list ap)
{
    wf_buf b = WF_BUF_INIT;
    wf_buf_vprintf(&b, fmt, ap);
    free(j->test.detail);
    j->test.detail = wf_buf_detach(&b);
}

int wf_job_fail(wf_job *j, wf_call_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_detail(j, fmt, ap);
    va_end(ap);
    j->test.status = st;
    return WF_STEP_DONE;
}

void wf_job_note(wf_job *j, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_detail(j, fmt, ap);
    va_end(ap);
}

/* The message of a JSON error body: "message", "detail" (a string, or FastAPI's list of
 * {msg}), "exception_message" (Prefect's 422 and 500). */
static const char *json_message(const json_t *o)
{
    const char *m = wf_json_str(o, "message");
    if (!m)
        m = wf_json_str(o, "detail");
    if (!m && json_is_array(json_object_get(o, "detail")))
        m = wf_json_str(json_array_get(json_object_get(o, "detail"), 0), "msg");
    if (!m)
        m = wf_json_str(o, "exception_message");
    return m;
}

/* Appends text that came from the engine (a message, a header) for a detail: made
 * printable and short, or not at all when it quotes the API key, as sent or as it would
 * be shown (an escape's hex digits can spell the key's first characters: "\x9f" then
 * "a-key..." shows "...fa-key..."). */
static void put_engine_text(const wf_job *j, const char *text, size_t max, wf_buf *out)
{
    const char *key = wf_buf_cstr(&j->call->key);
    wf_buf shown = WF_BUF_INIT;
    wf_text_escape(&shown, text, max);
    if (j->call->key.len >= 4 && (strstr(text, key) || strstr(wf_buf_cstr(&shown), key)))
        wf_buf_puts(out, "(the answer quotes the API key: not shown)");
    else
        wf_buf_puts(out, wf_buf_cstr(&shown));
    wf_buf_wipe(&shown);
}

void wf_job_engine_message(const wf_job *j, wf_buf *out)
{
    const wf_http_request *r = &j->req;
    const char *body = wf_buf_cstr(&r->response);
    json_t *o =
        wf_http_is_json(r) ? json_loadb(body, r->response.len, JSON_DECODE_ANY, NULL) : NULL;
    wf_buf text = WF_BUF_INIT;
    const char *m = o ? json_message(o) : NULL;
    if (m) {
        wf_buf_puts(&text, m);
    } else if (!strncmp(r->content_type, "text/html", 9)) {
        wf_buf_puts(&text, "an HTML page");
    } else if (!o && r->response.len) {
        wf_buf_put(&text, body, strcspn(body, "\r\n")); /* Windmill: "Not found: ..." */
    }
    if (text.len)
        put_engine_text(j, wf_buf_cstr(&text), MESSAGE_MAX, out);
    wf_buf_wipe(&text);
    json_decref(o);
}

/* A failure for an HTTP answer outside 2xx. */
static void fail_status(wf_job *j, const char *what)
{
    const wf_http_request *r = &j->req;
    wf_buf msg = WF_BUF_INIT;
    wf_job_engine_message(j, &msg);
    const char *m = msg.len ? wf_buf_cstr(&msg) : "no message";
    long st = r->status;
    if (st == 401 || st == 403)
        wf_job_fail(j, WF_CALL_UNAUTHORIZED, "%s: %s (HTTP %ld: %s)", what,
                    j->call->key.len ? "the engine refused the API key"
                                     : "the engine wants an API key and none is set",
                    st, m);
    else if (st == 404) {
        j->is_not_found = true;
        wf_job_fail(j, WF_CALL_ERROR, "%s: not found (HTTP 404: %s)", what, m);
    } else if (st == 409) {
        j->is_conflict = true;
        wf_job_fail(j, WF_CALL_ERROR, "%s: refused as it is (HTTP 409: %s)", what, m);
    } else if (st == 502 || st == 503 || st == 504)
        wf_job_fail(j, WF_CALL_DOWN, "%s: the engine is unavailable (HTTP %ld: %s)", what, st, m);
    else if (st == 429)
        wf_job_fail(j, WF_CALL_ERROR, "%s: rate limited (HTTP 429; retry after %ld s)", what,
                    r->retry_after);
    else
        wf_job_fail(j, WF_CALL_ERROR, "%s: HTTP %ld: %s", what, st, m);
    wf_buf_free(&msg);
}

long wf_job_answer(wf_job *j, const char *what)
{
    const wf_http_request *r = &j->req;
    switch (r->result) {
    case WF_HTTP_OK: break;
    case WF_HTTP_TIMEOUT:
        wf_job_fail(j, WF_CALL_TIMEOUT, "%s: no answer within %ld ms", what, r->timeout_ms);
        return 0;
    case WF_HTTP_CONNECT:
    case WF_HTTP_RESET: wf_job_fail(j, WF_CALL_DOWN, "%s: %s", what, r->detail); return 0;
    default:
        wf_job_fail(j, WF_CALL_ERROR, "%s: %s", what,
                    r->detail[0] ? r->detail : wf_http_result_name(r->result));
        return 0;
    }
    if (r->status >= 200 && r->status < 300)
        return r->status;
    fail_status(j, what);
    return 0;
}

json_t *wf_job_json(wf_job *j, const char *what)
{
    const wf_http_request *r = &j->req;
    if (!wf_http_is_json(r)) {
        wf_buf ct = WF_BUF_INIT; /* the engine's header: it could echo the key */
        put_engine_text(j, r->content_type[0] ? r->content_type : "none", 60, &ct);
        wf_job_fail(j, WF_CALL_ERROR,
                    "%s: the answer is not JSON (content type '%s'): is api_url this "
                    "engine's base URL?",
                    what, wf_buf_cstr(&ct));
        wf_buf_free(&ct);
        return NULL;
    }
    json_error_t e;
    json_t *o = json_loadb(wf_buf_cstr(&r->response), r->response.len, JSON_DECODE_ANY, &e);
    if (!o)
        wf_job_fail(j, WF_CALL_ERROR, "%s: invalid JSON in the answer (line %d, column %d)", what,
                    e.line, e.column);
    return o;
}

/* ---- results ----------------------------------------------------------------------- */

int wf_job_add_workflow(wf_job *j, const char *id, const char *name, bool is_active,
                        const char *kind, const char *updated_at)
{
    wf_buf key = WF_BUF_INIT;
    wf_buf_printf(&key, "%s:%s", kind, id);
    if (!wf_buf_ok(&key))
        return WF_ERR_NOMEM;
    if (json_object_get(j->seen, key.ptr)) {
        wf_buf_free(&key);
        return 0;
    }
    int rc = json_object_set_new(j->seen, key.ptr, json_true()) ? WF_ERR_NOMEM : 0;
    wf_buf_free(&key);
    if (rc == 0 && j->nwfs == j->capwfs) {
        size_t cap = j->capwfs ? j->capwfs * 2 : 64;
        wf_workflow *grown = realloc(j->wfs, cap * sizeof *grown);
        if (!grown)
            return WF_ERR_NOMEM;
        j->wfs = grown;
        j->capwfs = cap;
    }
    if (rc < 0)
        return rc;
    wf_workflow *w = &j->wfs[j->nwfs];
    w->id = strdup(id);
    w->name = strdup(name ? name : id);
    w->is_active = is_active;
    w->kind = kind;
    w->updated_at = wf_time_normalize(updated_at);
    if (!w->id || !w->name) {
        free(w->id);
        free(w->name);
        free(w->updated_at);
        return WF_ERR_NOMEM;
    }
    j->nwfs++;
    return 0;
}

int wf_job_set_run(wf_job *j, const char *run_id, const char *workflow_id, wf_run_status st,
                   const char *started_at, const char *ended_at, const char *detail)
{
    wf_run *r = &j->run;
    free(r->run_id);
    free(r->workflow_id);
    free(r->started_at);
    free(r->ended_at);
    free(r->detail);
    r->run_id = wf_strdup(run_id);
    r->workflow_id = wf_strdup(workflow_id);
    r->status = st;
    r->started_at = wf_time_normalize(started_at);
    r->ended_at = wf_time_normalize(ended_at);
    r->detail = wf_strdup(detail);
    j->has_run = true;
    bool ok = (!run_id || r->run_id) && (!workflow_id || r->workflow_id) && (!detail || r->detail);
    return ok ? 0 : WF_ERR_NOMEM;
}

/* ---- defensive JSON readers -------------------------------------------------------- */

const char *wf_json_str(const json_t *o, const char *key)
{
    const json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

bool wf_json_bool(const json_t *o, const char *key, bool dflt)
{
    const json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

char *wf_json_id_dup(const json_t *v)
{
    if (json_is_string(v) && json_string_length(v) > 0)
        return strdup(json_string_value(v));
    if (json_is_integer(v)) {
        char num[32];
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return strdup(num);
    }
    return NULL;
}

char *wf_time_normalize(const char *s)
{
    time_t t;
    char out[WF_TEXT_ISO_MAX];
    if (!s || !wf_text_parse_time(s, &t) || !wf_text_iso_time(t, -1, out))
        return NULL;
    return strdup(out);
}

bool wf_id_is_safe(const char *s, bool allow_slash)
{
    size_t len = s ? strlen(s) : 0;
    if (len == 0 || len > 1024)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || (c == '/' && !allow_slash))
            return false;
    }
    for (const char *seg = s; seg;) { /* no empty, "." or ".." segment */
        size_t n = strcspn(seg, "/");
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && !strncmp(seg, "..", 2)))
            return false;
        seg = seg[n] ? seg + n + 1 : NULL;
    }
    return true;
}
