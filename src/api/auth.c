/*
 * auth.c: who is calling. Bearer tokens (login sessions and API tokens alike) are kept
 * in the database only as SHA-256 hashes; the server holds an immutable snapshot of the
 * usable ones (hash -> user, role, expiry), rebuilt after a login or logout here and
 * whenever another process commits (a revocation from `wfreg tokens revoke`), so that
 * checking a request costs a hash and a binary search, and no database query.
 *
 * Failed logins are slowed per (user, address) and per address: after a few failures
 * the next attempts are refused with 429 for a time that doubles with each failure.
 */
#include "internal.h"

#include "crypto/hash.h"
#include "crypto/password.h"
#include "crypto/token.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef struct auth_entry {
    char hash[65];
    int64_t user_id;
    char username[72];
    char role[16];
    time_t expires; /* 0: never */
} auth_entry;

typedef struct auth_snap {
    atomic_int refs;
    size_t n;
    auth_entry *e; /* sorted by hash */
} auth_snap;

struct wf_auth {
    pthread_mutex_t lock; /* guards cur: the pointer copy and the reference only */
    auth_snap *cur;
    /* One reload at a time, read and swap together: otherwise a slow reload that read
     * the tokens before a login committed could swap in after the login's own reload
     * and hide the new session for a moment. */
    pthread_mutex_t reload_lock;
};

static void snap_unref(auth_snap *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1) {
        wf_secure_zero(s->e, s->n * sizeof *s->e);
        free(s->e);
        free(s);
    }
}

int wf_auth_new(wf_auth **out)
{
    wf_auth *a = calloc(1, sizeof *a);
    if (!a)
        return WF_ERR_NOMEM;
    a->cur = calloc(1, sizeof *a->cur);
    if (!a->cur) {
        free(a);
        return WF_ERR_NOMEM;
    }
    atomic_init(&a->cur->refs, 1);
    pthread_mutex_init(&a->lock, NULL);
    pthread_mutex_init(&a->reload_lock, NULL);
    *out = a;
    return 0;
}

void wf_auth_free(wf_auth *a)
{
    if (!a)
        return;
    snap_unref(a->cur);
    pthread_mutex_destroy(&a->lock);
    pthread_mutex_destroy(&a->reload_lock);
    free(a);
}

static int cmp_entry(const void *x, const void *y)
{
    return strcmp(((const auth_entry *)x)->hash, ((const auth_entry *)y)->hash);
}

static int reload_locked(wf_auth *a, wf_store *s, wf_err *err);

/* "2026-11-25T16:29:59Z" -> seconds; 0 for NULL or unreadable (treated as never). */
static time_t parse_iso(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
        return 0;
    return timegm(&tm);
}

int wf_auth_reload(wf_auth *a, wf_store *s, wf_err *err)
{
    pthread_mutex_lock(&a->reload_lock);
    int rc = reload_locked(a, s, err);
    pthread_mutex_unlock(&a->reload_lock);
    return rc;
}

static int reload_locked(wf_auth *a, wf_store *s, wf_err *err)
{
    wf_token_row *rows = NULL;
    size_t n = 0;
    int rc = wf_store_token_list(s, false, &rows, &n, err);
    if (rc < 0)
        return rc;
    auth_snap *snap = calloc(1, sizeof *snap);
    auth_entry *e = calloc(n ? n : 1, sizeof *e);
    if (!snap || !e) {
        free(snap);
        free(e);
        wf_token_rows_free(rows, n);
        return wf_err_set(err, WF_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(e[i].hash, sizeof e[i].hash, "%s", rows[i].token_hash ? rows[i].token_hash : "");
        e[i].user_id = rows[i].user_id;
        snprintf(e[i].username, sizeof e[i].username, "%s",
                 rows[i].username ? rows[i].username : "");
        snprintf(e[i].role, sizeof e[i].role, "%s", rows[i].role ? rows[i].role : "viewer");
        e[i].expires = parse_iso(rows[i].expires_at);
    }
    wf_token_rows_free(rows, n);
    qsort(e, n, sizeof *e, cmp_entry);
    snap->n = n;
    snap->e = e;
    atomic_init(&snap->refs, 1);
    pthread_mutex_lock(&a->lock);
    auth_snap *old = a->cur;
    a->cur = snap;
    pthread_mutex_unlock(&a->lock);
    snap_unref(old);
    return 0;
}

static auth_snap *acquire(wf_auth *a)
{
    pthread_mutex_lock(&a->lock);
    auth_snap *s = a->cur;
    atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&a->lock);
    return s;
}

/* The token of "Authorization: Bearer <token>", or NULL. */
static const char *bearer(wf_req *r)
{
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(r->req), "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7))
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return *h ? h : NULL;
}

static void unauthorized(wf_req *r, const char *msg)
{
    evhttp_add_header(evhttp_request_get_output_headers(r->req), "WWW-Authenticate", "Bearer");
    wf_reply_detail(r, 401, "%s", msg);
}

bool wf_auth_check(wf_req *r)
{
    if (r->route->need == WF_NEED_NONE)
        return true;
    const char *token = bearer(r);
    if (!token) {
        unauthorized(r, "Not authenticated");
        return false;
    }
    auth_entry key;
    memset(&key, 0, sizeof key);
    wf_token_hash(token, strlen(token), key.hash);
    auth_snap *s = acquire(r->w->api->auth);
    /* The search compares hashes, not tokens: timing tells nothing about a token. */
    const auth_entry *e = bsearch(&key, s->e, s->n, sizeof *s->e, cmp_entry);
    bool ok = e && (e->expires == 0 || e->expires > time(NULL));
    if (ok) {
        r->who.user_id = e->user_id;
        snprintf(r->who.username, sizeof r->who.username, "%s", e->username);
        snprintf(r->who.role, sizeof r->who.role, "%s", e->role);
        memcpy(r->who.token_hash, key.hash, sizeof key.hash);
    }
    snap_unref(s);
    if (!ok) {
        unauthorized(r, "invalid or expired token");
        return false;
    }
    if (r->route->need == WF_NEED_ADMIN && strcmp(r->who.role, "admin")) {
        wf_reply_detail(r, 403, "this needs the admin role; '%s' is a %s", r->who.username,
                        r->who.role);
        return false;
    }
    return true;
}
