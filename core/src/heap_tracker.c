/* Sampled allocations and the live heap they estimate: an event profile
 * (events.c) with four values, plus a table of the sampled blocks still
 * live, keyed by address, so a free takes its block's weighted size back
 * out of its stack's inuse values. Only sampled blocks are in the table, so
 * it stays small (about live heap / interval entries); the filter
 * in front of it (heap_tracker.h) lets the runtime skip the lock on every
 * other free. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "heap_tracker.h"
#include "polyprof.h"

enum { V_ALLOC_OBJECTS, V_ALLOC_SPACE, V_INUSE_OBJECTS, V_INUSE_SPACE, N_VALUES };

typedef struct live_slot {
    uintptr_t addr; /* 0: empty */
    pp_heap_block block;
} live_slot;

#define FILTER_SLOTS (1u << PP_HEAP_FILTER_BITS)

struct pp_heap {
    uint64_t filter[FILTER_SLOTS / 64]; /* first: see heap_tracker.h */
    uint16_t filter_counts[FILTER_SLOTS]; /* tracked blocks per bit; 65535 sticks */
    pthread_mutex_t lock;
    pp_events *events;
    uint64_t interval;
    live_slot *slots;
    size_t n_slots, n_live, max_slots;
    uint64_t untracked; /* live blocks the table had no room for */
};

/* Caller holds the lock (readers only test bits). */
static void filter_add(pp_heap *h, uintptr_t addr, int delta)
{
    uint32_t slot = pp_heap_filter_slot(addr);
    uint16_t *count = &h->filter_counts[slot];
    if (*count == UINT16_MAX) /* saturated: the bit stays, a harmless false positive */
        return;
    *count = (uint16_t)(*count + delta);
    uint64_t bit = 1ULL << (slot & 63);
    if (delta > 0 && *count == 1)
        __atomic_fetch_or(&h->filter[slot >> 6], bit, __ATOMIC_RELAXED);
    else if (delta < 0 && *count == 0)
        __atomic_fetch_and(&h->filter[slot >> 6], ~bit, __ATOMIC_RELAXED);
}

pp_heap *pp_heap_new(uint64_t interval, size_t max_memory)
{
    pp_heap *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    if (!max_memory)
        max_memory = 64u << 20;
    const char *types[] = {"alloc_objects", "alloc_space", "inuse_objects", "inuse_space"};
    const char *units[] = {"count", "bytes", "count", "bytes"};
    /* A quarter of the budget for the live-block table, the rest for stacks. */
    h->events = pp_events_new(types, units, N_VALUES, "space", "bytes", (int64_t)interval, max_memory - max_memory / 4);
    if (!h->events) {
        free(h);
        return NULL;
    }
    h->max_slots = (max_memory / 4) / sizeof(live_slot);
    h->interval = interval;
    pthread_mutex_init(&h->lock, NULL);
    return h;
}

