/*
 * workflows_api.c: the routes that talk to the engines themselves, through their adapters
 * (src/engines, issue 5): test an engine, list workflows (of one engine, or of every
 * active engine at once), start a run, follow a run.
 *
 * Nothing here blocks the worker's loop. A handler makes one adapter job per engine,
 * takes the request over (wf_req_defer: it stays pending in evhttp, counted in flight),
 * starts the jobs on the worker's curl multi, which the worker's own event loop drives,
 * and returns; the loop goes on serving other requests. When the last job has finished,
 * the answer is built and sent from the jobs' completion callback. The listing across
 * engines is a fan-out: 50 engines that each take 100 ms answer together in about
 * 100 ms, and an engine that is down or slow becomes an entry of "errors" while the
 * others' workflows are still listed.
 *
 * Keys: a database engine's token is decrypted with the keyring into the call's wiped
 * buffer, only for the time of the call; one that no configured key opens is never sent
 * anything, and its jobs answer "API key unreadable with the configured keys".
 *
 * Engine failures on the single-engine routes: the engine (or the workflow, or the run)
 * unknown -> 404; a workflow the engine cannot start as it is (an n8n workflow without a
 * webhook trigger, or inactive) -> 409; no answer within the engine's timeout -> 504;
 * anything else (unreachable, key refused, an answer that makes no sense, an unreadable
 * key) -> 502. Every one with a detail for people, which never holds a key.
 */
#include "internal.h"

#include "engines/adapter.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#define Q_MAX 200     /* characters of the q filter */
#define FANOUT_MAX 64 /* engines asked at once by one request */

int wf_api_prepare_call(const wf_keyring *kr, const wf_engine *e, wf_adapter_call *call)
{
    int rc = wf_adapter_call_init(call, e);
    if (rc < 0 || e->source != WF_SOURCE_DATABASE || !e->api_key_encrypted ||
        !e->api_key_encrypted[0])
        return rc;
    if (e->key_status == WF_KEY_UNREADABLE || !kr) {
        wf_adapter_call_set_key_unreadable(call);
        return 0;
    }
    wf_buf plain;
    wf_buf_init_secret(&plain);
    if (wf_keyring_decrypt(kr, e->api_key_encrypted, &plain, NULL, NULL) == 0)
        rc = wf_adapter_call_set_key(call, plain.ptr, plain.len);
    else
        wf_adapter_call_set_key_unreadable(call);
    wf_buf_wipe(&plain);
    return rc;
}

/* ---- a set of jobs behind one pending request ---------------------------------------- */

typedef struct call_set call_set;
typedef void (*reply_fn)(call_set *cs);

struct call_set {
    wf_req *d; /* the request, taken over; NULL until started */
    wf_snapshot *snap;
    size_t n, left;
    size_t next;    /* the next job to start */
    size_t running; /* jobs started and not finished */
    bool starting;  /* start_more is on the stack: jobs that end at once must not recurse */
    const wf_engine **engines;
    wf_adapter_call *calls;
    wf_job **jobs;
    reply_fn reply; /* builds and sends the answer once every job has finished */
    char *q;        /* GET /workflows: the name filter */
    json_t *params; /* runs: the body */
};

static void cs_free(call_set *cs)
{
    for (size_t i = 0; i < cs->n; i++) {
        wf_job_free(cs->jobs[i]);
        wf_adapter_call_clear(&cs->calls[i]);
    }
    free(cs->jobs);
    free(cs->calls);
    free(cs->engines);
    free(cs->q);
    json_decref(cs->params);
    wf_snapshot_unref(cs->snap);
    free(cs);
}

