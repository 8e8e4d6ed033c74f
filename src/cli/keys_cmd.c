/*
 * keys_cmd.c: `wfreg keys generate | check | rotate`.
 *
 * generate prints a new random Fernet key (for WFREG_FERNET_KEYS or an export key file).
 * check says, per engine, whether the configured keys open its stored API key. rotate
 * re-encrypts every stored key under the first configured key in one transaction; the
 * old keys stay accepted until the operator removes them from WFREG_FERNET_KEYS.
 */
#include "cli.h"
#include "core/text.h"
#include "crypto/fernet.h"
#include "store/writes.h"

#include <stdlib.h>
#include <string.h>

static const char keys_usage[] =
    "Usage: wfreg keys SUBCOMMAND [ARGS]\n"
    "\n"
    "  generate            print a new random Fernet key\n"
    "  check [--json]      per engine: does a configured key open its API key? (exit 1 if\n"
    "                      any does not)\n"
    "  rotate [--dry-run]  re-encrypt every stored API key under the first key of\n"
    "                      WFREG_FERNET_KEYS, in one transaction\n"
    "\n"
    "Rotation: put the new key first, keep the old one after it\n"
    "(WFREG_FERNET_KEYS=new,old), run 'wfreg keys rotate', then remove the old key.\n";

enum { OPT_DRY_RUN = 500 };

static int cmd_generate(wf_cli *c, int argc, char **argv)
{
    (void)argv;
    if (argc > 1)
        return wf_cli_usage_error(c, "keys generate: takes no arguments");
    wf_err err;
    wf_err_init(&err);
    wf_fernet_key key;
    char b64[WF_FERNET_KEY_B64_LEN + 1];
    int rc = wf_fernet_key_generate(&key, &err);
    if (rc < 0)
        return wf_cli_fail(c, rc, &err, "keys generate");
    wf_fernet_key_encode(&key, b64);
    fprintf(c->out, "%s\n", b64);
    fflush(c->out);
    wf_fernet_key_wipe(&key);
    wf_secure_zero(b64, sizeof b64);
    return WF_EXIT_OK;
}

static int cmd_check(wf_cli *c, int argc, char **argv)
{
    if (wf_cli_getopt_flag(c, "keys check", argc, argv, "json", &c->json))
        return WF_EXIT_USAGE;
    if (optind < argc)
        return wf_cli_usage_error(c, "keys check: unexpected argument '%s'", argv[optind]);
    wf_err err;
    wf_err_init(&err);
    int rc = wf_cli_load_registry(c, &err);
    if (rc < 0)
        return wf_cli_fail(c, rc, &err, "keys check");
    wf_snapshot *snap = wf_registry_acquire(c->registry);
    size_t unreadable = 0, with_key = 0;
    json_t *arr = json_array();
    bool json_failed = !arr; /* an engine missing from the output is an error */
    wf_table t;
    wf_table_init(&t, 3);
    wf_table_row(&t, "ENGINE", "SOURCE", "API KEY");
    for (size_t i = 0; i < wf_snapshot_count(snap); i++) {
        /* as the registry found it at load: no token is decrypted a second time */
        const wf_engine *e = wf_snapshot_at(snap, i);
        int index = e->key_number - 1;
        wf_key_status st = e->key_status;
        char what[64];
        if (st == WF_KEY_OK && e->source == WF_SOURCE_DATABASE)
            snprintf(what, sizeof what, "ok (key %d)", index + 1);
        else
            snprintf(what, sizeof what, "%s", wf_key_status_name(st));
        with_key += st != WF_KEY_NONE;
        unreadable += st == WF_KEY_UNREADABLE;
        wf_table_row(&t, e->name, wf_engine_source_name(e->source), what);
        json_t *row = json_pack(
            "{s:o, s:s, s:s, s:o?}", "engine", wf_text_json(e->name), "source",
            wf_engine_source_name(e->source), "key_status", wf_key_status_name(st), "key_index",
            index >= 0 && e->source == WF_SOURCE_DATABASE ? json_integer(index + 1) : NULL);
        json_failed |= json_array_append_new(arr, row) < 0;
    }
    if (!json_failed && c->json)
        json_failed = wf_cli_print_json(c, arr) < 0;
    if (json_failed) {
        wf_err_set(&err, WF_ERR_NOMEM, "out of memory building the output");
        json_decref(arr);
        wf_table_free(&t);
        wf_snapshot_unref(snap);
        return wf_cli_fail(c, WF_ERR_NOMEM, &err, "keys check");
    }
    if (!c->json) {
        wf_table_print(&t, c->out);
        fprintf(c->out, "\n%zu engine(s) with an API key, %zu unreadable; keys from %s (%zu)\n",
                with_key, unreadable, wf_keyring_origin(c->keyring), wf_keyring_count(c->keyring));
    }
    json_decref(arr);
    wf_table_free(&t);
    wf_snapshot_unref(snap);
    if (unreadable)
        fprintf(c->errout,
                "wfreg: keys check: %zu API key(s) unreadable with the configured "
                "keys (was SECRET_KEY changed?)\n",
                unreadable);
    return unreadable ? WF_EXIT_FAIL : WF_EXIT_OK;
}

