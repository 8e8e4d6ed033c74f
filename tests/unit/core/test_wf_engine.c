/*
 * test_wf_engine.c: the engine record's JSON: every field, and every engine, whatever
 * bytes a legacy row holds (jansson refuses strings that are not UTF-8).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/wf_engine.h"

#include <stdlib.h>
#include <string.h>

#include "../test_support.h"

static void test_to_json_fields(void **state)
{
    (void)state;
    wf_engine *e = stored_engine("one", "n8n", "http://h/", "{\"timeout_ms\":5,\"n\":7}");
    json_t *j = wf_engine_to_json(e);
    assert_non_null(j);
    const char *fields[] = {"id",     "name",       "engine_type", "api_url",
                            "active", "config",     "has_api_key", "key_status",
                            "source", "created_by", "created_at",  "updated_at"};
    assert_int_equal(json_object_size(j), sizeof fields / sizeof fields[0]);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        assert_non_null(json_object_get(j, fields[i]));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "config"), "n")), 7);
    assert_true(json_is_null(json_object_get(j, "updated_at")));
    assert_true(json_is_null(json_object_get(j, "created_by")));
    json_decref(j);
    wf_engine_free(e);
}

static void test_to_json_legacy_bytes(void **state)
{
    (void)state;
    /* Latin-1 bytes, as an older system may have stored them */
    wf_engine *e = stored_engine("caf\xe9", "n8n", "http://h/caf\xe9", "{\"ws\": \"\xe9\"}");
    json_t *j = wf_engine_to_json(e);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "name")), "caf\xef\xbf\xbd");
    assert_string_equal(json_string_value(json_object_get(j, "api_url")),
                        "http://h/caf\xef\xbf\xbd");
    /* the config text is not JSON jansson reads: served as a string, repaired too */
    assert_true(json_is_string(json_object_get(j, "config")));
    char *dump = json_dumps(j, JSON_COMPACT);
    assert_non_null(dump);
    free(dump);
    json_decref(j);
    wf_engine_free(e);

    /* a legacy config that is JSON but not an object is served as that JSON */
    e = stored_engine("seven", "n8n", "http://h/", "7");
    j = wf_engine_to_json(e);
    assert_int_equal(json_integer_value(json_object_get(j, "config")), 7);
    json_decref(j);
    wf_engine_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_to_json_fields),
        cmocka_unit_test(test_to_json_legacy_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
