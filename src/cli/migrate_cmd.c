/*
 * migrate_cmd.c: `wfreg migrate status | up | down | verify`, the deployment steps of the
 * checklist (check the current version, upgrade to head or print the SQL for a DBA,
 * verify, roll back) as wfreg does them.
 */
#include "cli.h"
#include "core/text.h"
#include "store/migrate.h"

#include <stdlib.h>
#include <string.h>

static const char migrate_usage[] =
    "Usage: wfreg migrate SUBCOMMAND [ARGS]\n"
    "\n"
    "  status [--json]        every migration, applied or pending, and the current version\n"
    "  up [REV] [--sql]       apply pending migrations up to REV (default: head);\n"
    "                         --sql prints the SQL a DBA would run by hand and writes nothing\n"
    "  down [REV] [--force]   revert migrations newer than REV (default: the last one);\n"
    "                         refuses to drop registered engines without --force\n"
    "  verify                 check version, tables, columns and indexes (exit 1 if not)\n";

/* The options of up and down: one flag, then an optional REV. Returns 0, or
 * WF_EXIT_USAGE after printing why. */
static int parse_flag_and_rev(wf_cli *c, const char *cmd, int argc, char **argv, const char *flag,
                              bool *is_set, const char **target)
{
    if (wf_cli_getopt_flag(c, cmd, argc, argv, flag, is_set))
        return WF_EXIT_USAGE;
    if (optind + 1 < argc)
        return wf_cli_usage_error(c, "%s: unexpected argument '%s'", cmd, argv[optind + 1]);
    *target = optind < argc ? argv[optind] : NULL;
    return 0;
}

static const char *state_word(const wf_migration_state *m)
{
    if (!m->is_known)
        return "applied, unknown to this wfreg";
    if (!m->is_applied)
        return "pending";
    return m->checksum_matches ? "applied" : "applied, CHECKSUM MISMATCH";
}

/* status --json. Versions and names of unknown rows, and applied_at, come from the
 * database: wf_text_json, and any failure is an error rather than a missing entry. */
static int print_status_json(wf_cli *c, const wf_migration_state *st, size_t n, const char *cur,
                             bool at_head, const char *bad, wf_err *err)
{
    json_t *arr = json_array(), *doc = NULL;
    bool failed = !arr;
    for (size_t i = 0; !failed && i < n; i++) {
        json_t *m =
            json_pack("{s:o, s:o, s:b, s:b, s:b, s:o}", "version", wf_text_json(st[i].version),
                      "name", wf_text_json(st[i].name), "applied", st[i].is_applied, "known",
                      st[i].is_known, "checksum_ok", st[i].checksum_matches, "applied_at",
                      wf_text_json(st[i].applied_at[0] ? st[i].applied_at : NULL));
        failed = json_array_append_new(arr, m) < 0;
    }
    if (!failed)
        doc = json_pack("{s:o, s:s, s:b, s:s?, s:O}", "current", wf_text_json(cur[0] ? cur : NULL),
                        "head", wf_migrate_head(), "at_head", at_head, "checksum_mismatch",
                        bad[0] ? bad : NULL, "migrations", arr);
    json_decref(arr);
    int rc = wf_cli_print_json(c, doc);
    json_decref(doc);
    return rc == 0 ? 0 : wf_err_set(err, WF_ERR_NOMEM, "out of memory building the JSON output");
}

static int cmd_status(wf_cli *c, int argc, char **argv)
{
    if (wf_cli_getopt_flag(c, "migrate status", argc, argv, "json", &c->json))
        return WF_EXIT_USAGE;
    if (optind < argc)
        return wf_cli_usage_error(c, "migrate status: unexpected argument '%s'", argv[optind]);
    wf_err err;
    wf_err_init(&err);
    wf_migration_state *st = NULL;
    size_t n = 0;
    char cur[32] = "", bad[WF_MIGRATE_LABEL_MAX] = "";
    bool at_head = false; /* every migration applied, each with its own script */
    int rc = wf_cli_open_store_existing(c, &err);
    if (rc == 0)
        rc = wf_migrate_status(c->store, &st, &n, &err);
    if (rc == 0)
        rc = wf_migrate_current(c->store, cur, &err);
    if (rc == 0)
        rc = wf_migrate_is_at_head(c->store, &at_head, &err);
    if (rc == 0 && !at_head)
        rc = wf_migrate_find_mismatch(c->store, bad, &err);
    if (rc < 0) {
        free(st);
        return wf_cli_fail(c, rc, &err, "migrate status");
    }
    if (c->json) {
        rc = print_status_json(c, st, n, cur, at_head, bad, &err);
        if (rc < 0) {
            free(st);
            return wf_cli_fail(c, rc, &err, "migrate status");
        }
    } else {
        wf_table t;
        wf_table_init(&t, 4);
        wf_table_row(&t, "VERSION", "NAME", "STATE", "APPLIED AT");
        for (size_t i = 0; i < n; i++)
            wf_table_row(&t, st[i].version, st[i].name, state_word(&st[i]),
                         st[i].applied_at[0] ? st[i].applied_at : "-");
        wf_table_print(&t, c->out);
        wf_table_free(&t);
        fprintf(c->out, "\ncurrent: %s   head: %s   ", cur[0] ? cur : "none", wf_migrate_head());
        if (at_head)
            fprintf(c->out, "(up to date)\n");
        else if (bad[0])
            fprintf(c->out,
                    "(checksum mismatch: migration %s was applied with a different script)\n", bad);
        else
            fprintf(c->out, "(run 'wfreg migrate up')\n");
    }
    free(st);
    return WF_EXIT_OK;
}

