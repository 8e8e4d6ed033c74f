/*
 * test_support.h: what the unit tests of core and crypto share: capturing the log in
 * memory to look for (or count) the lines a call writes, and an engine built as the
 * database would hand it back.
 *
 * Everything here is static: each test program is one translation unit and gets its own
 * capture. Include it after the test's own includes.
 */
#ifndef WF_TESTS_UNIT_TEST_SUPPORT_H
#define WF_TESTS_UNIT_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/log.h"
#include "core/wf_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- log capture ------------------------------------------------------------------- */

/* What the log wrote between capture_start and capture_stop; kept until the next
 * capture_start or capture_reset. */
static char *log_text;
static size_t log_len;
static FILE *log_file;

/* Sends the log to memory (the previous capture's text is freed). */
static inline void capture_start(void)
{
    free(log_text);
    log_text = NULL;
    log_file = open_memstream(&log_text, &log_len);
    assert_non_null(log_file);
    wf_log_set_stream(log_file);
}

/* Stops capturing; returns the text, which stays in log_text. */
static inline const char *capture_stop(void)
{
    wf_log_set_stream(NULL);
    fclose(log_file);
    log_file = NULL;
    return log_text;
}

/* For a teardown: stops a capture a failed test left running and frees the text. */
static inline void capture_reset(void)
{
    if (log_file)
        capture_stop();
    free(log_text);
    log_text = NULL;
}

/* How many times needle occurs in text (not overlapping). */
static inline size_t count_of(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* ---- engines ----------------------------------------------------------------------- */

/* A database engine with id 7 and a created_at, as a store would return it (no key);
 * freed with wf_engine_free. */
static inline wf_engine *stored_engine(const char *name, const char *type, const char *url,
                                       const char *config)
{
    wf_engine *e = wf_engine_new();
    assert_non_null(e);
    e->id = 7;
    e->name = strdup(name);
    e->engine_type = strdup(type);
    e->api_url = strdup(url);
    free(e->config);
    e->config = strdup(config);
    e->created_at = strdup("2026-01-01T00:00:00Z");
    return e;
}

#endif
