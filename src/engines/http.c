/*
 * http.c: the HTTP client of http.h over libcurl's multi interface. Every request, even a
 * single blocking one, runs through a wf_http_multi: one path for setting curl up, one for
 * classifying how a transfer ended, one for redirects.
 *
 * A transfer is a request while it runs: its easy handle, curl's copy of the headers
 * (wiped when it ends), the error buffer, when it may start (delay_ms) and the callback.
 * The multi keeps every transfer it was given in one list until its callback has run.
 *
 * libcurl allocates with core/secmem.h's functions: the request it writes for an engine
 * carries the key in a header, and its buffers are overwritten when freed.
 */
#include "http_internal.h"

#include "core/err.h"
#include "core/secmem.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef struct wf_http_transfer {
    wf_http_request *r;
    wf_http_done_fn done;
    void *ud;
    struct wf_http_multi *m;
    CURL *easy;
    struct curl_slist *hdrs; /* curl's copy of the headers: wiped before it is freed */
    char errbuf[CURL_ERROR_SIZE];
    bool too_large;
    bool in_curl;  /* added to the multi handle */
    bool finished; /* its result is set; its callback is due */
    int64_t due_ms;
    int64_t t0_ms;
    struct wf_http_transfer *next;
} transfer;

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_OK;

static void global_init(void)
{
    global_rc = curl_global_init_mem(CURL_GLOBAL_DEFAULT, wf_secmem_malloc, wf_secmem_free,
                                     wf_secmem_realloc, wf_secmem_strdup, wf_secmem_calloc);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- requests ---------------------------------------------------------------------- */

void wf_http_request_init(wf_http_request *r)
{
    memset(r, 0, sizeof *r);
    r->method = "GET";
    wf_buf_init(&r->url);
    wf_buf_init_secret(&r->headers);
    wf_buf_init(&r->body);
    wf_buf_init(&r->response);
    r->timeout_ms = 5000;
    r->verify_tls = true;
}

void wf_http_request_reset(wf_http_request *r)
{
    r->method = "GET";
    wf_buf_clear(&r->url);
    wf_buf_clear(&r->headers); /* a secret buffer: wiped */
    wf_buf_clear(&r->body);
    wf_buf_clear(&r->response);
    r->url.failed = r->headers.failed = r->body.failed = r->response.failed = false;
    r->has_body = false;
    r->delay_ms = 0;
    r->result = WF_HTTP_PENDING;
    r->status = 0;
    r->content_type[0] = '\0';
    r->retry_after = 0;
    r->elapsed_ms = 0;
    r->redirects = 0;
    r->detail[0] = '\0';
}

void wf_http_request_free(wf_http_request *r)
{
    wf_buf_free(&r->url);
    wf_buf_wipe(&r->headers);
    wf_buf_free(&r->body);
    wf_buf_free(&r->response);
}

static bool has_crlf(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

int wf_http_request_header(wf_http_request *r, const char *name, const char *value)
{
    if (!name || !value || !name[0] || has_crlf(name) || has_crlf(value) || strchr(name, ':'))
        return WF_ERR_INVALID;
    wf_buf_printf(&r->headers, "%s: %s\n", name, value);
    return wf_buf_ok(&r->headers) ? 0 : WF_ERR_NOMEM;
}

bool wf_http_is_json(const wf_http_request *r)
{
    const char *ct = r->content_type;
    size_t n = strcspn(ct, ";");
    while (n && ct[n - 1] == ' ')
        n--;
    if (n == 16 && !strncasecmp(ct, "application/json", 16))
        return true;
    return n > 5 && !strncasecmp(ct + n - 5, "+json", 5);
}

const char *wf_http_result_name(wf_http_result res)
{
    switch (res) {
    case WF_HTTP_PENDING: return "not run";
    case WF_HTTP_OK: return "answered";
    case WF_HTTP_TIMEOUT: return "timeout";
    case WF_HTTP_CONNECT: return "cannot connect";
    case WF_HTTP_RESET: return "connection closed without an answer";
    case WF_HTTP_TLS: return "TLS failure";
    case WF_HTTP_TOO_LARGE: return "answer too large";
    case WF_HTTP_REDIRECT: return "redirect not followed";
    case WF_HTTP_FAILED: return "request failed";
    }
    return "request failed";
}

/* ---- setting up one transfer ------------------------------------------------------- */

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
    transfer *t = ud;
    size_t len = size * nmemb;
    size_t cap = t->r->max_body ? t->r->max_body : WF_HTTP_MAX_BODY;
    if (len > cap || t->r->response.len > cap - len) {
        t->too_large = true;
        return 0; /* curl ends the transfer with CURLE_WRITE_ERROR */
    }
    return wf_buf_put(&t->r->response, data, len) == 0 ? len : 0;
}

/* Overwrites curl's copies of the headers (the API key is among them), then frees them. */
static void free_headers(transfer *t)
{
    for (struct curl_slist *l = t->hdrs; l; l = l->next)
        wf_secure_zero(l->data, strlen(l->data));
    curl_slist_free_all(t->hdrs);
    t->hdrs = NULL;
}

static int build_headers(transfer *t)
{
    const char *p = wf_buf_cstr(&t->r->headers);
    wf_buf line;
    wf_buf_init_secret(&line);
    int rc = 0;
    while (*p && rc == 0) {
        size_t n = strcspn(p, "\n");
        wf_buf_clear(&line);
        wf_buf_put(&line, p, n);
        struct curl_slist *l = wf_buf_ok(&line) ? curl_slist_append(t->hdrs, line.ptr) : NULL;
        if (l)
            t->hdrs = l;
        else
            rc = WF_ERR_NOMEM;
        p += n + (p[n] == '\n');
    }
    /* no "Expect: 100-continue" round trip on large bodies */
    struct curl_slist *l = rc == 0 ? curl_slist_append(t->hdrs, "Expect:") : NULL;
    if (l)
        t->hdrs = l;
    else
        rc = WF_ERR_NOMEM;
    wf_buf_wipe(&line);
    return rc;
}

static void set_method(CURL *e, const wf_http_request *r)
{
    const char *m = r->method ? r->method : "GET";
    curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
    if (r->has_body || !strcmp(m, "POST")) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body.len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body.ptr ? r->body.ptr : "");
        if (strcmp(m, "POST"))
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
    } else if (!strcmp(m, "HEAD")) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        if (strcmp(m, "GET"))
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
    }
}

