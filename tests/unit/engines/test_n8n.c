/*
 * test_n8n.c: the n8n adapter on recorded answers: the requests it builds (paths, the
 * X-N8N-API-KEY header, never on a webhook), the workflows pages followed to the end,
 * runs through a webhook, the executions' states, and bad answers.
 */
#include "engine_fixture.h"

#define BASE "http://n8n.test:5678"
#define KEY "n8n_api_0123456789abcdef"

static void test_test_up(void **state)
{
    (void)state;
    fx f;
    fx_setup(&f, "n8n", BASE "/", NULL, KEY);
    assert_int_equal(start(&f, wf_job_new_test(&f.call)), WF_STEP_SEND);
    assert_string_equal(url(&f), BASE "/api/v1/workflows?limit=1&excludePinnedData=true");
    assert_string_equal(header(&f, "X-N8N-API-KEY"), KEY);
    assert_string_equal(header(&f, "Accept"), "application/json");
    assert_string_equal(f.j->req.method, "GET");
    assert_int_equal(reply_file(&f, 200, "n8n_workflows_page1.json"), WF_STEP_DONE);
    assert_status(&f, WF_CALL_UP);
    assert_null(wf_job_test(f.j)->version); /* n8n has no version endpoint */
    fx_teardown(&f);
}

