/*
 * test_registry.c: snapshots (merge of database and environment engines, precedence,
 * order, lookups, counts), loads (key status, the checklist's log lines, the shadow line
 * logged once, a failing database), and reference counting across swaps, including a
 * reader and a writer on two threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/log.h"
#include "core/registry.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../test_support.h"

/* ---- helpers ----------------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    wf_log_setup(WF_LOG_DEBUG, WF_LOG_TEXT);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    capture_reset();
    return 0;
}

static wf_engine *mk(const char *name, wf_engine_source src, bool active, const char *token)
{
    wf_engine *e = wf_engine_new();
    assert_non_null(e);
    e->name = strdup(name);
    e->engine_type = strdup("n8n");
    e->api_url = strdup("http://h");
    e->source = src;
    e->is_active = active;
    e->id = src == WF_SOURCE_DATABASE ? 1 : 0;
    if (token && src == WF_SOURCE_DATABASE) {
        e->api_key_encrypted = strdup(token);
        e->key_status = WF_KEY_UNCHECKED;
    } else if (token) {
        e->api_key_env = strdup(token);
        e->key_status = WF_KEY_OK;
    }
    return e;
}

#define DB(name, active, token) mk(name, WF_SOURCE_DATABASE, active, token)
#define ENV(name, active, token) mk(name, WF_SOURCE_ENVIRONMENT, active, token)

static void assert_sorted(const wf_snapshot *s)
{
    for (size_t i = 1; i < wf_snapshot_count(s); i++)
        assert_true(strcmp(wf_snapshot_at(s, i - 1)->name, wf_snapshot_at(s, i)->name) < 0);
}

/* ---- snapshots --------------------------------------------------------------------- */

static void test_snapshot_empty(void **state)
{
    (void)state;
    wf_snapshot *s = wf_snapshot_new(NULL, 0, NULL, 0);
    assert_non_null(s);
    assert_int_equal(wf_snapshot_count(s), 0);
    assert_int_equal(wf_snapshot_count_active(s), 0);
    assert_null(wf_snapshot_at(s, 0));
    assert_null(wf_snapshot_find(s, "x"));
    assert_null(wf_snapshot_find(s, NULL));
    assert_null(wf_snapshot_find_env(s, "x"));
    wf_snapshot_unref(s);
    wf_snapshot_unref(NULL);
}

static void test_snapshot_merge(void **state)
{
    (void)state;
    wf_engine *db[] = {DB("zeta", true, NULL), DB("alpha", true, "tok"), DB("shared", false, NULL)};
    wf_engine *env[] = {ENV("shared", true, "env-key-1"), ENV("beta", true, NULL),
                        ENV("env-only", false, NULL)};
    wf_snapshot *s = wf_snapshot_new(db, 3, env, 3);
    assert_non_null(s);

    const char *want[] = {"alpha", "beta", "env-only", "shared", "zeta"};
    assert_int_equal(wf_snapshot_count(s), 5);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(wf_snapshot_at(s, i)->name, want[i]);
    assert_null(wf_snapshot_at(s, 5));

    /* the database wins, and says so */
    const wf_engine *shared = wf_snapshot_find(s, "shared");
    assert_int_equal(shared->source, WF_SOURCE_DATABASE);
    assert_true(shared->shadows_env);
    assert_false(shared->is_active);
    assert_false(wf_snapshot_find(s, "alpha")->shadows_env);
    /* the shadowed environment engine is still reachable */
    const wf_engine *hidden = wf_snapshot_find_env(s, "shared");
    assert_non_null(hidden);
    assert_int_equal(hidden->source, WF_SOURCE_ENVIRONMENT);
    assert_string_equal(hidden->api_key_env, "env-key-1");
    assert_non_null(wf_snapshot_find_env(s, "beta"));
    assert_null(wf_snapshot_find_env(s, "alpha"));

    assert_int_equal(wf_snapshot_count_source(s, WF_SOURCE_DATABASE), 3);
    assert_int_equal(wf_snapshot_count_source(s, WF_SOURCE_ENVIRONMENT), 2);
    assert_int_equal(wf_snapshot_count_active(s), 3); /* alpha, beta, zeta */
    wf_snapshot_unref(s);
}

