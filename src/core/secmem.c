/*
 * secmem.c: memory that is overwritten before it is freed, and a process that no core
 * file or debugger of the same user can read (secmem.h).
 *
 * wfreg's own secrets live in wiped buffers (wf_buf_init_secret, wf_buf_wipe), but a key
 * also passes through libraries that know nothing of secrets: the request body that
 * carries it sits in libevent's buffers, jansson copies it into a string (and into its
 * parse buffer, a block at a time), libcurl writes the header that sends it to an engine
 * into buffers of its own. All three take allocation functions; given these, every block
 * they free is overwritten first, whatever it held. The cost is one memset per freed
 * block, which is small beside what filled it.
 *
 * The size to overwrite comes from malloc_usable_size (glibc, musl; ASan answers it too):
 * the whole block, so a block that a library shrank is overwritten to its real end.
 */
#include "secmem.h"
#include "buf.h"

#include <jansson.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

void *wf_secmem_malloc(size_t n)
{
    return malloc(n);
}

void *wf_secmem_calloc(size_t n, size_t size)
{
    return calloc(n, size);
}

char *wf_secmem_strdup(const char *s)
{
    return strdup(s);
}

void wf_secmem_free(void *p)
{
    if (!p)
        return;
    wf_secure_zero(p, malloc_usable_size(p));
    free(p);
}

/* realloc by hand: libc's may move the block and free the old one as it was. */
void *wf_secmem_realloc(void *p, size_t n)
{
    if (!p)
        return malloc(n);
    if (n == 0) { /* as glibc's realloc(p, 0): freed, NULL */
        wf_secmem_free(p);
        return NULL;
    }
    size_t have = malloc_usable_size(p);
    if (n <= have)
        return p; /* fits: nothing is copied; the whole block is wiped when freed */
    void *q = malloc(n);
    if (!q)
        return NULL; /* p stays valid, as with realloc */
    memcpy(q, p, have);
    wf_secmem_free(p);
    return q;
}

void wf_secmem_use_for_json(void)
{
    json_set_alloc_funcs(wf_secmem_malloc, wf_secmem_free);
}

int wf_secmem_protect_process(void)
{
    struct rlimit none = {0, 0};
    int rc = setrlimit(RLIMIT_CORE, &none);
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        rc = -1;
    return rc;
}
