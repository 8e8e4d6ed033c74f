/*
 * store_fixture.h: what the store tests share. One suite, two backends: each test
 * program runs against SQLite (registered as unit/store/test_x) and against PostgreSQL
 * (pg/store/test_x, with WF_TEST_BACKEND=pg).
 *
 * - SQLite: a fresh temporary folder per test (made with mkdtemp, removed with everything
 *   in it afterwards) and a store opened on a real file inside it.
 * - PostgreSQL: the private cluster of tests/pg/cluster.sh, whose URL ctest names in
 *   WF_TEST_PG_URL_FILE. Each test program gets a database of its own (wfreg_t_PID,
 *   dropped at exit) and each test a clean schema in it (DROP SCHEMA public CASCADE).
 *   f->path is then that database's URL.
 *
 * side_query() is a side door: a second, plain connection (sqlite3 or libpq) for looking
 * at the database the way another program would. On PostgreSQL each schema also gets a
 * group_concat(text) aggregate, so that the tests' queries read the same on both.
 */
#ifndef WF_TEST_STORE_FIXTURE_H
#define WF_TEST_STORE_FIXTURE_H

#include "store/migrate.h"
#include "store/store.h"

#include <ftw.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct fixture {
    char dir[512];  /* the temporary folder (SQLite); "" on PostgreSQL */
    char path[640]; /* dir/wfreg.db, or the PostgreSQL URL */
    char url[660];  /* sqlite:dir/wfreg.db, or the PostgreSQL URL */
    wf_store *s;
} fixture;

static inline bool fixture_is_pg(void)
{
    const char *b = getenv("WF_TEST_BACKEND");
    return b && !strcmp(b, "pg");
}

static inline int fixture_rm(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* ---- PostgreSQL -------------------------------------------------------------------- */

static inline void fixture_pg_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* "drop cascades to 9 other objects" */
}

/* Runs sql on a new connection to url; false (and a message) when it fails. */
static inline bool fixture_pg_run(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    bool ok = PQstatus(c) == CONNECTION_OK;
    if (ok) {
        PQsetNoticeProcessor(c, fixture_pg_quiet, NULL);
        PGresult *r = PQexec(c, sql);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
        PQclear(r);
    }
    if (!ok)
        fprintf(stderr, "fixture: %s", PQerrorMessage(c));
    PQfinish(c);
    return ok;
}

/* The cluster's URL (postgresql://wfreg:PW@/wfreg?host=DIR) with another database. */
static inline bool fixture_pg_url(const char *db, char *out, size_t cap)
{
    const char *file = getenv("WF_TEST_PG_URL_FILE");
    char base[512] = "";
    FILE *fp = file ? fopen(file, "r") : NULL;
    if (!fp || !fgets(base, sizeof base, fp)) {
        fprintf(stderr, "fixture: no PostgreSQL URL in %s (tests/pg/cluster.sh start)\n",
                file ? file : "WF_TEST_PG_URL_FILE (unset)");
        if (fp)
            fclose(fp);
        return false;
    }
    fclose(fp);
    base[strcspn(base, "\r\n")] = '\0';
    const char *at = strstr(base, "@/"), *q = at ? strchr(at, '?') : NULL;
    if (!at || !q)
        return false;
    int n = snprintf(out, cap, "%.*s@/%s%s", (int)(at - base), base, db, q);
    return n > 0 && (size_t)n < cap;
}

static char fixture_pg_db_url[512];

static inline void fixture_pg_drop_db(void)
{
    char admin[512], sql[128];
    if (fixture_pg_url("wfreg", admin, sizeof admin)) {
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS wfreg_t_%ld WITH (FORCE)",
                 (long)getpid());
        fixture_pg_run(admin, sql);
    }
}

