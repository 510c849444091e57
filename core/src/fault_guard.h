/* Fault-tolerant reads: a SIGSEGV/SIGBUS handler that, while the current
 * thread is inside a guarded section, jumps back out of the faulting read
 * instead of crashing. Outside a guarded section it chains to whatever handler
 * was installed before (faulthandler, the JVM's, SIG_DFL).
 *
 * A handler installed after ours (faulthandler.enable() mid-session, a crash
 * reporter, the JVM) displaces it; pp_fault_guard_keep, called every drain
 * tick, puts ours back in front and chains to the newcomer for faults that
 * are not ours, exactly as the kernel would have called it (same siginfo and
 * ucontext, its sa_mask and flags, SIG_DFL/SIG_IGN semantics). A newcomer
 * that hands a fault back to "its previous" handler (ours) reaches the one
 * before it, never itself again.
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
#include <stdint.h>

/* Installs the handlers once per process; they stay for the process's life
 * because a guarded read may be in flight on another thread. */
int pp_fault_guard_install(void);
/* Off the signal path: re-checks that the installed handlers are still ours
 * and puts them back in front when they are not. Returns 0 when guarding is
 * on. Guarding stays off (and stderr says so once) only when the guard
 * cannot be put back. */
int pp_fault_guard_keep(void);

typedef struct pp_fault_guard_info {
    uint64_t reinstalls;     /* times ours was put back in front of another handler */
    int lost;                /* the guard could not be put back: guarding is off */
    const char *lost_reason; /* why, when lost; "" otherwise */
} pp_fault_guard_info;
void pp_fault_guard_stats(pp_fault_guard_info *out);
/* 0 when guarding is active (the handler is still ours), -1 otherwise. */
int pp_fault_guard_enter(sigjmp_buf *jb);
void pp_fault_guard_leave(void);

#endif
