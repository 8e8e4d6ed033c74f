/*
 * web_api.c: serves the admin page (src/web): index.html at "/", its other files at
 * "/ui/{file}". Each answer carries the page's security headers and an ETag; a request
 * whose If-None-Match names that ETag gets 304 without a body. The page is static: it
 * reads and writes through the API with a bearer token like any other client, so it
 * needs no session cookie and gives other sites nothing to forge.
 */
#include "internal.h"

#include "web/web.h"

#include <event2/buffer.h>
#include <string.h>

void wf_handle_page(wf_req *r)
{
    const wf_web_file *f = wf_web_find(r->params[0] ? r->params[0] : "index.html");
    if (!f) {
        wf_reply_detail(r, 404, "Not Found");
        return;
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
    for (size_t i = 0; wf_web_headers[i][0]; i++)
        evhttp_add_header(h, wf_web_headers[i][0], wf_web_headers[i][1]);
    evhttp_add_header(h, "ETag", f->etag);
    if (atomic_load(&r->w->api->stopping))
        evhttp_add_header(h, "Connection", "close");
    const char *inm = evhttp_find_header(evhttp_request_get_input_headers(r->req), "If-None-Match");
    if (wf_web_etag_matches(f, inm)) {
        wf_send(r, 304, NULL);
        return;
    }
    evhttp_add_header(h, "Content-Type", f->content_type);
    struct evbuffer *out = evbuffer_new();
    if (out)
        evbuffer_add_reference(out, f->data, f->len, NULL, NULL);
    wf_send(r, 200, out);
    if (out)
        evbuffer_free(out);
}
