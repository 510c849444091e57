/* The sampler builds an object's unwind table only once a sample needed it:
 * a library no sample touched gets none, the objects the samples ran in get
 * theirs, no sample needs libunwind before or after, and a library
 * dlopen'ed mid-session still gives complete stacks through it. */
#include <bzlib.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "burn.h"
#include "cfi_table.h"
#include "check.h"
#include "polyprof.h"
#include "profile_comments.h"
#include "sampling.h"

static int is_placeholder(uintptr_t pc) { return pp_cfi_table_built_at(pc) == 0; }

static int has_table(uintptr_t pc) { return pp_cfi_table_built_at(pc) == 1; }

/* Frames with and without a frame pointer, as in real programs. */
__attribute__((noinline, optimize("no-omit-frame-pointer"))) static void deep_burn(int depth, int ms);

__attribute__((noinline, optimize("omit-frame-pointer"))) static void deep_burn_no_fp(int depth, int ms)
{
    volatile char pad[24];
    pad[depth % 24] = (char)depth;
    if (depth > 0)
        deep_burn(depth - 1, ms + pad[depth % 24] - (char)depth);
    else
        burn_ms(ms);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline, optimize("no-omit-frame-pointer"))) static void deep_burn(int depth, int ms)
{
    if (depth > 0)
        deep_burn_no_fp(depth - 1, ms);
    else
        burn_ms(ms);
    __asm__ volatile("" ::: "memory");
}

/* Burns under deep stacks until the session has taken `want` samples: on a
 * loaded machine a thread's CPU timer fires once per time slice it gets, with
 * the ticks it missed as overruns, so CPU time alone says little about how
 * many samples (and table misses) a session sees. At most 5 s of CPU. */
static void deep_burn_until(uint64_t want)
{
    pp_sampler_stats st;
    pp_sampler_get_stats(&st);
    uint64_t base = st.samples;
    for (int spent = 0; spent < 5000; spent += 100) {
        deep_burn(30, 100);
        pp_sampler_get_stats(&st);
        if (st.samples - base >= want)
            break;
    }
}

static pp_collector *start(void) { return start_sampling("interval=2ms"); }

/* libbz2 calls these from BZ2_bzCompressInit: the CPU is spent under a
 * frame of a library loaded mid-session, before the drain thread has
 * listed it, then after. */
static void *alloc_burning_unlisted(void *opaque, int n, int m)
{
    (void)opaque;
    (void)n;
    (void)m;
    burn_ms(5);
    return NULL; /* the init fails at once: nothing to free */
}

static void *alloc_burning(void *opaque, int n, int m)
{
    (void)opaque;
    (void)n;
    (void)m;
    burn_ms(40);
    return NULL;
}

typedef int (*compress_init_fn)(bz_stream *, int, int, int);
typedef void *(*bz_alloc_fn)(void *, int, int);

/* noclone: an optimized build would otherwise name its specialized copy
 * through_bz2.constprop.0, not the function the checks look for. */
static void __attribute__((noinline, noclone)) through_bz2(compress_init_fn init, bz_alloc_fn alloc)
{
    bz_stream strm;
    memset(&strm, 0, sizeof strm);
    strm.bzalloc = alloc;
    init(&strm, 9, 0, 0);
    __asm__ volatile("" ::: "memory");
}

