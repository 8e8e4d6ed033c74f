/*
 * test_text.c: escaping for terminals and text logs, UTF-8 repair for JSON (every byte
 * sequence jansson refuses), trimming and ISO 8601 times at the edges of their range.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/text.h"

#include <stdlib.h>
#include <string.h>

static void escapes_to(const char *s, size_t max, const char *want)
{
    char *got = wf_text_escape_dup(s, max);
    assert_non_null(got);
    if (strcmp(got, want))
        fail_msg("escape(%s) = %s, want %s", s ? s : "(null)", got, want);
    free(got);
}

static void test_escape(void **state)
{
    (void)state;
    escapes_to("plain-name_1.x", 0, "plain-name_1.x");
    escapes_to("My Engine", 0, "My Engine");
    escapes_to("", 0, "");
    escapes_to(NULL, 0, "");
    escapes_to("a\nb", 0, "a\\x0ab");
    escapes_to("a\r\tb", 0, "a\\x0d\\x09b");
    escapes_to("\x1b[31mred", 0, "\\x1b[31mred");
    escapes_to("del\x7f", 0, "del\\x7f");
    escapes_to("back\\slash", 0, "back\\x5cslash"); /* unambiguous */
    /* valid UTF-8 stays readable; C1 controls and bad bytes do not pass */
    escapes_to("caf\xc3\xa9", 0, "caf\xc3\xa9");
    escapes_to("\xe2\x82\xac 5", 0, "\xe2\x82\xac 5");
    escapes_to("csi\xc2\x9b", 0, "csi\\xc2\\x9b");
    escapes_to("bad\xff", 0, "bad\\xff");
    escapes_to("cut\xc3", 0, "cut\\xc3");
    escapes_to("over\xc0\xaf", 0, "over\\xc0\\xaf");        /* overlong '/' */
    escapes_to("sur\xed\xa0\x80", 0, "sur\\xed\\xa0\\x80"); /* a surrogate */
    /* max counts characters */
    escapes_to("abcdef", 3, "abc...");
    escapes_to("abc", 3, "abc");
    escapes_to("\n\n\n\n", 2, "\\x0a\\x0a...");
    assert_false(wf_text_needs_escape("caf\xc3\xa9 ok"));
    assert_true(wf_text_needs_escape("a\nb"));
    assert_true(wf_text_needs_escape("a\xff"));
    assert_false(wf_text_needs_escape(NULL));
}

static void lossy_to(const char *s, const char *want)
{
    wf_buf b = WF_BUF_INIT;
    assert_int_equal(wf_text_utf8_lossy(&b, s), 0);
    assert_string_equal(wf_buf_cstr(&b), want);
    wf_buf_free(&b);
}

static void test_utf8_lossy(void **state)
{
    (void)state;
    lossy_to("ascii", "ascii");
    lossy_to("caf\xc3\xa9", "caf\xc3\xa9");
    lossy_to("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80");
    lossy_to("a\xffz", "a\xef\xbf\xbdz");
    lossy_to("\xc3", "\xef\xbf\xbd");
    lossy_to("\xe2\x82", "\xef\xbf\xbd\xef\xbf\xbd");
    lossy_to("\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    lossy_to("", "");
}

static void test_is_utf8(void **state)
{
    (void)state;
    assert_true(wf_text_is_utf8("ascii"));
    assert_true(wf_text_is_utf8("caf\xc3\xa9"));
    assert_true(wf_text_is_utf8(""));
    assert_true(wf_text_is_utf8(NULL));
    assert_false(wf_text_is_utf8("caf\xe9"));
    assert_false(wf_text_is_utf8("\xc0\x80"));
    assert_false(wf_text_is_utf8("\xed\xa0\x80"));
}

static void test_json(void **state)
{
    (void)state;
    /* jansson itself refuses these bytes: the helper must not */
    const char *bad[] = {"http://h\xff/", "\xc0\x80", "x\xed\xa0\x80", "\x80", "\xf5\x80\x80\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_null(json_string(bad[i]));
        json_t *j = wf_text_json(bad[i]);
        assert_non_null(j);
        assert_true(json_is_string(j));
        char *dump = json_dumps(j, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
        assert_non_null(dump);
        assert_non_null(strstr(dump, "\\uFFFD"));
        free(dump);
        json_decref(j);
    }
    json_t *j = wf_text_json("caf\xc3\xa9");
    assert_string_equal(json_string_value(j), "caf\xc3\xa9");
    json_decref(j);
    j = wf_text_json(NULL);
    assert_true(json_is_null(j));
    json_decref(j);
}

static void test_trim(void **state)
{
    (void)state;
    const char *s = " \t key \r\n";
    size_t n = strlen(s);
    wf_text_trim(&s, &n);
    assert_int_equal(n, 3);
    assert_memory_equal(s, "key", 3);
    s = " \n ";
    n = strlen(s);
    wf_text_trim(&s, &n);
    assert_int_equal(n, 0);
    s = "x";
    n = 1;
    wf_text_trim(&s, &n);
    assert_int_equal(n, 1);
}

static void test_iso_time(void **state)
{
    (void)state;
    char out[WF_TEXT_ISO_MAX];
    assert_true(wf_text_iso_time(0, -1, out));
    assert_string_equal(out, "1970-01-01T00:00:00Z");
    assert_true(wf_text_iso_time(1795624199, -1, out));
    assert_string_equal(out, "2026-11-25T16:29:59Z");
    assert_true(wf_text_iso_time(1795624199, 7, out));
    assert_string_equal(out, "2026-11-25T16:29:59.007Z");
    assert_true(wf_text_iso_time((time_t)WF_TEXT_TIME_MIN, -1, out));
    assert_string_equal(out, "0001-01-01T00:00:00Z");
    assert_true(wf_text_iso_time((time_t)WF_TEXT_TIME_MAX, -1, out));
    assert_string_equal(out, "9999-12-31T23:59:59Z");
    assert_false(wf_text_iso_time((time_t)WF_TEXT_TIME_MAX + 1, -1, out));
    assert_string_equal(out, "");
    assert_false(wf_text_iso_time((time_t)WF_TEXT_TIME_MIN - 1, -1, out));
    assert_false(wf_text_iso_time((time_t)10000000000000000LL, -1, out));
}

/* Times as SQLite, PostgreSQL (DateStyle ISO, a UTC session) and Python wrote them. */
static void test_parse_time(void **state)
{
    (void)state;
    time_t t = 0;
    assert_true(wf_text_parse_time("2025-01-02 03:04:05", &t));
    assert_int_equal(t, 1735787045);
    assert_true(wf_text_parse_time("2025-01-02T03:04:05.123456Z", &t));
    assert_int_equal(t, 1735787045);
    assert_true(wf_text_parse_time("2025-01-02 03:04:05.5+00", &t)); /* timestamptz */
    assert_int_equal(t, 1735787045);
    assert_true(wf_text_parse_time("2025-01-02T05:04:05+02:00", &t));
    assert_int_equal(t, 1735787045);
    assert_true(wf_text_parse_time("2025-01-02", &t));
    assert_int_equal(t, 1735776000);
    const char *bad[] = {
        "infinity", "0044-03-15 00:00:00 BC", "10000-01-01 00:00:00", "2025-13-01", "yesterday",
        ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(wf_text_parse_time(bad[i], &t));
    assert_false(wf_text_parse_time(NULL, &t));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),     cmocka_unit_test(test_utf8_lossy),
        cmocka_unit_test(test_is_utf8),    cmocka_unit_test(test_json),
        cmocka_unit_test(test_trim),       cmocka_unit_test(test_iso_time),
        cmocka_unit_test(test_parse_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
