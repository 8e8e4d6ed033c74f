/*
 * log.c: formatting, redaction and the single write of each line. A mutex guards the
 * settings, the list of secrets and the write, so lines from several threads never
 * interleave.
 */
#include "log.h"
#include "buf.h"
#include "text.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static wf_log_level log_level = WF_LOG_INFO;
static wf_log_format log_format = WF_LOG_TEXT;
static FILE *log_stream;
static char **secrets;
static size_t nsecrets;

static const char *level_names[] = {"DEBUG", "INFO", "WARNING", "ERROR"};

int wf_log_level_parse(const char *s)
{
    if (!s)
        return -1;
    if (!strcasecmp(s, "debug"))
        return WF_LOG_DEBUG;
    if (!strcasecmp(s, "info"))
        return WF_LOG_INFO;
    if (!strcasecmp(s, "warning") || !strcasecmp(s, "warn"))
        return WF_LOG_WARN;
    if (!strcasecmp(s, "error"))
        return WF_LOG_ERROR;
    return -1;
}

int wf_log_format_parse(const char *s)
{
    if (!s)
        return -1;
    if (!strcasecmp(s, "text"))
        return WF_LOG_TEXT;
    if (!strcasecmp(s, "json"))
        return WF_LOG_JSON;
    return -1;
}

void wf_log_setup(wf_log_level level, wf_log_format format)
{
    pthread_mutex_lock(&log_lock);
    log_level = level;
    log_format = format;
    pthread_mutex_unlock(&log_lock);
}

void wf_log_set_stream(FILE *f)
{
    pthread_mutex_lock(&log_lock);
    log_stream = f;
    pthread_mutex_unlock(&log_lock);
}

wf_log_level wf_log_get_level(void)
{
    pthread_mutex_lock(&log_lock);
    wf_log_level l = log_level;
    pthread_mutex_unlock(&log_lock);
    return l;
}

void wf_log_add_secret(const char *secret)
{
    if (!secret || strlen(secret) < 4)
        return;
    pthread_mutex_lock(&log_lock);
    for (size_t i = 0; i < nsecrets; i++) {
        if (!strcmp(secrets[i], secret))
            goto done;
    }
    char **grown = realloc(secrets, (nsecrets + 1) * sizeof *secrets);
    if (!grown)
        goto done;
    secrets = grown;
    secrets[nsecrets] = strdup(secret);
    if (secrets[nsecrets])
        nsecrets++;
done:
    pthread_mutex_unlock(&log_lock);
}

void wf_log_clear_secrets(void)
{
    pthread_mutex_lock(&log_lock);
    for (size_t i = 0; i < nsecrets; i++)
        wf_free_secret(secrets[i]);
    free(secrets);
    secrets = NULL;
    nsecrets = 0;
    pthread_mutex_unlock(&log_lock);
}

/* Copies msg into out with every registered secret replaced by "***". Caller holds the
 * lock. Naive search is fine: a handful of secrets, short lines. */
static void redact(const char *msg, wf_buf *out)
{
    const char *p = msg;
    while (*p) {
        size_t best_len = 0;
        for (size_t i = 0; i < nsecrets; i++) {
            size_t n = strlen(secrets[i]);
            if (n > best_len && !strncmp(p, secrets[i], n))
                best_len = n;
        }
        if (best_len) {
            wf_buf_puts(out, "***");
            p += best_len;
        } else {
            wf_buf_putc(out, *p++);
        }
    }
}

static void timestamp(char out[WF_TEXT_ISO_MAX])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    wf_text_iso_time(ts.tv_sec, (int)(ts.tv_nsec / 1000000L), out);
}

void wf_log(wf_log_level level, const char *fmt, ...)
{
    if (level < WF_LOG_DEBUG || level > WF_LOG_ERROR)
        return;
    wf_buf msg = WF_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    wf_buf_vprintf(&msg, fmt, ap);
    va_end(ap);

    char ts[WF_TEXT_ISO_MAX];
    timestamp(ts);

    pthread_mutex_lock(&log_lock);
    if (level < log_level)
        goto done;
    wf_buf clean = WF_BUF_INIT;
    redact(wf_buf_cstr(&msg), &clean);
    FILE *f = log_stream ? log_stream : stderr;
    if (log_format == WF_LOG_JSON) {
        /* wf_text_json: a message may quote bytes that are not UTF-8 (a legacy row's
         * name), which jansson refuses; the line must not be lost for them */
        json_t *o = json_pack("{s:s, s:s, s:o}", "ts", ts, "level", level_names[level], "msg",
                              wf_text_json(wf_buf_cstr(&clean)));
        char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (line)
            fprintf(f, "%s\n", line);
        else /* out of memory: say that a line was lost rather than nothing */
            fprintf(f,
                    "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"(log line lost: out of "
                    "memory)\"}\n",
                    ts, level_names[level]);
        free(line);
        json_decref(o);
    } else {
        /* one line per call, whatever the message quotes: a legacy row's name with a
         * newline or an escape sequence must not forge a line or drive the terminal */
        wf_buf shown = WF_BUF_INIT;
        wf_text_escape(&shown, wf_buf_cstr(&clean), 0);
        fprintf(f, "%s %-7s %s\n", ts, level_names[level],
                wf_buf_ok(&shown) ? wf_buf_cstr(&shown) : "(log line lost: out of memory)");
        wf_buf_free(&shown);
    }
    fflush(f);
    wf_buf_free(&clean);
done:
    pthread_mutex_unlock(&log_lock);
    wf_buf_free(&msg);
}
