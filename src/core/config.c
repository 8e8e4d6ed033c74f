/*
 * config.c: the process configuration from the environment (config.h) and the engines
 * that the environment declares. The masking of passwords in database URLs is in
 * db_url.c.
 *
 * Secrets are registered with the log's redaction list the moment they are read, before
 * anything could log them. The engines read here are checked with the same single-field
 * rules as an engine written through the API (validate.c); a bad one is skipped with an
 * error line that names its variable, never its key.
 */
#include "config.h"
#include "text.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* ---- the process configuration ------------------------------------------------------- */

/* A variable's value, or NULL when unset or empty (an empty secret is no secret). */
static const char *env_value(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

/* Each key of the list, as the keyring reads it (blanks around an entry dropped). */
static void register_fernet_keys(const char *keys)
{
    wf_buf one = WF_BUF_INIT;
    wf_buf_init_secret(&one);
    for (const char *p = keys;; p++) {
        size_t len = strcspn(p, ",");
        const char *k = p;
        size_t n = len;
        wf_text_trim(&k, &n);
        wf_buf_put(&one, k, n);
        wf_log_add_secret(wf_buf_cstr(&one));
        wf_buf_clear(&one);
        p += len;
        if (!*p)
            break;
    }
    wf_buf_wipe(&one);
}

static int read_log_settings(wf_config *c, wf_err *err)
{
    const char *level = env_value("LOG_LEVEL");
    const char *format = env_value("LOG_FORMAT");
    int l = level ? wf_log_level_parse(level) : WF_LOG_INFO;
    if (l < 0)
        return wf_err_set(err, WF_ERR_INVALID,
                          "LOG_LEVEL: must be one of debug, info, warning, error");
    int f = format ? wf_log_format_parse(format) : WF_LOG_TEXT;
    if (f < 0)
        return wf_err_set(err, WF_ERR_INVALID, "LOG_FORMAT: must be one of text, json");
    c->log_level = (wf_log_level)l;
    c->log_format = (wf_log_format)f;
    return 0;
}

int wf_config_from_env(wf_config *c, wf_err *err)
{
    memset(c, 0, sizeof *c);
    const char *db = env_value("DATABASE_URL");
    const char *secret = env_value("SECRET_KEY");
    const char *keys = env_value("WFREG_FERNET_KEYS");
    const char *listen = env_value("WFREG_LISTEN");
    /* first of all, even when the rest is wrong: the caller may log what follows */
    if (db)
        wf_config_register_db_url(db);
    if (secret)
        wf_log_add_secret(secret);
    if (keys)
        register_fernet_keys(keys);

    int rc = read_log_settings(c, err);
    if (rc < 0)
        goto done;

    c->database_url = strdup(db ? db : WF_DEFAULT_DATABASE_URL);
    c->listen = strdup(listen ? listen : WF_DEFAULT_LISTEN);
    c->secret_key = wf_strdup(secret);
    c->fernet_keys = wf_strdup(keys);
    if (!c->database_url || !c->listen || (secret && !c->secret_key) || (keys && !c->fernet_keys))
        rc = wf_err_set(err, WF_ERR_NOMEM, "out of memory reading the configuration");
done:
    if (rc < 0)
        wf_config_free(c);
    return rc;
}

void wf_config_free(wf_config *c)
{
    if (!c)
        return;
    wf_free_secret(c->database_url); /* a PostgreSQL password, often */
    wf_free_secret(c->secret_key);
    wf_free_secret(c->fernet_keys);
    free(c->listen);
    memset(c, 0, sizeof *c);
}

/* ---- engines from the environment ---------------------------------------------------- */

/* The variable families of the Python backend, one engine each. */
typedef struct env_family {
    const char *name, *type, *url_var, *key_var, *workspace_var;
} env_family;

static const env_family families[] = {
    {"n8n-default", "n8n", "N8N_API_URL", "N8N_API_KEY", NULL},
    {"prefect-default", "prefect", "PREFECT_API_URL", "PREFECT_API_KEY", NULL},
    {"windmill-default", "windmill", "WINDMILL_API_URL", "WINDMILL_API_KEY", "WINDMILL_WORKSPACE"},
};

#define ENGINE_PREFIX "WFREG_ENGINE_"

/* One valid engine and the variable that declares it, before duplicates are settled. */
typedef struct candidate {
    char *var;
    wf_engine *e;
} candidate;

typedef struct cand_list {
    candidate *v;
    size_t n, cap;
} cand_list;

/* The value of `name` in envp, or NULL when unset or empty. */
static const char *envp_get(char *const *envp, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; envp && envp[i]; i++) {
        if (!strncmp(envp[i], name, len) && envp[i][len] == '=')
            return envp[i][len + 1] ? envp[i] + len + 1 : NULL;
    }
    return NULL;
}

