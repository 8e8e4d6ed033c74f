/*
 * adapter_util.h: the inside of a job, and what the adapters (n8n.c, prefect.c,
 * windmill.c) share to build requests and read answers. Private to src/engines: the
 * rest of wfreg sees only adapter.h.
 *
 * A step function builds its next request with wf_job_begin / _path / _query / _header /
 * _body_json and returns wf_job_send(j); after the request it reads the answer with
 * wf_job_answer (HTTP status) and wf_job_json (a JSON body), which record a failure with
 * the right status and a detail for people when the answer is not what was wanted. Every
 * value taken from an answer goes through the defensive readers below: a missing field or
 * a wrong type is never a crash.
 */
#ifndef WF_ENGINES_ADAPTER_UTIL_H
#define WF_ENGINES_ADAPTER_UTIL_H

#include "adapter.h"

#include <stdint.h>

typedef enum wf_job_kind {
    WF_JOB_TEST = 0,
    WF_JOB_WORKFLOWS = 1,
    WF_JOB_START_RUN = 2,
    WF_JOB_RUN_STATUS = 3,
} wf_job_kind;

#define WF_MAX_PAGES 1000 /* a paging loop ends here even if the engine never says so */
#define WF_STR_(x) #x
#define WF_STR(x) WF_STR_(x)

struct wf_job {
    wf_job_kind kind;
    wf_adapter_call *call;
    const wf_adapter_ops *ops;
    wf_step_fn step_fn;
    int step; /* the adapter's own state, 0 at the start */
    wf_http_request req;

    /* inputs */
    char *workflow_id;
    char *run_id;
    char *kind_hint;
    json_t *params; /* an object, never NULL */

    /* the adapter's own state across steps (paging, lookups) */
    void *priv;
    void (*priv_free)(void *priv);

    /* the outcome */
    bool is_done;
    bool is_not_found;
    bool is_conflict;
    wf_test_result test; /* status and detail of every job; version and latency of a test */
    wf_workflow *wfs;
    size_t nwfs, capwfs;
    json_t *seen; /* workflow ids already listed (an engine's paging may repeat one) */
    wf_run run;
    bool has_run;

    int64_t t0_ms;
    wf_http_multi *multi;
    void (*on_finish)(wf_job *j, void *ud);
    void *ud;
};

/* ---- building a request ------------------------------------------------------------ */

/* Starts the next request: method, the engine's api_url (without a trailing '/'), the
 * call's timeout, TLS and proxy settings, and Accept: application/json. */
void wf_job_begin(wf_job *j, const char *method);
/* Appends literal text to the URL's path (the adapter's own constant paths). */
void wf_job_path(wf_job *j, const char *s);
/* Appends a value as one path segment, percent-encoded (with keep_slash, '/' stays, for
 * Windmill's paths: each segment is encoded). */
void wf_job_path_value(wf_job *j, const char *s, bool keep_slash);
/* Appends ?name=value or &name=value, the value percent-encoded. */
void wf_job_query(wf_job *j, const char *name, const char *value);
void wf_job_query_long(wf_job *j, const char *name, long value);
/* Adds a header (a value with CR or LF fails the job: see wf_job_send). */
void wf_job_header(wf_job *j, const char *name, const char *value);
/* Adds "Authorization: <scheme> <credentials>", building it in a wiped buffer. With
 * base64, the credentials are base64-encoded (HTTP Basic). */
void wf_job_auth(wf_job *j, const char *scheme, const char *credentials, bool base64);
/* The body: o as compact JSON, with Content-Type: application/json. */
void wf_job_body_json(wf_job *j, const json_t *o);
/* WF_STEP_SEND, or (out of memory, a bad header) the job's failure and WF_STEP_DONE. */
int wf_job_send(wf_job *j);

/* ---- reading the answer ------------------------------------------------------------ */

/* Records a failure (status and a printf-style detail) and returns WF_STEP_DONE. */
int wf_job_fail(wf_job *j, wf_call_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Sets the detail of a job that did not fail (a note for people). */
void wf_job_note(wf_job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The answer's HTTP status when a 2xx arrived (what: the thing asked for, for the
 * detail); else records the failure (transport: timeout or down; 401/403: unauthorized;
 * 404: not found; 502-504: down; others: error, with the engine's own message) and
 * returns 0. */
long wf_job_answer(wf_job *j, const char *what);
/* The 2xx answer's body as JSON (a new reference), or NULL after recording the failure
 * (not JSON, invalid JSON). Call after wf_job_answer. */
json_t *wf_job_json(wf_job *j, const char *what);
/* The engine's own message from an error answer ("message", "detail",
 * "exception_message", or the first line of a text answer), made safe for a terminal
 * and short, into out. */
void wf_job_engine_message(const wf_job *j, wf_buf *out);

/* ---- results ----------------------------------------------------------------------- */

/* Adds a workflow (strings copied; updated_at normalised). A repeated id is ignored.
 * Returns 0 or WF_ERR_NOMEM. */
int wf_job_add_workflow(wf_job *j, const char *id, const char *name, bool is_active,
                        const char *kind, const char *updated_at);
/* Sets the run (strings copied, times normalised). */
int wf_job_set_run(wf_job *j, const char *run_id, const char *workflow_id, wf_run_status st,
                   const char *started_at, const char *ended_at, const char *detail);

/* ---- defensive JSON readers -------------------------------------------------------- */

/* o[key] when it is a string (and o an object), else NULL. */
const char *wf_json_str(const json_t *o, const char *key);
/* o[key] as a bool; dflt when missing or not a bool. */
bool wf_json_bool(const json_t *o, const char *key, bool dflt);
/* An id that may be a string or an integer (n8n sends "2" where its spec says 2), as a
 * new string; NULL when neither (or empty). */
char *wf_json_id_dup(const json_t *v);
/* An engine's timestamp as "YYYY-MM-DDTHH:MM:SSZ" (a new string); NULL when s is NULL or
 * not a timestamp. */
char *wf_time_normalize(const char *s);
/* Is s usable as an id in a URL: non-empty, at most 1024 bytes, no control characters,
 * and (unless allow_slash) no '/'; never a "." or ".." segment. */
bool wf_id_is_safe(const char *s, bool allow_slash);

/* The adapters, one per engine type (their rows of the table in adapter.c). */
extern const wf_adapter_ops wf_adapter_n8n;
extern const wf_adapter_ops wf_adapter_prefect;
extern const wf_adapter_ops wf_adapter_windmill;

#endif
