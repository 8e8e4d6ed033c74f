/*
 * text.h: the small text helpers every module shares, so that each rule exists once:
 * - text for people (a terminal, a table, a text log line) with every byte that could
 *   move the cursor, start an escape sequence or break a line written as \xNN;
 * - JSON strings from bytes that may not be UTF-8 (a legacy row may hold anything, and
 *   jansson refuses such strings: the value would silently vanish from the output);
 * - trimming white space, and ISO 8601 UTC times.
 */
#ifndef WF_CORE_TEXT_H
#define WF_CORE_TEXT_H

#include "buf.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Appends s (NULL: nothing) for a terminal or a text log line: printable ASCII and valid
 * UTF-8 as they are; control characters (C0, DEL, C1), bytes that are not valid UTF-8
 * and the backslash itself as "\xNN" (so that the escaping is unambiguous). With max > 0,
 * only the first max characters are kept, followed by "...". Returns 0 or WF_ERR_NOMEM. */
int wf_text_escape(wf_buf *out, const char *s, size_t max);
/* The same as a new string (free() it); NULL only when out of memory. */
char *wf_text_escape_dup(const char *s, size_t max);
/* Does s need wf_text_escape (holds a byte it would change)? */
bool wf_text_needs_escape(const char *s);

/* Is s (NULL: yes) valid UTF-8, as jansson requires of a string? */
bool wf_text_is_utf8(const char *s);
/* Appends s with every byte sequence that is not valid UTF-8 replaced by U+FFFD (one per
 * bad byte), as jansson accepts it. Returns 0 or WF_ERR_NOMEM. */
int wf_text_utf8_lossy(wf_buf *out, const char *s);
/* A JSON string of s, made valid UTF-8 as above; json_null() for NULL. NULL only when
 * out of memory. Use it for every text that did not come from jansson itself. */
json_t *wf_text_json(const char *s);

/* Narrows [*s, *s + *len) to drop white space (space, tab, CR, LF) at both ends. */
void wf_text_trim(const char **s, size_t *len);

/* The times an ISO 8601 timestamp with a four-digit year can hold:
 * 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z. */
#define WF_TEXT_TIME_MIN (-62135596800LL)
#define WF_TEXT_TIME_MAX 253402300799LL
#define WF_TEXT_ISO_MAX 32 /* room for "YYYY-MM-DDTHH:MM:SS.mmmZ" and the NUL */

/* t as "YYYY-MM-DDTHH:MM:SSZ", or with msec >= 0 "YYYY-MM-DDTHH:MM:SS.mmmZ". False (and
 * out "") when t is outside WF_TEXT_TIME_MIN..MAX. */
bool wf_text_iso_time(time_t t, int msec, char out[WF_TEXT_ISO_MAX]);
/* Reads "YYYY-MM-DD[( |T)HH:MM[:SS[.fff...]]][offset]" (offset "", "Z", " UTC", "+HH",
 * "+HHMM" or "+HH:MM"; fractions of a second dropped) into seconds since the epoch. A
 * naive time is UTC, as SQLite's CURRENT_TIMESTAMP, PostgreSQL in a UTC session and the
 * Python system wrote them. False for anything else (s NULL included). */
bool wf_text_parse_time(const char *s, time_t *out);

#endif
