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
#include "core/registry.h"
#include "crypto/keyring.h"
#include "engines/adapter.h"
#include "store/store.h"
#include "store/writes.h"

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

/* The command line acts as no user: created_by stays NULL, the audit trail says "cli". */
extern const wf_actor wf_cli_actor;

enum { WF_EXIT_OK = 0, WF_EXIT_FAIL = 1, WF_EXIT_USAGE = 2, WF_EXIT_DB = 3 };

/* One command's context, made by main before a command group runs. The database and
 * keyring are opened lazily by the commands that need them. */
typedef struct wf_cli {
    wf_config config;
    wf_store *store;       /* NULL until wf_cli_open_store */
    wf_keyring *keyring;   /* NULL until wf_cli_open_keyring */
    wf_registry *registry; /* NULL until wf_cli_load_registry */
    size_t env_engines;    /* engines the environment declares (valid ones) */
    size_t env_invalid;    /* environment engines skipped as invalid */
    bool json;             /* --json */
    bool log_startup;      /* log the registry's startup lines when it loads (check) */
    FILE *out;             /* stdout */
    FILE *errout;          /* stderr */
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
/* Opens the database for a command that only looks at it: never creates it (nor its
 * folder), never changes its journal mode; a missing one is WF_ERR_NOT_FOUND. */
int wf_cli_open_store_existing(wf_cli *c, wf_err *err);
int wf_cli_open_keyring(wf_cli *c, wf_err *err);
/* Opens store (at head) and keyring, reads the environment's engines and loads the
 * merged registry into c->registry. */
int wf_cli_load_registry(wf_cli *c, wf_err *err);

/* Reads a secret: all of standard input with one trailing newline dropped, or a line
 * typed at a prompt on the terminal with echo off. out should be a secret buffer. An
 * empty secret is WF_ERR_INVALID. */
int wf_cli_read_secret_stdin(wf_buf *out, wf_err *err);
int wf_cli_read_secret_prompt(const char *prompt, wf_buf *out, wf_err *err);
/* Reads a whole file ("-": standard input) into out; at most max bytes. */
int wf_cli_read_file(const char *path, size_t max, wf_buf *out, wf_err *err);

/* Prints JSON, indented, with a newline. WF_ERR_NOMEM (and nothing printed) when j is
 * NULL or cannot be dumped: the caller fails, so that output is never silently lost. */
int wf_cli_print_json(wf_cli *c, json_t *j);

/* A table for people: columns sized to their widest cell. */
typedef struct wf_table {
    size_t ncols, nrows;
    char **cells; /* nrows * ncols strings */
} wf_table;
void wf_table_init(wf_table *t, size_t ncols);
/* Adds a row of exactly ncols strings (copied; NULL prints as "-"). */
void wf_table_row(wf_table *t, ...);
void wf_table_print(const wf_table *t, FILE *f);
void wf_table_free(wf_table *t);

/* getopt_long with wfreg's messages: returns the option, -1 at the end, or '?' after
 * printing "wfreg: CMD: unknown option ..." (the caller returns WF_EXIT_USAGE). */
int wf_cli_getopt(wf_cli *c, const char *cmd, int argc, char **argv, const char *shortopts,
                  const struct option *longopts);
/* True when argv holds -h or --help anywhere before a "--". */
bool wf_cli_wants_help(int argc, char **argv);
/* Options of a command that takes at most one flag, --FLAG (NULL: no options at all):
 * *is_set becomes true when it is given. Returns 0, or WF_EXIT_USAGE after printing why. */
int wf_cli_getopt_flag(wf_cli *c, const char *cmd, int argc, char **argv, const char *flag,
                       bool *is_set);
/* The one NAME argument left after the options, or NULL after printing a usage error
 * (missing, or more than one). */
const char *wf_cli_one_name(wf_cli *c, const char *cmd, int argc, char **argv);

/* One subcommand of a command group: its name and what runs it (argv[0] is the name). */
typedef struct wf_subcommand {
    const char *name;
    int (*run)(wf_cli *c, int argc, char **argv);
} wf_subcommand;

/* Runs the subcommand argv[1] of the group from the table subs (n rows). No subcommand:
 * usage on stderr, WF_EXIT_USAGE; -h or --help anywhere before "--": usage on stdout,
 * WF_EXIT_OK; a name not in the table: "GROUP: unknown subcommand", WF_EXIT_USAGE. The
 * subcommand gets argv shifted by one and getopt reset. */
int wf_cli_dispatch(wf_cli *c, const char *group, const char *usage, const wf_subcommand *subs,
                    size_t n, int argc, char **argv);

/* Command groups: argv[0] is the group's name. Each returns an exit code. */
int wf_cmd_engines(wf_cli *c, int argc, char **argv);
int wf_cmd_migrate(wf_cli *c, int argc, char **argv);
int wf_cmd_keys(wf_cli *c, int argc, char **argv);
int wf_cmd_check(wf_cli *c, int argc, char **argv);
int wf_cmd_users(wf_cli *c, int argc, char **argv);  /* users_cmd.c */
int wf_cmd_tokens(wf_cli *c, int argc, char **argv); /* tokens_cmd.c */
int wf_cmd_serve(wf_cli *c, int argc, char **argv);
/* engines export / import (engines_io.c) */
int wf_cmd_engines_export(wf_cli *c, int argc, char **argv);
int wf_cmd_engines_import(wf_cli *c, int argc, char **argv);
/* The commands that call engines (adapter_cmd.c, run_cmd.c): engines test, workflows,
 * run. */
int wf_cmd_engines_test(wf_cli *c, int argc, char **argv);
int wf_cmd_workflows(wf_cli *c, int argc, char **argv);
int wf_cmd_run(wf_cli *c, int argc, char **argv);

#endif