/* Takes e (freed on failure). */
static int cand_push(cand_list *l, const char *var, wf_engine *e, wf_err *err)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        candidate *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            goto nomem;
        l->v = v;
        l->cap = cap;
    }
    char *copy = strdup(var);
    if (!copy)
        goto nomem;
    l->v[l->n].var = copy;
    l->v[l->n].e = e;
    l->n++;
    return 0;
nomem:
    wf_engine_free(e);
    return wf_err_set(err, WF_ERR_NOMEM, "out of memory reading engines from the environment");
}

static void cand_list_free(cand_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].var);
        wf_engine_free(l->v[i].e);
    }
    free(l->v);
}

/* Sets the fields every environment engine shares; false when out of memory. */
static bool fill_engine(wf_engine *e, const char *name, const char *type, const char *url,
                        const char *key)
{
    e->name = wf_strdup(name);
    e->engine_type = wf_strdup(type);
    e->api_url = wf_strdup(url);
    e->api_key_env = wf_strdup(key);
    e->source = WF_SOURCE_ENVIRONMENT;
    e->key_status = key ? WF_KEY_OK : WF_KEY_NONE;
    return (!name || e->name) && (!type || e->engine_type) && (!url || e->api_url) &&
           (!key || e->api_key_env);
}

/* Has verr an error for this field, or a part of it ("config.workspace" for "config"),
 * already (a member of the wrong JSON type, a workspace that is not UTF-8)? */
static bool has_field(const wf_err *verr, const char *field)
{
    size_t n = strlen(field);
    for (size_t i = 0; i < verr->nfields && i < WF_ERR_MAX_FIELDS; i++) {
        const char *f = verr->fields[i].field;
        if (!strncmp(f, field, n) && (f[n] == '\0' || f[n] == '.'))
            return true;
    }
    return false;
}

/* The checks of a written engine, on an environment one; the key is never quoted.
 * Fields already reported are not reported twice. */
static int check_engine(const wf_engine *e, wf_err *verr)
{
    int rc = 0;
    if (!has_field(verr, "name"))
        rc |= wf_engine_check_name(e->name, verr);
    if (!has_field(verr, "engine_type"))
        rc |= wf_engine_check_type(e->engine_type, verr);
    if (!has_field(verr, "api_url"))
        rc |= wf_engine_check_url(e->api_url, verr);
    if (e->api_key_env)
        rc |= wf_engine_check_api_key(e->api_key_env, strlen(e->api_key_env), verr);
    if (!has_field(verr, "config"))
        rc |= wf_engine_check_config(e->config, e->engine_type, verr);
    return rc;
}

/* The variable of a family that holds the first bad field. */
static const char *family_var(const env_family *f, const wf_err *verr)
{
    const char *field = verr->nfields ? verr->fields[0].field : "";
    if (!strcmp(field, "api_key"))
        return f->key_var;
    if (!strncmp(field, "config", 6) && f->workspace_var)
        return f->workspace_var;
    return f->url_var;
}

/* {"workspace": ws} for windmill-default, "{}" for the others; NULL when out of memory.
 * A workspace that is not UTF-8 cannot be a JSON string: a field error in verr (and
 * "{}"), so that this engine is skipped as invalid and the others still load. */
