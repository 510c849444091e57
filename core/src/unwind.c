#define UNW_LOCAL_ONLY
#include "unwind.h"

#include <libunwind.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <ucontext.h>

#include "raw_sample.h"

static pp_addr_range libc_range, loader_range;
static __thread int thread_warm __attribute__((tls_model("initial-exec")));

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
    pp_symbols_object_range((uintptr_t)&abort, &libc_range);
    /* AT_BASE is where the kernel mapped the dynamic loader. */
    uintptr_t rtld_base = (uintptr_t)getauxval(AT_BASE);
    if (!rtld_base || pp_symbols_object_range(rtld_base, &loader_range) != 0)
        loader_range.start = loader_range.end = 0;
    return 0;
}

static int in_range(const pp_addr_range *r, uintptr_t pc) { return pc >= r->start && pc < r->end; }

int pp_unwind_native(void *ucontext, uintptr_t *out, int max, uint32_t *flags)
{
    ucontext_t *uc = ucontext;
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    if (max <= 0)
        return 0;
    out[0] = pc;
    if (in_range(&loader_range, pc) || (!thread_warm && in_range(&libc_range, pc))) {
        *flags |= PP_SAMPLE_NATIVE_SKIPPED;
        return 1;
    }
    thread_warm = 1;

    /* Fast path: unw_backtrace keeps a per-thread cache of frame layouts
     * keyed by pc, so a warm stack is walked without the rt_sigprocmask
     * pair libunwind wraps around every dl_iterate_phdr of the slow path.
     * It starts here, inside the handler; the interrupted frames begin at
     * the pc the signal stopped. */
    void *trace[PP_RAW_MAX_NATIVE + 16];
    int depth = unw_backtrace(trace, (int)(sizeof trace / sizeof trace[0]));
    for (int i = 0; i < depth && i < 16; i++) {
        if ((uintptr_t)trace[i] != pc)
            continue;
        int n = 0;
        for (int j = i; j < depth && n < max; j++)
            out[n++] = (uintptr_t)trace[j];
        if (depth == (int)(sizeof trace / sizeof trace[0]) || depth - i > max)
            *flags |= PP_SAMPLE_NATIVE_TRUNCATED;
        else
            *flags |= PP_SAMPLE_NATIVE_COMPLETE;
        return n;
    }

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
    }
    return n;
}
