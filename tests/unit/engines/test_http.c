/*
 * test_http.c: the HTTP client (http.c, http_event.c) against two small libevent HTTP
 * servers of the test's own, on 127.0.0.1 in a thread: answers, the timeout, a refused
 * connection, the body cap, redirects (followed on the same origin, refused to another
 * one, which then receives nothing), header injection, proxies from the environment
 * ignored, and concurrency: 20 requests of 200 ms each end in well under a second,
 * with the blocking loop and with a multi driven by a libevent loop (callbacks adding
 * the next request, delays), and adapter jobs on such a multi.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/log.h"
#include "engines/adapter.h"
#include "engines/http.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct server {
    struct event_base *base;
    struct evhttp *http;
    int port;
    atomic_int requests;
    char last_key[128]; /* the X-Key header of the last request (main reads it after) */
    pthread_mutex_t lock;
} server;

static server main_srv, other_srv;
static pthread_t srv_thread;
static struct event_base *srv_base;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void reply_text(struct evhttp_request *req, int code, const char *ctype, const char *body)
{
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, body, strlen(body));
    evhttp_send_reply(req, code, "x", b);
    evbuffer_free(b);
}

static void reply_later(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    reply_text(arg, 200, "application/json", "{\"slow\":true}");
}

static void redirect(struct evhttp_request *req, int port, const char *path, int code)
{
    char loc[128];
    snprintf(loc, sizeof loc, "http://127.0.0.1:%d%s", port, path);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Location", loc);
    evhttp_send_reply(req, code, "Moved", NULL);
}

static void redirect_later(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    redirect(arg, main_srv.port, "/slow-loop", 307);
}

static void big(struct evhttp_request *req)
{
    struct evbuffer *b = evbuffer_new();
    char chunk[65536];
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 9 * 16; i++) /* 9 MiB */
        evbuffer_add(b, chunk, sizeof chunk);
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

static void handle(struct evhttp_request *req, void *arg)
{
    server *s = arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    const char *key = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Key");
    atomic_fetch_add(&s->requests, 1);
    pthread_mutex_lock(&s->lock);
    snprintf(s->last_key, sizeof s->last_key, "%s", key ? key : "");
    pthread_mutex_unlock(&s->lock);
    if (!strcmp(path, "/api/v1/workflows"))
        reply_text(req, 200, "application/json", "{\"data\":[],\"nextCursor\":null}");
    else if (!strcmp(path, "/ok"))
        reply_text(req, 200, "application/json; charset=utf-8", "{\"ok\":true}");
    else if (!strcmp(path, "/method"))
        reply_text(req, 200, "text/plain",
                   evhttp_request_get_command(req) == EVHTTP_REQ_GET ? "GET" : "other");
    else if (!strcmp(path, "/slow")) {
        struct timeval tv = {0, 200000};
        event_base_once(s->base, -1, EV_TIMEOUT, reply_later, req, &tv);
    } else if (!strcmp(path, "/hang"))
        ; /* never answered: the client's timeout ends it */
    else if (!strcmp(path, "/big"))
        big(req);
    else if (!strcmp(path, "/same"))
        redirect(req, main_srv.port, "/ok", 302);
    else if (!strcmp(path, "/post-302"))
        redirect(req, main_srv.port, "/method", 302);
    else if (!strcmp(path, "/loop"))
        redirect(req, main_srv.port, "/loop", 307);
    else if (!strcmp(path, "/slow-loop")) { /* a redirect to itself after 300 ms */
        struct timeval tv = {0, 300000};
        event_base_once(s->base, -1, EV_TIMEOUT, redirect_later, req, &tv);
    } else if (!strcmp(path, "/elsewhere"))
        redirect(req, other_srv.port, "/ok", 302);
    else
        reply_text(req, 404, "text/plain", "not found");
}