static char *family_config(char *const *envp, const env_family *f, wf_err *verr)
{
    const char *ws = f->workspace_var ? envp_get(envp, f->workspace_var) : NULL;
    if (ws && !wf_text_is_utf8(ws)) {
        wf_err_field(verr, "config.workspace", "encoding", "must be UTF-8 text");
        ws = NULL;
    }
    if (!ws)
        return strdup("{}");
    json_t *o = json_pack("{s:s}", "workspace", ws);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

static int load_family(char *const *envp, const env_family *f, cand_list *l, size_t *ninvalid,
                       wf_err *err)
{
    const char *url = envp_get(envp, f->url_var);
    const char *key = envp_get(envp, f->key_var);
    if (key)
        wf_log_add_secret(key);
    if (!url) {
        if (key)
            wf_warn("%s is set but %s is not: engine %s not loaded", f->key_var, f->url_var,
                    f->name);
        return 0;
    }
    wf_err verr;
    wf_err_init(&verr);
    wf_engine *e = wf_engine_new();
    char *config = family_config(envp, f, &verr);
    if (!e || !config || !fill_engine(e, f->name, f->type, url, key)) {
        free(config);
        wf_engine_free(e);
        return wf_err_set(err, WF_ERR_NOMEM, "out of memory reading engines from the environment");
    }
    free(e->config);
    e->config = config;

    if (check_engine(e, &verr) < 0 || verr.code != WF_OK) {
        wf_error("%s: engine %s not loaded: %s", family_var(f, &verr), f->name, verr.msg);
        (*ninvalid)++;
        wf_engine_free(e);
        return 0;
    }
    if (!key)
        wf_warn("%s: %s is not set; the engine is registered without an API key", f->name,
                f->key_var);
    return cand_push(l, f->url_var, e, err);
}

/* "foo" from "WFREG_ENGINE_FOO_BAR" becomes "foo-bar". */
static char *name_from_var(const char *var)
{
    char *name = strdup(var + strlen(ENGINE_PREFIX));
    for (char *p = name; p && *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
        else if (*p == '_')
            *p = '-';
    }
    return name;
}

/* A string member, NULL when absent or null; a field error when it is something else. */
static const char *member_string(json_t *o, const char *key, wf_err *verr)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        wf_err_field(verr, key, "type", "must be a string");
        return NULL;
    }
    return json_string_value(v);
}

/* The config member as compact text: "{}" when absent; NULL when it is not an object. */
static char *member_config(json_t *o, wf_err *verr)
{
    json_t *v = json_object_get(o, "config");
    if (!v || json_is_null(v))
        return strdup("{}");
    if (!json_is_object(v)) {
        wf_err_field(verr, "config", "json_not_object", "must be a JSON object");
        return NULL;
    }
    return json_dumps(v, JSON_COMPACT);
}

static const char *const json_members[] = {"engine_type", "api_url", "api_key", "config",
                                           "active",      "name",    NULL};

static void warn_unknown_members(const char *var, json_t *o)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        size_t i = 0;
        while (json_members[i] && strcmp(json_members[i], key))
            i++;
        if (!json_members[i]) {
            char *shown = wf_text_escape_dup(key, 40);
            wf_warn("%s: unknown member \"%s\" ignored", var, shown ? shown : "?");
            free(shown);
        }
    }
}

/* Builds the engine a WFREG_ENGINE_<NAME> object declares, collecting field errors in
 * verr; NULL with verr->code still WF_OK only when out of memory. */
static wf_engine *engine_from_json(const char *var, json_t *o, wf_err *verr)
{
    const char *key = member_string(o, "api_key", verr);
    if (key)
        wf_log_add_secret(key);
    const char *name = member_string(o, "name", verr);
    const char *type = member_string(o, "engine_type", verr);
    const char *url = member_string(o, "api_url", verr);
    json_t *active = json_object_get(o, "active");
    if (active && !json_is_boolean(active))
        wf_err_field(verr, "active", "type", "must be true or false");
    char *config = member_config(o, verr);
    char *derived = name ? NULL : name_from_var(var);
    wf_engine *e = wf_engine_new();
    bool ok = e && (name || derived) && fill_engine(e, name ? name : derived, type, url, key);
    if (ok && config) {
        free(e->config);
        e->config = config;
        config = NULL;
    }
    free(config);
    free(derived);
    if (!ok) {
        wf_engine_free(e);
        return NULL;
    }
    e->is_active = !json_is_false(active);
    check_engine(e, verr);
    return e;
}

/* Overwrites the key inside the parsed object before it is freed. */
static void wipe_json_key(json_t *o)
{
    json_t *k = json_is_object(o) ? json_object_get(o, "api_key") : NULL;
    if (json_is_string(k))
        wf_secure_zero((char *)json_string_value(k), json_string_length(k));
}

