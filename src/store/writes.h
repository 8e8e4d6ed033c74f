/*
 * writes.h: the one write path of wfreg, shared by the command line and the API:
 * validate -> encrypt -> store (one transaction) -> the caller builds a new snapshot.
 * Also the registry's loader (database + environment, with each stored key checked
 * against the keyring) and key rotation.
 *
 * Every create, update, delete and key rotation writes an audit_log row in the same
 * transaction as the change: action "create" | "update" | "delete" | "key_rotate", the
 * acting user (NULL actor: {0, "cli"}), the engine's id and name, and the JSON array of
 * the field names written (create), changed (update: name, engine_type, api_url,
 * active, config, api_key) or [] (delete). Never a value. An update that changes
 * nothing writes no row.
 */
#ifndef WF_STORE_WRITES_H
#define WF_STORE_WRITES_H

#include "core/err.h"
#include "core/registry.h"
#include "core/wf_engine.h"
#include "crypto/keyring.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Who makes a change, for created_by and the audit trail (NULL: {0, "cli"}). */
typedef struct wf_actor {
    int64_t user_id;  /* app_users.id, 0 when no user (the command line) */
    const char *name; /* "alice", or "cli" */
} wf_actor;

/* Creates an engine from a patch (name, engine_type, api_url required). The API key,
 * when the patch sets one, is encrypted with the keyring's first key; without a key to
 * encrypt with the write is refused (WF_ERR_KEY). actor (may be NULL) gives created_by. On
 * success *out (may be NULL) receives the stored record. */
int wf_writes_create(wf_store *s, const wf_keyring *kr, const wf_engine_patch *p,
                     const wf_actor *actor, wf_engine **out, wf_err *err);

/* Applies a patch to the database engine `name`. WF_ERR_NOT_FOUND when there is none;
 * when snap is given and `name` is an environment engine, WF_ERR_CONFLICT (read-only). */
int wf_writes_update(wf_store *s, const wf_keyring *kr, const wf_snapshot *snap, const char *name,
                     const wf_engine_patch *p, const wf_actor *actor, wf_engine **out, wf_err *err);

/* Deletes the database engine `name`; same errors as update. */
int wf_writes_delete(wf_store *s, const wf_snapshot *snap, const char *name, const wf_actor *actor,
                     wf_err *err);

/* Loads the registry from the database and the given environment engines, checking
 * each stored token against the keyring (key_status OK or UNREADABLE). */
int wf_writes_load_registry(wf_registry *r, wf_store *s, const wf_keyring *kr,
                            wf_engine *const *env, size_t nenv, bool log_startup, wf_err *err);

/* What wf_keyring opens: WF_KEY_NONE, WF_KEY_OK or WF_KEY_UNREADABLE, and which key. */
wf_key_status wf_writes_key_status(const wf_keyring *kr, const wf_engine *e, int *key_index);

typedef struct wf_rotate_report {
    size_t total;      /* database engines with a stored key */
    size_t rotated;    /* re-encrypted under the first key (or would be, dry run) */
    size_t current;    /* already under the first key */
    size_t unreadable; /* no configured key opens them: left as they are */
    size_t raced;      /* changed by someone else meanwhile: left as they are */
} wf_rotate_report;

/* Re-encrypts every stored key that an older key opens under the first key, in one
 * transaction. Unreadable tokens are left untouched and counted; report_cb (may be NULL)
 * is called with each engine's name and its outcome ("rotated", "current",
 * "unreadable", "changed meanwhile"). */
int wf_writes_rotate_keys(wf_store *s, const wf_keyring *kr, bool dry_run, const wf_actor *actor,
                          wf_rotate_report *rep,
                          void (*report_cb)(void *ctx, const char *name, const char *what),
                          void *ctx, wf_err *err);

#endif
