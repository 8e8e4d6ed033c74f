/*
 * validate.c: the rules for what may be written into an engine record (wf_engine.h),
 * applying a validated patch, and reading numbers from an engine's config.
 *
 * Each single-field check reports at most one problem for its field (the first one
 * found), with a stable machine word in `type` and a message for people that names
 * what is allowed. wf_engine_validate_patch() runs every check the patch calls for and
 * so reports every bad field at once.
 *
 * Messages never quote an API key. They quote other values only after making them
 * printable and short (wf_text_escape), since a message may end up in a log or a
 * terminal.
 *
 * The URL parser is our own and deliberately small: it accepts what an HTTP client needs
 * ("http[s]://host[:port][/path][?query]") and rejects what is either dangerous in a
 * stored URL (credentials, control characters) or meaningless to an API client (a
 * fragment), rather than implementing all of RFC 3986.
 */
#include "buf.h"
#include "text.h"
#include "wf_engine.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SHOW_MAX 40 /* characters of a value quoted in a message */

static bool is_lower_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(unsigned char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_ctl(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

/* ---- name, type ------------------------------------------------------------------- */

int wf_engine_check_name(const char *name, wf_err *err)
{
    if (!name)
        return wf_err_field(err, "name", "missing", "is required");
    size_t len = strlen(name);
    if (len == 0)
        return wf_err_field(err, "name", "too_short", "must not be empty");
    if (len > WF_ENGINE_NAME_MAX)
        return wf_err_field(err, "name", "too_long", "must be at most %d characters (got %zu)",
                            WF_ENGINE_NAME_MAX, len);
    if (!is_lower_alnum((unsigned char)name[0]))
        return wf_err_field(err, "name", "pattern",
                            "must start with a lowercase letter or a digit");
    for (size_t i = 1; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (is_lower_alnum(c) || c == '-' || c == '_' || c == '.')
            continue;
        if (c > 0x20 && c < 0x7f)
            return wf_err_field(err, "name", "pattern",
                                "may contain only lowercase letters, digits, '-', '_' and "
                                "'.' (found '%c' at position %zu)",
                                c, i + 1);
        return wf_err_field(err, "name", "pattern",
                            "may contain only lowercase letters, digits, '-', '_' and '.' "
                            "(found byte 0x%02x at position %zu)",
                            c, i + 1);
    }
    return 0;
}

int wf_engine_check_type(const char *type, wf_err *err)
{
    if (!type || !type[0])
        return wf_err_field(err, "engine_type", "missing", "is required");
    if (strlen(type) > WF_ENGINE_TYPE_MAX)
        return wf_err_field(err, "engine_type", "too_long", "must be at most %d characters",
                            WF_ENGINE_TYPE_MAX);
    if (wf_engine_type_known(type))
        return 0;

    wf_buf allowed = WF_BUF_INIT;
    for (size_t i = 0; wf_engine_types[i]; i++)
        wf_buf_printf(&allowed, "%s%s", i ? ", " : "", wf_engine_types[i]);
    wf_buf shown = WF_BUF_INIT;
    wf_text_escape(&shown, type, SHOW_MAX);
    wf_err_field(err, "engine_type", "enum", "unknown engine type '%s'; must be one of: %s",
                 wf_buf_cstr(&shown), wf_buf_cstr(&allowed));
    wf_buf_free(&shown);
    wf_buf_free(&allowed);
    return WF_ERR_INVALID;
}

/* ---- api_url ---------------------------------------------------------------------- */

/* Checks "[v6addr]" starting at host (len bytes up to the port or the path); *used is
 * how many bytes the bracketed literal spans. */
static int check_ipv6(const char *host, size_t len, size_t *used, wf_err *err)
{
    const char *close = memchr(host, ']', len);
    if (!close)
        return wf_err_field(err, "api_url", "url_host", "has an IPv6 address without ']'");
    size_t n = (size_t)(close - host) - 1;
    char addr[INET6_ADDRSTRLEN + 1];
    unsigned char bin[16];
    if (n == 0 || n >= sizeof addr)
        return wf_err_field(err, "api_url", "url_host", "has an invalid IPv6 address");
    memcpy(addr, host + 1, n);
    addr[n] = '\0';
    if (inet_pton(AF_INET6, addr, bin) != 1)
        return wf_err_field(err, "api_url", "url_host", "has an invalid IPv6 address");
    *used = n + 2;
    return 0;
}

/* A port: 1 to 5 digits, 1..65535. */
static int check_port(const char *p, size_t len, wf_err *err)
{
    long v = 0;
    if (len == 0 || len > 5)
        goto bad;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            goto bad;
        v = v * 10 + (p[i] - '0');
    }
    if (v >= 1 && v <= 65535)
        return 0;
bad:
    return wf_err_field(err, "api_url", "url_port", "port must be a number from 1 to 65535");
}

/* host[:port] or [v6]:port, the authority without userinfo (already refused). */
static int check_authority(const char *a, size_t len, wf_err *err)
{
    size_t hlen = 0;
    if (len > 0 && a[0] == '[') {
        if (check_ipv6(a, len, &hlen, err) < 0)
            return WF_ERR_INVALID;
        if (hlen < len && a[hlen] != ':')
            return wf_err_field(err, "api_url", "url_host",
                                "has text after the IPv6 address that is not a port");
    } else {
        const char *colon = memchr(a, ':', len);
        hlen = colon ? (size_t)(colon - a) : len;
        if (hlen == 0)
            return wf_err_field(err, "api_url", "url_host", "must have a host");
        if (!is_alnum((unsigned char)a[0]))
            return wf_err_field(err, "api_url", "url_host",
                                "host must start with a letter or a digit");
        for (size_t i = 0; i < hlen; i++) {
            unsigned char c = (unsigned char)a[i];
            if (!is_alnum(c) && c != '-' && c != '.' && c != '_')
                return wf_err_field(err, "api_url", "url_host",
                                    "host may contain only letters, digits, '-', '_' and '.'");
        }
    }
    if (hlen < len)
        return check_port(a + hlen + 1, len - hlen - 1, err);
    return 0;
}

int wf_engine_check_url(const char *url, wf_err *err)
{
    if (!url || !url[0])
        return wf_err_field(err, "api_url", "missing", "is required");
    size_t len = strlen(url);
    if (len > WF_ENGINE_URL_MAX)
        return wf_err_field(err, "api_url", "too_long", "must be at most %d characters (got %zu)",
                            WF_ENGINE_URL_MAX, len);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c == ' ' || c == '\t')
            return wf_err_field(err, "api_url", "control_char",
                                "must not contain spaces (percent-encode them as %%20)");
        if (is_ctl(c))
            return wf_err_field(err, "api_url", "control_char",
                                "must not contain control characters (a trailing newline?)");
        /* RFC 3986: a URL is ASCII; anything else travels percent-encoded. A raw byte
         * here would reach the HTTP client (and JSON output) in whatever encoding the
         * caller used, valid UTF-8 or not. */
        if (c >= 0x80)
            return wf_err_field(err, "api_url", "non_ascii",
                                "must be ASCII: percent-encode other characters (an e with an "
                                "acute accent in UTF-8 is %%C3%%A9)");
    }

    size_t slen;
    if (!strncasecmp(url, "http://", 7))
        slen = 7;
    else if (!strncasecmp(url, "https://", 8))
        slen = 8;
    else
        return wf_err_field(err, "api_url", "url_scheme",
                            "must be an absolute http or https URL, like https://host:port/");
    if (strchr(url, '#'))
        return wf_err_field(err, "api_url", "url_fragment", "must not contain a fragment ('#')");

    const char *a = url + slen;
    size_t alen = strcspn(a, "/?");
    if (memchr(a, '@', alen))
        return wf_err_field(err, "api_url", "url_userinfo",
                            "must not contain a user name or password: credentials belong in "
                            "the API key, not the URL");
    return check_authority(a, alen, err);
}

