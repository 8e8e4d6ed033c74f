/*
 * adapter_cmd.c: the commands that talk to the engines themselves, through their
 * adapters (src/engines): `wfreg engines test NAME | --all`, `wfreg workflows list` and
 * `wfreg run ENGINE WORKFLOW`.
 *
 * Every engine is called with what its own record says (URL, config) and its own key:
 * a database engine's token is decrypted here with the keyring, into a wiped buffer, an
 * environment engine's key is taken as the environment gave it. A token that no
 * configured key opens is never an error of the command: that engine answers "API key
 * unreadable with the configured keys", and nothing is sent to it.
 *
 * Several engines are called at once (one curl multi handle): `engines test --all` and
 * `workflows list` take about as long as the slowest engine, not the sum.
 */
#include "cli.h"

#include "api/api.h"
#include "core/text.h"
#include "engines/adapter.h"

#include <stdlib.h>
#include <string.h>

/* The calls and jobs of a fan-out: one per engine. */
typedef struct fanout {
    size_t n;
    wf_adapter_call *calls;
    wf_job **jobs;
} fanout;

static void fanout_free(fanout *f)
{
    for (size_t i = 0; i < f->n; i++) {
        wf_job_free(f->jobs[i]);
        wf_adapter_call_clear(&f->calls[i]);
    }
    free(f->jobs);
    free(f->calls);
    memset(f, 0, sizeof *f);
}

/* One job of kind (wf_job_new_test or _workflows) per engine, all run at once. */
static int fanout_run(wf_cli *c, const wf_engine *const *engines, size_t n,
                      wf_job *(*make)(wf_adapter_call *), fanout *f, wf_err *err)
{
    f->calls = calloc(n ? n : 1, sizeof *f->calls);
    f->jobs = calloc(n ? n : 1, sizeof *f->jobs);
    if (!f->calls || !f->jobs)
        return wf_err_set(err, WF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        f->n = i + 1;
        if (wf_api_prepare_call(c->keyring, engines[i], &f->calls[i]) < 0 ||
            !(f->jobs[i] = make(&f->calls[i])))
            return wf_err_set(err, WF_ERR_NOMEM, "out of memory");
    }
    int rc = wf_jobs_run(f->jobs, n);
    return rc < 0 ? wf_err_set(err, rc, "the HTTP client failed") : 0;
}

/* The engines a command names (one by name), or every active one. */
static int pick_engines(wf_cli *c, const wf_snapshot *snap, const char *name,
                        const wf_engine ***out, size_t *n, wf_err *err)
{
    *n = 0;
    *out = calloc(wf_snapshot_count(snap) + 1, sizeof **out);
    if (!*out)
        return wf_err_set(err, WF_ERR_NOMEM, "out of memory");
    if (name) {
        const wf_engine *e = wf_snapshot_find(snap, name);
        if (!e)
            return wf_err_set(err, WF_ERR_NOT_FOUND, "no engine named '%s'", name);
        (*out)[(*n)++] = e;
        return 0;
    }
    (void)c;
    for (size_t i = 0; i < wf_snapshot_count(snap); i++) {
        const wf_engine *e = wf_snapshot_at(snap, i);
        if (e->is_active)
            (*out)[(*n)++] = e;
    }
    return 0;
}

static char *escaped(const char *s)
{
    return wf_text_escape_dup(s ? s : "-", 0);
}

/* ---- engines test ------------------------------------------------------------------ */

