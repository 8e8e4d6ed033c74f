/*
 * adapter_driver.h: what fuzz_n8n.c, fuzz_prefect.c and fuzz_windmill.c share: an engine's
 * answers, from the fuzzer, through an adapter's parsers. Like the adapters' unit tests
 * (tests/unit/engines/engine_fixture.h), the target plays the engine: it runs a job's
 * steps and puts each answer where the HTTP client would have. Nothing is sent.
 *
 * Input: chunks separated by NUL bytes (a JSON or text body never holds one):
 *   chunk 0      the job: "test", "workflows", "start" or "status", then words that pick
 *                a variant: "nokey" (no API key), "cloud" and "none" (Prefect Cloud's URL,
 *                config.auth none), "flow" and "script" (Windmill's kind of run)
 *   chunk 1..n   one answer each, for the requests in order: a first line, then the body.
 *                The first line is an HTTP status and optionally a content type
 *                ("200 application/json"; default application/json), or how the request
 *                failed without an answer: "timeout", "connect", "reset", "tls", "large",
 *                "redirect". When the answers run out, the connection breaks ("reset").
 *
 * The seeds (corpus/fuzz_<type>/) are the recorded answers of tests/data/engines framed
 * so; make_seeds.py writes them. Each finished job's results are turned into the JSON the
 * API serves, and checked: the job's detail never holds the API key, every time in a
 * result is normalised ("YYYY-MM-DDTHH:MM:SSZ", or absent), every workflow has an id.
 */
#ifndef WF_TESTS_FUZZ_ADAPTER_DRIVER_H
#define WF_TESTS_FUZZ_ADAPTER_DRIVER_H

#include "core/log.h"
#include "engines/adapter_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_KEY "fuzz-api-key-0123456789"
#define FUZZ_MAX_STEPS 64 /* far beyond any job's requests when answers are few */

/* What one adapter's target fills in. */
typedef struct fuzz_engine {
    const char *type;
    const char *url;       /* api_url */
    const char *cloud_url; /* api_url for the "cloud" variant (NULL: url) */
    const char *config;
    const char *workflow_id; /* what "start" starts */
    const char *run_id;      /* what "status" asks for */
} fuzz_engine;

static void fuzz_must(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "adapter fuzz target: %s\n", what);
        abort();
    }
}

/* The input, read chunk by chunk. */
typedef struct fuzz_input {
    const char *p;
    size_t left;
    bool is_over; /* the last chunk has been read */
} fuzz_input;

/* The next NUL-separated chunk: its start and length; false when none is left. */
static bool fuzz_chunk(fuzz_input *in, const char **s, size_t *n)
{
    if (in->is_over)
        return false;
    const char *z = memchr(in->p, '\0', in->left);
    *s = in->p;
    *n = z ? (size_t)(z - in->p) : in->left;
    in->is_over = !z;
    in->p += z ? *n + 1 : *n;
    in->left -= z ? *n + 1 : *n;
    return true;
}

static bool fuzz_has_word(const char *s, size_t n, const char *w)
{
    size_t wl = strlen(w);
    for (size_t i = 0; i + wl <= n; i++) {
        if (!memcmp(s + i, w, wl) && (i == 0 || s[i - 1] == ' ') &&
            (i + wl == n || s[i + wl] == ' ' || s[i + wl] == '\n'))
            return true;
    }
    return false;
}

/* Puts one answer (chunk s, n) where the HTTP client would have. */
static void fuzz_answer(wf_http_request *r, const char *s, size_t n)
{
    static const struct {
        const char *word;
        wf_http_result res;
    } fails[] = {
        {"timeout", WF_HTTP_TIMEOUT}, {"connect", WF_HTTP_CONNECT}, {"reset", WF_HTTP_RESET},
        {"tls", WF_HTTP_TLS},         {"large", WF_HTTP_TOO_LARGE}, {"redirect", WF_HTTP_REDIRECT},
    };
    size_t line = 0;
    while (line < n && s[line] != '\n')
        line++;
    char head[160];
    snprintf(head, sizeof head, "%.*s", (int)(line < 150 ? line : 150), s);
    wf_buf_clear(&r->response);
    r->content_type[0] = '\0';
    r->status = 0;
    r->retry_after = 0;
    for (size_t i = 0; i < sizeof fails / sizeof fails[0]; i++) {
        if (!strcmp(head, fails[i].word)) {
            r->result = fails[i].res;
            snprintf(r->detail, sizeof r->detail, "%s (fuzz)", fails[i].word);
            return;
        }
    }
    char *after = NULL;
    long status = strtol(head, &after, 10);
    while (*after == ' ')
        after++;
    r->result = WF_HTTP_OK;
    r->status = status;
    r->retry_after = status == 429 ? 7 : 0;
    snprintf(r->content_type, sizeof r->content_type, "%s", *after ? after : "application/json");
    if (line < n)
        wf_buf_put(&r->response, s + line + 1, n - line - 1);
}

