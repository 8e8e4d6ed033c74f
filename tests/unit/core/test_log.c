/*
 * test_log.c: log lines as text and as JSON: redaction, levels, and lines that quote
 * bytes a terminal or a JSON parser would choke on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../test_support.h"

/* Logs one line in the given format and returns what was written. */
static const char *log_one(wf_log_format format, const char *name)
{
    wf_log_setup(WF_LOG_DEBUG, format);
    capture_start();
    wf_error("Engine '%s': API key unreadable with the configured keys", name);
    return capture_stop();
}

static void test_json_line(void **state)
{
    (void)state;
    const char *line = log_one(WF_LOG_JSON, "plain");
    json_t *j = json_loads(line, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "level")), "ERROR");
    assert_string_equal(json_string_value(json_object_get(j, "msg")),
                        "Engine 'plain': API key unreadable with the configured keys");
    json_decref(j);
}

static void test_json_line_not_utf8(void **state)
{
    (void)state;
    /* a legacy name in Latin-1: the line must still be written, as valid JSON */
    const char *line = log_one(WF_LOG_JSON, "caf\xe9");
    json_t *j = json_loads(line, 0, NULL);
    if (!j)
        fail_msg("not one JSON line: '%s'", line);
    assert_non_null(
        strstr(json_string_value(json_object_get(j, "msg")), "Engine 'caf\xef\xbf\xbd'"));
    json_decref(j);
}

static void test_text_line_cannot_be_forged(void **state)
{
    (void)state;
    /* a legacy name with a newline and an escape sequence: one line, nothing raw */
    const char *line =
        log_one(WF_LOG_TEXT, "evil\n2026-01-01T00:00:00.000Z INFO    all is well\x1b[2J");
    assert_non_null(line);
    assert_int_equal(strchr(line, '\n') - line, (long)strlen(line) - 1);
    assert_null(strchr(line, '\x1b'));
    assert_non_null(strstr(line, "Engine 'evil\\x0a2026-01-01T00:00:00.000Z INFO    all is "
                                 "well\\x1b[2J'"));
}

static void test_secret_redacted(void **state)
{
    (void)state;
    wf_log_add_secret("hunter2-secret");
    const char *line = log_one(WF_LOG_TEXT, "x hunter2-secret y");
    assert_null(strstr(line, "hunter2"));
    assert_non_null(strstr(line, "x *** y"));
    line = log_one(WF_LOG_JSON, "x hunter2-secret y");
    assert_null(strstr(line, "hunter2"));
    wf_log_clear_secrets();
}

static int teardown(void **state)
{
    (void)state;
    capture_reset();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_json_line, teardown),
        cmocka_unit_test_teardown(test_json_line_not_utf8, teardown),
        cmocka_unit_test_teardown(test_text_line_cannot_be_forged, teardown),
        cmocka_unit_test_teardown(test_secret_redacted, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
