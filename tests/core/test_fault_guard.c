/* The fault guard survives SIGSEGV handlers installed after it: it is put
 * back in front within a drain tick, and faults that are not its own still
 * reach the newcomer (and, through it, the handlers before) exactly as the
 * kernel would have delivered them. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "burn.h"
#include "check.h"
#include "profile_comments.h"
#include "fault_guard.h"
#include "polyprof.h"

int pp_safe_read(void *dst, const void *src, size_t len);

static sigjmp_buf recover;
static volatile sig_atomic_t original_seen, newcomer_seen, chains_seen, reraises_seen, newcomer_disabled;
static volatile sig_atomic_t newcomer_masked_ok, newcomer_same_uc;
static void *volatile expected_addr;
static struct sigaction newcomer_previous, chains_previous, reraises_previous;

/* The program's own handler, there before the profiler: recovers by
 * jumping back to the test. */
static void original_handler(int sig, siginfo_t *info, void *uc)
{
    (void)sig;
    (void)uc;
    if (info->si_addr == expected_addr)
        original_seen++;
    siglongjmp(recover, 1);
}

/* A crash reporter installed mid-profile: notes the fault and recovers. */
static void newcomer_recovers(int sig, siginfo_t *info, void *uc)
{
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    /* Its sa_mask (SIGUSR1) and, without SA_NODEFER, the signal itself are
     * blocked while it runs, as the kernel would have done. */
    newcomer_masked_ok = sigismember(&cur, SIGUSR1) && sigismember(&cur, sig);
    newcomer_same_uc = uc != NULL && info->si_addr == expected_addr;
    newcomer_seen++;
    siglongjmp(recover, 1);
}

/* Like most crash reporters: notes the fault, then hands it to the handler
 * it displaced (the profiler's) with the same siginfo and ucontext. */
static void newcomer_chains(int sig, siginfo_t *info, void *uc)
{
    if (newcomer_disabled)
        return; /* like faulthandler after disable(): does nothing */
    chains_seen++;
    if (chains_previous.sa_flags & SA_SIGINFO)
        chains_previous.sa_sigaction(sig, info, uc);
}

/* Like faulthandler: restores the handler it displaced and raises again. */
static void newcomer_reraises(int sig, siginfo_t *info, void *uc)
{
    (void)info;
    (void)uc;
    reraises_seen++;
    sigaction(sig, &reraises_previous, NULL);
    raise(sig);
}

static void install(int sig, void (*fn)(int, siginfo_t *, void *), int extra_flags, int mask_usr1,
                    struct sigaction *prev)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | extra_flags;
    sigemptyset(&sa.sa_mask);
    if (mask_usr1)
        sigaddset(&sa.sa_mask, SIGUSR1);
    CHECK_EQ_INT(sigaction(sig, &sa, prev), 0);
}

/* A real fault outside any guarded read; returns whether it was recovered. */
static int fault_once(void)
{
    static char *volatile bad;
    bad = (char *)(uintptr_t)16;
    expected_addr = bad;
    if (sigsetjmp(recover, 1) == 0) {
        *bad = 1;
        return 0;
    }
    return 1;
}

static int guard_works(void)
{
    char buf[8];
    return pp_safe_read(buf, (const void *)(uintptr_t)8, sizeof buf) == -1 && pp_fault_guard_enter(NULL) == 0;
}

static void __attribute__((noinline)) deep_burn(int depth, int ms)
{
    if (depth > 0)
        deep_burn(depth - 1, ms);
    else
        burn_ms(ms);
    __asm__ volatile("" ::: "memory");
}

/* The sampler end to end: a handler installed with sigaction mid-profile
 * costs at most a drain tick of stacks, and the metadata says it happened. */
