/*
 * engines_io.c: `wfreg engines export` and `wfreg engines import`.
 *
 * An export holds the database's engines (environment engines are configuration, not
 * data, and are left out). Without --with-keys it holds no key at all. With it, each key
 * is decrypted with the database's keyring and wrapped as a Fernet token under a
 * separate export key (--export-key-file, made by `wfreg keys generate`), never under the
 * database's own key: the file is useless without its own key file. A wrapped key does
 * not expire, like a stored one: import opens it without time checks (no TTL, no limit
 * on a timestamp in the future), as the keyring does.
 *
 * Import creates or updates by name. Everything is validated first and every problem is
 * reported at once; then all writes happen in one transaction, or none (--dry-run).
 */
#include "cli.h"
#include "core/text.h"
#include "crypto/fernet.h"
#include "store/writes.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXPORT_FORMAT "wfreg-engines"
#define EXPORT_VERSION 1
#define IMPORT_MAX_BYTES (64u * 1024 * 1024)

enum { OPT_WITH_KEYS = 300, OPT_KEY_FILE, OPT_DRY_RUN };

/* Reads the export key file: one Fernet key, surrounding white space ignored. */
static int read_export_key(const char *path, wf_fernet_key *key, wf_err *err)
{
    wf_buf text;
    wf_buf_init_secret(&text);
    int rc = wf_cli_read_file(path, 4096, &text, err);
    if (rc == 0 && !text.ptr)
        wf_buf_puts(&text, ""); /* an empty file: a C string to trim and refuse */
    if (rc == 0) {
        const char *s = text.ptr;
        size_t n = text.len;
        wf_text_trim(&s, &n);
        text.ptr[(size_t)(s - text.ptr) + n] = '\0'; /* the buffer is ours to cut */
        rc = wf_fernet_key_decode(s, key, err);
        if (rc < 0)
            rc = wf_err_set(err, WF_ERR_KEY,
                            "%s: not a Fernet key (make one with 'wfreg keys "
                            "generate')",
                            path);
    }
    wf_buf_wipe(&text);
    return rc;
}

/* The members of wf_engine_to_json that an export leaves out: they belong to the
 * database it came from (id, who and when), to its keyring (key_status), or say where
 * the engine came from (only database engines are exported). */
static const char *const not_exported[] = {"id",         "key_status", "source",
                                           "created_by", "created_at", "updated_at"};

/* One engine of the export, the same JSON as `engines show --json` minus not_exported;
 * wraps its key when a key is given. WF_ERR_NOMEM, or the keyring's error for a key. */
static int export_engine(wf_cli *c, const wf_engine *e, const wf_fernet_key *xkey, json_t *arr,
                         wf_err *err)
{
    json_t *j = wf_engine_to_json(e);
    if (!j)
        return wf_err_set(err, WF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < sizeof not_exported / sizeof not_exported[0]; i++)
        json_object_del(j, not_exported[i]);
    int rc = 0;
    if (xkey && e->api_key_encrypted && e->api_key_encrypted[0]) {
        wf_buf plain, wrapped = WF_BUF_INIT;
        wf_buf_init_secret(&plain);
        rc = wf_keyring_decrypt(c->keyring, e->api_key_encrypted, &plain, NULL, err);
        if (rc == 0)
            rc = wf_fernet_encrypt(xkey, plain.ptr, plain.len, (uint64_t)time(NULL), NULL, &wrapped,
                                   err);
        if (rc == 0 &&
            json_object_set_new(j, "api_key_wrapped", json_string(wf_buf_cstr(&wrapped))) < 0)
            rc = wf_err_set(err, WF_ERR_NOMEM, "out of memory");
        wf_buf_wipe(&plain);
        wf_buf_free(&wrapped);
    }
    if (rc < 0) {
        json_decref(j);
        return rc;
    }
    if (json_array_append_new(arr, j) < 0)
        return wf_err_set(err, WF_ERR_NOMEM, "out of memory");
    return 0;
}

