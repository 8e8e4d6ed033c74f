/*
 * tokens_cmd.c: `wfreg tokens create | list | revoke`, API tokens for programs that call
 * wfreg's HTTP API (sent as "Authorization: Bearer wfr_...").
 *
 * A token is printed once, when it is made, on a line of its own on standard output so
 * that a script can capture it; the database keeps only its SHA-256, and no other output
 * ever shows the token or its hash. A token acts with its user's role and stops working
 * when it is revoked, when it expires, or while its user is disabled.
 */
#include "cli.h"
#include "crypto/token.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char tokens_usage[] =
    "Usage: wfreg tokens SUBCOMMAND [ARGS]\n"
    "\n"
    "  create --user NAME --label L [--expires-days N]   make an API token for NAME and\n"
    "                                                    print it once\n"
    "  list [--json] [--all]     usable tokens (--all: revoked and expired ones too);\n"
    "                            never the token itself\n"
    "  revoke ID                 stop the token with that id from working\n"
    "\n"
    "The token is printed alone on one line of standard output, so that a script can\n"
    "capture it: TOKEN=$(wfreg tokens create --user ci --label deploy). It is shown only\n"
    "this once; wfreg stores its SHA-256, not the token. Without --expires-days it does not\n"
    "expire (N: 1-3650).\n";

enum { OPT_USER = 700, OPT_LABEL, OPT_EXPIRES, OPT_JSON, OPT_ALL };

#define LABEL_MAX 255
#define EXPIRES_DAYS_MAX 3650

/* A whole decimal number from min to max, or -1. */
static long parse_count(const char *s, long min, long max)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    return v;
}

static int check_label(const char *label, wf_err *err)
{
    size_t len = strlen(label);
    if (len == 0)
        return wf_err_field(err, "label", "too_short", "must not be empty");
    if (len > LABEL_MAX)
        return wf_err_field(err, "label", "too_long", "must be at most %d characters", LABEL_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)label[i];
        if (ch < 0x20 || ch == 0x7f)
            return wf_err_field(err, "label", "control_char",
                                "must not contain control characters");
    }
    return 0;
}

/* now + days, as ISO 8601 UTC. */
static void expiry_time(long days, char out[32])
{
    time_t t = time(NULL) + (time_t)days * 86400;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        out[0] = '\0';
}

/* Makes the token, stores its hash, prints it. */
static int create_token(wf_cli *c, const char *user, const char *label, long days, wf_err *err)
{
    wf_user *u = NULL;
    char token[WF_TOKEN_LEN + 1] = "", hash[65] = "", expires[32] = "";
    int64_t id = 0;
    int rc = wf_store_user_get(c->store, user, &u, err);
    if (rc == 0 && !u->is_active)
        rc = wf_err_set(err, WF_ERR_CONFLICT, "user '%s' is disabled: enable it first", user);
    if (rc < 0)
        goto done;
    if (days > 0)
        expiry_time(days, expires);
    if ((rc = wf_token_new(token, hash, err)) < 0 ||
        (rc = wf_store_token_insert(c->store, u->id, "api", label, hash, days > 0 ? expires : NULL,
                                    &id, err)) < 0)
        goto done;
    fprintf(c->out, "%s\n", token);
    fflush(c->out);
    fprintf(c->errout,
            "wfreg: token %lld for '%s' (%s, role %s, %s%s): copy it now, it will not be "
            "shown again\n",
            (long long)id, user, label, u->role, days > 0 ? "expires " : "does not expire",
            days > 0 ? expires : "");
done:
    wf_secure_zero(token, sizeof token);
    wf_user_free(u);
    return rc;
}

