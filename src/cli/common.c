/*
 * common.c: what every command group shares: exit codes and error printing, opening the
 * database and the keyring, reading secrets and files, tables and JSON output, option
 * parsing with wfreg's own messages, and the dispatch of a group's subcommands.
 */
#include "cli.h"

#include "core/text.h"
#include "store/migrate.h"
#include "store/writes.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

const wf_actor wf_cli_actor = {0, "cli"};

int wf_cli_exit_code(int rc)
{
    switch (rc) {
    case WF_OK: return WF_EXIT_OK;
    case WF_ERR_NOT_FOUND: return WF_EXIT_FAIL;
    case WF_ERR_INVALID:
    case WF_ERR_CONFLICT:
    case WF_ERR_IO: return WF_EXIT_USAGE;
    default: return WF_EXIT_DB;
    }
}

/* Writes s to f made safe for a terminal (a message may quote a legacy row's name). */
static void put_escaped(FILE *f, const char *s)
{
    char *shown = wf_text_escape_dup(s, 0);
    fputs(shown ? shown : "(out of memory)", f);
    free(shown);
}

int wf_cli_fail(wf_cli *c, int rc, const wf_err *err, const char *what)
{
    const char *msg = err && err->msg[0] ? err->msg : wf_err_code_name(rc);
    if (err && err->nfields > 1) {
        fprintf(c->errout, "wfreg: %s: %zu problems:\n", what, err->nfields);
        size_t n = err->nfields < WF_ERR_MAX_FIELDS ? err->nfields : WF_ERR_MAX_FIELDS;
        for (size_t i = 0; i < n; i++) {
            fprintf(c->errout, "  %s: ", err->fields[i].field);
            put_escaped(c->errout, err->fields[i].msg);
            fputc('\n', c->errout);
        }
    } else {
        fprintf(c->errout, "wfreg: %s: ", what);
        put_escaped(c->errout, msg);
        fputc('\n', c->errout);
    }
    return wf_cli_exit_code(rc);
}

int wf_cli_usage_error(wf_cli *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("wfreg: ", c->errout);
    vfprintf(c->errout, fmt, ap);
    fputs("\n", c->errout);
    va_end(ap);
    return WF_EXIT_USAGE;
}

int wf_cli_open_store(wf_cli *c, bool require_head, wf_err *err)
{
    if (c->store)
        return 0;
    int rc = wf_store_open(c->config.database_url, &c->store, err);
    if (rc < 0)
        return rc;
    if (!require_head)
        return 0;
    bool at_head = false;
    if ((rc = wf_migrate_is_at_head(c->store, &at_head, err)) < 0)
        return rc;
    if (!at_head) {
        char cur[32] = "", bad[WF_MIGRATE_LABEL_MAX] = "";
        wf_migrate_find_mismatch(c->store, bad, NULL);
        if (bad[0]) /* `migrate up` would refuse: say what is really wrong */
            return wf_err_set(err, WF_ERR_DB,
                              "the database schema does not match this wfreg: migration %s "
                              "was applied with a different script (checksum mismatch; see "
                              "'wfreg migrate verify')",
                              bad);
        wf_migrate_current(c->store, cur, NULL);
        return wf_err_set(err, WF_ERR_DB,
                          "the database schema is at %s, not at %s: run 'wfreg migrate up'",
                          cur[0] ? cur : "no version", wf_migrate_head());
    }
    return 0;
}

int wf_cli_open_store_existing(wf_cli *c, wf_err *err)
{
    if (c->store)
        return 0;
    return wf_store_open_existing(c->config.database_url, &c->store, err);
}

int wf_cli_open_keyring(wf_cli *c, wf_err *err)
{
    if (c->keyring)
        return 0;
    return wf_keyring_new(c->config.secret_key, c->config.fernet_keys, &c->keyring, err);
}

