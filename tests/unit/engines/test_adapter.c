/*
 * test_adapter.c: what every adapter shares: the table by engine type, the call built
 * from the engine's own record (timeout, TLS, key), the refusals that send nothing (an
 * unreadable key, an unknown type, a key that would break a header), the normalised
 * results as JSON, and the defensive readers.
 */
#include "engine_fixture.h"

#include "core/buf.h"

static void test_table(void **state)
{
    (void)state;
    assert_string_equal(wf_adapter_find("n8n")->engine_type, "n8n");
    assert_string_equal(wf_adapter_find("prefect")->engine_type, "prefect");
    assert_string_equal(wf_adapter_find("windmill")->engine_type, "windmill");
    assert_null(wf_adapter_find("airflow"));
    assert_null(wf_adapter_find(NULL));
    /* every type the core knows has an adapter */
    for (size_t i = 0; wf_engine_types[i]; i++)
        assert_non_null(wf_adapter_find(wf_engine_types[i]));
    assert_string_equal(wf_call_status_name(WF_CALL_UNAUTHORIZED), "unauthorized");
    assert_string_equal(wf_run_status_name(WF_RUN_CANCELLED), "cancelled");
    assert_true(wf_run_status_is_final(WF_RUN_FAILED));
    assert_false(wf_run_status_is_final(WF_RUN_RUNNING));
    assert_false(wf_run_status_is_final(WF_RUN_UNKNOWN));
}

static void test_call_from_record(void **state)
{
    (void)state;
    fx f;
    fx_setup(&f, "n8n", "http://a", "{\"timeout_ms\":1500,\"proxy\":\"http://proxy:3128\"}", NULL);
    assert_int_equal(f.call.timeout_ms, 1500);
    assert_true(f.call.verify_tls);
    assert_string_equal(f.call.proxy, "http://proxy:3128");
    start(&f, wf_job_new_test(&f.call));
    assert_int_equal(f.j->req.timeout_ms, 1500);
    assert_string_equal(f.j->req.proxy, "http://proxy:3128");
    fx_teardown(&f);

    fx_setup(&f, "n8n", "http://a", "{\"timeout_ms\":\"soon\"}", NULL);
    assert_int_equal(f.call.timeout_ms, WF_ADAPTER_DEFAULT_TIMEOUT_MS);
    assert_null(f.call.proxy);
    fx_teardown(&f);

    fx_setup(&f, "n8n", "http://a", "not json", NULL); /* a legacy row */
    assert_int_equal(f.call.timeout_ms, WF_ADAPTER_DEFAULT_TIMEOUT_MS);
    fx_teardown(&f);

    /* TLS off: a warning that names the engine */
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    wf_log_setup(WF_LOG_WARN, WF_LOG_TEXT);
    wf_log_set_stream(mem);
    fx_setup(&f, "n8n", "https://a", "{\"verify_tls\":false}", "secret-key-value");
    wf_log_set_stream(NULL);
    wf_log_setup(WF_LOG_OFF, WF_LOG_TEXT);
    fclose(mem);
    assert_false(f.call.verify_tls);
    assert_non_null(strstr(text, "engine 'eng'"));
    assert_non_null(strstr(text, "verify_tls"));
    assert_null(strstr(text, "secret-key-value"));
    free(text);
    fx_teardown(&f);
}

static void test_env_engine_key(void **state)
{
    (void)state;
    wf_engine *e = wf_engine_new();
    e->name = strdup("n8n-default");
    e->engine_type = strdup("n8n");
    e->api_url = strdup("http://a");
    e->source = WF_SOURCE_ENVIRONMENT;
    e->api_key_env = strdup("env-key-123");
    wf_adapter_call call;
    assert_int_equal(wf_adapter_call_init(&call, e), 0);
    assert_string_equal(wf_buf_cstr(&call.key), "env-key-123");
    assert_true(call.key.secret); /* wiped when cleared */
    wf_adapter_call_clear(&call);
    assert_null(call.key.ptr);
    wf_engine_free(e);
}

