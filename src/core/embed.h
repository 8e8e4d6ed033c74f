/*
 * embed.h: files built into the binary: migrations, the API's documents, the admin page.
 * The build generates one table per group from the files in the source tree
 * (cmake/embed.cmake);
 * each file's bytes are followed by a NUL, so text files can be used as C strings.
 */
#ifndef WF_CORE_EMBED_H
#define WF_CORE_EMBED_H

#include <stddef.h>

typedef struct wf_embedded_file {
    const char *name;          /* file name, without its folder: "0001_app_users.sqlite.up.sql" */
    const unsigned char *data; /* len bytes, then a NUL */
    size_t len;
    const char *sha256;        /* of the bytes, 64 lowercase hex digits */
} wf_embedded_file;

/* The store's migration scripts, sorted by name. */
extern const wf_embedded_file wf_embed_migrations[];
extern const size_t wf_embed_migrations_count;

/* The API's documents (openapi.json). */
extern const wf_embedded_file wf_embed_api[];
extern const size_t wf_embed_api_count;

/* The admin page (src/web/static). */
extern const wf_embedded_file wf_embed_web[];
extern const size_t wf_embed_web_count;

#endif