int wf_cli_load_registry(wf_cli *c, wf_err *err)
{
    extern char **environ;
    if (c->registry)
        return 0;
    wf_engine **env = NULL;
    size_t nenv = 0;
    int rc = wf_cli_open_store(c, true, err);
    if (rc == 0)
        rc = wf_cli_open_keyring(c, err);
    if (rc == 0)
        rc = wf_config_env_engines(environ, &env, &nenv, &c->env_invalid, err);
    if (rc < 0)
        goto done;
    c->env_engines = nenv;
    c->registry = wf_registry_new();
    if (!c->registry) {
        rc = wf_err_set(err, WF_ERR_NOMEM, "out of memory");
        goto done;
    }
    rc = wf_writes_load_registry(c->registry, c->store, c->keyring, env, nenv, c->log_startup, err);
done:
    wf_engines_free(env, nenv);
    return rc;
}

/* The end of reading a secret: drops one trailing "\n" or "\r\n"; an empty secret is a
 * "missing" field error that says why (when_empty). */
static int finish_secret(wf_buf *b, const char *when_empty, wf_err *err)
{
    if (!wf_buf_ok(b))
        return wf_err_set(err, WF_ERR_NOMEM, "out of memory");
    if (b->len && b->ptr[b->len - 1] == '\n')
        b->ptr[--b->len] = '\0';
    if (b->len && b->ptr[b->len - 1] == '\r')
        b->ptr[--b->len] = '\0';
    if (b->len == 0)
        return wf_err_field(err, "api_key", "missing", "%s", when_empty);
    return 0;
}

/* With read(2), not stdio: stdin's FILE buffer would keep a copy of the secret that
 * nothing wipes. */
int wf_cli_read_secret_stdin(wf_buf *out, wf_err *err)
{
    char chunk[1024];
    ssize_t n;
    bool failed = false;
    for (;;) {
        n = read(STDIN_FILENO, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            failed = n < 0;
            break;
        }
        wf_buf_put(out, chunk, (size_t)n);
        if (out->len > 64 * 1024)
            break; /* far beyond any key: validation will say so */
    }
    wf_secure_zero(chunk, sizeof chunk);
    if (failed)
        return wf_err_set(err, WF_ERR_IO, "api_key: cannot read standard input");
    return finish_secret(out, "standard input was empty", err);
}

int wf_cli_read_secret_prompt(const char *prompt, wf_buf *out, wf_err *err)
{
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return wf_err_set(err, WF_ERR_INVALID,
                          "api_key: no terminal to prompt on: use --api-key-stdin");
    struct termios old, quiet;
    bool restore = tcgetattr(fd, &old) == 0;
    if (restore) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    if (write(fd, prompt, strlen(prompt)) < 0) { /* nothing to do: the read still works */
    }
    char ch;
    ssize_t r;
    while ((r = read(fd, &ch, 1)) == 1 && ch != '\n')
        wf_buf_putc(out, ch);
    ch = 0;
    if (restore)
        tcsetattr(fd, TCSAFLUSH, &old);
    if (write(fd, "\n", 1) < 0) {
    }
    close(fd);
    return finish_secret(out, "nothing was typed", err);
}

int wf_cli_read_file(const char *path, size_t max, wf_buf *out, wf_err *err)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f)
        return wf_err_set(err, errno == ENOENT ? WF_ERR_NOT_FOUND : WF_ERR_IO, "%s: %s", path,
                          strerror(errno));
    char chunk[4096];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        wf_buf_put(out, chunk, n);
        if (out->len > max) {
            rc = wf_err_set(err, WF_ERR_INVALID, "%s: larger than %zu bytes", path, max);
            break;
        }
    }
    if (rc == 0 && ferror(f))
        rc = wf_err_set(err, WF_ERR_IO, "%s: read error", path);
    if (rc == 0 && !wf_buf_ok(out))
        rc = wf_err_set(err, WF_ERR_NOMEM, "out of memory");
    if (f != stdin)
        fclose(f);
    return rc;
}

int wf_cli_print_json(wf_cli *c, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    if (!s)
        return WF_ERR_NOMEM;
    fprintf(c->out, "%s\n", s);
    free(s);
    return 0;
}