static json_t *test_json(const wf_job *j)
{
    json_t *o = wf_test_result_to_json(wf_job_test(j));
    json_t *name = wf_text_json(wf_job_engine(j)->name);
    if (!o || !name || json_object_set_new(o, "engine", name) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int print_tests(wf_cli *c, const fanout *f, bool one)
{
    if (c->json) {
        json_t *out = one ? test_json(f->jobs[0]) : json_array();
        int bad = out == NULL;
        for (size_t i = 0; !one && out && i < f->n; i++)
            bad |= json_array_append_new(out, test_json(f->jobs[i])) < 0;
        int rc = bad ? WF_ERR_NOMEM : wf_cli_print_json(c, out);
        json_decref(out);
        return rc;
    }
    wf_table t;
    wf_table_init(&t, 6);
    wf_table_row(&t, "NAME", "TYPE", "STATUS", "LATENCY", "VERSION", "DETAIL");
    for (size_t i = 0; i < f->n; i++) {
        const wf_test_result *r = wf_job_test(f->jobs[i]);
        const wf_engine *e = wf_job_engine(f->jobs[i]);
        char ms[32];
        snprintf(ms, sizeof ms, "%ld ms", r->latency_ms);
        wf_table_row(&t, e->name, e->engine_type, wf_call_status_name(r->status), ms, r->version,
                     r->detail);
    }
    wf_table_print(&t, c->out);
    wf_table_free(&t);
    return 0;
}

int wf_cmd_engines_test(wf_cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"all", no_argument, 0, 'a'}, {"json", no_argument, 0, 'j'}, {0, 0, 0, 0}};
    bool all = false;
    int opt;
    while ((opt = wf_cli_getopt(c, "engines test", argc, argv, "", opts)) != -1) {
        if (opt == 'a')
            all = true;
        else if (opt == 'j')
            c->json = true;
        else
            return WF_EXIT_USAGE;
    }
    const char *name = all ? NULL : wf_cli_one_name(c, "engines test", argc, argv);
    if (all && optind < argc)
        return wf_cli_usage_error(c, "engines test: give NAME or --all, not both");
    if (!all && !name)
        return WF_EXIT_USAGE;

    wf_err err;
    wf_err_init(&err);
    fanout f = {0};
    const wf_engine **engines = NULL;
    size_t n = 0;
    int code = WF_EXIT_OK;
    int rc = wf_cli_load_registry(c, &err);
    wf_snapshot *snap = rc == 0 ? wf_registry_acquire(c->registry) : NULL;
    if (rc == 0)
        rc = pick_engines(c, snap, name, &engines, &n, &err);
    if (rc == 0)
        rc = fanout_run(c, engines, n, wf_job_new_test, &f, &err);
    if (rc == 0 && print_tests(c, &f, !all) < 0)
        rc = wf_err_set(&err, WF_ERR_NOMEM, "out of memory");
    if (rc < 0) {
        code = wf_cli_fail(c, rc, &err, "engines test");
        goto done;
    }
    for (size_t i = 0; i < f.n; i++)
        if (wf_job_status(f.jobs[i]) != WF_CALL_UP)
            code = WF_EXIT_FAIL;
done:
    fanout_free(&f);
    free(engines);
    wf_snapshot_unref(snap);
    return code;
}

/* ---- workflows list ---------------------------------------------------------------- */

static const char workflows_usage[] =
    "Usage: wfreg workflows SUBCOMMAND [ARGS]\n"
    "\n"
    "  list [--engine NAME] [--json]   the workflows of every active engine (or of one),\n"
    "                                  asked of all the engines at once\n"
    "\n"
    "An engine that cannot be listed (down, slow, refusing the key) is reported on\n"
    "standard error (in --json: under \"errors\") and the others are still listed; the\n"
    "exit status is then 1.\n";

/* {"items": [...], "errors": [{engine, status, detail}]}, as the API answers. */
static json_t *workflows_json(const fanout *f)
{
    json_t *items = json_array(), *errors = json_array();
    json_t *out = json_pack("{s:o,s:o}", "items", items, "errors", errors);
    bool bad = !items || !errors || !out;
    for (size_t i = 0; !bad && i < f->n; i++) {
        const wf_job *j = f->jobs[i];
        size_t nw = 0;
        const wf_workflow *w = wf_job_workflows(j, &nw);
        if (wf_job_status(j) != WF_CALL_UP)
            bad |= json_array_append_new(errors, wf_job_error_to_json(j)) < 0;
        for (size_t k = 0; k < nw && !bad; k++)
            bad |= json_array_append_new(items,
                                         wf_workflow_to_json(&w[k], wf_job_engine(j)->name)) < 0;
    }
    if (bad) {
        json_decref(out);
        return NULL;
    }
    return out;
}

