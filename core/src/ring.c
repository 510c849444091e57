#include "ring.h"

#include <stdlib.h>
#include <sys/mman.h>

pp_ring *pp_ring_new(uint32_t slots)
{
    uint64_t n = 8;
    while (n < slots)
        n <<= 1;
    pp_ring *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    /* mmap rather than malloc: the slots are large and touched from signal
     * handlers, so keep them out of the heap allocator's way. */
    void *mem = mmap(NULL, n * sizeof(pp_ring_slot), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        free(r);
        return NULL;
    }
    r->slots = mem;
    r->mask = n - 1;
    for (uint64_t i = 0; i < n; i++)
        atomic_store_explicit(&r->slots[i].seq, i, memory_order_relaxed);
    atomic_store(&r->head, 0);
    r->tail = 0;
    return r;
}

void pp_ring_free(pp_ring *r)
{
    if (!r)
        return;
    munmap(r->slots, (r->mask + 1) * sizeof(pp_ring_slot));
    free(r);
}

pp_raw_sample *pp_ring_reserve(pp_ring *r, uint64_t *pos_out)
{
    uint64_t pos = atomic_load_explicit(&r->head, memory_order_relaxed);
    for (;;) {
        pp_ring_slot *slot = &r->slots[pos & r->mask];
        uint64_t seq = atomic_load_explicit(&slot->seq, memory_order_acquire);
        int64_t diff = (int64_t)(seq - pos);
        if (diff == 0) {
            if (atomic_compare_exchange_weak_explicit(&r->head, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed)) {
                *pos_out = pos;
                return &slot->sample;
            }
        } else if (diff < 0) {
            return NULL; /* full: the consumer has not released this slot yet */
        } else {
            pos = atomic_load_explicit(&r->head, memory_order_relaxed);
        }
    }
}

void pp_ring_commit(pp_ring *r, uint64_t pos)
{
    atomic_store_explicit(&r->slots[pos & r->mask].seq, pos + 1, memory_order_release);
}

const pp_raw_sample *pp_ring_peek(pp_ring *r)
{
    pp_ring_slot *slot = &r->slots[r->tail & r->mask];
    uint64_t seq = atomic_load_explicit(&slot->seq, memory_order_acquire);
    return seq == r->tail + 1 ? &slot->sample : NULL;
}

void pp_ring_release(pp_ring *r)
{
    pp_ring_slot *slot = &r->slots[r->tail & r->mask];
    atomic_store_explicit(&slot->seq, r->tail + r->mask + 1, memory_order_release);
    r->tail++;
}
