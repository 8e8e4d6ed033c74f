/*
 * http_event.c: a wf_http_multi driven by a libevent loop instead of wf_http_multi_run
 * (DESIGN.md: the server's loops drive libcurl's multi interface, so that nothing blocks
 * a loop). curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when to
 * wake it up (CURLMOPT_TIMERFUNCTION); on each event we call curl_multi_socket_action,
 * then the same completion path as the blocking loop (http.c): results, redirects on the
 * same origin, callbacks. A "kick" event starts requests added from outside curl (and
 * those that wait for their delay_ms).
 *
 * Everything runs on the loop's thread: a multi belongs to one loop, and requests are
 * added from that thread only (a server worker adds them from its request handlers).
 */
#include "http_internal.h"

#include "core/err.h"

#include <event2/event.h>
#include <stdlib.h>

/* One socket curl asked us to watch. */
typedef struct sock_watch {
    curl_socket_t fd;
    struct event *ev;
    wf_http_multi *m;
    struct sock_watch *prev, *next;
} sock_watch;

struct wf_http_evloop {
    struct event_base *base;
    struct event *timer; /* curl's own timeout */
    struct event *kick;  /* start what is due */
    sock_watch *socks;   /* every watch, to free what curl leaves behind */
};

/* After curl has acted: finished transfers recorded, their callbacks run. */
static void after_action(wf_http_multi *m)
{
    wf_http_collect_done(m);
    wf_http_run_callbacks(m);
}

static void on_socket(evutil_socket_t fd, short what, void *arg)
{
    wf_http_multi *m = ((sock_watch *)arg)->m; /* the watch may be gone after the action */
    int flags =
        ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    int running = 0;
    curl_multi_socket_action(m->multi, fd, flags, &running);
    after_action(m);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    wf_http_multi *m = arg;
    int running = 0;
    curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    after_action(m);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    wf_http_multi *m = arg;
    long wait = wf_http_start_due(m);
    wf_http_run_callbacks(m); /* those that could not start */
    if (wait >= 0)
        wf_http_ev_kick(m, wait);
}

static void watch_free(wf_http_multi *m, sock_watch *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        m->ev->socks = w->next;
    if (w->next)
        w->next->prev = w->prev;
    event_free(w->ev);
    free(w);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    wf_http_multi *m = userp;
    sock_watch *w = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (w)
            watch_free(m, w);
        curl_multi_assign(m->multi, fd, NULL);
        return 0;
    }
    if (!w) {
        w = calloc(1, sizeof *w);
        if (!w)
            return -1;
        w->fd = fd;
        w->m = m;
        w->next = m->ev->socks;
        if (w->next)
            w->next->prev = w;
        m->ev->socks = w;
        curl_multi_assign(m->multi, fd, w);
    } else if (w->ev) {
        event_free(w->ev);
    }
    short kind = (short)(EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
                         ((what & CURL_POLL_OUT) ? EV_WRITE : 0));
    w->ev = event_new(m->ev->base, fd, kind, on_socket, w);
    return w->ev && event_add(w->ev, NULL) == 0 ? 0 : -1;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    wf_http_multi *m = userp;
    if (timeout_ms < 0)
        return evtimer_del(m->ev->timer);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    return evtimer_add(m->ev->timer, &tv);
}

int wf_http_ev_attach(wf_http_multi *m, struct event_base *base)
{
    wf_http_evloop *ev = calloc(1, sizeof *ev);
    if (!ev)
        return WF_ERR_NOMEM;
    ev->base = base;
    ev->timer = evtimer_new(base, on_timer, m);
    ev->kick = evtimer_new(base, on_kick, m);
    if (!ev->timer || !ev->kick) {
        if (ev->timer)
            event_free(ev->timer);
        if (ev->kick)
            event_free(ev->kick);
        free(ev);
        return WF_ERR_NOMEM;
    }
    m->ev = ev;
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
    curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
    return 0;
}

void wf_http_ev_kick(wf_http_multi *m, long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(m->ev->kick, &tv);
}

void wf_http_ev_free(wf_http_multi *m)
{
    wf_http_evloop *ev = m->ev;
    while (ev->socks)
        watch_free(m, ev->socks);
    event_free(ev->timer);
    event_free(ev->kick);
    free(ev);
    m->ev = NULL;
}

wf_http_multi *wf_http_multi_new_evented(struct event_base *base)
{
    wf_http_multi *m = wf_http_multi_new();
    if (m && wf_http_ev_attach(m, base) < 0) {
        wf_http_multi_free(m);
        return NULL;
    }
    return m;
}
