/* The heap tracker's quick reject, inlined into allocator hooks: whether a
 * block being freed may be a tracked (sampled, live) one. Almost every free
 * is of an untracked block, and this answers those with one multiply and
 * one byte load, without a lock. */
#ifndef PP_HEAP_TRACKER_H
#define PP_HEAP_TRACKER_H

#include <stdint.h>

#include "polyprof.h"

/* A counting filter over the addresses of the tracked blocks: one byte per
 * slot (2^16 slots, 64 KiB), incremented on track and decremented on untrack
 * under the tracker's lock, read without it. A slot that ever reaches 255
 * stays there (a false positive costs a locked lookup, never a miss). It is
 * the first member of pp_heap. */
#define PP_HEAP_FILTER_BITS 16

static inline uint32_t pp_heap_filter_slot(uintptr_t addr)
{
    return (uint32_t)(((uint64_t)addr * 0x9E3779B97F4A7C15ULL) >> (64 - PP_HEAP_FILTER_BITS));
}

/* Any thread, no lock: 0 means addr is certainly not tracked. A block's
 * track happens before its free on the freeing thread (whatever handed the
 * pointer over ordered them), so a tracked block is never missed. */
static inline int pp_heap_maybe_tracked(const pp_heap *h, uintptr_t addr)
{
    const uint8_t *filter = (const uint8_t *)h;
    return __atomic_load_n(&filter[pp_heap_filter_slot(addr)], __ATOMIC_RELAXED) != 0;
}

#endif
