/*
 * run_cmd.c: `wfreg run ENGINE WORKFLOW [--param k=v ...] [--wait]`: starts a workflow on
 * its engine through the engine's adapter and prints the run; with --wait, follows the
 * run until it ends (bounded by --wait-timeout), polling less often as time goes on.
 *
 * Parameters are strings (--param k=v) or JSON values (--param-json k=JSON); they are
 * passed to the engine as the run's parameters (n8n: the webhook's body or query;
 * Prefect: "parameters"; Windmill: the job's arguments).
 */
#include "cli.h"

#include "api/api.h"

#include "core/text.h"
#include "engines/adapter.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WAIT_DEFAULT_S 300
#define WAIT_MAX_S 86400
#define POLL_FIRST_MS 250
#define POLL_MAX_MS 2000

static const char run_usage[] =
    "Usage: wfreg run ENGINE WORKFLOW [--param KEY=VALUE ...] [--param-json KEY=JSON ...]\n"
    "                 [--kind flow|script] [--wait [--wait-timeout SECONDS]] [--json]\n"
    "\n"
    "Starts WORKFLOW (an id from `wfreg workflows list`) on ENGINE and prints the run:\n"
    "  n8n       through the workflow's Webhook trigger (one without cannot be started)\n"
    "  prefect   a deployment's flow run (create_flow_run)\n"
    "  windmill  a flow or a script by its path (--kind picks one; else a flow first)\n"
    "--wait follows the run until it ends (at most --wait-timeout seconds, default 300);\n"
    "the exit status is then 0 only when the run succeeded.\n";

typedef struct run_opts {
    const char *engine;
    const char *workflow;
    const char *kind;
    bool wait;
    long wait_s;
    json_t *params;
} run_opts;

/* KEY=VALUE into params: the value as a string, or parsed as JSON (as_json). */
static int add_param(wf_cli *c, json_t *params, const char *arg, bool as_json)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return wf_cli_usage_error(c, "run: --param%s wants KEY=VALUE", as_json ? "-json" : "");
    char *key = strndup(arg, (size_t)(eq - arg));
    json_t *v = as_json ? json_loads(eq + 1, JSON_DECODE_ANY, NULL) : wf_text_json(eq + 1);
    int rc = 0;
    if (!v)
        rc = wf_cli_usage_error(c, "run: --param-json %s: the value is not JSON", key ? key : "");
    else if (!key || json_object_set_new(params, key, v) < 0)
        rc = wf_cli_usage_error(c, "run: out of memory");
    free(key);
    return rc;
}

static int parse_opts(wf_cli *c, int argc, char **argv, run_opts *o)
{
    static const struct option opts[] = {{"param", required_argument, 0, 'p'},
                                         {"param-json", required_argument, 0, 'J'},
                                         {"kind", required_argument, 0, 'k'},
                                         {"wait", no_argument, 0, 'w'},
                                         {"wait-timeout", required_argument, 0, 't'},
                                         {"json", no_argument, 0, 'j'},
                                         {0, 0, 0, 0}};
    int opt;
    char *end;
    while ((opt = wf_cli_getopt(c, "run", argc, argv, "", opts)) != -1) {
        switch (opt) {
        case 'p':
        case 'J':
            if (add_param(c, o->params, optarg, opt == 'J'))
                return WF_EXIT_USAGE;
            break;
        case 'k': o->kind = optarg; break;
        case 'w': o->wait = true; break;
        case 't':
            o->wait_s = strtol(optarg, &end, 10);
            if (*end || o->wait_s < 1 || o->wait_s > WAIT_MAX_S)
                return wf_cli_usage_error(c, "run: --wait-timeout wants seconds, 1 to %d",
                                          WAIT_MAX_S);
            break;
        case 'j': c->json = true; break;
        default: return WF_EXIT_USAGE;
        }
    }
    if (argc - optind != 2)
        return wf_cli_usage_error(c, "run: wants ENGINE and WORKFLOW (see --help)");
    o->engine = argv[optind];
    o->workflow = argv[optind + 1];
    return 0;
}

