/*
 * engines_cmd.c: `wfreg engines list | show | add | update | remove` (export and import
 * are in engines_io.c). Reads come from the merged registry (database + environment);
 * writes go through the one write path (writes.c). An API key is read from standard
 * input or a prompt without echo, never from an argument: it would show in `ps` and in
 * the shell's history.
 */
#include "cli.h"
#include "core/text.h"
#include "store/writes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char engines_usage[] =
    "Usage: wfreg engines SUBCOMMAND [ARGS]\n"
    "\n"
    "  list [--type T] [--active|--inactive] [--source database|environment] [--json]\n"
    "  show NAME [--json]\n"
    "  add NAME --type T --url URL [--config JSON] [--active|--inactive]\n"
    "      [--api-key-stdin | --api-key-prompt] [--json]\n"
    "  update NAME [--name NEW] [--type T] [--url URL] [--config JSON]\n"
    "      [--active|--inactive] [--api-key-stdin | --api-key-prompt | --remove-api-key]\n"
    "      [--json]\n"
    "  remove NAME\n"
    "  test NAME | --all [--json]   ask the engine (every active one) whether it answers\n"
    "      and accepts its key: up, unauthorized, down, timeout or error (exit 1 unless\n"
    "      all are up)\n"
    "  export [--output FILE] [--with-keys --export-key-file F]\n"
    "  import FILE [--dry-run] [--export-key-file F]\n"
    "\n"
    "Types: n8n, prefect, windmill (windmill needs --config '{\"workspace\":\"...\"}').\n"
    "Config keys checked: timeout_ms (1-120000), verify_tls (true|false); others are kept.\n"
    "Environment engines are listed with source 'environment' and are read-only.\n";

enum {
    OPT_ACTIVE = 256,
    OPT_INACTIVE,
    OPT_KEY_STDIN,
    OPT_KEY_PROMPT,
    OPT_KEY_REMOVE,
    OPT_KEY_ARG,
    OPT_JSON,
    OPT_SOURCE,
    OPT_NAME
};

/* Where the API key of an add or update comes from. */
typedef enum key_source { KEY_FROM_NONE, KEY_FROM_STDIN, KEY_FROM_PROMPT } key_source;

static const char key_arg_msg[] =
    "API keys are never taken from the command line (they would show in ps and in the "
    "shell's history): use --api-key-stdin or --api-key-prompt";

/* One "label: value" line of `engines show`. Values come from the database, where a
 * legacy row may hold anything: made safe for the terminal. */
static void show_line(FILE *f, const char *label, const char *value)
{
    char *shown = wf_text_escape_dup(value ? value : "-", 0);
    fprintf(f, "%-13s%s\n", label, shown ? shown : "(out of memory)");
    free(shown);
}

static void print_engine(wf_cli *c, const wf_engine *e, const wf_snapshot *snap)
{
    const char *key = "not set";
    if (e->key_status == WF_KEY_OK)
        key = "set";
    else if (e->key_status == WF_KEY_UNREADABLE)
        key = "set, but UNREADABLE with the configured keys";
    else if (wf_engine_has_api_key(e))
        key = "set";
    FILE *f = c->out;
    bool is_env = e->source == WF_SOURCE_ENVIRONMENT;
    show_line(f, "name:", e->name);
    show_line(f, "engine_type:", e->engine_type);
    show_line(f, "api_url:", e->api_url);
    show_line(f, "active:", e->is_active ? "yes" : "no");
    show_line(f, "api_key:", key);
    show_line(f, "config:", e->config ? e->config : "{}");
    fprintf(f, "%-13s%s%s\n", "source:", wf_engine_source_name(e->source),
            is_env ? " (read-only)" : "");
    if (!is_env) {
        char num[32];
        snprintf(num, sizeof num, "%lld", (long long)e->id);
        show_line(f, "id:", num);
        snprintf(num, sizeof num, "%lld", (long long)e->created_by);
        show_line(f, "created_by:", e->created_by ? num : "-");
        show_line(f, "created_at:", e->created_at);
        show_line(f, "updated_at:", e->updated_at);
    }
    const wf_engine *env = snap ? wf_snapshot_find_env(snap, e->name) : NULL;
    if (!is_env && env) {
        wf_buf note = WF_BUF_INIT;
        wf_buf_printf(&note, "shadows the environment engine of the same name (%s, %s)",
                      env->engine_type, env->api_url);
        show_line(f, "note:", wf_buf_cstr(&note));
        wf_buf_free(&note);
    }
}