/* This program's database, created on first use; then a clean public schema. */
static inline bool fixture_pg_fresh(char *url, size_t cap)
{
    if (!fixture_pg_db_url[0]) {
        char admin[512], db[64], sql[160];
        snprintf(db, sizeof db, "wfreg_t_%ld", (long)getpid());
        if (!fixture_pg_url("wfreg", admin, sizeof admin) ||
            !fixture_pg_url(db, fixture_pg_db_url, sizeof fixture_pg_db_url))
            return false;
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
        fixture_pg_run(admin, sql);
        snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
        if (!fixture_pg_run(admin, sql))
            return false;
        atexit(fixture_pg_drop_db);
    }
    snprintf(url, cap, "%s", fixture_pg_db_url);
    return fixture_pg_run(
        url, "DROP SCHEMA public CASCADE; CREATE SCHEMA public;"
             "CREATE FUNCTION public.wf_test_concat(acc text, v text) RETURNS text"
             " LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN v IS NULL THEN acc"
             " WHEN acc IS NULL THEN v ELSE acc || ',' || v END $$;"
             "CREATE AGGREGATE public.group_concat(text) (SFUNC = wf_test_concat, STYPE = text);");
}

/* ---- both -------------------------------------------------------------------------- */

/* Makes the folder (or cleans the database) and opens a store on it. */
static inline fixture *fixture_new(void)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    if (fixture_is_pg()) {
        if (!fixture_pg_fresh(f->url, sizeof f->url)) {
            free(f);
            return NULL;
        }
        snprintf(f->path, sizeof f->path, "%.600s", f->url); /* < 512 bytes */
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(f->dir, sizeof f->dir, "%s/wfreg-store-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
        if (!mkdtemp(f->dir)) {
            free(f);
            return NULL;
        }
        snprintf(f->path, sizeof f->path, "%s/wfreg.db", f->dir);
        snprintf(f->url, sizeof f->url, "sqlite:%s", f->path);
    }
    wf_err err;
    wf_err_init(&err);
    if (wf_store_open(f->url, &f->s, &err) != 0) {
        fprintf(stderr, "fixture: %s\n", err.msg);
        if (f->dir[0])
            nftw(f->dir, fixture_rm, 8, FTW_DEPTH | FTW_PHYS);
        free(f);
        return NULL;
    }
    return f;
}

static inline void fixture_free(fixture *f)
{
    if (!f)
        return;
    wf_store_close(f->s);
    if (f->dir[0])
        nftw(f->dir, fixture_rm, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
}

/* cmocka setup/teardown: a fresh database at head for each test (state: the fixture). */
static inline int fixture_setup_at_head(void **state)
{
    fixture *f = fixture_new();
    if (!f)
        return -1;
    wf_err err;
    wf_err_init(&err);
    if (wf_migrate_up(f->s, NULL, NULL, &err) != 0) {
        fprintf(stderr, "setup: %s\n", err.msg);
        fixture_free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static inline int fixture_teardown(void **state)
{
    fixture_free(*state);
    return 0;
}

/* The first column of the first row of sql, read with a separate connection, as a new
 * string ("(null)" for SQL NULL, NULL when there is no row or the query fails). path is
 * a SQLite file or a PostgreSQL URL (f->path). */
static inline char *side_query(const char *path, const char *sql)
{
    char *out = NULL;
    if (!strncmp(path, "postgresql://", 13)) {
        PGconn *c = PQconnectdb(path);
        PGresult *r = PQstatus(c) == CONNECTION_OK ? PQexec(c, sql) : NULL;
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
            out = strdup(PQgetisnull(r, 0, 0) ? "(null)" : PQgetvalue(r, 0, 0));
        PQclear(r);
        PQfinish(c);
        return out;
    }
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        out = strdup(v ? v : "(null)");
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

/* Whether two JSON texts mean the same (PostgreSQL's JSONB spaces and orders a config
 * its own way). */
static inline bool json_same(const char *a, const char *b)
{
    json_t *ja = json_loads(a, JSON_DECODE_ANY, NULL), *jb = json_loads(b, JSON_DECODE_ANY, NULL);
    bool same = ja && jb && json_equal(ja, jb);
    json_decref(ja);
    json_decref(jb);
    return same;
}

/* An engine record for tests; free with wf_engine_free. */
static inline wf_engine *test_engine(const char *name, const char *token)
{
    wf_engine *e = wf_engine_new();
    if (!e)
        return NULL;
    e->name = strdup(name);
    e->engine_type = strdup("n8n");
    e->api_url = strdup("http://n8n.internal:5678");
    e->api_key_encrypted = token ? strdup(token) : NULL;
    return e;
}

#endif
