/*
 * buf.h: wf_buf, the one growable byte buffer of wfreg (like curl's dynbuf or libgit2's
 * git_str). Used for building strings, SQL text, JSON and secrets alike.
 *
 * Failure is sticky: once an append fails for lack of memory, the buffer is marked
 * failed, later appends do nothing, and wf_buf_ok() says so. Callers build a whole
 * string and check once at the end.
 *
 * A buffer that has held a secret is released with wf_buf_wipe(), which overwrites the
 * bytes before freeing them (and on every internal reallocation, so no copy of a secret
 * is left behind in freed memory).
 */
#ifndef WF_CORE_BUF_H
#define WF_CORE_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct wf_buf {
    char *ptr; /* always NUL-terminated when len > 0 or after any append */
    size_t len;
    size_t cap;
    bool failed; /* an allocation failed; contents are incomplete */
    bool secret; /* wipe old storage on growth (set by wf_buf_init_secret) */
} wf_buf;

#define WF_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0, false, false                                                                   \
    }

void wf_buf_init(wf_buf *b);
/* Same, for a buffer that will hold a secret: growth never leaves copies behind. */
void wf_buf_init_secret(wf_buf *b);

/* Appends; return 0 or WF_ERR_NOMEM (and mark the buffer failed). */
int wf_buf_put(wf_buf *b, const void *data, size_t len);
int wf_buf_puts(wf_buf *b, const char *s);
int wf_buf_putc(wf_buf *b, char c);
int wf_buf_printf(wf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same with a va_list (ap is consumed). */
int wf_buf_vprintf(wf_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Ensures room for `extra` more bytes plus a NUL. */
int wf_buf_grow(wf_buf *b, size_t extra);

/* The contents as a C string ("" for an empty buffer); never NULL. */
const char *wf_buf_cstr(const wf_buf *b);
bool wf_buf_ok(const wf_buf *b);

/* Empties the buffer but keeps its storage (wiping it first if secret). */
void wf_buf_clear(wf_buf *b);

/* Hands the storage to the caller (free() it); the buffer is left empty. Returns NULL
 * if the buffer failed. An empty buffer yields an allocated "". */
char *wf_buf_detach(wf_buf *b);

void wf_buf_free(wf_buf *b);
/* Overwrites the contents, then frees. Use for anything that held a key or password. */
void wf_buf_wipe(wf_buf *b);

/* Overwrites n bytes in a way the compiler may not optimise away. */
void wf_secure_zero(void *p, size_t n);
/* wf_secure_zero(s, strlen(s)) then free(s); accepts NULL. */
void wf_free_secret(char *s);

/* strdup that returns NULL for NULL. */
char *wf_strdup(const char *s);

#endif
