/* The raw samples between the signal handlers and the drain: a byte ring of
 * variable-length records (a sample takes as many bytes as it has frames),
 * sized in bytes, plus a few capture buffers of the session's full depth that
 * a handler fills before its sample is copied in.
 *
 * Producers are signal handlers on any thread: take/commit/give_back are
 * async-signal-safe (atomics and memcpy only, never wait). No free capture
 * buffer, or no room in the ring, makes them fail, which the caller counts as
 * a dropped sample; nothing accepted is ever overwritten. One consumer. */
#ifndef PP_RING_H
#define PP_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "raw_sample.h"

typedef struct pp_ring pp_ring;

/* bytes is rounded up to a power of two, at least 64 KiB; capture buffers
 * hold depth frames each. Not signal-safe (allocates). */
pp_ring *pp_ring_new(size_t bytes, uint32_t depth);
void pp_ring_free(pp_ring *r);
/* Makes the ring's pages resident, once per ring (later calls return at
 * once): otherwise the handlers take a page fault each time a sample first
 * reaches a page, until the ring has wrapped once (seconds to minutes at the
 * default interval). Of the capture buffers, the first page of each array
 * (stacks up to ~500 native, ~170 interpreter frames); deeper pages fault in
 * as deep as stacks go: a bounded cost, once per page. For a thread other
 * than the session's caller; safe while handlers write. Not signal-safe. */
void pp_ring_prefault(pp_ring *r);
uint32_t pp_ring_depth(const pp_ring *r);

/* Signal-safe. A capture buffer: native has room for depth +
 * PP_RAW_NATIVE_SLACK entries, interp for depth; NULL when all are in use.
 * hint (the thread id) picks the buffer tried first: the same hint gets the
 * same buffer while no one else holds it, with the arrays and counts of the
 * sample last committed from it (a thread's previous stack). */
pp_raw_sample *pp_ring_take(pp_ring *r, uint32_t hint);
/* Signal-safe. Copies the sample's frames into the ring and gives the buffer
 * back; -1 (buffer given back, sample dropped) when the ring is full. */
int pp_ring_commit(pp_ring *r, pp_raw_sample *s);
/* Signal-safe. Asks for the lines pp_ring_commit will write for s, taken
 * and not yet filled, ahead of the capture: the ring's next bytes, as many as
 * the buffer's previous sample took (the thread's previous stack, whose depth
 * the next one is usually close to), and the consumer's position. Prefetches
 * only: no fault, no write, nothing claimed. */
void pp_ring_prefetch(pp_ring *r, const pp_raw_sample *s);
/* Signal-safe. Gives a buffer back unused. */
void pp_ring_give_back(pp_ring *r, pp_raw_sample *s);

/* Consumer side (one thread at a time): the next committed sample or NULL.
 * Its arrays point into the ring and stay valid until pp_ring_release. */
const pp_raw_sample *pp_ring_peek(pp_ring *r);
void pp_ring_release(pp_ring *r);

#endif
