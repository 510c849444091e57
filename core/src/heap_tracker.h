/* The heap tracker's quick reject, inlined into allocator hooks: whether a
 * block being freed may be a tracked (sampled, live) one. Almost every free
 * is of an untracked block, and this answers those with one multiply and
 * one load, without a lock. */
#ifndef PP_HEAP_TRACKER_H
#define PP_HEAP_TRACKER_H

#include <stdint.h>

#include "polyprof.h"

/* A bitmap over the addresses of the tracked blocks, 2^15 bits (4 KiB, so
 * it stays in the L1 cache of a thread that frees a lot): a bit is set
 * while a tracked block hashes to it. The tracker keeps, under its lock, how
 * many tracked blocks hash to each bit and clears a bit when the last one
 * goes, so the hot addresses of an allocator's free lists do not stay false
 * positives after a sampled block there was freed. A false positive costs a
 * locked lookup, never a miss. pp_heap's first member is the bitmap. */
#define PP_HEAP_FILTER_BITS 15

static inline uint32_t pp_heap_filter_slot(uintptr_t addr)
{
    return (uint32_t)(((uint64_t)addr * 0x9E3779B97F4A7C15ULL) >> (64 - PP_HEAP_FILTER_BITS));
}

/* Any thread, no lock: 0 means addr is certainly not tracked. A block's
 * track happens before its free on the freeing thread (whatever handed the
 * pointer over ordered them), so the freeing thread sees its bit. */
static inline int pp_heap_maybe_tracked(const pp_heap *h, uintptr_t addr)
{
    const uint64_t *bits = (const uint64_t *)h;
    uint32_t slot = pp_heap_filter_slot(addr);
    return (int)((__atomic_load_n(&bits[slot >> 6], __ATOMIC_RELAXED) >> (slot & 63)) & 1);
}

#endif
