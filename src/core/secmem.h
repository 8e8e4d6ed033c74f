/*
 * secmem.h: a process that holds keys. Allocation functions that overwrite a block
 * before giving it back, handed to the libraries that see secrets in clear (jansson
 * parses request bodies and the environment's engines, libevent buffers requests,
 * libcurl builds the engines' requests with their keys), and the process's protection:
 * no core file, and no other process of the same user reading its memory.
 */
#ifndef WF_CORE_SECMEM_H
#define WF_CORE_SECMEM_H

#include <stddef.h>

/* malloc, calloc and strdup as libc's; free overwrites the whole block first; realloc
 * that moves a block overwrites the old one. They mix freely with libc's own functions
 * (a block from one may be freed by the other), so a library that allocated before its
 * allocator was replaced still works. */
void *wf_secmem_malloc(size_t n);
void *wf_secmem_calloc(size_t n, size_t size);
void *wf_secmem_realloc(void *p, size_t n);
char *wf_secmem_strdup(const char *s);
void wf_secmem_free(void *p);

/* Makes jansson allocate with the functions above, so that every JSON value, string and
 * parse buffer is overwritten when freed. Call once, early, before other threads run. */
void wf_secmem_use_for_json(void);

/* No core file of this process, ever: the core size limit is 0 (soft and hard, so it
 * cannot be raised again) and the process is not dumpable (prctl PR_SET_DUMPABLE 0),
 * which also keeps processes without CAP_SYS_PTRACE, the same user's included, out of
 * its memory (/proc/PID/mem). Returns 0, or -1 with errno when either call failed (the
 * caller says so and goes on: neither is worth not running). */
int wf_secmem_protect_process(void);

#endif
