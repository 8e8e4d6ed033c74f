/*
 * windmill.c: the adapter for Windmill's API (engine-apis/README.md, "Windmill";
 * checked against 1.743).
 *
 * - The engine URL is the instance root; the API is under /api, and everything a user
 *   owns under /api/w/{workspace}, the workspace from the engine's config.workspace.
 * - Auth: "Authorization: Bearer <token>" (never the cookie or ?token=, which would put
 *   the token in URLs and logs). Errors are text/plain, never JSON.
 * - Test: GET /api/version (no token: "CE v1.743.0" is the version), then
 *   GET /api/w/{ws}/flows/list?per_page=1 with the token. A 401 there is the same for a
 *   bad token and a wrong workspace: GET /api/users/whoami tells them apart.
 * - Workflows: flows (kind "flow") and runnable scripts (kinds=script: kind "script"),
 *   each paged with page=1,2,... and an explicit per_page=100 until an empty page (a
 *   short page proves nothing: path-scoped tokens are filtered after the LIMIT). The id
 *   is the path; the name the summary, or the path when the summary is empty.
 * - Runs: POST /api/w/{ws}/jobs/run/f/{path} (a flow) or .../run/p/{path} (a script's
 *   latest version), the arguments as the JSON body; 201 with the job's UUID as bare
 *   text. Without a kind, a flow is tried first, then a script. The path keeps its '/'s.
 * - Status: GET /api/w/{ws}/jobs_u/get/{id}?no_logs=true&no_code=true: a QueuedJob
 *   (running or not) or a CompletedJob (success, canceled, else failed). jobs_u answers
 *   a missing or bad token with 400 "As a non logged in user...": unauthorized.
 */
#include "adapter_util.h"

#include "core/text.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PER_PAGE 100

typedef struct windmill_state {
    bool scripts; /* listing scripts (after the flows); starting a script */
    long page;
} windmill_state;

#define WS_MAX 256

/* config.workspace into ws ("" when missing, not a string or too long). */
static const char *workspace_of(const wf_job *j, char ws[WS_MAX])
{
    json_t *cfg =
        json_loads(j->call->engine->config ? j->call->engine->config : "{}", JSON_DECODE_ANY, NULL);
    const char *w = wf_json_str(cfg, "workspace");
    snprintf(ws, WS_MAX, "%s", w && strlen(w) < WS_MAX ? w : "");
    json_decref(cfg);
    return ws;
}

/* A request under /api (ws false) or /api/w/{workspace} (ws true), with the token. */
static void api_begin(wf_job *j, const char *method, bool ws, const char *path)
{
    wf_job_begin(j, method);
    wf_job_path(j, "/api");
    if (ws) {
        char w[WS_MAX];
        wf_job_path(j, "/w/");
        wf_job_path_value(j, workspace_of(j, w), false);
    }
    wf_job_path(j, path);
    if (j->call->key.len)
        wf_job_auth(j, "Bearer", wf_buf_cstr(&j->call->key), false);
}

static windmill_state *state_of(wf_job *j)
{
    if (!j->priv) {
        j->priv = calloc(1, sizeof(windmill_state));
        j->priv_free = free;
    }
    return j->priv;
}

/* Every job needs the workspace; false after saying it is missing. */
static bool has_workspace(wf_job *j)
{
    char w[WS_MAX];
    if (workspace_of(j, w)[0])
        return true;
    wf_job_fail(j, WF_CALL_ERROR, "config.workspace is not set: Windmill needs a workspace");
    return false;
}

/* ---- test -------------------------------------------------------------------------- */

static int read_version(wf_job *j)
{
    if (!wf_job_answer(j, "Windmill version"))
        return WF_STEP_DONE;
    const wf_http_request *r = &j->req;
    const char *body = wf_buf_cstr(&r->response);
    if (!strncmp(r->content_type, "text/html", 9) || r->response.len > 200 || !strstr(body, "v"))
        return wf_job_fail(j, WF_CALL_ERROR,
                           "Windmill version: unexpected answer: is api_url Windmill's base URL?");
    wf_buf v = WF_BUF_INIT;
    const char *s = body;
    size_t n = strcspn(body, "\r\n");
    wf_text_trim(&s, &n);
    wf_buf_put(&v, s, n);
    j->test.version = wf_text_escape_dup(wf_buf_cstr(&v), 64);
    wf_buf_free(&v);
    j->step = 2;
    api_begin(j, "GET", true, "/flows/list");
    wf_job_query(j, "per_page", "1");
    return wf_job_send(j);
}

static int read_workspace_check(wf_job *j)
{
    if (j->req.result == WF_HTTP_OK && j->req.status == 401 && j->call->key.len) {
        j->step = 3; /* the same 401 for a bad token and a wrong workspace: which is it? */
        api_begin(j, "GET", false, "/users/whoami");
        return wf_job_send(j);
    }
    json_t *o = wf_job_answer(j, "Windmill API") ? wf_job_json(j, "Windmill API") : NULL;
    if (o && !json_is_array(o))
        wf_job_fail(j, WF_CALL_ERROR, "Windmill API: unexpected answer (not a list)");
    json_decref(o);
    return WF_STEP_DONE;
}

