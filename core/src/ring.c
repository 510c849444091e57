#include "ring.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* A record: one 64-bit header word, then the sample's fixed fields, then its
 * native and interpreter frames. The header is 0 until the producer has
 * written the rest (so the consumer zeroes what it consumed: any later
 * record may start anywhere in it). A record never wraps: one that would is
 * preceded by a pad record that fills the ring's end. */
#define KIND_SAMPLE 1u
#define KIND_PAD 2u
#define HEADER(len, kind) (((uint64_t)(len) << 8) | (kind))

typedef struct record {
    _Atomic uint64_t header;
    int32_t tid;
    uint32_t flags;
    uint64_t weight;
    uint64_t time_ns;
    uint32_t n_native;
    uint32_t n_interp;
    /* uintptr_t native[n_native]; pp_raw_frame interp[n_interp]; */
} record;

typedef struct capture_buffer {
    _Atomic int busy;
    pp_raw_sample sample;
} capture_buffer;

struct pp_ring {
    unsigned char *bytes;
    uint64_t size; /* a power of two */
    _Atomic uint64_t head; /* producers: next byte to claim */
    _Atomic uint64_t tail; /* consumer: next byte to read */
    uint32_t depth;
    uint32_t n_buffers;
    capture_buffer *buffers;
    void *frames; /* the capture buffers' arrays, one mapping */
    size_t frames_len;
    _Atomic int prefaulted;
    pp_raw_sample view; /* the consumer's decoded record */
    uint64_t view_len;
};

static size_t record_len(uint32_t n_native, uint32_t n_interp)
{
    return sizeof(record) + (size_t)n_native * sizeof(uintptr_t) + (size_t)n_interp * sizeof(pp_raw_frame);
}

static size_t buffer_frames_len(uint32_t depth)
{
    return (size_t)(depth + PP_RAW_NATIVE_SLACK) * sizeof(uintptr_t) + (size_t)depth * sizeof(pp_raw_frame);
}

pp_ring *pp_ring_new(size_t bytes, uint32_t depth)
{
    uint64_t n = 65536;
    while (n < bytes)
        n <<= 1;
    /* Room for the deepest record twice over, so one always fits. */
    while (n < 2 * (record_len(depth, depth) + sizeof(record)))
        n <<= 1;
    pp_ring *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    /* Handlers that can be capturing at once: one a thread, and threads run
     * on CPUs; some are preempted mid-capture, hence the margin. A handler
     * finding none free drops its sample (counted). */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1)
        cpus = 1;
    r->n_buffers = (uint32_t)(cpus * 2 + 8 > 64 ? 64 : cpus * 2 + 8);
    r->depth = depth;
    r->frames_len = buffer_frames_len(depth) * r->n_buffers;
    /* mmap rather than malloc: large, and touched from signal handlers.
     * The capture buffers' pages a shallow stack never reaches are never
     * made resident; the ring's are, by pp_ring_prefault. */
    void *ring_mem = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void *frames_mem = mmap(NULL, r->frames_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    r->buffers = calloc(r->n_buffers, sizeof *r->buffers);
    if (ring_mem == MAP_FAILED || frames_mem == MAP_FAILED || !r->buffers) {
        if (ring_mem != MAP_FAILED)
            munmap(ring_mem, n);
        if (frames_mem != MAP_FAILED)
            munmap(frames_mem, r->frames_len);
        free(r->buffers);
        free(r);
        return NULL;
    }
    r->bytes = ring_mem;
    r->size = n;
    r->frames = frames_mem;
    for (uint32_t i = 0; i < r->n_buffers; i++) {
        unsigned char *base = (unsigned char *)frames_mem + (size_t)i * buffer_frames_len(depth);
        r->buffers[i].sample.native = (uintptr_t *)(void *)base;
        r->buffers[i].sample.interp =
            (pp_raw_frame *)(void *)(base + (size_t)(depth + PP_RAW_NATIVE_SLACK) * sizeof(uintptr_t));
        atomic_init(&r->buffers[i].busy, 0);
    }
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    atomic_init(&r->prefaulted, 0);
    return r;
}

void pp_ring_free(pp_ring *r)
{
    if (!r)
        return;
    munmap(r->bytes, r->size);
    munmap(r->frames, r->frames_len);
    free(r->buffers);
    free(r);
}

uint32_t pp_ring_depth(const pp_ring *r) { return r->depth; }

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/* MADV_POPULATE_WRITE faults the pages in writable without writing to them,
 * so handlers writing at the same time lose nothing. Older kernels refuse
 * it: there each page gets an atomic OR of zero, a write that cannot change
 * what a handler wrote. */
