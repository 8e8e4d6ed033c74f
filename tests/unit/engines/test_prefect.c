/*
 * test_prefect.c: the Prefect adapter on recorded answers: Basic (self-hosted auth
 * string) against Bearer (Cloud) auth, the release from /admin/version, flows joined to
 * deployments across pages, create_flow_run, and every state type mapped.
 */
#include "engine_fixture.h"

#define BASE "http://prefect.test:4200/api"
#define CLOUD "https://api.prefect.cloud/api/accounts/acc-1/workspaces/ws-1"

static void test_auth_headers(void **state)
{
    (void)state;
    fx f;
    fx_setup(&f, "prefect", BASE, NULL, "admin:pass");
    start(&f, wf_job_new_test(&f.call));
    assert_string_equal(url(&f), BASE "/health");
    assert_string_equal(header(&f, "Authorization"), "Basic YWRtaW46cGFzcw==");
    fx_teardown(&f);

    fx_setup(&f, "prefect", CLOUD, NULL, "pnu_abc");
    start(&f, wf_job_new_test(&f.call));
    assert_string_equal(url(&f), CLOUD "/health");
    assert_string_equal(header(&f, "Authorization"), "Bearer pnu_abc");
    fx_teardown(&f);

    fx_setup(&f, "prefect", BASE, NULL, NULL);
    start(&f, wf_job_new_test(&f.call));
    assert_null(header(&f, "Authorization"));
    fx_teardown(&f);

    fx_setup(&f, "prefect", BASE, "{\"auth\":\"bearer\"}", "tok");
    start(&f, wf_job_new_test(&f.call));
    assert_string_equal(header(&f, "Authorization"), "Bearer tok");
    fx_teardown(&f);
}

static void test_test_self_hosted(void **state)
{
    (void)state;
    fx f;
    fx_setup(&f, "prefect", BASE, NULL, "admin:pass");
    start(&f, wf_job_new_test(&f.call));
    assert_int_equal(reply_json(&f, 200, "true"), WF_STEP_SEND);
    assert_string_equal(url(&f), BASE "/admin/version"); /* the release, not /version */
    assert_int_equal(reply_json(&f, 200, "\"3.4.11\""), WF_STEP_SEND);
    assert_string_equal(url(&f), BASE "/flows/filter");
    assert_string_equal(f.j->req.method, "POST");
    assert_string_equal(body(&f), "{\"limit\":1,\"offset\":0}");
    assert_string_equal(header(&f, "Content-Type"), "application/json");
    assert_int_equal(reply_json(&f, 200, "[]"), WF_STEP_DONE);
    assert_status(&f, WF_CALL_UP);
    assert_string_equal(wf_job_test(f.j)->version, "3.4.11");
    fx_teardown(&f);

    /* a wrong auth string: health is exempt, the version is not */
    fx_setup(&f, "prefect", BASE, NULL, "admin:wrong");
    start(&f, wf_job_new_test(&f.call));
    reply_json(&f, 200, "true");
    reply_json(&f, 401, "{\"exception_message\":\"Unauthorized\"}");
    assert_status(&f, WF_CALL_UNAUTHORIZED);
    assert_detail_has(&f, "Unauthorized");
    fx_teardown(&f);

    /* an old server without /admin/version: version unknown, still up */
    fx_setup(&f, "prefect", BASE, NULL, NULL);
    start(&f, wf_job_new_test(&f.call));
    reply_json(&f, 200, "true");
    assert_int_equal(reply_json(&f, 404, "{\"detail\":\"Not Found\"}"), WF_STEP_SEND);
    reply_json(&f, 200, "[]");
    assert_status(&f, WF_CALL_UP);
    assert_null(wf_job_test(f.j)->version);
    fx_teardown(&f);
}

static void test_test_cloud_and_bad(void **state)
{
    (void)state;
    fx f;
    fx_setup(&f, "prefect", CLOUD, NULL, "pnu_abc");
    start(&f, wf_job_new_test(&f.call));
    assert_int_equal(reply_json(&f, 200, "true"), WF_STEP_SEND);
    assert_string_equal(url(&f), CLOUD "/flows/filter"); /* Cloud has no /admin/version */
    reply_json(&f, 403, "{\"detail\":\"Forbidden\"}");
    assert_status(&f, WF_CALL_UNAUTHORIZED);
    fx_teardown(&f);

    static const char *const bad_health[] = {"false", "{\"ok\":true}", "<html>"};
    for (size_t i = 0; i < 3; i++) {
        fx_setup(&f, "prefect", BASE, NULL, NULL);
        start(&f, wf_job_new_test(&f.call));
        assert_int_equal(reply_json(&f, 200, bad_health[i]), WF_STEP_DONE);
        assert_status(&f, WF_CALL_ERROR);
        fx_teardown(&f);
    }
}

