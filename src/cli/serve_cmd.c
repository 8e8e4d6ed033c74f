/*
 * serve_cmd.c: `wfreg serve`, the JSON API over HTTP (api/). Runs until SIGTERM or
 * SIGINT, then stops within 5 seconds and exits 0.
 */
#include "cli.h"

#include "api/api.h"
#include "core/log.h"
#include "store/migrate.h"

#include <stdlib.h>
#include <string.h>

static const char serve_usage[] =
    "Usage: wfreg serve [--listen ADDRESS:PORT] [--workers N] [--max-connections N]\n"
    "                   [--migrate]\n"
    "\n"
    "Serves the JSON API (/api/v1), /healthz, /readyz, /metrics and /openapi.json.\n"
    "  --listen     where to listen (default WFREG_LISTEN, else 127.0.0.1:8080;\n"
    "               port 0 picks a free port, printed in the log)\n"
    "  --workers    threads with an event loop each, each with its own database\n"
    "               connection (default WFREG_WORKERS, else one per processor)\n"
    "  --max-connections  open connections at most (default WFREG_MAX_CONNECTIONS, else\n"
    "               1024); beyond, clients wait\n"
    "               in the kernel's queue until one closes\n"
    "  --migrate    apply pending migrations before starting\n"
    "\n"
    "Every active engine's health is checked every WFREG_HEALTH_INTERVAL seconds (default\n"
    "30; 0: never), less often while it fails.\n"
    "Needs SECRET_KEY or WFREG_FERNET_KEYS. Log in with a user made by 'wfreg users add'.\n"
    "Stops on SIGTERM or SIGINT: no new connections, requests in flight finish, exit 0.\n";

enum { OPT_LISTEN = 600, OPT_WORKERS, OPT_MIGRATE, OPT_MAX_CONN };

/* A whole number in [lo, hi], or -1. */
static long number(const char *s, long lo, long hi)
{
    char *end;
    long n = strtol(s, &end, 10);
    return (*s && !*end && n >= lo && n <= hi) ? n : -1;
}

int wf_cmd_serve(wf_cli *c, int argc, char **argv)
{
    static const struct option opts[] = {{"listen", required_argument, 0, OPT_LISTEN},
                                         {"workers", required_argument, 0, OPT_WORKERS},
                                         {"migrate", no_argument, 0, OPT_MIGRATE},
                                         {"max-connections", required_argument, 0, OPT_MAX_CONN},
                                         {0, 0, 0, 0}};
    if (wf_cli_wants_help(argc, argv)) {
        fputs(serve_usage, c->out);
        return WF_EXIT_OK;
    }
    wf_api_options o;
    memset(&o, 0, sizeof o);
    bool migrate = false;
    int opt;
    /* The environment first (WFREG_WORKERS, WFREG_MAX_CONNECTIONS); flags override it. */
    const char *env;
    if ((env = getenv("WFREG_WORKERS")) && *env && (o.workers = (int)number(env, 1, 64)) < 0)
        return wf_cli_usage_error(c, "serve: WFREG_WORKERS takes a number from 1 to 64");
    if ((env = getenv("WFREG_MAX_CONNECTIONS")) && *env &&
        (o.max_connections = (int)number(env, 1, 1000000)) < 0)
        return wf_cli_usage_error(c, "serve: WFREG_MAX_CONNECTIONS takes a number from 1 to "
                                     "1000000");
    if ((env = getenv("WFREG_HEALTH_INTERVAL")) && *env) {
        long s = number(env, 0, 86400);
        if (s < 0)
            return wf_cli_usage_error(c, "serve: WFREG_HEALTH_INTERVAL takes seconds from 0 (no "
                                         "health checks) to 86400");
        o.health_interval_s = s ? (int)s : -1;
    }
    optind = 1;
    while ((opt = wf_cli_getopt(c, "serve", argc, argv, "", opts)) != -1) {
        switch (opt) {
        case OPT_LISTEN: o.listen = optarg; break;
        case OPT_WORKERS:
            if ((o.workers = (int)number(optarg, 1, 64)) < 0)
                return wf_cli_usage_error(c, "serve: --workers takes a number from 1 to 64");
            break;
        case OPT_MAX_CONN:
            if ((o.max_connections = (int)number(optarg, 1, 1000000)) < 0)
                return wf_cli_usage_error(c, "serve: --max-connections takes a number from 1 "
                                             "to 1000000");
            break;
        case OPT_MIGRATE: migrate = true; break;
        default: return WF_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return wf_cli_usage_error(c, "serve: unexpected argument '%s'", argv[optind]);
    /* A server logs at LOG_LEVEL (default info): the startup lines and the access log. */
    wf_log_setup(c->config.log_level, c->config.log_format);

    wf_err err;
    wf_err_init(&err);
    if (migrate) {
        size_t n = 0;
        int rc = wf_cli_open_store(c, false, &err);
        if (rc == 0)
            rc = wf_migrate_up(c->store, NULL, &n, &err);
        if (rc < 0)
            return wf_cli_fail(c, rc, &err, "serve --migrate");
        if (n)
            wf_info("Applied %zu migration(s)", n);
        wf_store_close(c->store);
        c->store = NULL;
    }
    int rc = wf_api_serve(&c->config, &o, &err);
    return rc < 0 ? wf_cli_fail(c, rc, &err, "serve") : WF_EXIT_OK;
}