static int cmd_up(wf_cli *c, int argc, char **argv)
{
    bool sql = false;
    const char *target = NULL;
    if (parse_flag_and_rev(c, "migrate up", argc, argv, "sql", &sql, &target))
        return WF_EXIT_USAGE;
    wf_err err;
    wf_err_init(&err);
    /* --sql only reads: it must not create the database it prints the SQL for */
    int rc = sql ? wf_cli_open_store_existing(c, &err) : wf_cli_open_store(c, false, &err);
    if (rc < 0)
        return wf_cli_fail(c, rc, &err, sql ? "migrate up --sql" : "migrate up");
    if (sql) {
        wf_buf out = WF_BUF_INIT;
        rc = wf_migrate_up_sql(c->store, target, &out, &err);
        if (rc == 0)
            fputs(wf_buf_cstr(&out), c->out);
        wf_buf_free(&out);
        return rc < 0 ? wf_cli_fail(c, rc, &err, "migrate up --sql") : WF_EXIT_OK;
    }
    size_t applied = 0;
    rc = wf_migrate_up(c->store, target, &applied, &err);
    if (rc < 0)
        return wf_cli_fail(c, rc, &err, "migrate up");
    char cur[32] = "";
    wf_migrate_current(c->store, cur, NULL);
    if (applied)
        fprintf(c->out, "Applied %zu migration(s); the schema is at %s\n", applied, cur);
    else
        fprintf(c->out, "Nothing to apply; the schema is at %s\n", cur[0] ? cur : "none");
    return WF_EXIT_OK;
}

static int cmd_down(wf_cli *c, int argc, char **argv)
{
    bool force = false;
    const char *target = NULL;
    if (parse_flag_and_rev(c, "migrate down", argc, argv, "force", &force, &target))
        return WF_EXIT_USAGE;
    wf_err err;
    wf_err_init(&err);
    size_t reverted = 0;
    int rc = wf_cli_open_store(c, false, &err);
    if (rc == 0)
        rc = wf_migrate_down(c->store, target, force, &reverted, &err);
    if (rc < 0)
        return wf_cli_fail(c, rc, &err, "migrate down");
    char cur[32] = "";
    wf_migrate_current(c->store, cur, NULL);
    fprintf(c->out, "Reverted %zu migration(s); the schema is at %s\n", reverted,
            cur[0] ? cur : "no version");
    return WF_EXIT_OK;
}

static int cmd_verify(wf_cli *c, int argc, char **argv)
{
    if (wf_cli_getopt_flag(c, "migrate verify", argc, argv, NULL, NULL))
        return WF_EXIT_USAGE;
    if (optind < argc)
        return wf_cli_usage_error(c, "migrate verify: unexpected argument '%s'", argv[optind]);
    wf_err err;
    wf_err_init(&err);
    wf_buf report = WF_BUF_INIT;
    int rc = wf_cli_open_store_existing(c, &err);
    if (rc < 0)
        return wf_cli_fail(c, rc, &err, "migrate verify");
    rc = wf_migrate_verify(c->store, &report, &err);
    fputs(wf_buf_cstr(&report), c->out);
    bool checked = report.len > 0; /* else the database could not be read at all */
    wf_buf_free(&report);
    if (rc < 0 && !checked)
        return wf_cli_fail(c, rc, &err, "migrate verify");
    if (rc < 0) {
        fprintf(c->errout, "wfreg: migrate verify: the schema does not match\n");
        return WF_EXIT_FAIL;
    }
    fprintf(c->out, "The schema is as expected.\n");
    return WF_EXIT_OK;
}

int wf_cmd_migrate(wf_cli *c, int argc, char **argv)
{
    static const wf_subcommand subs[] = {
        {"status", cmd_status},
        {"up", cmd_up},
        {"down", cmd_down},
        {"verify", cmd_verify},
    };
    return wf_cli_dispatch(c, "migrate", migrate_usage, subs, sizeof subs / sizeof subs[0], argc,
                           argv);
}
