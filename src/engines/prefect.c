/*
 * prefect.c: the adapter for Prefect's REST API: a self-hosted server (2.x, 3.x) or
 * Prefect Cloud (engine-apis/README.md, "Prefect").
 *
 * - The engine URL is the API URL itself, as PREFECT_API_URL: "http://host:4200/api", or
 *   on Cloud "https://api.prefect.cloud/api/accounts/{a}/workspaces/{w}". Every path
 *   below is relative to it, never with a trailing slash (FastAPI would redirect).
 * - Auth: Cloud wants "Authorization: Bearer <key>"; a self-hosted server with an auth
 *   string (PREFECT_SERVER_API_AUTH_STRING) wants "Authorization: Basic
 *   base64(<string>)". Which one is told by the URL (accounts/../workspaces/..: Cloud) or
 *   by config.auth ("bearer" | "basic" | "none"). No key: no header.
 * - Test: GET /health (the JSON true), then the release from GET /admin/version (not
 *   /version, which is the schema version "0.8.4"; Cloud has no such route), then
 *   POST /flows/filter {"limit":1}, which proves the key.
 * - Workflows are deployments (what users run), named "flow/deployment" as Prefect shows
 *   them: flows and deployments are read with POST .../filter, paged by offset until a
 *   short page. Sorted CREATED_DESC, not by name: names repeat across flows, and a sort
 *   with ties can repeat or skip rows between pages; ids seen twice are listed once.
 * - Runs: POST /deployments/{id}/create_flow_run {"parameters": ...} (201, or 200 for an
 *   idempotent replay); GET /flow_runs/{id}. States are mapped on their type, never on
 *   their name (a "Late" run is SCHEDULED: queued); the name is the detail when it says
 *   more than the type.
 */
#include "adapter_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PAGE_LIMIT 200 /* Prefect's default maximum (PREFECT_SERVER_API_DEFAULT_LIMIT) */

typedef struct prefect_state {
    json_t *flows; /* flow id -> flow name */
    long offset;
    long limit;
    int pages;
} prefect_state;

static void state_free(void *p)
{
    prefect_state *s = p;
    json_decref(s->flows);
    free(s);
}

static bool is_cloud(const wf_job *j)
{
    const char *u = j->call->engine->api_url ? j->call->engine->api_url : "";
    return strstr(u, "/accounts/") && strstr(u, "/workspaces/");
}

/* "bearer", "basic" or "none", from config.auth or else from the URL. */
static const char *auth_mode(const wf_job *j)
{
    json_t *cfg =
        json_loads(j->call->engine->config ? j->call->engine->config : "{}", JSON_DECODE_ANY, NULL);
    const char *a = wf_json_str(cfg, "auth");
    const char *mode = is_cloud(j) ? "bearer" : "basic";
    if (a && (!strcmp(a, "bearer") || !strcmp(a, "basic") || !strcmp(a, "none")))
        mode = !strcmp(a, "bearer") ? "bearer" : !strcmp(a, "basic") ? "basic" : "none";
    json_decref(cfg);
    return mode;
}

static void api_begin(wf_job *j, const char *method, const char *path)
{
    wf_job_begin(j, method);
    wf_job_path(j, path);
    const char *mode = auth_mode(j);
    if (j->call->key.len && !strcmp(mode, "bearer"))
        wf_job_auth(j, "Bearer", wf_buf_cstr(&j->call->key), false);
    else if (j->call->key.len && !strcmp(mode, "basic"))
        wf_job_auth(j, "Basic", wf_buf_cstr(&j->call->key), true);
}

/* POST path {"limit":L,"offset":O,"sort":S} */
static int send_filter(wf_job *j, int next_step, const char *path, long limit, long offset,
                       const char *sort)
{
    j->step = next_step;
    api_begin(j, "POST", path);
    json_t *body = json_pack("{s:I,s:I}", "limit", (json_int_t)limit, "offset", (json_int_t)offset);
    if (body && sort)
        json_object_set_new(body, "sort", json_string(sort));
    if (body)
        wf_job_body_json(j, body);
    else
        j->req.body.failed = true;
    json_decref(body);
    return wf_job_send(j);
}