static void make_resident(void *start, size_t len)
{
    if (madvise(start, len, MADV_POPULATE_WRITE) == 0)
        return;
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0)
        page = 4096;
    for (size_t off = 0; off < len; off += (size_t)page)
        atomic_fetch_or_explicit((_Atomic uint64_t *)(void *)((unsigned char *)start + off), 0, memory_order_relaxed);
}

void pp_ring_prefault(pp_ring *r)
{
    if (!r || atomic_exchange(&r->prefaulted, 1))
        return;
    /* Each sample writes the ring's next bytes, so its pages are met one
     * after another and each costs a TLB miss (several memory reads on a
     * VM's nested page tables): huge pages, where the ring is large enough
     * for them and the kernel has them, make it one entry a 2 MiB. */
    madvise(r->bytes, r->size, MADV_HUGEPAGE);
    make_resident(r->bytes, r->size);
}

pp_raw_sample *pp_ring_take(pp_ring *r)
{
    /* Start at a place that differs between threads, so that threads rarely
     * contend for the same buffer. */
    uint32_t start = (uint32_t)(((uintptr_t)&start >> 12) % r->n_buffers);
    for (uint32_t k = 0; k < r->n_buffers; k++) {
        capture_buffer *b = &r->buffers[(start + k) % r->n_buffers];
        if (!atomic_load_explicit(&b->busy, memory_order_relaxed) &&
            !atomic_exchange_explicit(&b->busy, 1, memory_order_acquire))
            return &b->sample;
    }
    return NULL;
}

void pp_ring_give_back(pp_ring *r, pp_raw_sample *s)
{
    (void)r;
    capture_buffer *b = (capture_buffer *)(void *)((char *)s - offsetof(capture_buffer, sample));
    atomic_store_explicit(&b->busy, 0, memory_order_release);
}

int pp_ring_commit(pp_ring *r, pp_raw_sample *s)
{
    uint32_t nn = s->n_native > r->depth + PP_RAW_NATIVE_SLACK ? r->depth + PP_RAW_NATIVE_SLACK : s->n_native;
    uint32_t ni = s->n_interp > r->depth ? r->depth : s->n_interp;
    uint64_t len = record_len(nn, ni);
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed), pad;
    for (;;) {
        uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
        uint64_t off = head & (r->size - 1);
        pad = off + len > r->size ? r->size - off : 0;
        if (head + pad + len - tail > r->size) {
            pp_ring_give_back(r, s);
            return -1; /* full: the consumer has not caught up */
        }
        if (atomic_compare_exchange_weak_explicit(&r->head, &head, head + pad + len, memory_order_relaxed,
                                                  memory_order_relaxed))
            break;
    }
    if (pad) {
        record *p = (record *)(void *)(r->bytes + (head & (r->size - 1)));
        atomic_store_explicit(&p->header, HEADER(pad, KIND_PAD), memory_order_release);
        head += pad;
    }
    record *rec = (record *)(void *)(r->bytes + (head & (r->size - 1)));
    rec->tid = s->tid;
    rec->flags = s->flags;
    rec->weight = s->weight;
    rec->time_ns = s->time_ns;
    rec->n_native = nn;
    rec->n_interp = ni;
    unsigned char *frames = (unsigned char *)(rec + 1);
    memcpy(frames, s->native, (size_t)nn * sizeof(uintptr_t));
    memcpy(frames + (size_t)nn * sizeof(uintptr_t), s->interp, (size_t)ni * sizeof(pp_raw_frame));
    pp_ring_give_back(r, s);
    atomic_store_explicit(&rec->header, HEADER(len, KIND_SAMPLE), memory_order_release);
    return 0;
}

/* Consumer: hands the bytes of a consumed record back, zeroed. */
static void consume(pp_ring *r, uint64_t len)
{
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    memset(r->bytes + (tail & (r->size - 1)), 0, len);
    atomic_store_explicit(&r->tail, tail + len, memory_order_release);
}

const pp_raw_sample *pp_ring_peek(pp_ring *r)
{
    for (;;) {
        uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
        record *rec = (record *)(void *)(r->bytes + (tail & (r->size - 1)));
        uint64_t h = atomic_load_explicit(&rec->header, memory_order_acquire);
        if (!h)
            return NULL;
        if ((h & 0xff) == KIND_PAD) {
            consume(r, h >> 8);
            continue;
        }
        r->view.tid = rec->tid;
        r->view.flags = rec->flags;
        r->view.weight = rec->weight;
        r->view.time_ns = rec->time_ns;
        r->view.n_native = rec->n_native;
        r->view.n_interp = rec->n_interp;
        r->view.native = (uintptr_t *)(void *)(rec + 1);
        r->view.interp = (pp_raw_frame *)(void *)((unsigned char *)(rec + 1) + rec->n_native * sizeof(uintptr_t));
        r->view_len = h >> 8;
        return &r->view;
    }
}

void pp_ring_release(pp_ring *r) { consume(r, r->view_len); }
