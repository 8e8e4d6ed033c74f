/*
 * watch.c: the server's eye on its database, in a thread of its own with its own
 * connection and event loop, so that a database that hangs or is gone never blocks a
 * worker that answers requests.
 *
 * It keeps both snapshots (the registry, the tokens) in step with changes other
 * processes commit: on PostgreSQL by LISTEN (a notification as each change commits,
 * sent by the trigger of migration 0004), on SQLite by polling PRAGMA data_version; on
 * both, every RELOAD_EVERY_MS it compares the database's change counter, and every 30 s
 * it reloads anyway, so a lost notification costs at most that long.
 *
 * It also decides whether the database answers (api->db_ok: the API says 503 while it
 * does not). When the connection is lost it tries again every second; once it is back
 * it reloads in full, LISTENs again and bumps api->db_generation, which tells every
 * worker to reopen its own connection before its next request.
 */
#include "internal.h"

#include "core/log.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RELOAD_EVERY_MS 250
#define SAFETY_RELOAD_TICKS 120 /* 30 s */
#define RECONNECT_TICKS 4       /* 1 s */

struct wf_watch {
    wf_api *api;
    wf_store *store;
    struct event_base *base;
    struct event *tick;
    struct event *notify; /* PostgreSQL: the connection's socket, readable on NOTIFY */
    pthread_t thread;
    bool started;
    bool connected;
    bool reload_failing; /* the database answers but the snapshots cannot be rebuilt */
    int64_t data_version;
    unsigned ticks;
};

static void on_notify(evutil_socket_t fd, short what, void *arg);

/* Reloads both snapshots; a failure leaves the last ones served, logged once. */
static void reload(wf_watch *wt)
{
    wf_err err;
    wf_err_init(&err);
    if (wf_api_reload_with(wt->api, wt->store, true, &err) < 0) {
        if (!wt->reload_failing)
            wf_warn("reloading the registry failed; serving the last snapshot: %s", err.msg);
        wt->reload_failing = true;
        return;
    }
    if (wt->reload_failing)
        wf_info("the registry reloads again");
    wt->reload_failing = false;
}

/* LISTENs and watches the socket (PostgreSQL; nothing on SQLite). */
static void listen_again(wf_watch *wt)
{
    if (wt->notify) {
        event_free(wt->notify);
        wt->notify = NULL;
    }
    wf_err err;
    wf_err_init(&err);
    if (wf_store_listen(wt->store, &err) < 0) {
        wf_warn("cannot listen for changes (polling instead): %s", err.msg);
        return;
    }
    int fd = wf_store_socket(wt->store);
    if (fd < 0)
        return;
    wt->notify = event_new(wt->base, fd, EV_READ | EV_PERSIST, on_notify, wt);
    if (wt->notify)
        event_add(wt->notify, NULL);
}

static void lost(wf_watch *wt, const wf_err *err)
{
    if (wt->connected)
        wf_warn("the database does not answer; the API answers 503 until it does: %s", err->msg);
    wt->connected = false;
    atomic_store(&wt->api->db_ok, false);
    if (wt->notify) {
        event_free(wt->notify);
        wt->notify = NULL;
    }
}

static void found(wf_watch *wt)
{
    wt->connected = true;
    listen_again(wt);
    wf_store_data_version(wt->store, &wt->data_version, NULL);
    reload(wt);
    atomic_fetch_add(&wt->api->db_generation, 1);
    atomic_store(&wt->api->db_ok, true);
    wf_info("the database answers again");
}

static void on_notify(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    wf_watch *wt = arg;
    wf_err err;
    wf_err_init(&err);
    unsigned changed = 0;
    if (wf_store_notifications(wt->store, &changed, &err) < 0) {
        lost(wt, &err);
        return;
    }
    if (changed) {
        wf_store_data_version(wt->store, &wt->data_version, NULL);
        reload(wt);
    }
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    wf_watch *wt = arg;
    wf_err err;
    wf_err_init(&err);
    wt->ticks++;
    if (!wt->connected) {
        if (wt->ticks % RECONNECT_TICKS == 0 && wf_store_reconnect(wt->store, &err) == 0 &&
            wf_store_ping(wt->store, &err) == 0)
            found(wt);
        return;
    }
    int64_t v = 0;
    if (wf_store_data_version(wt->store, &v, &err) < 0) {
        if (wf_store_ping(wt->store, NULL) < 0) {
            lost(wt, &err);
            return;
        }
        /* it answers, but has no change counter (its schema rolled back): keep trying */
    }
    bool due = wt->ticks % SAFETY_RELOAD_TICKS == 0;
    if (v == wt->data_version && !due && !wt->reload_failing)
        return;
    reload(wt);
    if (!wt->reload_failing)
        wt->data_version = v;
}

static void *watch_main(void *arg)
{
    wf_watch *wt = arg;
    event_base_dispatch(wt->base);
    return NULL;
}

int wf_watch_start(wf_api *api, wf_watch **out, wf_err *err)
{
    wf_watch *wt = calloc(1, sizeof *wt);
    if (!wt)
        return wf_err_set(err, WF_ERR_NOMEM, "out of memory");
    wt->api = api;
    int rc = wf_store_open(api->config->database_url, &wt->store, err);
    if (rc < 0)
        goto fail;
    wt->base = event_base_new();
    struct timeval every = {0, RELOAD_EVERY_MS * 1000};
    wt->tick = wt->base ? event_new(wt->base, -1, EV_PERSIST, on_tick, wt) : NULL;
    if (!wt->tick || event_add(wt->tick, &every) < 0) {
        rc = wf_err_set(err, WF_ERR_INTERNAL, "cannot start watching the database");
        goto fail;
    }
    wt->connected = true;
    wf_store_data_version(wt->store, &wt->data_version, NULL);
    listen_again(wt);
    if (pthread_create(&wt->thread, NULL, watch_main, wt) != 0) {
        rc = wf_err_set(err, WF_ERR_INTERNAL, "cannot start the watch thread");
        goto fail;
    }
    wt->started = true;
    *out = wt;
    return 0;
fail:
    wf_watch_stop(wt);
    return rc;
}

void wf_watch_stop(wf_watch *wt)
{
    if (!wt)
        return;
    if (wt->started) {
        event_base_loopexit(wt->base, NULL);
        pthread_join(wt->thread, NULL);
    }
    if (wt->notify)
        event_free(wt->notify);
    if (wt->tick)
        event_free(wt->tick);
    if (wt->base)
        event_base_free(wt->base);
    wf_store_close(wt->store);
    free(wt);
}
