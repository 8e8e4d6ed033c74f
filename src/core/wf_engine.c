/*
 * wf_engine.c: the engine record's life cycle and its small helpers. The rules for
 * what may be written into a record are in validate.c.
 */
#include "wf_engine.h"
#include "buf.h"
#include "text.h"

#include <stdlib.h>
#include <string.h>

/* One row per engine type with an adapter. Adding a type: a row here, an adapter file
 * in engines/ and its row in the adapter table. */
const char *const wf_engine_types[] = {"n8n", "prefect", "windmill", NULL};

bool wf_engine_type_known(const char *type)
{
    if (!type)
        return false;
    for (size_t i = 0; wf_engine_types[i]; i++) {
        if (!strcmp(wf_engine_types[i], type))
            return true;
    }
    return false;
}

wf_engine *wf_engine_new(void)
{
    wf_engine *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->config = strdup("{}");
    if (!e->config) {
        free(e);
        return NULL;
    }
    e->is_active = true;
    return e;
}

void wf_engine_free(wf_engine *e)
{
    if (!e)
        return;
    free(e->name);
    free(e->engine_type);
    free(e->api_url);
    free(e->api_key_encrypted);
    wf_free_secret(e->api_key_env);
    free(e->config);
    free(e->created_at);
    free(e->updated_at);
    free(e);
}

void wf_engines_free(wf_engine **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        wf_engine_free(v[i]);
    free(v);
}

/* Copies one optional string field; false when the copy failed. */
static bool dup_field(char **dst, const char *src)
{
    *dst = NULL;
    if (!src)
        return true;
    *dst = strdup(src);
    return *dst != NULL;
}

wf_engine *wf_engine_dup(const wf_engine *e)
{
    wf_engine *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    *c = *e;
    c->name = c->engine_type = c->api_url = NULL;
    c->api_key_encrypted = c->api_key_env = c->config = NULL;
    c->created_at = c->updated_at = NULL;
    bool ok = dup_field(&c->name, e->name) && dup_field(&c->engine_type, e->engine_type) &&
              dup_field(&c->api_url, e->api_url) &&
              dup_field(&c->api_key_encrypted, e->api_key_encrypted) &&
              dup_field(&c->api_key_env, e->api_key_env) &&
              dup_field(&c->config, e->config ? e->config : "{}") &&
              dup_field(&c->created_at, e->created_at) && dup_field(&c->updated_at, e->updated_at);
    if (!ok) {
        wf_engine_free(c);
        return NULL;
    }
    return c;
}

bool wf_engine_has_api_key(const wf_engine *e)
{
    return (e->api_key_encrypted && e->api_key_encrypted[0]) ||
           (e->api_key_env && e->api_key_env[0]);
}

const char *wf_engine_source_name(wf_engine_source s)
{
    return s == WF_SOURCE_ENVIRONMENT ? "environment" : "database";
}

const char *wf_key_status_name(wf_key_status s)
{
    switch (s) {
    case WF_KEY_OK: return "ok";
    case WF_KEY_UNREADABLE: return "unreadable";
    case WF_KEY_UNCHECKED: return "unchecked";
    default: return "none";
    }
}

json_t *wf_engine_to_json(const wf_engine *e)
{
    /* Every text goes through wf_text_json: a legacy row may hold bytes that are not
     * UTF-8, which jansson refuses, and the field (or the whole engine) would vanish. */
    json_t *config = json_loads(e->config ? e->config : "{}", JSON_DECODE_ANY, NULL);
    if (!config)
        config = wf_text_json(e->config); /* a legacy row's text, served as it is */
    json_t *o = json_object();
    if (!o || !config)
        goto fail;
    int bad = 0;
    bad |= json_object_set_new(o, "id", e->id ? json_integer(e->id) : json_null());
    bad |= json_object_set_new(o, "name", wf_text_json(e->name));
    bad |= json_object_set_new(o, "engine_type", wf_text_json(e->engine_type));
    bad |= json_object_set_new(o, "api_url", wf_text_json(e->api_url));
    bad |= json_object_set_new(o, "active", json_boolean(e->is_active));
    bad |= json_object_set_new(o, "config", config);
    config = NULL;
    bad |= json_object_set_new(o, "has_api_key", json_boolean(wf_engine_has_api_key(e)));
    bad |= json_object_set_new(o, "key_status", json_string(wf_key_status_name(e->key_status)));
    bad |= json_object_set_new(o, "source", json_string(wf_engine_source_name(e->source)));
    bad |= json_object_set_new(o, "created_by",
                               e->created_by ? json_integer(e->created_by) : json_null());
    bad |= json_object_set_new(o, "created_at", wf_text_json(e->created_at));
    bad |= json_object_set_new(o, "updated_at", wf_text_json(e->updated_at));
    if (bad)
        goto fail;
    return o;
fail:
    json_decref(config);
    json_decref(o);
    return NULL;
}