static void test_refusals_send_nothing(void **state)
{
    (void)state;
    fx f;
    fx_setup(&f, "n8n", "http://a", NULL, NULL);
    wf_adapter_call_set_key_unreadable(&f.call);
    f.j = wf_job_new_workflows(&f.call);
    assert_int_equal(wf_job_start(f.j, NULL, NULL, NULL), 0); /* no multi needed */
    assert_true(wf_job_is_done(f.j));
    assert_status(&f, WF_CALL_ERROR);
    assert_string_equal(wf_job_detail(f.j), WF_ADAPTER_KEY_UNREADABLE_MSG);
    assert_string_equal(url(&f), "");
    json_t *o = wf_job_error_to_json(f.j);
    assert_string_equal(json_string_value(json_object_get(o, "engine")), "eng");
    assert_string_equal(json_string_value(json_object_get(o, "status")), "error");
    json_decref(o);
    fx_teardown(&f);

    fx_setup(&f, "airflow", "http://a", NULL, NULL);
    f.j = wf_job_new_test(&f.call);
    wf_job_start(f.j, NULL, NULL, NULL);
    assert_detail_has(&f, "no adapter for engine type 'airflow'");
    fx_teardown(&f);

    /* a key that would end the header line and start another */
    fx_setup(&f, "n8n", "http://a", NULL, "abc\r\nX-Evil: 1");
    assert_int_equal(start(&f, wf_job_new_test(&f.call)), WF_STEP_DONE);
    assert_status(&f, WF_CALL_ERROR);
    assert_null(strstr(wf_job_detail(f.j), "abc"));
    fx_teardown(&f);
}

static void test_results_json(void **state)
{
    (void)state;
    wf_test_result t = {WF_CALL_DOWN, 12, NULL, "gone"};
    json_t *o = wf_test_result_to_json(&t);
    char *s = json_dumps(o, JSON_COMPACT);
    assert_string_equal(s, "{\"ok\":false,\"status\":\"down\",\"latency_ms\":12,\"version\":null,"
                           "\"detail\":\"gone\"}");
    free(s);
    json_decref(o);

    wf_run r = {"7", "w", WF_RUN_SUCCEEDED, "2025-01-01T00:00:00Z", NULL, NULL};
    o = wf_run_to_json(&r, "e");
    s = json_dumps(o, JSON_COMPACT);
    assert_string_equal(s, "{\"engine\":\"e\",\"run_id\":\"7\",\"workflow_id\":\"w\",\"status\":"
                           "\"succeeded\",\"started_at\":\"2025-01-01T00:00:00Z\",\"ended_at\":"
                           "null,\"detail\":null}");
    free(s);
    json_decref(o);

    /* bytes that are not UTF-8 (an engine may send anything) still make valid JSON */
    wf_workflow w = {"id\xff", "na\xc3me", true, "flow", NULL};
    o = wf_workflow_to_json(&w, "e");
    assert_non_null(o);
    assert_non_null(json_string_value(json_object_get(o, "id")));
    json_decref(o);
}

static void test_readers(void **state)
{
    (void)state;
    char *t = wf_time_normalize("2025-01-01T10:00:00.123456+02:00");
    assert_string_equal(t, "2025-01-01T08:00:00Z");
    free(t);
    t = wf_time_normalize("2025-01-01T00:00:00.000Z");
    assert_string_equal(t, "2025-01-01T00:00:00Z");
    free(t);
    assert_null(wf_time_normalize("yesterday"));
    assert_null(wf_time_normalize(NULL));

    json_t *v = json_integer(42);
    char *id = wf_json_id_dup(v);
    assert_string_equal(id, "42");
    free(id);
    json_decref(v);
    v = json_string("");
    assert_null(wf_json_id_dup(v));
    json_decref(v);
    assert_null(wf_json_id_dup(NULL));
    assert_null(wf_json_str(NULL, "x"));
    assert_true(wf_json_bool(NULL, "x", true));

    assert_true(wf_id_is_safe("abc-DEF_1.2", false));
    assert_false(wf_id_is_safe("a/b", false));
    assert_true(wf_id_is_safe("f/folder/name", true));
    assert_false(wf_id_is_safe("f/../x", true));
    assert_false(wf_id_is_safe("./x", true));
    assert_false(wf_id_is_safe("x/", true));
    assert_false(wf_id_is_safe("a\nb", false));
    assert_false(wf_id_is_safe("", false));
    assert_false(wf_id_is_safe(NULL, false));
}

int main(void)
{
    wf_log_setup(WF_LOG_OFF, WF_LOG_TEXT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),          cmocka_unit_test(test_call_from_record),
        cmocka_unit_test(test_env_engine_key), cmocka_unit_test(test_refusals_send_nothing),
        cmocka_unit_test(test_results_json),   cmocka_unit_test(test_readers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