/* A set for up to n engines of snap (a reference is taken); NULL when out of memory. */
static call_set *cs_new(wf_snapshot *snap, size_t n, reply_fn reply)
{
    call_set *cs = calloc(1, sizeof *cs);
    if (!cs)
        return NULL;
    cs->snap = wf_snapshot_ref(snap);
    cs->reply = reply;
    cs->engines = calloc(n ? n : 1, sizeof *cs->engines);
    cs->calls = calloc(n ? n : 1, sizeof *cs->calls);
    cs->jobs = calloc(n ? n : 1, sizeof *cs->jobs);
    if (!cs->engines || !cs->calls || !cs->jobs) {
        cs_free(cs);
        return NULL;
    }
    return cs;
}

/* Adds engine e with a call (its key decrypted); the job is made by the caller. */
static bool cs_add(call_set *cs, wf_api *api, const wf_engine *e)
{
    size_t i = cs->n;
    cs->engines[i] = e;
    int rc = wf_api_prepare_call(api->keyring, e, &cs->calls[i]);
    cs->n++; /* cleared by cs_free even when the key could not be copied */
    return rc == 0;
}

static void cs_complete(call_set *cs)
{
    cs->reply(cs);
    wf_req_finish(cs->d);
    cs_free(cs);
}

static void on_job_done(wf_job *j, void *ud);

/* Starts jobs while fewer than FANOUT_MAX run: a listing over thousands of engines must
 * not open thousands of connections from one worker at once. A job may end inside
 * wf_job_start (no request needed): the extra count held here keeps the set alive until
 * the loop is done, and such an ending does not start jobs from inside the loop. */
static void start_more(call_set *cs)
{
    if (cs->starting)
        return;
    cs->starting = true;
    cs->left++;
    while (cs->next < cs->n && cs->running < FANOUT_MAX) {
        cs->running++;
        wf_job_start(cs->jobs[cs->next++], cs->d->w->engines, on_job_done, cs);
    }
    cs->starting = false;
    if (--cs->left == 0)
        cs_complete(cs);
}

static void on_job_done(wf_job *j, void *ud)
{
    (void)j;
    call_set *cs = ud;
    cs->running--;
    if (--cs->left == 0)
        cs_complete(cs);
    else
        start_more(cs);
}

/* The worker stops with the request still pending: its jobs are no longer running. */
static void cs_abandon(wf_req *d)
{
    cs_free(d->ctx);
}

/* Takes the request over and starts every job; the answer is sent when all have finished
 * (at once when a job needs no request). On failure, replies 500 and frees cs. */
static void cs_start(wf_req *r, call_set *cs)
{
    for (size_t i = 0; i < cs->n; i++) {
        if (!cs->jobs[i]) {
            wf_reply_detail(r, 500, "out of memory");
            cs_free(cs);
            return;
        }
    }
    cs->d = wf_req_defer(r, cs_abandon, cs);
    if (!cs->d) {
        wf_reply_detail(r, 500, "out of memory");
        cs_free(cs);
        return;
    }
    cs->left = cs->n;
    start_more(cs); /* completes the set itself when every job ended at once */
}

/* ---- answers ------------------------------------------------------------------------- */

/* The answer for a job that did not end up: 404, 409, 504 or 502 (see the top). */
static void reply_failure(wf_req *r, const wf_job *j, bool can_be_missing)
{
    const char *name = wf_job_engine(j)->name;
    const char *detail = wf_job_detail(j) ? wf_job_detail(j) : "no detail";
    if (can_be_missing && wf_job_is_not_found(j))
        wf_reply_detail(r, 404, "engine '%s': %s", name, detail);
    else if (wf_job_is_conflict(j))
        wf_reply_detail(r, 409, "engine '%s': %s", name, detail);
    else if (wf_job_status(j) == WF_CALL_TIMEOUT)
        wf_reply_detail(r, 504, "engine '%s': %s", name, detail);
    else
        wf_reply_detail(r, 502, "engine '%s' (%s): %s", name, wf_call_status_name(wf_job_status(j)),
                        detail);
}

/* Does name contain q, ignoring ASCII case? */
static bool name_matches(const char *name, const char *q)
{
    return !q || !q[0] || (name && strcasestr(name, q));
}

