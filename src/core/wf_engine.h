/*
 * wf_engine.h: the engine record (one row of workflow_engines, or one engine that the
 * environment declares) and the rules for what may be written into one.
 *
 * The record never holds an API key in clear when it comes from the database: it holds
 * the Fernet token as stored (api_key_encrypted), and key_status says whether the
 * configured keyring opens it. Environment engines hold their key as given in the
 * environment (api_key_env), wiped when the record is freed.
 *
 * Validation applies to what is written: rows already stored are served as they are.
 * wf_engine_validate_patch() checks only the fields a patch sets (plus the cross-field
 * rules those fields touch), and reports every bad field at once.
 */
#ifndef WF_CORE_WF_ENGINE_H
#define WF_CORE_WF_ENGINE_H

#include "err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WF_ENGINE_NAME_MAX 255
#define WF_ENGINE_TYPE_MAX 50
#define WF_ENGINE_URL_MAX 500
#define WF_ENGINE_KEY_MAX 4096
#define WF_ENGINE_CONFIG_MAX (64 * 1024)
#define WF_ENGINE_TIMEOUT_MS_MAX 120000

typedef enum wf_engine_source {
    WF_SOURCE_DATABASE = 0,
    WF_SOURCE_ENVIRONMENT = 1,
} wf_engine_source;

typedef enum wf_key_status {
    WF_KEY_NONE = 0,       /* no API key */
    WF_KEY_OK = 1,         /* a configured key opens the token (or it is an env key) */
    WF_KEY_UNREADABLE = 2, /* a token is stored but no configured key opens it */
    WF_KEY_UNCHECKED = 3,  /* a token is stored; nobody has tried to open it yet */
} wf_key_status;

typedef struct wf_engine {
    int64_t id; /* 0 for environment engines */
    char *name;
    char *engine_type;
    char *api_url;
    char *api_key_encrypted; /* Fernet token as stored, or NULL */
    char *api_key_env;       /* environment engines only: the key in clear, or NULL */
    bool is_active;
    char *config;       /* JSON object text, never NULL ("{}" when empty) */
    int64_t created_by; /* app_users.id, 0 for NULL */
    char *created_at;   /* ISO 8601 UTC "2026-11-25T16:29:59Z", or NULL */
    char *updated_at;
    wf_engine_source source;
    wf_key_status key_status;
    int key_number;   /* which configured key opens the token (1 = the first); 0: none or
                         not known. Set with key_status when the registry loads. */
    bool shadows_env; /* a database engine that hides an environment one */
} wf_engine;

/* A new zeroed record with config "{}" and is_active true; NULL when out of memory. */
wf_engine *wf_engine_new(void);
/* A deep copy (secrets copied too); NULL when out of memory. */
wf_engine *wf_engine_dup(const wf_engine *e);
/* Frees every field, wiping api_key_env; accepts NULL. */
void wf_engine_free(wf_engine *e);
/* Frees n records and the array that holds them; accepts NULL. */
void wf_engines_free(wf_engine **v, size_t n);

bool wf_engine_has_api_key(const wf_engine *e);
const char *wf_engine_source_name(wf_engine_source s); /* "database" | "environment" */
const char *wf_key_status_name(wf_key_status s); /* "none" | "ok" | "unreadable" | "unchecked" */

/* The engine as JSON for people and programs: id, name, engine_type, api_url, active,
 * config (the object; a stored text that is not JSON is given as a string), has_api_key,
 * key_status, source, created_by (null when none), created_at, updated_at. Never the key
 * nor its token. Bytes that are not UTF-8 (a legacy row) become U+FFFD, so that every
 * engine and every field is there. NULL only when out of memory. */
json_t *wf_engine_to_json(const wf_engine *e);

/* The engine types that wfreg knows (those with an adapter). NULL-terminated. */
extern const char *const wf_engine_types[];
bool wf_engine_type_known(const char *type);

/* What an add or update writes. A NULL pointer (or -1 for active) leaves a field as it
 * is; on create, name, engine_type and api_url are required. */
typedef enum wf_key_op { WF_KEYOP_KEEP = 0, WF_KEYOP_SET = 1, WF_KEYOP_REMOVE = 2 } wf_key_op;

typedef struct wf_engine_patch {
    const char *name;
    const char *engine_type;
    const char *api_url;
    const char *config; /* JSON text of an object */
    int active;         /* -1 keep, 0 inactive, 1 active */
    wf_key_op key_op;
    const char *api_key; /* in clear, with key_op == WF_KEYOP_SET */
    size_t api_key_len;  /* bytes of api_key */
} wf_engine_patch;

#define WF_ENGINE_PATCH_INIT                                                                       \
    {                                                                                              \
        NULL, NULL, NULL, NULL, -1, WF_KEYOP_KEEP, NULL, 0                                         \
    }

/* Checks every field the patch sets. `current` is the stored record for an update
 * (NULL on create): cross-field rules (windmill needs config.workspace) look at the
 * record as it would be after the patch. Returns 0 or WF_ERR_INVALID with one field
 * entry per problem. */
int wf_engine_validate_patch(const wf_engine_patch *p, const wf_engine *current, wf_err *err);

/* Single-field checks, used by the patch validator and by the environment loader.
 * Each adds its field error to err and returns WF_ERR_INVALID, or returns 0. */
int wf_engine_check_name(const char *name, wf_err *err);
int wf_engine_check_type(const char *type, wf_err *err);
int wf_engine_check_url(const char *url, wf_err *err);
int wf_engine_check_api_key(const char *key, size_t len, wf_err *err);
int wf_engine_check_config(const char *config_json, const char *engine_type, wf_err *err);

/* Applies a validated patch to a copy of `current` (or to a new record when NULL);
 * the API key is not applied (the caller encrypts it). Returns a new record or NULL
 * when out of memory. The config text is stored compact. */
wf_engine *wf_engine_apply_patch(const wf_engine *current, const wf_engine_patch *p);

/* The engine's config as a number/bool with a default (for adapters and settings). */
long wf_engine_config_long(const wf_engine *e, const char *key, long dflt);

#endif
