/*
 * fuzz_api_url.c: an engine's api_url through URL validation (wf_engine_check_url, our
 * own small parser in core/validate.c), and for a URL it accepts, through what the
 * adapters build from it (wf_job_begin and each adapter's first request).
 *
 * Input: the URL, up to its first NUL (it comes from a JSON string, which cannot hold
 * one, or from the command line).
 *
 * The checks are the ones that matter for the API key: a URL we accept must be one that
 * libcurl (which sends the requests) reads as http or https with a host, and every
 * request an adapter builds from it must go to that same scheme, host and port: no
 * api_url may send the key somewhere else (a '@', '\\', '#' or '?' read differently by
 * us and by curl). Nothing is sent: the target only prepares the requests.
 */
#include "core/log.h"
#include "engines/adapter_util.h"
#include "engines/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void must(bool ok, const char *what, const char *url)
{
    if (!ok) {
        fprintf(stderr, "fuzz_api_url: %s: %s\n", what, url);
        abort();
    }
}

/* The first request of a test job of engine type `type` on url: same origin as url. */
static void check_requests(const char *type, const char *url, const char *origin)
{
    wf_engine *e = wf_engine_new();
    must(e != NULL, "out of memory", url);
    e->name = strdup("e");
    e->engine_type = strdup(type);
    e->api_url = strdup(url);
    free(e->config);
    e->config = strdup("{\"workspace\":\"ws\"}");
    must(e->name && e->engine_type && e->api_url && e->config, "out of memory", url);
    wf_adapter_call call;
    must(wf_adapter_call_init(&call, e) == 0, "call init", url);
    wf_adapter_call_set_key(&call, "fuzz-key", 8);
    wf_job *j = wf_job_new_test(&call);
    must(j != NULL, "out of memory", url);
    if (j->step_fn(j) == WF_STEP_SEND) {
        char got[600];
        const char *req = wf_buf_cstr(&j->req.url);
        must(wf_http_origin_of(req, got, sizeof got), "curl cannot read a request's URL", req);
        if (strcmp(got, origin)) {
            fprintf(stderr, "fuzz_api_url: %s request goes to %s, api_url is %s\n", type, got,
                    origin);
            must(false, "a request leaves the engine's origin", url);
        }
    }
    wf_job_free(j);
    wf_adapter_call_clear(&call);
    wf_engine_free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        wf_log_setup(WF_LOG_ERROR, WF_LOG_TEXT); /* quiet: only the findings on stderr */
        ready = true;
    }
    char *url = strndup((const char *)data, size);
    if (!url)
        return 0;
    wf_err err;
    wf_err_init(&err);
    int rc = wf_engine_check_url(url, &err);
    must(rc == 0 || err.nfields == 1, "a rejected URL has not exactly one field error", url);
    if (rc == 0) {
        char origin[600];
        must(wf_http_origin_of(url, origin, sizeof origin), "curl cannot read an accepted URL",
             url);
        must(!strncmp(origin, "http://", 7) || !strncmp(origin, "https://", 8),
             "curl reads an accepted URL as neither http nor https", url);
        check_requests("n8n", url, origin);
        check_requests("prefect", url, origin);
        check_requests("windmill", url, origin);
    }
    free(url);
    return 0;
}
