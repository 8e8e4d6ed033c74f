/*
 * err.h: the one error convention of wfreg.
 *
 * A function that can fail returns int: 0 on success, a negative WF_ERR_* code on
 * failure, and fills an optional wf_err with a message for people. Validation adds one
 * entry per bad field (wf_err_field) so that a caller sees every problem at once; the
 * HTTP API turns those entries into FastAPI-style 422 "detail" lists.
 *
 * Messages are bounded and never contain a secret: callers name the field or the thing
 * that was wrong, not its value when the value may be a key or a password.
 */
#ifndef WF_CORE_ERR_H
#define WF_CORE_ERR_H

#include <stddef.h>

enum {
    WF_OK = 0,
    WF_ERR_INVALID = -1,   /* bad input: usage, validation (field entries say which) */
    WF_ERR_NOT_FOUND = -2, /* no such engine, user, revision, file */
    WF_ERR_CONFLICT = -3,  /* name taken, read-only (environment) engine, state mismatch */
    WF_ERR_DB = -4,        /* database unreachable, SQL failure, schema not at head */
    WF_ERR_KEY = -5,       /* no key configured, or no configured key opens a token */
    WF_ERR_NOMEM = -6,
    WF_ERR_IO = -7,       /* reading or writing a file or a stream */
    WF_ERR_INTERNAL = -8, /* a bug or a library failure that input cannot explain */
};

#define WF_ERR_MAX_FIELDS 16
#define WF_ERR_MSG_MAX 512

typedef struct wf_field_err {
    char field[64]; /* "api_url", "config.timeout_ms" */
    char type[48];  /* machine word: "missing", "too_long", "pattern", "type", "range" ... */
    char msg[256];  /* for people: "must be an http or https URL" */
} wf_field_err;

typedef struct wf_err {
    int code;                 /* WF_OK or a WF_ERR_* value */
    char msg[WF_ERR_MSG_MAX]; /* summary; for field errors "field: msg; field: msg" */
    size_t nfields;
    wf_field_err fields[WF_ERR_MAX_FIELDS];
} wf_err;

/* Clears err (may be NULL). */
void wf_err_init(wf_err *err);

/* Sets code and a printf-style message; returns code so that callers can
 * `return wf_err_set(err, WF_ERR_INVALID, "...")`. err may be NULL. */
int wf_err_set(wf_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Adds one field error (code becomes WF_ERR_INVALID) and appends "field: msg" to the
 * summary. Entries past WF_ERR_MAX_FIELDS are counted in the summary only. Returns
 * WF_ERR_INVALID. err may be NULL. */
int wf_err_field(wf_err *err, const char *field, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Prefixes the existing message with "what: " (for context as errors travel up). */
void wf_err_prefix(wf_err *err, const char *what);

/* A short stable name for a code: "invalid", "not_found", ... */
const char *wf_err_code_name(int code);

#endif
