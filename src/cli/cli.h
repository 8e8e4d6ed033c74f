/*
 * cli.h: what the command groups share: the parsed global context (configuration,
 * database, keyring), option parsing helpers, output helpers, and exit codes.
 *
 * Exit codes: 0 ok, 1 a check failed or something was not found, 2 bad usage or bad
 * input, 3 a database or key problem.
 */
#ifndef WF_CLI_CLI_H
#define WF_CLI_CLI_H

#include "core/config.h"
#include "core/err.h"
#include "crypto/keyring.h"
#include "store/store.h"

#include <stdbool.h>
#include <stdio.h>

enum { WF_EXIT_OK = 0, WF_EXIT_FAIL = 1, WF_EXIT_USAGE = 2, WF_EXIT_DB = 3 };

/* One command's context, made by main before a command group runs. The database and
 * keyring are opened lazily by the commands that need them. */
typedef struct wf_cli {
    wf_config config;
    wf_store *store;     /* NULL until wf_cli_open_store */
    wf_keyring *keyring; /* NULL until wf_cli_open_keyring */
    bool json;           /* --json */
    FILE *out;           /* stdout */
    FILE *errout;        /* stderr */
} wf_cli;

/* Maps a WF_ERR_* code to an exit code. */
int wf_cli_exit_code(int rc);
/* Prints "wfreg: <what>: <message>" (and each field error) to stderr; returns the exit
 * code for rc. */
int wf_cli_fail(wf_cli *c, int rc, const wf_err *err, const char *what);
/* Prints "wfreg: " + message + a hint to stderr, returns WF_EXIT_USAGE. */
int wf_cli_usage_error(wf_cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Opens the database of DATABASE_URL and checks that its schema is at head (a clear
 * "run wfreg migrate up" otherwise). */
int wf_cli_open_store(wf_cli *c, bool require_head, wf_err *err);
int wf_cli_open_keyring(wf_cli *c, wf_err *err);

/* Command groups: argv[0] is the group's name. Each returns an exit code. */
int wf_cmd_engines(wf_cli *c, int argc, char **argv);
int wf_cmd_migrate(wf_cli *c, int argc, char **argv);
int wf_cmd_keys(wf_cli *c, int argc, char **argv);
int wf_cmd_check(wf_cli *c, int argc, char **argv);

#endif
