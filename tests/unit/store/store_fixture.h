/*
 * store_fixture.h: what the store tests share: a fresh temporary folder per test (made
 * with mkdtemp, removed with everything in it afterwards), a store opened on a real
 * SQLite file inside it, and a side door (a second, plain sqlite3 connection) for
 * looking at the file the way another program would.
 */
#ifndef WF_TEST_STORE_FIXTURE_H
#define WF_TEST_STORE_FIXTURE_H

#include "store/store.h"

#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fixture {
    char dir[512];  /* the temporary folder */
    char path[600]; /* dir/wfreg.db */
    char url[640];  /* sqlite:dir/wfreg.db */
    wf_store *s;
} fixture;

static inline int fixture_rm(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* Makes the folder and opens a store on dir/wfreg.db. */
static inline fixture *fixture_new(void)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/wfreg-store-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(f->dir)) {
        free(f);
        return NULL;
    }
    snprintf(f->path, sizeof f->path, "%s/wfreg.db", f->dir);
    snprintf(f->url, sizeof f->url, "sqlite:%s", f->path);
    wf_err err;
    wf_err_init(&err);
    if (wf_store_open(f->url, &f->s, &err) != 0) {
        fprintf(stderr, "fixture: %s\n", err.msg);
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
    nftw(f->dir, fixture_rm, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
}

/* The first column of the first row of sql, read with a separate connection, as a new
 * string ("(null)" for SQL NULL, NULL when there is no row or the query fails). */
static inline char *side_query(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char *out = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        out = strdup(v ? v : "(null)");
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
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
