/*
 * writes.c: the write path (validate -> encrypt -> store, one transaction), the
 * registry loader and key rotation. Each function keeps its secrets in wiped buffers and
 * its errors free of them: messages name the engine and the field, never a key.
 */
#include "writes.h"

#include "core/buf.h"
#include "core/log.h"

#include <stdlib.h>
#include <string.h>

static const char no_key_msg[] =
    "api_key: cannot store an API key: no encryption key is configured "
    "(set SECRET_KEY or WFREG_FERNET_KEYS)";

wf_key_status wf_writes_key_status(const wf_keyring *kr, const wf_engine *e, int *key_index)
{
    if (key_index)
        *key_index = -1;
    if (e->source == WF_SOURCE_ENVIRONMENT)
        return (e->api_key_env && e->api_key_env[0]) ? WF_KEY_OK : WF_KEY_NONE;
    if (!e->api_key_encrypted || !e->api_key_encrypted[0])
        return WF_KEY_NONE;
    wf_buf plain;
    wf_buf_init_secret(&plain);
    int rc =
        kr ? wf_keyring_decrypt(kr, e->api_key_encrypted, &plain, key_index, NULL) : WF_ERR_KEY;
    wf_buf_wipe(&plain);
    return rc == 0 ? WF_KEY_OK : WF_KEY_UNREADABLE;
}

/* Encrypts the patch's key into e->api_key_encrypted, or drops it, as the patch says. */
static int apply_key(const wf_keyring *kr, const wf_engine_patch *p, wf_engine *e, wf_err *err)
{
    if (p->key_op == WF_KEYOP_REMOVE) {
        free(e->api_key_encrypted);
        e->api_key_encrypted = NULL;
        return 0;
    }
    if (p->key_op != WF_KEYOP_SET)
        return 0;
    if (!kr || !wf_keyring_can_encrypt(kr))
        return wf_err_set(err, WF_ERR_KEY, "%s", no_key_msg);
    wf_buf token = WF_BUF_INIT;
    int rc = wf_keyring_encrypt(kr, p->api_key, p->api_key_len, &token, err);
    if (rc < 0) {
        wf_buf_free(&token);
        return rc;
    }
    char *t = wf_buf_detach(&token);
    if (!t)
        return wf_err_set(err, WF_ERR_NOMEM, "out of memory");
    free(e->api_key_encrypted);
    e->api_key_encrypted = t;
    return 0;
}

/* Reads back what was stored, with its key status, for the caller. */
static int read_back(wf_store *s, const wf_keyring *kr, const char *name, wf_engine **out,
                     wf_err *err)
{
    if (!out)
        return 0;
    int rc = wf_store_engine_get(s, name, out, err);
    if (rc == 0)
        (*out)->key_status = wf_writes_key_status(kr, *out, NULL);
    return rc;
}

int wf_writes_create(wf_store *s, const wf_keyring *kr, const wf_engine_patch *p,
                     const wf_actor *actor, wf_engine **out, wf_err *err)
{
    wf_engine *e = NULL;
    int64_t id = 0;
    int rc = wf_engine_validate_patch(p, NULL, err);
    if (rc < 0)
        goto done;
    e = wf_engine_apply_patch(NULL, p);
    if (!e) {
        rc = wf_err_set(err, WF_ERR_NOMEM, "out of memory");
        goto done;
    }
    e->created_by = actor ? actor->user_id : 0;
    if ((rc = apply_key(kr, p, e, err)) < 0)
        goto done;
    if ((rc = wf_store_engine_insert(s, e, &id, err)) < 0)
        goto done;
    rc = read_back(s, kr, e->name, out, err);
done:
    wf_engine_free(e);
    return rc;
}

/* WF_ERR_NOT_FOUND for `name`, or WF_ERR_CONFLICT when it is an environment engine. */
static int missing(const wf_snapshot *snap, const char *name, wf_err *err)
{
    if (snap && wf_snapshot_find_env(snap, name))
        return wf_err_set(err, WF_ERR_CONFLICT,
                          "engine '%s' comes from the environment and is read-only: "
                          "change its environment variables instead",
                          name);
    return wf_err_set(err, WF_ERR_NOT_FOUND, "no engine named '%s'", name);
}

