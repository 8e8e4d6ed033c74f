/*
 * err.c: filling wf_err. Kept deliberately tiny: a struct with bounded text, so that an
 * error can be reported even when memory has run out.
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void wf_err_init(wf_err *err)
{
    if (!err)
        return;
    err->code = WF_OK;
    err->msg[0] = '\0';
    err->nfields = 0;
}

int wf_err_set(wf_err *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        err->msg[0] = '\0';
    return code;
}

static void append(char *dst, size_t cap, const char *src)
{
    size_t len = strlen(dst);
    if (len + 1 >= cap)
        return;
    snprintf(dst + len, cap - len, "%s", src);
}

int wf_err_field(wf_err *err, const char *field, const char *type, const char *fmt, ...)
{
    if (!err)
        return WF_ERR_INVALID;
    if (err->code != WF_ERR_INVALID) {
        /* the first field error replaces any earlier, unrelated summary */
        err->msg[0] = '\0';
        err->nfields = 0;
    }
    err->code = WF_ERR_INVALID;

    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    if (vsnprintf(msg, sizeof msg, fmt, ap) < 0)
        msg[0] = '\0';
    va_end(ap);

    if (err->nfields < WF_ERR_MAX_FIELDS) {
        wf_field_err *f = &err->fields[err->nfields];
        snprintf(f->field, sizeof f->field, "%s", field ? field : "");
        snprintf(f->type, sizeof f->type, "%s", type ? type : "value_error");
        snprintf(f->msg, sizeof f->msg, "%s", msg);
    }
    err->nfields++;

    if (err->msg[0])
        append(err->msg, sizeof err->msg, "; ");
    if (field && field[0]) {
        append(err->msg, sizeof err->msg, field);
        append(err->msg, sizeof err->msg, ": ");
    }
    append(err->msg, sizeof err->msg, msg);
    return WF_ERR_INVALID;
}

void wf_err_prefix(wf_err *err, const char *what)
{
    if (!err || !what)
        return;
    char old[WF_ERR_MSG_MAX];
    memcpy(old, err->msg, sizeof old);
    err->msg[0] = '\0';
    append(err->msg, sizeof err->msg, what);
    if (old[0]) {
        append(err->msg, sizeof err->msg, ": ");
        append(err->msg, sizeof err->msg, old);
    }
}

const char *wf_err_code_name(int code)
{
    switch (code) {
    case WF_OK: return "ok";
    case WF_ERR_INVALID: return "invalid";
    case WF_ERR_NOT_FOUND: return "not_found";
    case WF_ERR_CONFLICT: return "conflict";
    case WF_ERR_DB: return "database";
    case WF_ERR_KEY: return "key";
    case WF_ERR_NOMEM: return "out_of_memory";
    case WF_ERR_IO: return "io";
    default: return "internal";
    }
}
