/*
 * users_cmd.c: `wfreg users add | list | passwd | disable | enable`, the people who log in
 * to wfreg's API and admin page, with a role each (admin: everything; viewer: reads).
 *
 * A password is read from standard input (--password-stdin) or typed twice at a prompt
 * without echo, never from an argument (ps and the shell history would show it). It
 * lives only in wiped buffers and is stored as an argon2id hash; no output shows either.
 * `users add NAME --role admin` is also how the first admin of a new database is made.
 */
#include "cli.h"
#include "crypto/password.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char users_usage[] =
    "Usage: wfreg users SUBCOMMAND [ARGS]\n"
    "\n"
    "  add NAME --role admin|viewer [--password-stdin]   add a user (active)\n"
    "  list [--json]                                     every user, never a password hash\n"
    "  passwd NAME [--password-stdin]                    set a new password (signs out the\n"
    "                                                    user's login sessions)\n"
    "  disable NAME                                      stop NAME logging in; its tokens\n"
    "                                                    stop working\n"
    "  enable NAME                                       let NAME log in again\n"
    "\n"
    "Roles: admin (everything), viewer (reads only).\n"
    "Usernames: 1-64 characters of a-z 0-9 - _ . @, starting with a letter or digit.\n"
    "Passwords: 8-1024 bytes, no control characters. Read from standard input with\n"
    "--password-stdin, else typed twice at a prompt without echo; never an argument.\n";

enum { OPT_ROLE = 600, OPT_PW_STDIN, OPT_PW_ARG };

#define USERNAME_MAX 64

static const char pw_arg_msg[] =
    "passwords are never taken from the command line (they would show in ps and in the "
    "shell's history): use --password-stdin or type it at the prompt";