void pp_heap_free(pp_heap *h)
{
    if (!h)
        return;
    pp_events_free(h->events);
    free(h->slots);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

static size_t home(uintptr_t addr, size_t n) { return (size_t)(((uint64_t)addr >> 4) * 0xff51afd7ed558ccdULL >> 17) & (n - 1); }

/* Caller holds the lock. The slot holding addr, or NULL. */
static live_slot *find(pp_heap *h, uintptr_t addr)
{
    if (!h->n_slots)
        return NULL;
    for (size_t i = home(addr, h->n_slots);; i = (i + 1) & (h->n_slots - 1)) {
        if (h->slots[i].addr == addr)
            return &h->slots[i];
        if (!h->slots[i].addr)
            return NULL;
    }
}

/* Caller holds the lock. Linear probing's backward-shift delete: no
 * tombstones, so lookups stay short however many blocks come and go. */
static void remove_slot(pp_heap *h, live_slot *s)
{
    size_t mask = h->n_slots - 1, i = (size_t)(s - h->slots), j = i;
    filter_add(h, s->addr, -1);
    for (;;) {
        h->slots[i].addr = 0;
        for (;;) {
            j = (j + 1) & mask;
            if (!h->slots[j].addr) {
                h->n_live--;
                return;
            }
            size_t k = home(h->slots[j].addr, h->n_slots);
            /* j's entry may move to i when its home is not in (i, j]. */
            if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
                continue;
            break;
        }
        h->slots[i] = h->slots[j];
        i = j;
    }
}

static int grow(pp_heap *h)
{
    size_t n = h->n_slots ? h->n_slots * 2 : 1024;
    if (n > h->max_slots)
        return -1;
    live_slot *t = calloc(n, sizeof *t);
    if (!t)
        return -1;
    for (size_t i = 0; i < h->n_slots; i++) {
        if (!h->slots[i].addr)
            continue;
        size_t j = home(h->slots[i].addr, n);
        while (t[j].addr)
            j = (j + 1) & (n - 1);
        t[j] = h->slots[i];
    }
    free(h->slots);
    h->slots = t;
    h->n_slots = n;
    return 0;
}

/* Caller holds the lock. */
static int insert(pp_heap *h, uintptr_t addr, const pp_heap_block *b)
{
    if ((h->n_live + 1) * 2 > h->n_slots && grow(h) != 0)
        return -1;
    size_t i = home(addr, h->n_slots);
    while (h->slots[i].addr)
        i = (i + 1) & (h->n_slots - 1);
    h->slots[i].addr = addr;
    h->slots[i].block = *b;
    h->n_live++;
    filter_add(h, addr, +1);
    return 0;
}

static void take_back(pp_heap *h, const pp_heap_block *b)
{
    int64_t v[N_VALUES] = {0, 0, -b->count, -b->bytes};
    pp_events_add(h->events, b->stack, v);
}

int pp_heap_record_alloc(pp_heap *h, uintptr_t addr, uint64_t size, const char *leaf_name,
                         const pp_raw_frame *frames, uint32_t n_frames)
{
    /* An allocation of `size` bytes is sampled with probability
     * 1 - e^(-size/interval); each sample stands for 1/that allocations
     * (Go's scaleHeapSample). */
    double p = h->interval > 1 ? 1.0 - exp(-(double)size / (double)h->interval) : 1.0;
    double scale = p > 0 ? 1.0 / p : 1.0;
    pp_heap_block b = {PP_EVENTS_OVERFLOW, (int64_t)(scale + 0.5), (int64_t)((double)size * scale + 0.5)};
    int64_t v[N_VALUES] = {b.count, b.bytes, b.count, b.bytes};
    pthread_mutex_lock(&h->lock);
    live_slot *old = find(h, addr);
    if (old) {
        take_back(h, &old->block);
        remove_slot(h, old);
    }
    int rc = pp_events_record_stack(h->events, leaf_name, frames, n_frames, v, &b.stack);
    if (insert(h, addr, &b) != 0) {
        /* No room to follow the block: it leaves the live heap now rather
         * than never. */
        h->untracked++;
        take_back(h, &b);
    }
    pthread_mutex_unlock(&h->lock);
    return rc;
}

int pp_heap_record_free(pp_heap *h, uintptr_t addr)
{
    pthread_mutex_lock(&h->lock);
    live_slot *s = find(h, addr);
    if (s) {
        take_back(h, &s->block);
        remove_slot(h, s);
    }
    pthread_mutex_unlock(&h->lock);
    return s != NULL;
}

int pp_heap_detach(pp_heap *h, uintptr_t addr, pp_heap_block *out)
{
    pthread_mutex_lock(&h->lock);
    live_slot *s = find(h, addr);
    if (s) {
        *out = s->block;
        remove_slot(h, s);
    }
    pthread_mutex_unlock(&h->lock);
    return s != NULL;
}

void pp_heap_attach(pp_heap *h, uintptr_t addr, const pp_heap_block *b)
{
    pthread_mutex_lock(&h->lock);
    live_slot *old = find(h, addr);
    if (old) {
        take_back(h, &old->block);
        remove_slot(h, old);
    }
    if (insert(h, addr, b) != 0) {
        h->untracked++;
        take_back(h, b);
    }
    pthread_mutex_unlock(&h->lock);
}

size_t pp_heap_live_blocks(pp_heap *h)
{
    pthread_mutex_lock(&h->lock);
    size_t n = h->n_live;
    pthread_mutex_unlock(&h->lock);
    return n;
}

static pp_profile *export(pp_heap *h, int inuse_default, const pp_runtime *rt, int rotate)
{
    static const uint32_t heap_order[] = {V_ALLOC_OBJECTS, V_ALLOC_SPACE, V_INUSE_OBJECTS, V_INUSE_SPACE};
    static const uint32_t allocs_order[] = {V_INUSE_OBJECTS, V_INUSE_SPACE, V_ALLOC_OBJECTS, V_ALLOC_SPACE};
    /* The tracker's lock is held across the export so that no free moves
     * live values between the export and the new window. */
    pthread_mutex_lock(&h->lock);
    pp_profile *p = pp_events_export_ordered(h->events, rt, inuse_default ? heap_order : allocs_order);
    if (p) {
        char line[96];
        snprintf(line, sizeof line, "live_blocks_tracked=%zu", h->n_live);
        pp_profile_add_metadata(p, line);
        snprintf(line, sizeof line, "live_blocks_untracked=%llu", (unsigned long long)h->untracked);
        pp_profile_add_metadata(p, line);
        snprintf(line, sizeof line, "alloc_interval=%llu", (unsigned long long)h->interval);
        pp_profile_add_metadata(p, line);
    }
    if (rotate)
        pp_events_new_window(h->events, (1u << V_ALLOC_OBJECTS) | (1u << V_ALLOC_SPACE));
    pthread_mutex_unlock(&h->lock);
    return p;
}

pp_profile *pp_heap_export(pp_heap *h, int inuse_default, const pp_runtime *rt)
{
    return export(h, inuse_default, rt, 0);
}

pp_profile *pp_heap_rotate(pp_heap *h, int inuse_default, const pp_runtime *rt)
{
    return export(h, inuse_default, rt, 1);
}
