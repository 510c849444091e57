/* Fault-tolerant reads: a SIGSEGV/SIGBUS handler that, while the current
 * thread is inside a guarded section, jumps back out of the faulting read
 * instead of crashing. Outside a guarded section it chains to whatever handler
 * was installed before (faulthandler, the JVM's, SIG_DFL).
 *
 * Usage (signal handler or any thread):
 *     sigjmp_buf jb;
 *     if (pp_fault_guard_enter(&jb) == 0 && sigsetjmp(jb, 0) == 0) { ...reads... }
 *     pp_fault_guard_leave();
 * The SEGV handler is installed with SA_NODEFER, so jumping out of it leaves
 * the signal mask as it was at sigsetjmp; that is why sigsetjmp need not save
 * the mask (a syscall we cannot afford per sample). */
#ifndef PP_FAULT_GUARD_H
#define PP_FAULT_GUARD_H

#include <setjmp.h>

/* Installs the handlers once per process; they stay for the process's life
 * because a guarded read may be in flight on another thread. */
int pp_fault_guard_install(void);
/* Re-checks that the installed handlers are still ours; off the signal path.
 * Returns 0 when they are. */
int pp_fault_guard_verify(void);
/* 0 when guarding is active (the handler is still ours), -1 otherwise. */
int pp_fault_guard_enter(sigjmp_buf *jb);
void pp_fault_guard_leave(void);

#endif