/* Appends the workflows of job j that match q to items; false when out of memory. */
static bool append_workflows(json_t *items, const wf_job *j, const char *q)
{
    size_t n = 0;
    const wf_workflow *w = wf_job_workflows(j, &n);
    for (size_t i = 0; i < n; i++) {
        if (name_matches(w[i].name, q) &&
            json_array_append_new(items, wf_workflow_to_json(&w[i], wf_job_engine(j)->name)) < 0)
            return false;
    }
    return true;
}

static void reply_test(call_set *cs)
{
    wf_job *j = cs->jobs[0];
    wf_health_record(cs->d->w->api->health, cs->engines[0], wf_job_status(j), wf_job_latency_ms(j));
    wf_reply_json(cs->d, 200, wf_test_result_to_json(wf_job_test(j)));
}

static void reply_all_workflows(call_set *cs)
{
    json_t *items = json_array(), *errors = json_array();
    bool ok = items && errors;
    for (size_t i = 0; i < cs->n && ok; i++) {
        const wf_job *j = cs->jobs[i];
        if (wf_job_status(j) == WF_CALL_UP)
            ok = append_workflows(items, j, cs->q);
        else
            ok = json_array_append_new(errors, wf_job_error_to_json(j)) == 0;
    }
    if (!ok) {
        json_decref(items);
        json_decref(errors);
        wf_reply_detail(cs->d, 500, "out of memory");
        return;
    }
    wf_reply_json(cs->d, 200, json_pack("{s:o, s:o}", "items", items, "errors", errors));
}

static void reply_engine_workflows(call_set *cs)
{
    const wf_job *j = cs->jobs[0];
    json_t *items = json_array();
    if (wf_job_status(j) != WF_CALL_UP) {
        json_decref(items);
        reply_failure(cs->d, j, false);
    } else if (!items || !append_workflows(items, j, NULL)) {
        json_decref(items);
        wf_reply_detail(cs->d, 500, "out of memory");
    } else {
        wf_reply_json(cs->d, 200, json_pack("{s:o}", "items", items));
    }
}

/* A run as found (start or status); status is 202 for a start, 200 for a status. */
static void reply_run(call_set *cs, int status)
{
    const wf_job *j = cs->jobs[0];
    const wf_run *run = wf_job_run(j);
    if (wf_job_status(j) != WF_CALL_UP)
        reply_failure(cs->d, j, true);
    else if (!run)
        wf_reply_detail(cs->d, 502, "engine '%s': no run in its answer", cs->engines[0]->name);
    else
        wf_reply_json(cs->d, status, wf_run_to_json(run, cs->engines[0]->name));
}

static void reply_started(call_set *cs)
{
    reply_run(cs, 202);
}

static void reply_run_status(call_set *cs)
{
    reply_run(cs, 200);
}

/* ---- the handlers -------------------------------------------------------------------- */

/* A set for the one engine named in the path (404 when there is none). */
static call_set *one_engine(wf_req *r, reply_fn reply)
{
    wf_api *api = r->w->api;
    wf_snapshot *snap = wf_registry_acquire(api->registry);
    const wf_engine *e = wf_snapshot_find(snap, r->params[0]);
    call_set *cs = e ? cs_new(snap, 1, reply) : NULL;
    if (!e)
        wf_reply_detail(r, 404, "no engine named '%s'", r->params[0]);
    else if (!cs)
        wf_reply_detail(r, 500, "out of memory");
    else if (!cs_add(cs, api, e)) {
        wf_reply_detail(r, 500, "out of memory");
        cs_free(cs);
        cs = NULL;
    }
    wf_snapshot_unref(snap);
    return cs;
}

void wf_handle_engine_test(wf_req *r)
{
    call_set *cs = one_engine(r, reply_test);
    if (!cs)
        return;
    cs->jobs[0] = wf_job_new_test(&cs->calls[0]);
    cs_start(r, cs);
}

