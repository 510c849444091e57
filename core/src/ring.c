#include "ring.h"

#include "signal_path.h"

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

/* A line each: handlers on other CPUs claiming their own buffers do not
 * take this one's line from under it. */
typedef struct capture_buffer {
    _Alignas(64) _Atomic int busy;
    pp_raw_sample sample;
} capture_buffer;

/* At the start of its own mapping, followed by the capture buffers'
 * controls and then their arrays: what a handler reads to claim a buffer is
 * on one page (each page a sample touches costs a TLB miss once the program
 * has run between two samples). */
struct pp_ring {
    unsigned char *bytes;
    uint64_t size; /* a power of two */
    uint32_t depth;
    uint32_t n_buffers;
    capture_buffer *buffers;
    size_t hot_len; /* this struct's mapping */
    _Alignas(64) _Atomic uint64_t head; /* producers: next byte to claim */
    _Alignas(64) _Atomic uint64_t tail; /* consumer: next byte to read */
    _Atomic int prefaulted;
    pp_raw_sample view; /* the consumer's decoded record */
    uint64_t view_len;
};

static size_t record_len(uint32_t n_native, uint32_t n_interp)
{
    return sizeof(record) + (size_t)n_native * sizeof(uintptr_t) + (size_t)n_interp * sizeof(pp_raw_frame);
}

static size_t native_len(uint32_t depth) { return (size_t)(depth + PP_RAW_NATIVE_SLACK) * sizeof(uintptr_t); }

/* native[], interp[], then native_fp[] (written only for a runtime that
 * reads its frames by frame pointer; its first page is made resident with
 * the others'). */
static size_t buffer_frames_len(uint32_t depth)
{
    return 2 * native_len(depth) + (size_t)depth * sizeof(pp_raw_frame);
}

static size_t controls_len(uint32_t n_buffers) { return sizeof(pp_ring) + (size_t)n_buffers * sizeof(capture_buffer); }

pp_ring *pp_ring_new(size_t bytes, uint32_t depth)
{
    uint64_t n = 65536;
    while (n < bytes)
        n <<= 1;
    /* Room for the deepest record twice over, so one always fits. */
    while (n < 2 * (record_len(depth, depth) + sizeof(record)))
        n <<= 1;
    /* Handlers that can be capturing at once: one a thread, and threads run
     * on CPUs; some are preempted mid-capture, hence the margin. A handler
     * finding none free drops its sample (counted). */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1)
        cpus = 1;
    uint32_t n_buffers = (uint32_t)(cpus * 2 + 8 > 64 ? 64 : cpus * 2 + 8);
    /* mmap rather than malloc: large, and touched from signal handlers.
     * The capture buffers' pages a shallow stack never reaches are never
     * made resident; the ring's are, by pp_ring_prefault. */
    size_t hot_len = controls_len(n_buffers) + buffer_frames_len(depth) * n_buffers;
    void *mem = mmap(NULL, hot_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void *ring_bytes = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED || ring_bytes == MAP_FAILED) {
        if (mem != MAP_FAILED)
            munmap(mem, hot_len);
        if (ring_bytes != MAP_FAILED)
            munmap(ring_bytes, n);
        return NULL;
    }
    pp_ring *r = mem;
    r->bytes = ring_bytes;
    r->size = n;
    r->depth = depth;
    r->n_buffers = n_buffers;
    r->hot_len = hot_len;
    r->buffers = (capture_buffer *)(void *)(r + 1);
    unsigned char *arrays = (unsigned char *)r + controls_len(n_buffers);
    for (uint32_t i = 0; i < n_buffers; i++) {
        unsigned char *base = arrays + (size_t)i * buffer_frames_len(depth);
        r->buffers[i].sample.native = (uintptr_t *)(void *)base;
        r->buffers[i].sample.interp = (pp_raw_frame *)(void *)(base + native_len(depth));
        r->buffers[i].sample.native_fp =
            (uintptr_t *)(void *)(base + native_len(depth) + (size_t)depth * sizeof(pp_raw_frame));
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
    munmap(r, r->hot_len);
}

