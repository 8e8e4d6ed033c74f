/*
 * engines_api.c: /api/v1/engines. Reads are served from the registry snapshot, never
 * from the database; writes go through the one write path (store/writes.c), after
 * which this worker reloads the snapshot before it answers, so a client reads its own
 * writes. An engine's JSON never carries its key or its token; it carries the engine's
 * last health check ("health", engine_health.c), which is not part of the cached text.
 */
#include "internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LIST_LIMIT_DEFAULT 50
#define LIST_LIMIT_MAX 500

/* Parses a whole non-negative integer in [lo, hi]; false otherwise. */
static bool parse_int(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* "true"/"false" (and 1/0) as FastAPI accepts them for a boolean query parameter. */
static int parse_bool(const char *s)
{
    if (!strcmp(s, "true") || !strcmp(s, "1"))
        return 1;
    if (!strcmp(s, "false") || !strcmp(s, "0"))
        return 0;
    return -1;
}

typedef struct list_filter {
    const char *engine_type, *source;
    int active;
    long limit, offset;
} list_filter;

static bool read_filter(wf_req *r, list_filter *f)
{
    wf_err err;
    wf_err_init(&err);
    f->engine_type = wf_query(r, "engine_type");
    f->source = wf_query(r, "source");
    f->active = -1;
    f->limit = LIST_LIMIT_DEFAULT;
    f->offset = 0;
    const char *v;
    if ((v = wf_query(r, "active")) && (f->active = parse_bool(v)) < 0)
        wf_err_field(&err, "active", "bool_parsing", "must be true or false");
    if (f->source && strcmp(f->source, "database") && strcmp(f->source, "environment"))
        wf_err_field(&err, "source", "enum", "must be database or environment");
    if ((v = wf_query(r, "limit")) && !parse_int(v, 1, LIST_LIMIT_MAX, &f->limit))
        wf_err_field(&err, "limit", "range", "must be a whole number from 1 to %d", LIST_LIMIT_MAX);
    if ((v = wf_query(r, "offset")) && !parse_int(v, 0, 1L << 30, &f->offset))
        wf_err_field(&err, "offset", "range", "must be a whole number, 0 or more");
    if (err.code) {
        wf_reply_invalid(r, "query", &err);
        return false;
    }
    return true;
}

static bool keep(const wf_engine *e, const list_filter *f)
{
    return (!f->engine_type || !strcmp(f->engine_type, e->engine_type)) &&
           (f->active < 0 || e->is_active == (f->active == 1)) &&
           (!f->source || !strcmp(f->source, wf_engine_source_name(e->source)));
}

/* The snapshot index of the first engine named name, or SIZE_MAX (names are sorted). */
static size_t find_index(const wf_snapshot *snap, const char *name)
{
    size_t lo = 0, hi = wf_snapshot_count(snap);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(wf_snapshot_at(snap, mid)->name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < wf_snapshot_count(snap) && !strcmp(wf_snapshot_at(snap, lo)->name, name) ? lo
                                                                                         : SIZE_MAX;
}

/* Engine i of snap as JSON text, with its health, appended to out; scratch is the
 * caller's buffer for the health member (one for a whole list: no allocation each). */
static int append_engine(wf_api *api, wf_snapshot *snap, size_t i, wf_buf *scratch, wf_buf *out)
{
    wf_buf_clear(scratch);
    wf_buf_puts(scratch, "\"health\":");
    wf_health_append_json(api->health, wf_snapshot_at(snap, i)->name, scratch);
    return wf_buf_ok(scratch) ? wf_engine_cache_append(api->engine_json, snap, i, scratch->ptr, out)
                              : WF_ERR_NOMEM;
}

void wf_handle_engines_list(wf_req *r)
{
    list_filter f;
    if (!read_filter(r, &f))
        return;
    wf_api *api = r->w->api;
    wf_snapshot *snap = wf_registry_acquire(api->registry);
    wf_buf out = WF_BUF_INIT, scratch = WF_BUF_INIT;
    size_t total = 0, shown = 0;
    wf_buf_grow(&out, 400 * (size_t)f.limit); /* about an engine's text each */
    wf_buf_puts(&out, "{\"items\":[");
    for (size_t i = 0; i < wf_snapshot_count(snap); i++) {
        if (!keep(wf_snapshot_at(snap, i), &f))
            continue;
        if (total++ < (size_t)f.offset || shown >= (size_t)f.limit)
            continue;
        if (shown++)
            wf_buf_putc(&out, ',');
        append_engine(api, snap, i, &scratch, &out);
    }
    wf_snapshot_unref(snap);
    wf_buf_free(&scratch);
    wf_buf_printf(&out, "],\"total\":%zu,\"limit\":%ld,\"offset\":%ld}", total, f.limit, f.offset);
    if (wf_buf_ok(&out))
        wf_reply_json_text(r, 200, out.ptr, out.len);
    else
        wf_reply_detail(r, 500, "out of memory");
    wf_buf_free(&out);
}

void wf_handle_engine_get(wf_req *r)
{
    wf_api *api = r->w->api;
    wf_snapshot *snap = wf_registry_acquire(api->registry);
    size_t i = find_index(snap, r->params[0]);
    wf_buf out = WF_BUF_INIT, scratch = WF_BUF_INIT;
    if (i == SIZE_MAX)
        wf_reply_detail(r, 404, "no engine named '%s'", r->params[0]);
    else if (append_engine(api, snap, i, &scratch, &out) == 0)
        wf_reply_json_text(r, 200, out.ptr, out.len);
    else
        wf_reply_detail(r, 500, "out of memory");
    wf_buf_free(&scratch);
    wf_buf_free(&out);
    wf_snapshot_unref(snap);
}

int wf_api_engine_patch_from_body(json_t *body, bool is_create, wf_engine_patch *p,
                                  char **config_text, json_t **extra, wf_err *err)
{
    static const char *const known[] = {"name",    "engine_type", "api_url",
                                        "api_key", "active",      "config"};
    json_t *v;
    *extra = wf_unknown_members(body, known, sizeof known / sizeof known[0]);
    static const char *const strings[] = {"name", "engine_type", "api_url"};
    const char **dst[] = {&p->name, &p->engine_type, &p->api_url};
    for (size_t i = 0; i < 3; i++) {
        v = json_object_get(body, strings[i]);
        if (v && !json_is_string(v))
            wf_err_field(err, strings[i], "string_type", "must be a string");
        else if (v)
            *dst[i] = json_string_value(v);
        else if (is_create)
            wf_err_field(err, strings[i], "missing", "field required");
    }
    if ((v = json_object_get(body, "active"))) {
        if (json_is_boolean(v))
            p->active = json_is_true(v);
        else
            wf_err_field(err, "active", "bool_type", "must be true or false");
    }
    if ((v = json_object_get(body, "config"))) {
        if (json_is_object(v))
            p->config = *config_text = json_dumps(v, JSON_COMPACT);
        else
            wf_err_field(err, "config", "dict_type", "must be a JSON object");
    }
    if ((v = json_object_get(body, "api_key"))) {
        if (json_is_null(v) && !is_create) {
            p->key_op = WF_KEYOP_REMOVE;
        } else if (json_is_string(v)) {
            p->key_op = WF_KEYOP_SET;
            p->api_key = json_string_value(v);
            p->api_key_len = json_string_length(v);
        } else if (!json_is_null(v)) {
            wf_err_field(err, "api_key", "string_type", "must be a string%s",
                         is_create ? "" : " or null (to remove the key)");
        }
    }
    return err->code || *extra ? WF_ERR_INVALID : 0;
}

/* Replies with the engine as the new snapshot has it (with its key status). */
static void reply_engine(wf_req *r, int status, const char *name)
{
    wf_err err;
    wf_err_init(&err);
    if (wf_api_reload(r->w, false, &err) < 0) {
        wf_reply_error(r, err.code ? err.code : WF_ERR_DB, &err);
        return;
    }
    wf_snapshot *snap = wf_registry_acquire(r->w->api->registry);
    const wf_engine *e = wf_snapshot_find(snap, name);
    json_t *o = e ? wf_engine_to_json(e) : NULL;
    if (o && json_object_set_new(o, "health", wf_health_json(r->w->api->health, e->name)) < 0) {
        json_decref(o);
        o = NULL;
    }
    if (e)
        wf_reply_json(r, status, o);
    else
        wf_reply_detail(r, 500, "the engine was written but is not in the registry");
    wf_snapshot_unref(snap);
}

/* A body's API key is the client's secret: wipe jansson's copy once it is encrypted. */
static void wipe_key(json_t *body)
{
    json_t *v = json_object_get(body, "api_key");
    if (json_is_string(v))
        wf_secure_zero((char *)json_string_value(v), json_string_length(v));
}

/* Adds the rule errors of the fields a patch does set (the ones of the right type) to
 * err. Validated as an update of the current engine (or of an empty one), so that fields
 * missing on create are not reported twice: wf_api_engine_patch_from_body reported them. */
static void add_rule_errors(wf_api *api, const char *name, const wf_engine_patch *p, wf_err *err)
{
    wf_snapshot *snap = wf_registry_acquire(api->registry);
    const wf_engine *cur = name ? wf_snapshot_find(snap, name) : NULL;
    wf_engine *blank = cur ? NULL : wf_engine_new();
    if (cur || blank)
        wf_engine_validate_patch(p, cur ? cur : blank, err);
    wf_engine_free(blank);
    wf_snapshot_unref(snap);
}

static void write_engine(wf_req *r, bool is_create)
{
    json_t *body = wf_read_json_object(r);
    if (!body)
        return;
    wf_engine_patch p = WF_ENGINE_PATCH_INIT;
    char *config = NULL;
    wf_engine *e = NULL;
    wf_err err;
    wf_err_init(&err);
    wf_actor actor = {r->who.user_id, r->who.username};
    wf_api *api = r->w->api;
    json_t *extra = NULL;
    int rc = wf_api_engine_patch_from_body(body, is_create, &p, &config, &extra, &err);
    if (rc < 0) {
        /* Unknown and mistyped fields first; the rules still check the fields that had
         * the right type, so that the client sees every problem in one answer. */
        add_rule_errors(api, is_create ? NULL : r->params[0], &p, &err);
        wf_reply_invalid_with(r, "body", &err, extra);
        goto done;
    }
    pthread_mutex_lock(&api->write_lock);
    if (rc == 0 && is_create) {
        rc = wf_writes_create(r->w->store, api->keyring, &p, &actor, &e, &err);
    } else if (rc == 0) {
        wf_snapshot *snap = wf_registry_acquire(api->registry);
        rc = wf_writes_update(r->w->store, api->keyring, snap, r->params[0], &p, &actor, &e, &err);
        wf_snapshot_unref(snap);
    }
    if (rc == WF_ERR_KEY)
        wf_reply_detail(r, 503, "%s", err.msg);
    else if (rc < 0)
        wf_reply_error(r, rc, &err);
    else
        reply_engine(r, is_create ? 201 : 200, e->name);
    pthread_mutex_unlock(&api->write_lock);
done:
    wipe_key(body); /* also when refused: the key came all the same */
    wf_engine_free(e);
    free(config);
    json_decref(body);
}

void wf_handle_engine_create(wf_req *r)
{
    write_engine(r, true);
}

void wf_handle_engine_patch(wf_req *r)
{
    write_engine(r, false);
}

void wf_handle_engine_delete(wf_req *r)
{
    wf_err err;
    wf_err_init(&err);
    wf_actor actor = {r->who.user_id, r->who.username};
    wf_api *api = r->w->api;
    pthread_mutex_lock(&api->write_lock);
    wf_snapshot *snap = wf_registry_acquire(api->registry);
    int rc = wf_writes_delete(r->w->store, snap, r->params[0], &actor, &err);
    wf_snapshot_unref(snap);
    if (rc == 0)
        rc = wf_api_reload(r->w, false, &err);
    pthread_mutex_unlock(&api->write_lock);
    if (rc < 0)
        wf_reply_error(r, rc, &err);
    else
        wf_reply_empty(r, 204);
}

void wf_handle_engine_history(wf_req *r)
{
    wf_snapshot *snap = wf_registry_acquire(r->w->api->registry);
    const wf_engine *e = wf_snapshot_find(snap, r->params[0]);
    int64_t id = e && e->source == WF_SOURCE_DATABASE ? e->id : 0;
    bool exists = e != NULL;
    wf_snapshot_unref(snap);

    wf_audit_row *rows = NULL;
    size_t n = 0;
    wf_err err;
    wf_err_init(&err);
    int rc = wf_store_audit_list(r->w->store, id, r->params[0], 500, &rows, &n, &err);
    if (rc < 0) {
        wf_reply_error(r, rc, &err);
        return;
    }
    if (!exists && n == 0) {
        wf_reply_detail(r, 404, "no engine named '%s' and no history under that name",
                        r->params[0]);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *fields = json_loads(rows[i].fields ? rows[i].fields : "[]", 0, NULL);
        json_array_append_new(
            items,
            json_pack("{s:I, s:s?, s:s?, s:o, s:s?, s:s?, s:o}", "id", (json_int_t)rows[i].id, "at",
                      rows[i].created_at, "actor", rows[i].actor, "actor_id",
                      rows[i].actor_id ? json_integer(rows[i].actor_id) : json_null(), "action",
                      rows[i].action, "engine", rows[i].engine_name, "fields",
                      fields ? fields : json_array()));
    }
    wf_audit_rows_free(rows, n);
    wf_reply_json(r, 200, json_pack("{s:o}", "items", items));
}