int wf_writes_update(wf_store *s, const wf_keyring *kr, const wf_snapshot *snap, const char *name,
                     const wf_engine_patch *p, const wf_actor *actor, wf_engine **out, wf_err *err)
{
    (void)actor; /* recorded by the audit trail */
    wf_engine *cur = NULL, *next = NULL;
    bool in_tx = false;
    int rc = wf_store_begin(s, err);
    if (rc < 0)
        goto done;
    in_tx = true;
    rc = wf_store_engine_get(s, name, &cur, err);
    if (rc == WF_ERR_NOT_FOUND)
        rc = missing(snap, name, err);
    if (rc < 0)
        goto done;
    if ((rc = wf_engine_validate_patch(p, cur, err)) < 0)
        goto done;
    next = wf_engine_apply_patch(cur, p);
    if (!next) {
        rc = wf_err_set(err, WF_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((rc = apply_key(kr, p, next, err)) < 0)
        goto done;
    if ((rc = wf_store_engine_update(s, cur->id, next, err)) < 0)
        goto done;
    if ((rc = wf_store_commit(s, err)) < 0)
        goto done;
    in_tx = false;
    rc = read_back(s, kr, next->name, out, err);
done:
    if (in_tx)
        wf_store_rollback(s);
    wf_engine_free(next);
    wf_engine_free(cur);
    return rc;
}

int wf_writes_delete(wf_store *s, const wf_snapshot *snap, const char *name, const wf_actor *actor,
                     wf_err *err)
{
    (void)actor;
    int rc = wf_store_engine_delete(s, name, err);
    if (rc == WF_ERR_NOT_FOUND)
        rc = missing(snap, name, err);
    return rc;
}

/* The registry's view of this process's sources. */
typedef struct load_ctx {
    wf_store *store;
    const wf_keyring *keyring;
} load_ctx;

static int load_db(void *ctx, wf_engine ***out, size_t *n, wf_err *err)
{
    load_ctx *lc = ctx;
    return wf_store_engine_list(lc->store, out, n, err);
}

static wf_key_status load_key_status(void *ctx, const wf_engine *e)
{
    load_ctx *lc = ctx;
    return wf_writes_key_status(lc->keyring, e, NULL);
}

int wf_writes_load_registry(wf_registry *r, wf_store *s, const wf_keyring *kr,
                            wf_engine *const *env, size_t nenv, bool log_startup, wf_err *err)
{
    load_ctx lc = {s, kr};
    wf_registry_source src = {&lc, load_db, load_key_status, env, nenv};
    return wf_registry_load(r, &src, log_startup, err);
}

/* Rotates one engine's token; returns the outcome's word or NULL on a hard error. */
static const char *rotate_one(wf_store *s, const wf_keyring *kr, const wf_engine *e, bool dry_run,
                              wf_rotate_report *rep, wf_err *err)
{
    const char *what = NULL;
    int key_index = -1;
    wf_buf plain, token = WF_BUF_INIT;
    wf_buf_init_secret(&plain);
    if (wf_keyring_decrypt(kr, e->api_key_encrypted, &plain, &key_index, NULL) < 0) {
        rep->unreadable++;
        what = "unreadable";
    } else if (key_index == 0) {
        rep->current++;
        what = "current";
    } else if (dry_run) {
        rep->rotated++;
        what = "would rotate";
    } else if (wf_keyring_encrypt(kr, plain.ptr, plain.len, &token, err) == 0) {
        bool changed = false;
        if (wf_store_engine_swap_key(s, e->id, e->api_key_encrypted, wf_buf_cstr(&token), &changed,
                                     err) == 0) {
            what = changed ? "rotated" : "changed meanwhile";
            if (changed)
                rep->rotated++;
            else
                rep->raced++;
        }
    }
    wf_buf_wipe(&plain);
    wf_buf_free(&token);
    return what;
}

int wf_writes_rotate_keys(wf_store *s, const wf_keyring *kr, bool dry_run, const wf_actor *actor,
                          wf_rotate_report *rep,
                          void (*report_cb)(void *ctx, const char *name, const char *what),
                          void *ctx, wf_err *err)
{
    wf_engine **list = NULL;
    size_t n = 0;
    bool in_tx = false;
    memset(rep, 0, sizeof *rep);
    (void)actor;
    int rc = 0;
    if (!wf_keyring_can_encrypt(kr)) {
        rc = wf_err_set(err, WF_ERR_KEY,
                        "no encryption key is configured (set SECRET_KEY or WFREG_FERNET_KEYS)");
        goto done;
    }
    if (!dry_run) {
        if ((rc = wf_store_begin(s, err)) < 0)
            goto done;
        in_tx = true;
    }
    if ((rc = wf_store_engine_list(s, &list, &n, err)) < 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        if (!list[i]->api_key_encrypted || !list[i]->api_key_encrypted[0])
            continue;
        rep->total++;
        const char *what = rotate_one(s, kr, list[i], dry_run, rep, err);
        if (!what) {
            rc = err && err->code ? err->code : WF_ERR_INTERNAL;
            goto done;
        }
        if (report_cb)
            report_cb(ctx, list[i]->name, what);
    }
    if (in_tx) {
        rc = wf_store_commit(s, err);
        in_tx = false;
    }
done:
    if (in_tx)
        wf_store_rollback(s);
    for (size_t i = 0; i < n; i++)
        wf_engine_free(list[i]);
    free(list);
    return rc;
}
