/* The heap tracker: sampled allocations weighted into alloc estimates, live
 * blocks followed until freed (inuse values), the lock-free quick reject,
 * realloc moves, windows, and the memory cap. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "events.h"
#include "heap_tracker.h"
#include "polyprof.h"

static int resolve(void *ctx, const pp_raw_frame *f, pp_resolved_frame *out)
{
    (void)ctx;
    snprintf(out->name, sizeof out->name, "fn%u", (unsigned)f->code);
    return 0;
}

/* Native frames of allocation stacks are named through the ELF symbol
 * tables at export; the runtime's plumbing is left out. */
__attribute__((noinline)) void heap_test_caller(void) { __asm__ volatile(""); }
__attribute__((noinline)) void heap_test_plumbing(void) { __asm__ volatile(""); }

static int plumbing(void *ctx, const char *symbol)
{
    (void)ctx;
    return !strcmp(symbol, "heap_test_plumbing");
}

/* Sum of value `type` over samples whose leaf is `leaf`. */
static int64_t total(const pp_profile *p, const char *leaf, const char *type)
{
    int vi = -1;
    for (uint32_t i = 0; i < pp_profile_num_values(p); i++) {
        const char *t, *u;
        pp_profile_value_type(p, i, &t, &u);
        if (!strcmp(t, type))
            vi = (int)i;
    }
    CHECK(vi >= 0);
    int64_t sum = 0;
    for (size_t s = 0; s < pp_profile_num_samples(p); s++) {
        pp_frame_view f;
        pp_profile_sample_frame(p, s, 0, &f);
        if (!strcmp(f.name, leaf))
            sum += pp_profile_value(p, s, (uint32_t)vi);
    }
    return sum;
}

static const char *last_type(const pp_profile *p)
{
    const char *t, *u;
    pp_profile_value_type(p, pp_profile_num_values(p) - 1, &t, &u);
    return t;
}

