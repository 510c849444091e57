#define UNW_LOCAL_ONLY
#include "unwind.h"

#include <libunwind.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <ucontext.h>

#include "raw_sample.h"

static pp_addr_range libc_range, loader_range;
/* Where a whole stack ends: the process's and threads' entry functions. The
 * fast trace stops silently when a step fails, so a trace counts as complete
 * only when it reached one of these. */
#define MAX_ROOTS 8
static pp_addr_range roots[MAX_ROOTS];
static int n_roots;
static __thread int thread_warm __attribute__((tls_model("initial-exec")));
/* The fast trace keeps its cache in libunwind's dynamic TLS, whose first
 * touch in a thread can malloc: only threads that ran it once outside a
 * signal handler (pp_unwind_warm_thread) use it. */
static __thread int trace_warm __attribute__((tls_model("initial-exec")));
/* Set between fork's prepare and parent/child handlers: fork holds every
 * malloc arena lock, so nothing that might allocate may run then. */
static volatile sig_atomic_t forking;

static void fork_prepare(void) { forking = 1; }
static void fork_done(void) { forking = 0; }

static int in_range(const pp_addr_range *r, uintptr_t pc) { return pc >= r->start && pc < r->end; }

/* Written before sampling starts (start_session), read by the handler. */
static pp_addr_range stop_ranges[PP_MAX_RANGES];
static size_t n_stop_ranges;

void pp_unwind_set_stop_ranges(const pp_addr_range *r, size_t n)
{
    n_stop_ranges = 0;
    for (size_t i = 0; r && i < n && i < PP_MAX_RANGES; i++)
        stop_ranges[n_stop_ranges++] = r[i];
}

static int at_stop(uintptr_t pc)
{
    for (size_t i = 0; i < n_stop_ranges; i++)
        if (in_range(&stop_ranges[i], pc))
            return 1;
    return 0;
}

void pp_unwind_warm_thread(void)
{
    if (trace_warm)
        return;
    void *trace[8];
    unw_backtrace(trace, 8);
    trace_warm = 1;
    /* This thread has unwound outside a handler: its first sample need not
     * wait until it runs outside libc (a thread that always sleeps in libc,
     * sampled in wall mode, would otherwise never be unwound). */
    thread_warm = 1;
}

int pp_unwind_init(void)
{
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    /* Warm the calling thread (the one that starts the profiler). */
    unw_context_t ctx;
    unw_cursor_t cursor;
    if (unw_getcontext(&ctx) == 0 && unw_init_local(&cursor, &ctx) == 0)
        while (unw_step(&cursor) > 0)
            ;
    thread_warm = 1;
    pp_unwind_warm_thread();
    static int atfork_done;
    if (!atfork_done) {
        pthread_atfork(fork_prepare, fork_done, fork_done);
        atfork_done = 1;
    }
    pp_symbols_object_range((uintptr_t)&abort, &libc_range);
    static const char *const root_names[] = {"_start", "__libc_start_call_main", "__libc_start_main", "start_thread",
                                             "clone3", "clone"};
    n_roots = 0;
    for (size_t i = 0; i < sizeof root_names / sizeof root_names[0] && n_roots < MAX_ROOTS; i++)
        n_roots += pp_symbols_function_ranges(root_names[i], 0, roots + n_roots, MAX_ROOTS - n_roots);
    /* AT_BASE is where the kernel mapped the dynamic loader. */
    uintptr_t rtld_base = (uintptr_t)getauxval(AT_BASE);
    if (!rtld_base || pp_symbols_object_range(rtld_base, &loader_range) != 0)
        loader_range.start = loader_range.end = 0;
    return 0;
}

int pp_unwind_native(void *ucontext, uintptr_t *out, int max, uint32_t *flags)
{
    ucontext_t *uc = ucontext;
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    if (max <= 0)
        return 0;
    out[0] = pc;
    if (forking || in_range(&loader_range, pc) || (!thread_warm && in_range(&libc_range, pc))) {
        *flags |= PP_SAMPLE_NATIVE_SKIPPED;
        return 1;
    }
    thread_warm = 1;
    /* Interrupted in the runtime's generated code: nothing to unwind that
     * the runtime does not name itself. Neither complete nor failed. */
    if (at_stop(pc))
        return 1;

    /* Fast path: unw_backtrace keeps a per-thread cache of frame layouts
     * keyed by pc, so a warm stack is walked without the rt_sigprocmask
     * pair libunwind wraps around every dl_iterate_phdr of the slow path.
     * It starts here, inside the handler; the interrupted frames begin at
     * the pc the signal stopped. */
    /* The trace is written into out itself (it has PP_RAW_NATIVE_SLACK
     * entries of room past max for the handler's own frames), then moved
     * down: no stack buffer as deep as the deepest stack. */
    void **trace = (void **)out;
    int cap = max + PP_RAW_NATIVE_SLACK;
    /* With stop ranges the slow path is used: it can stop at the first
     * generated-code frame, the fast trace cannot. */
    int depth = trace_warm && !n_stop_ranges ? unw_backtrace(trace, cap) : 0;
    for (int i = 0; i < depth && i < PP_RAW_NATIVE_SLACK; i++) {
        if ((uintptr_t)trace[i] != pc)
            continue;
        int n = depth - i < max ? depth - i : max;
        uintptr_t last = (uintptr_t)trace[depth - 1] - 1;
        int cut = depth == cap || depth - i > max;
        memmove(out, trace + i, (size_t)n * sizeof *out);
        if (cut) {
            *flags |= PP_SAMPLE_NATIVE_TRUNCATED;
        } else {
            int reached_root = 0;
            for (int r = 0; r < n_roots; r++)
                reached_root |= in_range(&roots[r], last);
            /* A stripped libc hides start_thread and clone3 from the symbol
             * tables: a trace that ends in libc, past other frames, ended
             * where its CFI marks the thread's outermost frame. */
            reached_root |= depth - i > 2 && in_range(&libc_range, last);
            *flags |= reached_root ? PP_SAMPLE_NATIVE_COMPLETE : PP_SAMPLE_NATIVE_FAILED;
        }
        return n;
    }
    out[0] = pc; /* the trace may have written over it */

    unw_cursor_t cursor;
    /* On x86-64 unw_context_t is ucontext_t; SIGNAL_FRAME says the first pc is
     * exact rather than a return address. */
    if (unw_init_local2(&cursor, (unw_context_t *)uc, UNW_INIT_SIGNAL_FRAME) != 0) {
        *flags |= PP_SAMPLE_NATIVE_FAILED;
        return 1;
    }
    int n = 1;
    for (;;) {
        int step = unw_step(&cursor);
        if (step == 0) {
            *flags |= PP_SAMPLE_NATIVE_COMPLETE;
            break;
        }
        if (step < 0) {
            *flags |= PP_SAMPLE_NATIVE_FAILED;
            break;
        }
        if (n == max) {
            *flags |= PP_SAMPLE_NATIVE_TRUNCATED;
            break;
        }
        unw_word_t ip;
        if (unw_get_reg(&cursor, UNW_REG_IP, &ip) != 0 || ip == 0) {
            *flags |= PP_SAMPLE_NATIVE_COMPLETE;
            break;
        }
        out[n++] = (uintptr_t)ip;
        if (n_stop_ranges && at_stop((uintptr_t)ip - 1))
            break; /* the runtime's frames from here on */
    }
    return n;
}
