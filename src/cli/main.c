/*
 * main.c: wfreg's entry point. Reads the configuration from the environment, sets up
 * the log, and hands the command line to a command group (engines, workflows, run,
 * migrate, keys, users, tokens, check, serve).
 * The database and the keyring are opened by the commands that need them, so that
 * `wfreg --help` or `wfreg keys generate` work anywhere.
 *
 * Before anything else, the process protects the secrets it will hold (core/secmem.h):
 * no core file, not readable by other processes of the same user, and jansson's memory
 * overwritten when freed (the environment's engines are parsed from JSON with their keys).
 */
#include "cli.h"

#include "core/log.h"
#include "core/secmem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "Usage: wfreg COMMAND [ARGS]\n"
    "\n"
    "wfreg is the workflow engine registry: it keeps the n8n, Prefect and Windmill\n"
    "engines an organisation runs, their API keys encrypted at rest.\n"
    "\n"
    "Commands:\n"
    "  engines list|show|add|update|remove|export|import   manage registered engines\n"
    "  engines test NAME|--all                             test engines' connection and key\n"
    "  workflows list [--engine NAME]                      list every engine's workflows\n"
    "  run ENGINE WORKFLOW [--param K=V ...] [--wait]      start a workflow, follow its run\n"
    "  migrate status|up|down|verify                       manage the database schema\n"
    "  keys generate|check|rotate                          manage encryption keys\n"
    "  users add|list|passwd|disable|enable                manage who can log in\n"
    "  tokens create|list|revoke                           manage API tokens\n"
    "  serve [--listen ADDR:PORT]                          run the JSON API over HTTP\n"
    "  check                                               check configuration, database,\n"
    "                                                      schema and keys\n"
    "  --version                                           print the version\n"
    "\n"
    "Every command takes --help. Configuration comes from the environment:\n"
    "  DATABASE_URL        sqlite:PATH (default sqlite:./var/wfreg.db) or\n"
    "                      postgresql://USER:PASSWORD@HOST:PORT/DB?sslmode=...\n"
    "  SECRET_KEY          the Fernet key is urlsafe_b64(SHA-256(SECRET_KEY))\n"
    "  WFREG_FERNET_KEYS   comma-separated Fernet keys; the first encrypts, all decrypt\n"
    "  N8N_API_URL, N8N_API_KEY, PREFECT_API_URL, PREFECT_API_KEY, WINDMILL_API_URL,\n"
    "  WINDMILL_API_KEY, WINDMILL_WORKSPACE, WFREG_ENGINE_<NAME>   environment engines\n"
    "  LOG_LEVEL (debug|info|warning|error), LOG_FORMAT (text|json)\n"
    "\n"
    "Exit status: 0 ok, 1 a check failed or not found, 2 bad usage or input,\n"
    "3 a database or key problem.\n";

static const wf_subcommand commands[] = {
    {"engines", wf_cmd_engines}, {"migrate", wf_cmd_migrate},     {"keys", wf_cmd_keys},
    {"check", wf_cmd_check},     {"users", wf_cmd_users},         {"tokens", wf_cmd_tokens},
    {"serve", wf_cmd_serve},     {"workflows", wf_cmd_workflows}, {"run", wf_cmd_run},
};

int main(int argc, char **argv)
{
    int saved_errno = 0;
    if (wf_secmem_protect_process() != 0)
        saved_errno = errno;
    wf_secmem_use_for_json();

    wf_cli c;
    memset(&c, 0, sizeof c);
    c.out = stdout;
    c.errout = stderr;
    int code = WF_EXIT_OK;

    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? WF_EXIT_USAGE : WF_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("wfreg %s\n", WFREG_VERSION);
        return WF_EXIT_OK;
    }

    const wf_subcommand *cmd = NULL;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (!strcmp(commands[i].name, argv[1]))
            cmd = &commands[i];
    }
    if (!cmd) {
        fprintf(stderr, "wfreg: unknown command '%s' (see wfreg --help)\n", argv[1]);
        return WF_EXIT_USAGE;
    }

    wf_err err;
    wf_err_init(&err);
    int rc = wf_config_from_env(&c.config, &err);
    if (rc < 0) {
        code = wf_cli_fail(&c, rc, &err, "configuration");
        goto done;
    }
    /* A command prints its own results; the log shows only warnings and errors unless
     * LOG_LEVEL asks for more. */
    wf_log_setup(getenv("LOG_LEVEL") ? c.config.log_level : WF_LOG_WARN, c.config.log_format);
    if (saved_errno) /* never seen in practice: lowering a limit and PR_SET_DUMPABLE 0 */
        wf_warn("could not disable core dumps: %s", strerror(saved_errno));
    code = cmd->run(&c, argc - 1, argv + 1);
done:
    wf_registry_free(c.registry);
    wf_keyring_free(c.keyring);
    wf_store_close(c.store);
    wf_config_free(&c.config);
    wf_log_clear_secrets();
    return code;
}