static void print_workflows_table(wf_cli *c, const fanout *f)
{
    wf_table t;
    wf_table_init(&t, 6);
    wf_table_row(&t, "ENGINE", "KIND", "ID", "NAME", "ACTIVE", "UPDATED");
    for (size_t i = 0; i < f->n; i++) {
        size_t nw = 0;
        const wf_workflow *w = wf_job_workflows(f->jobs[i], &nw);
        for (size_t k = 0; k < nw; k++)
            wf_table_row(&t, wf_job_engine(f->jobs[i])->name, w[k].kind, w[k].id, w[k].name,
                         w[k].is_active ? "yes" : "no", w[k].updated_at);
    }
    wf_table_print(&t, c->out);
    wf_table_free(&t);
}

/* One line per engine that could not be listed, on standard error. */
static size_t report_errors(wf_cli *c, const fanout *f, const char *what)
{
    size_t bad = 0;
    for (size_t i = 0; i < f->n; i++) {
        const wf_job *j = f->jobs[i];
        if (wf_job_status(j) == WF_CALL_UP)
            continue;
        char *name = escaped(wf_job_engine(j)->name), *detail = escaped(wf_job_detail(j));
        fprintf(c->errout, "wfreg: %s: engine %s: %s: %s\n", what, name ? name : "?",
                wf_call_status_name(wf_job_status(j)), detail ? detail : "?");
        free(name);
        free(detail);
        bad++;
    }
    return bad;
}

static int cmd_workflows_list(wf_cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"engine", required_argument, 0, 'e'}, {"json", no_argument, 0, 'j'}, {0, 0, 0, 0}};
    const char *name = NULL;
    int opt;
    while ((opt = wf_cli_getopt(c, "workflows list", argc, argv, "", opts)) != -1) {
        if (opt == 'e')
            name = optarg;
        else if (opt == 'j')
            c->json = true;
        else
            return WF_EXIT_USAGE;
    }
    if (optind < argc)
        return wf_cli_usage_error(c, "workflows list: unexpected argument '%s'", argv[optind]);
    wf_err err;
    wf_err_init(&err);
    fanout f = {0};
    const wf_engine **engines = NULL;
    size_t n = 0;
    int rc = wf_cli_load_registry(c, &err);
    wf_snapshot *snap = rc == 0 ? wf_registry_acquire(c->registry) : NULL;
    if (rc == 0)
        rc = pick_engines(c, snap, name, &engines, &n, &err);
    if (rc == 0)
        rc = fanout_run(c, engines, n, wf_job_new_workflows, &f, &err);
    json_t *out = rc == 0 && c->json ? workflows_json(&f) : NULL;
    if (rc == 0 && c->json && (!out || wf_cli_print_json(c, out) < 0))
        rc = wf_err_set(&err, WF_ERR_NOMEM, "out of memory");
    else if (rc == 0 && !c->json)
        print_workflows_table(c, &f);
    json_decref(out);
    int code = rc < 0                                   ? wf_cli_fail(c, rc, &err, "workflows list")
               : report_errors(c, &f, "workflows list") ? WF_EXIT_FAIL
                                                        : WF_EXIT_OK;
    fanout_free(&f);
    free(engines);
    wf_snapshot_unref(snap);
    return code;
}

int wf_cmd_workflows(wf_cli *c, int argc, char **argv)
{
    static const wf_subcommand subs[] = {{"list", cmd_workflows_list}};
    return wf_cli_dispatch(c, "workflows", workflows_usage, subs, sizeof subs / sizeof subs[0],
                           argc, argv);
}