void wf_table_init(wf_table *t, size_t ncols)
{
    t->ncols = ncols;
    t->nrows = 0;
    t->cells = NULL;
}

void wf_table_row(wf_table *t, ...)
{
    char **grown = realloc(t->cells, (t->nrows + 1) * t->ncols * sizeof *grown);
    if (!grown)
        return;
    t->cells = grown;
    va_list ap;
    va_start(ap, t);
    for (size_t i = 0; i < t->ncols; i++) {
        const char *s = va_arg(ap, const char *);
        /* cells may hold a legacy row's bytes: made safe for the terminal here, once */
        t->cells[t->nrows * t->ncols + i] = s ? wf_text_escape_dup(s, 0) : strdup("-");
    }
    va_end(ap);
    t->nrows++;
}

void wf_table_print(const wf_table *t, FILE *f)
{
    size_t width[16] = {0};
    size_t ncols = t->ncols < 16 ? t->ncols : 16;
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t i = 0; i < ncols; i++) {
            const char *s = t->cells[r * t->ncols + i];
            size_t n = s ? strlen(s) : 0;
            if (n > width[i])
                width[i] = n;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t i = 0; i < ncols; i++) {
            const char *s = t->cells[r * t->ncols + i];
            if (i + 1 == ncols)
                fprintf(f, "%s\n", s ? s : "");
            else
                fprintf(f, "%-*s  ", (int)width[i], s ? s : "");
        }
    }
}

void wf_table_free(wf_table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->nrows = 0;
}

int wf_cli_getopt(wf_cli *c, const char *cmd, int argc, char **argv, const char *shortopts,
                  const struct option *longopts)
{
    opterr = 0;
    int prev = optind;
    int opt = getopt_long(argc, argv, shortopts, longopts, NULL);
    if (opt == '?') {
        const char *bad = optind - 1 < argc && optind > prev ? argv[optind - 1] : argv[prev];
        if (optopt && optopt != '?')
            wf_cli_usage_error(c, "%s: option '%s' is unknown or needs a value (see --help)", cmd,
                               bad);
        else
            wf_cli_usage_error(c, "%s: unknown option '%s' (see --help)", cmd, bad);
    } else if (opt == ':') {
        wf_cli_usage_error(c, "%s: option '%s' needs a value", cmd, argv[optind - 1]);
        opt = '?';
    }
    return opt;
}

bool wf_cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return true;
    }
    return false;
}

int wf_cli_getopt_flag(wf_cli *c, const char *cmd, int argc, char **argv, const char *flag,
                       bool *is_set)
{
    const struct option opts[] = {{flag, no_argument, 0, 1}, {0, 0, 0, 0}};
    int opt;
    while ((opt = wf_cli_getopt(c, cmd, argc, argv, "", opts)) != -1) {
        if (opt != 1)
            return WF_EXIT_USAGE;
        *is_set = true;
    }
    return 0;
}

const char *wf_cli_one_name(wf_cli *c, const char *cmd, int argc, char **argv)
{
    if (optind >= argc) {
        wf_cli_usage_error(c, "%s: missing NAME (see --help)", cmd);
        return NULL;
    }
    if (optind + 1 < argc) {
        wf_cli_usage_error(c, "%s: unexpected argument '%s'", cmd, argv[optind + 1]);
        return NULL;
    }
    return argv[optind];
}

int wf_cli_dispatch(wf_cli *c, const char *group, const char *usage, const wf_subcommand *subs,
                    size_t n, int argc, char **argv)
{
    if (argc < 2 || wf_cli_wants_help(argc, argv)) {
        fputs(usage, argc < 2 ? c->errout : c->out);
        return argc < 2 ? WF_EXIT_USAGE : WF_EXIT_OK;
    }
    const char *sub = argv[1];
    optind = 1; /* the subcommand parses its options from its own argv[1] */
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(subs[i].name, sub))
            return subs[i].run(c, argc - 1, argv + 1);
    }
    return wf_cli_usage_error(c, "%s: unknown subcommand '%s' (see wfreg %s --help)", group, sub,
                              group);
}
