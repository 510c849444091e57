#include "fault_guard.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "polyprof.h"

/* initial-exec: this TLS is touched from signal handlers, where the lazy
 * allocation of dynamic TLS (malloc in __tls_get_addr) is not allowed. */
static __thread sigjmp_buf *guard_jmp __attribute__((tls_model("initial-exec")));

static struct sigaction previous[2]; /* SIGSEGV, SIGBUS */
static volatile sig_atomic_t installed;
/* Whether the SEGV handler in force is still ours: re-checked off the signal
 * path by pp_fault_guard_verify, because sigaction() per sample costs a
 * syscall. */
static volatile sig_atomic_t handler_current;
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;

static struct sigaction *previous_for(int sig) { return &previous[sig == SIGBUS ? 1 : 0]; }

static void on_fault(int sig, siginfo_t *info, void *uc)
{
    sigjmp_buf *jb = guard_jmp;
    if (jb) {
        guard_jmp = NULL;
        siglongjmp(*jb, 1);
    }
    struct sigaction *prev = previous_for(sig);
    if (prev->sa_flags & SA_SIGINFO) {
        prev->sa_sigaction(sig, info, uc);
    } else if (prev->sa_handler == SIG_DFL || prev->sa_handler == SIG_IGN) {
        /* Let the fault happen again with the previous disposition: the
         * process dies (and dumps core) exactly as it would have without us. */
        sigaction(sig, prev, NULL);
    } else {
        prev->sa_handler(sig);
    }
}

static int still_ours(int sig);

/* Installs the handlers, or re-installs them over whoever replaced them since
 * (faulthandler.enable() after an earlier session), chaining to that one. */
int pp_fault_guard_install(void)
{
    pthread_mutex_lock(&install_lock);
    int rc = 0;
    if (!installed || !still_ours(SIGSEGV) || !still_ours(SIGBUS)) {
        struct sigaction sa, prev_segv, prev_bus;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_fault;
        sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGSEGV, &sa, &prev_segv) != 0 || sigaction(SIGBUS, &sa, &prev_bus) != 0) {
            rc = -1;
        } else {
            /* Keep the old previous handler when ours was still in place. */
            if (!((prev_segv.sa_flags & SA_SIGINFO) && prev_segv.sa_sigaction == on_fault))
                previous[0] = prev_segv;
            if (!((prev_bus.sa_flags & SA_SIGINFO) && prev_bus.sa_sigaction == on_fault))
                previous[1] = prev_bus;
            installed = handler_current = 1;
        }
    }
    pthread_mutex_unlock(&install_lock);
    return rc;
}

static int still_ours(int sig)
{
    struct sigaction cur;
    if (sigaction(sig, NULL, &cur) != 0)
        return 0;
    return (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_fault;
}

int pp_fault_guard_verify(void)
{
    handler_current = installed && still_ours(SIGSEGV) && still_ours(SIGBUS);
    return handler_current ? 0 : -1;
}

int pp_fault_guard_enter(sigjmp_buf *jb)
{
    /* Someone may have replaced our handler (faulthandler.enable() after
     * start): a fault would not come back to us, so refuse to guard and let
     * the caller skip the risky reads. */
    if (!handler_current)
        return -1;
    guard_jmp = jb;
    return 0;
}

void pp_fault_guard_leave(void) { guard_jmp = NULL; }

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
