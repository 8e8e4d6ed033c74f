/*
 * n8n.c: the adapter for n8n's public API v1 (engine-apis/README.md, "n8n"; checked
 * against n8n 1.123).
 *
 * - Auth: X-N8N-API-KEY on every /api/v1 call; never on a webhook call (a webhook is the
 *   workflow's own entry point, and whatever it does with headers is not ours to know).
 * - Test: GET /api/v1/workflows?limit=1 proves both the API and the key. n8n has no
 *   version endpoint, so the version is unknown (null).
 * - Workflows: GET /api/v1/workflows with limit=250 and excludePinnedData, following
 *   nextCursor to the end (a repeated cursor or WF_MAX_PAGES ends it as an error);
 *   archived workflows are dropped. limit=0 is never sent (it never ends).
 * - Runs: n8n's public API cannot start a workflow. A workflow that has an active Webhook
 *   trigger is started through {base}/webhook/{path} with its method (GET when the node
 *   does not say); one without says so plainly. The webhook returns no execution id: the
 *   newest execution of the workflow is noted before the call, and the first newer one
 *   (looking at the list, and at running ones, which the list hides) is the run.
 * - Status: GET /api/v1/executions/{id}; ids come as strings or numbers.
 */
#include "adapter_util.h"

#include <stdlib.h>
#include <string.h>

#define PAGE_LIMIT 250 /* n8n's maximum */
#define FIND_TRIES 10  /* looks for the new execution, FIND_PAUSE_MS apart */
#define FIND_PAUSE_MS 200
#define WEBHOOK_NODE "n8n-nodes-base.webhook"

typedef struct n8n_state {
    char *cursor; /* the page to ask for next (workflows) */
    int pages;
    char *method; /* the webhook's method and path (runs) */
    char *path;
    long long before; /* the newest execution id before the webhook call */
    json_t *found;    /* the oldest execution newer than that, so far */
    int tries;
} n8n_state;

static void state_free(void *p)
{
    n8n_state *s = p;
    free(s->cursor);
    free(s->method);
    free(s->path);
    json_decref(s->found);
    free(s);
}

static n8n_state *state_of(wf_job *j)
{
    if (!j->priv) {
        j->priv = calloc(1, sizeof(n8n_state));
        j->priv_free = state_free;
    }
    return j->priv;
}

/* A request to the public API, with the key. */
static void api_begin(wf_job *j, const char *method, const char *path)
{
    wf_job_begin(j, method);
    wf_job_path(j, "/api/v1");
    wf_job_path(j, path);
    if (j->call->key.len)
        wf_job_header(j, "X-N8N-API-KEY", wf_buf_cstr(&j->call->key));
}

/* The "data" list of an API answer, or NULL after recording why not. */
static json_t *data_of(wf_job *j, json_t *o, const char *what)
{
    json_t *d = json_is_object(o) ? json_object_get(o, "data") : NULL;
    if (!json_is_array(d))
        wf_job_fail(j, WF_CALL_ERROR, "%s: unexpected answer (no \"data\" list)", what);
    return json_is_array(d) ? d : NULL;
}

/* ---- test -------------------------------------------------------------------------- */

static int n8n_test(wf_job *j)
{
    if (j->step == 0) {
        j->step = 1;
        api_begin(j, "GET", "/workflows");
        wf_job_query(j, "limit", "1");
        wf_job_query(j, "excludePinnedData", "true");
        return wf_job_send(j);
    }
    json_t *o = wf_job_answer(j, "n8n API") ? wf_job_json(j, "n8n API") : NULL;
    if (o)
        data_of(j, o, "n8n API");
    json_decref(o);
    return WF_STEP_DONE; /* up unless a failure was recorded; the version stays unknown */
}

/* ---- workflows --------------------------------------------------------------------- */

static int list_send(wf_job *j)
{
    n8n_state *s = state_of(j);
    if (!s)
        return wf_job_fail(j, WF_CALL_ERROR, "out of memory");
    j->step = 1;
    api_begin(j, "GET", "/workflows");
    wf_job_query_long(j, "limit", PAGE_LIMIT);
    wf_job_query(j, "excludePinnedData", "true");
    if (s->cursor)
        wf_job_query(j, "cursor", s->cursor);
    return wf_job_send(j);
}

