/*
 * web.c: looks the admin page's files up by name. The table is made once, on first use,
 * from the build's embedded files (core/embed.h): each gets its content type from its
 * extension and an ETag from its SHA-256, so a browser revalidates with a 304 rather than
 * fetching the same bytes again, and a new build's files are never taken for old ones.
 */
#include "web.h"

#include "core/embed.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define MAX_FILES 64

static wf_web_file files[MAX_FILES];
static size_t nfiles;
static pthread_once_t once = PTHREAD_ONCE_INIT;

const char *const wf_web_headers[][2] = {
    {"Content-Security-Policy",
     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
     "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"},
    {"X-Content-Type-Options", "nosniff"},
    {"X-Frame-Options", "DENY"}, /* frame-ancestors for browsers that predate it */
    {"Referrer-Policy", "no-referrer"},
    {"Cross-Origin-Opener-Policy", "same-origin"},
    {"Cross-Origin-Resource-Policy", "same-origin"},
    /* the names carry no version: always ask, and take the 304 when nothing changed */
    {"Cache-Control", "no-cache"},
    {NULL, NULL},
};

static const char *type_of(const char *name)
{
    static const char *const types[][2] = {
        {".html", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(dot, types[i][0]))
            return types[i][1];
    return "application/octet-stream";
}

static void build(void)
{
    for (size_t i = 0; i < wf_embed_web_count && nfiles < MAX_FILES; i++) {
        const wf_embedded_file *e = &wf_embed_web[i];
        wf_web_file *f = &files[nfiles++];
        f->name = e->name;
        f->content_type = type_of(e->name);
        f->data = e->data;
        f->len = e->len;
        snprintf(f->etag, sizeof f->etag, "\"%.16s\"", e->sha256);
    }
}

static bool plain_name(const char *s)
{
    if (!*s || *s == '.')
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '-' || *s == '_'))
            return false;
    return true;
}

const wf_web_file *wf_web_find(const char *name)
{
    pthread_once(&once, build);
    if (!name || !plain_name(name))
        return NULL;
    for (size_t i = 0; i < nfiles; i++)
        if (!strcmp(files[i].name, name))
            return &files[i];
    return NULL;
}

bool wf_web_etag_matches(const wf_web_file *f, const char *inm)
{
    if (!f || !inm)
        return false;
    /* a list of tags, perhaps weak (W/"..."): a weak match is enough for GET (RFC 9110) */
    return strstr(inm, f->etag) != NULL || !strcmp(inm, "*");
}
