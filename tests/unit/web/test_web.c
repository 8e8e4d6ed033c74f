/*
 * test_web.c: the admin page's file table: lookup by plain name only, content types by
 * extension, one ETag per content (from the embedded SHA-256), If-None-Match matching,
 * and the security headers every page answer carries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/embed.h"
#include "web/web.h"

#include <stdio.h>
#include <string.h>

static void test_finds_the_page_files(void **state)
{
    (void)state;
    const wf_web_file *index = wf_web_find("index.html");
    assert_non_null(index);
    assert_string_equal(index->content_type, "text/html; charset=utf-8");
    assert_true(index->len > 100);
    assert_int_equal(index->data[index->len], 0); /* the embedding's NUL */
    const wf_web_file *js = wf_web_find("app.js");
    assert_non_null(js);
    assert_string_equal(js->content_type, "text/javascript; charset=utf-8");
    assert_string_equal(wf_web_find("app.css")->content_type, "text/css; charset=utf-8");
    assert_string_equal(wf_web_find("icon.svg")->content_type, "image/svg+xml");
    /* every embedded file can be found, each with its own ETag */
    for (size_t i = 0; i < wf_embed_web_count; i++) {
        const wf_web_file *f = wf_web_find(wf_embed_web[i].name);
        assert_non_null(f);
        assert_int_equal(strlen(f->etag), 18);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(f->etag, wf_web_find(wf_embed_web[j].name)->etag);
    }
}

static void test_only_plain_names(void **state)
{
    (void)state;
    const char *bad[] = {
        "",          ".",      "..",     "../index.html", "/index.html", "a/app.js", ".gitignore",
        "app.js\\x", "app js", "%2e%2e", "index.html\n",  "APP.JS",      "nope.js"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_null(wf_web_find(bad[i]));
    assert_null(wf_web_find(NULL));
}

static void test_etag_matching(void **state)
{
    (void)state;
    const wf_web_file *f = wf_web_find("app.js");
    char list[64];
    assert_true(wf_web_etag_matches(f, f->etag));
    snprintf(list, sizeof list, "\"x\", W/%s", f->etag);
    assert_true(wf_web_etag_matches(f, list));
    assert_true(wf_web_etag_matches(f, "*"));
    assert_false(wf_web_etag_matches(f, "\"0000000000000000\""));
    assert_false(wf_web_etag_matches(f, NULL));
    assert_false(wf_web_etag_matches(f, ""));
}

static void test_security_headers(void **state)
{
    (void)state;
    const char *csp = NULL, *nosniff = NULL;
    for (size_t i = 0; wf_web_headers[i][0]; i++) {
        if (!strcmp(wf_web_headers[i][0], "Content-Security-Policy"))
            csp = wf_web_headers[i][1];
        if (!strcmp(wf_web_headers[i][0], "X-Content-Type-Options"))
            nosniff = wf_web_headers[i][1];
    }
    assert_non_null(csp);
    assert_non_null(strstr(csp, "script-src 'self'"));
    assert_non_null(strstr(csp, "frame-ancestors 'none'"));
    assert_null(strstr(csp, "unsafe"));
    assert_string_equal(nosniff, "nosniff");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finds_the_page_files),
        cmocka_unit_test(test_only_plain_names),
        cmocka_unit_test(test_etag_matching),
        cmocka_unit_test(test_security_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