static int add_workflow(wf_job *j, const json_t *w)
{
    if (wf_json_bool(w, "isArchived", false))
        return 0;
    char *id = wf_json_id_dup(json_object_get(w, "id"));
    if (!id)
        return 0; /* nothing to start it by: not listed */
    int rc = wf_job_add_workflow(j, id, wf_json_str(w, "name"), wf_json_bool(w, "active", false),
                                 "workflow", wf_json_str(w, "updatedAt"));
    free(id);
    return rc;
}

static int list_read(wf_job *j)
{
    n8n_state *s = j->priv;
    json_t *o = wf_job_answer(j, "n8n workflows") ? wf_job_json(j, "n8n workflows") : NULL;
    json_t *data = o ? data_of(j, o, "n8n workflows") : NULL;
    if (!data) {
        json_decref(o);
        return WF_STEP_DONE;
    }
    const char *problem = NULL;
    size_t i;
    json_t *w;
    json_array_foreach(data, i, w)
    {
        if (!problem && add_workflow(j, w) < 0)
            problem = "out of memory";
    }
    const json_t *next = json_object_get(o, "nextCursor");
    const char *cur =
        json_is_string(next) && json_string_length(next) ? json_string_value(next) : NULL;
    if (next && !json_is_null(next) && !json_is_string(next))
        problem = "nextCursor is not a string";
    else if (cur && s->cursor && !strcmp(cur, s->cursor))
        problem = "the engine repeated a page cursor";
    else if (cur && ++s->pages >= WF_MAX_PAGES)
        problem = "more pages than wfreg reads (" WF_STR(WF_MAX_PAGES) ")";
    if (!problem && cur) {
        free(s->cursor);
        s->cursor = strdup(cur);
        problem = s->cursor ? NULL : "out of memory";
    }
    if (problem)
        wf_job_fail(j, WF_CALL_ERROR, "n8n workflows: %s", problem);
    json_decref(o);
    return !problem && cur ? list_send(j) : WF_STEP_DONE;
}

static int n8n_workflows(wf_job *j)
{
    return j->step == 0 ? list_send(j) : list_read(j);
}

/* ---- executions -------------------------------------------------------------------- */

static wf_run_status map_status(const char *st)
{
    static const struct {
        const char *n8n;
        wf_run_status st;
    } map[] = {
        {"new", WF_RUN_QUEUED},         {"waiting", WF_RUN_QUEUED},  {"running", WF_RUN_RUNNING},
        {"success", WF_RUN_SUCCEEDED},  {"error", WF_RUN_FAILED},    {"crashed", WF_RUN_FAILED},
        {"canceled", WF_RUN_CANCELLED}, {"unknown", WF_RUN_UNKNOWN},
    };
    for (size_t i = 0; st && i < sizeof map / sizeof map[0]; i++) {
        if (!strcmp(map[i].n8n, st))
            return map[i].st;
    }
    return WF_RUN_UNKNOWN;
}

/* The run from one execution object. */
static int set_run_from(wf_job *j, const json_t *e, const char *what)
{
    char *id = wf_json_id_dup(json_object_get(e, "id"));
    char *wid = wf_json_id_dup(json_object_get(e, "workflowId"));
    const char *st = wf_json_str(e, "status");
    wf_run_status rs = map_status(st);
    wf_buf detail = WF_BUF_INIT;
    if (!st)
        wf_buf_puts(&detail, "n8n gave no status");
    else if (rs == WF_RUN_UNKNOWN || !strcmp(st, "waiting") || !strcmp(st, "crashed"))
        wf_buf_printf(&detail, "n8n status '%.40s'", st);
    int rc;
    if (!id)
        rc = wf_job_fail(j, WF_CALL_ERROR, "%s: the execution has no id", what);
    else
        rc = wf_job_set_run(j, id, wid ? wid : j->workflow_id, rs, wf_json_str(e, "startedAt"),
                            wf_json_str(e, "stoppedAt"), detail.len ? detail.ptr : NULL);
    if (rc < 0)
        wf_job_fail(j, WF_CALL_ERROR, "out of memory");
    free(id);
    free(wid);
    wf_buf_free(&detail);
    return WF_STEP_DONE;
}

static bool numeric_id(const char *s, long long *out)
{
    char *end = NULL;
    long long v = s && *s ? strtoll(s, &end, 10) : 0;
    if (!s || !*s || *end || v < 0)
        return false;
    *out = v;
    return true;
}

