/*
 * check_cmd.c: `wfreg check`, the checklist's "Application starts without errors" as one
 * command: configuration, database, schema, keys and environment engines, one line
 * each. Exit 0 when all is well, 1 when any check failed.
 */
#include "cli.h"
#include "core/text.h"
#include "store/migrate.h"
#include "store/writes.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char check_usage[] =
    "Usage: wfreg check\n"
    "\n"
    "Checks the configuration, the database, the schema, the stored API keys and the\n"
    "environment's engines; one line each. Exit 0 when all is well, 1 otherwise.\n";

typedef struct check_state {
    wf_cli *c;
    bool failed;
} check_state;

static void line(check_state *st, const char *what, const char *verdict, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* One line of the report. The text may quote engine names from legacy rows: it is made
 * safe for the terminal (and kept one line) before it is written. */
static void line(check_state *st, const char *what, const char *verdict, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wf_buf text = WF_BUF_INIT;
    char *shown = NULL;
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n >= 0 && wf_buf_grow(&text, (size_t)n) == 0) {
        va_start(ap, fmt);
        vsnprintf(text.ptr, (size_t)n + 1, fmt, ap);
        va_end(ap);
        text.len = (size_t)n;
        shown = wf_text_escape_dup(wf_buf_cstr(&text), 0);
    }
    fprintf(st->c->out, "%-12s %-5s %s\n", what, verdict, shown ? shown : "(out of memory)");
    free(shown);
    wf_buf_free(&text);
    if (!strcmp(verdict, "FAIL"))
        st->failed = true;
}

static void check_config(check_state *st)
{
    wf_cli *c = st->c;
    wf_err err;
    wf_err_init(&err);
    wf_buf url = WF_BUF_INIT;
    wf_config_redact_db_url(c->config.database_url, &url);
    if (wf_cli_open_keyring(c, &err) < 0)
        line(st, "config", "FAIL", "%s", err.msg);
    else if (!wf_keyring_can_encrypt(c->keyring))
        line(st, "config", "warn",
             "DATABASE_URL=%s; no SECRET_KEY or WFREG_FERNET_KEYS: "
             "API keys cannot be stored or read",
             wf_buf_cstr(&url));
    else
        line(st, "config", "ok", "DATABASE_URL=%s; %zu key(s) from %s", wf_buf_cstr(&url),
             wf_keyring_count(c->keyring), wf_keyring_origin(c->keyring));
    wf_buf_free(&url);
}

/* Returns true when the schema is at head, so that the later checks can read engines. */
static bool check_database(check_state *st)
{
    wf_cli *c = st->c;
    wf_err err;
    wf_err_init(&err);
    if (wf_cli_open_store_existing(c, &err) < 0) { /* a check creates nothing */
        line(st, "database", "FAIL", "%s", err.msg);
        line(st, "schema", "skip", "no database");
        return false;
    }
    line(st, "database", "ok", "reachable (%s)", wf_store_dialect(c->store));
    char cur[32] = "", bad[WF_MIGRATE_LABEL_MAX] = "";
    bool at_head = false;
    if (wf_migrate_current(c->store, cur, &err) < 0 ||
        wf_migrate_is_at_head(c->store, &at_head, &err) < 0 ||
        (!at_head && wf_migrate_find_mismatch(c->store, bad, &err) < 0)) {
        line(st, "schema", "FAIL", "%s", err.msg);
        return false;
    }
    if (!at_head && bad[0]) {
        line(st, "schema", "FAIL",
             "checksum mismatch: migration %s was applied with a different script (see "
             "'wfreg migrate verify')",
             bad);
        return false;
    }
    if (!at_head) {
        line(st, "schema", "FAIL", "at %s, head is %s: run 'wfreg migrate up'",
             cur[0] ? cur : "no version", wf_migrate_head());
        return false;
    }
    line(st, "schema", "ok", "at %s (head)", cur);
    return true;
}

static void check_engines(check_state *st)
{
    wf_cli *c = st->c;
    wf_err err;
    wf_err_init(&err);
    if (!c->keyring) {
        line(st, "keys", "skip", "no usable keyring");
        return;
    }
    if (wf_cli_load_registry(c, &err) < 0) {
        line(st, "keys", "FAIL", "%s", err.msg);
        return;
    }
    wf_snapshot *snap = wf_registry_acquire(c->registry);
    size_t with_key = 0, unreadable = 0;
    wf_buf names = WF_BUF_INIT;
    for (size_t i = 0; i < wf_snapshot_count(snap); i++) {
        const wf_engine *e = wf_snapshot_at(snap, i);
        if (e->source != WF_SOURCE_DATABASE || e->key_status == WF_KEY_NONE)
            continue;
        with_key++;
        if (e->key_status == WF_KEY_UNREADABLE) {
            wf_buf_printf(&names, "%s%s", unreadable ? ", " : "", e->name);
            unreadable++;
        }
    }
    if (unreadable)
        line(st, "keys", "FAIL",
             "%zu of %zu stored API keys unreadable with the configured "
             "keys: %s",
             unreadable, with_key, wf_buf_cstr(&names));
    else
        line(st, "keys", "ok", "%zu stored API key(s), all readable", with_key);
    line(st, "environment", c->env_invalid ? "FAIL" : "ok",
         "%zu engine(s) from the environment, %zu invalid%s", c->env_engines, c->env_invalid,
         c->env_invalid ? " (see the log lines above)" : "");
    line(st, "registry", "ok", "%zu engine(s), %zu active", wf_snapshot_count(snap),
         wf_snapshot_count_active(snap));
    wf_buf_free(&names);
    wf_snapshot_unref(snap);
}

int wf_cmd_check(wf_cli *c, int argc, char **argv)
{
    if (wf_cli_wants_help(argc, argv)) {
        fputs(check_usage, c->out);
        return WF_EXIT_OK;
    }
    if (argc > 1)
        return wf_cli_usage_error(c, "check: unexpected argument '%s'", argv[1]);
    check_state st = {c, false};
    /* The checklist's startup lines are logged at info. Commands show only warnings and
     * errors unless LOG_LEVEL is set, so here they appear with LOG_LEVEL=info (the
     * unreadable-key lines, at error, always do); `wfreg serve` logs them by default. */
    c->log_startup = true;
    check_config(&st);
    if (check_database(&st))
        check_engines(&st);
    fprintf(c->out, "%s\n", st.failed ? "Some checks failed." : "All checks passed.");
    return st.failed ? WF_EXIT_FAIL : WF_EXIT_OK;
}