static int load_json_engine(const char *entry, cand_list *l, size_t *ninvalid, wf_err *err)
{
    const char *eq = strchr(entry, '=');
    char *var = strndup(entry, (size_t)(eq - entry));
    if (!var)
        return wf_err_set(err, WF_ERR_NOMEM, "out of memory reading engines from the environment");
    int rc = 0;
    wf_engine *e = NULL;
    json_error_t jerr;
    json_t *o = json_loads(eq + 1, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!json_is_object(o)) {
        /* jansson's text may quote the value, and so the key: only the position */
        if (o)
            wf_error("%s: engine not loaded: must be a JSON object", var);
        else
            wf_error("%s: engine not loaded: invalid JSON at line %d, column %d", var, jerr.line,
                     jerr.column);
        (*ninvalid)++;
        goto done;
    }
    warn_unknown_members(var, o);
    wf_err verr;
    wf_err_init(&verr);
    e = engine_from_json(var, o, &verr);
    if (!e && verr.code == WF_OK) {
        rc = wf_err_set(err, WF_ERR_NOMEM, "out of memory reading engines from the environment");
    } else if (verr.code != WF_OK) {
        char *shown = e && e->name && e->name[0] ? wf_text_escape_dup(e->name, 60) : NULL;
        wf_error("%s: engine %s not loaded: %s", var, shown ? shown : "?", verr.msg);
        free(shown);
        (*ninvalid)++;
    } else {
        rc = cand_push(l, var, e, err);
        e = NULL;
    }
done:
    wf_engine_free(e);
    wipe_json_key(o);
    json_decref(o);
    free(var);
    return rc;
}

/* Compares two "VAR=value" entries by their variable names. */
static int cmp_entry_var(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    for (;; x++, y++) {
        char cx = *x == '=' ? '\0' : *x, cy = *y == '=' ? '\0' : *y;
        if (cx != cy || !cx)
            return (unsigned char)cx - (unsigned char)cy;
    }
}

/* By name, then by variable: the first of a duplicate name is the one to keep. */
static int cmp_candidate(const void *a, const void *b)
{
    const candidate *x = a, *y = b;
    int c = strcmp(x->e->name, y->e->name);
    return c ? c : strcmp(x->var, y->var);
}

/* The WFREG_ENGINE_* entries of envp, sorted by variable name (a stable log order). */
static int engine_entries(char *const *envp, const char ***out, size_t *n, wf_err *err)
{
    size_t count = 0;
    for (size_t i = 0; envp && envp[i]; i++)
        count += !strncmp(envp[i], ENGINE_PREFIX, strlen(ENGINE_PREFIX)) && strchr(envp[i], '=');
    *out = calloc(count + 1, sizeof **out);
    if (!*out)
        return wf_err_set(err, WF_ERR_NOMEM, "out of memory reading engines from the environment");
    *n = 0;
    for (size_t i = 0; envp && envp[i]; i++) {
        if (!strncmp(envp[i], ENGINE_PREFIX, strlen(ENGINE_PREFIX)) && strchr(envp[i], '='))
            (*out)[(*n)++] = envp[i];
    }
    qsort(*out, *n, sizeof **out, cmp_entry_var);
    return 0;
}

/* Sorts by name and moves the kept engines to out, logging and dropping duplicates. */
static int settle(cand_list *l, wf_engine ***out, size_t *n, size_t *ninvalid, wf_err *err)
{
    if (l->n)
        qsort(l->v, l->n, sizeof *l->v, cmp_candidate);
    *out = calloc(l->n + 1, sizeof **out);
    if (!*out)
        return wf_err_set(err, WF_ERR_NOMEM, "out of memory reading engines from the environment");
    size_t kept = 0;
    const char *kept_var = NULL;
    for (size_t i = 0; i < l->n; i++) {
        if (kept && !strcmp((*out)[kept - 1]->name, l->v[i].e->name)) {
            wf_error("%s: engine %s not loaded: the name is already declared by %s", l->v[i].var,
                     l->v[i].e->name, kept_var);
            (*ninvalid)++;
            continue;
        }
        kept_var = l->v[i].var;
        (*out)[kept++] = l->v[i].e;
        l->v[i].e = NULL;
    }
    *n = kept;
    return 0;
}

int wf_config_env_engines(char *const *envp, wf_engine ***out, size_t *n, size_t *ninvalid,
                          wf_err *err)
{
    size_t bad = 0;
    cand_list l = {NULL, 0, 0};
    const char **entries = NULL;
    size_t nentries = 0;
    *out = NULL;
    *n = 0;

    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof families / sizeof families[0]; i++)
        rc = load_family(envp, &families[i], &l, &bad, err);
    if (rc == 0)
        rc = engine_entries(envp, &entries, &nentries, err);
    for (size_t i = 0; rc == 0 && i < nentries; i++)
        rc = load_json_engine(entries[i], &l, &bad, err);
    if (rc == 0)
        rc = settle(&l, out, n, &bad, err);

    free(entries);
    cand_list_free(&l);
    if (ninvalid)
        *ninvalid = bad;
    return rc;
}