static void test_test_failures(void **state)
{
    (void)state;
    static const struct {
        long status;
        const char *ctype, *body;
        wf_call_status want;
        const char *detail;
    } cases[] = {
        {401, "application/json; charset=utf-8", "{\"message\":\"unauthorized\"}",
         WF_CALL_UNAUTHORIZED, "refused the API key"},
        {403, "application/json", "{\"message\":\"Forbidden\"}", WF_CALL_UNAUTHORIZED, "Forbidden"},
        {200, "text/html; charset=utf-8", "<html>n8n</html>", WF_CALL_ERROR, "not JSON"},
        {200, "application/json", "{\"data\": [", WF_CALL_ERROR, "invalid JSON"},
        {200, "application/json", "{\"data\": 5}", WF_CALL_ERROR, "no \"data\" list"},
        {200, "application/json", "[1,2]", WF_CALL_ERROR, "no \"data\" list"},
        {503, "application/json", "{\"message\":\"Service Unavailable\"}", WF_CALL_DOWN,
         "unavailable"},
        {500, "text/plain", "boom\nsecond line", WF_CALL_ERROR, "HTTP 500: boom"},
        {401, "application/json", "{\"message\":\"bad key " KEY "\"}", WF_CALL_UNAUTHORIZED,
         "quotes the API key: not shown"},
        /* the content type is quoted too, and may echo a header (tests/fuzz/fuzz_n8n) */
        {200, "text/plain; echo=" KEY, "ok", WF_CALL_ERROR, "not JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fx f;
        fx_setup(&f, "n8n", BASE, NULL, KEY);
        start(&f, wf_job_new_test(&f.call));
        assert_int_equal(reply(&f, cases[i].status, cases[i].ctype, cases[i].body), WF_STEP_DONE);
        assert_status(&f, cases[i].want);
        assert_detail_has(&f, cases[i].detail);
        assert_null(strstr(wf_job_detail(f.j), KEY));
        fx_teardown(&f);
    }
}

/* The check for a quoted key looks at the detail as shown: escaping a byte that is not
 * UTF-8 ("\x9f") must not spell the key with the text after it (tests/fuzz/fuzz_n8n). */
static void test_key_spelled_by_escape(void **state)
{
    (void)state;
    fx f;
    fx_setup(&f, "n8n", BASE, NULL, "fa-key-0123456789");
    start(&f, wf_job_new_test(&f.call));
    assert_int_equal(reply(&f, 500, "text/plain", "\237a-key-0123456789"), WF_STEP_DONE);
    assert_status(&f, WF_CALL_ERROR);
    assert_null(strstr(wf_job_detail(f.j), "fa-key-0123456789"));
    fx_teardown(&f);
}

static void test_test_transport(void **state)
{
    (void)state;
    static const struct {
        wf_http_result res;
        wf_call_status want;
    } cases[] = {
        {WF_HTTP_TIMEOUT, WF_CALL_TIMEOUT}, {WF_HTTP_CONNECT, WF_CALL_DOWN},
        {WF_HTTP_RESET, WF_CALL_DOWN},      {WF_HTTP_TLS, WF_CALL_ERROR},
        {WF_HTTP_REDIRECT, WF_CALL_ERROR},  {WF_HTTP_TOO_LARGE, WF_CALL_ERROR},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fx f;
        fx_setup(&f, "n8n", BASE, NULL, KEY);
        start(&f, wf_job_new_test(&f.call));
        assert_int_equal(reply_none(&f, cases[i].res, "what the client said"), WF_STEP_DONE);
        assert_status(&f, cases[i].want);
        fx_teardown(&f);
    }
}

static void test_no_key(void **state)
{
    (void)state;
    fx f;
    fx_setup(&f, "n8n", BASE, NULL, NULL);
    start(&f, wf_job_new_test(&f.call));
    assert_null(header(&f, "X-N8N-API-KEY"));
    reply_json(&f, 401, "{\"message\":\"'X-N8N-API-KEY' header required\"}");
    assert_status(&f, WF_CALL_UNAUTHORIZED);
    assert_detail_has(&f, "none is set");
    fx_teardown(&f);
}

static void test_workflows_all_pages(void **state)
{
    (void)state;
    fx f;
    fx_setup(&f, "n8n", BASE, NULL, KEY);
    assert_int_equal(start(&f, wf_job_new_workflows(&f.call)), WF_STEP_SEND);
    assert_string_equal(url(&f), BASE "/api/v1/workflows?limit=250&excludePinnedData=true");
    assert_int_equal(reply_file(&f, 200, "n8n_workflows_page1.json"), WF_STEP_SEND);
    /* the cursor as n8n gave it, percent-encoded ('=' of base64) */
    assert_non_null(strstr(url(&f), "&cursor=eyJsaW1pdCI6Mywib2Zmc2V0IjozfQ%3D%3D"));
    assert_int_equal(reply_file(&f, 200, "n8n_workflows_page2.json"), WF_STEP_DONE);
    assert_status(&f, WF_CALL_UP);
    size_t n;
    const wf_workflow *w = wf_job_workflows(f.j, &n);
    assert_int_equal(n, 4); /* five listed, one archived */
    assert_string_equal(w[0].id, "uK4tcu6t1jWdUevN");
    assert_string_equal(w[0].name, "Workflow 001");
    assert_string_equal(w[0].kind, "workflow");
    assert_true(w[0].is_active);
    assert_string_equal(w[0].updated_at, "2025-01-01T00:00:00Z");
    assert_false(w[2].is_active);
    json_t *o = wf_workflow_to_json(&w[0], "n8n-a");
    assert_int_equal(json_object_size(o), 6);
    assert_string_equal(json_string_value(json_object_get(o, "engine")), "n8n-a");
    json_decref(o);
    fx_teardown(&f);
}

static void test_workflows_bad_pages(void **state)
{
    (void)state;
    fx f;
    fx_setup(&f, "n8n", BASE, NULL, KEY);
    start(&f, wf_job_new_workflows(&f.call));
    /* items of the wrong shape are skipped, not a crash */
    assert_int_equal(
        reply_json(&f, 200,
                   "{\"data\":[5,null,{\"name\":\"no id\"},{\"id\":7,\"name\":[1],"
                   "\"active\":\"yes\",\"updatedAt\":\"soon\"}],\"nextCursor\":\"c1\"}"),
        WF_STEP_SEND);
    /* the same cursor again would never end */
    assert_int_equal(reply_json(&f, 200, "{\"data\":[],\"nextCursor\":\"c1\"}"), WF_STEP_DONE);
    assert_status(&f, WF_CALL_ERROR);
    assert_detail_has(&f, "repeated a page cursor");
    fx_teardown(&f);

    fx_setup(&f, "n8n", BASE, NULL, KEY);
    start(&f, wf_job_new_workflows(&f.call));
    reply_json(&f, 200, "{\"data\":[{\"id\":7,\"name\":[1]}],\"nextCursor\":null}");
    assert_status(&f, WF_CALL_UP);
    size_t n;
    const wf_workflow *w = wf_job_workflows(f.j, &n);
    assert_int_equal(n, 1);
    assert_string_equal(w[0].id, "7");
    assert_string_equal(w[0].name, "7"); /* no name: the id */
    assert_null(w[0].updated_at);
    fx_teardown(&f);

    fx_setup(&f, "n8n", BASE, NULL, KEY);
    start(&f, wf_job_new_workflows(&f.call));
    reply_json(&f, 200, "{\"data\":[],\"nextCursor\":17}");
    assert_status(&f, WF_CALL_ERROR);
    assert_detail_has(&f, "nextCursor");
    fx_teardown(&f);
}

/* The run status of one execution with this n8n status. */
static void check_execution_status(const char *st, wf_run_status want, const char *detail)
{
    fx f;
    char answer[256];
    fx_setup(&f, "n8n", BASE, NULL, KEY);
    assert_int_equal(start(&f, wf_job_new_run_status(&f.call, "12")), WF_STEP_SEND);
    assert_string_equal(url(&f), BASE "/api/v1/executions/12");
    snprintf(answer, sizeof answer,
             "{\"id\":\"12\",\"workflowId\":\"wf1\",\"status\":\"%s\",\"startedAt\":"
             "\"2025-01-01T00:00:00.000Z\",\"stoppedAt\":null}",
             st);
    reply_json(&f, 200, answer);
    assert_status(&f, WF_CALL_UP);
    const wf_run *r = wf_job_run(f.j);
    assert_non_null(r);
    assert_int_equal(r->status, want);
    assert_string_equal(r->run_id, "12");
    assert_string_equal(r->workflow_id, "wf1");
    assert_string_equal(r->started_at, "2025-01-01T00:00:00Z");
    assert_null(r->ended_at);
    if (detail)
        assert_non_null(strstr(r->detail, detail));
    else
        assert_null(r->detail);
    fx_teardown(&f);
}

static void test_execution_states(void **state)
{
    (void)state;
    check_execution_status("new", WF_RUN_QUEUED, NULL);
    check_execution_status("waiting", WF_RUN_QUEUED, "waiting");
    check_execution_status("running", WF_RUN_RUNNING, NULL);
    check_execution_status("success", WF_RUN_SUCCEEDED, NULL);
    check_execution_status("error", WF_RUN_FAILED, NULL);
    check_execution_status("crashed", WF_RUN_FAILED, "crashed");
    check_execution_status("canceled", WF_RUN_CANCELLED, NULL);
    check_execution_status("unknown", WF_RUN_UNKNOWN, "unknown");
    check_execution_status("exploded", WF_RUN_UNKNOWN, "exploded");
}

static void test_execution_recorded_and_bad(void **state)
{
    (void)state;
    fx f;
    fx_setup(&f, "n8n", BASE, NULL, KEY);
    start(&f, wf_job_new_run_status(&f.call, "1"));
    reply_file(&f, 200, "n8n_execution.json");
    assert_status(&f, WF_CALL_UP);
    assert_int_equal(wf_job_run(f.j)->status, WF_RUN_SUCCEEDED);
    assert_non_null(wf_job_run(f.j)->ended_at);
    fx_teardown(&f);

    fx_setup(&f, "n8n", BASE, NULL, KEY);
    assert_int_equal(start(&f, wf_job_new_run_status(&f.call, "../1")), WF_STEP_DONE);
    assert_true(wf_job_is_not_found(f.j));
    assert_string_equal(url(&f), ""); /* nothing was sent */
    fx_teardown(&f);

    fx_setup(&f, "n8n", BASE, NULL, KEY);
    start(&f, wf_job_new_run_status(&f.call, "99"));
    reply_json(&f, 404, "{\"message\":\"Not Found\"}");
    assert_true(wf_job_is_not_found(f.j));
    assert_null(wf_job_run(f.j));
    fx_teardown(&f);

    fx_setup(&f, "n8n", BASE, NULL, KEY);
    start(&f, wf_job_new_run_status(&f.call, "3"));
    reply_json(&f, 200, "{\"status\":\"success\"}");
    assert_status(&f, WF_CALL_ERROR);
    assert_detail_has(&f, "no id");
    fx_teardown(&f);
}

static void test_start_run_through_webhook(void **state)
{
    (void)state;
    fx f;
    fx_setup(&f, "n8n", BASE, NULL, KEY);
    json_t *params = json_pack("{s:s,s:i}", "who", "me", "n", 2);
    assert_int_equal(start(&f, wf_job_new_start_run(&f.call, "uK4tcu6t1jWdUevN", NULL, params)),
                     WF_STEP_SEND);
    json_decref(params);
    assert_string_equal(url(&f), BASE "/api/v1/workflows/uK4tcu6t1jWdUevN?excludePinnedData=true");
    assert_int_equal(reply_file(&f, 200, "n8n_workflow_webhook.json"), WF_STEP_SEND);
    /* the newest execution before the call: from the list, then from the running ones */
    assert_string_equal(url(&f), BASE "/api/v1/executions?workflowId=uK4tcu6t1jWdUevN&limit=1");
    assert_int_equal(reply_json(&f, 200, "{\"data\":[{\"id\":\"5\"}],\"nextCursor\":null}"),
                     WF_STEP_SEND);
    assert_non_null(strstr(url(&f), "&status=running"));
    assert_int_equal(reply_json(&f, 200, "{\"data\":[{\"id\":\"7\"}],\"nextCursor\":null}"),
                     WF_STEP_SEND);
    /* the webhook: its own method and path, the parameters as the body, and no key */
    assert_string_equal(f.j->req.method, "POST");
    assert_string_equal(url(&f), BASE "/webhook/hook-001");
    assert_null(header(&f, "X-N8N-API-KEY"));
    assert_null(header(&f, "Authorization"));
    assert_string_equal(body(&f), "{\"who\":\"me\",\"n\":2}");
    assert_int_equal(reply_json(&f, 200, "{\"message\":\"Workflow was started\"}"), WF_STEP_SEND);
    /* the new execution: the oldest one newer than 7 */
    assert_int_equal(
        reply_json(&f, 200,
                   "{\"data\":[{\"id\":\"9\",\"status\":\"success\"},{\"id\":\"8\",\"status\":"
                   "\"new\",\"workflowId\":\"uK4tcu6t1jWdUevN\"},{\"id\":\"5\"}]}"),
        WF_STEP_SEND);
    assert_int_equal(reply_json(&f, 200, "{\"data\":[]}"), WF_STEP_DONE);
    assert_status(&f, WF_CALL_UP);
    const wf_run *r = wf_job_run(f.j);
    assert_string_equal(r->run_id, "8");
    assert_int_equal(r->status, WF_RUN_QUEUED);
    fx_teardown(&f);
}

static void test_start_run_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *workflow, *detail;
    } cases[] = {
        {"{\"id\":\"a\",\"active\":true,\"nodes\":[{\"type\":\"n8n-nodes-base.scheduleTrigger\"}]}",
         "has no Webhook trigger"},
        {"{\"id\":\"a\",\"active\":false,\"nodes\":[{\"type\":\"n8n-nodes-base.webhook\","
         "\"parameters\":{\"path\":\"p\"}}]}",
         "is inactive"},
        {"{\"id\":\"a\",\"active\":true,\"nodes\":[{\"type\":\"n8n-nodes-base.webhook\","
         "\"disabled\":true,\"parameters\":{\"path\":\"p\"}}]}",
         "has no Webhook trigger"},
        {"{\"id\":\"a\",\"active\":true,\"isArchived\":true}", "archived"},
        {"{\"id\":\"a\",\"active\":true,\"nodes\":\"none\"}", "has no Webhook trigger"},
        {"[]", "not an object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fx f;
        fx_setup(&f, "n8n", BASE, NULL, KEY);
        start(&f, wf_job_new_start_run(&f.call, "a", NULL, NULL));
        assert_int_equal(reply_json(&f, 200, cases[i].workflow), WF_STEP_DONE);
        assert_status(&f, WF_CALL_ERROR);
        assert_detail_has(&f, cases[i].detail);
        /* the workflow is there but cannot be started as it is (not an answer that is no
         * workflow at all) */
        assert_int_equal(wf_job_is_conflict(f.j), i + 1 < sizeof cases / sizeof cases[0]);
        assert_false(wf_job_is_not_found(f.j));
        fx_teardown(&f);
    }
}

