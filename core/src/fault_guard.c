#include "fault_guard.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "polyprof.h"
#include "signal_path.h"

/* initial-exec: this TLS is touched from signal handlers, where the lazy
 * allocation of dynamic TLS (malloc in __tls_get_addr) is not allowed. */
static __thread sigjmp_buf *guard_jmp __attribute__((tls_model("initial-exec")));

/* The handlers faults that are not ours go to, per signal, in the order they
 * were found: [0] is the one in force when the guard was first installed,
 * each later one a handler that replaced ours mid-session (faulthandler,
 * a crash reporter, the JVM) and that ours was put back in front of. The
 * newest is tried first. Append-only, so a fault handler on another thread
 * never reads an entry being written: an entry is complete before the count
 * that publishes it is raised. */
#define CHAIN_MAX 16
typedef struct chain_entry {
    struct sigaction action;
    _Atomic int reset; /* SA_RESETHAND was honoured once: SIG_DFL from now on */
} chain_entry;
typedef struct chain {
    chain_entry entries[CHAIN_MAX];
    _Atomic int count;
} chain;
static chain chains[2]; /* SIGSEGV, SIGBUS */

static volatile sig_atomic_t installed;
/* Whether the handlers in force are still ours: re-checked off the signal
 * path by pp_fault_guard_keep, because sigaction() per sample costs a
 * syscall. */
static volatile sig_atomic_t handler_current;
static _Atomic uint64_t reinstalls;
static _Atomic int lost;
static char lost_reason[160];
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;

static chain *chain_for(int sig) { return &chains[sig == SIGBUS ? 1 : 0]; }

/* Per thread: the chained call in progress, so that a handler that hands the
 * fault back to "its previous" handler (ours, since it was installed over
 * ours) reaches the next one down the chain instead of itself again. */
typedef struct chain_call {
    int active;
    int index;        /* position from the newest being called */
    uintptr_t frame;  /* the calling on_fault's frame address */
    siginfo_t *info;
} chain_call;
static __thread chain_call current_call __attribute__((tls_model("initial-exec")));

/* Per thread: the last synchronous fault a chained handler returned from
 * without moving the pc. A handler that has disabled itself since
 * (faulthandler.disable() while ours stayed in front) returns at once, and
 * the faulting instruction faults again: without this, forever. */
typedef struct repeat_state {
    int sig;
    uintptr_t pc, addr;
    uint64_t at_ns;
    int count;
} repeat_state;
static __thread repeat_state repeat __attribute__((tls_model("initial-exec")));
#define REPEAT_WINDOW_NS 10000000ULL /* a re-fault comes back within microseconds */
#define REPEATS_BEFORE_ESCALATING 4

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int is_ours(const struct sigaction *sa);

/* What the default disposition does with a fault: the process dies, as it
 * would have without us. A synchronous fault happens again on return; a
 * sent one (kill, raise) is sent again. Async-signal-safe. */
static void act_default(int sig, siginfo_t *info)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    if (info->si_code <= 0)
        raise(sig);
}

/* Calls a chained handler the way the kernel would have: with its own mask
 * (plus the signal unless SA_NODEFER) and its SA_RESETHAND, the same siginfo
 * and ucontext for SA_SIGINFO handlers; SIG_IGN ignores a sent signal but not
 * a real fault (the kernel kills a process that ignores one); SIG_DFL dies.
 * This is what HotSpot expects of a chained handler (its own
 * call_chained_handler does the same). Async-signal-safe. */
static void call_entry(chain_entry *e, int sig, siginfo_t *info, void *uc)
{
    struct sigaction *a = &e->action;
    int is_default = atomic_load_explicit(&e->reset, memory_order_relaxed) ||
                     (!(a->sa_flags & SA_SIGINFO) && a->sa_handler == SIG_DFL);
    if (!is_default && !(a->sa_flags & SA_SIGINFO) && a->sa_handler == SIG_IGN) {
        if (info->si_code <= 0)
            return;
        is_default = 1;
    }
    if (is_default || is_ours(a)) {
        act_default(sig, info);
        return;
    }
    if (a->sa_flags & SA_RESETHAND)
        atomic_store_explicit(&e->reset, 1, memory_order_relaxed);
    sigset_t block = a->sa_mask, saved;
    if (!(a->sa_flags & SA_NODEFER))
        sigaddset(&block, sig);
    pthread_sigmask(SIG_BLOCK, &block, &saved);
    if (a->sa_flags & SA_SIGINFO)
        a->sa_sigaction(sig, info, uc);
    else
        a->sa_handler(sig);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
}

static uintptr_t fault_pc(void *uc) { return (uintptr_t)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP]; }

/* Async-signal-safe: TLS, atomics, sigaction, pthread_sigmask, raise,
 * clock_gettime and the chained handlers (which run in signal context
 * anyway). */