static void test_snapshot_find(void **state)
{
    (void)state;
    enum { N = 101 };
    wf_engine *db[N];
    char name[32];
    /* inserted in a scrambled order */
    for (size_t i = 0; i < N; i++) {
        snprintf(name, sizeof name, "e-%03zu", (i * 37) % N);
        db[i] = DB(name, i % 2 == 0, NULL);
    }
    wf_snapshot *s = wf_snapshot_new(db, N, NULL, 0);
    assert_int_equal(wf_snapshot_count(s), N);
    assert_sorted(s);
    for (size_t i = 0; i < N; i++) {
        snprintf(name, sizeof name, "e-%03zu", i);
        const wf_engine *e = wf_snapshot_find(s, name);
        assert_non_null(e);
        assert_string_equal(e->name, name);
    }
    assert_null(wf_snapshot_find(s, ""));
    assert_null(wf_snapshot_find(s, "a"));
    assert_null(wf_snapshot_find(s, "e-0001"));
    assert_null(wf_snapshot_find(s, "e-101"));
    assert_null(wf_snapshot_find(s, "z"));
    assert_null(wf_snapshot_find(s, "E-001")); /* exact, case-sensitive */
    assert_int_equal(wf_snapshot_count_active(s), (N + 1) / 2);
    wf_snapshot_unref(s);
}

static void test_snapshot_legacy_names(void **state)
{
    (void)state;
    /* rows adopted from an existing database are served as they are */
    wf_engine *db[] = {DB("My Engine", true, NULL), DB("b", true, NULL), DB("N8N", true, NULL)};
    wf_snapshot *s = wf_snapshot_new(db, 3, NULL, 0);
    assert_sorted(s);
    assert_non_null(wf_snapshot_find(s, "My Engine"));
    assert_non_null(wf_snapshot_find(s, "N8N"));
    wf_snapshot_unref(s);
}

static void test_snapshot_duplicates_keep_first(void **state)
{
    (void)state;
    wf_engine *env[] = {ENV("dup", true, "first-key"), ENV("dup", true, "second-key"), NULL};
    wf_snapshot *s = wf_snapshot_new(NULL, 0, env, 3);
    assert_int_equal(wf_snapshot_count(s), 1);
    assert_string_equal(wf_snapshot_find(s, "dup")->api_key_env, "first-key");
    wf_snapshot_unref(s);
}

static void test_snapshot_database_duplicates_all_listed(void **state)
{
    (void)state;
    /* legacy rows: a NULL name read as "" beside a real "", and two rows named "x" */
    wf_engine *db[] = {DB("x", true, NULL), DB("", true, NULL), DB("a", true, NULL),
                       DB("", false, NULL), DB("x", false, NULL)};
    int64_t ids[] = {9, 5, 1, 2, 4};
    for (size_t i = 0; i < 5; i++)
        db[i]->id = ids[i];
    wf_engine *env[] = {ENV("x", true, NULL)};
    wf_snapshot *s = wf_snapshot_new(db, 5, env, 1);
    assert_int_equal(wf_snapshot_count(s), 5); /* every row; the env "x" is shadowed */
    const char *want_names[] = {"", "", "a", "x", "x"};
    int64_t want_ids[] = {2, 5, 1, 4, 9}; /* by name, then by id */
    for (size_t i = 0; i < 5; i++) {
        assert_string_equal(wf_snapshot_at(s, i)->name, want_names[i]);
        assert_int_equal(wf_snapshot_at(s, i)->id, want_ids[i]);
        assert_int_equal(wf_snapshot_at(s, i)->source, WF_SOURCE_DATABASE);
    }
    /* a lookup finds the first, whatever the binary search's path */
    assert_int_equal(wf_snapshot_find(s, "")->id, 2);
    assert_int_equal(wf_snapshot_find(s, "x")->id, 4);
    assert_true(wf_snapshot_at(s, 3)->shadows_env);
    assert_true(wf_snapshot_at(s, 4)->shadows_env);
    assert_int_equal(wf_snapshot_count_active(s), 3);
    wf_snapshot_unref(s);

    /* many copies of one name among others: still the lowest id */
    enum { N = 40 };
    wf_engine *many[N];
    for (size_t i = 0; i < N; i++) {
        many[i] = DB(i % 3 ? "same" : "other", true, NULL);
        many[i]->id = (int64_t)(N - i);
    }
    s = wf_snapshot_new(many, N, NULL, 0);
    assert_int_equal(wf_snapshot_count(s), N);
    assert_int_equal(wf_snapshot_find(s, "same")->id, 2);
    assert_int_equal(wf_snapshot_find(s, "other")->id, 1);
    wf_snapshot_unref(s);
}

