/*
 * engine_fixture.h: what the adapters' unit tests share. A test builds an engine record
 * and a call, makes a job, and plays the engine itself: step() runs the job's next step,
 * which prepares a request (checked with url(), header(), body()); reply() and
 * reply_file() put an answer where the HTTP client would have, and run the next step.
 * No network: the parsers and the requests they build are tested on recorded answers
 * (tests/data/engines/, recorded from the fakes of tests/fakes, which follow the
 * engines' real APIs) and on hand-made bad ones.
 *
 * Everything here is static: each test program is one translation unit.
 */
#ifndef WF_TESTS_UNIT_ENGINES_FIXTURE_H
#define WF_TESTS_UNIT_ENGINES_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/log.h"
#include "engines/adapter_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct fx {
    wf_engine *e;
    wf_adapter_call call;
    wf_job *j;
} fx;

/* An engine of that type, URL and config, with key (NULL: none). */
static inline void fx_setup(fx *f, const char *type, const char *url, const char *config,
                            const char *key)
{
    memset(f, 0, sizeof *f);
    f->e = wf_engine_new();
    assert_non_null(f->e);
    f->e->name = strdup("eng");
    f->e->engine_type = strdup(type);
    f->e->api_url = strdup(url);
    free(f->e->config);
    f->e->config = strdup(config ? config : "{}");
    assert_int_equal(wf_adapter_call_init(&f->call, f->e), 0);
    if (key)
        assert_int_equal(wf_adapter_call_set_key(&f->call, key, strlen(key)), 0);
}

static inline void fx_teardown(fx *f)
{
    wf_job_free(f->j);
    wf_adapter_call_clear(&f->call);
    wf_engine_free(f->e);
}

/* Runs the job's next step; returns WF_STEP_SEND or WF_STEP_DONE (then the job is done). */
static inline int step(fx *f)
{
    int rc = f->j->step_fn(f->j);
    if (rc == WF_STEP_DONE)
        f->j->is_done = true;
    return rc;
}

/* The first step of a new job. */
static inline int start(fx *f, wf_job *j)
{
    assert_non_null(j);
    f->j = j;
    return step(f);
}

static inline int reply(fx *f, long status, const char *ctype, const char *body)
{
    wf_http_request *r = &f->j->req;
    r->result = WF_HTTP_OK;
    r->status = status;
    snprintf(r->content_type, sizeof r->content_type, "%s", ctype);
    wf_buf_clear(&r->response);
    wf_buf_puts(&r->response, body);
    return step(f);
}

static inline int reply_json(fx *f, long status, const char *body)
{
    return reply(f, status, "application/json", body);
}

/* An answer that never came: the transport's result and detail. */
static inline int reply_none(fx *f, wf_http_result res, const char *detail)
{
    wf_http_request *r = &f->j->req;
    r->result = res;
    r->status = 0;
    snprintf(r->detail, sizeof r->detail, "%s", detail);
    return step(f);
}

static inline char *read_data(const char *name)
{
    const char *dir = getenv("WF_TEST_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/engines/%s", dir ? dir : "tests/data", name);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        fail_msg("cannot read %s", path);
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        fwrite(chunk, 1, n, mem);
    fclose(fp);
    fclose(mem);
    return buf;
}

static inline int reply_file(fx *f, long status, const char *name)
{
    char *body = read_data(name);
    int rc = reply_json(f, status, body);
    free(body);
    return rc;
}

static inline const char *url(const fx *f)
{
    return wf_buf_cstr(&f->j->req.url);
}

static inline const char *body(const fx *f)
{
    return wf_buf_cstr(&f->j->req.body);
}

/* The value of a header the prepared request carries, or NULL (into a static buffer). */
static inline const char *header(const fx *f, const char *name)
{
    static char value[1024];
    const char *p = wf_buf_cstr(&f->j->req.headers);
    size_t nlen = strlen(name);
    while (*p) {
        size_t n = strcspn(p, "\n");
        if (n > nlen + 1 && !strncasecmp(p, name, nlen) && p[nlen] == ':') {
            snprintf(value, sizeof value, "%.*s", (int)(n - nlen - 2), p + nlen + 2);
            return value;
        }
        p += n + (p[n] == '\n');
    }
    return NULL;
}

static inline void assert_status(const fx *f, wf_call_status st)
{
    if (wf_job_status(f->j) != st)
        fail_msg("status %s, wanted %s (detail: %s)", wf_call_status_name(wf_job_status(f->j)),
                 wf_call_status_name(st), wf_job_detail(f->j) ? wf_job_detail(f->j) : "-");
}

static inline void assert_detail_has(const fx *f, const char *part)
{
    const char *d = wf_job_detail(f->j);
    if (!d || !strstr(d, part))
        fail_msg("detail '%s' lacks '%s'", d ? d : "(null)", part);
}

#endif