int main(void)
{
    pp_runtime rt;
    memset(&rt, 0, sizeof rt);
    rt.resolve = resolve;
    const uint64_t interval = 1000;
    pp_heap *h = pp_heap_new(interval, 8u << 20);
    CHECK(h != NULL);
    pp_raw_frame leak[] = {{1, 0, 0, 0}}, churn[] = {{2, 0, 0, 0}};
    /* 100 blocks of 10 kB each from fn1 (kept) and fn2 (freed). */
    static uintptr_t kept[100];
    for (int i = 0; i < 100; i++) {
        kept[i] = 0x100000 + (uintptr_t)i * 0x10000;
        CHECK_EQ_INT(pp_heap_record_alloc(h, kept[i], 10000, NULL, leak, 1), 0);
        CHECK(pp_heap_maybe_tracked(h, kept[i]));
        uintptr_t tmp = 0x90000000 + (uintptr_t)i * 0x40;
        CHECK_EQ_INT(pp_heap_record_alloc(h, tmp, 10000, NULL, churn, 1), 0);
        CHECK_EQ_INT(pp_heap_record_free(h, tmp), 1);
    }
    CHECK_EQ_INT(pp_heap_record_free(h, 0x12345678), 0);
    CHECK_EQ_INT(pp_heap_live_blocks(h), 100);

    pp_profile *p = pp_heap_export(h, 1, &rt);
    CHECK(p != NULL);
    CHECK_STR(last_type(p), "inuse_space");
    /* Weighted: 10 kB at a 1 kB interval is sampled with p = 1 - e^-10, so
     * each sample stands for ~1.00005 blocks. */
    CHECK_EQ_INT(total(p, "fn1", "alloc_space"), 100 * 10000);
    CHECK_EQ_INT(total(p, "fn2", "alloc_space"), 100 * 10000);
    CHECK_EQ_INT(total(p, "fn1", "inuse_space"), 100 * 10000);
    CHECK_EQ_INT(total(p, "fn2", "inuse_space"), 0);
    CHECK_EQ_INT(total(p, "fn1", "inuse_objects"), 100);
    pp_profile_free(p);

    /* Small blocks weigh more: a 100-byte sample stands for ~10.5 blocks. */
    pp_raw_frame small[] = {{3, 0, 0, 0}};
    CHECK_EQ_INT(pp_heap_record_alloc(h, 0x7000, 100, NULL, small, 1), 0);
    /* realloc: the block keeps its stack and weight at its new address. */
    pp_heap_block b;
    CHECK_EQ_INT(pp_heap_detach(h, 0x7000, &b), 1);
    CHECK_EQ_INT(pp_heap_record_free(h, 0x7000), 0);
    pp_heap_attach(h, 0x8000, &b);
    p = pp_heap_export(h, 0, &rt);
    CHECK_STR(last_type(p), "alloc_space");
    CHECK_EQ_INT(total(p, "fn3", "alloc_objects"), 11); /* 1/(1-e^-0.1) = 10.5 */
    CHECK_EQ_INT(total(p, "fn3", "inuse_space"), 1051);
    pp_profile_free(p);
    CHECK_EQ_INT(pp_heap_record_free(h, 0x8000), 1);

    /* A new window: alloc values start at zero, live blocks carry over. */
    p = pp_heap_rotate(h, 1, &rt);
    pp_profile_free(p);
    p = pp_heap_export(h, 1, &rt);
    CHECK_EQ_INT(total(p, "fn1", "alloc_space"), 0);
    CHECK_EQ_INT(total(p, "fn1", "inuse_space"), 100 * 10000);
    CHECK_EQ_INT(total(p, "fn2", "inuse_space"), 0);
    pp_profile_free(p);
    for (int i = 0; i < 100; i++)
        CHECK_EQ_INT(pp_heap_record_free(h, kept[i]), 1);
    CHECK_EQ_INT(pp_heap_live_blocks(h), 0);
    /* A freed block's bit goes with the last tracked block hashing to it:
     * the filter is exact again once every block is gone. */
    for (int i = 0; i < 100; i++)
        CHECK(!pp_heap_maybe_tracked(h, kept[i]));
    pp_heap_free(h);

    /* A native return address inside a function names it (lookups take
     * pc - 1, the call instruction); plumbing frames are dropped. +1: an
     * optimized build leaves these functions a single byte. */
    h = pp_heap_new(interval, 8u << 20);
    rt.is_plumbing = plumbing;
    pp_raw_frame mixed[] = {{(uintptr_t)&heap_test_plumbing + 1, 0, 0, PP_RAW_NATIVE_PC},
                            {(uintptr_t)&heap_test_caller + 1, 0, 0, PP_RAW_NATIVE_PC},
                            {5, 0, 0, 0}};
    CHECK_EQ_INT(pp_heap_record_alloc(h, 0x9000, 5000, NULL, mixed, 3), 0);
    p = pp_heap_export(h, 1, &rt);
    CHECK_EQ_INT(pp_profile_num_samples(p), 1);
    CHECK_EQ_INT(pp_profile_sample_depth(p, 0), 2);
    pp_frame_view f;
    pp_profile_sample_frame(p, 0, 0, &f);
    CHECK_STR(f.name, "heap_test_caller");
    CHECK_EQ_INT(f.kind, 0);
    pp_profile_sample_frame(p, 0, 1, &f);
    CHECK_STR(f.name, "fn5");
    pp_profile_free(p);
    pp_heap_free(h);
    rt.is_plumbing = NULL;

    /* Memory cap: a tiny budget; stacks past it go to the overflow frame,
     * and the totals are kept. */
    h = pp_heap_new(interval, 1u << 20);
    pp_raw_frame deep[PP_MAX_EVENT_FRAMES];
    int64_t want = 0;
    for (uint32_t i = 0; i < 4000; i++) {
        for (uint32_t d = 0; d < 64; d++)
            deep[d] = (pp_raw_frame){i * 64 + d + 10, 0, 0, 0};
        pp_heap_record_alloc(h, 0x1000 + (uintptr_t)i * 16, 100000, NULL, deep, 64);
        want += 100000;
    }
    p = pp_heap_export(h, 1, &rt);
    int64_t sum = 0, over = 0;
    for (size_t s = 0; s < pp_profile_num_samples(p); s++) {
        pp_frame_view f;
        pp_profile_sample_frame(p, s, 0, &f);
        sum += pp_profile_value(p, s, 1);
        if (!strcmp(f.name, "[overflow: profiler memory cap reached]"))
            over += pp_profile_value(p, s, 1);
    }
    CHECK(over > 0);
    CHECK(sum >= want && sum <= want + want / 1000);
    pp_profile_free(p);
    pp_heap_free(h);
    TEST_MAIN_END();
}
