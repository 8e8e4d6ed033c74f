/*
 * buf.c: the growable buffer. Growth doubles; secret buffers copy by hand so that the
 * old block can be wiped before it is freed (realloc could leave it behind).
 */
#include "buf.h"
#include "err.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wf_buf_init(wf_buf *b)
{
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
    b->failed = false;
    b->secret = false;
}

void wf_buf_init_secret(wf_buf *b)
{
    wf_buf_init(b);
    b->secret = true;
}

void wf_secure_zero(void *p, size_t n)
{
    if (p && n)
        explicit_bzero(p, n);
}

void wf_free_secret(char *s)
{
    if (!s)
        return;
    wf_secure_zero(s, strlen(s));
    free(s);
}

char *wf_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

int wf_buf_grow(wf_buf *b, size_t extra)
{
    if (b->failed)
        return WF_ERR_NOMEM;
    if (extra > SIZE_MAX / 2 - b->len - 1)
        goto fail;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p;
    if (b->secret) {
        p = malloc(cap);
        if (!p)
            goto fail;
        if (b->ptr) {
            memcpy(p, b->ptr, b->len + 1);
            wf_secure_zero(b->ptr, b->cap);
            free(b->ptr);
        } else {
            p[0] = '\0';
        }
    } else {
        p = realloc(b->ptr, cap);
        if (!p)
            goto fail;
        if (!b->ptr)
            p[0] = '\0';
    }
    b->ptr = p;
    b->cap = cap;
    return 0;
fail:
    b->failed = true;
    return WF_ERR_NOMEM;
}

int wf_buf_put(wf_buf *b, const void *data, size_t len)
{
    if (wf_buf_grow(b, len) < 0)
        return WF_ERR_NOMEM;
    if (len)
        memcpy(b->ptr + b->len, data, len);
    b->len += len;
    b->ptr[b->len] = '\0';
    return 0;
}

int wf_buf_puts(wf_buf *b, const char *s)
{
    return wf_buf_put(b, s, strlen(s));
}

int wf_buf_putc(wf_buf *b, char c)
{
    return wf_buf_put(b, &c, 1);
}

int wf_buf_vprintf(wf_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    int rc = 0;
    if (n < 0) {
        b->failed = true;
        rc = WF_ERR_INTERNAL;
    } else if (wf_buf_grow(b, (size_t)n) < 0) {
        rc = WF_ERR_NOMEM;
    } else {
        vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
    return rc;
}

int wf_buf_printf(wf_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = wf_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

const char *wf_buf_cstr(const wf_buf *b)
{
    return b->ptr ? b->ptr : "";
}

bool wf_buf_ok(const wf_buf *b)
{
    return !b->failed;
}

void wf_buf_clear(wf_buf *b)
{
    if (b->ptr) {
        if (b->secret)
            wf_secure_zero(b->ptr, b->cap);
        b->ptr[0] = '\0';
    }
    b->len = 0;
}

char *wf_buf_detach(wf_buf *b)
{
    if (b->failed) {
        wf_buf_free(b);
        return NULL;
    }
    char *p = b->ptr ? b->ptr : strdup("");
    bool secret = b->secret;
    wf_buf_init(b);
    b->secret = secret;
    return p;
}

void wf_buf_free(wf_buf *b)
{
    if (b->secret) {
        wf_buf_wipe(b);
        return;
    }
    free(b->ptr);
    bool secret = b->secret;
    wf_buf_init(b);
    b->secret = secret;
}

void wf_buf_wipe(wf_buf *b)
{
    if (b->ptr)
        wf_secure_zero(b->ptr, b->cap);
    free(b->ptr);
    bool secret = b->secret;
    wf_buf_init(b);
    b->secret = secret;
}
