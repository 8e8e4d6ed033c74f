/*
 * fuzz_db_url.c: a DATABASE_URL through redaction (wf_config_redact_db_url, which makes
 * the text that `wfreg check`, log lines and connection errors show) and the decoding of
 * the secrets found in it (wf_config_decode_secret, what the log masks).
 *
 * Input: the variable's value (up to its first NUL, as the environment holds it).
 *
 * The check is against libpq itself, which decides what the password is, for a value the
 * store would hand to PostgreSQL (postgresql://, postgres://, postgresql+driver://, or a
 * libpq "key=value" string; store.c) in which libpq finds one. A parser of our own that
 * reads the value differently from libpq would show the password, or a piece of it.
 *
 * First a quick check: the redacted text parses and its password is "***". When it is
 * not (a leak, or masking more than the password, which config.c does on purpose in
 * places and which can leave a text that reads otherwise), the password's bytes decide,
 * one by one: a letter or digit of the value whose change changes libpq's password in
 * just that character is a byte of the password, and changing it must not change the
 * redacted text. (A password without a letter or digit cannot be judged so.)
 */
#include "core/buf.h"
#include "core/config.h"

#include <ctype.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The password libpq reads in conninfo (a new string), or NULL: none, or no parse. */
static char *libpq_password(const char *conninfo)
{
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &msg);
    PQfreemem(msg);
    char *pw = NULL;
    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (!strcmp(o->keyword, "password") && o->val && o->val[0])
            pw = strdup(o->val);
    }
    PQconninfoFree(opts);
    return pw;
}

/* The password libpq reads in the value as the store hands it over (SQLAlchemy's
 * "postgresql+driver://" as "postgresql://", as wf_pg_open does). */
static char *password_of(const char *url)
{
    const char *sep = !strncmp(url, "postgresql+", 11) ? strstr(url, "://") : NULL;
    wf_buf conninfo = WF_BUF_INIT;
    if (sep) {
        wf_buf_puts(&conninfo, "postgresql");
        wf_buf_puts(&conninfo, sep);
    } else {
        wf_buf_puts(&conninfo, url);
    }
    char *pw = wf_buf_ok(&conninfo) ? libpq_password(wf_buf_cstr(&conninfo)) : NULL;
    wf_buf_free(&conninfo);
    return pw;
}

/* store.c's rule for a value that goes to PostgreSQL: a URL or key=value pairs. */
static bool goes_to_postgres(const char *s)
{
    if (!strncmp(s, "postgresql://", 13) || !strncmp(s, "postgres://", 11) ||
        !strncmp(s, "postgresql+", 11))
        return true;
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz_");
    while (n > 0 && s[n] == ' ')
        n++;
    return n > 0 && s[n] == '=';
}

static char *redacted(const char *url)
{
    wf_buf b = WF_BUF_INIT;
    if (wf_config_redact_db_url(url, &b) < 0)
        abort(); /* out of memory, with inputs this small: a bug */
    return wf_buf_detach(&b);
}

/* Another letter or digit of the same kind. */
static char other(char c)
{
    return c == '9' ? '8' : c == 'z' ? 'y' : c == 'Z' ? 'Y' : (char)(c + 1);
}

/* Do a and b differ in exactly one character, of the same length? */
static bool one_apart(const char *a, const char *b)
{
    if (strlen(a) != strlen(b))
        return false;
    int n = 0;
    for (; *a; a++, b++)
        n += *a != *b;
    return n == 1;
}

/* Is byte i of url one of the password's, and does it show in the redacted text? */
static bool byte_shows(const char *url, size_t i, const char *pw, const char *shown)
{
    if (!isalnum((unsigned char)url[i]))
        return false;
    char *copy = strdup(url);
    if (!copy)
        abort();
    copy[i] = other(copy[i]);
    char *pw2 = password_of(copy);
    bool shows = false;
    if (pw2 && one_apart(pw, pw2)) {
        char *shown2 = redacted(copy);
        shows = strcmp(shown, shown2) != 0;
        free(shown2);
    }
    free(pw2);
    free(copy);
    return shows;
}

static void check(const char *url, const char *shown)
{
    char *pw = password_of(url);
    if (!pw || !strcmp(pw, "***")) {
        free(pw);
        return;
    }
    char *after = password_of(shown);
    bool quick = after && !strcmp(after, "***");
    free(after);
    for (size_t i = 0; !quick && url[i]; i++) {
        if (byte_shows(url, i, pw, shown)) {
            fprintf(stderr,
                    "fuzz_db_url: the redacted text shows the password's byte %zu\n"
                    "  value:    %s\n  shown:    %s\n  password: %s\n",
                    i, url, shown, pw);
            abort();
        }
    }
    free(pw);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *url = strndup((const char *)data, size);
    if (!url)
        return 0;
    char *shown = redacted(url);
    wf_buf decoded = WF_BUF_INIT;
    wf_config_decode_secret(url, strlen(url), &decoded);
    if (goes_to_postgres(url))
        check(url, shown);
    wf_buf_free(&decoded);
    free(shown);
    free(url);
    return 0;
}