static void test_deployments_joined(void **state)
{
    (void)state;
    fx f;
    fx_setup(&f, "prefect", BASE, NULL, NULL);
    assert_int_equal(start(&f, wf_job_new_workflows(&f.call)), WF_STEP_SEND);
    assert_string_equal(url(&f), BASE "/flows/filter");
    assert_string_equal(body(&f), "{\"limit\":200,\"offset\":0,\"sort\":\"CREATED_DESC\"}");
    assert_int_equal(reply_file(&f, 200, "prefect_flows.json"), WF_STEP_SEND);
    assert_string_equal(url(&f), BASE "/deployments/filter");
    assert_int_equal(reply_file(&f, 200, "prefect_deployments.json"), WF_STEP_DONE);
    assert_status(&f, WF_CALL_UP);
    size_t n;
    const wf_workflow *w = wf_job_workflows(f.j, &n);
    assert_int_equal(n, 3);
    /* the same deployment name under two flows: told apart by the flow */
    assert_string_equal(w[0].name, "flow-00/deployment-0000");
    assert_string_equal(w[1].name, "flow-01/deployment-0000");
    assert_string_equal(w[0].id, "2a9f056e-9d34-5bfa-b5c2-106aa48cbf37");
    assert_string_equal(w[0].kind, "deployment");
    assert_true(w[0].is_active);
    assert_non_null(w[0].updated_at);
    fx_teardown(&f);
}

/* A page of n deployments d<first>..; flow "f1" unless no_flow. */
static char *deployments_page(int first, int n, bool paused)
{
    wf_buf b = WF_BUF_INIT;
    wf_buf_putc(&b, '[');
    for (int i = 0; i < n; i++)
        wf_buf_printf(&b, "%s{\"id\":\"d%d\",\"name\":\"dep%d\",\"flow_id\":\"f1\",\"paused\":%s}",
                      i ? "," : "", first + i, first + i, paused ? "true" : "false");
    wf_buf_putc(&b, ']');
    return wf_buf_detach(&b);
}

static void test_deployments_paged_to_the_end(void **state)
{
    (void)state;
    fx f;
    fx_setup(&f, "prefect", BASE, NULL, NULL);
    start(&f, wf_job_new_workflows(&f.call));
    reply_json(&f, 200, "[{\"id\":\"f1\",\"name\":\"etl\"}]");
    /* a server whose limit is lower than 200 says so: asked again with its limit */
    assert_int_equal(
        reply_json(&f, 422, "{\"detail\":\"Invalid limit: must be less than or equal to 2.\"}"),
        WF_STEP_SEND);
    assert_string_equal(body(&f), "{\"limit\":2,\"offset\":0,\"sort\":\"CREATED_DESC\"}");
    char *p1 = deployments_page(0, 2, false), *p2 = deployments_page(1, 2, true);
    assert_int_equal(reply_json(&f, 200, p1), WF_STEP_SEND);
    assert_string_equal(body(&f), "{\"limit\":2,\"offset\":2,\"sort\":\"CREATED_DESC\"}");
    assert_int_equal(reply_json(&f, 200, p2), WF_STEP_SEND); /* d1 again: listed once */
    assert_int_equal(reply_json(&f, 200, "[{\"id\":\"d9\",\"flow_id\":\"gone\"}]"), WF_STEP_DONE);
    free(p1);
    free(p2);
    size_t n;
    const wf_workflow *w = wf_job_workflows(f.j, &n);
    assert_int_equal(n, 4);
    assert_string_equal(w[0].name, "etl/dep0");
    assert_true(w[1].is_active);
    assert_false(w[2].is_active);         /* paused */
    assert_string_equal(w[3].name, "d9"); /* no name, unknown flow */
    fx_teardown(&f);

    fx_setup(&f, "prefect", BASE, NULL, NULL);
    start(&f, wf_job_new_workflows(&f.call));
    reply_json(&f, 200, "{\"detail\":[]}");
    assert_status(&f, WF_CALL_ERROR);
    assert_detail_has(&f, "not a list");
    fx_teardown(&f);
}

static void check_state(const char *type, const char *name, wf_run_status want, const char *detail)
{
    fx f;
    char answer[512];
    fx_setup(&f, "prefect", BASE, NULL, NULL);
    assert_int_equal(start(&f, wf_job_new_run_status(&f.call, "r-1")), WF_STEP_SEND);
    assert_string_equal(url(&f), BASE "/flow_runs/r-1");
    snprintf(answer, sizeof answer,
             "{\"id\":\"r-1\",\"deployment_id\":\"d-1\",\"state\":{\"type\":\"%s\",\"name\":\"%s\","
             "\"message\":null},\"start_time\":\"2025-01-01T00:00:00+00:00\",\"end_time\":null}",
             type, name);
    reply_json(&f, 200, answer);
    assert_status(&f, WF_CALL_UP);
    const wf_run *r = wf_job_run(f.j);
    assert_int_equal(r->status, want);
    assert_string_equal(r->workflow_id, "d-1");
    assert_string_equal(r->started_at, "2025-01-01T00:00:00Z");
    if (detail)
        assert_non_null(r->detail && strstr(r->detail, detail) ? r->detail : NULL);
    else
        assert_null(r->detail);
    fx_teardown(&f);
}