/* The username rule. Adds a field error on "username" and returns WF_ERR_INVALID. */
static int check_username(const char *name, wf_err *err)
{
    size_t len = strlen(name);
    if (len == 0)
        return wf_err_field(err, "username", "too_short", "must not be empty");
    if (len > USERNAME_MAX)
        return wf_err_field(err, "username", "too_long", "must be at most %d characters",
                            USERNAME_MAX);
    if (strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-_.@") != len)
        return wf_err_field(err, "username", "pattern",
                            "may only contain a-z, 0-9, '-', '_', '.' and '@'");
    if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789", name[0]))
        return wf_err_field(err, "username", "pattern", "must start with a letter or a digit");
    return 0;
}

/* The shared readers speak of "api_key"; a password's errors name "password". */
static int password_read_error(int rc, wf_err *err)
{
    wf_err_init(err);
    if (rc == WF_ERR_NOMEM)
        return wf_err_set(err, WF_ERR_NOMEM, "out of memory");
    if (rc == WF_ERR_IO)
        return wf_err_set(err, WF_ERR_IO, "password: cannot read standard input");
    return wf_err_field(err, "password", "missing", "nothing was given");
}

static int prompt_twice(wf_buf *pw, wf_err *err)
{
    wf_buf again;
    wf_buf_init_secret(&again);
    int rc = wf_cli_read_secret_prompt("Password: ", pw, err);
    if (rc == 0)
        rc = wf_cli_read_secret_prompt("Repeat the password: ", &again, err);
    if (rc < 0)
        rc = password_read_error(rc, err);
    else if (pw->len != again.len || memcmp(wf_buf_cstr(pw), wf_buf_cstr(&again), pw->len))
        rc = wf_err_field(err, "password", "mismatch", "the two entries differ");
    wf_buf_wipe(&again);
    return rc;
}

/* Reads a new password into pw (a secret buffer) and applies the policy. Never prompts
 * without a terminal: a script must say --password-stdin. */
static int read_new_password(bool from_stdin, wf_buf *pw, wf_err *err)
{
    int rc;
    if (from_stdin) {
        rc = wf_cli_read_secret_stdin(pw, err);
        if (rc < 0)
            return password_read_error(rc, err);
    } else if (!isatty(STDIN_FILENO)) {
        return wf_err_set(err, WF_ERR_INVALID,
                          "password: no terminal to prompt on: use --password-stdin");
    } else if ((rc = prompt_twice(pw, err)) < 0) {
        return rc;
    }
    return wf_password_check_policy(wf_buf_cstr(pw), pw->len, err);
}

/* Hashes a new password into *hash (freed by the caller). */
static int new_password_hash(bool from_stdin, char **hash, wf_err *err)
{
    wf_buf pw, phc = WF_BUF_INIT;
    wf_buf_init_secret(&pw);
    *hash = NULL;
    int rc = read_new_password(from_stdin, &pw, err);
    if (rc == 0)
        rc = wf_password_hash(wf_buf_cstr(&pw), pw.len, &phc, err);
    wf_buf_wipe(&pw);
    if (rc == 0 && !(*hash = wf_buf_detach(&phc)))
        rc = wf_err_set(err, WF_ERR_NOMEM, "out of memory");
    wf_buf_free(&phc);
    return rc;
}

/* Options of add and passwd: --role (add only), --password-stdin, and the refusal of
 * --password. Returns 0 or WF_EXIT_USAGE. */
static int parse_pw_opts(wf_cli *c, const char *cmd, int argc, char **argv, const char **role,
                         bool *from_stdin)
{
    static const struct option opts[] = {{"role", required_argument, 0, OPT_ROLE},
                                         {"password-stdin", no_argument, 0, OPT_PW_STDIN},
                                         {"password", optional_argument, 0, OPT_PW_ARG},
                                         {0, 0, 0, 0}};
    int opt;
    *from_stdin = false;
    while ((opt = wf_cli_getopt(c, cmd, argc, argv, "", opts)) != -1) {
        switch (opt) {
        case OPT_ROLE:
            if (!role)
                return wf_cli_usage_error(c, "%s: --role is for 'users add'", cmd);
            *role = optarg;
            break;
        case OPT_PW_STDIN: *from_stdin = true; break;
        case OPT_PW_ARG: return wf_cli_usage_error(c, "%s: %s", cmd, pw_arg_msg);
        default: return WF_EXIT_USAGE;
        }
    }
    return 0;
}

static int cmd_add(wf_cli *c, int argc, char **argv)
{
    const char *role = NULL;
    bool from_stdin;
    int code = parse_pw_opts(c, "users add", argc, argv, &role, &from_stdin);
    if (code)
        return code;
    const char *name = wf_cli_one_name(c, "users add", argc, argv);
    if (!name)
        return WF_EXIT_USAGE;
    if (!role)
        return wf_cli_usage_error(c, "users add: --role admin|viewer is required");
    if (strcmp(role, "admin") && strcmp(role, "viewer"))
        return wf_cli_usage_error(c, "users add: --role must be admin or viewer (got '%s')", role);
    wf_err err;
    wf_err_init(&err);
    wf_user *existing = NULL;
    char *hash = NULL;
    int64_t id = 0;
    int rc = check_username(name, &err);
    if (rc == 0)
        rc = wf_cli_open_store(c, true, &err);
    if (rc == 0) { /* before asking for a password that would be thrown away */
        rc = wf_store_user_get(c->store, name, &existing, &err);
        if (rc == 0) {
            rc = wf_err_set(&err, WF_ERR_CONFLICT, "username: a user named '%s' already exists",
                            name);
        } else if (rc == WF_ERR_NOT_FOUND) {
            rc = 0;
            wf_err_init(&err);
        }
    }
    if (rc == 0)
        rc = new_password_hash(from_stdin, &hash, &err);
    if (rc == 0)
        rc = wf_store_user_insert(c->store, name, hash, role, &id, &err);
    if (rc == 0)
        fprintf(c->out, "Added user '%s' (%s, id %lld)\n", name, role, (long long)id);
    else
        code = wf_cli_fail(c, rc, &err, "users add");
    wf_free_secret(hash);
    wf_user_free(existing);
    return code;
}

static json_t *user_json(const wf_user *u)
{
    return json_pack("{s:I, s:s, s:s, s:b, s:s?, s:s?}", "id", (json_int_t)u->id, "username",
                     u->username, "role", u->role, "active", u->is_active, "created_at",
                     u->created_at, "updated_at", u->updated_at);
}

static int cmd_list(wf_cli *c, int argc, char **argv)
{
    if (wf_cli_getopt_flag(c, "users list", argc, argv, "json", &c->json))
        return WF_EXIT_USAGE;
    if (optind < argc)
        return wf_cli_usage_error(c, "users list: unexpected argument '%s'", argv[optind]);
    wf_err err;
    wf_err_init(&err);
    wf_user **users = NULL;
    size_t n = 0;
    int rc = wf_cli_open_store(c, true, &err);
    if (rc == 0)
        rc = wf_store_user_list(c->store, &users, &n, &err);
    if (rc < 0)
        return wf_cli_fail(c, rc, &err, "users list");
    json_t *arr = json_array();
    wf_table t;
    wf_table_init(&t, 4);
    wf_table_row(&t, "USERNAME", "ROLE", "ACTIVE", "CREATED");
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, user_json(users[i]));
        wf_table_row(&t, users[i]->username, users[i]->role, users[i]->is_active ? "yes" : "no",
                     users[i]->created_at);
    }
    if (c->json)
        wf_cli_print_json(c, arr);
    else if (n == 0)
        fprintf(c->out, "No users. Add the first admin with: wfreg users add NAME --role admin\n");
    else
        wf_table_print(&t, c->out);
    wf_table_free(&t);
    json_decref(arr);
    for (size_t i = 0; i < n; i++)
        wf_user_free(users[i]);
    free(users);
    return WF_EXIT_OK;
}