/* What is left of the request's one timeout, started when it first went to curl. */
static long time_left_ms(const transfer *t)
{
    long timeout = t->r->timeout_ms > 0 ? t->r->timeout_ms : 5000;
    return timeout - (long)(now_ms() - t->t0_ms);
}

/* The options that make every request bounded and safe (see http.h); the timeout is
 * setup_easy's. */
static void set_safety(CURL *e, const wf_http_request *r)
{
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    /* "" turns proxies off, the environment's included */
    curl_easy_setopt(e, CURLOPT_PROXY, r->proxy ? r->proxy : "");
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, r->verify_tls ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, r->verify_tls ? 2L : 0L);
    size_t cap = r->max_body ? r->max_body : WF_HTTP_MAX_BODY;
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cap);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, ""); /* the cap applies to decoded bytes */
    curl_easy_setopt(e, CURLOPT_USERAGENT, "wfreg/" WFREG_VERSION);
#if LIBCURL_VERSION_NUM >= 0x075700
    /* Freeing a transfer that is still resolving a name must not wait for the resolver
     * thread (a silent DNS server holds getaddrinfo for seconds): a server stopping on
     * SIGTERM frees its transfers in flight and must exit within 5 s. */
    curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L);
#endif
}

/* Creates (or re-arms, after a redirect) the easy handle for t. */
static int setup_easy(transfer *t)
{
    wf_http_request *r = t->r;
    if (!wf_buf_ok(&r->url) || !wf_buf_ok(&r->body) || !wf_buf_ok(&r->headers))
        return WF_ERR_NOMEM;
    if (!t->easy) {
        t->easy = curl_easy_init();
        if (!t->easy)
            return WF_ERR_NOMEM;
        set_safety(t->easy, r);
        curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
        curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->errbuf);
        curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
        int rc = build_headers(t);
        if (rc < 0)
            return rc;
        curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->hdrs);
    }
    /* curl counts its timeout from each start, and a followed redirect starts the
     * transfer again: each hop gets only what the hops before it left, so that one
     * timeout covers the whole request (the caller has checked that some is left). */
    long left = time_left_ms(t);
    curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, left > 0 ? left : 1L);
    curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, left > 0 ? left : 1L);
    t->errbuf[0] = '\0';
    set_method(t->easy, r);
    if (curl_easy_setopt(t->easy, CURLOPT_URL, wf_buf_cstr(&r->url)) != CURLE_OK)
        return WF_ERR_INVALID;
    return 0;
}

/* ---- how a transfer ended ---------------------------------------------------------- */

static wf_http_result classify(CURLcode cc, bool too_large)
{
    if (too_large || cc == CURLE_FILESIZE_EXCEEDED)
        return WF_HTTP_TOO_LARGE;
    switch (cc) {
    case CURLE_OK: return WF_HTTP_OK;
    case CURLE_OPERATION_TIMEDOUT: return WF_HTTP_TIMEOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT: return WF_HTTP_CONNECT;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM: return WF_HTTP_RESET;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS: return WF_HTTP_TLS;
    default: return WF_HTTP_FAILED;
    }
}