/* Writes text to path with mode 0600 through a temporary file and a rename, so that a
 * failed export never leaves half a file in place of a good one. The temporary file is
 * made by mkstemp in the target's folder (a rename does not cross file systems): a name
 * nobody can guess, created with O_EXCL, so that nobody can plant a symlink there and
 * have the export (keys wrapped or not) written through it. */
static int write_file(const char *path, const char *text, wf_err *err)
{
    wf_buf tmp = WF_BUF_INIT;
    const char *slash = strrchr(path, '/');
    if (slash)
        wf_buf_put(&tmp, path, (size_t)(slash - path) + 1);
    wf_buf_puts(&tmp, ".wfreg-export.XXXXXX");
    if (!wf_buf_ok(&tmp)) {
        wf_buf_free(&tmp);
        return wf_err_set(err, WF_ERR_NOMEM, "out of memory");
    }
    int rc = 0;
    int fd = mkostemp(tmp.ptr, O_CLOEXEC);
    if (fd < 0) {
        rc = wf_err_set(err, WF_ERR_IO, "%s: %s", path, strerror(errno));
        goto done;
    }
    if (fchmod(fd, 0600) < 0) /* mkstemp's mode already; said here, whatever the libc */
        rc = wf_err_set(err, WF_ERR_IO, "%s: %s", path, strerror(errno));
    size_t len = strlen(text), off = 0;
    while (rc == 0 && off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = wf_err_set(err, WF_ERR_IO, "%s: %s", path, strerror(errno));
            break;
        }
        off += (size_t)w;
    }
    if (rc == 0 && fsync(fd) < 0)
        rc = wf_err_set(err, WF_ERR_IO, "%s: %s", path, strerror(errno));
    close(fd);
    if (rc == 0 && rename(tmp.ptr, path) < 0)
        rc = wf_err_set(err, WF_ERR_IO, "%s: %s", path, strerror(errno));
    if (rc < 0)
        unlink(tmp.ptr);
done:
    wf_buf_free(&tmp);
    return rc;
}

