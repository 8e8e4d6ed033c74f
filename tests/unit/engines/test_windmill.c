/*
 * test_windmill.c: the Windmill adapter on recorded answers: the version without a
 * token, the token checked in the workspace (and a wrong workspace told from a bad
 * token), flows then scripts paged to an empty page, runs started by path with the '/'s
 * kept, and the job shapes (QueuedJob, CompletedJob) mapped.
 */
#include "engine_fixture.h"

#define BASE "http://windmill.test:8000"
#define WS "{\"workspace\":\"demo\"}"
#define TOKEN "wm_token_0123456789"
#define JOB_ID "0b6e1c7e-4d5f-4a51-9d1e-2f1c2b3a4d5e"

static void test_test(void **state)
{
    (void)state;
    fx f;
    fx_setup(&f, "windmill", BASE, WS, TOKEN);
    start(&f, wf_job_new_test(&f.call));
    assert_string_equal(url(&f), BASE "/api/version");
    assert_null(header(&f, "Authorization")); /* the version needs no token */
    assert_int_equal(reply(&f, 200, "text/plain; charset=utf-8", "CE v1.743.0-12-gabc123\n"),
                     WF_STEP_SEND);
    assert_string_equal(url(&f), BASE "/api/w/demo/flows/list?per_page=1");
    assert_string_equal(header(&f, "Authorization"), "Bearer " TOKEN);
    assert_int_equal(reply_json(&f, 200, "[]"), WF_STEP_DONE);
    assert_status(&f, WF_CALL_UP);
    assert_string_equal(wf_job_test(f.j)->version, "CE v1.743.0-12-gabc123");
    fx_teardown(&f);
}

static void test_test_unauthorized(void **state)
{
    (void)state;
    fx f;
    /* the token works elsewhere: the workspace is wrong */
    fx_setup(&f, "windmill", BASE, WS, TOKEN);
    start(&f, wf_job_new_test(&f.call));
    reply(&f, 200, "text/plain", "CE v1.743.0");
    assert_int_equal(reply(&f, 401, "text/plain", "Not authorized: Unauthorized"), WF_STEP_SEND);
    assert_string_equal(url(&f), BASE "/api/users/whoami");
    reply_json(&f, 200, "{\"email\":\"a@b\"}");
    assert_status(&f, WF_CALL_UNAUTHORIZED);
    assert_detail_has(&f, "not for workspace 'demo'");
    fx_teardown(&f);

    fx_setup(&f, "windmill", BASE, WS, TOKEN);
    start(&f, wf_job_new_test(&f.call));
    reply(&f, 200, "text/plain", "CE v1.743.0");
    reply(&f, 401, "text/plain", "Not authorized: Unauthorized");
    reply(&f, 401, "text/plain", "Not authorized: Unauthorized");
    assert_status(&f, WF_CALL_UNAUTHORIZED);
    assert_detail_has(&f, "refused the token");
    fx_teardown(&f);

    /* a wrong base URL: the frontend's page */
    fx_setup(&f, "windmill", BASE, WS, TOKEN);
    start(&f, wf_job_new_test(&f.call));
    assert_int_equal(reply(&f, 200, "text/html", "<!doctype html><html>v</html>"), WF_STEP_DONE);
    assert_status(&f, WF_CALL_ERROR);
    fx_teardown(&f);

    fx_setup(&f, "windmill", BASE, "{}", TOKEN);
    assert_int_equal(start(&f, wf_job_new_test(&f.call)), WF_STEP_DONE);
    assert_detail_has(&f, "config.workspace");
    fx_teardown(&f);
}

