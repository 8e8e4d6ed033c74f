/*
 * http_internal.h: the inside of a wf_http_multi, shared by http.c (requests, transfers,
 * the blocking loop) and http_event.c (the same multi driven by a libevent loop). Private
 * to src/engines.
 */
#ifndef WF_ENGINES_HTTP_INTERNAL_H
#define WF_ENGINES_HTTP_INTERNAL_H

#include "http.h"

#include <curl/curl.h>

typedef struct wf_http_evloop wf_http_evloop; /* http_event.c */

struct wf_http_multi {
    CURLM *multi;
    struct wf_http_transfer *list; /* every transfer until its callback has run */
    wf_http_evloop *ev;            /* NULL: driven by wf_http_multi_run */
};

/* Hands every transfer that is due to curl (one that cannot start is finished at once);
 * returns the ms until the next waiting one is due, or -1 when none waits. */
long wf_http_start_due(wf_http_multi *m);
/* Reads curl's messages: records how each finished transfer ended (or re-arms it for a
 * redirect on the same origin). */
void wf_http_collect_done(wf_http_multi *m);
/* Takes the finished transfers out of the list and runs their callbacks. */
void wf_http_run_callbacks(wf_http_multi *m);
/* Does the list hold a transfer that has not been handed to curl yet? */
bool wf_http_has_waiting(const wf_http_multi *m);

/* http_event.c: sets curl's socket and timer callbacks up on base. */
int wf_http_ev_attach(wf_http_multi *m, struct event_base *base);
/* Schedules wf_http_start_due on the loop, after ms (0: at once). */
void wf_http_ev_kick(wf_http_multi *m, long ms);
/* Frees the events (after curl_multi_cleanup). */
void wf_http_ev_free(wf_http_multi *m);

#endif