static void sampler_keeps_its_guard(void)
{
    char err[256];
    pp_options o;
    pp_options_default(&o);
    CHECK_EQ_INT(pp_options_parse(&o, "interval=5ms", err, sizeof err), 0);
    pp_collector *c = pp_collector_start(&o, NULL, NULL, err, sizeof err);
    CHECK(c != NULL);
    deep_burn(20, 300);
    struct sigaction mine;
    install(SIGSEGV, newcomer_recovers, 0, 0, &mine);
    deep_burn(20, 700);
    pp_profile *p = pp_collector_stop(c);
    double taken = comment_value(p, "samples_taken"), unguarded = comment_value(p, "unguarded_samples");
    CHECK(taken > 50);
    CHECK(comment_value(p, "fault_guard_reinstalled") >= 1);
    CHECK(unguarded >= 0 && unguarded <= 0.05 * taken);
    CHECK(comment_value(p, "fault_guard_lost") < 0);
    /* Stacks, not lone pcs: most samples are deeper than the recursion. */
    size_t deep = 0, all = pp_profile_num_samples(p);
    int64_t deep_n = 0, all_n = 0;
    for (size_t i = 0; i < all; i++) {
        all_n += pp_profile_value(p, i, 0);
        if (pp_profile_sample_depth(p, i) > 20) {
            deep++;
            deep_n += pp_profile_value(p, i, 0);
        }
    }
    CHECK(deep > 0 && deep_n > 0.9 * all_n);
    pp_profile_free(p);
    /* And the handler installed mid-profile still gets faults not ours. */
    newcomer_seen = 0;
    CHECK(fault_once());
    CHECK_EQ_INT(newcomer_seen, 1);
}

int main(void)
{
    struct sigaction before;
    install(SIGSEGV, original_handler, SA_NODEFER, 0, &before);

    CHECK_EQ_INT(pp_fault_guard_install(), 0);
    CHECK(guard_works());
    /* Not ours: the program's own handler, as before the profiler. */
    CHECK(fault_once());
    CHECK_EQ_INT(original_seen, 1);

    /* A newcomer with its own mask displaces the guard; within one keep
     * (a drain tick) the guard is in front again. */
    install(SIGSEGV, newcomer_recovers, 0, 1, &newcomer_previous);
    CHECK(pp_fault_guard_enter(NULL) == 0); /* not noticed yet */
    pp_fault_guard_leave();
    CHECK_EQ_INT(pp_fault_guard_keep(), 0);
    CHECK(guard_works());
    pp_fault_guard_info gi;
    pp_fault_guard_stats(&gi);
    CHECK_EQ_INT(gi.reinstalls, 1);
    CHECK_EQ_INT(gi.lost, 0);
    /* A fault not ours reaches the newcomer with its mask, the same siginfo
     * and a ucontext; the program recovers. */
    CHECK(fault_once());
    CHECK_EQ_INT(newcomer_seen, 1);
    CHECK(newcomer_masked_ok);
    CHECK(newcomer_same_uc);
    CHECK_EQ_INT(original_seen, 1);
    CHECK(guard_works());

    /* A newcomer that hands faults to "its previous" (the guard) reaches the
     * one it displaced in a world without the guard (the crash reporter
     * above), not itself again; twice, so a jump out of a nested chain
     * leaves nothing behind. */
    install(SIGSEGV, newcomer_chains, 0, 0, &chains_previous);
    CHECK_EQ_INT(pp_fault_guard_keep(), 0);
    newcomer_seen = 0;
    CHECK(fault_once());
    CHECK(fault_once());
    CHECK_EQ_INT(chains_seen, 2);
    CHECK_EQ_INT(newcomer_seen, 2);

    /* That newcomer disables itself while the guard stays in front
     * (faulthandler.disable()): the fault does not loop forever in it but
     * goes on to the handler before. */
    newcomer_disabled = 1;
    chains_seen = newcomer_seen = 0;
    CHECK(fault_once());
    CHECK_EQ_INT(newcomer_seen, 1);
    CHECK_EQ_INT(chains_seen, 0);
    newcomer_disabled = 0;

    /* A newcomer that restores ours and raises again (faulthandler's way):
     * the raised signal goes on down the chain. */
    install(SIGSEGV, newcomer_reraises, SA_NODEFER, 0, &reraises_previous);
    CHECK_EQ_INT(pp_fault_guard_keep(), 0);
    chains_seen = newcomer_seen = 0;
    CHECK(fault_once());
    CHECK_EQ_INT(reraises_seen, 1);
    CHECK_EQ_INT(chains_seen, 1);
    CHECK_EQ_INT(newcomer_seen, 1);
    CHECK_EQ_INT(original_seen, 1);
    CHECK(guard_works());
    pp_fault_guard_stats(&gi);
    CHECK_EQ_INT(gi.reinstalls, 3);

    sampler_keeps_its_guard();

    if (pp_test_failures)
        fprintf(stderr, "%d check(s) failed\n", pp_test_failures);
    return pp_test_failures ? 1 : 0;
}
