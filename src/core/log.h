/*
 * log.h: wfreg's log, to standard error, as text for people or JSON lines for machines
 * (LOG_LEVEL, LOG_FORMAT). Thread-safe: each line is written whole.
 *
 * Redaction: every secret that the process learns (API keys from the environment,
 * SECRET_KEY, Fernet keys, a database password) is registered with wf_log_add_secret();
 * every line is scanned and each occurrence is written as "***". This is the safety net;
 * code still never formats a secret into a message on purpose.
 */
#ifndef WF_CORE_LOG_H
#define WF_CORE_LOG_H

#include <stdio.h>

typedef enum wf_log_level {
    WF_LOG_DEBUG = 0,
    WF_LOG_INFO = 1,
    WF_LOG_WARN = 2,
    WF_LOG_ERROR = 3,
    WF_LOG_OFF = 4,
} wf_log_level;

typedef enum wf_log_format { WF_LOG_TEXT = 0, WF_LOG_JSON = 1 } wf_log_format;

/* Parses "debug", "info", "warning"/"warn", "error" (any case); returns -1 if unknown. */
int wf_log_level_parse(const char *s);
/* Parses "text" or "json"; returns -1 if unknown. */
int wf_log_format_parse(const char *s);

void wf_log_setup(wf_log_level level, wf_log_format format);
/* Where lines go (default stderr); for tests. */
void wf_log_set_stream(FILE *f);
wf_log_level wf_log_get_level(void);

/* Registers a secret to be masked in every later line (copied; strings shorter than 4
 * bytes are ignored, they would mask ordinary words). */
void wf_log_add_secret(const char *secret);
/* Forgets (and wipes) every registered secret. */
void wf_log_clear_secrets(void);

void wf_log(wf_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define wf_debug(...) wf_log(WF_LOG_DEBUG, __VA_ARGS__)
#define wf_info(...) wf_log(WF_LOG_INFO, __VA_ARGS__)
#define wf_warn(...) wf_log(WF_LOG_WARN, __VA_ARGS__)
#define wf_error(...) wf_log(WF_LOG_ERROR, __VA_ARGS__)

#endif