/* ---- test -------------------------------------------------------------------------- */

static int read_health(wf_job *j)
{
    json_t *o = wf_job_answer(j, "Prefect health") ? wf_job_json(j, "Prefect health") : NULL;
    bool healthy = json_is_true(o);
    json_decref(o);
    if (!o)
        return WF_STEP_DONE;
    if (!healthy)
        return wf_job_fail(j, WF_CALL_ERROR, "Prefect health: the answer is not true");
    if (is_cloud(j)) /* Cloud has no /admin/version (Prefect's own client skips it) */
        return send_filter(j, 3, "/flows/filter", 1, 0, NULL);
    j->step = 2;
    api_begin(j, "GET", "/admin/version");
    return wf_job_send(j);
}

static int read_version(wf_job *j)
{
    if (!(j->req.result == WF_HTTP_OK && j->req.status == 404)) { /* 404: unknown, go on */
        json_t *o = wf_job_answer(j, "Prefect version") ? wf_job_json(j, "Prefect version") : NULL;
        if (!o)
            return WF_STEP_DONE;
        if (json_is_string(o) && json_string_length(o) < 64)
            j->test.version = strdup(json_string_value(o));
        json_decref(o);
    }
    return send_filter(j, 3, "/flows/filter", 1, 0, NULL);
}

static int prefect_test(wf_job *j)
{
    switch (j->step) {
    case 0:
        j->step = 1;
        api_begin(j, "GET", "/health");
        return wf_job_send(j);
    case 1: return read_health(j);
    case 2: return read_version(j);
    default: {
        json_t *o = wf_job_answer(j, "Prefect API") ? wf_job_json(j, "Prefect API") : NULL;
        if (o && !json_is_array(o))
            wf_job_fail(j, WF_CALL_ERROR, "Prefect API: unexpected answer (not a list)");
        json_decref(o);
        return WF_STEP_DONE;
    }
    }
}

/* ---- workflows --------------------------------------------------------------------- */

/* A 422 "Invalid limit: must be less than or equal to N." (a server with a lower
 * PREFECT_SERVER_API_DEFAULT_LIMIT): lowers s->limit and says to ask again. */
static bool lower_limit(wf_job *j, prefect_state *s)
{
    if (j->req.result != WF_HTTP_OK || j->req.status != 422)
        return false;
    json_t *o = json_loads(wf_buf_cstr(&j->req.response), JSON_DECODE_ANY, NULL);
    const char *d = wf_json_str(o, "detail");
    const char *at = d ? strstr(d, "less than or equal to ") : NULL;
    long n = at ? strtol(at + 22, NULL, 10) : 0;
    json_decref(o);
    if (n < 1 || n >= s->limit)
        return false;
    s->limit = n;
    return true;
}

/* The page as an array, or NULL after recording why not. */
static json_t *read_page(wf_job *j, const char *what)
{
    json_t *o = wf_job_answer(j, what) ? wf_job_json(j, what) : NULL;
    if (o && !json_is_array(o)) {
        wf_job_fail(j, WF_CALL_ERROR, "%s: unexpected answer (not a list)", what);
        json_decref(o);
        return NULL;
    }
    return o;
}

/* After a page of n items: the offset of the next one, or false at the end. */
static bool next_page(wf_job *j, prefect_state *s, size_t n, const char *what)
{
    if ((long)n < s->limit)
        return false;
    if (++s->pages >= WF_MAX_PAGES) {
        wf_job_fail(j, WF_CALL_ERROR, "%s: more than %d pages", what, WF_MAX_PAGES);
        return false;
    }
    s->offset += (long)n;
    return true;
}

