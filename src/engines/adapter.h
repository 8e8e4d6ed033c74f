/*
 * adapter.h: the face of the engines module: what wfreg can ask of any workflow engine
 * (test the connection, list its workflows, start a run, follow a run), with results
 * normalised across engine types (issue 5), and one table of adapters chosen by
 * engine_type. Adding an engine type is one file (an adapter: four step functions) and
 * one row in the table in adapter.c.
 *
 * How to use it (the command line and the HTTP API alike):
 *
 *     wf_adapter_call call;
 *     wf_adapter_call_init(&call, engine);          // URL, timeout, TLS from the record
 *     // database engines: decrypt the token with the keyring, then
 *     wf_adapter_call_set_key(&call, clear, len);   // or _set_key_unreadable(&call)
 *     wf_job *j = wf_job_new_test(&call);           // or _workflows, _start_run, _run_status
 *     wf_jobs_run(&j, 1);                           // many jobs: all at once, concurrently
 *     json_t *out = wf_test_result_to_json(wf_job_test(j));
 *     wf_job_free(j);
 *     wf_adapter_call_clear(&call);                 // wipes the key
 *
 * An adapter takes everything from the engine's own record: api_url, config (timeout_ms,
 * default 5000; verify_tls, default true; proxy, default none; the engine's own settings
 * such as Windmill's workspace) and the key the caller put into the call. It never reads
 * the environment nor another engine.
 *
 * Jobs are state machines over the HTTP client (http.h): each step either prepares the
 * next request or finishes. wf_jobs_run() drives any number of jobs on one curl multi
 * handle, so that 50 engines that each take 100 ms answer together in about 100 ms.
 * wf_job_start() is the same for a caller with its own wf_http_multi: a server worker
 * makes one with wf_http_multi_new_evented(its event_base), starts jobs on it from its
 * request handlers, and answers the client from on_finish; nothing blocks its loop.
 *
 * Failures are results, not errors: a job always ends with a status (up, unauthorized,
 * down, timeout, error) and a detail for people that never contains the key. The only
 * negative returns are out of memory and misuse.
 */
#ifndef WF_ENGINES_ADAPTER_H
#define WF_ENGINES_ADAPTER_H

#include "core/buf.h"
#include "core/wf_engine.h"
#include "http.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define WF_ADAPTER_DEFAULT_TIMEOUT_MS 5000
/* What an adapter answers, without sending anything, when the engine's stored key could
 * not be decrypted (DESIGN.md "Keys"). */
#define WF_ADAPTER_KEY_UNREADABLE_MSG "API key unreadable with the configured keys"

/* How a call to an engine went: the "status" of a test, and of every other job. */
typedef enum wf_call_status {
    WF_CALL_UP = 0,           /* it answered as the engine should */
    WF_CALL_UNAUTHORIZED = 1, /* it answered, but refused the key (401/403) */
    WF_CALL_DOWN = 2,         /* nothing listens, the connection broke, or 502/503/504 */
    WF_CALL_TIMEOUT = 3,      /* no answer within timeout_ms */
    WF_CALL_ERROR = 4,        /* anything else: bad answer, not found, refused redirect... */
} wf_call_status;
const char *wf_call_status_name(wf_call_status s); /* "up" | "unauthorized" | ... */

typedef enum wf_run_status {
    WF_RUN_QUEUED = 0,
    WF_RUN_RUNNING = 1,
    WF_RUN_SUCCEEDED = 2,
    WF_RUN_FAILED = 3,
    WF_RUN_CANCELLED = 4,
    WF_RUN_UNKNOWN = 5,
} wf_run_status;
const char *wf_run_status_name(wf_run_status s); /* "queued" | "running" | ... */
bool wf_run_status_is_final(wf_run_status s);    /* succeeded, failed or cancelled */

/* ---- the call: one engine, its key, its limits ------------------------------------- */

typedef struct wf_adapter_call {
    const wf_engine *engine; /* borrowed: must outlive the call and its jobs */
    wf_buf key;              /* secret buffer: the API key in clear, empty when none */
    bool is_key_unreadable;  /* jobs end at once with WF_ADAPTER_KEY_UNREADABLE_MSG */
    long timeout_ms;         /* config.timeout_ms, else WF_ADAPTER_DEFAULT_TIMEOUT_MS */
    bool verify_tls;         /* config.verify_tls, else true */
    char *proxy;             /* config.proxy, else NULL (no proxy, environment ignored) */
} wf_adapter_call;

/* Reads timeout_ms, verify_tls and proxy from the engine's config; an environment engine's
 * key (api_key_env) is copied in. Logs a warning naming the engine when TLS verification
 * is off. Returns 0 or WF_ERR_NOMEM. */
int wf_adapter_call_init(wf_adapter_call *c, const wf_engine *e);
/* The key in clear (copied into the call's wiped buffer). */
int wf_adapter_call_set_key(wf_adapter_call *c, const char *key, size_t len);
/* No configured key opens the stored token: every job answers so without a request. */
void wf_adapter_call_set_key_unreadable(wf_adapter_call *c);
/* Wipes the key and frees what the call holds. */
void wf_adapter_call_clear(wf_adapter_call *c);

/* ---- results ----------------------------------------------------------------------- */

