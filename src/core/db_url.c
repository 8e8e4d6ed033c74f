/*
 * db_url.c: the passwords of a DATABASE_URL (config.h), found as libpq finds them, in
 * every spelling it reads: "postgresql://user:password@host/db", a URL query's
 * password= and sslpassword= (percent-encoded keys included), and libpq's
 * "key=value ..." strings (quoted values, backslash escapes, any white space). Each one
 * is masked as "***" where a URL is shown (wfreg check, errors) and registered with the
 * log's redaction list, as written and as libpq decodes it. tests/fuzz/fuzz_db_url checks
 * this against libpq itself.
 */
#include "config.h"
#include "log.h"
#include "text.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* A run of url that holds a secret, handed to a visitor in order (no two overlap). There
 * is no limit on how many: libpq keeps the last of repeated keys, so every one counts. */
typedef struct span {
    size_t off, len;
} span;

typedef void (*span_fn)(const char *url, span s, void *ctx);

/* White space as libpq's key=value parser sees it: isspace() in the C locale. */
static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* The password of "scheme://user:password@host...", as a span (len 0: none). The userinfo
 * runs from "://" to the LAST '@': a password may hold '@', '/', '?' or '#' (libpq cannot
 * parse a raw '/' or '@', but the text is still a secret and must never be printed). An
 * '@' further on (in the query) makes the span longer than the password: masking too
 * much is the safe side. */
static span url_password(const char *url)
{
    span none = {0, 0};
    const char *sep = strstr(url, "://");
    if (!sep)
        return none;
    const char *a = sep + 3;
    if (*a == '/') /* "scheme:///path": no authority at all (sqlite:///abs.db) */
        return none;
    const char *at = strrchr(a, '@');
    const char *colon = at ? memchr(a, ':', (size_t)(at - a)) : NULL;
    if (!colon || colon + 1 >= at)
        return none;
    return (span){(size_t)(colon + 1 - url), (size_t)(at - colon - 1)};
}

/* Where libpq looks for the query: after its own userinfo, which ends at the first '@'
 * unless a '/' comes first (then there is none). */
static size_t libpq_query_from(const char *url)
{
    const char *sep = strstr(url, "://");
    if (!sep)
        return 0;
    const char *a = sep + 3, *p = a + strcspn(a, "@/");
    return (size_t)((*p == '@' ? p + 1 : a) - url);
}

/* Is the text from start up to eq (its '='), trailing spaces aside, a password key:
 * "password" or "sslpassword", in any case? */
static bool is_password_key(const char *start, const char *eq)
{
    size_t n = (size_t)(eq - start);
    wf_text_trim(&start, &n);
    return (n == 8 && !strncasecmp(start, "password", 8)) ||
           (n == 11 && !strncasecmp(start, "sslpassword", 11));
}

static int hex_value(char c);

/* The same for a key of a URL's query, which libpq percent-decodes first
 * ("pass%77ord" is "password"). */
static bool is_password_key_encoded(const char *start, const char *eq)
{
    char key[16]; /* longer than "sslpassword" once decoded: not a password key */
    size_t n = 0;
    for (const char *p = start; p < eq; p++) {
        int hi, lo;
        if (n == sizeof key)
            return false;
        if (*p == '%' && eq - p > 2 && (hi = hex_value(p[1])) >= 0 && (lo = hex_value(p[2])) >= 0) {
            key[n++] = (char)(hi * 16 + lo);
            p += 2;
        } else {
            key[n++] = *p;
        }
    }
    return is_password_key(key, key + n);
}

/* password=... in a URL's query string (searched from `from`, past the userinfo, whose
 * password may hold a '?'): values end at '&' only, as libpq reads them (it knows no
 * fragment: "a#b" is the value). */
static void query_passwords(const char *url, size_t from, span_fn fn, void *ctx)
{
    const char *q = strchr(url + from, '?');
    while (q) {
        const char *key = q + 1;
        const char *end = key + strcspn(key, "&");
        const char *eq = memchr(key, '=', (size_t)(end - key));
        if (eq && is_password_key_encoded(key, eq) && eq + 1 < end)
            fn(url, (span){(size_t)(eq + 1 - url), (size_t)(end - eq - 1)}, ctx);
        q = *end == '&' ? end : NULL;
    }
}

/* The end of a libpq value starting at v: a quoted one ends after its closing quote, a
 * bare one at white space; in both, a backslash escapes the next character (a bare
 * "se\ cret" is one value). */
static const char *kv_value_end(const char *v)
{
    if (*v != '\'') {
        for (; *v && !is_space(*v); v++) {
            if (*v == '\\' && v[1])
                v++;
        }
        return v;
    }
    for (v++; *v && *v != '\''; v++) {
        if (*v == '\\' && v[1])
            v++;
    }
    return *v ? v + 1 : v;
}