static void finish(transfer *t, wf_http_result res, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void finish(transfer *t, wf_http_result res, const char *fmt, ...)
{
    wf_http_request *r = t->r;
    r->result = res;
    r->elapsed_ms = (long)(now_ms() - t->t0_ms);
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->detail, sizeof r->detail, fmt, ap);
        va_end(ap);
    }
    t->finished = true;
    free_headers(t);
}

bool wf_http_origin_of(const char *url, char *out, size_t outlen)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    bool ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK;
    if (ok) {
        for (char *p = host; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        int n = snprintf(out, outlen, "%s://%s:%s", scheme, host, port);
        ok = n > 0 && (size_t)n < outlen;
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return ok;
}

/* A 3xx with a Location: follow it (same origin, within the limit: returns true and the
 * transfer is re-armed) or end the transfer with WF_HTTP_REDIRECT. */
static bool follow_redirect(transfer *t, const char *location)
{
    wf_http_request *r = t->r;
    char from[300], to[300];
    if (!wf_http_origin_of(wf_buf_cstr(&r->url), from, sizeof from) ||
        !wf_http_origin_of(location, to, sizeof to)) {
        finish(t, WF_HTTP_REDIRECT, "HTTP %ld redirect to an unusable location: not followed",
               r->status);
        return false;
    }
    if (strcmp(from, to)) {
        finish(t, WF_HTTP_REDIRECT,
               "HTTP %ld redirect to another host (%s): not followed, so that the API key is "
               "not sent there",
               r->status, to);
        return false;
    }
    if (r->redirects >= WF_HTTP_MAX_REDIRECTS) {
        finish(t, WF_HTTP_REDIRECT, "more than %d redirects: not followed", WF_HTTP_MAX_REDIRECTS);
        return false;
    }
    if (time_left_ms(t) <= 0) {
        finish(t, WF_HTTP_TIMEOUT, "timeout: no answer within the time left after %d redirects",
               r->redirects);
        return false;
    }
    r->redirects++;
    if (r->status == 303 || ((r->status == 301 || r->status == 302) && r->has_body)) {
        r->method = "GET"; /* what browsers and curl do */
        r->has_body = false;
    }
    wf_buf_clear(&r->url);
    wf_buf_puts(&r->url, location);
    wf_buf_clear(&r->response);
    r->status = 0;
    return true;
}

/* A transfer that curl reports done: record its answer, or re-arm it for a redirect
 * (returns true then: the caller adds it back). */
static bool complete(transfer *t, CURLcode cc)
{
    wf_http_request *r = t->r;
    CURL *e = t->easy;
    wf_http_result res = classify(cc, t->too_large);
    if (res != WF_HTTP_OK) {
        const char *why = t->errbuf[0] ? t->errbuf : curl_easy_strerror(cc);
        if (res == WF_HTTP_TOO_LARGE)
            finish(t, res, "the answer is larger than %zu bytes",
                   r->max_body ? r->max_body : (size_t)WF_HTTP_MAX_BODY);
        else
            finish(t, res, "%s (%s)", wf_http_result_name(res), why);
        return false;
    }
    char *ct = NULL, *location = NULL;
    curl_off_t retry = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &ct);
    curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &retry);
    snprintf(r->content_type, sizeof r->content_type, "%s", ct ? ct : "");
    r->retry_after = (long)retry;
    if (r->status >= 300 && r->status < 400 && r->status != 304 &&
        curl_easy_getinfo(e, CURLINFO_REDIRECT_URL, &location) == CURLE_OK && location)
        return follow_redirect(t, location) && setup_easy(t) == 0;
    if (!wf_buf_ok(&r->response)) {
        finish(t, WF_HTTP_FAILED, "out of memory reading the answer");
        return false;
    }
    finish(t, WF_HTTP_OK, NULL);
    return false;
}

/* ---- the multi handle -------------------------------------------------------------- */

wf_http_multi *wf_http_multi_new(void)
{
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return NULL;
    wf_http_multi *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->multi = curl_multi_init();
    if (!m->multi) {
        free(m);
        return NULL;
    }
    return m;
}

static void transfer_free(transfer *t)
{
    if (t->easy && t->in_curl)
        curl_multi_remove_handle(t->m->multi, t->easy);
    free_headers(t);
    if (t->easy)
        curl_easy_cleanup(t->easy);
    free(t);
}

