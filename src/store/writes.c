/*
 * writes.c: the write path (validate -> encrypt -> store, one transaction), the
 * registry loader and key rotation. Each function keeps its secrets in wiped buffers and
 * its errors free of them: messages name the engine and the field, never a key.
 *
 * The audit trail is written here, in the same transaction as the change it records, so
 * that there is never a change without its row nor a row without its change. A row names
 * the fields that changed, never their values (an API key's least of all).
 */
#include "writes.h"

#include "core/buf.h"
#include "core/log.h"

#include <stdlib.h>
#include <string.h>

static const wf_actor default_actor = {0, "cli"};

static const char no_key_msg[] = "api_key: cannot store an API key: " WF_KEYRING_NO_KEY_MSG;

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

/* ---- the audit trail ------------------------------------------------------------------ */

/* The names of the fields a change touched, as a JSON array: ["name","api_url"]. The
 * names are fixed identifiers, so no escaping is needed. */
typedef struct field_list {
    wf_buf json;
    size_t n;
} field_list;

static void fields_init(field_list *f)
{
    wf_buf_init(&f->json);
    wf_buf_putc(&f->json, '[');
    f->n = 0;
}

static void fields_add(field_list *f, const char *name)
{
    wf_buf_printf(&f->json, "%s\"%s\"", f->n ? "," : "", name);
    f->n++;
}

static const char *fields_json(field_list *f)
{
    if (f->json.len == 0 || f->json.ptr[f->json.len - 1] != ']')
        wf_buf_putc(&f->json, ']');
    return wf_buf_cstr(&f->json);
}

/* Writes one audit row for engine e; joins the transaction the caller holds. */
static int audit(wf_store *s, const wf_actor *actor, const char *action, const wf_engine *e,
                 field_list *f, wf_err *err)
{
    if (!actor || !actor->name)
        actor = &default_actor;
    const char *fields = f ? fields_json(f) : "[]";
    if (f && !wf_buf_ok(&f->json))
        return wf_err_set(err, WF_ERR_NOMEM, "out of memory");
    wf_audit_row row = {0,     NULL,    actor->user_id, (char *)actor->name, (char *)action,
                        e->id, e->name, (char *)fields};
    int rc = wf_store_audit_insert(s, &row, err);
    if (rc < 0)
        wf_err_prefix(err, "audit log");
    return rc;
}

/* Two config texts mean the same when they parse to equal JSON (the stored text may be
 * spaced differently from the compact text a patch produces). */
static bool same_config(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    if (!strcmp(a, b))
        return true;
    json_t *ja = json_loads(a, JSON_DECODE_ANY, NULL), *jb = json_loads(b, JSON_DECODE_ANY, NULL);
    bool same = ja && jb && json_equal(ja, jb);
    json_decref(ja);
    json_decref(jb);
    return same;
}