static void test_flows_then_scripts(void **state)
{
    (void)state;
    fx f;
    fx_setup(&f, "windmill", BASE "/", WS, TOKEN);
    start(&f, wf_job_new_workflows(&f.call));
    assert_string_equal(url(&f), BASE "/api/w/demo/flows/list?page=1&per_page=100");
    assert_int_equal(reply_file(&f, 200, "windmill_flows.json"), WF_STEP_SEND);
    assert_string_equal(url(&f), BASE "/api/w/demo/flows/list?page=2&per_page=100");
    assert_int_equal(reply_json(&f, 200, "[]"), WF_STEP_SEND);
    assert_string_equal(url(&f), BASE "/api/w/demo/scripts/list?page=1&per_page=100&kinds=script");
    assert_int_equal(reply_file(&f, 200, "windmill_scripts.json"), WF_STEP_SEND);
    /* a short page proves nothing: asked until an empty one */
    assert_int_equal(reply_json(&f, 200,
                                "[{\"path\":\"f/x/late\",\"summary\":\"\",\"archived\":false,"
                                "\"draft_only\":true},{\"summary\":\"no path\"},7]"),
                     WF_STEP_SEND);
    assert_int_equal(reply_json(&f, 200, "[]"), WF_STEP_DONE);
    assert_status(&f, WF_CALL_UP);
    size_t n;
    const wf_workflow *w = wf_job_workflows(f.j, &n);
    assert_int_equal(n, 7);
    assert_string_equal(w[0].id, "f/folder2/flow_002");
    assert_string_equal(w[0].name, "Flow 002");
    assert_string_equal(w[0].kind, "flow");
    assert_string_equal(w[3].kind, "script");
    assert_string_equal(w[6].id, "f/x/late");
    assert_string_equal(w[6].name, "f/x/late"); /* an empty summary: the path */
    assert_false(w[6].is_active);               /* a draft only */
    fx_teardown(&f);

    fx_setup(&f, "windmill", BASE, WS, TOKEN);
    start(&f, wf_job_new_workflows(&f.call));
    reply(&f, 401, "text/plain", "Not authorized: Unauthorized");
    assert_status(&f, WF_CALL_UNAUTHORIZED);
    assert_detail_has(&f, "Not authorized");
    fx_teardown(&f);
}

static void test_start_run(void **state)
{
    (void)state;
    fx f;
    fx_setup(&f, "windmill", BASE, WS, TOKEN);
    json_t *params = json_pack("{s:i}", "a", 1);
    start(&f, wf_job_new_start_run(&f.call, "f/folder 1/flow", NULL, params));
    json_decref(params);
    /* the path's '/'s kept, each segment encoded */
    assert_string_equal(url(&f), BASE "/api/w/demo/jobs/run/f/f/folder%201/flow");
    assert_string_equal(f.j->req.method, "POST");
    assert_string_equal(body(&f), "{\"a\":1}");
    /* no flow there: a script of that path */
    assert_int_equal(
        reply(&f, 404, "text/plain", "Not found: flow not found at name f/folder 1/flow"),
        WF_STEP_SEND);
    assert_string_equal(url(&f), BASE "/api/w/demo/jobs/run/p/f/folder%201/flow");
    assert_int_equal(reply(&f, 201, "text/plain", JOB_ID), WF_STEP_SEND);
    assert_string_equal(url(&f),
                        BASE "/api/w/demo/jobs_u/get/" JOB_ID "?no_logs=true&no_code=true");
    /* the state cannot be read: the run is still started, queued */
    assert_int_equal(reply_none(&f, WF_HTTP_TIMEOUT, "slow"), WF_STEP_DONE);
    assert_status(&f, WF_CALL_UP);
    assert_string_equal(wf_job_run(f.j)->run_id, JOB_ID);
    assert_int_equal(wf_job_run(f.j)->status, WF_RUN_QUEUED);
    fx_teardown(&f);

    fx_setup(&f, "windmill", BASE, WS, TOKEN);
    start(&f, wf_job_new_start_run(&f.call, "f/a/b", "flow", NULL));
    assert_string_equal(body(&f), "{}");
    reply(&f, 404, "text/plain", "Not found: flow not found at name f/a/b");
    assert_true(wf_job_is_not_found(f.j)); /* --kind flow: no script tried */
    fx_teardown(&f);

    fx_setup(&f, "windmill", BASE, WS, TOKEN);
    start(&f, wf_job_new_start_run(&f.call, "f/a/b", "script", NULL));
    assert_string_equal(url(&f), BASE "/api/w/demo/jobs/run/p/f/a/b");
    assert_int_equal(reply(&f, 201, "text/plain", "<html>"), WF_STEP_DONE);
    assert_detail_has(&f, "not a job id");
    fx_teardown(&f);

    static const char *const bad[] = {"f/../api", "/f/a", "f//a", ""};
    for (size_t i = 0; i < 4; i++) {
        fx_setup(&f, "windmill", BASE, WS, TOKEN);
        assert_int_equal(start(&f, wf_job_new_start_run(&f.call, bad[i], NULL, NULL)),
                         WF_STEP_DONE);
        assert_string_equal(url(&f), "");
        fx_teardown(&f);
    }
}