static void test_states(void **state)
{
    (void)state;
    check_state("SCHEDULED", "Scheduled", WF_RUN_QUEUED, NULL);
    check_state("SCHEDULED", "Late", WF_RUN_QUEUED, "Late");
    check_state("SCHEDULED", "AwaitingRetry", WF_RUN_QUEUED, "AwaitingRetry");
    check_state("PENDING", "Pending", WF_RUN_QUEUED, NULL);
    check_state("PAUSED", "Suspended", WF_RUN_QUEUED, "Suspended");
    check_state("RUNNING", "Retrying", WF_RUN_RUNNING, "Retrying");
    check_state("CANCELLING", "Cancelling", WF_RUN_RUNNING, NULL);
    check_state("COMPLETED", "Completed", WF_RUN_SUCCEEDED, NULL);
    check_state("FAILED", "Failed", WF_RUN_FAILED, NULL);
    check_state("CRASHED", "Crashed", WF_RUN_FAILED, NULL);
    check_state("CANCELLED", "Cancelled", WF_RUN_CANCELLED, NULL);
    check_state("WEIRD", "Weird", WF_RUN_UNKNOWN, "WEIRD");
}

static void test_recorded_runs(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        wf_run_status want;
    } cases[] = {
        {"prefect_flow_run_completed.json", WF_RUN_SUCCEEDED},
        {"prefect_flow_run_late.json", WF_RUN_QUEUED},
    };
    for (size_t i = 0; i < 2; i++) {
        fx f;
        fx_setup(&f, "prefect", BASE, NULL, NULL);
        start(&f, wf_job_new_run_status(&f.call, "x"));
        reply_file(&f, 200, cases[i].file);
        assert_status(&f, WF_CALL_UP);
        assert_int_equal(wf_job_run(f.j)->status, cases[i].want);
        fx_teardown(&f);
    }
    fx f;
    fx_setup(&f, "prefect", BASE, NULL, NULL);
    start(&f, wf_job_new_run_status(&f.call, "x"));
    reply_json(&f, 200, "{\"id\":\"x\"}");
    assert_status(&f, WF_CALL_UP);
    assert_int_equal(wf_job_run(f.j)->status, WF_RUN_UNKNOWN);
    assert_string_equal(wf_job_run(f.j)->detail, "Prefect gave no state type");
    fx_teardown(&f);
}

static void test_create_flow_run(void **state)
{
    (void)state;
    fx f;
    fx_setup(&f, "prefect", BASE, NULL, NULL);
    json_t *params = json_pack("{s:i}", "x", 1);
    assert_int_equal(start(&f, wf_job_new_start_run(&f.call, "2a9f056e-9d34-5bfa-b5c2-106aa48cbf37",
                                                    NULL, params)),
                     WF_STEP_SEND);
    json_decref(params);
    assert_string_equal(url(&f),
                        BASE "/deployments/2a9f056e-9d34-5bfa-b5c2-106aa48cbf37/create_flow_run");
    assert_string_equal(body(&f), "{\"parameters\":{\"x\":1}}");
    assert_int_equal(reply_file(&f, 201, "prefect_flow_run_scheduled.json"), WF_STEP_DONE);
    assert_status(&f, WF_CALL_UP);
    const wf_run *r = wf_job_run(f.j);
    assert_int_equal(r->status, WF_RUN_QUEUED);
    assert_string_equal(r->workflow_id, "2a9f056e-9d34-5bfa-b5c2-106aa48cbf37");
    fx_teardown(&f);

    fx_setup(&f, "prefect", BASE, NULL, NULL);
    start(&f, wf_job_new_start_run(&f.call, "nope", NULL, NULL));
    assert_string_equal(body(&f), "{\"parameters\":{}}");
    reply_json(&f, 404, "{\"detail\":\"Deployment not found\"}");
    assert_true(wf_job_is_not_found(f.j));
    assert_detail_has(&f, "Deployment not found");
    fx_teardown(&f);

    fx_setup(&f, "prefect", BASE, NULL, NULL);
    start(&f, wf_job_new_start_run(&f.call, "d", NULL, NULL));
    reply_json(&f, 409, "{\"detail\":\"Error creating flow run: missing x\"}");
    assert_status(&f, WF_CALL_ERROR);
    assert_detail_has(&f, "HTTP 409: Error creating flow run");
    assert_true(wf_job_is_conflict(f.j));
    fx_teardown(&f);

    fx_setup(&f, "prefect", BASE, NULL, NULL);
    assert_int_equal(start(&f, wf_job_new_start_run(&f.call, "a/../b", NULL, NULL)), WF_STEP_DONE);
    assert_string_equal(url(&f), "");
    fx_teardown(&f);
}

int main(void)
{
    wf_log_setup(WF_LOG_OFF, WF_LOG_TEXT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_headers),
        cmocka_unit_test(test_test_self_hosted),
        cmocka_unit_test(test_test_cloud_and_bad),
        cmocka_unit_test(test_deployments_joined),
        cmocka_unit_test(test_deployments_paged_to_the_end),
        cmocka_unit_test(test_states),
        cmocka_unit_test(test_recorded_runs),
        cmocka_unit_test(test_create_flow_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