static void test_start_run_unknown_workflow(void **state)
{
    (void)state;
    fx f;
    fx_setup(&f, "n8n", BASE, NULL, KEY);
    start(&f, wf_job_new_start_run(&f.call, "NoSuchWorkflow00", NULL, NULL));
    assert_int_equal(reply_json(&f, 404, "{\"message\":\"Not Found\"}"), WF_STEP_DONE);
    assert_true(wf_job_is_not_found(f.j));
    assert_false(wf_job_is_conflict(f.j));
    assert_null(wf_job_run(f.j));
    fx_teardown(&f);

    fx_setup(&f, "n8n", BASE, NULL, KEY);
    start(&f, wf_job_new_start_run(&f.call, "w", NULL, NULL));
    assert_int_equal(reply(&f, 200, "text/html", "<html>"), WF_STEP_DONE);
    assert_status(&f, WF_CALL_ERROR);
    fx_teardown(&f);
}

static void test_start_run_get_webhook(void **state)
{
    (void)state;
    fx f;
    fx_setup(&f, "n8n", BASE, NULL, KEY);
    json_t *params = json_pack("{s:s,s:b}", "q", "a b&c", "flag", 1);
    start(&f, wf_job_new_start_run(&f.call, "w1", NULL, params));
    json_decref(params);
    reply_json(&f, 200,
               "{\"id\":\"w1\",\"active\":true,\"nodes\":[{\"type\":\"n8n-nodes-base.webhook\","
               "\"parameters\":{\"path\":\"/team/hook 1\"}}]}");
    reply_json(&f, 200, "{\"data\":[]}");
    assert_int_equal(reply_json(&f, 200, "{\"data\":[]}"), WF_STEP_SEND);
    /* no httpMethod: GET, the parameters in the query, the path's '/' kept */
    assert_string_equal(f.j->req.method, "GET");
    assert_string_equal(url(&f), BASE "/webhook/team/hook%201?q=a%20b%26c&flag=true");
    assert_false(f.j->req.has_body);
    /* a webhook that is not registered */
    reply_json(&f, 404, "{\"code\":404,\"message\":\"The requested webhook is not registered.\"}");
    assert_status(&f, WF_CALL_ERROR);
    assert_detail_has(&f, "not registered");
    assert_false(wf_job_is_not_found(f.j));
    fx_teardown(&f);
}

int main(void)
{
    wf_log_setup(WF_LOG_OFF, WF_LOG_TEXT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_test_up),
        cmocka_unit_test(test_test_failures),
        cmocka_unit_test(test_key_spelled_by_escape),
        cmocka_unit_test(test_test_transport),
        cmocka_unit_test(test_no_key),
        cmocka_unit_test(test_workflows_all_pages),
        cmocka_unit_test(test_workflows_bad_pages),
        cmocka_unit_test(test_execution_states),
        cmocka_unit_test(test_execution_recorded_and_bad),
        cmocka_unit_test(test_start_run_through_webhook),
        cmocka_unit_test(test_start_run_refusals),
        cmocka_unit_test(test_start_run_unknown_workflow),
        cmocka_unit_test(test_start_run_get_webhook),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