static bool same_text(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

/* The fields an update changes, comparing the stored record with the one to be written. */
static void changed_fields(const wf_engine *cur, const wf_engine *next, const wf_engine_patch *p,
                           field_list *f)
{
    if (!same_text(cur->name, next->name))
        fields_add(f, "name");
    if (!same_text(cur->engine_type, next->engine_type))
        fields_add(f, "engine_type");
    if (!same_text(cur->api_url, next->api_url))
        fields_add(f, "api_url");
    if (cur->is_active != next->is_active)
        fields_add(f, "active");
    if (!same_config(cur->config, next->config))
        fields_add(f, "config");
    /* a new key is a change even when it is the same key (it cannot be compared); removing
     * is one only when there was a key */
    if (p->key_op == WF_KEYOP_SET || (p->key_op == WF_KEYOP_REMOVE && wf_engine_has_api_key(cur)))
        fields_add(f, "api_key");
}

/* ---- create, update, delete ------------------------------------------------------------ */

/* Every field a create writes: all the columns, and the key when one is given. */
static void created_fields(const wf_engine_patch *p, field_list *f)
{
    static const char *const always[] = {"name", "engine_type", "api_url", "active", "config"};
    for (size_t i = 0; i < sizeof always / sizeof always[0]; i++)
        fields_add(f, always[i]);
    if (p->key_op == WF_KEYOP_SET)
        fields_add(f, "api_key");
}

int wf_writes_create(wf_store *s, const wf_keyring *kr, const wf_engine_patch *p,
                     const wf_actor *actor, wf_engine **out, wf_err *err)
{
    wf_engine *e = NULL;
    field_list fields;
    bool in_tx = false;
    fields_init(&fields);
    int rc = wf_engine_validate_patch(p, NULL, err);
    if (rc < 0)
        goto done;
    e = wf_engine_apply_patch(NULL, p);
    if (!e) {
        rc = wf_err_set(err, WF_ERR_NOMEM, "out of memory");
        goto done;
    }
    e->created_by = actor ? actor->user_id : 0;
    if ((rc = apply_key(kr, p, e, err)) < 0 || (rc = wf_store_begin(s, err)) < 0)
        goto done;
    in_tx = true;
    if ((rc = wf_store_engine_insert(s, e, &e->id, err)) < 0)
        goto done;
    created_fields(p, &fields);
    if ((rc = audit(s, actor, "create", e, &fields, err)) < 0)
        goto done;
    in_tx = false;
    if ((rc = wf_store_commit(s, err)) < 0)
        goto done;
    rc = read_back(s, kr, e->name, out, err);
done:
    if (in_tx)
        wf_store_rollback(s);
    wf_buf_free(&fields.json);
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

/* Opens the transaction of an update or a delete and reads the stored engine `name`
 * (the audit row keeps its id, which outlives the row). On failure nothing is left open. */
static int begin_with(wf_store *s, const wf_snapshot *snap, const char *name, wf_engine **cur,
                      wf_err *err)
{
    int rc = wf_store_begin(s, err);
    if (rc < 0)
        return rc;
    rc = wf_store_engine_get(s, name, cur, err);
    if (rc == WF_ERR_NOT_FOUND)
        rc = missing(snap, name, err);
    if (rc < 0)
        wf_store_rollback(s);
    return rc;
}

int wf_writes_update(wf_store *s, const wf_keyring *kr, const wf_snapshot *snap, const char *name,
                     const wf_engine_patch *p, const wf_actor *actor, wf_engine **out, wf_err *err)
{
    wf_engine *cur = NULL, *next = NULL;
    field_list fields;
    bool in_tx = false;
    fields_init(&fields);
    int rc = begin_with(s, snap, name, &cur, err);
    if (rc < 0)
        goto done;
    in_tx = true;
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
    changed_fields(cur, next, p, &fields);
    if (fields.n > 0 && (rc = audit(s, actor, "update", next, &fields, err)) < 0)
        goto done;
    in_tx = false;
    if ((rc = wf_store_commit(s, err)) < 0)
        goto done;
    rc = read_back(s, kr, next->name, out, err);
done:
    if (in_tx)
        wf_store_rollback(s);
    wf_buf_free(&fields.json);
    wf_engine_free(next);
    wf_engine_free(cur);
    return rc;
}

int wf_writes_delete(wf_store *s, const wf_snapshot *snap, const char *name, const wf_actor *actor,
                     wf_err *err)
{
    wf_engine *cur = NULL;
    bool in_tx = false;
    int rc = begin_with(s, snap, name, &cur, err);
    if (rc < 0)
        goto done;
    in_tx = true;
    if ((rc = wf_store_engine_delete(s, name, err)) < 0 ||
        (rc = audit(s, actor, "delete", cur, NULL, err)) < 0)
        goto done;
    in_tx = false;
    rc = wf_store_commit(s, err);
done:
    if (in_tx)
        wf_store_rollback(s);
    wf_engine_free(cur);
    return rc;
}

/* The registry's view of this process's sources. */
typedef struct load_ctx {
    wf_store *store;
    const wf_keyring *keyring;
    wf_snapshot *prev; /* the snapshot being replaced: its key statuses are still true */
} load_ctx;

static int load_db(void *ctx, wf_engine ***out, size_t *n, wf_err *err)
{
    load_ctx *lc = ctx;
    return wf_store_engine_list(lc->store, out, n, err);
}

/* Opening a token is the costly part of a reload (a reload follows every write): an
 * engine whose token is the very one the previous snapshot already opened, under the
 * same keyring, keeps its status without being opened again. */
static wf_key_status load_key_status(void *ctx, const wf_engine *e, int *key_index)
{
    load_ctx *lc = ctx;
    const wf_engine *old = lc->prev ? wf_snapshot_find(lc->prev, e->name) : NULL;
    if (old && old->source == WF_SOURCE_DATABASE && old->api_key_encrypted &&
        e->api_key_encrypted && !strcmp(old->api_key_encrypted, e->api_key_encrypted) &&
        (old->key_status == WF_KEY_OK || old->key_status == WF_KEY_UNREADABLE)) {
        *key_index = old->key_number - 1; /* kept with the status */
        return old->key_status;
    }
    return wf_writes_key_status(lc->keyring, e, key_index);
}

int wf_writes_load_registry(wf_registry *r, wf_store *s, const wf_keyring *kr,
                            wf_engine *const *env, size_t nenv, bool log_startup, wf_err *err)
{
    load_ctx lc = {s, kr, wf_registry_acquire(r)};
    wf_registry_source src = {&lc, load_db, load_key_status, env, nenv};
    int rc = wf_registry_load(r, &src, log_startup, err);
    wf_snapshot_unref(lc.prev);
    return rc;
}

/* Rotates one engine's token; returns the outcome's word or NULL on a hard error. */
static const char *rotate_one(wf_store *s, const wf_keyring *kr, const wf_engine *e, bool dry_run,
                              const wf_actor *actor, wf_rotate_report *rep, wf_err *err)
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
        field_list fields;
        fields_init(&fields);
        fields_add(&fields, "api_key");
        if (wf_store_engine_swap_key(s, e->id, e->api_key_encrypted, wf_buf_cstr(&token), &changed,
                                     err) == 0 &&
            (!changed || audit(s, actor, "key_rotate", e, &fields, err) == 0)) {
            what = changed ? "rotated" : "changed meanwhile";
            if (changed)
                rep->rotated++;
            else
                rep->raced++;
        }
        wf_buf_free(&fields.json);
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
    int rc = 0;
    if (!wf_keyring_can_encrypt(kr)) {
        rc = wf_err_set(err, WF_ERR_KEY, "%s", WF_KEYRING_NO_KEY_MSG);
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
        const char *what = rotate_one(s, kr, list[i], dry_run, actor, rep, err);
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
    wf_engines_free(list, n);
    return rc;
}