/* Revokes the user's login sessions (not its API tokens, which an admin made on purpose);
 * returns how many. */
static size_t sign_out(wf_store *s, int64_t user_id)
{
    wf_token_row *rows = NULL;
    size_t n = 0, count = 0;
    if (wf_store_token_list(s, false, &rows, &n, NULL) < 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].user_id == user_id && !strcmp(rows[i].kind, "session") &&
            wf_store_token_revoke(s, rows[i].id, NULL) == 0)
            count++;
    }
    wf_token_rows_free(rows, n);
    return count;
}

static int cmd_passwd(wf_cli *c, int argc, char **argv)
{
    bool from_stdin;
    int code = parse_pw_opts(c, "users passwd", argc, argv, NULL, &from_stdin);
    if (code)
        return code;
    const char *name = wf_cli_one_name(c, "users passwd", argc, argv);
    if (!name)
        return WF_EXIT_USAGE;
    wf_err err;
    wf_err_init(&err);
    wf_user *u = NULL;
    char *hash = NULL;
    int rc = wf_cli_open_store(c, true, &err);
    if (rc == 0)
        rc = wf_store_user_get(c->store, name, &u, &err);
    if (rc == 0)
        rc = new_password_hash(from_stdin, &hash, &err);
    if (rc == 0) {
        wf_free_secret(u->password_hash);
        u->password_hash = hash;
        hash = NULL;
        rc = wf_store_user_update(c->store, u, &err);
    }
    if (rc == 0) {
        size_t ended = sign_out(c->store, u->id);
        fprintf(c->out, "Changed the password of '%s'", name);
        if (ended)
            fprintf(c->out, " (%zu login session(s) signed out)", ended);
        fputc('\n', c->out);
    } else {
        code = wf_cli_fail(c, rc, &err, "users passwd");
    }
    wf_free_secret(hash);
    wf_user_free(u);
    return code;
}

static int cmd_set_active(wf_cli *c, int argc, char **argv, bool active)
{
    const char *cmd = active ? "users enable" : "users disable";
    if (wf_cli_getopt_flag(c, cmd, argc, argv, NULL, NULL))
        return WF_EXIT_USAGE;
    const char *name = wf_cli_one_name(c, cmd, argc, argv);
    if (!name)
        return WF_EXIT_USAGE;
    wf_err err;
    wf_err_init(&err);
    wf_user *u = NULL;
    int rc = wf_cli_open_store(c, true, &err);
    if (rc == 0)
        rc = wf_store_user_get(c->store, name, &u, &err);
    if (rc < 0)
        return wf_cli_fail(c, rc, &err, cmd);
    bool was = u->is_active;
    u->is_active = active;
    if (was != active && (rc = wf_store_user_update(c->store, u, &err)) < 0) {
        wf_user_free(u);
        return wf_cli_fail(c, rc, &err, cmd);
    }
    if (was == active)
        fprintf(c->out, "User '%s' is already %s\n", name, active ? "enabled" : "disabled");
    else if (active)
        fprintf(c->out, "Enabled user '%s'\n", name);
    else
        fprintf(c->out, "Disabled user '%s': it cannot log in, and its tokens stop working\n",
                name);
    wf_user_free(u);
    return WF_EXIT_OK;
}

static int cmd_disable(wf_cli *c, int argc, char **argv)
{
    return cmd_set_active(c, argc, argv, false);
}

static int cmd_enable(wf_cli *c, int argc, char **argv)
{
    return cmd_set_active(c, argc, argv, true);
}

int wf_cmd_users(wf_cli *c, int argc, char **argv)
{
    static const wf_subcommand subs[] = {
        {"add", cmd_add},         {"list", cmd_list},     {"passwd", cmd_passwd},
        {"disable", cmd_disable}, {"enable", cmd_enable},
    };
    return wf_cli_dispatch(c, "users", users_usage, subs, sizeof subs / sizeof subs[0], argc, argv);
}