static int read_flows(wf_job *j)
{
    prefect_state *s = j->priv;
    if (lower_limit(j, s))
        return send_filter(j, 1, "/flows/filter", s->limit, s->offset, "CREATED_DESC");
    json_t *page = read_page(j, "Prefect flows");
    if (!page)
        return WF_STEP_DONE;
    size_t i;
    json_t *f;
    json_array_foreach(page, i, f)
    {
        const char *id = wf_json_str(f, "id"), *name = wf_json_str(f, "name");
        if (id && name)
            json_object_set_new(s->flows, id, json_string(name));
    }
    bool more = next_page(j, s, json_array_size(page), "Prefect flows");
    json_decref(page);
    if (more)
        return send_filter(j, 1, "/flows/filter", s->limit, s->offset, "CREATED_DESC");
    if (j->test.status != WF_CALL_UP)
        return WF_STEP_DONE;
    s->offset = 0;
    s->pages = 0;
    return send_filter(j, 2, "/deployments/filter", s->limit, 0, "CREATED_DESC");
}

static int add_deployment(wf_job *j, prefect_state *s, const json_t *d)
{
    const char *id = wf_json_str(d, "id"), *name = wf_json_str(d, "name");
    if (!id || !id[0])
        return 0;
    const char *flow =
        wf_json_str(s->flows, wf_json_str(d, "flow_id") ? wf_json_str(d, "flow_id") : "");
    wf_buf full = WF_BUF_INIT;
    if (flow)
        wf_buf_printf(&full, "%s/%s", flow, name ? name : id);
    else
        wf_buf_puts(&full, name ? name : id);
    int rc = wf_buf_ok(&full)
                 ? wf_job_add_workflow(j, id, full.ptr, !wf_json_bool(d, "paused", false),
                                       "deployment", wf_json_str(d, "updated"))
                 : WF_ERR_NOMEM;
    wf_buf_free(&full);
    return rc;
}

static int read_deployments(wf_job *j)
{
    prefect_state *s = j->priv;
    if (lower_limit(j, s))
        return send_filter(j, 2, "/deployments/filter", s->limit, s->offset, "CREATED_DESC");
    json_t *page = read_page(j, "Prefect deployments");
    if (!page)
        return WF_STEP_DONE;
    size_t i;
    json_t *d;
    int rc = 0;
    json_array_foreach(page, i, d)
    {
        if (rc == 0)
            rc = add_deployment(j, s, d);
    }
    bool more = rc == 0 && next_page(j, s, json_array_size(page), "Prefect deployments");
    json_decref(page);
    if (rc < 0)
        return wf_job_fail(j, WF_CALL_ERROR, "out of memory");
    return more ? send_filter(j, 2, "/deployments/filter", s->limit, s->offset, "CREATED_DESC")
                : WF_STEP_DONE;
}

static int prefect_workflows(wf_job *j)
{
    if (j->step == 0) {
        prefect_state *s = calloc(1, sizeof *s);
        if (s)
            s->flows = json_object();
        if (!s || !s->flows) {
            free(s);
            return wf_job_fail(j, WF_CALL_ERROR, "out of memory");
        }
        s->limit = PAGE_LIMIT;
        j->priv = s;
        j->priv_free = state_free;
        return send_filter(j, 1, "/flows/filter", s->limit, 0, "CREATED_DESC");
    }
    return j->step == 1 ? read_flows(j) : read_deployments(j);
}

/* ---- runs -------------------------------------------------------------------------- */

static wf_run_status map_state(const char *type)
{
    static const struct {
        const char *type;
        wf_run_status st;
    } map[] = {
        {"SCHEDULED", WF_RUN_QUEUED},    {"PENDING", WF_RUN_QUEUED},
        {"PAUSED", WF_RUN_QUEUED},       {"RUNNING", WF_RUN_RUNNING},
        {"CANCELLING", WF_RUN_RUNNING},  {"COMPLETED", WF_RUN_SUCCEEDED},
        {"FAILED", WF_RUN_FAILED},       {"CRASHED", WF_RUN_FAILED},
        {"CANCELLED", WF_RUN_CANCELLED},
    };
    for (size_t i = 0; type && i < sizeof map / sizeof map[0]; i++) {
        if (!strcmp(map[i].type, type))
            return map[i].st;
    }
    return WF_RUN_UNKNOWN;
}

