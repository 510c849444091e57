#define UNW_LOCAL_ONLY
#include "unwind.h"

#include <libunwind.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <ucontext.h>

#include "cfi_table.h"
#include "raw_sample.h"
#include "signal_path.h"
#include "symbols.h"

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

PP_SIGNAL_PATH static int in_range(const pp_addr_range *r, uintptr_t pc) { return pc >= r->start && pc < r->end; }

/* Written before sampling starts (start_session), read by the handler. */
static pp_addr_range stop_ranges[PP_MAX_RANGES];
static size_t n_stop_ranges;

void pp_unwind_set_stop_ranges(const pp_addr_range *r, size_t n)
{
    n_stop_ranges = 0;
    for (size_t i = 0; r && i < n && i < PP_MAX_RANGES; i++)
        stop_ranges[n_stop_ranges++] = r[i];
}

PP_SIGNAL_PATH static int at_stop(uintptr_t pc)
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
    /* Between sessions no handler unwinds (stop waits for those in flight),
     * so tables replaced during the last session can go now. The loaded
     * objects are listed here, each with a placeholder rule that hands its
     * frames to libunwind; an object's table is built in the background
     * (pp_unwind_maintain) once a sample needs it (pp_unwind_note_miss): a
     * large binary's takes tens of milliseconds (node: 76k FDEs), which
     * start() should not wait for, nor a process pay when no sample lands
     * there. */
    pp_cfi_table_collect_garbage();
    pp_cfi_table_list();
    pp_symbols_object_range((uintptr_t)&abort, &libc_range);
    /* The roots are the executable's entry point (_start) and the C
     * library's process and thread start functions, so only libc's object
     * (libpthread's too before glibc 2.34) is searched by name: reading the
     * names of every object costs milliseconds in a large executable (node:
     * 110k functions) that holds none of them. In a static executable libc's
     * object is the executable. */
    static const char *const libc_roots[] = {"__libc_start_call_main", "__libc_start_main", "start_thread", "clone3",
                                             "clone"};
    n_roots = 0;
    uintptr_t entry = (uintptr_t)getauxval(AT_ENTRY);
    if (entry && pp_symbols_function_at(entry, &roots[0]) == 0)
        n_roots = 1;
    pp_addr_range pthread_range = {0, 0};
    pp_symbols_object_range((uintptr_t)&pthread_create, &pthread_range);
    const uintptr_t holders[] = {(uintptr_t)&abort,
                                 pthread_range.start != libc_range.start ? (uintptr_t)&pthread_create : 0};
    for (size_t h = 0; h < sizeof holders / sizeof holders[0]; h++)
        for (size_t i = 0; holders[h] && i < sizeof libc_roots / sizeof libc_roots[0] && n_roots < MAX_ROOTS; i++)
            n_roots +=
                pp_symbols_function_ranges_in(holders[h], libc_roots[i], 0, roots + n_roots, MAX_ROOTS - n_roots);
    /* AT_BASE is where the kernel mapped the dynamic loader. */
    uintptr_t rtld_base = (uintptr_t)getauxval(AT_BASE);
    if (!rtld_base || pp_symbols_object_range(rtld_base, &loader_range) != 0)
        loader_range.start = loader_range.end = 0;
    return 0;
}

static _Atomic uint64_t table_misses;
static int step_libunwind(unw_cursor_t *cursor, uintptr_t *out, int n, int max, uint32_t *flags);
static int unwind_with_libunwind(ucontext_t *uc, uintptr_t *out, int max, uint32_t *flags);

uint64_t pp_unwind_table_misses(void) { return atomic_load_explicit(&table_misses, memory_order_relaxed); }

void pp_unwind_maintain(void) { pp_cfi_table_refresh_if_missed(); }

void pp_unwind_note_miss(const uintptr_t *frames, size_t n) { pp_cfi_table_want(frames, n); }

PP_SIGNAL_PATH static int in_root(uintptr_t pc)
{
    for (int r = 0; r < n_roots; r++)
        if (in_range(&roots[r], pc))
            return 1;
    return 0;
}

/* Where the table walk stopped when it needs libunwind: the frame's pc
 * (out[n - 1]) and the registers the table recovered for it. */
typedef struct walk_point {
    uintptr_t pc, sp, bp;
} walk_point;

