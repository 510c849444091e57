/* Bounded lock-free multi-producer single-consumer queue of raw samples
 * (Vyukov's bounded queue). Producers are signal handlers on any thread: the
 * reserve/commit pair is async-signal-safe (atomics only, never waits); a full
 * ring makes reserve fail, which the caller counts as a dropped sample. */
#ifndef PP_RING_H
#define PP_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "raw_sample.h"

typedef struct pp_ring_slot {
    _Atomic uint64_t seq;
    pp_raw_sample sample;
} pp_ring_slot;

typedef struct pp_ring {
    uint64_t mask;
    _Atomic uint64_t head; /* next position producers claim */
    uint64_t tail;         /* next position the consumer reads; consumer-owned */
    pp_ring_slot *slots;
} pp_ring;

/* slots is rounded up to a power of two. Not signal-safe (allocates). */
pp_ring *pp_ring_new(uint32_t slots);
void pp_ring_free(pp_ring *r);

/* Signal-safe. Returns the slot to fill, or NULL when full. The position is
 * written to *pos for the commit. */
pp_raw_sample *pp_ring_reserve(pp_ring *r, uint64_t *pos);
void pp_ring_commit(pp_ring *r, uint64_t pos);

/* Consumer side (one thread at a time): the next committed sample or NULL. */
const pp_raw_sample *pp_ring_peek(pp_ring *r);
void pp_ring_release(pp_ring *r);

#endif
