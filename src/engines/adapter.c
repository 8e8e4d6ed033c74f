/*
 * adapter.c: the table of adapters, the call context, the jobs' life (new, start, steps,
 * finish, free), the driver that runs many jobs at once on one curl multi handle, and the
 * normalised results as JSON. What one engine type does is in its own file.
 */
#include "adapter_util.h"

#include "core/log.h"
#include "core/text.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The one table: adding an engine type is a new file and one row here. */
static const wf_adapter_ops *const adapters[] = {
    &wf_adapter_n8n,
    &wf_adapter_prefect,
    &wf_adapter_windmill,
};

const wf_adapter_ops *wf_adapter_find(const char *engine_type)
{
    for (size_t i = 0; engine_type && i < sizeof adapters / sizeof adapters[0]; i++) {
        if (!strcmp(adapters[i]->engine_type, engine_type))
            return adapters[i];
    }
    return NULL;
}

const char *wf_call_status_name(wf_call_status s)
{
    static const char *const names[] = {"up", "unauthorized", "down", "timeout", "error"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "error";
}

const char *wf_run_status_name(wf_run_status s)
{
    static const char *const names[] = {"queued", "running",   "succeeded",
                                        "failed", "cancelled", "unknown"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "unknown";
}

bool wf_run_status_is_final(wf_run_status s)
{
    return s == WF_RUN_SUCCEEDED || s == WF_RUN_FAILED || s == WF_RUN_CANCELLED;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the call ---------------------------------------------------------------------- */

/* config.proxy as a new string, or NULL (also when the config is not an object). */
static char *config_proxy(const wf_engine *e)
{
    json_t *root = json_loads(e->config ? e->config : "{}", JSON_DECODE_ANY, NULL);
    const char *p = wf_json_str(root, "proxy");
    char *out = p && p[0] ? strdup(p) : NULL;
    json_decref(root);
    return out;
}

/* Warns that engine `name` has TLS verification off, once per process and name: the
 * health monitor and every listing make calls all the time, and one line says it. The
 * names are kept (a few, in practice) for the life of the process. */
static void warn_tls_off_once(const char *name)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static char **warned;
    static size_t nwarned;
    bool seen = false;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < nwarned && !seen; i++)
        seen = !strcmp(warned[i], name);
    if (!seen) {
        char **grown = realloc(warned, (nwarned + 1) * sizeof *grown);
        if (grown) {
            warned = grown;
            if ((warned[nwarned] = strdup(name)))
                nwarned++;
        }
    }
    pthread_mutex_unlock(&lock);
    if (!seen)
        wf_warn("engine '%s': TLS certificate verification is off (config.verify_tls: false)",
                name);
}

int wf_adapter_call_init(wf_adapter_call *c, const wf_engine *e)
{
    memset(c, 0, sizeof *c);
    c->engine = e;
    wf_buf_init_secret(&c->key);
    c->timeout_ms = wf_engine_config_long(e, "timeout_ms", WF_ADAPTER_DEFAULT_TIMEOUT_MS);
    if (c->timeout_ms < 1 || c->timeout_ms > WF_ENGINE_TIMEOUT_MS_MAX)
        c->timeout_ms = WF_ADAPTER_DEFAULT_TIMEOUT_MS; /* a legacy row's nonsense */
    c->verify_tls = wf_engine_config_long(e, "verify_tls", 1) != 0;
    c->proxy = config_proxy(e);
    if (!c->verify_tls)
        warn_tls_off_once(e->name ? e->name : "");
    if (e->source == WF_SOURCE_ENVIRONMENT && e->api_key_env)
        return wf_adapter_call_set_key(c, e->api_key_env, strlen(e->api_key_env));
    return 0;
}

int wf_adapter_call_set_key(wf_adapter_call *c, const char *key, size_t len)
{
    wf_buf_clear(&c->key);
    c->is_key_unreadable = false;
    return wf_buf_put(&c->key, key, len);
}

void wf_adapter_call_set_key_unreadable(wf_adapter_call *c)
{
    wf_buf_clear(&c->key);
    c->is_key_unreadable = true;
}

void wf_adapter_call_clear(wf_adapter_call *c)
{
    wf_buf_wipe(&c->key);
    free(c->proxy);
    c->proxy = NULL;
}

/* ---- jobs -------------------------------------------------------------------------- */

static wf_job *job_new(wf_adapter_call *call, wf_job_kind kind)
{
    wf_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->kind = kind;
    j->call = call;
    j->ops = wf_adapter_find(call->engine->engine_type);
    j->t0_ms = mono_ms();
    wf_http_request_init(&j->req);
    j->params = json_object();
    j->seen = json_object();
    if (!j->params || !j->seen) {
        wf_job_free(j);
        return NULL;
    }
    if (j->ops) {
        wf_step_fn fns[] = {j->ops->test, j->ops->list_workflows, j->ops->start_run,
                            j->ops->run_status};
        j->step_fn = fns[kind];
    }
    return j;
}

wf_job *wf_job_new_test(wf_adapter_call *call)
{
    return job_new(call, WF_JOB_TEST);
}

wf_job *wf_job_new_workflows(wf_adapter_call *call)
{
    return job_new(call, WF_JOB_WORKFLOWS);
}

wf_job *wf_job_new_start_run(wf_adapter_call *call, const char *workflow_id, const char *kind,
                             json_t *params)
{
    wf_job *j = job_new(call, WF_JOB_START_RUN);
    if (!j)
        return NULL;
    j->workflow_id = wf_strdup(workflow_id ? workflow_id : "");
    j->kind_hint = wf_strdup(kind);
    if (json_is_object(params)) {
        json_decref(j->params);
        j->params = json_incref(params);
    }
    if (!j->workflow_id || (kind && !j->kind_hint)) {
        wf_job_free(j);
        return NULL;
    }
    return j;
}

wf_job *wf_job_new_run_status(wf_adapter_call *call, const char *run_id)
{
    wf_job *j = job_new(call, WF_JOB_RUN_STATUS);
    if (!j)
        return NULL;
    j->run_id = wf_strdup(run_id ? run_id : "");
    if (!j->run_id) {
        wf_job_free(j);
        return NULL;
    }
    return j;
}

static void run_clear(wf_run *r)
{
    free(r->run_id);
    free(r->workflow_id);
    free(r->started_at);
    free(r->ended_at);
    free(r->detail);
    memset(r, 0, sizeof *r);
}

void wf_job_free(wf_job *j)
{
    if (!j)
        return;
    wf_http_request_free(&j->req);
    free(j->workflow_id);
    free(j->run_id);
    free(j->kind_hint);
    json_decref(j->params);
    json_decref(j->seen);
    if (j->priv && j->priv_free)
        j->priv_free(j->priv);
    free(j->test.version);
    free(j->test.detail);
    for (size_t i = 0; i < j->nwfs; i++) {
        free(j->wfs[i].id);
        free(j->wfs[i].name);
        free(j->wfs[i].updated_at);
    }
    free(j->wfs);
    run_clear(&j->run);
    free(j);
}

/* ---- driving jobs ------------------------------------------------------------------ */

static void job_finish(wf_job *j)
{
    j->is_done = true;
    j->test.latency_ms = (long)(mono_ms() - j->t0_ms);
    if (j->test.status != WF_CALL_UP)
        j->has_run = false;
    wf_http_request_reset(&j->req); /* nothing of it is needed any more; headers wiped */
    if (j->on_finish)
        j->on_finish(j, j->ud);
}

static void on_http_done(wf_http_request *r, void *ud);

/* Runs the job's steps until one sends a request or the job is done. */
static void job_advance(wf_job *j)
{
    if (j->step_fn(j) == WF_STEP_SEND) {
        if (wf_http_multi_add(j->multi, &j->req, on_http_done, j) == 0)
            return;
        wf_job_fail(j, WF_CALL_ERROR, "out of memory");
    }
    job_finish(j);
}

static void on_http_done(wf_http_request *r, void *ud)
{
    (void)r;
    job_advance(ud);
}

int wf_job_start(wf_job *j, wf_http_multi *m, void (*on_finish)(wf_job *j, void *ud), void *ud)
{
    j->multi = m;
    j->on_finish = on_finish;
    j->ud = ud;
    j->t0_ms = mono_ms();
    j->step = 0;
    const wf_engine *e = j->call->engine;
    if (!j->ops)
        wf_job_fail(j, WF_CALL_ERROR, "no adapter for engine type '%s'", e->engine_type);
    else if (j->call->is_key_unreadable)
        wf_job_fail(j, WF_CALL_ERROR, "%s", WF_ADAPTER_KEY_UNREADABLE_MSG);
    else if (!wf_buf_ok(&j->call->key))
        wf_job_fail(j, WF_CALL_ERROR, "out of memory");
    else {
        job_advance(j);
        return 0;
    }
    job_finish(j);
    return 0;
}

int wf_jobs_run(wf_job **jobs, size_t n)
{
    wf_http_multi *m = wf_http_multi_new();
    int rc = m ? 0 : WF_ERR_NOMEM;
    for (size_t i = 0; i < n && m; i++)
        wf_job_start(jobs[i], m, NULL, NULL);
    if (m)
        rc = wf_http_multi_run(m);
    wf_http_multi_free(m);
    for (size_t i = 0; i < n; i++) {
        if (!jobs[i]->is_done) {
            wf_job_fail(jobs[i], WF_CALL_ERROR, "the HTTP client failed");
            jobs[i]->on_finish = NULL;
            job_finish(jobs[i]);
        }
    }
    return rc;
}

/* ---- what a finished job found ----------------------------------------------------- */

bool wf_job_is_done(const wf_job *j)
{
    return j->is_done;
}

const wf_engine *wf_job_engine(const wf_job *j)
{
    return j->call->engine;
}

wf_call_status wf_job_status(const wf_job *j)
{
    return j->test.status;
}

const char *wf_job_detail(const wf_job *j)
{
    return j->test.detail;
}

bool wf_job_is_not_found(const wf_job *j)
{
    return j->is_not_found;
}

bool wf_job_is_conflict(const wf_job *j)
{
    return j->is_conflict;
}

long wf_job_latency_ms(const wf_job *j)
{
    return j->test.latency_ms;
}

const wf_test_result *wf_job_test(const wf_job *j)
{
    return &j->test;
}

const wf_workflow *wf_job_workflows(const wf_job *j, size_t *n)
{
    bool ok = j->is_done && j->test.status == WF_CALL_UP;
    *n = ok ? j->nwfs : 0;
    return ok ? j->wfs : NULL;
}

const wf_run *wf_job_run(const wf_job *j)
{
    return j->is_done && j->has_run && j->test.status == WF_CALL_UP ? &j->run : NULL;
}

/* ---- JSON -------------------------------------------------------------------------- */

/* Sets o[key] to a JSON string of s (null for NULL); false when out of memory. */
static bool set_text(json_t *o, const char *key, const char *s)
{
    json_t *v = wf_text_json(s);
    return v && json_object_set_new(o, key, v) == 0;
}

json_t *wf_test_result_to_json(const wf_test_result *r)
{
    json_t *o = json_object();
    bool ok = o && json_object_set_new(o, "ok", json_boolean(r->status == WF_CALL_UP)) == 0 &&
              set_text(o, "status", wf_call_status_name(r->status)) &&
              json_object_set_new(o, "latency_ms", json_integer(r->latency_ms)) == 0 &&
              set_text(o, "version", r->version) && set_text(o, "detail", r->detail);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *wf_workflow_to_json(const wf_workflow *w, const char *engine)
{
    json_t *o = json_object();
    bool ok = o && set_text(o, "engine", engine) && set_text(o, "id", w->id) &&
              set_text(o, "name", w->name) &&
              json_object_set_new(o, "active", json_boolean(w->is_active)) == 0 &&
              set_text(o, "kind", w->kind) && set_text(o, "updated_at", w->updated_at);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *wf_run_to_json(const wf_run *r, const char *engine)
{
    json_t *o = json_object();
    bool ok = o && set_text(o, "engine", engine) && set_text(o, "run_id", r->run_id) &&
              set_text(o, "workflow_id", r->workflow_id) &&
              set_text(o, "status", wf_run_status_name(r->status)) &&
              set_text(o, "started_at", r->started_at) && set_text(o, "ended_at", r->ended_at) &&
              set_text(o, "detail", r->detail);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *wf_job_error_to_json(const wf_job *j)
{
    json_t *o = json_object();
    bool ok = o && set_text(o, "engine", j->call->engine->name) &&
              set_text(o, "status", wf_call_status_name(j->test.status)) &&
              set_text(o, "detail", j->test.detail);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}
