/*
 * fuzz_db_url.c: a DATABASE_URL through redaction (wf_config_redact_db_url, which makes
 * the text that `wfreg check`, log lines and connection errors show) and the decoding of
 * the secrets found in it (wf_config_decode_secret, what the log masks).
 *
 * Input: the variable's value (up to its first NUL, as the environment holds it).
 *
 * The check is against libpq itself, which decides what the password is: for a value the
 * store would hand to PostgreSQL (postgresql://, postgres://, postgresql+driver://, or a
 * libpq "key=value" string; store.c) in which libpq finds a password, the redacted text
 * must still parse, and its password must be "***": not the password, nor a part of it
 * left beside the mask ("***#b", or a parse that fails on the rest of a value). A parser
 * of our own that reads the value differently from libpq would print the password (or
 * a piece of it); this is where it shows.
 *
 * Two exceptions. A bare *** in place of a quoted value can run into what follows it
 * ("password='x'host=h" shows "password=***host=h"), which libpq then reads otherwise:
 * when the redacted text fails the check, it is tried again with each *** quoted (an
 * input that holds "***" itself is not judged then: its masks cannot be told apart). And
 * a URL may be masked past its password on purpose (the userinfo up to the last '@',
 * host and path included: config.c), which can leave no URL that parses: that is not
 * judged either; a URL's password must still never show beside its mask.
 */
#include "core/buf.h"
#include "core/config.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Does conninfo parse, and what password does libpq read in it (a new string, or NULL
 * when none)? */
static bool libpq_password(const char *conninfo, char **pw)
{
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &msg);
    PQfreemem(msg);
    *pw = NULL;
    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (!strcmp(o->keyword, "password") && o->val && o->val[0])
            *pw = strdup(o->val);
    }
    bool parses = opts != NULL;
    PQconninfoFree(opts);
    return parses;
}

/* What wf_pg_open gives libpq: SQLAlchemy's "postgresql+driver://" as "postgresql://". */
static void as_libpq(const char *url, wf_buf *out)
{
    const char *sep = !strncmp(url, "postgresql+", 11) ? strstr(url, "://") : NULL;
    if (sep) {
        wf_buf_puts(out, "postgresql");
        wf_buf_puts(out, sep);
    } else {
        wf_buf_puts(out, url);
    }
}

/* text with every "***" as '***' (a quoted libpq value), into out. */
static const char *quote_masks(const char *text, wf_buf *out)
{
    for (const char *m; (m = strstr(text, "***")); text = m + 3) {
        wf_buf_put(out, text, (size_t)(m - text));
        wf_buf_puts(out, "'***'");
    }
    wf_buf_puts(out, text);
    return wf_buf_cstr(out);
}

/* A PostgreSQL URL, as store.c tells one. */
static bool is_pg_url(const char *s)
{
    return !strncmp(s, "postgresql://", 13) || !strncmp(s, "postgres://", 11) ||
           !strncmp(s, "postgresql+", 11);
}

/* store.c's rule for a value that goes to PostgreSQL: a URL or key=value pairs. */
static bool goes_to_postgres(const char *s)
{
    if (is_pg_url(s))
        return true;
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz_");
    while (n > 0 && s[n] == ' ')
        n++;
    return n > 0 && s[n] == '=';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *url = strndup((const char *)data, size);
    if (!url)
        return 0;
    wf_buf shown = WF_BUF_INIT, conninfo = WF_BUF_INIT, decoded = WF_BUF_INIT, quoted = WF_BUF_INIT;
    if (wf_config_redact_db_url(url, &shown) < 0)
        abort(); /* out of memory, with inputs this small: a bug */
    wf_config_decode_secret(url, strlen(url), &decoded);

    char *pw = NULL, *after = NULL;
    if (goes_to_postgres(url)) {
        as_libpq(url, &conninfo);
        if (libpq_password(wf_buf_cstr(&conninfo), &pw) && pw && strcmp(pw, "***")) {
            wf_buf_clear(&conninfo);
            as_libpq(wf_buf_cstr(&shown), &conninfo);
            bool parses = libpq_password(wf_buf_cstr(&conninfo), &after);
            bool masked = parses && (!after || !strcmp(after, "***"));
            if (!parses && is_pg_url(url)) {
                masked = true; /* a URL masked past its password: see above */
            } else if (!masked && strstr(url, "***")) {
                masked = true; /* not judged: see above */
            } else if (!masked) {
                free(after);
                after = NULL;
                parses = libpq_password(quote_masks(wf_buf_cstr(&conninfo), &quoted), &after);
                masked = parses && (!after || !strcmp(after, "***"));
            }
            if (!masked) {
                fprintf(stderr,
                        "fuzz_db_url: the redacted text %s\n"
                        "  value:    %s\n  shown:    %s\n  password: %s\n",
                        parses ? "holds a password that is not the mask"
                               : "no longer parses (a piece of a value left?)",
                        url, wf_buf_cstr(&shown), pw);
                abort();
            }
        }
    }
    free(after);
    free(pw);
    wf_buf_free(&quoted);
    wf_buf_free(&decoded);
    wf_buf_free(&conninfo);
    wf_buf_free(&shown);
    free(url);
    return 0;
}