/* ---- api_key ---------------------------------------------------------------------- */

int wf_engine_check_api_key(const char *key, size_t len, wf_err *err)
{
    /* Never quote the key, not even a part of it. */
    if (!key)
        return wf_err_field(err, "api_key", "missing", "is required");
    if (len == 0)
        return wf_err_field(err, "api_key", "too_short",
                            "must not be empty (remove the key instead)");
    if (len > WF_ENGINE_KEY_MAX)
        return wf_err_field(err, "api_key", "too_long", "must be at most %d bytes (got %zu)",
                            WF_ENGINE_KEY_MAX, len);
    for (size_t i = 0; i < len; i++) {
        if (is_ctl((unsigned char)key[i]))
            return wf_err_field(err, "api_key", "control_char",
                                "must not contain control characters (a trailing newline "
                                "from a file?)");
    }
    return 0;
}

/* ---- config ----------------------------------------------------------------------- */

/* Parses JSON text; NULL with a field error when it is not a JSON object. */
static json_t *parse_config(const char *text, wf_err *err)
{
    size_t len = strlen(text);
    if (len > WF_ENGINE_CONFIG_MAX) {
        wf_err_field(err, "config", "too_long", "must be at most %d bytes of JSON (got %zu)",
                     WF_ENGINE_CONFIG_MAX, len);
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!root) {
        wf_err_field(err, "config", "json_invalid", "must be valid JSON: %s (line %d, column %d)",
                     jerr.text, jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        wf_err_field(err, "config", "json_not_object", "must be a JSON object");
        return NULL;
    }
    return root;
}

/* Windmill addresses everything inside a workspace: its config must name one. */
static int check_workspace(const json_t *cfg, wf_err *err)
{
    const json_t *ws = json_object_get(cfg, "workspace");
    if (!ws)
        return wf_err_field(err, "config.workspace", "missing", "is required for windmill engines");
    if (!json_is_string(ws))
        return wf_err_field(err, "config.workspace", "type", "must be a string");
    const char *s = json_string_value(ws);
    if (!s[0])
        return wf_err_field(err, "config.workspace", "too_short", "must not be empty");
    for (size_t i = 0; s[i]; i++) {
        if (is_ctl((unsigned char)s[i]) || s[i] == ' ')
            return wf_err_field(err, "config.workspace", "control_char",
                                "must not contain spaces or control characters");
    }
    return 0;
}

static bool is_windmill(const char *type)
{
    return type && !strcmp(type, "windmill");
}

/* The known keys; unknown keys are kept as they are. */
static int check_config_keys(const json_t *cfg, const char *engine_type, wf_err *err)
{
    int rc = 0;
    const json_t *t = json_object_get(cfg, "timeout_ms");
    if (t && !json_is_integer(t)) {
        rc = wf_err_field(err, "config.timeout_ms", "type", "must be an integer (milliseconds)");
    } else if (t) {
        json_int_t v = json_integer_value(t);
        if (v < 1 || v > WF_ENGINE_TIMEOUT_MS_MAX)
            rc = wf_err_field(err, "config.timeout_ms", "range", "must be from 1 to %d",
                              WF_ENGINE_TIMEOUT_MS_MAX);
    }
    const json_t *v = json_object_get(cfg, "verify_tls");
    if (v && !json_is_boolean(v))
        rc = wf_err_field(err, "config.verify_tls", "type", "must be true or false");
    if (is_windmill(engine_type) && check_workspace(cfg, err) < 0)
        rc = WF_ERR_INVALID;
    return rc;
}

int wf_engine_check_config(const char *config_json, const char *engine_type, wf_err *err)
{
    json_t *cfg = parse_config(config_json ? config_json : "{}", err);
    if (!cfg)
        return WF_ERR_INVALID;
    int rc = check_config_keys(cfg, engine_type, err);
    json_decref(cfg);
    return rc;
}

/* The patch sets the type but not the config: the config it keeps must suit the type.
 * Only the workspace rule is checked, the rest of a stored config is not ours to judge. */
static int check_kept_config(const char *config_json, wf_err *err)
{
    json_t *cfg = json_loads(config_json ? config_json : "{}", JSON_DECODE_ANY, NULL);
    int rc = check_workspace(json_is_object(cfg) ? cfg : NULL, err);
    json_decref(cfg);
    return rc;
}

/* ---- the patch -------------------------------------------------------------------- */

/* Does not clear err: a caller may already hold field errors of its own (unknown body
 * members, say) and gets them all back together. */
int wf_engine_validate_patch(const wf_engine_patch *p, const wf_engine *current, wf_err *err)
{
    bool create = current == NULL;
    int rc = 0;

    if (p->name || create)
        rc |= wf_engine_check_name(p->name, err);
    if (p->engine_type || create)
        rc |= wf_engine_check_type(p->engine_type, err);
    if (p->api_url || create)
        rc |= wf_engine_check_url(p->api_url, err);

    if (p->key_op == WF_KEYOP_SET)
        rc |= wf_engine_check_api_key(p->api_key, p->api_key_len, err);
    else if (p->key_op != WF_KEYOP_KEEP && p->key_op != WF_KEYOP_REMOVE)
        rc |= wf_err_field(err, "api_key", "enum", "unknown key operation");

    if (p->active < -1 || p->active > 1)
        rc |= wf_err_field(err, "active", "type", "must be true or false");

    const char *type = p->engine_type ? p->engine_type : current ? current->engine_type : NULL;
    if (p->config)
        rc |= wf_engine_check_config(p->config, type, err);
    else if (p->engine_type && is_windmill(type))
        rc |= check_kept_config(current ? current->config : NULL, err);

    return rc ? WF_ERR_INVALID : 0;
}

/* Compact JSON with reals written as short as they round-trip ("1.1", not
 * "1.1000000000000001"): the shortest of 15..17 digits that reads back equal. */
static char *dump_compact(const json_t *root)
{
    for (int prec = 15; prec <= 17; prec++) {
        char *s = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(prec));
        if (!s || prec == 17)
            return s;
        json_t *back = json_loads(s, 0, NULL);
        bool same = back && json_equal(root, back);
        json_decref(back);
        if (same)
            return s;
        free(s);
    }
    return NULL;
}