/* The detail of a flow run: its state's name when it says more than the type ("Late",
 * "Retrying", "AwaitingRetry"), and the state's message. */
static void run_detail(const json_t *fr, const char *type, wf_buf *out)
{
    const json_t *state = json_object_get(fr, "state");
    const char *name = wf_json_str(fr, "state_name");
    const char *msg = wf_json_str(state, "message");
    if (!name)
        name = wf_json_str(state, "name");
    if (!type)
        wf_buf_puts(out, "Prefect gave no state type");
    else if (map_state(type) == WF_RUN_UNKNOWN)
        wf_buf_printf(out, "Prefect state type '%.40s'", type);
    if (name && (!type || strcasecmp(name, type)))
        wf_buf_printf(out, "%s%.60s", out->len ? "; " : "", name);
    if (msg && msg[0])
        wf_buf_printf(out, "%s%.200s", out->len ? ": " : "", msg);
}

static int set_run_from(wf_job *j, const json_t *fr, const char *what)
{
    if (!json_is_object(fr) || !wf_json_str(fr, "id"))
        return wf_job_fail(j, WF_CALL_ERROR, "%s: unexpected answer (no flow run id)", what);
    const char *type = wf_json_str(fr, "state_type");
    if (!type)
        type = wf_json_str(json_object_get(fr, "state"), "type");
    wf_buf detail = WF_BUF_INIT;
    run_detail(fr, type, &detail);
    const char *dep = wf_json_str(fr, "deployment_id");
    int rc = wf_job_set_run(j, wf_json_str(fr, "id"), dep ? dep : j->workflow_id, map_state(type),
                            wf_json_str(fr, "start_time"), wf_json_str(fr, "end_time"),
                            detail.len ? wf_buf_cstr(&detail) : NULL);
    wf_buf_free(&detail);
    return rc < 0 ? wf_job_fail(j, WF_CALL_ERROR, "out of memory") : WF_STEP_DONE;
}

static int read_run(wf_job *j, const char *what)
{
    json_t *o = wf_job_answer(j, what) ? wf_job_json(j, what) : NULL;
    if (o)
        set_run_from(j, o, what);
    json_decref(o);
    return WF_STEP_DONE;
}

static int prefect_start_run(wf_job *j)
{
    if (j->step > 0)
        return read_run(j, "Prefect deployment");
    if (!wf_id_is_safe(j->workflow_id, false)) {
        j->is_not_found = true;
        return wf_job_fail(j, WF_CALL_ERROR, "workflow id: not a valid Prefect deployment id");
    }
    j->step = 1;
    api_begin(j, "POST", "/deployments/");
    wf_job_path_value(j, j->workflow_id, false);
    wf_job_path(j, "/create_flow_run");
    json_t *body = json_pack("{s:O}", "parameters", j->params);
    if (body)
        wf_job_body_json(j, body);
    else
        j->req.body.failed = true;
    json_decref(body);
    return wf_job_send(j);
}

static int prefect_run_status(wf_job *j)
{
    if (j->step > 0)
        return read_run(j, "Prefect flow run");
    if (!wf_id_is_safe(j->run_id, false)) {
        j->is_not_found = true;
        return wf_job_fail(j, WF_CALL_ERROR, "run id: not a valid Prefect flow run id");
    }
    j->step = 1;
    api_begin(j, "GET", "/flow_runs/");
    wf_job_path_value(j, j->run_id, false);
    return wf_job_send(j);
}

const wf_adapter_ops wf_adapter_prefect = {
    .engine_type = "prefect",
    .test = prefect_test,
    .list_workflows = prefect_workflows,
    .start_run = prefect_start_run,
    .run_status = prefect_run_status,
};