/* A normalised time, or none. */
static void fuzz_check_time(const char *t)
{
    if (!t)
        return;
    fuzz_must(strlen(t) == 20 && t[4] == '-' && t[10] == 'T' && t[19] == 'Z',
              "a time in a result is not YYYY-MM-DDTHH:MM:SSZ");
    char *again = wf_time_normalize(t);
    fuzz_must(again && !strcmp(again, t), "a normalised time does not normalise to itself");
    free(again);
}

static void fuzz_dump(json_t *o)
{
    fuzz_must(o != NULL, "a result has no JSON (out of memory?)");
    char *s = json_dumps(o, JSON_COMPACT);
    fuzz_must(s != NULL, "a result's JSON does not dump");
    free(s);
    json_decref(o);
}

/* The finished job's results, as the API serves them, and their checks. */
static void fuzz_results(const wf_job *j)
{
    const char *d = wf_job_detail(j);
    bool has_key = j->call->key.len > 0; /* "nokey": the text is no secret then */
    fuzz_must(!has_key || !d || !strstr(d, FUZZ_KEY), "the job's detail quotes the API key");
    fuzz_dump(wf_test_result_to_json(wf_job_test(j)));
    fuzz_dump(wf_job_error_to_json(j));
    size_t n = 0;
    const wf_workflow *w = wf_job_workflows(j, &n);
    for (size_t i = 0; i < n; i++) {
        fuzz_must(w[i].id && w[i].id[0] && w[i].name, "a workflow without an id or a name");
        fuzz_check_time(w[i].updated_at);
        fuzz_dump(wf_workflow_to_json(&w[i], "eng"));
    }
    const wf_run *r = wf_job_run(j);
    if (r) {
        fuzz_check_time(r->started_at);
        fuzz_check_time(r->ended_at);
        fuzz_dump(wf_run_to_json(r, "eng"));
    }
}

static wf_job *fuzz_new_job(const fuzz_engine *fe, wf_adapter_call *call, const char *spec,
                            size_t n)
{
    static const char *const kinds[] = {"test", "workflows", "start", "status"};
    size_t k = 0;
    while (k < 4 && !(n >= strlen(kinds[k]) && !memcmp(spec, kinds[k], strlen(kinds[k]))))
        k++;
    if (k == 0 || k == 4)
        return wf_job_new_test(call);
    if (k == 1)
        return wf_job_new_workflows(call);
    if (k == 3)
        return wf_job_new_run_status(call, fe->run_id);
    const char *hint = fuzz_has_word(spec, n, "flow")     ? "flow"
                       : fuzz_has_word(spec, n, "script") ? "script"
                                                          : NULL;
    json_t *params = json_pack("{s:s, s:i, s:b}", "name", "fuzz", "n", 1, "dry", 1);
    wf_job *j = wf_job_new_start_run(call, fe->workflow_id, hint, params);
    json_decref(params);
    return j;
}

static int fuzz_adapter(const fuzz_engine *fe, const uint8_t *data, size_t size)
{
    static bool quiet;
    if (!quiet) { /* the adapters' warnings (TLS off) are not findings */
        wf_log_setup(WF_LOG_ERROR, WF_LOG_TEXT);
        quiet = true;
    }
    fuzz_input in = {(const char *)data, size, false};
    const char *spec, *s;
    size_t nspec, n;
    if (!fuzz_chunk(&in, &spec, &nspec))
        return 0;
    bool cloud = fuzz_has_word(spec, nspec, "cloud");
    wf_engine *e = wf_engine_new();
    fuzz_must(e != NULL, "out of memory");
    e->name = strdup("eng");
    e->engine_type = strdup(fe->type);
    e->api_url = strdup(cloud && fe->cloud_url ? fe->cloud_url : fe->url);
    free(e->config);
    e->config = strdup(fuzz_has_word(spec, nspec, "none") ? "{\"auth\":\"none\"}" : fe->config);
    fuzz_must(e->name && e->engine_type && e->api_url && e->config, "out of memory");

    wf_adapter_call call;
    fuzz_must(wf_adapter_call_init(&call, e) == 0, "call init");
    if (!fuzz_has_word(spec, nspec, "nokey"))
        wf_adapter_call_set_key(&call, FUZZ_KEY, strlen(FUZZ_KEY));
    wf_job *j = fuzz_new_job(fe, &call, spec, nspec);
    fuzz_must(j != NULL, "out of memory");

    int rc = j->step_fn(j);
    for (int i = 0; rc == WF_STEP_SEND && i < FUZZ_MAX_STEPS; i++) {
        if (fuzz_chunk(&in, &s, &n))
            fuzz_answer(&j->req, s, n);
        else
            fuzz_answer(&j->req, "reset", 5);
        rc = j->step_fn(j);
    }
    if (rc == WF_STEP_DONE) { /* else: more than FUZZ_MAX_STEPS requests; never finished */
        j->is_done = true;
        fuzz_results(j);
    }
    wf_job_free(j);
    wf_adapter_call_clear(&call);
    wf_engine_free(e);
    return 0;
}

#endif