/* The config as stored: compact, member order preserved; the text as given when it does
 * not parse (only an unvalidated patch can get here). */
static char *normalize_config(const char *text)
{
    json_t *root = json_loads(text, JSON_DECODE_ANY, NULL);
    char *s = root ? dump_compact(root) : strdup(text);
    json_decref(root);
    return s;
}

static bool replace(char **field, char *value)
{
    if (!value)
        return false;
    free(*field);
    *field = value;
    return true;
}

wf_engine *wf_engine_apply_patch(const wf_engine *current, const wf_engine_patch *p)
{
    wf_engine *e = current ? wf_engine_dup(current) : wf_engine_new();
    if (!e)
        return NULL;
    if (p->name && !replace(&e->name, strdup(p->name)))
        goto fail;
    if (p->engine_type && !replace(&e->engine_type, strdup(p->engine_type)))
        goto fail;
    if (p->api_url && !replace(&e->api_url, strdup(p->api_url)))
        goto fail;
    if (p->config && !replace(&e->config, normalize_config(p->config)))
        goto fail;
    if (p->active == 0 || p->active == 1)
        e->is_active = p->active == 1;
    return e;
fail:
    wf_engine_free(e);
    return NULL;
}

long wf_engine_config_long(const wf_engine *e, const char *key, long dflt)
{
    if (!e || !e->config || !key)
        return dflt;
    json_t *root = json_loads(e->config, JSON_DECODE_ANY, NULL);
    const json_t *v = json_is_object(root) ? json_object_get(root, key) : NULL;
    long out = dflt;
    if (json_is_boolean(v)) {
        out = json_is_true(v) ? 1 : 0;
    } else if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        if (n >= LONG_MIN && n <= LONG_MAX)
            out = (long)n;
    }
    json_decref(root);
    return out;
}
