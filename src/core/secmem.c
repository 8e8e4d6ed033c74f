/*
 * secmem.c: a process that no core file or debugger of the same user can read
 * (secmem.h).
 */
#include "secmem.h"

#include <sys/prctl.h>
#include <sys/resource.h>

int wf_secmem_protect_process(void)
{
    struct rlimit none = {0, 0};
    int rc = setrlimit(RLIMIT_CORE, &none);
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        rc = -1;
    return rc;
}