PP_SIGNAL_PATH uint32_t pp_ring_depth(const pp_ring *r) { return r->depth; }

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/* MADV_POPULATE_WRITE faults the pages in writable without writing to them,
 * so handlers writing at the same time lose nothing. Older kernels refuse
 * it: there each page gets an atomic OR of zero, a write that cannot change
 * what a handler wrote. */
static void make_resident(void *start, size_t len)
{
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0)
        page = 4096;
    uintptr_t from = (uintptr_t)start & ~(uintptr_t)(page - 1);
    len += (uintptr_t)start - from;
    if (madvise((void *)from, len, MADV_POPULATE_WRITE) == 0)
        return;
    for (size_t off = 0; off < len; off += (size_t)page)
        atomic_fetch_or_explicit((_Atomic uint64_t *)(from + off), 0, memory_order_relaxed);
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
    /* Of the capture buffers, the controls and each array's first 4 KiB
     * (what stacks up to ~500 native and ~170 interpreter frames write),
     * never past the mapping's end (a small depth's arrays are shorter). */
    make_resident(r, controls_len(r->n_buffers));
    unsigned char *end = (unsigned char *)r + r->hot_len;
    for (uint32_t i = 0; i < r->n_buffers; i++) {
        unsigned char *arrays[3] = {(unsigned char *)r->buffers[i].sample.native,
                                    (unsigned char *)r->buffers[i].sample.interp,
                                    (unsigned char *)r->buffers[i].sample.native_fp};
        for (int k = 0; k < 3; k++)
            make_resident(arrays[k], end - arrays[k] < 4096 ? (size_t)(end - arrays[k]) : 4096);
    }
}

PP_SIGNAL_PATH pp_raw_sample *pp_ring_take(pp_ring *r, uint32_t hint)
{
    /* Each thread starts at its own buffer, so that threads rarely contend
     * for one, and a thread gets the same buffer sample after sample: it
     * still holds the thread's previous stack then, and the handler finds
     * its pages where it left them. */
    uint32_t start = hint % r->n_buffers;
    for (uint32_t k = 0; k < r->n_buffers; k++) {
        capture_buffer *b = &r->buffers[(start + k) % r->n_buffers];
        if (!atomic_load_explicit(&b->busy, memory_order_relaxed) &&
            !atomic_exchange_explicit(&b->busy, 1, memory_order_acquire))
            return &b->sample;
    }
    return NULL;
}

/* Between two samples the program evicts the ring's next lines and the
 * line of the consumer's position (the drain thread writes it, on another
 * CPU): met only in pp_ring_commit, each would be a miss there, one after
 * another; asked for here, before the capture's walk, they arrive while it
 * runs. The ring's lines are asked for writing (where the target has the
 * instruction: -march builds), as the commit will take them. */
PP_SIGNAL_PATH void pp_ring_prefetch(pp_ring *r, const pp_raw_sample *s)
{
    uint32_t nn = s->n_native > r->depth + PP_RAW_NATIVE_SLACK ? r->depth + PP_RAW_NATIVE_SLACK : s->n_native;
    uint32_t ni = s->n_interp > r->depth ? r->depth : s->n_interp;
    __builtin_prefetch((const void *)&r->tail);
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t end = head + record_len(nn, ni);
    for (uint64_t a = head & ~(uint64_t)63; a < end; a += 64)
        __builtin_prefetch(r->bytes + (a & (r->size - 1)), 1);
}

PP_SIGNAL_PATH void pp_ring_give_back(pp_ring *r, pp_raw_sample *s)
{
    (void)r;
    capture_buffer *b = (capture_buffer *)(void *)((char *)s - offsetof(capture_buffer, sample));
    atomic_store_explicit(&b->busy, 0, memory_order_release);
}

PP_SIGNAL_PATH int pp_ring_commit(pp_ring *r, pp_raw_sample *s)
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