void wf_http_multi_free(wf_http_multi *m)
{
    if (!m)
        return;
    while (m->list) {
        transfer *t = m->list;
        m->list = t->next;
        if (!t->finished)
            t->r->result = WF_HTTP_FAILED;
        transfer_free(t);
    }
    curl_multi_cleanup(m->multi);
    if (m->ev)
        wf_http_ev_free(m);
    free(m);
}

int wf_http_multi_add(wf_http_multi *m, wf_http_request *r, wf_http_done_fn done, void *ud)
{
    transfer *t = calloc(1, sizeof *t);
    if (!t)
        return WF_ERR_NOMEM;
    t->r = r;
    t->done = done;
    t->ud = ud;
    t->m = m;
    t->due_ms = now_ms() + (r->delay_ms > 0 ? r->delay_ms : 0);
    r->result = WF_HTTP_PENDING;
    r->status = 0;
    r->redirects = 0;
    r->detail[0] = '\0';
    wf_buf_clear(&r->response);
    t->next = m->list;
    m->list = t;
    if (m->ev)
        wf_http_ev_kick(m, 0);
    return 0;
}

long wf_http_start_due(wf_http_multi *m)
{
    int64_t now = now_ms();
    long wait = -1;
    for (transfer *t = m->list; t; t = t->next) {
        if (t->in_curl || t->finished)
            continue;
        if (t->due_ms > now) {
            if (wait < 0 || t->due_ms - now < wait)
                wait = (long)(t->due_ms - now);
            continue;
        }
        t->t0_ms = now;
        int rc = setup_easy(t);
        if (rc == 0 && curl_multi_add_handle(m->multi, t->easy) == CURLM_OK)
            t->in_curl = true;
        else
            finish(t, WF_HTTP_FAILED, "%s",
                   rc == WF_ERR_INVALID ? "the URL cannot be used" : "cannot start the request");
    }
    return wait;
}

bool wf_http_has_waiting(const wf_http_multi *m)
{
    for (const transfer *t = m->list; t; t = t->next) {
        if (!t->in_curl && !t->finished)
            return true;
    }
    return false;
}

void wf_http_collect_done(wf_http_multi *m)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        transfer *t = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        CURLcode cc = msg->data.result;
        curl_multi_remove_handle(m->multi, t->easy);
        t->in_curl = false;
        if (complete(t, cc) && curl_multi_add_handle(m->multi, t->easy) == CURLM_OK)
            t->in_curl = true;
        else if (!t->finished)
            finish(t, WF_HTTP_FAILED, "cannot follow the redirect");
    }
}

/* The callbacks may add transfers: those go to the list's head and are looked at on the
 * next round. */
void wf_http_run_callbacks(wf_http_multi *m)
{
    transfer *done = NULL, **pp = &m->list;
    while (*pp) {
        transfer *t = *pp;
        if (t->finished) {
            *pp = t->next;
            t->next = done;
            done = t;
        } else {
            pp = &t->next;
        }
    }
    while (done) {
        transfer *t = done;
        done = t->next;
        wf_http_done_fn fn = t->done;
        wf_http_request *r = t->r;
        void *ud = t->ud;
        transfer_free(t);
        if (fn)
            fn(r, ud);
    }
}

int wf_http_multi_run(wf_http_multi *m)
{
    if (m->ev)
        return WF_ERR_INVALID;
    while (m->list) {
        long wait = wf_http_start_due(m);
        int running = 0;
        if (curl_multi_perform(m->multi, &running) != CURLM_OK)
            goto broken;
        wf_http_collect_done(m);
        bool any_done = false;
        for (transfer *t = m->list; t; t = t->next)
            any_done |= t->finished;
        if (any_done) {
            wf_http_run_callbacks(m);
            continue;
        }
        if (m->list &&
            curl_multi_poll(m->multi, NULL, 0, wait < 0 ? 1000 : (int)wait, NULL) != CURLM_OK)
            goto broken;
    }
    return 0;
broken:
    for (transfer *t = m->list; t; t = t->next)
        if (!t->finished)
            finish(t, WF_HTTP_FAILED, "the HTTP client failed");
    wf_http_run_callbacks(m);
    return WF_ERR_INTERNAL;
}

int wf_http_perform_all(wf_http_request **rs, size_t n)
{
    wf_http_multi *m = wf_http_multi_new();
    if (!m)
        return WF_ERR_NOMEM;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = wf_http_multi_add(m, rs[i], NULL, NULL);
    if (rc == 0)
        rc = wf_http_multi_run(m);
    wf_http_multi_free(m);
    return rc;
}

int wf_http_perform(wf_http_request *r)
{
    return wf_http_perform_all(&r, 1);
}