static int windmill_test(wf_job *j)
{
    switch (j->step) {
    case 0:
        if (!has_workspace(j))
            return WF_STEP_DONE;
        j->step = 1;
        wf_job_begin(j, "GET");
        wf_job_path(j, "/api/version");
        return wf_job_send(j);
    case 1: return read_version(j);
    case 2: return read_workspace_check(j);
    default: {
        char w[WS_MAX];
        workspace_of(j, w);
        if (j->req.result == WF_HTTP_OK && j->req.status == 200)
            return wf_job_fail(j, WF_CALL_UNAUTHORIZED,
                               "Windmill API: the token is valid, but not for workspace '%s' "
                               "(unknown workspace, or not a member)",
                               w);
        return wf_job_fail(j, WF_CALL_UNAUTHORIZED,
                           "Windmill API: the engine refused the token for workspace '%s' "
                           "(HTTP 401)",
                           w);
    }
    }
}

/* ---- workflows --------------------------------------------------------------------- */

static int list_send(wf_job *j)
{
    windmill_state *s = j->priv;
    j->step = 1;
    api_begin(j, "GET", true, s->scripts ? "/scripts/list" : "/flows/list");
    wf_job_query_long(j, "page", s->page);
    wf_job_query_long(j, "per_page", PER_PAGE);
    if (s->scripts)
        wf_job_query(j, "kinds", "script");
    return wf_job_send(j);
}

static int add_item(wf_job *j, const json_t *it, bool script)
{
    const char *path = wf_json_str(it, "path");
    if (!path || !path[0])
        return 0;
    const char *summary = wf_json_str(it, "summary");
    bool active = !wf_json_bool(it, "archived", false) && !wf_json_bool(it, "draft_only", false);
    return wf_job_add_workflow(j, path, summary && summary[0] ? summary : path, active,
                               script ? "script" : "flow",
                               wf_json_str(it, script ? "created_at" : "edited_at"));
}

static int list_read(wf_job *j)
{
    windmill_state *s = j->priv;
    const char *what = s->scripts ? "Windmill scripts" : "Windmill flows";
    json_t *page = wf_job_answer(j, what) ? wf_job_json(j, what) : NULL;
    if (page && !json_is_array(page))
        wf_job_fail(j, WF_CALL_ERROR, "%s: unexpected answer (not a list)", what);
    if (!json_is_array(page)) {
        json_decref(page);
        return WF_STEP_DONE;
    }
    size_t i, n = json_array_size(page);
    json_t *it;
    int rc = 0;
    json_array_foreach(page, i, it)
    {
        if (rc == 0)
            rc = add_item(j, it, s->scripts);
    }
    json_decref(page);
    if (rc < 0)
        return wf_job_fail(j, WF_CALL_ERROR, "out of memory");
    if (n > 0 && s->page >= WF_MAX_PAGES)
        return wf_job_fail(j, WF_CALL_ERROR, "%s: more than %d pages", what, WF_MAX_PAGES);
    if (n > 0) {
        s->page++;
        return list_send(j);
    }
    if (s->scripts)
        return WF_STEP_DONE;
    s->scripts = true;
    s->page = 1;
    return list_send(j);
}

static int windmill_workflows(wf_job *j)
{
    if (j->step > 0)
        return list_read(j);
    if (!has_workspace(j))
        return WF_STEP_DONE;
    windmill_state *s = state_of(j);
    if (!s)
        return wf_job_fail(j, WF_CALL_ERROR, "out of memory");
    s->page = 1;
    return list_send(j);
}

/* ---- runs -------------------------------------------------------------------------- */

static bool is_uuid(const char *s, size_t n)
{
    if (n != 36)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return false;
    }
    return true;
}

static void send_job_get(wf_job *j, int next_step, const char *id)
{
    j->step = next_step;
    api_begin(j, "GET", true, "/jobs_u/get/");
    wf_job_path_value(j, id, false);
    wf_job_query(j, "no_logs", "true");
    wf_job_query(j, "no_code", "true");
}

static int set_run_from(wf_job *j, const json_t *job)
{
    const char *type = wf_json_str(job, "type");
    const char *reason = wf_json_str(job, "canceled_reason");
    bool canceled = wf_json_bool(job, "canceled", false);
    wf_run_status st = WF_RUN_UNKNOWN;
    wf_buf detail = WF_BUF_INIT;
    if (type && !strcmp(type, "QueuedJob")) {
        st = wf_json_bool(job, "running", false) ? WF_RUN_RUNNING : WF_RUN_QUEUED;
        if (canceled)
            wf_buf_puts(&detail, "cancellation requested");
    } else if (type && !strcmp(type, "CompletedJob")) {
        bool ok = wf_json_bool(job, "success", false);
        st = ok ? WF_RUN_SUCCEEDED : canceled ? WF_RUN_CANCELLED : WF_RUN_FAILED;
        if (ok && wf_json_bool(job, "is_skipped", false))
            wf_buf_puts(&detail, "skipped");
    } else {
        wf_buf_printf(&detail, "Windmill job type '%.40s'", type ? type : "none");
    }
    if (canceled && reason && reason[0])
        wf_buf_printf(&detail, "%s%.200s", detail.len ? ": " : "", reason);
    const char *path = wf_json_str(job, "script_path");
    int rc =
        wf_job_set_run(j, wf_json_str(job, "id") ? wf_json_str(job, "id") : j->run_id,
                       path ? path : j->workflow_id, st, wf_json_str(job, "started_at"),
                       wf_json_str(job, "completed_at"), detail.len ? wf_buf_cstr(&detail) : NULL);
    wf_buf_free(&detail);
    return rc < 0 ? wf_job_fail(j, WF_CALL_ERROR, "out of memory") : WF_STEP_DONE;
}

