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
 *
 * SQLite opens a file this process may not write read-only (a server started on a
 * read-only database serves reads; writes answer 503), and every connection of the
 * process to that file shares one -shm mapping, read-only as long as any of them is
 * open: a connection opened again, even once the file is writable, could not write
 * either. So every second the watch asks whether its connection is read-only while the
 * file is writable now; if so, it closes its own and has every worker close theirs, each
 * in its own thread between two requests (the API answers 503 meanwhile, until the
 * next tick), then opens its own again and lets the workers open theirs: writes work
 * again without a restart.
 */
#include "internal.h"

#include "core/log.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RELOAD_EVERY_MS 250
#define SAFETY_RELOAD_TICKS 120 /* 30 s */
#define RECONNECT_TICKS 4       /* 1 s */
#define CLOSE_WAIT_TICKS 40     /* 10 s: a worker busy longer than that is not waited for */

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
    bool warned_read_only;
    bool reopening;        /* every connection closed: waiting for the workers' */
    bool reopen_failing;   /* and the watch's own would not open again */
    unsigned reopen_ticks; /* ticks since then */
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

/* Every second: a SQLite file opened read-only and writable now has every connection
 * closed (see the top). */
static void check_read_only(wf_watch *wt)
{
    bool writable = false;
    if (!wf_store_read_only(wt->store, &writable)) {
        wt->warned_read_only = false;
        return;
    }
    if (!writable) {
        if (!wt->warned_read_only)
            wf_warn("the database is read-only for this process: reads are served, writes "
                    "answer 503 until it is writable");
        wt->warned_read_only = true;
        return;
    }
    atomic_store(&wt->api->db_ok, false);
    wf_store_close(wt->store);
    wt->store = NULL;
    wt->reopening = true;
    wt->reopen_ticks = 0;
    wf_api_close_stores(wt->api);
}

/* Once every worker has closed its connection: opens the watch's own again, then lets
 * the workers open theirs (a new generation; the API answers again). */
static void finish_reopening(wf_watch *wt)
{
    wf_api *api = wt->api;
    if (atomic_load(&api->stores_closed) < api->nworkers && ++wt->reopen_ticks < CLOSE_WAIT_TICKS)
        return;
    wf_err err;
    wf_err_init(&err);
    if (wf_store_open(api->config->database_url, &wt->store, &err) < 0) {
        if (!wt->reopen_failing)
            wf_warn("cannot open the database again (trying every 250 ms): %s", err.msg);
        wt->reopen_failing = true;
        return;
    }
    wt->reopening = wt->reopen_failing = false;
    wt->warned_read_only = false;
    listen_again(wt);
    wf_store_data_version(wt->store, &wt->data_version, NULL);
    reload(wt);
    atomic_fetch_add(&api->db_generation, 1);
    atomic_store(&api->db_ok, true);
    if (wf_store_read_only(wt->store, NULL))
        wf_warn("the database's connections were reopened, but it is read-only again");
    else
        wf_info("the database is writable again: its connections were reopened");
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    wf_watch *wt = arg;
    wf_err err;
    wf_err_init(&err);
    wt->ticks++;
    if (wt->reopening) {
        finish_reopening(wt);
        return;
    }
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
    if (wt->ticks % RECONNECT_TICKS == 0) {
        check_read_only(wt);
        if (wt->reopening)
            return;
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
