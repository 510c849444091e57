/* Sampled allocation profiling for CPython: PyMem_SetAllocator hooks on the
 * raw, mem and object domains that chain every call to the allocators they
 * replaced, and sample about one allocation per `alloc_interval` bytes into
 * the core's heap tracker (stacks, weighted values, live blocks).
 *
 * Cost: an allocation that is not sampled costs one thread-local subtract
 * and compare, then passes the call on as a tail call. Under pymalloc (the
 * default) a free of a small block costs nothing: the mem and object domains
 * keep pymalloc's own free, and sampled blocks come from the raw allocator,
 * whose frees pymalloc hands to the raw domain (see free_via_raw). Frees
 * through a hook cost one load of the active tracker and one bit of its
 * filter. Sampling is Go's MemProfileRate scheme: each thread counts
 * down bytes to its next sample, the distances drawn from an exponential
 * distribution of mean alloc_interval, so every byte has the same chance
 * and the tracker's weights make the totals unbiased.
 *
 * Threads: the raw domain is called without the GIL (and from threads
 * Python never saw); the others with it. Stacks are captured on the
 * allocating thread from its own thread state, inside the core's fault
 * guard. Capturing and recording never allocate through PyMem, and a
 * thread-local flag keeps the hooks from sampling or locking again while
 * this thread is inside the profiler. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_module.h"
#include "code_names.h"
#include "events.h"
#include "fault_guard.h"
#include "heap_tracker.h"
#include "native_module.h"
#include "py_frames.h"
#include "signal_mask.h"

#define ERR_LEN 512
/* When a thread's capture buffer cannot be allocated: a stack buffer this
 * deep, cut (and marked) like any other. */
#define FALLBACK_FRAMES 256
/* While no profile runs, hooks left in the chain (someone installed theirs
 * above ours) look at the state again after this many bytes per thread. */
#define IDLE_RECHECK_BYTES (1 << 20)

typedef struct hook_domain {
    PyMemAllocatorDomain domain;
    const char *name;
    PyMemAllocatorEx prev; /* what every call is passed on to */
    int installed;         /* our hooks are in the chain, on top or under another's */
} hook_domain;

static hook_domain domains[3] = {
    {PYMEM_DOMAIN_RAW, "raw", {0}, 0},
    {PYMEM_DOMAIN_MEM, "mem", {0}, 0},
    {PYMEM_DOMAIN_OBJ, "object", {0}, 0},
};
#define RAW_DOMAIN (&domains[0])
#define MEM_DOMAIN (&domains[1])
#define OBJ_DOMAIN (&domains[2])

/* Frees without a hook. pymalloc (the mem and object domains' allocator
 * when PYTHONMALLOC is unset) hands a free or realloc of a block it did not
 * allocate to the raw domain. So when pymalloc is what our hooks sit on,
 * the blocks sampled in those domains are allocated from the raw domain's
 * allocator instead, those domains keep pymalloc's own free (no hook: most
 * frees of a Python program cost nothing more), and every tracked block's
 * free comes through the raw domain's free hook and its filter. Decided
 * when the hooks first go in; other allocators (debug hooks, malloc, a
 * tracer installed before us) keep a free hook on every domain. */
static int free_via_raw;

/* Per thread. initial-exec: a fixed offset from the thread pointer, so the
 * fast path has no __tls_get_addr call (a few bytes of the static TLS
 * reserve). Zero on a new thread: its first allocation takes the slow path,
 * which draws its first distance. */
typedef struct thread_state {
    int64_t remaining; /* bytes to the next sample */
    uint32_t gen;      /* the profile `remaining` was drawn for */
    uint32_t busy;     /* inside the profiler: no sampling, no locking */
    uint32_t nested;   /* inside a hooked call that may call another */
    uint32_t buf_cap;  /* frames `buf` holds */
    uint64_t rng;
    pp_raw_frame *buf; /* capture buffer (libc memory), freed at thread exit */
} thread_state;
static __thread thread_state tl __attribute__((tls_model("initial-exec")));

static _Atomic(pp_heap *) active;
static _Atomic uint32_t generation;
static uint64_t interval_bytes;
static int with_native;
/* Frames kept per stack: the profile's depth= (the CPU sampler's key; 1024
 * by default, at most 4096). A deeper stack keeps its leaf side and ends in
 * a "[truncated]" frame; the samples so cut are counted (`truncated`, for
 * the profile since start or since the last window). Set at start. */
