/*
 * login.c: POST /api/v1/auth/login, POST /api/v1/auth/logout, GET /api/v1/auth/me, and
 * the limiter that slows failed logins.
 *
 * A login checks the password with argon2id (deliberately slow), even for an unknown
 * user (against a fixed hash), so that the answer's timing does not tell which
 * usernames exist. A success creates a session token that expires, stored as its hash.
 */
#include "internal.h"

#include "crypto/password.h"
#include "crypto/token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LIMITER_SLOTS 4096
#define FREE_FAILS_PAIR 5  /* failures per (user, address) before slowing down */
#define FREE_FAILS_ADDR 20 /* failures per address, whatever the user */
#define MAX_LOCK_S 300

typedef struct limiter_slot {
    char key[160];
    int fails;
    time_t until; /* refused before this time */
    time_t last;
} limiter_slot;

struct wf_limiter {
    pthread_mutex_t lock;
    limiter_slot slots[LIMITER_SLOTS];
};

int wf_limiter_new(wf_limiter **out)
{
    wf_limiter *l = calloc(1, sizeof *l);
    if (!l)
        return WF_ERR_NOMEM;
    pthread_mutex_init(&l->lock, NULL);
    *out = l;
    return 0;
}

void wf_limiter_free(wf_limiter *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->lock);
    free(l);
}

/* The slot for key: found, or the least recently used one, reset. Caller holds the lock.
 * The table is small and scanned whole: logins are rare next to every other request. */
static limiter_slot *slot(wf_limiter *l, const char *key)
{
    limiter_slot *oldest = &l->slots[0];
    for (size_t i = 0; i < LIMITER_SLOTS; i++) {
        if (!strcmp(l->slots[i].key, key))
            return &l->slots[i];
        if (l->slots[i].last < oldest->last)
            oldest = &l->slots[i];
    }
    memset(oldest, 0, sizeof *oldest);
    snprintf(oldest->key, sizeof oldest->key, "%s", key);
    return oldest;
}

/* Seconds to wait before key may try again, 0 when it may. */
static long wait_for(wf_limiter *l, const char *key, time_t now)
{
    pthread_mutex_lock(&l->lock);
    limiter_slot *s = slot(l, key);
    long wait = s->until > now ? (long)(s->until - now) : 0;
    pthread_mutex_unlock(&l->lock);
    return wait;
}

static void record(wf_limiter *l, const char *key, bool failed, int free_fails, time_t now)
{
    pthread_mutex_lock(&l->lock);
    limiter_slot *s = slot(l, key);
    s->last = now;
    if (!failed) {
        s->fails = 0;
        s->until = 0;
    } else if (++s->fails > free_fails) {
        int over = s->fails - free_fails;
        long lock_s = over >= 9 ? MAX_LOCK_S : 1L << (over - 1);
        s->until = now + (lock_s > MAX_LOCK_S ? MAX_LOCK_S : lock_s);
    }
    pthread_mutex_unlock(&l->lock);
}

/* A fixed argon2id hash to verify against when the user does not exist, made once. */
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char *dummy_hash;

static void make_dummy_hash(void)
{
    wf_buf b = WF_BUF_INIT;
    if (wf_password_hash("not-a-real-password", 19, &b, NULL) == 0)
        dummy_hash = wf_buf_detach(&b);
    wf_buf_free(&b);
}

/* Reads {"username", "password"}; replies 422 and returns false when either is wrong. */
static bool read_credentials(wf_req *r, json_t *body, const char **user, const char **pass,
                             size_t *pass_len)
{
    wf_err err;
    wf_err_init(&err);
    static const char *const known[] = {"username", "password"};
    json_t *extra = wf_unknown_members(body, known, 2);
    json_t *u = json_object_get(body, "username"), *p = json_object_get(body, "password");
    if (!u)
        wf_err_field(&err, "username", "missing", "field required");
    else if (!json_is_string(u))
        wf_err_field(&err, "username", "string_type", "must be a string");
    if (!p)
        wf_err_field(&err, "password", "missing", "field required");
    else if (!json_is_string(p))
        wf_err_field(&err, "password", "string_type", "must be a string");
    if (err.code || extra) {
        wf_reply_invalid_with(r, "body", &err, extra);
        return false;
    }
    *user = json_string_value(u);
    *pass = json_string_value(p);
    *pass_len = json_string_length(p);
    return true;
}