void wf_handle_engine_workflows(wf_req *r)
{
    call_set *cs = one_engine(r, reply_engine_workflows);
    if (!cs)
        return;
    cs->jobs[0] = wf_job_new_workflows(&cs->calls[0]);
    cs_start(r, cs);
}

/* The filters of GET /api/v1/workflows; 422 (and false) when one is bad. */
static bool read_filters(wf_req *r, wf_snapshot *snap, const char **engine, const char **type,
                         const char **q)
{
    wf_err err;
    wf_err_init(&err);
    *engine = wf_query(r, "engine");
    *type = wf_query(r, "engine_type");
    *q = wf_query(r, "q");
    if (*engine && !wf_snapshot_find(snap, *engine))
        wf_err_field(&err, "engine", "value_error", "no engine named '%s'", *engine);
    if (*type && !wf_engine_type_known(*type))
        wf_err_field(&err, "engine_type", "enum", "must be one of n8n, prefect, windmill");
    if (*q && strlen(*q) > Q_MAX)
        wf_err_field(&err, "q", "string_too_long", "at most %d characters", Q_MAX);
    if (err.code) {
        wf_reply_invalid(r, "query", &err);
        return false;
    }
    return true;
}

/* Which engines the listing asks: the one named (active or not), else every active one;
 * of the type asked, if any. */
static bool wanted(const wf_engine *e, const char *engine, const char *type)
{
    if (engine && strcmp(e->name, engine))
        return false;
    if (!engine && !e->is_active)
        return false;
    return !type || !strcmp(type, e->engine_type);
}

void wf_handle_workflows_list(wf_req *r)
{
    wf_api *api = r->w->api;
    wf_snapshot *snap = wf_registry_acquire(api->registry);
    const char *engine, *type, *q;
    call_set *cs = NULL;
    if (!read_filters(r, snap, &engine, &type, &q))
        goto done;
    cs = cs_new(snap, wf_snapshot_count(snap), reply_all_workflows);
    bool ok = cs && (!q || (cs->q = strdup(q)));
    for (size_t i = 0; ok && i < wf_snapshot_count(snap); i++) {
        const wf_engine *e = wf_snapshot_at(snap, i);
        if (!wanted(e, engine, type))
            continue;
        if (engine && cs->n)
            break; /* legacy rows sharing a name: the first, as GET /engines/{name} */
        ok = cs_add(cs, api, e) &&
             (cs->jobs[cs->n - 1] = wf_job_new_workflows(&cs->calls[cs->n - 1]));
    }
    if (!ok) {
        wf_reply_detail(r, 500, "out of memory");
        if (cs)
            cs_free(cs);
        goto done;
    }
    cs_start(r, cs);
done:
    wf_snapshot_unref(snap);
}

/* The run's parameters: the body's object, {} without a body. NULL after replying. */
static json_t *read_params(wf_req *r)
{
    if (evbuffer_get_length(evhttp_request_get_input_buffer(r->req)) == 0)
        return json_object();
    return wf_read_json_object(r);
}

void wf_handle_run_start(wf_req *r)
{
    const char *kind = wf_query(r, "kind");
    if (kind && strcmp(kind, "flow") && strcmp(kind, "script")) {
        wf_err err;
        wf_err_init(&err);
        wf_err_field(&err, "kind", "enum", "must be flow or script (Windmill)");
        wf_reply_invalid(r, "query", &err);
        return;
    }
    json_t *params = read_params(r);
    if (!params)
        return;
    call_set *cs = one_engine(r, reply_started);
    if (!cs) {
        json_decref(params);
        return;
    }
    cs->params = params;
    cs->jobs[0] = wf_job_new_start_run(&cs->calls[0], r->params[1], kind, params);
    cs_start(r, cs);
}

void wf_handle_run_status(wf_req *r)
{
    call_set *cs = one_engine(r, reply_run_status);
    if (!cs)
        return;
    cs->jobs[0] = wf_job_new_run_status(&cs->calls[0], r->params[1]);
    cs_start(r, cs);
}
