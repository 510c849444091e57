/* The calling thread's kernel thread id, cached per thread: the signal
 * handler stamps every sample with it, and gettid is a system call (0.6 µs
 * on a VM), while a thread's id never changes in its life. A fork's child
 * has a new id in its only thread, which inherits the parent thread's cache:
 * the atfork child handler forgets it. */
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "polyprof.h"
#include "signal_path.h"

/* initial-exec: read from signal handlers, where dynamic TLS's lazy
 * allocation (malloc in __tls_get_addr) is not allowed. 0: not known yet
 * (no thread has id 0). */
static __thread pid_t cached_tid __attribute__((tls_model("initial-exec")));

static void forget_in_child(void) { cached_tid = 0; }

/* At load, before any thread can have cached its id, so no fork can copy a
 * cached id that the handler does not reset. */
__attribute__((constructor)) static void register_fork_handler(void)
{
    pthread_atfork(NULL, NULL, forget_in_child);
}

/* Async-signal-safe: a TLS read, and on a thread's first call one gettid. A
 * signal that interrupts the first call between the system call and the
 * store makes its own system call and stores the same value. */
PP_SIGNAL_PATH int pp_thread_id(void)
{
    pid_t tid = cached_tid;
    if (tid == 0) {
        tid = (pid_t)syscall(SYS_gettid);
        cached_tid = tid;
    }
    return (int)tid;
}