static uint32_t max_depth;
static _Atomic uint64_t truncated_samples;
static uint64_t truncated_window_start;
/* native=true: the native frames leafward of the leafmost Python frame (the
 * C code that asked for the memory), cut where the eval loop starts; this
 * module's own frames are skipped. Set at start. */
#define MAX_NATIVE 64
static pp_addr_range eval_ranges[PP_MAX_RANGES], own_range;
static int n_eval_ranges;
/* A stopped profile's tracker: a hook on another thread may still hold its
 * pointer for a moment, so it is freed at the next start, not at stop. */
static pp_heap *retired;
/* One export at a time (the events resolver is not thread-safe). */
static pthread_mutex_t export_lock = PTHREAD_MUTEX_INITIALIZER;

/* While an export names frames it holds the tracker's locks, and naming
 * may run Python code on this thread or wait for the GIL (held by a thread
 * that may be freeing a tracked block). So while `exporting` is set no hook
 * takes those locks: allocations are not sampled, and frees of tracked
 * blocks are noted here and applied after. */
static _Atomic int exporting;
#define MAX_DEFERRED 4096
static pthread_mutex_t defer_lock = PTHREAD_MUTEX_INITIALIZER;
static uintptr_t deferred[MAX_DEFERRED];
static uint32_t n_deferred;
static uint64_t lost_frees;

/* ------------------------------------------------------------ sampling */

