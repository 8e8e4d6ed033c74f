/*
 * fuzz_engine_body.c: a request body of POST /api/v1/engines and PATCH
 * /api/v1/engines/{name}, through what the server does with it before the database:
 * JSON parsing as wf_read_json_object does it, the body as a patch
 * (wf_api_engine_patch_from_body: member types, unknown members), the rules
 * (wf_engine_validate_patch: name, type, api_url, api_key, config), and for a valid patch
 * the record it would write (wf_engine_apply_patch) and its JSON (wf_engine_to_json).
 *
 * Input: the body's bytes. Each body is tried as a create and as an update of a stored
 * windmill engine (the cross-field rule: windmill needs config.workspace).
 *
 * Beyond "no crash, no leak, no UB", it checks that a patch found valid gives a record
 * whose fields pass the same rules again (the stored config is rewritten compact: it must
 * stay a valid config), and that a rejected patch always says why.
 */
#include "api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The stored engine an update patches. */
static wf_engine *stored_engine(void)
{
    wf_engine *e = wf_engine_new();
    if (!e)
        abort();
    e->name = strdup("wm-prod");
    e->engine_type = strdup("windmill");
    e->api_url = strdup("https://windmill.example.com");
    free(e->config);
    e->config = strdup("{\"workspace\":\"ops\",\"timeout_ms\":5000}");
    if (!e->name || !e->engine_type || !e->api_url || !e->config)
        abort();
    return e;
}

static void must(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_engine_body: %s\n", what);
        abort();
    }
}

/* A valid patch applied: the record must pass the rules it was checked against. */
static void check_applied(const wf_engine_patch *p, const wf_engine *current)
{
    wf_engine *e = wf_engine_apply_patch(current, p);
    must(e != NULL, "apply_patch failed on a valid patch");
    wf_err err;
    wf_err_init(&err);
    must(wf_engine_check_name(e->name, &err) == 0, "applied name fails its rule");
    must(wf_engine_check_type(e->engine_type, &err) == 0, "applied type fails its rule");
    must(wf_engine_check_url(e->api_url, &err) == 0, "applied api_url fails its rule");
    if (p->config)
        must(wf_engine_check_config(e->config, e->engine_type, &err) == 0,
             "the config as stored (compact) fails the rule the given one passed");
    json_t *o = wf_engine_to_json(e);
    must(o != NULL, "to_json failed");
    char *text = json_dumps(o, JSON_COMPACT);
    must(text != NULL, "the engine's JSON does not dump");
    free(text);
    json_decref(o);
    wf_engine_free(e);
}

static void try_patch(json_t *body, bool is_create, const wf_engine *current)
{
    wf_engine_patch p = WF_ENGINE_PATCH_INIT;
    char *config = NULL;
    json_t *extra = NULL;
    wf_err err;
    wf_err_init(&err);
    int rc = wf_api_engine_patch_from_body(body, is_create, &p, &config, &extra, &err);
    /* the server then adds the rule errors of the fields that had the right type */
    int rules = wf_engine_validate_patch(&p, current, &err);
    if (rc < 0)
        must(err.code != 0 || extra != NULL, "a rejected body says nothing");
    if (rules < 0)
        must(err.nfields > 0, "a rule failed without a field error");
    if (rc == 0 && rules == 0)
        check_applied(&p, current);
    json_decref(extra);
    free(config);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static wf_engine *current;
    if (!current)
        current = stored_engine(); /* kept for the whole run */
    json_error_t jerr;
    json_t *body = json_loadb((const char *)data, size, WF_API_JSON_FLAGS, &jerr);
    if (!json_is_object(body)) { /* the server answers 400 or 422 before any of this */
        json_decref(body);
        return 0;
    }
    try_patch(body, true, NULL);
    try_patch(body, false, current);
    json_decref(body);
    return 0;
}