#define WALK_DONE 0
#define WALK_FALLBACK 1
/* A frame larger than this (alloca of 256 MiB) is taken for a corrupt
 * stack rather than unwound through. */
#define MAX_FRAME_BYTES (256u << 20)

/* Async-signal-safe: reads the stack only (inside the caller's fault guard),
 * the published CFI tables (lock-free), writes out and *flags. Frame 0's pc
 * is exact; every later pc is a return address, looked up at pc - 1 (the
 * call, which may be a function's last instruction). Each step must move
 * the stack pointer up, so the walk ends within max steps or on the first
 * frame that does not. */
PP_SIGNAL_PATH static int walk_table(const ucontext_t *uc, uintptr_t *out, uintptr_t *fp_out, uintptr_t *stop_sp,
                                     int max, int *n_out, uint32_t *flags, walk_point *at)
{
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    uintptr_t bp = (uintptr_t)uc->uc_mcontext.gregs[REG_RBP];
    int n = 1;
    if (fp_out)
        fp_out[0] = bp;
    for (;;) {
        *n_out = n;
        uintptr_t lookup = n == 1 ? pc : pc - 1;
        pp_cfi_rule rule;
        int found = pp_cfi_table_lookup(lookup, &rule);
        if (found == PP_CFI_NO_OBJECT) {
            /* Code without CFI: a JIT's, or code linked in without it (V8's
             * embedded builtins in node's own text); V8 keeps frame pointers
             * in both. Step by the frame pointer, as libunwind does for code
             * it has no CFI for (in frame 0 too, where a function not past
             * its prologue loses its caller, with libunwind as here). */
            if (bp < sp || bp - sp > MAX_FRAME_BYTES || (bp & 7))
                goto fallback;
            rule.kind = PP_CFI_CFA_RBP;
            rule.cfa_offset = 16;
            rule.rbp_offset = -16;
        } else if (rule.kind == PP_CFI_FALLBACK) {
            goto fallback;
        } else if (found == PP_CFI_FROM_FDE) {
            *flags |= PP_SAMPLE_NATIVE_TABLE_MISS; /* the drain has the object's table built */
        }
        if (rule.kind == PP_CFI_OUTERMOST) {
            *flags |= PP_SAMPLE_NATIVE_COMPLETE;
            return WALK_DONE;
        }
        uintptr_t cfa = (rule.kind == PP_CFI_CFA_RBP ? bp : sp) + (uintptr_t)(intptr_t)rule.cfa_offset;
        if (rule.kind == PP_CFI_PLT) {
            cfa += (lookup & 15) >= (uintptr_t)rule.rbp_offset ? 8 : 0;
            rule.rbp_offset = PP_CFI_RBP_UNCHANGED;
        }
        if (cfa < sp + 8 || cfa - sp > MAX_FRAME_BYTES || (cfa & 7))
            goto fallback;
        uintptr_t ra = *(const uintptr_t *)(cfa - 8);
        if (rule.rbp_offset != PP_CFI_RBP_UNCHANGED)
            bp = *(const uintptr_t *)(cfa + (uintptr_t)(intptr_t)rule.rbp_offset);
        sp = cfa;
        pc = ra;
        if (ra == 0) {
            *flags |= PP_SAMPLE_NATIVE_COMPLETE;
            return WALK_DONE;
        }
        if (n == max) {
            *flags |= PP_SAMPLE_NATIVE_TRUNCATED;
            return WALK_DONE;
        }
        out[n++] = ra;
        if (fp_out)
            fp_out[n - 1] = bp;
        *n_out = n;
        if (n_stop_ranges && at_stop(ra - 1)) {
            if (stop_sp)
                *stop_sp = sp;
            return WALK_DONE; /* the runtime's frames from here on */
        }
    }
fallback:
    /* The thread's entry function ends the stack wherever its caller's rule
     * leads (a stripped libc's start_thread has no outermost marker). */
    if (n > 1 && in_root(pc - 1)) {
        *flags |= PP_SAMPLE_NATIVE_COMPLETE;
        return WALK_DONE;
    }
    at->pc = pc;
    at->sp = sp;
    at->bp = bp;
    return WALK_FALLBACK;
}

/* Async-signal-safe as pp_unwind_native: libunwind's slow path from a frame
 * the table walk reached, with the registers it recovered (the others keep
 * the interrupted frame's values: no CFA rule of a frame the table could
 * not express uses them in practice, and a wrong value only ends the walk
 * early). Appends to out from n. */
