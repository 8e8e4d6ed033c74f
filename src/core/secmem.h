/*
 * secmem.h: a process that holds keys: no core file, and no other process of the same
 * user reading its memory.
 */
#ifndef WF_CORE_SECMEM_H
#define WF_CORE_SECMEM_H

/* No core file of this process, ever: the core size limit is 0 (soft and hard, so it
 * cannot be raised again) and the process is not dumpable (prctl PR_SET_DUMPABLE 0),
 * which also keeps processes without CAP_SYS_PTRACE, the same user's included, out of
 * its memory (/proc/PID/mem). Returns 0, or -1 with errno when either call failed (the
 * caller says so and goes on: neither is worth not running). */
int wf_secmem_protect_process(void);

#endif