static int read_job(wf_job *j)
{
    if (j->req.result == WF_HTTP_OK && j->req.status == 400 &&
        strstr(wf_buf_cstr(&j->req.response), "non logged in"))
        return wf_job_fail(j, WF_CALL_UNAUTHORIZED,
                           "Windmill job: the engine did not accept the token (HTTP 400: as a "
                           "non logged in user, only anonymous jobs can be seen)");
    json_t *o = wf_job_answer(j, "Windmill job") ? wf_job_json(j, "Windmill job") : NULL;
    if (o && !json_is_object(o))
        wf_job_fail(j, WF_CALL_ERROR, "Windmill job: unexpected answer (not an object)");
    else if (o)
        set_run_from(j, o);
    json_decref(o);
    return WF_STEP_DONE;
}

static int windmill_run_status(wf_job *j)
{
    if (j->step > 0)
        return read_job(j);
    if (!has_workspace(j))
        return WF_STEP_DONE;
    if (!is_uuid(j->run_id, strlen(j->run_id))) {
        j->is_not_found = true;
        return wf_job_fail(j, WF_CALL_ERROR, "run id: Windmill job ids are UUIDs");
    }
    send_job_get(j, 1, j->run_id);
    return wf_job_send(j);
}

static int send_run(wf_job *j, bool script)
{
    windmill_state *s = j->priv;
    s->scripts = script;
    j->step = script ? 2 : 1;
    api_begin(j, "POST", true, script ? "/jobs/run/p/" : "/jobs/run/f/");
    wf_job_path_value(j, j->workflow_id, true);
    wf_job_body_json(j, j->params);
    return wf_job_send(j);
}

/* 201 with the job id as bare text: a queued run, then its state as Windmill has it. */
static int read_started(wf_job *j)
{
    windmill_state *s = j->priv;
    const char *what = s->scripts ? "Windmill script" : "Windmill flow";
    if (j->step == 1 && !j->kind_hint && j->req.result == WF_HTTP_OK && j->req.status == 404)
        return send_run(j, true); /* no flow at that path: a script? */
    if (!wf_job_answer(j, what))
        return WF_STEP_DONE;
    const char *id = wf_buf_cstr(&j->req.response);
    size_t n = j->req.response.len;
    wf_text_trim(&id, &n);
    if (n >= 2 && id[0] == '"' && id[n - 1] == '"') {
        id++;
        n -= 2;
    }
    if (!is_uuid(id, n))
        return wf_job_fail(j, WF_CALL_ERROR, "%s: the answer is not a job id", what);
    char uuid[37];
    memcpy(uuid, id, 36);
    uuid[36] = '\0';
    if (wf_job_set_run(j, uuid, j->workflow_id, WF_RUN_QUEUED, NULL, NULL, NULL) < 0)
        return wf_job_fail(j, WF_CALL_ERROR, "out of memory");
    send_job_get(j, 3, uuid);
    return wf_job_send(j);
}

static int windmill_start_run(wf_job *j)
{
    if (j->step == 0) {
        const char *k = j->kind_hint;
        if (!has_workspace(j))
            return WF_STEP_DONE;
        if (k && strcmp(k, "flow") && strcmp(k, "script"))
            return wf_job_fail(j, WF_CALL_ERROR, "kind: Windmill runs a flow or a script");
        if (!wf_id_is_safe(j->workflow_id, true)) {
            j->is_not_found = true;
            return wf_job_fail(j, WF_CALL_ERROR, "workflow id: not a valid Windmill path");
        }
        if (!state_of(j))
            return wf_job_fail(j, WF_CALL_ERROR, "out of memory");
        return send_run(j, k && !strcmp(k, "script"));
    }
    if (j->step < 3)
        return read_started(j);
    /* The job's state right after the start; if it cannot be read, it is still queued. */
    json_t *o = j->req.result == WF_HTTP_OK && j->req.status == 200 && wf_http_is_json(&j->req)
                    ? json_loads(wf_buf_cstr(&j->req.response), 0, NULL)
                    : NULL;
    if (json_is_object(o))
        set_run_from(j, o);
    json_decref(o);
    return WF_STEP_DONE;
}

const wf_adapter_ops wf_adapter_windmill = {
    .engine_type = "windmill",
    .test = windmill_test,
    .list_workflows = windmill_workflows,
    .start_run = windmill_start_run,
    .run_status = windmill_run_status,
};