int wf_cmd_engines_export(wf_cli *c, int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, 0, 'o'},
                                         {"with-keys", no_argument, 0, OPT_WITH_KEYS},
                                         {"export-key-file", required_argument, 0, OPT_KEY_FILE},
                                         {0, 0, 0, 0}};
    const char *output = NULL, *key_file = NULL;
    bool with_keys = false;
    int opt;
    while ((opt = wf_cli_getopt(c, "engines export", argc, argv, "o:", opts)) != -1) {
        switch (opt) {
        case 'o': output = optarg; break;
        case OPT_WITH_KEYS: with_keys = true; break;
        case OPT_KEY_FILE: key_file = optarg; break;
        default: return WF_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return wf_cli_usage_error(c, "engines export: unexpected argument '%s'", argv[optind]);
    if (with_keys && !key_file)
        return wf_cli_usage_error(c, "engines export: --with-keys needs --export-key-file F "
                                     "(make the key with 'wfreg keys generate > F')");
    if (key_file && !with_keys)
        return wf_cli_usage_error(c, "engines export: --export-key-file is for --with-keys");

    wf_err err;
    wf_err_init(&err);
    wf_fernet_key xkey;
    memset(&xkey, 0, sizeof xkey);
    json_t *doc = NULL, *arr = json_array();
    char *text = NULL;
    wf_snapshot *snap = NULL;
    int rc = arr ? wf_cli_load_registry(c, &err) : wf_err_set(&err, WF_ERR_NOMEM, "out of memory");
    if (rc == 0 && with_keys)
        rc = read_export_key(key_file, &xkey, &err);
    if (rc < 0)
        goto done;
    snap = wf_registry_acquire(c->registry);
    size_t unreadable = 0;
    for (size_t i = 0; i < wf_snapshot_count(snap); i++) {
        const wf_engine *e = wf_snapshot_at(snap, i);
        if (e->source != WF_SOURCE_DATABASE)
            continue;
        wf_err one;
        wf_err_init(&one);
        int erc = export_engine(c, e, with_keys ? &xkey : NULL, arr, &one);
        if (erc == WF_ERR_NOMEM) {
            rc = wf_err_set(&err, WF_ERR_NOMEM, "out of memory");
            goto done;
        }
        if (erc < 0) { /* this engine's key: say which, then refuse the whole export */
            char *shown = wf_text_escape_dup(e->name, 0);
            fprintf(c->errout, "wfreg: engines export: %s: %s\n", shown ? shown : "?", one.msg);
            free(shown);
            unreadable++;
        }
    }
    if (unreadable) {
        rc = wf_err_set(&err, WF_ERR_KEY,
                        "%zu API key(s) unreadable with the configured keys; "
                        "nothing was written",
                        unreadable);
        goto done;
    }
    char now[WF_TEXT_ISO_MAX];
    wf_text_iso_time(time(NULL), -1, now);
    doc = json_pack("{s:s, s:i, s:s, s:o, s:O}", "format", EXPORT_FORMAT, "version", EXPORT_VERSION,
                    "exported_at", now, "key_wrapping",
                    with_keys ? json_string("fernet") : json_null(), "engines", arr);
    text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
    if (!text) {
        rc = wf_err_set(&err, WF_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (output) {
        wf_buf line = WF_BUF_INIT;
        wf_buf_printf(&line, "%s\n", text);
        rc = write_file(output, wf_buf_cstr(&line), &err);
        wf_buf_free(&line);
        if (rc == 0)
            fprintf(c->errout, "Exported %zu engines to %s%s\n", json_array_size(arr), output,
                    with_keys ? " (keys wrapped under the export key)" : " (without keys)");
    } else {
        fprintf(c->out, "%s\n", text);
    }
done:
    wf_fernet_key_wipe(&xkey);
    free(text);
    json_decref(doc);
    json_decref(arr);
    wf_snapshot_unref(snap);
    return rc < 0 ? wf_cli_fail(c, rc, &err, "engines export") : WF_EXIT_OK;
}

/* One engine of an import file, as it will be written. */
typedef struct import_item {
    const char *name;      /* borrowed from the parsed document */
    wf_engine_patch patch; /* points into the document and into config/key below */
    char *config;          /* compact text of the "config" member, or NULL */
    wf_buf key;            /* the unwrapped API key (secret) */
    wf_engine *existing;   /* the stored engine of that name, or NULL: create */
    const char *action;    /* "create", "update" or "unchanged" */
} import_item;

/* Appends "engines[i] (name): message" to the report of problems; the name (from the
 * file) and the message (which may quote a stored name) are made safe for a terminal. */
static void problem(wf_buf *report, size_t i, const char *name, const char *msg)
{
    wf_buf_printf(report, "  engines[%zu]", i);
    if (name) {
        wf_buf_puts(report, " (");
        wf_text_escape(report, name, 60);
        wf_buf_puts(report, ")");
    }
    wf_buf_puts(report, ": ");
    wf_text_escape(report, msg, 0);
    wf_buf_puts(report, "\n");
}

/* The members an export writes (engines_io.c's export_engine); has_api_key is for people
 * and is not read back. Anything else is refused rather than ignored: a typo would
 * silently drop a change, and an "api_key" in clear has no place in a file. */
static const char *const import_members[] = {"name",   "engine_type", "api_url",        "active",
                                             "config", "has_api_key", "api_key_wrapped"};

static void check_members(json_t *j, size_t i, const char *name, wf_buf *report)
{
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        size_t k = 0, n = sizeof import_members / sizeof import_members[0];
        while (k < n && strcmp(import_members[k], key))
            k++;
        if (k < n)
            continue;
        wf_buf msg = WF_BUF_INIT;
        if (!strcmp(key, "api_key")) {
            wf_buf_puts(&msg, "api_key: a key in clear is never imported: keys travel only "
                              "wrapped, as 'wfreg engines export --with-keys "
                              "--export-key-file F' writes them (api_key_wrapped)");
        } else {
            wf_buf_puts(&msg, "unknown member \"");
            wf_text_escape(&msg, key, 40);
            wf_buf_printf(&msg, "\" (an export has: name, engine_type, api_url, active, config, "
                                "has_api_key, api_key_wrapped)");
        }
        problem(report, i, name, wf_buf_ok(&msg) ? wf_buf_cstr(&msg) : "unknown member");
        wf_buf_free(&msg);
    }
}

/* Reads one element of "engines" into it; problems go to report. */
static void parse_item(json_t *j, size_t i, const wf_fernet_key *xkey, import_item *it,
                       wf_buf *report)
{
    it->patch = (wf_engine_patch)WF_ENGINE_PATCH_INIT;
    wf_buf_init_secret(&it->key);
    if (!json_is_object(j)) {
        problem(report, i, NULL, "must be an object");
        return;
    }
    json_t *v;
    if (!json_is_string(v = json_object_get(j, "name"))) {
        problem(report, i, NULL, "name: must be a string");
        return;
    }
    it->name = it->patch.name = json_string_value(v);
    check_members(j, i, it->name, report);
    static const char *const strings[] = {"engine_type", "api_url"};
    for (size_t k = 0; k < 2; k++) {
        v = json_object_get(j, strings[k]);
        if (v && !json_is_string(v)) {
            wf_buf msg = WF_BUF_INIT;
            wf_buf_printf(&msg, "%s: must be a string", strings[k]);
            problem(report, i, it->name, wf_buf_cstr(&msg));
            wf_buf_free(&msg);
        }
    }
    it->patch.engine_type = json_string_value(json_object_get(j, "engine_type"));
    it->patch.api_url = json_string_value(json_object_get(j, "api_url"));
    if ((v = json_object_get(j, "active"))) {
        if (json_is_boolean(v))
            it->patch.active = json_is_true(v);
        else
            problem(report, i, it->name, "active: must be true or false");
    }
    if ((v = json_object_get(j, "config"))) {
        /* null is no config, as an absent one is on create: {} */
        it->config = json_is_null(v)     ? strdup("{}")
                     : json_is_string(v) ? strdup(json_string_value(v))
                                         : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!it->config)
            problem(report, i, it->name, "config: out of memory");
        it->patch.config = it->config;
    }
    if ((v = json_object_get(j, "api_key_wrapped"))) {
        wf_err e;
        wf_err_init(&e);
        if (!json_is_string(v))
            problem(report, i, it->name, "api_key_wrapped: must be a string");
        else if (!xkey)
            problem(report, i, it->name, "holds a wrapped API key: give --export-key-file");
        else if (wf_fernet_decrypt(xkey, json_string_value(v), json_string_length(v),
                                   WF_FERNET_NO_EXPIRY, 0, &it->key, &e) < 0)
            problem(report, i, it->name,
                    "api_key_wrapped: the export key file does not open this key");
        else {
            it->patch.key_op = WF_KEYOP_SET;
            it->patch.api_key = wf_buf_cstr(&it->key);
            it->patch.api_key_len = it->key.len;
        }
    }
}

/* Two config texts mean the same when they are equal or parse to equal JSON (a stored
 * legacy text may be spaced differently, or be JSON that is not an object). */
static bool same_config(const char *a, const char *b)
{
    if (!strcmp(a, b ? b : "{}"))
        return true;
    json_t *ja = json_loads(a, JSON_DECODE_ANY, NULL);
    json_t *jb = json_loads(b ? b : "{}", JSON_DECODE_ANY, NULL);
    bool same = ja && jb && json_equal(ja, jb);
    json_decref(ja);
    json_decref(jb);
    return same;
}

/* Does the stored token open to the key the item carries? */
static bool same_key(wf_cli *c, const wf_engine *e, const wf_engine_patch *p)
{
    if (!e->api_key_encrypted)
        return false;
    wf_buf old;
    wf_buf_init_secret(&old);
    bool same = wf_keyring_decrypt(c->keyring, e->api_key_encrypted, &old, NULL, NULL) == 0 &&
                old.len == p->api_key_len && !memcmp(old.ptr, p->api_key, old.len);
    wf_buf_wipe(&old);
    return same;
}

/* For an update, keeps in the patch only what differs from the stored engine, so that
 * only changes are validated and written: an adopted engine whose stored values break
 * today's rules (a name with capitals, a legacy config) exports and imports back as
 * "unchanged". The engine is found by its name, so the name is never part of it. */
static void drop_unchanged(wf_cli *c, import_item *it)
{
    const wf_engine *e = it->existing;
    wf_engine_patch *p = &it->patch;
    p->name = NULL;
    if (p->engine_type && e->engine_type && !strcmp(p->engine_type, e->engine_type))
        p->engine_type = NULL;
    if (p->api_url && e->api_url && !strcmp(p->api_url, e->api_url))
        p->api_url = NULL;
    if (p->active >= 0 && p->active == e->is_active)
        p->active = -1;
    if (p->config && same_config(p->config, e->config))
        p->config = NULL;
    if (p->key_op == WF_KEYOP_SET && same_key(c, e, p)) {
        p->key_op = WF_KEYOP_KEEP;
        p->api_key = NULL;
        p->api_key_len = 0;
    }
}

static bool patch_sets_anything(const wf_engine_patch *p)
{
    return p->name || p->engine_type || p->api_url || p->config || p->active >= 0 ||
           p->key_op != WF_KEYOP_KEEP;
}

/* Validates every item against the store; fills existing and action. */
static void plan_items(wf_cli *c, import_item *items, size_t n, wf_buf *report)
{
    for (size_t i = 0; i < n; i++) {
        import_item *it = &items[i];
        if (!it->name)
            continue;
        for (size_t k = 0; k < i; k++) {
            if (items[k].name && !strcmp(items[k].name, it->name))
                problem(report, i, it->name, "name: appears twice in the file");
        }
        wf_err e;
        wf_err_init(&e);
        int rc = wf_store_engine_get(c->store, it->name, &it->existing, &e);
        if (rc < 0 && rc != WF_ERR_NOT_FOUND) {
            problem(report, i, it->name, e.msg);
            continue;
        }
        if (it->existing)
            drop_unchanged(c, it);
        wf_err_init(&e);
        if (wf_engine_validate_patch(&it->patch, it->existing, &e) < 0) {
            size_t nf = e.nfields < WF_ERR_MAX_FIELDS ? e.nfields : WF_ERR_MAX_FIELDS;
            for (size_t f = 0; f < nf; f++) {
                wf_buf msg = WF_BUF_INIT;
                wf_buf_printf(&msg, "%s: %s", e.fields[f].field, e.fields[f].msg);
                problem(report, i, it->name, wf_buf_cstr(&msg));
                wf_buf_free(&msg);
            }
            continue;
        }
        if (it->patch.key_op == WF_KEYOP_SET && !wf_keyring_can_encrypt(c->keyring))
            problem(report, i, it->name, "api_key: " WF_KEYRING_NO_KEY_MSG);
        it->action = !it->existing                     ? "create"
                     : patch_sets_anything(&it->patch) ? "update"
                                                       : "unchanged";
    }
}

/* Writes the planned items in one transaction. */
static int apply_items(wf_cli *c, import_item *items, size_t n, wf_err *err)
{
    int rc = wf_store_begin(c->store, err);
    if (rc < 0)
        return rc;
    wf_snapshot *snap = wf_registry_acquire(c->registry);
    for (size_t i = 0; i < n && rc == 0; i++) {
        import_item *it = &items[i];
        if (!strcmp(it->action, "create")) {
            rc = wf_writes_create(c->store, c->keyring, &it->patch, &wf_cli_actor, NULL, err);
        } else if (!strcmp(it->action, "update")) { /* the changed fields only */
            rc = wf_writes_update(c->store, c->keyring, snap, it->name, &it->patch, &wf_cli_actor,
                                  NULL, err);
        }
        if (rc < 0)
            wf_err_prefix(err, it->name);
    }
    wf_snapshot_unref(snap);
    if (rc == 0)
        return wf_store_commit(c->store, err);
    wf_store_rollback(c->store);
    return rc;
}

int wf_cmd_engines_import(wf_cli *c, int argc, char **argv)
{
    static const struct option opts[] = {{"dry-run", no_argument, 0, OPT_DRY_RUN},
                                         {"export-key-file", required_argument, 0, OPT_KEY_FILE},
                                         {0, 0, 0, 0}};
    const char *key_file = NULL;
    bool dry_run = false;
    int opt;
    while ((opt = wf_cli_getopt(c, "engines import", argc, argv, "n", opts)) != -1) {
        switch (opt) {
        case 'n':
        case OPT_DRY_RUN: dry_run = true; break;
        case OPT_KEY_FILE: key_file = optarg; break;
        default: return WF_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc)
        return wf_cli_usage_error(c, "engines import: give exactly one FILE ('-' for standard "
                                     "input)");
    const char *path = argv[optind];

    wf_err err;
    wf_err_init(&err);
    wf_fernet_key xkey;
    memset(&xkey, 0, sizeof xkey);
    wf_buf text = WF_BUF_INIT, report = WF_BUF_INIT;
    json_t *doc = NULL;
    import_item *items = NULL;
    size_t n = 0;
    bool reported = false; /* the problems were printed already */
    int rc = wf_cli_read_file(path, IMPORT_MAX_BYTES, &text, &err);
    if (rc < 0)
        goto done;
    json_error_t jerr;
    doc = json_loadb(wf_buf_cstr(&text), text.len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *engines = doc ? json_object_get(doc, "engines") : NULL;
    if (!doc) {
        /* the position only: jansson's text quotes the file ("near '...'"), which may
         * hold a key wrapped or, by mistake, in clear */
        rc = wf_err_set(&err, WF_ERR_INVALID, "%s: not JSON (line %d, column %d)", path, jerr.line,
                        jerr.column);
        goto done;
    }
    if (!json_is_string(json_object_get(doc, "format")) ||
        strcmp(json_string_value(json_object_get(doc, "format")), EXPORT_FORMAT) ||
        json_integer_value(json_object_get(doc, "version")) != EXPORT_VERSION ||
        !json_is_array(engines)) {
        rc = wf_err_set(&err, WF_ERR_INVALID,
                        "%s: not a wfreg export (format \"%s\", version "
                        "%d, with an \"engines\" array)",
                        path, EXPORT_FORMAT, EXPORT_VERSION);
        goto done;
    }
    if ((rc = wf_cli_load_registry(c, &err)) < 0)
        goto done;
    if (key_file && (rc = read_export_key(key_file, &xkey, &err)) < 0)
        goto done;
    n = json_array_size(engines);
    items = calloc(n ? n : 1, sizeof *items);
    if (!items) {
        rc = wf_err_set(&err, WF_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        parse_item(json_array_get(engines, i), i, key_file ? &xkey : NULL, &items[i], &report);
    plan_items(c, items, n, &report); /* adds its problems: all are reported at once */
    if (report.len) {
        fprintf(c->errout, "wfreg: engines import: %s: nothing was written:\n%s", path,
                wf_buf_cstr(&report));
        reported = true;
        rc = WF_ERR_INVALID;
        goto done;
    }
    size_t ncreate = 0, nupdate = 0, nsame = 0;
    for (size_t i = 0; i < n; i++) {
        const char *a = items[i].action;
        char *shown = wf_text_escape_dup(items[i].name, 0);
        fprintf(c->out, "%-9s %s\n", a, shown ? shown : "?");
        free(shown);
        if (!strcmp(a, "create"))
            ncreate++;
        else if (!strcmp(a, "update"))
            nupdate++;
        else
            nsame++;
    }
    if (!dry_run && (rc = apply_items(c, items, n, &err)) < 0)
        goto done;
    fprintf(c->out, "%zu to create, %zu to update, %zu unchanged%s\n", ncreate, nupdate, nsame,
            dry_run ? " (dry run: nothing written)" : ": done");
done:
    for (size_t i = 0; i < n && items; i++) {
        free(items[i].config);
        wf_buf_wipe(&items[i].key);
        wf_engine_free(items[i].existing);
    }
    free(items);
    json_decref(doc);
    wf_buf_free(&text);
    wf_buf_free(&report);
    wf_fernet_key_wipe(&xkey);
    if (reported)
        return WF_EXIT_USAGE;
    return rc < 0 ? wf_cli_fail(c, rc, &err, "engines import") : WF_EXIT_OK;
}