static int continue_with_libunwind(const ucontext_t *uc, const walk_point *at, uintptr_t *out, int n, int max,
                                   uint32_t *flags)
{
    ucontext_t from = *uc;
    from.uc_mcontext.gregs[REG_RIP] = (greg_t)at->pc;
    from.uc_mcontext.gregs[REG_RSP] = (greg_t)at->sp;
    from.uc_mcontext.gregs[REG_RBP] = (greg_t)at->bp;
    unw_cursor_t cursor;
    /* Flag 0: the pc is a return address, looked up at pc - 1. */
    if (unw_init_local2(&cursor, (unw_context_t *)&from, 0) != 0) {
        *flags |= PP_SAMPLE_NATIVE_FAILED;
        return n;
    }
    return step_libunwind(&cursor, out, n, max, flags);
}

PP_SIGNAL_PATH int pp_unwind_native(void *ucontext, uintptr_t *out, int max, uint32_t *flags)
{
    return pp_unwind_native_fp(ucontext, out, NULL, NULL, max, flags);
}

/* Frames [from, n) were unwound by libunwind, which keeps rbp to itself. */
PP_SIGNAL_PATH static int fp_unknown_from(uintptr_t *fp_out, int from, int n)
{
    for (int i = from; fp_out && i < n; i++)
        fp_out[i] = 0;
    return n;
}

PP_SIGNAL_PATH int pp_unwind_native_fp(void *ucontext, uintptr_t *out, uintptr_t *fp_out, uintptr_t *stop_sp, int max,
                                       uint32_t *flags)
{
    ucontext_t *uc = ucontext;
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    if (stop_sp)
        *stop_sp = 0;
    if (max <= 0)
        return 0;
    out[0] = pc;
    if (fp_out)
        fp_out[0] = (uintptr_t)uc->uc_mcontext.gregs[REG_RBP];
    /* Interrupted in the runtime's generated code: nothing to unwind that
     * the runtime does not name itself. Neither complete nor failed. */
    if (at_stop(pc)) {
        if (stop_sp)
            *stop_sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
        return 1;
    }

    /* The tables cover the frames their objects' CFI can express; the
     * walk hands the rest of the stack to libunwind, from the frame it
     * reached. The table walk neither allocates nor takes the loader's
     * lock, so it runs wherever the thread was interrupted; libunwind only
     * where it is safe (see unwind.h). */
    int n = 1;
    walk_point at;
    if (walk_table(uc, out, fp_out, stop_sp, max, &n, flags, &at) == WALK_DONE)
        return n;
    if (forking || in_range(&loader_range, pc) || (!thread_warm && in_range(&libc_range, pc))) {
        *flags = (*flags & ~PP_SAMPLE_NATIVE_TABLE_MISS) | PP_SAMPLE_NATIVE_SKIPPED;
        return 1;
    }
    thread_warm = 1;
    atomic_fetch_add_explicit(&table_misses, 1, memory_order_relaxed);
    *flags |= PP_SAMPLE_NATIVE_TABLE_MISS; /* the drain has the objects' tables built */
    if (n > 1)
        return fp_unknown_from(fp_out, n, continue_with_libunwind(uc, &at, out, n, max, flags));
    return fp_unknown_from(fp_out, 1, unwind_with_libunwind(uc, out, max, flags));
}

/* Async-signal-safe as pp_unwind_native: the whole stack through libunwind,
 * as when no table covers the interrupted pc. */
static int unwind_with_libunwind(ucontext_t *uc, uintptr_t *out, int max, uint32_t *flags)
{
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];

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
    return step_libunwind(&cursor, out, 1, max, flags);
}

static int step_libunwind(unw_cursor_t *cursor, uintptr_t *out, int n, int max, uint32_t *flags)
{
    for (;;) {
        int step = unw_step(cursor);
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
        if (unw_get_reg(cursor, UNW_REG_IP, &ip) != 0 || ip == 0) {
            *flags |= PP_SAMPLE_NATIVE_COMPLETE;
            break;
        }
        out[n++] = (uintptr_t)ip;
        if (n_stop_ranges && at_stop((uintptr_t)ip - 1))
            break; /* the runtime's frames from here on */
    }
    return n;
}
