/*
 * backends.h: private to store/. How store.c's wf_store_open reaches each backend's
 * constructor; nothing outside this folder includes it.
 */
#ifndef WF_STORE_BACKENDS_H
#define WF_STORE_BACKENDS_H

#include "store.h"

/* Opens the SQLite database at path, ":memory:" for a private in-memory one. With
 * create, a missing file (and its folder) is created and the file switched to WAL;
 * without, a missing file is WF_ERR_NOT_FOUND "no database at PATH (run wfreg migrate
 * up)" and the journal mode is left as it is. */
int wf_sqlite_open(const char *path, bool create, wf_store **out, wf_err *err);

/* Connects to PostgreSQL: url is a postgresql:// or postgres:// URL, SQLAlchemy's
 * postgresql+DRIVER:// form, or a libpq key=value string, passed to libpq as it is. */
int wf_pg_open(const char *url, wf_store **out, wf_err *err);

#endif