static int n8n_run_status(wf_job *j)
{
    long long id;
    if (j->step == 0) {
        if (!numeric_id(j->run_id, &id)) {
            j->is_not_found = true;
            return wf_job_fail(j, WF_CALL_ERROR, "run id: n8n execution ids are numbers");
        }
        j->step = 1;
        api_begin(j, "GET", "/executions/");
        wf_job_path_value(j, j->run_id, false);
        return wf_job_send(j);
    }
    json_t *o = wf_job_answer(j, "n8n execution") ? wf_job_json(j, "n8n execution") : NULL;
    if (o && !json_is_object(o))
        wf_job_fail(j, WF_CALL_ERROR, "n8n execution: unexpected answer (not an object)");
    else if (o)
        set_run_from(j, o, "n8n execution");
    json_decref(o);
    return WF_STEP_DONE;
}

/* ---- starting a run ---------------------------------------------------------------- */

static bool method_ok(const char *m)
{
    static const char *const ok[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"};
    for (size_t i = 0; m && i < sizeof ok / sizeof ok[0]; i++) {
        if (!strcmp(m, ok[i]))
            return true;
    }
    return false;
}

/* The workflow's enabled Webhook node, or NULL. */
static const json_t *webhook_node(const json_t *wf)
{
    size_t i;
    const json_t *n;
    json_array_foreach(json_object_get(wf, "nodes"), i, n)
    {
        const char *type = wf_json_str(n, "type");
        const char *path = wf_json_str(json_object_get(n, "parameters"), "path");
        if (type && !strcmp(type, WEBHOOK_NODE) && !wf_json_bool(n, "disabled", false) && path &&
            path[0])
            return n;
    }
    return NULL;
}

/* A path under /webhook/ that stays there ("." and ".." segments would leave it). */
static bool webhook_path_ok(const char *path)
{
    return path && wf_id_is_safe(path[0] == '/' ? path + 1 : path, true);
}

/* Why the workflow cannot be started through its webhook as it is, or NULL. */
static const char *cannot_start(const json_t *wf, const json_t *node, const char *method)
{
    if (wf_json_bool(wf, "isArchived", false))
        return "is archived";
    if (!node)
        return "has no Webhook trigger: n8n's API cannot start it (give it a Webhook node, or "
               "start it in n8n)";
    if (!wf_json_bool(wf, "active", false))
        return "is inactive: its webhook answers only while it is active";
    if (method && !method_ok(method))
        return "has a webhook method wfreg does not know";
    if (!webhook_path_ok(wf_json_str(json_object_get(node, "parameters"), "path")))
        return "has a webhook path that cannot be called";
    return NULL;
}

/* Reads the workflow; keeps its webhook's method and path (0), or says why it cannot run
 * (-1; a conflict when the workflow is there but cannot be started as it is). */
static int read_workflow(wf_job *j)
{
    n8n_state *s = j->priv;
    json_t *o = wf_job_answer(j, "n8n workflow") ? wf_job_json(j, "n8n workflow") : NULL;
    if (!o)
        return -1;
    const json_t *node = json_is_object(o) ? webhook_node(o) : NULL;
    const json_t *params = json_object_get(node, "parameters");
    const char *m = wf_json_str(params, "httpMethod");
    const char *why = json_is_object(o) ? cannot_start(o, node, m) : NULL;
    int rc = -1;
    if (!json_is_object(o)) {
        wf_job_fail(j, WF_CALL_ERROR, "n8n workflow: unexpected answer (not an object)");
    } else if (why) {
        j->is_conflict = true;
        wf_job_fail(j, WF_CALL_ERROR, "n8n workflow '%s' %s", j->workflow_id, why);
    } else if (!(s->method = strdup(m ? m : "GET")) ||
               !(s->path = strdup(wf_json_str(params, "path")))) {
        wf_job_fail(j, WF_CALL_ERROR, "out of memory");
    } else {
        rc = 0;
    }
    json_decref(o);
    return rc;
}

/* GET /executions?workflowId=W&limit=N[&status=running]. */
static int send_executions(wf_job *j, int next_step, long limit, bool running, long delay_ms)
{
    j->step = next_step;
    api_begin(j, "GET", "/executions");
    wf_job_query(j, "workflowId", j->workflow_id);
    wf_job_query_long(j, "limit", limit);
    if (running)
        wf_job_query(j, "status", "running");
    j->req.delay_ms = delay_ms;
    return wf_job_send(j);
}

/* Reads an executions list: notes the newest id in s->before (mark) or keeps in s->found
 * the oldest execution newer than s->before. False after recording a failure. */
static bool scan_executions(wf_job *j, bool mark)
{
    n8n_state *s = j->priv;
    json_t *o = wf_job_answer(j, "n8n executions") ? wf_job_json(j, "n8n executions") : NULL;
    json_t *data = o ? data_of(j, o, "n8n executions") : NULL;
    size_t i;
    json_t *e;
    long long best = -1;
    json_array_foreach(data, i, e)
    {
        char *sid = wf_json_id_dup(json_object_get(e, "id"));
        long long id;
        if (sid && numeric_id(sid, &id)) {
            if (mark && id > s->before)
                s->before = id;
            if (!mark && id > s->before && (best < 0 || id < best)) {
                best = id;
                json_decref(s->found);
                s->found = json_incref(e);
            }
        }
        free(sid);
    }
    json_decref(o);
    return data != NULL;
}

/* {METHOD} {base}/webhook/{path}: the parameters as a JSON body, or as the query of a
 * GET, HEAD or DELETE. No API key. */
static int send_webhook(wf_job *j)
{
    n8n_state *s = j->priv;
    j->step = 4;
    wf_job_begin(j, s->method);
    wf_job_path(j, "/webhook/");
    wf_job_path_value(j, s->path[0] == '/' ? s->path + 1 : s->path, true);
    bool in_query =
        !strcmp(s->method, "GET") || !strcmp(s->method, "HEAD") || !strcmp(s->method, "DELETE");
    const char *k;
    json_t *v;
    json_object_foreach(j->params, k, v)
    {
        if (!in_query)
            break;
        char *text = json_is_string(v) ? strdup(json_string_value(v))
                                       : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (text)
            wf_job_query(j, k, text);
        else
            j->req.url.failed = true;
        free(text);
    }
    if (!in_query)
        wf_job_body_json(j, j->params);
    return wf_job_send(j);
}

static int read_webhook(wf_job *j)
{
    if (j->req.result == WF_HTTP_OK && j->req.status == 404) {
        wf_buf msg = WF_BUF_INIT;
        wf_job_engine_message(j, &msg);
        wf_job_fail(j, WF_CALL_ERROR, "n8n webhook: not registered (HTTP 404: %s)",
                    wf_buf_cstr(&msg));
        wf_buf_free(&msg);
        return WF_STEP_DONE;
    }
    if (!wf_job_answer(j, "n8n webhook"))
        return WF_STEP_DONE;
    return send_executions(j, 5, 20, false, 0);
}

/* After the webhook call: the new execution, looked for a few times. */
static int find_execution(wf_job *j)
{
    n8n_state *s = j->priv;
    if (!scan_executions(j, false))
        return WF_STEP_DONE;
    if (j->step == 5)
        return send_executions(j, 6, 20, true, 0);
    if (s->found)
        return set_run_from(j, s->found, "n8n executions");
    if (++s->tries < FIND_TRIES)
        return send_executions(j, 5, 20, false, FIND_PAUSE_MS);
    wf_job_set_run(j, NULL, j->workflow_id, WF_RUN_QUEUED, NULL, NULL,
                   "started through its webhook; n8n gives no execution id and none is listed "
                   "yet");
    return WF_STEP_DONE;
}

static int n8n_start_run(wf_job *j)
{
    switch (j->step) {
    case 0:
        if (!wf_id_is_safe(j->workflow_id, false)) {
            j->is_not_found = true;
            return wf_job_fail(j, WF_CALL_ERROR, "workflow id: not a valid n8n workflow id");
        }
        if (!state_of(j))
            return wf_job_fail(j, WF_CALL_ERROR, "out of memory");
        j->step = 1;
        api_begin(j, "GET", "/workflows/");
        wf_job_path_value(j, j->workflow_id, false);
        wf_job_query(j, "excludePinnedData", "true");
        return wf_job_send(j);
    case 1: return read_workflow(j) < 0 ? WF_STEP_DONE : send_executions(j, 2, 1, false, 0);
    case 2: return scan_executions(j, true) ? send_executions(j, 3, 1, true, 0) : WF_STEP_DONE;
    case 3: return scan_executions(j, true) ? send_webhook(j) : WF_STEP_DONE;
    case 4: return read_webhook(j);
    default: return find_execution(j);
    }
}

const wf_adapter_ops wf_adapter_n8n = {
    .engine_type = "n8n",
    .test = n8n_test,
    .list_workflows = n8n_workflows,
    .start_run = n8n_start_run,
    .run_status = n8n_run_status,
};
