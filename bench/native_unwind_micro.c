/* The native unwind's own cost, as the signal handler pays it: a stack of
 * ~64 native frames (functions with and without frame pointers, alloca
 * frames), a SIGPROF sent to the thread at its leaf SAMPLES times, and in
 * the handler pp_unwind_native timed with CLOCK_MONOTONIC. The first sample
 * is the fresh-process case (nothing cached), the median of the others the
 * steady state. Built against a tree's core by bench/native_unwind_micro.sh,
 * which also counts the rt_sigprocmask calls (strace).
 *
 *   native_unwind_micro [SAMPLES]     prints one JSON line */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "fault_guard.h"
#include "raw_sample.h"
#include "unwind.h"

/* Weak: a tree from before the unwind tables has no such function. */
int pp_cfi_table_refresh(void) __attribute__((weak));

#define MAX_SAMPLES 100000
#define DEPTH 60

static uint64_t took_ns[MAX_SAMPLES];
static int frames[MAX_SAMPLES];
static uint32_t flags_seen;
static volatile int taken;
static uintptr_t out[128 + PP_RAW_NATIVE_SLACK];

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_prof(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)si;
    sigjmp_buf jb;
    uint32_t flags = 0;
    int n = 0;
    uint64_t t0 = now_ns();
    if (pp_fault_guard_enter(&jb) == 0 && sigsetjmp(jb, 0) == 0)
        n = pp_unwind_native(uc, out, 128, &flags);
    pp_fault_guard_leave();
    took_ns[taken] = now_ns() - t0;
    frames[taken] = n;
    flags_seen |= flags;
    taken++;
}

static volatile int sink;
static int samples;
__attribute__((noinline)) static int with_fp(int n);

static void sample_here(void)
{
    pid_t tid = (pid_t)syscall(SYS_gettid);
    while (taken < samples)
        syscall(SYS_tgkill, getpid(), tid, SIGPROF); /* not raise(): it masks signals around the kill */
}

__attribute__((noinline, optimize("omit-frame-pointer"))) static int without_fp(int n)
{
    volatile char pad[40];
    pad[n % 40] = (char)n;
    if (n <= 0) {
        sample_here();
        return pad[0];
    }
    return with_fp(n - 1) + pad[n % 40];
}

__attribute__((noinline, optimize("no-omit-frame-pointer"))) static int with_fp(int n)
{
    volatile char *pad = __builtin_alloca(16 + (n & 7) * 8);
    pad[0] = (char)n;
    if (n <= 0) {
        sample_here();
        return pad[0];
    }
    return without_fp(n - 1) + pad[0];
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    samples = argc > 1 ? atoi(argv[1]) : 2000;
    if (samples < 2 || samples > MAX_SAMPLES)
        samples = 2000;
    if (pp_fault_guard_install() != 0)
        return 1;
    uint64_t t0 = now_ns();
    pp_unwind_init();
    if (pp_cfi_table_refresh) /* what the sampler's first tick starts, where the tree has it */
        pp_cfi_table_refresh();
    uint64_t init_ns = now_ns() - t0;
    struct sigaction sa = {0};
    sa.sa_sigaction = on_prof;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGPROF, &sa, NULL);
    sink = with_fp(DEPTH);
    uint64_t first = took_ns[0];
    qsort(took_ns + 1, (size_t)samples - 1, sizeof took_ns[0], cmp_u64);
    printf("{\"init_us\": %.1f, \"first_us\": %.2f, \"steady_median_us\": %.3f, \"steady_p90_us\": %.3f, "
           "\"frames\": %d, \"complete\": %d, \"samples\": %d}\n",
           init_ns / 1e3, first / 1e3, took_ns[1 + (samples - 1) / 2] / 1e3, took_ns[1 + (samples - 1) * 9 / 10] / 1e3,
           frames[samples - 1], !!(flags_seen & 32), samples);
    return 0;
}