typedef struct wf_test_result {
    wf_call_status status;
    long latency_ms; /* the whole test, every request it made */
    char *version;   /* the engine's release, NULL when unknown (n8n has no endpoint) */
    char *detail;    /* for people: why it is not up, or a note; NULL when nothing to say */
} wf_test_result;

typedef struct wf_workflow {
    char *id;         /* what start_run takes: n8n workflow id, Prefect deployment id,
                         Windmill path */
    char *name;       /* n8n name; Prefect "flow/deployment"; Windmill summary or path */
    bool is_active;   /* n8n active; Prefect not paused; Windmill not archived nor draft */
    const char *kind; /* "workflow" | "deployment" | "flow" | "script" (static) */
    char *updated_at; /* ISO 8601 UTC "YYYY-MM-DDTHH:MM:SSZ", or NULL */
} wf_workflow;

typedef struct wf_run {
    char *run_id;      /* n8n execution id, Prefect flow run id, Windmill job id; NULL when
                          the engine gave none (an n8n webhook run not yet listed) */
    char *workflow_id; /* as in wf_workflow.id, or NULL when unknown */
    wf_run_status status;
    char *started_at; /* ISO 8601 UTC, or NULL */
    char *ended_at;
    char *detail; /* the engine's own state name or message when it says more */
} wf_run;

/* {ok, status, latency_ms, version, detail} */
json_t *wf_test_result_to_json(const wf_test_result *r);
/* {engine, id, name, active, kind, updated_at} */
json_t *wf_workflow_to_json(const wf_workflow *w, const char *engine);
/* {engine, run_id, workflow_id, status, started_at, ended_at, detail} */
json_t *wf_run_to_json(const wf_run *r, const char *engine);

/* ---- jobs -------------------------------------------------------------------------- */

typedef struct wf_job wf_job;

/* Each returns NULL when out of memory. The call is borrowed: it must outlive the job.
 * workflow_id and run_id are copied; params (a JSON object or NULL) is referenced.
 * kind (NULL: any) says which kind of workflow to start where an engine has several
 * (Windmill "flow" or "script"; without it a flow is tried first, then a script). */
wf_job *wf_job_new_test(wf_adapter_call *call);
wf_job *wf_job_new_workflows(wf_adapter_call *call);
wf_job *wf_job_new_start_run(wf_adapter_call *call, const char *workflow_id, const char *kind,
                             json_t *params);
wf_job *wf_job_new_run_status(wf_adapter_call *call, const char *run_id);
void wf_job_free(wf_job *j); /* accepts NULL; the job must not be running */

/* Runs the jobs concurrently on one multi handle until every one has finished. Returns 0
 * or WF_ERR_NOMEM / WF_ERR_INTERNAL (the jobs it could not run end with status error). */
int wf_jobs_run(wf_job **jobs, size_t n);
/* Starts j on m; on_finish(j, ud) runs (from wf_http_multi_run) when it has finished. A
 * job that needs no request (unknown type, unreadable key) finishes here, at once. */
int wf_job_start(wf_job *j, wf_http_multi *m, void (*on_finish)(wf_job *j, void *ud), void *ud);

/* What a finished job found. */
bool wf_job_is_done(const wf_job *j);
const wf_engine *wf_job_engine(const wf_job *j);
wf_call_status wf_job_status(const wf_job *j);
const char *wf_job_detail(const wf_job *j); /* NULL when nothing to say */
/* The engine said the workflow or run does not exist (HTTP 404 or its equivalent). */
bool wf_job_is_not_found(const wf_job *j);
/* The engine has the workflow but cannot start it as it is: an n8n workflow without a
 * Webhook trigger, inactive or archived; parameters a Prefect deployment refuses (409). */
bool wf_job_is_conflict(const wf_job *j);
long wf_job_latency_ms(const wf_job *j);
/* The result of a test job (also filled, status and detail, for the other kinds). */
const wf_test_result *wf_job_test(const wf_job *j);
/* The workflows a workflows job listed (none unless its status is up). */
const wf_workflow *wf_job_workflows(const wf_job *j, size_t *n);
/* The run a start_run or run_status job found (NULL unless its status is up). */
const wf_run *wf_job_run(const wf_job *j);
/* {engine, status, detail}: one entry of a fan-out's "errors". */
json_t *wf_job_error_to_json(const wf_job *j);

/* ---- the adapters ------------------------------------------------------------------ */

/* One step of a job: called first with the job's step at 0, then after each request it
 * prepared has ended. Returns WF_STEP_SEND (the next request is prepared) or WF_STEP_DONE
 * (the result, or the failure, is recorded). adapter_util.h has what adapters share. */
enum { WF_STEP_DONE = 0, WF_STEP_SEND = 1 };
typedef int (*wf_step_fn)(wf_job *j);

typedef struct wf_adapter_ops {
    const char *engine_type;   /* "n8n", "prefect", "windmill" */
    wf_step_fn test;           /* status, latency, version */
    wf_step_fn list_workflows; /* every page, to the end */
    wf_step_fn start_run;      /* the run as the engine reports it once started */
    wf_step_fn run_status;     /* the run now */
} wf_adapter_ops;

/* The adapter for an engine type; NULL when wfreg has none. */
const wf_adapter_ops *wf_adapter_find(const char *engine_type);

#endif