/* password=... in a libpq "key=value key=value" string. */
static void kv_passwords(const char *s, span_fn fn, void *ctx)
{
    const char *p = s;
    while (*p) {
        while (is_space(*p))
            p++;
        const char *key = p;
        while (*p && *p != '=' && !is_space(*p))
            p++;
        const char *key_end = p, *eq = p; /* white space may come before the '=' */
        while (is_space(*eq))
            eq++;
        if (*eq != '=') {
            p = eq > p ? eq : p + (*p != '\0');
            continue;
        }
        const char *v = eq + 1;
        while (is_space(*v))
            v++;
        const char *end = kv_value_end(v);
        if (is_password_key(key, key_end) && end > v)
            fn(s, (span){(size_t)(v - s), (size_t)(end - v)}, ctx);
        p = end;
    }
}

/* Does s (after white space) start with "scheme://"? libpq reads a string as a URI only
 * when it starts with postgresql:// or postgres://, and as key=value pairs otherwise,
 * where a value may hold "://" (password=ab://cd, application_name=https://...): such a
 * string must be read as pairs, or its password would be printed. SQLAlchemy's
 * "postgresql+driver://" is a URL whatever the driver's name: the store gives libpq
 * what follows the first "://". Any other scheme is still masked as a URL (`wfreg check`
 * prints a DATABASE_URL that wfreg refuses). */
static bool starts_with_scheme(const char *s)
{
    while (is_space(*s))
        s++;
    if (!strncmp(s, "postgresql+", 11))
        return strstr(s, "://") != NULL;
    if (!isalpha((unsigned char)*s))
        return false;
    s++;
    while (isalnum((unsigned char)*s) || *s == '+' || *s == '-' || *s == '.')
        s++;
    return !strncmp(s, "://", 3);
}

/* A URL's spans merged: the userinfo's (one, maybe long) and the query's, which may
 * overlap it (an '@' in a query's password). */
typedef struct merge_state {
    span user; /* not handed on yet while len > 0 */
    span_fn fn;
    void *ctx;
} merge_state;

static void merge_span(const char *url, span q, void *ctx)
{
    merge_state *m = ctx;
    size_t u_end = m->user.off + m->user.len, q_end = q.off + q.len;
    if (m->user.len == 0 || q_end < m->user.off) {
        m->fn(url, q, m->ctx); /* before the userinfo's span, apart from it */
    } else if (q.off > u_end) {
        m->fn(url, m->user, m->ctx);
        m->user.len = 0;
        m->fn(url, q, m->ctx);
    } else { /* they overlap or touch: one span */
        size_t off = q.off < m->user.off ? q.off : m->user.off;
        m->user = (span){off, (q_end > u_end ? q_end : u_end) - off};
    }
}

/* Hands every secret-bearing run of a database URL or libpq string to fn, in order. */
static void find_secrets(const char *url, span_fn fn, void *ctx)
{
    if (!starts_with_scheme(url)) {
        kv_passwords(url, fn, ctx);
        return;
    }
    merge_state m = {url_password(url), fn, ctx};
    query_passwords(url, libpq_query_from(url), merge_span, &m);
    if (m.user.len > 0)
        fn(url, m.user, ctx);
}

typedef struct redact_state {
    wf_buf *out;
    size_t pos; /* url is copied up to here */
} redact_state;

static void redact_span(const char *url, span s, void *ctx)
{
    redact_state *st = ctx;
    wf_buf_put(st->out, url + st->pos, s.off - st->pos);
    wf_buf_puts(st->out, "***");
    st->pos = s.off + s.len;
}

int wf_config_redact_db_url(const char *url, wf_buf *out)
{
    if (!url)
        return 0;
    redact_state st = {out, 0};
    find_secrets(url, redact_span, &st);
    wf_buf_puts(out, url + st.pos);
    return wf_buf_ok(out) ? 0 : WF_ERR_NOMEM;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void wf_config_decode_secret(const char *s, size_t len, wf_buf *out)
{
    bool quoted = len >= 2 && s[0] == '\'' && s[len - 1] == '\'';
    if (quoted) {
        s++;
        len -= 2;
    }
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (quoted && s[i] == '\\' && i + 1 < len) {
            wf_buf_putc(out, s[++i]);
        } else if (!quoted && s[i] == '%' && i + 2 < len && (hi = hex_value(s[i + 1])) >= 0 &&
                   (lo = hex_value(s[i + 2])) >= 0) {
            wf_buf_putc(out, (char)(hi * 16 + lo));
            i += 2;
        } else {
            wf_buf_putc(out, s[i]);
        }
    }
}

/* Registers one secret, as written and as the database library reads it. */
static void register_span(const char *url, span s, void *ctx)
{
    (void)ctx;
    wf_buf raw, decoded;
    wf_buf_init_secret(&raw);
    wf_buf_init_secret(&decoded);
    wf_buf_put(&raw, url + s.off, s.len);
    wf_config_decode_secret(url + s.off, s.len, &decoded);
    wf_log_add_secret(wf_buf_cstr(&raw));
    wf_log_add_secret(wf_buf_cstr(&decoded));
    wf_buf_wipe(&raw);
    wf_buf_wipe(&decoded);
}

void wf_config_register_db_url(const char *url)
{
    find_secrets(url, register_span, NULL);
}