/* ---- a fake source ----------------------------------------------------------------- */

typedef struct fake {
    const char *names[8];
    const char *tokens[8];
    bool active[8];
    size_t n;
    bool fail;
    size_t key_calls;
} fake;

static int fake_load_db(void *ctx, wf_engine ***out, size_t *n, wf_err *err)
{
    fake *f = ctx;
    if (f->fail)
        return wf_err_set(err, WF_ERR_DB, "database unreachable");
    *out = calloc(f->n + 1, sizeof **out);
    for (size_t i = 0; i < f->n; i++)
        (*out)[i] = DB(f->names[i], f->active[i], f->tokens[i]);
    *n = f->n;
    return 0;
}

/* "bad" tokens are unreadable with the configured keys; "good" ones open with the
 * second key. */
static wf_key_status fake_key_status(void *ctx, const wf_engine *e, int *key_index)
{
    fake *f = ctx;
    f->key_calls++;
    assert_non_null(e->api_key_encrypted);
    assert_int_equal(*key_index, -1);
    if (!strcmp(e->api_key_encrypted, "bad"))
        return WF_KEY_UNREADABLE;
    *key_index = 1;
    return WF_KEY_OK;
}

typedef struct fixture {
    fake db;
    wf_engine *env[4];
    wf_registry_source src;
} fixture;

/* db: n8n-default (shadows env), prod (bad token, inactive), stage (good token), plain;
 * env: n8n-default, windmill-default. Visible: 5, active: 4. */
static void fixture_init(fixture *fx)
{
    memset(fx, 0, sizeof *fx);
    fake *f = &fx->db;
    const char *names[] = {"prod", "n8n-default", "stage", "plain"};
    const char *tokens[] = {"bad", "good", "good", NULL};
    bool active[] = {false, true, true, true};
    for (size_t i = 0; i < 4; i++) {
        f->names[i] = names[i];
        f->tokens[i] = tokens[i];
        f->active[i] = active[i];
    }
    f->n = 4;
    fx->env[0] = ENV("n8n-default", true, "env-key-0123");
    fx->env[1] = ENV("windmill-default", true, NULL);
    fx->src = (wf_registry_source){f, fake_load_db, fake_key_status, fx->env, 2};
}

static void fixture_free(fixture *fx)
{
    for (size_t i = 0; i < 4; i++)
        wf_engine_free(fx->env[i]);
}

/* ---- registry ---------------------------------------------------------------------- */

static void test_registry_initially_empty(void **state)
{
    (void)state;
    wf_registry *r = wf_registry_new();
    assert_non_null(r);
    wf_snapshot *s = wf_registry_acquire(r);
    assert_non_null(s);
    assert_int_equal(wf_snapshot_count(s), 0);
    wf_snapshot_unref(s);
    wf_registry_free(r);
    wf_registry_free(NULL);
}

