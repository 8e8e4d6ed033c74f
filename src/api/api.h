/*
 * api.h: the HTTP server, wfreg's JSON API (`wfreg serve`). This header is the module's
 * face: the command line fills wf_api_options and calls wf_api_serve, which returns when
 * the server has stopped (SIGTERM or SIGINT: stop accepting, finish what is in flight,
 * exit within 5 seconds).
 */
#ifndef WF_API_API_H
#define WF_API_API_H

#include "core/config.h"
#include "core/err.h"
#include "crypto/keyring.h"
#include "engines/adapter.h"

typedef struct wf_api_options {
    const char *listen;    /* "127.0.0.1:8080", "[::1]:0" (0: any free port) */
    int workers;           /* threads with an event loop each; 0: one per processor */
    int max_connections;   /* across all workers; 0: 1024 */
    int session_ttl_s;     /* login sessions last this long; 0: 12 hours */
    int idle_timeout_s;    /* a connection idle this long is closed; 0: 30 */
    int health_interval_s; /* seconds between engine health checks; 0: 30; < 0: none */
} wf_api_options;

/* Runs the server until a stop signal. The database must be at head. Returns 0 after a
 * clean stop, or a WF_ERR_* code (with err filled) when it cannot start. */
int wf_api_serve(const wf_config *config, const wf_api_options *opts, wf_err *err);

/* Prepares the adapter call for engine e (wf_adapter_call_init) with its key: a database
 * engine's token decrypted with kr into the call's wiped buffer, or the call marked
 * unreadable (nothing will be sent) when no configured key opens it or kr is NULL; an
 * environment engine's key as the environment gave it. Shared by the server and the
 * command line. Clear it with wf_adapter_call_clear. Returns 0 or WF_ERR_NOMEM. */
int wf_api_prepare_call(const wf_keyring *kr, const wf_engine *e, wf_adapter_call *call);

#endif