/* Creates a session for user and replies with it. */
static void start_session(wf_req *r, const wf_user *user)
{
    wf_api *api = r->w->api;
    char token[WF_TOKEN_LEN + 1], hash[65], expires[32];
    wf_err err;
    wf_err_init(&err);
    time_t until = time(NULL) + api->opts.session_ttl_s;
    struct tm tm;
    gmtime_r(&until, &tm);
    strftime(expires, sizeof expires, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char label[96];
    snprintf(label, sizeof label, "login from %s", r->client ? r->client : "?");
    int rc = wf_token_new(token, hash, &err);
    if (rc == 0)
        rc = wf_store_token_insert(r->w->store, user->id, "session", label, hash, expires, NULL,
                                   &err);
    if (rc == 0)
        rc = wf_auth_reload(api->auth, r->w->store, &err);
    if (rc < 0)
        wf_reply_error(r, rc, &err);
    else
        wf_reply_json(r, 200,
                      json_pack("{s:s, s:s, s:s}", "token", token, "token_type", "bearer",
                                "expires_at", expires));
    wf_secure_zero(token, sizeof token);
}

void wf_handle_login(wf_req *r)
{
    json_t *body = wf_read_json_object(r);
    const char *username, *password;
    size_t plen;
    if (!body)
        return;
    if (!read_credentials(r, body, &username, &password, &plen))
        goto done;
    wf_api *api = r->w->api;
    char pair[160], addr[80];
    snprintf(pair, sizeof pair, "%.64s|%.64s", username, r->client ? r->client : "");
    snprintf(addr, sizeof addr, "|%.64s", r->client ? r->client : "");
    time_t now = time(NULL);
    long wait = wait_for(api->limiter, pair, now);
    long wait_addr = wait_for(api->limiter, addr, now);
    if (wait_addr > wait)
        wait = wait_addr;
    if (wait > 0) {
        char secs[24];
        snprintf(secs, sizeof secs, "%ld", wait);
        evhttp_add_header(evhttp_request_get_output_headers(r->req), "Retry-After", secs);
        wf_reply_detail(r, 429, "too many failed logins: try again in %ld s", wait);
        goto done;
    }

    wf_user *user = NULL;
    wf_err err;
    wf_err_init(&err);
    int rc = wf_store_user_get(r->w->store, username, &user, &err);
    if (rc < 0 && rc != WF_ERR_NOT_FOUND) {
        wf_reply_error(r, rc, &err);
        goto done;
    }
    pthread_once(&dummy_once, make_dummy_hash);
    const char *phc = user ? user->password_hash : (dummy_hash ? dummy_hash : "");
    bool ok = wf_password_verify(phc, password, plen) == 1 && user && user->is_active;
    record(api->limiter, pair, !ok, FREE_FAILS_PAIR, now);
    record(api->limiter, addr, !ok, FREE_FAILS_ADDR, now);
    if (ok)
        start_session(r, user);
    else
        wf_reply_detail(r, 401, "invalid username or password");
    wf_user_free(user);
done : {
    json_t *p = json_object_get(body, "password");
    if (json_is_string(p)) /* wipe jansson's copy of the password */
        wf_secure_zero((char *)json_string_value(p), json_string_length(p));
}
    json_decref(body);
}

void wf_handle_logout(wf_req *r)
{
    wf_err err;
    wf_err_init(&err);
    int rc = wf_store_token_revoke_hash(r->w->store, r->who.token_hash, &err);
    if (rc == 0 || rc == WF_ERR_NOT_FOUND)
        rc = wf_auth_reload(r->w->api->auth, r->w->store, &err);
    if (rc < 0)
        wf_reply_error(r, rc, &err);
    else
        wf_reply_empty(r, 204);
}

void wf_handle_me(wf_req *r)
{
    wf_reply_json(r, 200,
                  json_pack("{s:I, s:s, s:s}", "id", (json_int_t)r->who.user_id, "username",
                            r->who.username, "role", r->who.role));
}
