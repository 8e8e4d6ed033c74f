/*
 * text.c: escaping for people, UTF-8 repair for JSON, trimming and ISO times (text.h).
 *
 * The UTF-8 rules are jansson's (and RFC 3629's): no overlong forms, no surrogates,
 * nothing above U+10FFFF. A string that passes wf_text_utf8_lossy is one that
 * json_string accepts, so a value is never dropped from JSON output for its bytes.
 */
#include "text.h"
#include "err.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The length (1-4) of the valid UTF-8 sequence at p, with its code point in *cp; 0 when
 * the bytes at p are not one. The NUL terminator ends a sequence early, so this never
 * reads past the string. */
static size_t utf8_seq(const unsigned char *p, uint32_t *cp)
{
    uint32_t c = p[0], v, min;
    size_t n;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        v = c & 0x1f;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        v = c & 0x0f;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        v = c & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3fu);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

/* Would a character (or a bad byte, n == 0) be written as \xNN? */
static bool must_escape(size_t n, uint32_t cp)
{
    return n == 0 || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || cp == '\\';
}

int wf_text_escape(wf_buf *out, const char *s, size_t max)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    for (size_t chars = 0; *p; chars++) {
        if (max && chars == max) {
            wf_buf_puts(out, "...");
            break;
        }
        uint32_t cp = 0;
        size_t n = utf8_seq(p, &cp);
        if (must_escape(n, cp)) {
            for (size_t i = 0; i < (n ? n : 1); i++)
                wf_buf_printf(out, "\\x%02x", p[i]);
            p += n ? n : 1;
        } else {
            wf_buf_put(out, p, n);
            p += n;
        }
    }
    if (!out->ptr)
        wf_buf_puts(out, ""); /* a C string even when s was empty */
    return wf_buf_ok(out) ? 0 : WF_ERR_NOMEM;
}

char *wf_text_escape_dup(const char *s, size_t max)
{
    wf_buf b = WF_BUF_INIT;
    if (wf_text_escape(&b, s, max) < 0) {
        wf_buf_free(&b);
        return NULL;
    }
    return wf_buf_detach(&b);
}

bool wf_text_needs_escape(const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        uint32_t cp = 0;
        size_t n = utf8_seq(p, &cp);
        if (must_escape(n, cp))
            return true;
        p += n;
    }
    return false;
}

bool wf_text_is_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        uint32_t cp;
        size_t n = utf8_seq(p, &cp);
        if (n == 0)
            return false;
        p += n;
    }
    return true;
}

int wf_text_utf8_lossy(wf_buf *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        uint32_t cp;
        size_t n = utf8_seq(p, &cp);
        if (n == 0) {
            wf_buf_puts(out, "\xef\xbf\xbd"); /* U+FFFD REPLACEMENT CHARACTER */
            p++;
        } else {
            wf_buf_put(out, p, n);
            p += n;
        }
    }
    if (!out->ptr)
        wf_buf_puts(out, "");
    return wf_buf_ok(out) ? 0 : WF_ERR_NOMEM;
}

json_t *wf_text_json(const char *s)
{
    if (!s)
        return json_null();
    wf_buf b = WF_BUF_INIT;
    json_t *j = NULL;
    if (wf_text_utf8_lossy(&b, s) == 0)
        j = json_stringn(wf_buf_cstr(&b), b.len);
    wf_buf_free(&b);
    return j;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void wf_text_trim(const char **s, size_t *len)
{
    while (*len > 0 && is_blank(**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && is_blank((*s)[*len - 1]))
        (*len)--;
}

bool wf_text_iso_time(time_t t, int msec, char out[WF_TEXT_ISO_MAX])
{
    struct tm tm;
    out[0] = '\0';
    if ((long long)t < WF_TEXT_TIME_MIN || (long long)t > WF_TEXT_TIME_MAX || !gmtime_r(&t, &tm))
        return false;
    /* by hand, not strftime: %Y does not pad years before 1000 to four digits */
    int n = snprintf(out, WF_TEXT_ISO_MAX, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (n != 19) {
        out[0] = '\0';
        return false;
    }
    if (msec >= 0)
        snprintf(out + 19, WF_TEXT_ISO_MAX - 19, ".%03dZ", msec % 1000);
    else
        memcpy(out + 19, "Z", 2);
    return true;
}

/* ---- reading times ------------------------------------------------------------------ */

/* Reads exactly n digits. */
static bool read_digits(const char **p, int n, int *v)
{
    *v = 0;
    for (int k = 0; k < n; k++) {
        char c = (*p)[k];
        if (c < '0' || c > '9')
            return false;
        *v = *v * 10 + (c - '0');
    }
    *p += n;
    return true;
}

/* A UTC offset at the end of a timestamp: "", "Z", " UTC", "+HH", "+HHMM", "+HH:MM". */
static bool read_offset(const char *p, long *offset)
{
    *offset = 0;
    while (*p == ' ')
        p++;
    if (!*p || !strcmp(p, "Z") || !strcmp(p, "z") || !strcmp(p, "UTC"))
        return true;
    if (*p != '+' && *p != '-')
        return false;
    int sign = *p++ == '-' ? -1 : 1, hh, mm = 0;
    if (!read_digits(&p, 2, &hh))
        return false;
    if (*p == ':')
        p++;
    if (*p && !read_digits(&p, 2, &mm))
        return false;
    *offset = sign * (hh * 3600L + mm * 60L);
    return *p == '\0';
}

bool wf_text_parse_time(const char *p, time_t *out)
{
    struct tm tm = {0};
    int y, mo, d, h = 0, mi = 0, sec = 0;
    if (!p)
        return false;
    if (!read_digits(&p, 4, &y) || *p++ != '-' || !read_digits(&p, 2, &mo) || *p++ != '-' ||
        !read_digits(&p, 2, &d))
        return false;
    if ((*p == ' ' || *p == 'T') && p[1] >= '0' && p[1] <= '9') {
        p++;
        if (!read_digits(&p, 2, &h) || *p++ != ':' || !read_digits(&p, 2, &mi))
            return false;
        if (*p == ':') {
            p++;
            if (!read_digits(&p, 2, &sec))
                return false;
        }
        if (*p == '.' || *p == ',') {
            p++;
            while (*p >= '0' && *p <= '9')
                p++; /* fractions of a second: dropped, the API shows whole seconds */
        }
    }
    long offset;
    if (!read_offset(p, &offset) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        sec > 60)
        return false;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    *out = timegm(&tm) - offset;
    return true;
}