static void test_registry_load(void **state)
{
    (void)state;
    fixture fx;
    fixture_init(&fx);
    wf_registry *r = wf_registry_new();
    wf_err err;
    wf_err_init(&err);
    capture_start();
    assert_int_equal(wf_registry_load(r, &fx.src, true, &err), 0);
    const char *log = capture_stop();

    wf_snapshot *s = wf_registry_acquire(r);
    assert_int_equal(wf_snapshot_count(s), 5);
    assert_sorted(s);
    assert_int_equal(wf_snapshot_count_active(s), 4);
    assert_int_equal(wf_snapshot_count_source(s, WF_SOURCE_DATABASE), 4);
    assert_int_equal(wf_snapshot_count_source(s, WF_SOURCE_ENVIRONMENT), 1);
    assert_int_equal(wf_snapshot_find(s, "prod")->key_status, WF_KEY_UNREADABLE);
    assert_int_equal(wf_snapshot_find(s, "stage")->key_status, WF_KEY_OK);
    assert_int_equal(wf_snapshot_find(s, "plain")->key_status, WF_KEY_NONE);
    assert_int_equal(fx.db.key_calls, 3); /* only engines with a token */
    /* which key opens it is kept too, for keys check */
    assert_int_equal(wf_snapshot_find(s, "stage")->key_number, 2);
    assert_int_equal(wf_snapshot_find(s, "prod")->key_number, 0);
    assert_int_equal(wf_snapshot_find(s, "plain")->key_number, 0);
    assert_true(wf_snapshot_find(s, "n8n-default")->shadows_env);
    assert_int_equal(wf_snapshot_find(s, "n8n-default")->source, WF_SOURCE_DATABASE);
    assert_string_equal(wf_snapshot_find_env(s, "n8n-default")->api_key_env, "env-key-0123");
    assert_int_equal(wf_snapshot_find(s, "windmill-default")->source, WF_SOURCE_ENVIRONMENT);
    /* the env records were copied, not taken */
    assert_ptr_not_equal(wf_snapshot_find(s, "windmill-default"), fx.env[1]);
    wf_snapshot_unref(s);

    /* the checklist's lines, in order, with the real counts */
    const char *lines[] = {"Initializing workflow engine registry (multi-source)",
                           "Engine 'prod': API key unreadable with the configured keys",
                           "Loading workflow engines from environment variables",
                           ("Engine 'n8n-default' from the environment is shadowed by the "
                            "database engine of the same name"), /* one line, split */
                           "Workflow registry initialized with 5 engines",
                           "Workflows : 4/5 engines enabled"};
    const char *at = log;
    for (size_t i = 0; i < 6; i++) {
        const char *p = strstr(at, lines[i]);
        if (!p)
            fail_msg("missing or out of order: %s\nlog:\n%s", lines[i], log);
        at = p + strlen(lines[i]);
    }
    assert_int_equal(count_of(log, "ERROR"), 1);
    assert_non_null(strstr(log, "ERROR   Engine 'prod': API key unreadable"));
    assert_int_equal(count_of(log, "\n"), 6);

    wf_registry_free(r);
    fixture_free(&fx);
}

static void test_registry_shadow_logged_once(void **state)
{
    (void)state;
    fixture fx;
    fixture_init(&fx);
    wf_registry *r = wf_registry_new();
    capture_start();
    assert_int_equal(wf_registry_load(r, &fx.src, true, NULL), 0);
    assert_int_equal(wf_registry_load(r, &fx.src, true, NULL), 0);
    assert_int_equal(wf_registry_load(r, &fx.src, false, NULL), 0);
    const char *log = capture_stop();
    assert_int_equal(count_of(log, "is shadowed by the database engine"), 1);
    /* the unreadable key: once per startup load */
    assert_int_equal(count_of(log, "API key unreadable"), 2);
    assert_int_equal(count_of(log, "Workflow registry initialized with 5 engines"), 2);
    wf_registry_free(r);

    /* another registry logs it again */
    r = wf_registry_new();
    capture_start();
    assert_int_equal(wf_registry_load(r, &fx.src, false, NULL), 0);
    log = capture_stop();
    assert_int_equal(count_of(log, "is shadowed"), 1);
    assert_int_equal(count_of(log, "\n"), 1); /* quiet load: nothing else */
    wf_registry_free(r);
    fixture_free(&fx);
}

