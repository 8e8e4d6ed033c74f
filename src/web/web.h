/*
 * web.h: the admin page's files (src/web/static), built into the binary. The api serves
 * them: index.html at "/", every file at "/ui/<name>". This module knows what each file
 * is (its content type), its ETag, and the headers every page response carries; it knows
 * nothing of HTTP servers.
 */
#ifndef WF_WEB_WEB_H
#define WF_WEB_WEB_H

#include <stdbool.h>
#include <stddef.h>

typedef struct wf_web_file {
    const char *name;         /* "app.js" */
    const char *content_type; /* "text/javascript; charset=utf-8" */
    const unsigned char *data;
    size_t len;
    char etag[20]; /* "\"" + 16 hex digits of the SHA-256 + "\"" */
} wf_web_file;

/* The file called name (no folder; "index.html"), or NULL. Names with anything but
 * letters, digits, '.', '-' and '_' are never found. */
const wf_web_file *wf_web_find(const char *name);

/* Whether an If-None-Match header value names this file's ETag (or is "*"). */
bool wf_web_etag_matches(const wf_web_file *f, const char *if_none_match);

/* The headers every page response carries, as name/value pairs ending with NULL. The
 * Content-Security-Policy allows scripts, styles, images and fetches from this origin
 * only (no inline script, no eval), no framing, no plugins, no <base>. */
extern const char *const wf_web_headers[][2];

#endif