static void server_start(server *s)
{
    s->base = srv_base;
    s->http = evhttp_new(srv_base);
    evhttp_set_gencb(s->http, handle, s);
    struct evhttp_bound_socket *b = evhttp_bind_socket_with_handle(s->http, "127.0.0.1", 0);
    assert_non_null(b);
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    getsockname(evhttp_bound_socket_get_fd(b), (struct sockaddr *)&sa, &len);
    s->port = ntohs(sa.sin_port);
    pthread_mutex_init(&s->lock, NULL);
}

static void *serve(void *arg)
{
    (void)arg;
    event_base_loop(srv_base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

static int setup(void **state)
{
    (void)state;
    evthread_use_pthreads();
    srv_base = event_base_new();
    server_start(&main_srv);
    server_start(&other_srv);
    return pthread_create(&srv_thread, NULL, serve, NULL);
}

static int teardown(void **state)
{
    (void)state;
    event_base_loopbreak(srv_base);
    pthread_join(srv_thread, NULL);
    evhttp_free(main_srv.http);
    evhttp_free(other_srv.http);
    event_base_free(srv_base);
    return 0;
}

/* A request to path on the main server (or other), with an X-Key header. */
static void prepare(wf_http_request *r, server *s, const char *path)
{
    wf_http_request_init(r);
    wf_buf_printf(&r->url, "http://127.0.0.1:%d%s", s->port, path);
    assert_int_equal(wf_http_request_header(r, "X-Key", "key-123"), 0);
}

static void test_answer(void **state)
{
    (void)state;
    wf_http_request r;
    prepare(&r, &main_srv, "/ok");
    assert_int_equal(wf_http_perform(&r), 0);
    assert_int_equal(r.result, WF_HTTP_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(wf_buf_cstr(&r.response), "{\"ok\":true}");
    assert_true(wf_http_is_json(&r));
    assert_string_equal(main_srv.last_key, "key-123");
    wf_http_request_free(&r);

    prepare(&r, &main_srv, "/nope");
    wf_http_perform(&r);
    assert_int_equal(r.result, WF_HTTP_OK);
    assert_int_equal(r.status, 404);
    assert_false(wf_http_is_json(&r));
    wf_http_request_free(&r);
}

static void test_failures(void **state)
{
    (void)state;
    wf_http_request r;
    prepare(&r, &main_srv, "/hang");
    r.timeout_ms = 200;
    double t0 = now_s();
    wf_http_perform(&r);
    assert_int_equal(r.result, WF_HTTP_TIMEOUT);
    assert_true(now_s() - t0 < 1.5);
    wf_http_request_free(&r);

    wf_http_request_init(&r);
    wf_buf_puts(&r.url, "http://127.0.0.1:1/ok");
    wf_http_perform(&r);
    assert_int_equal(r.result, WF_HTTP_CONNECT);
    wf_http_request_free(&r);

    prepare(&r, &main_srv, "/big");
    wf_http_perform(&r);
    assert_int_equal(r.result, WF_HTTP_TOO_LARGE);
    assert_non_null(strstr(r.detail, "larger than"));
    wf_http_request_free(&r);

    prepare(&r, &main_srv, "/ok");
    r.max_body = 5;
    wf_http_perform(&r);
    assert_int_equal(r.result, WF_HTTP_TOO_LARGE);
    wf_http_request_free(&r);

    wf_http_request_init(&r);
    wf_buf_puts(&r.url, "file:///etc/passwd"); /* http and https only */
    wf_http_perform(&r);
    assert_int_equal(r.result, WF_HTTP_FAILED);
    assert_int_equal(r.status, 0);
    wf_http_request_free(&r);

    wf_http_request_init(&r);
    assert_int_equal(wf_http_request_header(&r, "X-Key", "a\r\nX-Evil: 1"), WF_ERR_INVALID);
    assert_int_equal(wf_http_request_header(&r, "X:Y", "a"), WF_ERR_INVALID);
    wf_http_request_free(&r);
}

static void test_redirects(void **state)
{
    (void)state;
    wf_http_request r;
    prepare(&r, &main_srv, "/same");
    wf_http_perform(&r);
    assert_int_equal(r.result, WF_HTTP_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.redirects, 1);
    wf_http_request_free(&r);

    prepare(&r, &main_srv, "/post-302"); /* a POST redirected by 302 becomes a GET */
    r.method = "POST";
    r.has_body = true;
    wf_buf_puts(&r.body, "{}");
    wf_http_perform(&r);
    assert_string_equal(wf_buf_cstr(&r.response), "GET");
    wf_http_request_free(&r);

    prepare(&r, &main_srv, "/loop");
    wf_http_perform(&r);
    assert_int_equal(r.result, WF_HTTP_REDIRECT);
    assert_non_null(strstr(r.detail, "more than 3 redirects"));
    wf_http_request_free(&r);

    /* one timeout for the whole request, its redirects included: hops of 300 ms each
     * within 700 ms end with the timeout on the third hop, not after four hops (1.2 s,
     * which curl's own timeout, counted from each hop's start, allowed) */
    prepare(&r, &main_srv, "/slow-loop");
    r.timeout_ms = 700;
    double t0 = now_s();
    wf_http_perform(&r);
    double took = now_s() - t0;
    assert_int_equal(r.result, WF_HTTP_TIMEOUT);
    assert_in_range(r.redirects, 1, 2); /* 2, or 1 on a slow machine */
    assert_true(took < 1.1);
    wf_http_request_free(&r);

    int before = atomic_load(&other_srv.requests);
    prepare(&r, &main_srv, "/elsewhere");
    wf_http_perform(&r);
    assert_int_equal(r.result, WF_HTTP_REDIRECT);
    assert_non_null(strstr(r.detail, "another host"));
    assert_null(strstr(r.detail, "key-123"));
    assert_int_equal(atomic_load(&other_srv.requests), before); /* nothing reached it */
    wf_http_request_free(&r);
}

static void test_no_proxy_from_environment(void **state)
{
    (void)state;
    setenv("http_proxy", "http://127.0.0.1:1", 1);
    setenv("ALL_PROXY", "http://127.0.0.1:1", 1);
    wf_http_request r;
    prepare(&r, &main_srv, "/ok");
    wf_http_perform(&r);
    assert_int_equal(r.result, WF_HTTP_OK);
    wf_http_request_free(&r);
    unsetenv("http_proxy");
    unsetenv("ALL_PROXY");
}

#define FAN 20

static void test_blocking_fan_out(void **state)
{
    (void)state;
    wf_http_request rs[FAN], *ps[FAN];
    for (int i = 0; i < FAN; i++) {
        prepare(&rs[i], &main_srv, "/slow");
        ps[i] = &rs[i];
    }
    double t0 = now_s();
    assert_int_equal(wf_http_perform_all(ps, FAN), 0);
    double took = now_s() - t0;
    for (int i = 0; i < FAN; i++) {
        assert_int_equal(rs[i].status, 200);
        wf_http_request_free(&rs[i]);
    }
    assert_true(took < 1.0); /* serially: 4 s */
}

/* ---- driven by a libevent loop ----------------------------------------------------- */

typedef struct evt_state {
    wf_http_multi *m;
    struct event_base *base;
    wf_http_request chained;
    int done;
    int want;
} evt_state;

static void on_chained(wf_http_request *r, void *ud)
{
    evt_state *st = ud;
    assert_int_equal(r->status, 200);
    if (++st->done == st->want)
        event_base_loopexit(st->base, NULL);
}

static void on_done(wf_http_request *r, void *ud)
{
    evt_state *st = ud;
    assert_int_equal(r->result, WF_HTTP_OK);
    assert_int_equal(r->status, 200);
    if (++st->done == FAN) { /* the first batch over: one more, added from a callback */
        prepare(&st->chained, &main_srv, "/ok");
        st->chained.delay_ms = 300;
        assert_int_equal(wf_http_multi_add(st->m, &st->chained, on_chained, st), 0);
    }
}

static void test_evented_fan_out(void **state)
{
    (void)state;
    evt_state st = {0};
    st.want = FAN + 1;
    st.base = event_base_new();
    st.m = wf_http_multi_new_evented(st.base);
    assert_non_null(st.m);
    assert_int_equal(wf_http_multi_run(st.m), WF_ERR_INVALID); /* its loop runs it */
    wf_http_request rs[FAN];
    for (int i = 0; i < FAN; i++) {
        prepare(&rs[i], &main_srv, "/slow");
        assert_int_equal(wf_http_multi_add(st.m, &rs[i], on_done, &st), 0);
    }
    struct timeval limit = {5, 0};
    event_base_loopexit(st.base, &limit);
    double t0 = now_s();
    event_base_dispatch(st.base);
    double took = now_s() - t0;
    assert_int_equal(st.done, FAN + 1);
    assert_true(took >= 0.45); /* 200 ms, then the chained request's 300 ms delay */
    assert_true(took < 1.5);
    for (int i = 0; i < FAN; i++)
        wf_http_request_free(&rs[i]);
    wf_http_request_free(&st.chained);
    wf_http_multi_free(st.m);
    event_base_free(st.base);
}

static void test_evented_free_with_requests_in_flight(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    wf_http_multi *m = wf_http_multi_new_evented(base);
    wf_http_request r;
    prepare(&r, &main_srv, "/hang");
    wf_http_multi_add(m, &r, NULL, NULL);
    struct timeval t = {0, 100000};
    event_base_loopexit(base, &t);
    event_base_dispatch(base);
    wf_http_multi_free(m); /* with its socket watched: nothing leaks (ASan) */
    assert_int_equal(r.result, WF_HTTP_FAILED);
    wf_http_request_free(&r);
    event_base_free(base);
}

static void on_job(wf_job *j, void *ud)
{
    int *finished = ud;
    (*finished)++;
    assert_true(wf_job_is_done(j));
}

/* What a server worker does: jobs on its loop's multi, answered from on_finish. */
static void test_jobs_on_an_event_loop(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    wf_http_multi *m = wf_http_multi_new_evented(base);
    wf_engine *up = wf_engine_new(), *down = wf_engine_new();
    up->name = strdup("up");
    down->name = strdup("down");
    up->engine_type = strdup("n8n");
    down->engine_type = strdup("n8n");
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", main_srv.port);
    up->api_url = strdup(url);
    down->api_url = strdup("http://127.0.0.1:1");
    wf_adapter_call c1, c2;
    wf_adapter_call_init(&c1, up);
    wf_adapter_call_init(&c2, down);
    wf_adapter_call_set_key(&c1, "k", 1);
    wf_job *j1 = wf_job_new_test(&c1), *j2 = wf_job_new_workflows(&c2);
    int finished = 0;
    wf_job_start(j1, m, on_job, &finished);
    wf_job_start(j2, m, on_job, &finished);
    assert_int_equal(finished, 0); /* nothing blocks: the loop runs them */
    struct timeval limit = {0, 500000};
    event_base_loopexit(base, &limit);
    event_base_dispatch(base);
    assert_int_equal(finished, 2);
    assert_int_equal(wf_job_status(j1), WF_CALL_UP);
    assert_int_equal(wf_job_status(j2), WF_CALL_DOWN);
    wf_job_free(j1);
    wf_job_free(j2);
    wf_adapter_call_clear(&c1);
    wf_adapter_call_clear(&c2);
    wf_engine_free(up);
    wf_engine_free(down);
    wf_http_multi_free(m);
    event_base_free(base);
}

int main(void)
{
    wf_log_setup(WF_LOG_OFF, WF_LOG_TEXT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answer),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_redirects),
        cmocka_unit_test(test_no_proxy_from_environment),
        cmocka_unit_test(test_blocking_fan_out),
        cmocka_unit_test(test_evented_fan_out),
        cmocka_unit_test(test_evented_free_with_requests_in_flight),
        cmocka_unit_test(test_jobs_on_an_event_loop),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