static void test_registry_duplicates_logged_once(void **state)
{
    (void)state;
    fake f = {{"twin", "twin", "solo"}, {NULL, NULL, NULL}, {true, true, true}, 3, false, 0};
    wf_registry_source src = {&f, fake_load_db, fake_key_status, NULL, 0};
    wf_registry *r = wf_registry_new();
    wf_err err;
    wf_err_init(&err);
    capture_start();
    assert_int_equal(wf_registry_load(r, &src, false, &err), 0);
    assert_int_equal(wf_registry_load(r, &src, false, &err), 0);
    const char *log = capture_stop();
    assert_int_equal(count_of(log, "WARNING Engine name 'twin' is held by 2 database rows"), 1);
    wf_snapshot *s = wf_registry_acquire(r);
    assert_int_equal(wf_snapshot_count(s), 3);
    wf_snapshot_unref(s);
    wf_registry_free(r);
}

static void test_registry_failing_db_keeps_snapshot(void **state)
{
    (void)state;
    fixture fx;
    fixture_init(&fx);
    wf_registry *r = wf_registry_new();
    capture_start();
    assert_int_equal(wf_registry_load(r, &fx.src, false, NULL), 0);
    capture_stop();
    wf_snapshot *before = wf_registry_acquire(r);

    fx.db.fail = true;
    wf_err err;
    wf_err_init(&err);
    capture_start();
    assert_int_equal(wf_registry_load(r, &fx.src, true, &err), WF_ERR_DB);
    const char *log = capture_stop();
    assert_string_equal(err.msg, "database unreachable");
    assert_null(strstr(log, "Workflow registry initialized"));

    wf_snapshot *after = wf_registry_acquire(r);
    assert_ptr_equal(before, after);
    assert_int_equal(wf_snapshot_count(after), 5);
    wf_snapshot_unref(after);
    wf_snapshot_unref(before);
    wf_registry_free(r);
    fixture_free(&fx);
}

static void test_registry_env_only(void **state)
{
    (void)state;
    fixture fx;
    fixture_init(&fx);
    fx.src.load_db = NULL;
    fx.src.key_status = NULL;
    wf_registry *r = wf_registry_new();
    capture_start();
    assert_int_equal(wf_registry_load(r, &fx.src, true, NULL), 0);
    const char *log = capture_stop();
    assert_non_null(strstr(log, "Workflow registry initialized with 2 engines"));
    assert_non_null(strstr(log, "Workflows : 2/2 engines enabled"));
    wf_snapshot *s = wf_registry_acquire(r);
    assert_int_equal(wf_snapshot_count_source(s, WF_SOURCE_ENVIRONMENT), 2);
    assert_int_equal(wf_snapshot_find(s, "n8n-default")->key_status, WF_KEY_OK);
    wf_snapshot_unref(s);
    wf_registry_free(r);
    fixture_free(&fx);
}

