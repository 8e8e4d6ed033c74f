/*
 * backends.h: private to store/. How store.c's wf_store_open reaches each backend's
 * constructor; nothing outside this folder includes it.
 */
#ifndef WF_STORE_BACKENDS_H
#define WF_STORE_BACKENDS_H

#include "store.h"

/* Opens (creating when missing) the SQLite database at path, ":memory:" for a private
 * in-memory one. The folder of path is created when missing. */
int wf_sqlite_open(const char *path, wf_store **out, wf_err *err);

#endif