static void on_fault(int sig, siginfo_t *info, void *uc)
{
    sigjmp_buf *jb = guard_jmp;
    if (jb) {
        guard_jmp = NULL;
        siglongjmp(*jb, 1);
    }
    chain *c = chain_for(sig);
    int n = atomic_load_explicit(&c->count, memory_order_acquire);
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    /* Handed back by the handler being called, directly (the same siginfo)
     * or by restoring ours and raising again: strictly deeper on this stack.
     * A stale record (a chained handler that longjmp'd out) fails this test,
     * since a fresh fault's frame is no deeper than the abandoned one's. */
    int nested = current_call.active && here < current_call.frame && current_call.frame - here < (1u << 20) &&
                 (info == current_call.info || (info->si_code <= 0 && info->si_pid == getpid()));
    int start = 0, repeats = 0;
    uintptr_t pc = fault_pc(uc), addr = (uintptr_t)info->si_addr;
    if (nested) {
        start = current_call.index + 1;
    } else if (info->si_code > 0) {
        if (repeat.sig == sig && repeat.pc == pc && repeat.addr == addr && mono_ns() - repeat.at_ns < REPEAT_WINDOW_NS)
            repeats = repeat.count + 1;
        /* Only a return sets it again: a handler that jumps out ends the
         * series. */
        repeat.sig = 0;
        /* The same fault came back unchanged again and again: the handler in
         * front does nothing any more; go one further down each time. */
        if (repeats >= REPEATS_BEFORE_ESCALATING)
            start = repeats - REPEATS_BEFORE_ESCALATING + 1;
    }
    if (start >= n) {
        act_default(sig, info);
        return;
    }
    chain_call outer = current_call;
    current_call.active = 1;
    current_call.index = start;
    current_call.frame = here;
    current_call.info = info;
    call_entry(&c->entries[n - 1 - start], sig, info, uc);
    current_call = outer;
    if (!nested && info->si_code > 0) {
        if (fault_pc(uc) == pc) {
            repeat.sig = sig;
            repeat.pc = pc;
            repeat.addr = addr;
            repeat.at_ns = mono_ns();
            repeat.count = repeats;
        }
        /* else the handler moved the pc on (the JVM's stubs): not a loop */
    }
}

static int is_ours(const struct sigaction *sa) { return (sa->sa_flags & SA_SIGINFO) && sa->sa_sigaction == on_fault; }

static int still_ours(int sig)
{
    struct sigaction cur;
    if (sigaction(sig, NULL, &cur) != 0)
        return 0;
    return is_ours(&cur);
}

static void give_up_locked(const char *why)
{
    if (!atomic_exchange(&lost, 1)) {
        snprintf(lost_reason, sizeof lost_reason, "%s", why);
        fprintf(stderr,
                "polyprof: %s; without it native and interpreter stacks are not captured (samples keep only the "
                "interrupted pc)\n",
                why);
    }
}

/* Puts ours in front of sig's handler, remembering the one it displaces.
 * Caller holds install_lock. */
static int install_one_locked(int sig)
{
    chain *c = chain_for(sig);
    int n = atomic_load(&c->count);
    if (n == CHAIN_MAX) {
        give_up_locked("the SIGSEGV/SIGBUS fault guard was replaced more often than it can chain (16 handlers)");
        return -1;
    }
    struct sigaction sa, prev;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, &prev) != 0) {
        give_up_locked("the SIGSEGV/SIGBUS fault guard cannot be installed");
        return -1;
    }
    if (is_ours(&prev))
        return 0;
    /* Faults between the sigaction above and the count below go to the
     * entry before: the newcomer misses at most those, and only those. */
    c->entries[n].action = prev;
    atomic_store(&c->entries[n].reset, 0);
    atomic_store_explicit(&c->count, n + 1, memory_order_release);
    return 0;
}

/* Installs the handlers, or puts them back in front of whoever replaced them
 * since, chaining to that one. */
int pp_fault_guard_install(void)
{
    pthread_mutex_lock(&install_lock);
    int rc = 0;
    if (atomic_load(&lost)) {
        rc = -1;
    } else if (!installed || !still_ours(SIGSEGV) || !still_ours(SIGBUS)) {
        int again = installed;
        if (install_one_locked(SIGSEGV) != 0 || install_one_locked(SIGBUS) != 0) {
            rc = -1;
        } else {
            if (again)
                atomic_fetch_add(&reinstalls, 1);
            installed = 1;
        }
    }
    handler_current = rc == 0 && installed;
    pthread_mutex_unlock(&install_lock);
    return rc;
}

int pp_fault_guard_keep(void)
{
    if (installed && still_ours(SIGSEGV) && still_ours(SIGBUS)) {
        handler_current = 1;
        return 0;
    }
    /* Replaced: no guarded read until ours is back in front. */
    handler_current = 0;
    return installed ? pp_fault_guard_install() : -1;
}

void pp_fault_guard_stats(pp_fault_guard_info *out)
{
    out->reinstalls = atomic_load(&reinstalls);
    out->lost = atomic_load(&lost);
    out->lost_reason = out->lost ? lost_reason : "";
}

PP_SIGNAL_PATH int pp_fault_guard_enter(sigjmp_buf *jb)
{
    /* Someone may have replaced our handler since the last check: a fault
     * would not come back to us, so refuse to guard and let the caller skip
     * the risky reads. */
    if (!handler_current)
        return -1;
    guard_jmp = jb;
    return 0;
}

PP_SIGNAL_PATH void pp_fault_guard_leave(void) { guard_jmp = NULL; }

int pp_safe_read(void *dst, const void *src, size_t len)
{
    sigjmp_buf jb;
    sigjmp_buf *outer = guard_jmp;
    volatile int rc = -1;
    if (pp_fault_guard_enter(&jb) == 0) {
        if (sigsetjmp(jb, 0) == 0) {
            memcpy(dst, src, len);
            rc = 0;
        }
    }
    guard_jmp = outer;
    return rc;
}