static void test_registry_swap_keeps_readers_valid(void **state)
{
    (void)state;
    wf_registry *r = wf_registry_new();
    wf_engine *db1[] = {DB("one", true, NULL)};
    wf_registry_swap(r, wf_snapshot_new(db1, 1, NULL, 0));

    wf_snapshot *reader = wf_registry_acquire(r);
    const wf_engine *one = wf_snapshot_find(reader, "one");
    assert_non_null(one);

    wf_engine *db2[] = {DB("two", true, NULL), DB("three", true, NULL)};
    wf_registry_swap(r, wf_snapshot_new(db2, 2, NULL, 0));
    wf_registry_swap(r, NULL); /* ignored */

    /* the old snapshot is still whole for the reader that holds it */
    assert_string_equal(one->name, "one");
    assert_int_equal(wf_snapshot_count(reader), 1);
    wf_snapshot *now = wf_registry_acquire(r);
    assert_int_equal(wf_snapshot_count(now), 2);
    assert_null(wf_snapshot_find(now, "one"));

    /* an extra reference is counted like any other */
    assert_ptr_equal(wf_snapshot_ref(reader), reader);
    wf_snapshot_unref(reader);
    assert_string_equal(wf_snapshot_at(reader, 0)->name, "one");
    wf_snapshot_unref(reader); /* freed here: ASan would catch a later read */
    wf_snapshot_unref(now);
    wf_registry_free(r);
}

/* ---- two threads ------------------------------------------------------------------- */

enum { NAMES = 10, SWAPS = 1000 };

typedef struct race {
    wf_registry *r;
    atomic_bool done;
    size_t reads;
    size_t bad;
} race;

static void *writer(void *arg)
{
    race *rc = arg;
    for (int i = 0; i < SWAPS; i++) {
        wf_engine *db[NAMES];
        char name[16];
        for (int j = 0; j < NAMES; j++) {
            snprintf(name, sizeof name, "e%d", j);
            db[j] = DB(name, (i + j) % 2 == 0, NULL);
            db[j]->id = i;
        }
        wf_registry_swap(rc->r, wf_snapshot_new(db, NAMES, NULL, 0));
    }
    atomic_store(&rc->done, true);
    return NULL;
}

static void *reader(void *arg)
{
    race *rc = arg;
    while (!atomic_load(&rc->done) || rc->reads < 100) {
        wf_snapshot *s = wf_registry_acquire(rc->r);
        size_t n = wf_snapshot_count(s);
        const wf_engine *e5 = wf_snapshot_find(s, "e5");
        const wf_engine *e0 = wf_snapshot_at(s, 0);
        /* the first snapshot is the empty one; after that, always a whole one */
        if (n != 0 && (n != NAMES || !e5 || strcmp(e5->name, "e5") || e0->id != e5->id ||
                       wf_snapshot_count_active(s) != NAMES / 2))
            rc->bad++;
        rc->reads++;
        wf_snapshot_unref(s);
    }
    return NULL;
}

static void test_registry_two_threads(void **state)
{
    (void)state;
    race rc = {wf_registry_new(), false, 0, 0};
    pthread_t w, rd;
    assert_int_equal(pthread_create(&rd, NULL, reader, &rc), 0);
    assert_int_equal(pthread_create(&w, NULL, writer, &rc), 0);
    pthread_join(w, NULL);
    pthread_join(rd, NULL);
    assert_int_equal(rc.bad, 0);
    assert_true(rc.reads >= 100);
    wf_snapshot *s = wf_registry_acquire(rc.r);
    assert_int_equal(wf_snapshot_find(s, "e9")->id, SWAPS - 1);
    wf_snapshot_unref(s);
    wf_registry_free(rc.r);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_snapshot_empty),
        T(test_snapshot_merge),
        T(test_snapshot_find),
        T(test_snapshot_legacy_names),
        T(test_snapshot_duplicates_keep_first),
        T(test_snapshot_database_duplicates_all_listed),
        T(test_registry_initially_empty),
        T(test_registry_load),
        T(test_registry_shadow_logged_once),
        T(test_registry_duplicates_logged_once),
        T(test_registry_failing_db_keeps_snapshot),
        T(test_registry_env_only),
        T(test_registry_swap_keeps_readers_valid),
        T(test_registry_two_threads),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