static void print_rotation(void *ctx, const char *name, const char *what)
{
    wf_cli *c = ctx;
    char *shown = wf_text_escape_dup(name, 0); /* a legacy row's name: safe for the terminal */
    fprintf(c->out, "%-18s %s\n", what, shown ? shown : "?");
    free(shown);
}

static int cmd_rotate(wf_cli *c, int argc, char **argv)
{
    static const struct option opts[] = {{"dry-run", no_argument, 0, OPT_DRY_RUN}, {0, 0, 0, 0}};
    bool dry_run = false;
    int opt;
    while ((opt = wf_cli_getopt(c, "keys rotate", argc, argv, "n", opts)) != -1) {
        if (opt != OPT_DRY_RUN && opt != 'n')
            return WF_EXIT_USAGE;
        dry_run = true;
    }
    if (optind < argc)
        return wf_cli_usage_error(c, "keys rotate: unexpected argument '%s'", argv[optind]);
    wf_err err;
    wf_err_init(&err);
    wf_rotate_report rep;
    int rc = wf_cli_open_store(c, true, &err);
    if (rc == 0)
        rc = wf_cli_open_keyring(c, &err);
    if (rc == 0)
        rc = wf_writes_rotate_keys(c->store, c->keyring, dry_run, &wf_cli_actor, &rep,
                                   print_rotation, c, &err);
    if (rc < 0)
        return wf_cli_fail(c, rc, &err, "keys rotate");
    fprintf(c->out, "%zu stored key(s): %zu %s, %zu already under the first key, %zu unreadable",
            rep.total, rep.rotated, dry_run ? "would be re-encrypted" : "re-encrypted", rep.current,
            rep.unreadable);
    if (rep.raced)
        fprintf(c->out, ", %zu changed meanwhile (run again)", rep.raced);
    fprintf(c->out, "%s\n", dry_run ? " (dry run: nothing written)" : "");
    if (rep.unreadable)
        fprintf(c->errout,
                "wfreg: keys rotate: %zu API key(s) unreadable with the configured "
                "keys were left as they are\n",
                rep.unreadable);
    return rep.unreadable || rep.raced ? WF_EXIT_FAIL : WF_EXIT_OK;
}

int wf_cmd_keys(wf_cli *c, int argc, char **argv)
{
    static const wf_subcommand subs[] = {
        {"generate", cmd_generate},
        {"check", cmd_check},
        {"rotate", cmd_rotate},
    };
    return wf_cli_dispatch(c, "keys", keys_usage, subs, sizeof subs / sizeof subs[0], argc, argv);
}
