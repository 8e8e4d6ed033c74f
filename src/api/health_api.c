/*
 * health_api.c: /healthz (the process answers), /readyz (the database answers and its
 * schema is at head), /metrics (Prometheus text, with the engines' last health checks)
 * and /openapi.json (embedded at build time from src/api/openapi.json).
 */
#include "internal.h"

#include "core/embed.h"
#include "store/migrate.h"

#include <event2/buffer.h>
#include <string.h>

void wf_handle_healthz(wf_req *r)
{
    wf_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

void wf_handle_readyz(wf_req *r)
{
    wf_err err;
    wf_err_init(&err);
    bool at_head = false;
    if (wf_migrate_is_at_head(r->w->store, &at_head, &err) < 0) {
        wf_reply_detail(r, 503, "database unavailable: %s", err.msg);
        return;
    }
    if (!at_head) {
        char cur[32] = "";
        wf_migrate_current(r->w->store, cur, NULL);
        wf_reply_detail(r, 503, "the schema is at %s, not at %s: run 'wfreg migrate up'",
                        cur[0] ? cur : "no version", wf_migrate_head());
        return;
    }
    wf_reply_json(r, 200, json_pack("{s:s, s:s}", "status", "ready", "schema", wf_migrate_head()));
}

/* Sends text with a content type, outside the JSON helpers. */
static void reply_text(wf_req *r, const char *type, const void *data, size_t len)
{
    struct evbuffer *out = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
    evhttp_add_header(h, "Content-Type", type);
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    if (atomic_load(&r->w->api->stopping))
        evhttp_add_header(h, "Connection", "close");
    if (out)
        evbuffer_add(out, data, len);
    wf_send(r, 200, out);
    if (out)
        evbuffer_free(out);
}

void wf_handle_metrics(wf_req *r)
{
    wf_buf text = WF_BUF_INIT;
    wf_snapshot *snap = wf_registry_acquire(r->w->api->registry);
    wf_metrics_render(r->w->api->metrics, snap, &text);
    wf_snapshot_unref(snap);
    wf_health_render_metrics(r->w->api->health, &text);
    reply_text(r, "text/plain; version=0.0.4; charset=utf-8", wf_buf_cstr(&text), text.len);
    wf_buf_free(&text);
}

void wf_handle_openapi(wf_req *r)
{
    for (size_t i = 0; i < wf_embed_api_count; i++) {
        if (!strcmp(wf_embed_api[i].name, "openapi.json")) {
            reply_text(r, "application/json", wf_embed_api[i].data, wf_embed_api[i].len);
            return;
        }
    }
    wf_reply_detail(r, 404, "no OpenAPI document was built in");
}