static uint64_t next_random(void)
{
    /* xorshift64*: the thread's own stream, seeded on first use. */
    uint64_t x = tl.rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    tl.rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Bytes to the next sample: exponential with mean interval_bytes. */
static int64_t draw_distance(void)
{
    double u = ((double)(next_random() >> 11) + 0.5) * 0x1.0p-53;
    double d = -log(u) * (double)interval_bytes;
    return d > 1e18 ? (int64_t)1e18 : (int64_t)d + 1;
}

static PyThreadState *this_thread_state(void)
{
    /* The thread's own state from its TSS slot: set while it holds the GIL
     * and while it has released it (its frames then stand still); NULL on
     * threads Python never saw. */
    return PyGILState_GetThisThreadState();
}

static int in_ranges(const pp_addr_range *r, int n, uintptr_t pc)
{
    for (int i = 0; i < n; i++)
        if (pc >= r[i].start && pc < r[i].end)
            return 1;
    return 0;
}

/* Leaf first: return addresses up to the eval loop, as PP_RAW_NATIVE_PC
 * frames (named at export; the allocator's own functions are left out
 * there by name). libunwind allocates only through libc, never PyMem. */
static int capture_native(pp_raw_frame *out, int max)
{
    void *pcs[MAX_NATIVE];
    int got = unw_backtrace(pcs, MAX_NATIVE), n = 0;
    for (int i = 0; i < got && n < max; i++) {
        uintptr_t pc = (uintptr_t)pcs[i];
        if (in_ranges(&own_range, 1, pc))
            continue;
        if (in_ranges(eval_ranges, n_eval_ranges, pc))
            break;
        out[n++] = (pp_raw_frame){pc, 0, 0, PP_RAW_NATIVE_PC};
    }
    return n;
}

/* Code objects in sampled allocation stacks are kept alive until the
 * process ends, as the CPU resolver's pinned ones are: the frames are named
 * at export, and by then a module's <module> code (freed when its body
 * ends), an exec'd string's or a dropped closure's would be gone and read
 * "[unresolved frame]". Only with the GIL (the mem and object domains, and
 * raw calls made holding it), which also guards the table; past its fill
 * limit frames are kept no more, and may again go unresolved. */
#define KEPT_CODE_SLOTS (1u << 15)
static uintptr_t kept_code[KEPT_CODE_SLOTS];
static uint32_t n_kept_code;

static void keep_code_objects(const pp_raw_frame *frames, int n)
{
    if (!PyGILState_Check())
        return;
    for (int i = 0; i < n; i++) {
        uintptr_t code = frames[i].code;
        uint32_t slot = (uint32_t)((code >> 4) * 0x9E3779B97F4A7C15ULL >> 49) & (KEPT_CODE_SLOTS - 1);
        while (kept_code[slot] && kept_code[slot] != code)
            slot = (slot + 1) & (KEPT_CODE_SLOTS - 1);
        if (kept_code[slot] || n_kept_code >= KEPT_CODE_SLOTS / 4 * 3)
            continue;
        /* A frame of this thread's own stack: the object is alive, and a
         * reference count changes no allocator state. */
        Py_INCREF((PyObject *)code);
        kept_code[slot] = code;
        n_kept_code++;
    }
}

static pthread_key_t buffer_key;
static pthread_once_t buffer_key_once = PTHREAD_ONCE_INIT;

/* At the thread's exit, on that thread: an allocation made later in its
 * exit (another key's destructor) gets a new buffer, not a freed one. */
static void free_capture_buffer(void *buf)
{
    if (tl.buf == buf) {
        tl.buf = NULL;
        tl.buf_cap = 0;
    }
    free(buf);
}

static void create_buffer_key(void) { (void)pthread_key_create(&buffer_key, free_capture_buffer); }

/* This thread's buffer for `need` frames, from libc (which never calls
 * back into PyMem's hooks): up to 96 KiB at depth=4096, too much for the
 * stack of a thread that happens to allocate. NULL when out of memory.
 * Not inlined into record(): its locals would live across the sigsetjmp
 * there. */
static __attribute__((noinline)) pp_raw_frame *capture_buffer(uint32_t need)
{
    if (tl.buf_cap >= need)
        return tl.buf;
    pthread_once(&buffer_key_once, create_buffer_key);
    pp_raw_frame *b = malloc(need * sizeof *b);
    if (!b)
        return NULL;
    free(tl.buf);
    tl.buf = b;
    tl.buf_cap = need;
    pthread_setspecific(buffer_key, b);
    return b;
}

static void record(pp_heap *h, void *p, size_t size)
{
    pp_raw_frame fallback[FALLBACK_FRAMES];
    pp_raw_frame *frames = capture_buffer(max_depth + 1);
    int limit = (int)max_depth;
    if (!frames) {
        frames = fallback;
        limit = FALLBACK_FRAMES - 1 < limit ? FALLBACK_FRAMES - 1 : limit;
    }
    /* The CPU sampler's signal handler guards its own reads with the same
     * per-thread fault guard, which does not nest: no signal while this
     * thread captures (two mask changes per sample, not per allocation). */
    sigset_t old;
    pp_block_async_signals(&old);
    int n = with_native ? capture_native(frames, limit < MAX_NATIVE ? limit : MAX_NATIVE) : 0, n_py = 0;
    uint32_t flags = 0;
    PyThreadState *ts = pp_py_finalizing() || n >= limit ? NULL : this_thread_state();
    if (ts) {
        /* The frames are this thread's own and consistent, but a frame
         * being pushed or a thread state being torn down may hold a stale
         * pointer: a fault costs this sample's frames, not the process. */
        sigjmp_buf jb;
        if (pp_fault_guard_enter(&jb) == 0 && sigsetjmp(jb, 0) == 0)
            n_py = pp_py_capture_thread(ts, frames + n, limit - n, &flags);
        else
            n_py = 0;
        pp_fault_guard_leave();
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (n_py > 0)
        keep_code_objects(frames + n, n_py);
    /* Cut at the depth: the native frames filled it, or the Python ones did. */
    int cut = n >= limit || (n_py > 0 && (flags & PP_CAPTURE_TRUNCATED));
    uint32_t total = (uint32_t)(n + n_py);
    if (cut) {
        frames[total++] = (pp_raw_frame){0, 0, 0, PP_RAW_TRUNCATED};
        atomic_fetch_add_explicit(&truncated_samples, 1, memory_order_relaxed);
    }
    pp_heap_record_alloc(h, (uintptr_t)p, size, n_py == 0 && !cut ? "[no Python frames]" : NULL, frames, total);
}

/* The countdown went below zero: this allocation crosses a sample point.
 * Returns the tracker to record it in, or NULL when it is not recorded
 * (no profile, the thread's first distance drawn, inside the profiler). */
static __attribute__((noinline)) pp_heap *sample_point(size_t size)
{
    pp_heap *h = atomic_load_explicit(&active, memory_order_acquire);
    if (!h) {
        tl.remaining = IDLE_RECHECK_BYTES;
        return NULL;
    }
    uint32_t gen = atomic_load_explicit(&generation, memory_order_relaxed);
    if (tl.gen != gen) {
        /* The first allocation of this thread in this profile. */
        if (!tl.rng)
            tl.rng = ((uint64_t)(uintptr_t)&tl * 0x9E3779B97F4A7C15ULL) ^ pp_now_ns() ^ 1;
        tl.gen = gen;
        tl.remaining = draw_distance() - (int64_t)size;
        if (tl.remaining >= 0)
            return NULL;
    }
    tl.remaining = draw_distance();
    if (tl.busy || atomic_load_explicit(&exporting, memory_order_relaxed))
        return NULL;
    return h;
}

static void record_sample(pp_heap *h, void *p, size_t size)
{
    if (!h || !p)
        return;
    tl.busy = 1;
    record(h, p, size);
    tl.busy = 0;
}

static void sampled(void *p, size_t size)
{
    record_sample(sample_point(size), p, size);
}

static inline void count_bytes(void *p, size_t size)
{
    if (__builtin_expect((tl.remaining -= (int64_t)size) < 0, 0))
        sampled(p, size);
}

/* 1 when the free was noted for after the export running now. */
static int defer_free(void *p)
{
    if (!tl.busy && !atomic_load(&exporting))
        return 0;
    pthread_mutex_lock(&defer_lock);
    int noted = atomic_load(&exporting);
    if (noted) {
        if (n_deferred < MAX_DEFERRED)
            deferred[n_deferred++] = (uintptr_t)p;
        else
            lost_frees++;
    }
    pthread_mutex_unlock(&defer_lock);
    return noted;
}

static void forget_block(pp_heap *h, void *p)
{
    if (!defer_free(p))
        pp_heap_record_free(h, (uintptr_t)p);
}

/* The object and mem domains (pymalloc) pass requests above 512 bytes on
 * to the raw domain: the outer call counts the bytes, the nested one does
 * not (tracemalloc does the same). Only those requests mark the nesting,
 * so small ones, nearly all of them, pay nothing for it. */
#define PYMALLOC_MAX_SMALL 512

#define CALL_PREV(size, expr)                       \
    do {                                            \
        if ((size) > PYMALLOC_MAX_SMALL) {          \
            tl.nested++;                            \
            p = (expr);                             \
            tl.nested--;                            \
        } else {                                    \
            p = (expr);                             \
        }                                           \
    } while (0)

/* The fast paths count the bytes first and pass the call on as a tail
 * call: a small allocation that is not sampled costs a subtract, two
 * compares and a jump. The rest (large requests, sample points) go here. */
static __attribute__((noinline)) void *malloc_slow(hook_domain *d, size_t size, int counted)
{
    void *p;
    if (counted) {
        pp_heap *h = sample_point(size);
        if (h && free_via_raw)
            p = RAW_DOMAIN->prev.malloc(RAW_DOMAIN->prev.ctx, size);
        else
            CALL_PREV(size, d->prev.malloc(d->prev.ctx, size));
        record_sample(h, p, size);
        return p;
    }
    CALL_PREV(size, d->prev.malloc(d->prev.ctx, size));
    count_bytes(p, size);
    return p;
}

static inline void *malloc_in(hook_domain *d, size_t size)
{
    if (__builtin_expect(size <= PYMALLOC_MAX_SMALL, 1)) {
        if (__builtin_expect((tl.remaining -= (int64_t)size) >= 0, 1))
            return d->prev.malloc(d->prev.ctx, size);
        return malloc_slow(d, size, 1);
    }
    return malloc_slow(d, size, 0);
}

static void *hook_malloc(void *ctx, size_t size)
{
    return malloc_in(ctx, size);
}

static __attribute__((noinline)) void *calloc_slow(hook_domain *d, size_t nelem, size_t elsize, int counted)
{
    void *p;
    if (counted) {
        pp_heap *h = sample_point(nelem * elsize);
        if (h && free_via_raw)
            p = RAW_DOMAIN->prev.calloc(RAW_DOMAIN->prev.ctx, nelem, elsize);
        else
            CALL_PREV(nelem * elsize, d->prev.calloc(d->prev.ctx, nelem, elsize));
        record_sample(h, p, nelem * elsize);
        return p;
    }
    CALL_PREV(nelem * elsize, d->prev.calloc(d->prev.ctx, nelem, elsize));
    count_bytes(p, nelem * elsize);
    return p;
}

static inline void *calloc_in(hook_domain *d, size_t nelem, size_t elsize)
{
    size_t size = nelem * elsize;
    if (__builtin_expect(size <= PYMALLOC_MAX_SMALL, 1)) {
        if (__builtin_expect((tl.remaining -= (int64_t)size) >= 0, 1))
            return d->prev.calloc(d->prev.ctx, nelem, elsize);
        return calloc_slow(d, nelem, elsize, 1);
    }
    return calloc_slow(d, nelem, elsize, 0);
}

static void *hook_calloc(void *ctx, size_t nelem, size_t elsize)
{
    return calloc_in(ctx, nelem, elsize);
}

/* A tracked block keeps its stack and weight at its new address (or stays
 * where it was when realloc failed). */
static void *realloc_tracked(hook_domain *d, void *ptr, size_t size, int nests)
{
    pp_heap *h = atomic_load_explicit(&active, memory_order_acquire);
    pp_heap_block b;
    int moved = 0;
    if (h && ptr && pp_heap_maybe_tracked(h, (uintptr_t)ptr) && !defer_free(ptr))
        moved = pp_heap_detach(h, (uintptr_t)ptr, &b);
    void *p;
    if (nests)
        CALL_PREV(size, d->prev.realloc(d->prev.ctx, ptr, size));
    else
        p = d->prev.realloc(d->prev.ctx, ptr, size);
    if (moved)
        pp_heap_attach(h, (uintptr_t)(p ? p : ptr), &b);
    return p;
}

static void *hook_realloc(void *ctx, void *ptr, size_t size)
{
    void *p = realloc_tracked(ctx, ptr, size, 1);
    count_bytes(p, size);
    return p;
}

/* free_via_raw: a tracked block is a raw block, which pymalloc's realloc
 * hands to the raw domain's realloc hook; that one moves it and must not
 * count the bytes again. */
static __attribute__((noinline)) void *pymalloc_realloc_sampled(hook_domain *d, void *p, size_t size)
{
    pp_heap *h = sample_point(size);
    if (h && p && size <= PYMALLOC_MAX_SMALL) {
        /* pymalloc may have served it, and pymalloc's free would then never
         * reach a hook: the tracked block moves to the raw allocator. */
        void *q = RAW_DOMAIN->prev.malloc(RAW_DOMAIN->prev.ctx, size);
        if (!q)
            return p; /* not recorded */
        memcpy(q, p, size);
        d->prev.free(d->prev.ctx, p);
        p = q;
    }
    record_sample(h, p, size);
    return p;
}

static inline void *pymalloc_realloc(hook_domain *d, void *ptr, size_t size)
{
    tl.nested++;
    void *p = d->prev.realloc(d->prev.ctx, ptr, size);
    tl.nested--;
    if (__builtin_expect((tl.remaining -= (int64_t)size) >= 0, 1))
        return p;
    return pymalloc_realloc_sampled(d, p, size);
}

/* free_via_raw's hooks keep pymalloc's context (their free is pymalloc's
 * own, called with it), so each domain has its own entry points. */
static void *mem_malloc(void *ctx, size_t size)
{
    (void)ctx;
    return malloc_in(MEM_DOMAIN, size);
}
static void *obj_malloc(void *ctx, size_t size)
{
    (void)ctx;
    return malloc_in(OBJ_DOMAIN, size);
}
static void *mem_calloc(void *ctx, size_t nelem, size_t elsize)
{
    (void)ctx;
    return calloc_in(MEM_DOMAIN, nelem, elsize);
}
static void *obj_calloc(void *ctx, size_t nelem, size_t elsize)
{
    (void)ctx;
    return calloc_in(OBJ_DOMAIN, nelem, elsize);
}
static void *mem_realloc(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    return pymalloc_realloc(MEM_DOMAIN, ptr, size);
}
static void *obj_realloc(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    return pymalloc_realloc(OBJ_DOMAIN, ptr, size);
}

/* The raw domain: called on its own, or nested in the calls above (then
 * not counted). */
static __attribute__((noinline)) void *raw_malloc_slow(hook_domain *d, size_t size)
{
    void *p = d->prev.malloc(d->prev.ctx, size);
    sampled(p, size);
    return p;
}

static void *raw_malloc(void *ctx, size_t size)
{
    hook_domain *d = ctx;
    if (__builtin_expect(tl.nested || (tl.remaining -= (int64_t)size) >= 0, 1))
        return d->prev.malloc(d->prev.ctx, size);
    return raw_malloc_slow(d, size);
}

static __attribute__((noinline)) void *raw_calloc_slow(hook_domain *d, size_t nelem, size_t elsize)
{
    void *p = d->prev.calloc(d->prev.ctx, nelem, elsize);
    sampled(p, nelem * elsize);
    return p;
}

static void *raw_calloc(void *ctx, size_t nelem, size_t elsize)
{
    hook_domain *d = ctx;
    if (__builtin_expect(tl.nested || (tl.remaining -= (int64_t)(nelem * elsize)) >= 0, 1))
        return d->prev.calloc(d->prev.ctx, nelem, elsize);
    return raw_calloc_slow(d, nelem, elsize);
}

static void *raw_realloc(void *ctx, void *ptr, size_t size)
{
    void *p = realloc_tracked(ctx, ptr, size, 0);
    if (!tl.nested)
        count_bytes(p, size);
    return p;
}

static __attribute__((noinline)) void free_slow(hook_domain *d, pp_heap *h, void *ptr)
{
    if (ptr)
        forget_block(h, ptr);
    d->prev.free(d->prev.ctx, ptr);
}

/* Every free of the process: one load, a multiply and a bit test, then a
 * tail call, unless the address may be a tracked block's. */
static void hook_free(void *ctx, void *ptr)
{
    hook_domain *d = ctx;
    pp_heap *h = atomic_load_explicit(&active, memory_order_acquire);
    if (__builtin_expect(h != NULL && pp_heap_maybe_tracked(h, (uintptr_t)ptr), 0))
        free_slow(d, h, ptr);
    else
        d->prev.free(d->prev.ctx, ptr);
}

static int is_ours(const PyMemAllocatorEx *a, const hook_domain *d)
{
    if (a->malloc == mem_malloc || a->malloc == obj_malloc)
        return a->malloc == (d == MEM_DOMAIN ? mem_malloc : obj_malloc);
    return (a->malloc == hook_malloc || a->malloc == raw_malloc) && a->ctx == d;
}

/* ------------------------------------------------------------ export */

static void apply_deferred(pp_heap *h)
{
    static uintptr_t todo[MAX_DEFERRED];
    pthread_mutex_lock(&defer_lock);
    atomic_store(&exporting, 0);
    uint32_t n = n_deferred;
    memcpy(todo, deferred, n * sizeof *todo);
    n_deferred = 0;
    pthread_mutex_unlock(&defer_lock);
    for (uint32_t i = 0; i < n; i++)
        pp_heap_record_free(h, todo[i]);
}

/* Caller holds export_lock (so `todo` above is ours too). */
static pp_profile *export_locked(pp_heap *h, int inuse_default, int rotate)
{
    pp_runtime rt;
    pp_py_events_runtime(&rt);
    uint32_t was_busy = tl.busy;
    tl.busy = 1;
    atomic_store(&exporting, 1);
    pp_profile *p = rotate ? pp_heap_rotate(h, inuse_default, &rt) : pp_heap_export(h, inuse_default, &rt);
    apply_deferred(h);
    tl.busy = was_busy;
    if (p && lost_frees) {
        char line[64];
        snprintf(line, sizeof line, "frees_missed=%llu", (unsigned long long)lost_frees);
        pp_profile_add_metadata(p, line);
    }
    if (p) {
        pp_code_names_add_metadata(p);
        uint64_t truncated = atomic_load(&truncated_samples);
        char line[64];
        snprintf(line, sizeof line, "truncated=%llu", (unsigned long long)(truncated - truncated_window_start));
        pp_profile_add_metadata(p, line);
        if (rotate)
            truncated_window_start = truncated;
    }
    return p;
}

static pp_profile *export_heap(pp_heap *h, int inuse_default, int rotate)
{
    pthread_mutex_lock(&export_lock);
    pp_profile *p = export_locked(h, inuse_default, rotate);
    pthread_mutex_unlock(&export_lock);
    return p;
}

pp_profile *pp_py_alloc_profile(int inuse_default, char *err, size_t errlen)
{
    /* Under export_lock the tracker cannot be freed (start frees a retired
     * one under it). The GIL is never waited for: frames named before (by
     * an export with the GIL) are named fully, others from the code object
     * read without it (the function's first line). */
    pthread_mutex_lock(&export_lock);
    pp_heap *h = atomic_load(&active);
    pp_profile *p = h ? export_locked(h, inuse_default, 0) : NULL;
    pthread_mutex_unlock(&export_lock);
    if (!h)
        snprintf(err, errlen, "allocation profiling is not running (start it with mode=alloc)");
    else if (!p)
        snprintf(err, errlen, "out of memory exporting the allocation profile");
    return p;
}

/* ------------------------------------------------------------ lifecycle */

/* "pymalloc" when the three domains have CPython's default allocators
 * (raw: malloc, mem and object: pymalloc) and nothing is hooked on them. A
 * CPython API of the non-limited headers since 3.8, looked up at run time so
 * that an interpreter without it loads this module all the same. */
static int allocators_are_pymalloc(void)
{
    const char *(*name_fn)(void);
    void *sym = dlsym(RTLD_DEFAULT, "_PyMem_GetCurrentAllocatorName");
    if (!sym)
        return 0;
    memcpy(&name_fn, &sym, sizeof sym); /* ISO C has no void* -> function cast */
    const char *name = name_fn();
    return name && strcmp(name, "pymalloc") == 0;
}

static void install_hooks(void)
{
    if (!domains[0].installed && !domains[1].installed && !domains[2].installed)
        free_via_raw = allocators_are_pymalloc();
    for (int i = 0; i < 3; i++) {
        hook_domain *d = &domains[i];
        if (d->installed)
            continue; /* still in the chain from an earlier profile */
        PyMemAllocatorEx ours = {d, hook_malloc, hook_calloc, hook_realloc, hook_free};
        if (d->domain == PYMEM_DOMAIN_RAW)
            ours = (PyMemAllocatorEx){d, raw_malloc, raw_calloc, raw_realloc, hook_free};
        else if (free_via_raw && d == MEM_DOMAIN)
            ours = (PyMemAllocatorEx){NULL, mem_malloc, mem_calloc, mem_realloc, NULL};
        else if (free_via_raw)
            ours = (PyMemAllocatorEx){NULL, obj_malloc, obj_calloc, obj_realloc, NULL};
        PyMem_GetAllocator(d->domain, &d->prev);
        if (!ours.free) {
            ours.ctx = d->prev.ctx;
            ours.free = d->prev.free;
        }
        PyMem_SetAllocator(d->domain, &ours);
        d->installed = 1;
    }
}

/* Puts back what was there before, where ours are still on top. Where
 * someone installed theirs above ours since (tracemalloc started after us),
 * ours stay in their chain, idle: taking them out would cut theirs off. */
static void uninstall_hooks(void)
{
    for (int i = 2; i >= 0; i--) {
        hook_domain *d = &domains[i];
        if (!d->installed)
            continue;
        PyMemAllocatorEx cur;
        PyMem_GetAllocator(d->domain, &cur);
        if (is_ours(&cur, d)) {
            PyMem_SetAllocator(d->domain, &d->prev);
            d->installed = 0;
        }
    }
}

static PyObject *mod_alloc_start(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *opts = NULL;
    if (!PyArg_ParseTuple(args, "|O:alloc_start", &opts))
        return NULL;
    pp_options o;
    if (options_from_dict(opts, &o) != 0)
        return NULL;
    if (atomic_load(&active)) {
        PyErr_SetString(PolyprofError, "allocation profiling is already running in this process; stop it first "
                                       "(polyprof.stop())");
        return NULL;
    }
    if (pp_fault_guard_install() != 0) {
        PyErr_SetString(PolyprofError, "cannot install the fault guard (SIGSEGV handler)");
        return NULL;
    }
    pp_heap *h = pp_heap_new(o.alloc_interval, o.max_memory);
    if (!h)
        return PyErr_NoMemory();
    pthread_mutex_lock(&export_lock);
    pp_heap_free(retired);
    retired = NULL;
    pthread_mutex_unlock(&export_lock);
    interval_bytes = o.alloc_interval;
    with_native = o.native;
    max_depth = o.depth;
    atomic_store(&truncated_samples, 0);
    truncated_window_start = 0;
    if (with_native) {
        n_eval_ranges = pp_py_eval_loop(eval_ranges, PP_MAX_RANGES);
        if (pp_symbols_object_range((uintptr_t)&record, &own_range) != 0)
            own_range = (pp_addr_range){0, 0};
    }
    atomic_fetch_add(&generation, 1);
    install_hooks();
    atomic_store_explicit(&active, h, memory_order_release);
    Py_RETURN_NONE;
}

int pp_py_alloc_running(void) { return atomic_load(&active) != NULL; }

static pp_heap *running_heap(void)
{
    pp_heap *h = atomic_load(&active);
    if (!h)
        PyErr_SetString(PolyprofError, "allocation profiling is not running");
    return h;
}

static PyObject *mod_alloc_stop(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    pp_heap *h = running_heap();
    if (!h)
        return NULL;
    atomic_store(&active, NULL);
    uninstall_hooks();
    pp_profile *p = export_heap(h, 0, 0);
    retired = h;
    return wrap_profile(p);
}

static PyObject *mod_alloc_snapshot(PyObject *m, PyObject *args, PyObject *kw)
{
    (void)m;
    static char *kwlist[] = {"inuse", "rotate", NULL};
    int inuse = 0, rotate = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|pp:alloc_snapshot", kwlist, &inuse, &rotate))
        return NULL;
    pp_heap *h = running_heap();
    if (!h)
        return NULL;
    return wrap_profile(export_heap(h, inuse, rotate));
}

static PyObject *mod_alloc_running(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    return PyBool_FromLong(atomic_load(&active) != NULL);
}

/* {domain: "top" | "chained" | "none"}: where our hooks are (tests). */
static PyObject *mod_alloc_hooks(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    PyObject *out = PyDict_New();
    for (int i = 0; out && i < 3; i++) {
        PyMemAllocatorEx cur;
        PyMem_GetAllocator(domains[i].domain, &cur);
        const char *where = is_ours(&cur, &domains[i]) ? "top" : domains[i].installed ? "chained" : "none";
        PyObject *v = PyUnicode_FromString(where);
        if (!v || PyDict_SetItemString(out, domains[i].name, v) != 0) {
            Py_XDECREF(v);
            Py_CLEAR(out);
            break;
        }
        Py_DECREF(v);
    }
    return out;
}

static void forget_in_child(void)
{
    /* The parent's tracker may be locked by a thread that does not exist
     * here: the child leaves it alone (leaked) and starts idle. */
    atomic_store(&active, NULL);
    retired = NULL;
    tl.busy = 0;
    atomic_store(&exporting, 0);
    n_deferred = 0;
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER, fresh2 = PTHREAD_MUTEX_INITIALIZER;
    export_lock = fresh;
    defer_lock = fresh2;
}

static PyMethodDef alloc_methods[] = {
    {"alloc_start", mod_alloc_start, METH_VARARGS,
     "alloc_start(options={}): sample allocations (alloc_interval, memory, native keys)"},
    {"alloc_stop", mod_alloc_stop, METH_NOARGS, "alloc_stop() -> NativeProfile; restores the allocators"},
    {"alloc_snapshot", (PyCFunction)(void (*)(void))mod_alloc_snapshot, METH_VARARGS | METH_KEYWORDS,
     "alloc_snapshot(inuse=False, rotate=False) -> NativeProfile so far (rotate: alloc values start afresh)"},
    {"alloc_running", mod_alloc_running, METH_NOARGS, "whether allocation profiling runs"},
    {"alloc_hooks", mod_alloc_hooks, METH_NOARGS, "{domain: top|chained|none}"},
    {NULL, NULL, 0, NULL},
};

int add_alloc(PyObject *m)
{
    static int atfork_done;
    if (!atfork_done && pthread_atfork(NULL, NULL, forget_in_child) == 0)
        atfork_done = 1;
    return PyModule_AddFunctions(m, alloc_methods);
}