static int print_run(wf_cli *c, json_t *run)
{
    if (c->json)
        return wf_cli_print_json(c, run);
    static const char *const keys[] = {"engine",     "run_id",   "workflow_id", "status",
                                       "started_at", "ended_at", "detail"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *v = json_string_value(json_object_get(run, keys[i]));
        char *shown = wf_text_escape_dup(v ? v : "-", 0);
        fprintf(c->out, "%-13s%s\n", keys[i], shown ? shown : "?");
        free(shown);
    }
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One job on the engine; its failure printed. Returns the job (free it) or NULL. */
static wf_job *call_once(wf_cli *c, wf_job *j, const char *what)
{
    if (!j) {
        fprintf(c->errout, "wfreg: %s: out of memory\n", what);
        return NULL;
    }
    wf_jobs_run(&j, 1);
    return j;
}

static void report_failure(wf_cli *c, const wf_job *j)
{
    char *name = wf_text_escape_dup(wf_job_engine(j)->name, 0);
    char *detail = wf_text_escape_dup(wf_job_detail(j) ? wf_job_detail(j) : "-", 0);
    fprintf(c->errout, "wfreg: run: engine %s: %s: %s\n", name ? name : "?",
            wf_call_status_name(wf_job_status(j)), detail ? detail : "?");
    free(name);
    free(detail);
}

/* Polls the run until it ends or the time is up; *last holds the newest state seen.
 * Returns the exit code. */
static int wait_run(wf_cli *c, wf_adapter_call *call, const char *run_id, long wait_s,
                    json_t **last)
{
    double deadline = mono_s() + (double)wait_s;
    long pause = POLL_FIRST_MS;
    while (mono_s() < deadline) {
        sleep_ms(pause);
        pause = pause * 3 / 2 > POLL_MAX_MS ? POLL_MAX_MS : pause * 3 / 2;
        wf_job *j = call_once(c, wf_job_new_run_status(call, run_id), "run");
        if (!j)
            return WF_EXIT_DB;
        wf_call_status st = wf_job_status(j);
        const wf_run *r = wf_job_run(j);
        if (st == WF_CALL_DOWN || st == WF_CALL_TIMEOUT) { /* a blip: ask again */
            wf_job_free(j);
            continue;
        }
        if (st != WF_CALL_UP || !r) {
            report_failure(c, j);
            wf_job_free(j);
            return WF_EXIT_FAIL;
        }
        json_decref(*last);
        *last = wf_run_to_json(r, call->engine->name);
        bool is_final = wf_run_status_is_final(r->status);
        bool ok = r->status == WF_RUN_SUCCEEDED;
        wf_job_free(j);
        if (is_final)
            return ok ? WF_EXIT_OK : WF_EXIT_FAIL;
    }
    fprintf(c->errout, "wfreg: run: still not finished after %ld s (--wait-timeout)\n", wait_s);
    return WF_EXIT_FAIL;
}

/* Starts the run; prints it (after waiting for its end with --wait). */
static int start_and_follow(wf_cli *c, const wf_engine *e, const run_opts *o)
{
    wf_adapter_call call;
    json_t *last = NULL;
    int code = WF_EXIT_OK;
    if (wf_api_prepare_call(c->keyring, e, &call) < 0) {
        fprintf(c->errout, "wfreg: run: out of memory\n");
        code = WF_EXIT_DB;
        goto done;
    }
    wf_job *j = call_once(c, wf_job_new_start_run(&call, o->workflow, o->kind, o->params), "run");
    if (!j) {
        code = WF_EXIT_DB;
        goto done;
    }
    const wf_run *r = wf_job_run(j);
    if (wf_job_status(j) != WF_CALL_UP || !r) {
        report_failure(c, j);
        code = WF_EXIT_FAIL;
    } else {
        last = wf_run_to_json(r, e->name);
        if (o->wait && !r->run_id) {
            fprintf(c->errout, "wfreg: run: cannot wait: the engine gave no run id\n");
            code = WF_EXIT_FAIL;
        } else if (o->wait && !wf_run_status_is_final(r->status)) {
            code = wait_run(c, &call, r->run_id, o->wait_s, &last);
        } else if (o->wait && r->status != WF_RUN_SUCCEEDED) {
            code = WF_EXIT_FAIL;
        }
    }
    wf_job_free(j);
    if (last && print_run(c, last) < 0)
        code = WF_EXIT_DB;
done:
    json_decref(last);
    wf_adapter_call_clear(&call);
    return code;
}

int wf_cmd_run(wf_cli *c, int argc, char **argv)
{
    if (wf_cli_wants_help(argc, argv)) {
        fputs(run_usage, c->out);
        return WF_EXIT_OK;
    }
    run_opts o = {.wait_s = WAIT_DEFAULT_S, .params = json_object()};
    optind = 1;
    int code = o.params ? parse_opts(c, argc, argv, &o) : WF_EXIT_DB;
    if (code) {
        json_decref(o.params);
        return code;
    }
    wf_err err;
    wf_err_init(&err);
    int rc = wf_cli_load_registry(c, &err);
    wf_snapshot *snap = rc == 0 ? wf_registry_acquire(c->registry) : NULL;
    const wf_engine *e = snap ? wf_snapshot_find(snap, o.engine) : NULL;
    if (rc == 0 && !e)
        rc = wf_err_set(&err, WF_ERR_NOT_FOUND, "no engine named '%s'", o.engine);
    code = rc < 0 ? wf_cli_fail(c, rc, &err, "run") : start_and_follow(c, e, &o);
    wf_snapshot_unref(snap);
    json_decref(o.params);
    return code;
}