static int cmd_create(wf_cli *c, int argc, char **argv)
{
    static const struct option opts[] = {{"user", required_argument, 0, OPT_USER},
                                         {"label", required_argument, 0, OPT_LABEL},
                                         {"expires-days", required_argument, 0, OPT_EXPIRES},
                                         {0, 0, 0, 0}};
    const char *user = NULL, *label = NULL, *expires = NULL;
    int opt;
    while ((opt = wf_cli_getopt(c, "tokens create", argc, argv, "", opts)) != -1) {
        switch (opt) {
        case OPT_USER: user = optarg; break;
        case OPT_LABEL: label = optarg; break;
        case OPT_EXPIRES: expires = optarg; break;
        default: return WF_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return wf_cli_usage_error(c, "tokens create: unexpected argument '%s'", argv[optind]);
    if (!user || !label)
        return wf_cli_usage_error(c, "tokens create: --user NAME and --label L are required");
    long days = 0;
    if (expires && (days = parse_count(expires, 1, EXPIRES_DAYS_MAX)) < 0)
        return wf_cli_usage_error(c, "tokens create: --expires-days must be a number from 1 to %d",
                                  EXPIRES_DAYS_MAX);
    wf_err err;
    wf_err_init(&err);
    int rc = check_label(label, &err);
    if (rc == 0)
        rc = wf_cli_open_store(c, true, &err);
    if (rc == 0)
        rc = create_token(c, user, label, days, &err);
    return rc < 0 ? wf_cli_fail(c, rc, &err, "tokens create") : WF_EXIT_OK;
}

static json_t *token_json(const wf_token_row *t)
{
    return json_pack("{s:I, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:b, s:s?}", "id", (json_int_t)t->id,
                     "user", t->username, "role", t->role, "kind", t->kind, "label", t->label,
                     "created_at", t->created_at, "expires_at", t->expires_at, "revoked",
                     t->revoked_at != NULL, "revoked_at", t->revoked_at);
}

static void print_tokens(wf_cli *c, const wf_token_row *rows, size_t n, bool all)
{
    wf_table t;
    wf_table_init(&t, 7);
    wf_table_row(&t, "ID", "USER", "KIND", "LABEL", "CREATED", "EXPIRES", "REVOKED");
    for (size_t i = 0; i < n; i++) {
        char id[24];
        snprintf(id, sizeof id, "%lld", (long long)rows[i].id);
        wf_table_row(&t, id, rows[i].username, rows[i].kind, rows[i].label, rows[i].created_at,
                     rows[i].expires_at ? rows[i].expires_at : "never",
                     rows[i].revoked_at ? rows[i].revoked_at : "no");
    }
    if (n == 0)
        fprintf(c->out, "No %stokens.\n", all ? "" : "usable ");
    else
        wf_table_print(&t, c->out);
    wf_table_free(&t);
}

static int cmd_list(wf_cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, 0, OPT_JSON}, {"all", no_argument, 0, OPT_ALL}, {0, 0, 0, 0}};
    bool all = false;
    int opt;
    while ((opt = wf_cli_getopt(c, "tokens list", argc, argv, "", opts)) != -1) {
        if (opt == OPT_JSON)
            c->json = true;
        else if (opt == OPT_ALL)
            all = true;
        else
            return WF_EXIT_USAGE;
    }
    if (optind < argc)
        return wf_cli_usage_error(c, "tokens list: unexpected argument '%s'", argv[optind]);
    wf_err err;
    wf_err_init(&err);
    wf_token_row *rows = NULL;
    size_t n = 0;
    int rc = wf_cli_open_store(c, true, &err);
    if (rc == 0)
        rc = wf_store_token_list(c->store, all, &rows, &n, &err);
    if (rc < 0)
        return wf_cli_fail(c, rc, &err, "tokens list");
    if (c->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, token_json(&rows[i]));
        wf_cli_print_json(c, arr);
        json_decref(arr);
    } else {
        print_tokens(c, rows, n, all);
    }
    wf_token_rows_free(rows, n);
    return WF_EXIT_OK;
}

static int cmd_revoke(wf_cli *c, int argc, char **argv)
{
    if (wf_cli_getopt_flag(c, "tokens revoke", argc, argv, NULL, NULL))
        return WF_EXIT_USAGE;
    if (optind >= argc)
        return wf_cli_usage_error(c, "tokens revoke: missing ID (see wfreg tokens list)");
    if (optind + 1 < argc)
        return wf_cli_usage_error(c, "tokens revoke: unexpected argument '%s'", argv[optind + 1]);
    long id = parse_count(argv[optind], 1, LONG_MAX);
    if (id < 0)
        return wf_cli_usage_error(c, "tokens revoke: ID must be a token's number (see wfreg "
                                     "tokens list)");
    wf_err err;
    wf_err_init(&err);
    int rc = wf_cli_open_store(c, true, &err);
    if (rc == 0)
        rc = wf_store_token_revoke(c->store, id, &err);
    if (rc < 0)
        return wf_cli_fail(c, rc, &err, "tokens revoke");
    fprintf(c->out, "Revoked token %ld\n", id);
    return WF_EXIT_OK;
}

int wf_cmd_tokens(wf_cli *c, int argc, char **argv)
{
    static const wf_subcommand subs[] = {
        {"create", cmd_create},
        {"list", cmd_list},
        {"revoke", cmd_revoke},
    };
    return wf_cli_dispatch(c, "tokens", tokens_usage, subs, sizeof subs / sizeof subs[0], argc,
                           argv);
}