int main(void)
{
    /* Loaded before the session (the core links it), never called here. */
    void *cjson = dlopen("libcjson.so.1", RTLD_NOW | RTLD_NOLOAD);
    uintptr_t untouched = cjson ? (uintptr_t)dlsym(cjson, "cJSON_Version") : 0;
    CHECK(untouched != 0);
    CHECK(dlopen("libbz2.so.1.0", RTLD_NOW | RTLD_NOLOAD) == NULL); /* loaded mid-session below */

    /* A table at an object's first sample that read its FDEs, whatever its
     * size (the default waits longer for large ones, see test_cfi_unwind). */
    pp_cfi_table_set_want_policy((size_t)1 << 30, 1);
    pp_collector *c = start();
    deep_burn_until(150);
    pp_profile *p = pp_collector_stop(c);
    double taken = comment_value(p, "samples_taken");
    double misses = comment_value(p, "unwind_table_misses");
    fprintf(stderr, "first session: %.0f samples, %.0f table misses\n", taken, misses);
    CHECK(taken > 50);
    CHECK(comment_value(p, "unwind_failed") <= 0.05 * taken);
    /* No table is built yet, but the handler reads the rules it needs from
     * the objects' .eh_frame: libunwind finishes no stack. */
    CHECK(misses >= 0 && misses <= 0.02 * taken);
    pp_profile_free(p);
    pp_cfi_table_stats st;
    pp_cfi_table_stats_get(&st);
    fprintf(stderr, "after the first session: %llu objects, %llu with tables\n", (unsigned long long)st.objects,
            (unsigned long long)st.tables);
    /* The program's object, at its first sample; libc's too when a sample
     * met pcs there the rule cache had not seen, which a 2 ms burn loop may
     * not give. */
    CHECK(has_table((uintptr_t)&deep_burn));
    CHECK(st.tables >= 1 && st.tables < st.objects);
    CHECK(untouched && is_placeholder(untouched));

    /* The tables built, the same work walks through them. */
    c = start();
    deep_burn_until(150);
    p = pp_collector_stop(c);
    taken = comment_value(p, "samples_taken");
    misses = comment_value(p, "unwind_table_misses");
    fprintf(stderr, "second session: %.0f samples, %.0f table misses\n", taken, misses);
    CHECK(taken > 50);
    CHECK(misses >= 0 && misses <= 0.02 * taken);
    pp_profile_free(p);

    /* A library dlopen'ed mid-session: its pcs meet no object until a
     * drain tick has the objects listed again (a tick or two on an idle
     * machine, longer under load); meanwhile the walk steps through it by
     * frame pointer, as through JIT code, and may lose the frames below.
     * Once listed, stacks through it are whole (the program's frames below
     * the library's), first through its .eh_frame, then through its
     * table. */
    c = start();
    deep_burn(5, 50);
    void *bz = dlopen("libbz2.so.1.0", RTLD_NOW | RTLD_LOCAL);
    CHECK(bz != NULL);
    compress_init_fn init = bz ? (compress_init_fn)dlsym(bz, "BZ2_bzCompressInit") : NULL;
    CHECK(init != NULL);
    int waited = 0;
    for (; init && waited < 1000 && pp_cfi_table_built_at((uintptr_t)init) < 0; waited++)
        through_bz2(init, alloc_burning_unlisted);
    fprintf(stderr, "libbz2 listed after %d ms of samples through it\n", 5 * waited);
    CHECK(init && pp_cfi_table_built_at((uintptr_t)init) >= 0);
    for (int i = 0; init && i < 25; i++)
        through_bz2(init, alloc_burning);
    p = pp_collector_stop(c);
    int64_t in_hook, whole;
    value_through(p, "alloc_burning", (const char *const[]){"BZ2_bzCompressInit", "through_bz2", "main", NULL},
                  &in_hook, &whole);
    fprintf(stderr, "through libbz2, listed: %lld samples, %lld whole\n", (long long)in_hook, (long long)whole);
    CHECK(in_hook > 100);
    CHECK(whole >= 0.97 * (double)in_hook);
    pp_profile_free(p);
    uintptr_t bz_fn = (uintptr_t)init;
    /* Built in the background from a drain tick: it may still be under
     * way. */
    for (int i = 0; i < 200 && bz_fn && !has_table(bz_fn); i++) {
        pp_cfi_table_refresh_if_missed();
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
    CHECK(bz_fn && has_table(bz_fn));
    CHECK(untouched && is_placeholder(untouched));

    if (pp_test_failures)
        fprintf(stderr, "%d check(s) failed\n", pp_test_failures);
    return pp_test_failures != 0;
}