static int cmd_list(wf_cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"type", required_argument, 0, 't'},        {"active", no_argument, 0, OPT_ACTIVE},
        {"inactive", no_argument, 0, OPT_INACTIVE}, {"source", required_argument, 0, OPT_SOURCE},
        {"json", no_argument, 0, OPT_JSON},         {0, 0, 0, 0}};
    const char *type = NULL, *source = NULL;
    int active = -1, opt;
    while ((opt = wf_cli_getopt(c, "engines list", argc, argv, "t:", opts)) != -1) {
        switch (opt) {
        case 't': type = optarg; break;
        case OPT_ACTIVE: active = 1; break;
        case OPT_INACTIVE: active = 0; break;
        case OPT_SOURCE: source = optarg; break;
        case OPT_JSON: c->json = true; break;
        default: return WF_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return wf_cli_usage_error(c, "engines list: unexpected argument '%s'", argv[optind]);
    if (source && strcmp(source, "database") && strcmp(source, "environment"))
        return wf_cli_usage_error(c, "engines list: --source must be database or environment");

    wf_err err;
    wf_err_init(&err);
    int rc = wf_cli_load_registry(c, &err);
    if (rc < 0)
        return wf_cli_fail(c, rc, &err, "engines list");
    wf_snapshot *snap = wf_registry_acquire(c->registry);
    json_t *arr = c->json ? json_array() : NULL;
    bool json_failed = c->json && !arr; /* an engine missing from the output is an error */
    wf_table t;
    wf_table_init(&t, 6);
    wf_table_row(&t, "NAME", "TYPE", "ACTIVE", "API KEY", "SOURCE", "URL");
    for (size_t i = 0; i < wf_snapshot_count(snap); i++) {
        const wf_engine *e = wf_snapshot_at(snap, i);
        if ((type && strcmp(type, e->engine_type)) || (active >= 0 && e->is_active != active) ||
            (source && strcmp(source, wf_engine_source_name(e->source))))
            continue;
        if (arr)
            json_failed |= json_array_append_new(arr, wf_engine_to_json(e)) < 0;
        else if (!c->json)
            wf_table_row(&t, e->name, e->engine_type, e->is_active ? "yes" : "no",
                         wf_key_status_name(e->key_status), wf_engine_source_name(e->source),
                         e->api_url);
    }
    if (c->json && !json_failed)
        json_failed = wf_cli_print_json(c, arr) < 0;
    else if (!c->json && t.nrows == 1)
        fprintf(c->out, "No engines registered.\n");
    else if (!c->json)
        wf_table_print(&t, c->out);
    if (json_failed)
        wf_err_set(&err, WF_ERR_NOMEM, "out of memory building the JSON output");
    wf_table_free(&t);
    json_decref(arr);
    wf_snapshot_unref(snap);
    return json_failed ? wf_cli_fail(c, WF_ERR_NOMEM, &err, "engines list") : WF_EXIT_OK;
}

/* What show and remove start with, after their options: the NAME argument and a
 * snapshot of the loaded registry (the caller unrefs it). Returns 0, or an exit code after
 * printing why. */
static int name_and_snapshot(wf_cli *c, const char *cmd, int argc, char **argv, const char **name,
                             wf_snapshot **snap)
{
    if (!(*name = wf_cli_one_name(c, cmd, argc, argv)))
        return WF_EXIT_USAGE;
    wf_err err;
    wf_err_init(&err);
    int rc = wf_cli_load_registry(c, &err);
    if (rc < 0)
        return wf_cli_fail(c, rc, &err, cmd);
    *snap = wf_registry_acquire(c->registry);
    return 0;
}

static int cmd_show(wf_cli *c, int argc, char **argv)
{
    const char *name = NULL;
    wf_snapshot *snap = NULL;
    int code = wf_cli_getopt_flag(c, "engines show", argc, argv, "json", &c->json);
    if (code == 0)
        code = name_and_snapshot(c, "engines show", argc, argv, &name, &snap);
    if (code)
        return code;
    wf_err err;
    wf_err_init(&err);
    const wf_engine *e = wf_snapshot_find(snap, name);
    if (!e) {
        wf_err_set(&err, WF_ERR_NOT_FOUND, "no engine named '%s'", name);
        code = wf_cli_fail(c, WF_ERR_NOT_FOUND, &err, "engines show");
    } else if (c->json) {
        json_t *j = wf_engine_to_json(e);
        const wf_engine *env = wf_snapshot_find_env(snap, name);
        if (j && e->source == WF_SOURCE_DATABASE && env &&
            json_object_set_new(j, "shadows_environment_engine", json_true()) < 0) {
            json_decref(j);
            j = NULL;
        }
        if (wf_cli_print_json(c, j) < 0) {
            wf_err_set(&err, WF_ERR_NOMEM, "out of memory building the JSON output");
            code = wf_cli_fail(c, WF_ERR_NOMEM, &err, "engines show");
        }
        json_decref(j);
    } else {
        print_engine(c, e, snap);
    }
    wf_snapshot_unref(snap);
    return code;
}

/* Parses the options of add and update into a patch. *key_from says where to read the
 * key. Returns 0 or WF_EXIT_USAGE (after printing why). */
static int parse_engine_opts(wf_cli *c, const char *cmd, bool is_update, int argc, char **argv,
                             wf_engine_patch *p, key_source *key_from)
{
    static const struct option opts[] = {{"type", required_argument, 0, 't'},
                                         {"url", required_argument, 0, 'u'},
                                         {"config", required_argument, 0, 'c'},
                                         {"name", required_argument, 0, OPT_NAME},
                                         {"active", no_argument, 0, OPT_ACTIVE},
                                         {"inactive", no_argument, 0, OPT_INACTIVE},
                                         {"api-key-stdin", no_argument, 0, OPT_KEY_STDIN},
                                         {"api-key-prompt", no_argument, 0, OPT_KEY_PROMPT},
                                         {"remove-api-key", no_argument, 0, OPT_KEY_REMOVE},
                                         {"api-key", optional_argument, 0, OPT_KEY_ARG},
                                         {"json", no_argument, 0, OPT_JSON},
                                         {0, 0, 0, 0}};
    int opt, nkey = 0;
    *key_from = KEY_FROM_NONE;
    while ((opt = wf_cli_getopt(c, cmd, argc, argv, "t:u:c:", opts)) != -1) {
        switch (opt) {
        case 't': p->engine_type = optarg; break;
        case 'u': p->api_url = optarg; break;
        case 'c': p->config = optarg; break;
        case OPT_ACTIVE: p->active = 1; break;
        case OPT_INACTIVE: p->active = 0; break;
        case OPT_JSON: c->json = true; break;
        case OPT_KEY_ARG: wf_cli_usage_error(c, "%s: %s", cmd, key_arg_msg); return WF_EXIT_USAGE;
        case OPT_KEY_STDIN:
            *key_from = KEY_FROM_STDIN;
            p->key_op = WF_KEYOP_SET;
            nkey++;
            break;
        case OPT_KEY_PROMPT:
            *key_from = KEY_FROM_PROMPT;
            p->key_op = WF_KEYOP_SET;
            nkey++;
            break;
        case OPT_NAME:
        case OPT_KEY_REMOVE:
            if (!is_update)
                return wf_cli_usage_error(c, "%s: %s is for 'engines update'", cmd,
                                          argv[optind - 1]);
            if (opt == OPT_NAME)
                p->name = optarg;
            else {
                p->key_op = WF_KEYOP_REMOVE;
                nkey++;
            }
            break;
        default: return WF_EXIT_USAGE;
        }
    }
    if (nkey > 1)
        return wf_cli_usage_error(c,
                                  "%s: choose one of --api-key-stdin, --api-key-prompt "
                                  "and --remove-api-key",
                                  cmd);
    return 0;
}

/* Reads the key the options asked for into key (a secret buffer) and points p at it. */
static int read_key(key_source from, wf_engine_patch *p, wf_buf *key, wf_err *err)
{
    int rc = 0;
    if (from == KEY_FROM_STDIN)
        rc = wf_cli_read_secret_stdin(key, err);
    else if (from == KEY_FROM_PROMPT)
        rc = wf_cli_read_secret_prompt("API key: ", key, err);
    if (rc == 0 && from != KEY_FROM_NONE) {
        p->api_key = wf_buf_cstr(key);
        p->api_key_len = key->len;
    }
    return rc;
}

/* Says what was written; WF_ERR_NOMEM when the JSON could not be built (the write
 * itself is done: the caller says so in its error). */
static int report_written(wf_cli *c, const char *verb, const wf_engine *e, wf_err *err)
{
    if (c->json) {
        json_t *j = wf_engine_to_json(e);
        int rc = wf_cli_print_json(c, j);
        json_decref(j);
        return rc == 0 ? 0
                       : wf_err_set(err, WF_ERR_NOMEM,
                                    "written, but out of memory building the JSON output");
    }
    /* an update may keep a legacy row's name, type or URL: made safe for the terminal */
    char *name = wf_text_escape_dup(e->name, 0), *type = wf_text_escape_dup(e->engine_type, 0);
    char *url = wf_text_escape_dup(e->api_url, 0);
    fprintf(c->out, "%s engine '%s' (%s, %s, %s, API key %s)\n", verb, name ? name : "?",
            type ? type : "?", url ? url : "?", e->is_active ? "active" : "inactive",
            wf_engine_has_api_key(e) ? "set" : "not set");
    free(name);
    free(type);
    free(url);
    return 0;
}

static int cmd_write(wf_cli *c, int argc, char **argv, bool is_update)
{
    const char *cmd = is_update ? "engines update" : "engines add";
    wf_engine_patch p = WF_ENGINE_PATCH_INIT;
    key_source from;
    int code = parse_engine_opts(c, cmd, is_update, argc, argv, &p, &from);
    if (code)
        return code;
    const char *name = wf_cli_one_name(c, cmd, argc, argv);
    if (!name)
        return WF_EXIT_USAGE;
    if (is_update && !p.name && !p.engine_type && !p.api_url && !p.config && p.active < 0 &&
        p.key_op == WF_KEYOP_KEEP)
        return wf_cli_usage_error(c, "%s: nothing to change (see --help)", cmd);
    if (!is_update)
        p.name = name;

    wf_err err;
    wf_err_init(&err);
    wf_buf key;
    wf_buf_init_secret(&key);
    wf_engine *e = NULL;
    wf_snapshot *snap = NULL;
    int rc = wf_cli_load_registry(c, &err);
    if (rc == 0)
        rc = read_key(from, &p, &key, &err);
    if (rc < 0)
        goto done;
    snap = wf_registry_acquire(c->registry);
    if (is_update)
        rc = wf_writes_update(c->store, c->keyring, snap, name, &p, &wf_cli_actor, &e, &err);
    else
        rc = wf_writes_create(c->store, c->keyring, &p, &wf_cli_actor, &e, &err);
    if (rc < 0)
        goto done;
    if ((rc = report_written(c, is_update ? "Updated" : "Added", e, &err)) < 0)
        goto done;
    if (wf_snapshot_find_env(snap, e->name)) /* found: an environment name, valid text */
        fprintf(c->errout,
                "wfreg: note: '%s' now shadows the environment engine of the same "
                "name\n",
                e->name);
done:
    if (rc < 0)
        code = wf_cli_fail(c, rc, &err, cmd);
    wf_buf_wipe(&key);
    wf_engine_free(e);
    wf_snapshot_unref(snap);
    return code;
}

static int cmd_add(wf_cli *c, int argc, char **argv)
{
    return cmd_write(c, argc, argv, false);
}

static int cmd_update(wf_cli *c, int argc, char **argv)
{
    return cmd_write(c, argc, argv, true);
}

static int cmd_remove(wf_cli *c, int argc, char **argv)
{
    const char *name = NULL;
    wf_snapshot *snap = NULL;
    int code = wf_cli_getopt_flag(c, "engines remove", argc, argv, NULL, NULL);
    if (code == 0)
        code = name_and_snapshot(c, "engines remove", argc, argv, &name, &snap);
    if (code)
        return code;
    wf_err err;
    wf_err_init(&err);
    int rc = wf_writes_delete(c->store, snap, name, &wf_cli_actor, &err);
    wf_snapshot_unref(snap);
    if (rc < 0)
        return wf_cli_fail(c, rc, &err, "engines remove");
    char *shown = wf_text_escape_dup(name, 0);
    fprintf(c->out, "Removed engine '%s'\n", shown ? shown : "?");
    free(shown);
    return WF_EXIT_OK;
}

int wf_cmd_engines(wf_cli *c, int argc, char **argv)
{
    static const wf_subcommand subs[] = {
        {"list", cmd_list},
        {"show", cmd_show},
        {"add", cmd_add},
        {"update", cmd_update},
        {"remove", cmd_remove},
        {"rm", cmd_remove},
        {"export", wf_cmd_engines_export},
        {"import", wf_cmd_engines_import},
        {"test", wf_cmd_engines_test},
    };
    return wf_cli_dispatch(c, "engines", engines_usage, subs, sizeof subs / sizeof subs[0], argc,
                           argv);
}