static void check_job(const char *json, wf_run_status want, const char *detail)
{
    fx f;
    fx_setup(&f, "windmill", BASE, WS, TOKEN);
    start(&f, wf_job_new_run_status(&f.call, JOB_ID));
    reply_json(&f, 200, json);
    assert_status(&f, WF_CALL_UP);
    const wf_run *r = wf_job_run(f.j);
    assert_int_equal(r->status, want);
    if (detail)
        assert_non_null(r->detail && strstr(r->detail, detail) ? r->detail : NULL);
    else
        assert_null(r->detail);
    fx_teardown(&f);
}

static void test_job_states(void **state)
{
    (void)state;
    check_job("{\"type\":\"QueuedJob\",\"running\":false}", WF_RUN_QUEUED, NULL);
    check_job("{\"type\":\"QueuedJob\",\"running\":true}", WF_RUN_RUNNING, NULL);
    check_job("{\"type\":\"CompletedJob\",\"success\":true}", WF_RUN_SUCCEEDED, NULL);
    check_job("{\"type\":\"CompletedJob\",\"success\":true,\"is_skipped\":true}", WF_RUN_SUCCEEDED,
              "skipped");
    check_job("{\"type\":\"CompletedJob\",\"success\":false}", WF_RUN_FAILED, NULL);
    check_job("{\"type\":\"CompletedJob\",\"success\":false,\"canceled\":true,"
              "\"canceled_reason\":\"by hand\"}",
              WF_RUN_CANCELLED, "by hand");
    check_job("{\"type\":\"Mystery\"}", WF_RUN_UNKNOWN, "Mystery");
    check_job("{\"success\":\"yes\",\"running\":1}", WF_RUN_UNKNOWN, "none");

    fx f;
    fx_setup(&f, "windmill", BASE, WS, TOKEN);
    start(&f, wf_job_new_run_status(&f.call, JOB_ID));
    reply_file(&f, 200, "windmill_job_cancelled.json");
    assert_int_equal(wf_job_run(f.j)->status, WF_RUN_CANCELLED);
    assert_string_equal(wf_job_run(f.j)->workflow_id, "f/folder2/flow_002");
    assert_non_null(wf_job_run(f.j)->ended_at);
    fx_teardown(&f);

    fx_setup(&f, "windmill", BASE, WS, TOKEN);
    start(&f, wf_job_new_run_status(&f.call, JOB_ID));
    reply_file(&f, 200, "windmill_job_queued.json");
    assert_int_equal(wf_job_run(f.j)->status, WF_RUN_QUEUED);
    fx_teardown(&f);
}

static void test_job_errors(void **state)
{
    (void)state;
    fx f;
    fx_setup(&f, "windmill", BASE, WS, "wrong");
    start(&f, wf_job_new_run_status(&f.call, JOB_ID));
    reply(&f, 400, "text/plain",
          "Bad request: As a non logged in user, you can only see jobs ran by anonymous users");
    assert_status(&f, WF_CALL_UNAUTHORIZED);
    fx_teardown(&f);

    fx_setup(&f, "windmill", BASE, WS, TOKEN);
    start(&f, wf_job_new_run_status(&f.call, JOB_ID));
    reply(&f, 404, "text/plain", "Not found: Job not found at name " JOB_ID);
    assert_true(wf_job_is_not_found(f.j));
    fx_teardown(&f);

    fx_setup(&f, "windmill", BASE, WS, TOKEN);
    assert_int_equal(start(&f, wf_job_new_run_status(&f.call, "not-a-uuid")), WF_STEP_DONE);
    assert_true(wf_job_is_not_found(f.j));
    fx_teardown(&f);

    fx_setup(&f, "windmill", BASE, WS, TOKEN);
    start(&f, wf_job_new_run_status(&f.call, JOB_ID));
    reply(&f, 200, "application/json", "{\"type\":\"QueuedJob\"");
    assert_status(&f, WF_CALL_ERROR);
    assert_detail_has(&f, "invalid JSON");
    fx_teardown(&f);
}

int main(void)
{
    wf_log_setup(WF_LOG_OFF, WF_LOG_TEXT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_test),
        cmocka_unit_test(test_test_unauthorized),
        cmocka_unit_test(test_flows_then_scripts),
        cmocka_unit_test(test_start_run),
        cmocka_unit_test(test_job_states),
        cmocka_unit_test(test_job_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
