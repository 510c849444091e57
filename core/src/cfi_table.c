#include "cfi_table.h"

#include "cfi_blocks.h"
#include "fault_guard.h"
#include "signal_path.h"

#include <link.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* One row as the handler reads it: 12 bytes, pc as an offset from the
 * object's lowest covered pc. */
typedef struct compact_row {
    uint32_t pc_offset;
    int32_t cfa_offset;
    int16_t rbp_offset;
    uint8_t kind;
} compact_row;

/* What an object's rows are. A placeholder stands for an object listed
 * but not parsed: one FALLBACK row over its executable segments, which the
 * lookup answers from the one FDE covering the pc instead (search_fde), and
 * the sample is flagged for the drain thread, which asks for the real table
 * (pp_cfi_table_want). An object whose .eh_frame gave no rows keeps a GAP
 * row instead: the walk treats it as code without CFI, as before. */
enum { OBJ_PLACEHOLDER, OBJ_BUILT, OBJ_EMPTY };

typedef struct cfi_object {
    uintptr_t lo, hi;       /* pcs covered: [lo, hi) */
    uintptr_t base, hdr;    /* identity: load bias and .eh_frame_hdr address */
    uintptr_t seg_start;    /* the loadable segment holding .eh_frame_hdr, */
    size_t seg_len;         /* parsed when the table is wanted */
    uint64_t fdes, fdes_skipped;
    int marked;             /* scratch for collect_garbage */
    int state;              /* OBJ_*; off the signal path only */
    int replaced;           /* a later object has this identity's table */
    _Atomic int wanted;     /* a placeholder samples needed: set by the drain thread */
    size_t listed_fdes;     /* a placeholder's FDEs, as its header counts them */
    uint32_t misses_seen;   /* samples that read its FDEs, counted by the drain thread (under the sampler's drain lock) */
    /* Where the search for a pc starts and ends: a pc at offset off lies
     * in rows [bucket_first[k], bucket_first[k + 1]] with k = off >> shift,
     * a few rows in one or two cache lines. A binary search of a large
     * object's rows (node's: ~20 steps over megabytes) is one cache miss a
     * step, most of them misses all the way to memory, and so the most a
     * sample costs: each sample meets a pc or two the rule cache lacks. */
    const uint32_t *bucket_first; /* NULL: search all rows */
    uint32_t n_buckets;
    uint8_t bucket_shift;
    /* A placeholder's like index of its .eh_frame_hdr table, made by the
     * drain thread at the object's first FDE read (pp_cfi_table_want):
     * the table of a large object is megabytes, and its binary search
     * costs a read like the rows'. Published by the release store of
     * fde_first (fde_shift and n_fde_buckets before it); freed with the
     * object. */
    _Atomic(uint32_t *) fde_first;
    uint32_t n_fde_buckets;
    uint8_t fde_shift;
    uint32_t n;
    compact_row rows[]; /* then the n_buckets + 1 entries of bucket_first */
} cfi_object;

/* Rules found, by pc: one 64-bit word per entry, so handlers on several
 * threads can write and read it with plain atomic stores and loads and never
 * see half of one entry. A hit costs one memory access where the two binary
 * searches cost ~20, most of them cache misses when the profiled program
 * has pushed the tables out of the caches between samples. The cache lives
 * in its set: a new set (objects loaded or unloaded) starts empty.
 * Two ways per index, in one 16-byte pair (one cache line): a pc new to
 * the cache goes in way 0 and moves way 0's entry to way 1. Direct-mapped,
 * each sample's new pcs (the interrupted one, mostly) evicted pcs its next
 * stacks needed again: ~0.2 lookups a Node sample, each an FDE read.
 *   bits 0-2   what the lookup found + 1 (0: empty entry; PLT rows are not
 *              cached, their threshold does not fit)
 *   bits 3-10  -rbp_offset / 8 (0: rbp unchanged)
 *   bits 11-27 cfa_offset
 *   bits 28-63 pc >> CACHE_INDEX_BITS (the rest of pc is the pair's index) */
#define CACHE_INDEX_BITS 13 /* 8192 pairs, 16384 entries, 128 KiB */
#define CACHE_ENTRIES (2u << CACHE_INDEX_BITS)
#define CACHE_TAG_SHIFT 28
#define CACHE_CFA_BITS 17
#define CACHE_MAX_PC (1ull << (64 - CACHE_TAG_SHIFT + CACHE_INDEX_BITS))
#define CACHE_WORDS (CACHE_ENTRIES + PP_CFI_BLOCKS) /* the cache, then the blocks */
/* Cached like a kind: JIT code is looked up often. A pc between an
 * object's FDEs is cached as this too: the unwinder treats both alike. */
#define FOUND_NO_OBJECT 6
#define NOT_COVERED (-2) /* search(): inside an object, between its FDEs */

typedef struct object_span {
    uintptr_t lo, hi;
} object_span;

typedef struct cfi_set {
    struct cfi_set *retired_next;
    _Atomic uint64_t *cache;
    /* Rules of placeholders' code by block (cfi_blocks.h), filled by the
     * drain thread; in the same allocation as cache, after its entries. */
    _Atomic uint64_t *blocks;
    /* objs[i]'s range, side by side: the search for a pc's object reads a
     * line or two, not one object header per step. */
    const object_span *spans;
    size_t n;
    cfi_object *objs[]; /* sorted by lo, ranges disjoint; then the n spans */
} cfi_set;

static cfi_object *object_at(const cfi_set *s, uintptr_t pc);

static _Atomic(cfi_set *) published;
static _Atomic int missed; /* set by handlers, cleared by the drain thread */
static _Atomic int want_pending; /* a placeholder was wanted since the last build started */
static _Atomic int garbage;      /* a set was retired since the last collect_garbage */
static _Atomic uint64_t fde_reads, block_hits; /* pp_cfi_table_reads */

/* Off the signal path only. */
static pthread_mutex_t build_lock = PTHREAD_MUTEX_INITIALIZER;
static cfi_set *retired;
static cfi_object **owned; /* every table built and not yet freed */
static size_t n_owned, cap_owned;
static unsigned long long link_map_adds, link_map_subs;
static uint64_t refreshes, builds;

static int cmp_row(const void *a, const void *b)
{
    const pp_cfi_row *x = a, *y = b;
    return x->pc < y->pc ? -1 : x->pc > y->pc;
}

/* Rows per bucket, on average: a bucket's rows fit in two cache lines. */
#define ROWS_PER_BUCKET 8

/* The bucket size, as a shift, for about per_bucket of n entries a bucket
 * over span bytes of code. */
static uint8_t bucket_shift_for(uint64_t span, size_t n, unsigned per_bucket)
{
    uint8_t shift = 4;
    while (shift < 24 && ((uint64_t)1 << (shift + 1)) * n <= span * per_bucket)
        shift++;
    return shift;
}

/* bucket_first[k]: how many rows start at or below offset k << shift, the
 * count a search from bucket k's first offset would find. */
static void fill_buckets(cfi_object *o, uint32_t *first)
{
    uint32_t a = 0;
    for (uint32_t k = 0; k < o->n_buckets; k++) {
        uint64_t start = (uint64_t)k << o->bucket_shift;
        while (a < o->n && o->rows[a].pc_offset <= start)
            a++;
        first[k] = a;
    }
    first[o->n_buckets] = o->n;
    o->bucket_first = first;
}

/* Sorted rows of one object, made compact; identical neighbours merged. */
static cfi_object *object_from_rows(pp_cfi_rows *rows, uintptr_t base, uintptr_t hdr)
{
    if (!rows->n)
        return NULL;
    /* FDEs come in the header's order (sorted by pc): rows are sorted
     * already unless FDEs overlap. */
    int sorted = 1;
    for (size_t i = 1; i < rows->n && sorted; i++)
        sorted = rows->rows[i - 1].pc <= rows->rows[i].pc;
    if (!sorted)
        qsort(rows->rows, rows->n, sizeof *rows->rows, cmp_row);
    uint64_t lo = rows->rows[0].pc, hi = rows->rows[rows->n - 1].pc;
    if (hi <= lo || hi - lo > UINT32_MAX)
        return NULL; /* one object spanning 4 GiB of code: not a real one */
    size_t n = 0;
    for (size_t i = 0; i < rows->n; i++) {
        const pp_cfi_row *r = &rows->rows[i];
        if (n && (rows->rows[n - 1].pc == r->pc || (rows->rows[n - 1].kind == r->kind &&
                                                    rows->rows[n - 1].cfa_offset == r->cfa_offset &&
                                                    rows->rows[n - 1].rbp_offset == r->rbp_offset))) {
            if (rows->rows[n - 1].pc == r->pc)
                rows->rows[n - 1] = *r; /* an FDE starting where another ended */
            continue;
        }
        rows->rows[n++] = *r;
    }
    uint8_t shift = bucket_shift_for(hi - lo, n, ROWS_PER_BUCKET);
    uint32_t n_buckets = (uint32_t)((hi - lo - 1) >> shift) + 1;
    cfi_object *o = malloc(sizeof *o + n * sizeof o->rows[0] + ((size_t)n_buckets + 1) * sizeof(uint32_t));
    if (!o)
        return NULL;
    o->lo = (uintptr_t)lo;
    o->hi = (uintptr_t)hi;
    o->base = base;
    o->hdr = hdr;
    o->fdes = rows->fdes;
    o->fdes_skipped = rows->fdes_skipped;
    o->marked = 0;
    o->state = OBJ_BUILT;
    o->replaced = 0;
    atomic_init(&o->wanted, 0);
    o->listed_fdes = 0;
    o->misses_seen = 0;
    o->n = (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        const pp_cfi_row *r = &rows->rows[i];
        o->rows[i] = (compact_row){(uint32_t)(r->pc - lo), r->cfa_offset, r->rbp_offset, r->kind};
    }
    o->bucket_shift = shift;
    o->n_buckets = n_buckets;
    fill_buckets(o, (uint32_t *)(void *)&o->rows[n]);
    atomic_init(&o->fde_first, NULL);
    o->n_fde_buckets = 0;
    o->fde_shift = 0;
    return o;
}

typedef struct build {
    cfi_object **objs;
    size_t n, cap;
    int oom;
} build;

static cfi_object *find_owned(uintptr_t base, uintptr_t hdr)
{
    for (size_t i = 0; i < n_owned; i++)
        if (owned[i]->base == base && owned[i]->hdr == hdr && !owned[i]->replaced)
            return owned[i];
    return NULL;
}

static int push_ptr(cfi_object ***arr, size_t *n, size_t *cap, cfi_object *o)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        cfi_object **a = realloc(*arr, c * sizeof *a);
        if (!a)
            return -1;
        *arr = a;
        *cap = c;
    }
    (*arr)[(*n)++] = o;
    return 0;
}

/* The segment holding an object's .eh_frame_hdr, read in place, its
 * addresses those the object runs at. */
PP_SIGNAL_PATH static pp_eh_frame_view view_of(uintptr_t seg_start, size_t seg_len, uintptr_t hdr)
{
    return (pp_eh_frame_view){(const uint8_t *)seg_start, seg_len, seg_start, hdr - seg_start};
}

/* An object as dl_iterate_phdr lists it: where its .eh_frame_hdr is, and
 * the loadable segment holding it (and, in every linker's layout, the
 * .eh_frame beside it; the whole segment is mapped and readable, unlike the
 * gaps between segments). */
typedef struct candidate {
    uintptr_t base, hdr, seg_start;
    size_t seg_len;
    uintptr_t code_lo, code_hi; /* the executable segments' span */
    size_t fdes;                /* as the header's table counts them */
} candidate;

/* Filled inside dl_iterate_phdr's callback, which must not allocate: the
 * callback runs under the loader's lock, and a signal handler that
 * interrupted a thread inside malloc may be waiting for that lock in
 * libunwind's slow path (its own dl_iterate_phdr) while holding the
 * malloc arena's lock that an allocation here would wait for. The array is
 * sized before the call; a callback that runs out of room stops the listing
 * and the caller lists again with more. */
typedef struct candidates {
    candidate *items;
    size_t n, cap;
    int overflow;
} candidates;

static int list_object(struct dl_phdr_info *info, size_t size, void *arg);

static int count_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)info;
    (void)size;
    ++*(size_t *)arg;
    return 0;
}

/* Off the signal path: the loaded objects with unwind information; 0, or -1
 * when out of memory (list->items NULL). */
static int list_objects(candidates *list)
{
    size_t count = 0;
    dl_iterate_phdr(count_object, &count);
    size_t cap = count + 16; /* objects loaded between the two calls */
    for (;;) {
        *list = (candidates){calloc(cap, sizeof(candidate)), 0, cap, 0};
        if (!list->items)
            return -1;
        dl_iterate_phdr(list_object, list);
        if (!list->overflow)
            return 0;
        free(list->items);
        cap *= 2;
    }
}

static int list_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    candidates *list = arg;
    (void)size;
    const ElfW(Phdr) *eh = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_GNU_EH_FRAME)
            eh = &info->dlpi_phdr[i];
    if (!eh)
        return 0;
    const ElfW(Phdr) *seg = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *p = &info->dlpi_phdr[i];
        if (p->p_type == PT_LOAD && (p->p_flags & PF_R) && eh->p_vaddr >= p->p_vaddr &&
            eh->p_vaddr - p->p_vaddr < p->p_memsz)
            seg = p;
    }
    uintptr_t code_lo = UINTPTR_MAX, code_hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *p = &info->dlpi_phdr[i];
        if (p->p_type != PT_LOAD || !(p->p_flags & PF_X) || !p->p_memsz)
            continue;
        uintptr_t lo = (uintptr_t)info->dlpi_addr + p->p_vaddr;
        if (lo < code_lo)
            code_lo = lo;
        if (lo + p->p_memsz > code_hi)
            code_hi = lo + p->p_memsz;
    }
    if (!seg || code_hi <= code_lo || code_hi - code_lo > UINT32_MAX)
        return 0;
    if (list->n == list->cap) {
        list->overflow = 1;
        return 1;
    }
    candidate *c = &list->items[list->n++];
    *c = (candidate){(uintptr_t)info->dlpi_addr, (uintptr_t)info->dlpi_addr + eh->p_vaddr,
                     (uintptr_t)info->dlpi_addr + seg->p_vaddr, seg->p_memsz, code_lo, code_hi, 0};
    /* The header's first bytes only; the object cannot be unloaded while
     * the loader lists it. */
    pp_eh_frame_view v = view_of(c->seg_start, c->seg_len, c->hdr);
    c->fdes = pp_eh_frame_fde_count(&v);
    return 0;
}

/* Parsed outside the loader's lock: holding it for the tens of milliseconds
 * a large binary's tables take would stall every dlopen, and every sample
 * libunwind finishes (its dl_iterate_phdr), for as long. An object
 * dlclose'd meanwhile would fault the reads: they run under the fault
 * guard, and such an object is dropped. Without the guard (another SIGSEGV
 * handler displaced it) new objects get no table: libunwind unwinds them. */
static cfi_object *parse_object(const candidate *c)
{
    pp_cfi_rows *rows = calloc(1, sizeof *rows); /* on the heap: kept across a fault's jump */
    if (!rows)
        return NULL;
    volatile int parsed = 0;
    sigjmp_buf jb;
    if (pp_fault_guard_enter(&jb) == 0) {
        if (sigsetjmp(jb, 0) == 0) {
            pp_eh_frame_view v = view_of(c->seg_start, c->seg_len, c->hdr);
            parsed = pp_eh_frame_parse(&v, rows) == 0 || rows->n;
        }
        pp_fault_guard_leave();
    }
    cfi_object *o = parsed ? object_from_rows(rows, c->base, c->hdr) : NULL;
    pp_cfi_rows_free(rows);
    free(rows);
    if (o) {
        o->seg_start = c->seg_start;
        o->seg_len = c->seg_len;
    }
    return o;
}

/* How many samples must have read an object's FDEs in the handler before
 * its table is built. A build costs ~0.3 us an FDE, once; a sample whose
 * frames' rules are read from FDEs costs a few microseconds more than one
 * through a table, and only samples with pcs the rule cache has not seen
 * read FDEs at all. An object of up to free_build_fdes FDEs (a build of
 * about 2 ms: libc, libpython) has its table built at its first such
 * sample; a larger one (node's executable: 76k FDEs, ~21 ms; libjvm's
 * 60k) once the reads have cost about what the rest of the build would,
 * one sample per fdes_per_miss FDEs past the first free_build_fdes, so a
 * short profile of a large program pays no build its samples did not
 * need. Tests change both (pp_cfi_table_set_want_policy). */
static size_t free_build_fdes = 6144;
static uint32_t fdes_per_miss = 16;

void pp_cfi_table_set_want_policy(size_t free_fdes, uint32_t per_miss)
{
    free_build_fdes = free_fdes;
    fdes_per_miss = per_miss ? per_miss : 1;
}

static uint32_t misses_needed(const cfi_object *o)
{
    size_t past = o->listed_fdes > free_build_fdes ? o->listed_fdes - free_build_fdes : 0;
    return (uint32_t)(1 + past / fdes_per_miss);
}

/* An object listed without parsing its .eh_frame: a handful of
 * microseconds where a parse takes milliseconds (node's executable: tens).
 * kind PP_CFI_FALLBACK for a placeholder, PP_CFI_GAP for an object whose
 * .eh_frame gave no rows. */
static cfi_object *placeholder(const candidate *c, uint8_t kind)
{
    cfi_object *o = malloc(sizeof *o + 2 * sizeof o->rows[0]);
    if (!o)
        return NULL;
    o->lo = c->code_lo;
    o->hi = c->code_hi;
    o->base = c->base;
    o->hdr = c->hdr;
    o->seg_start = c->seg_start;
    o->seg_len = c->seg_len;
    o->fdes = o->fdes_skipped = 0;
    o->marked = 0;
    o->state = kind == PP_CFI_GAP ? OBJ_EMPTY : OBJ_PLACEHOLDER;
    o->replaced = 0;
    atomic_init(&o->wanted, 0);
    o->listed_fdes = c->fdes;
    o->misses_seen = 0;
    o->bucket_first = NULL;
    o->n_buckets = 0;
    o->bucket_shift = 0;
    atomic_init(&o->fde_first, NULL);
    o->n_fde_buckets = 0;
    o->fde_shift = 0;
    o->n = 2;
    o->rows[0] = (compact_row){0, 0, PP_CFI_RBP_UNCHANGED, kind};
    o->rows[1] = (compact_row){(uint32_t)(c->code_hi - c->code_lo), 0, PP_CFI_RBP_UNCHANGED, PP_CFI_GAP};
    return o;
}

static int cmp_object(const void *a, const void *b)
{
    const cfi_object *x = *(cfi_object *const *)a, *y = *(cfi_object *const *)b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static int note_link_map(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)arg;
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) {
        link_map_adds = info->dlpi_adds;
        link_map_subs = info->dlpi_subs;
    }
    return 1; /* the counters are the same in every entry: one is enough */
}

/* What a refresh parses: every listed object's .eh_frame (what a caller
 * that wants every table at once asks for), or only the placeholders a
 * sample needed, new objects getting placeholders. */
enum { BUILD_ALL, BUILD_WANTED };

/* The table for c: the object already owned, or a new one (parsed or a
 * placeholder, as mode and what samples wanted say). NULL when out of
 * memory. */
static cfi_object *object_for(const candidate *c, int mode, int *oom)
{
    cfi_object *o = find_owned(c->base, c->hdr);
    if (o && (o->state != OBJ_PLACEHOLDER || (mode == BUILD_WANTED && !atomic_load(&o->wanted))))
        return o;
    cfi_object *made;
    if (!o && mode == BUILD_WANTED) {
        made = placeholder(c, PP_CFI_FALLBACK);
    } else {
        made = parse_object(c);
        if (!made)
            made = placeholder(c, PP_CFI_GAP);
        builds++;
    }
    if (!made || push_ptr(&owned, &n_owned, &cap_owned, made) != 0) {
        free(made);
        *oom = 1;
        return NULL;
    }
    /* The placeholder stays owned (a handler may be reading it in the set
     * published now) until collect_garbage finds it in no set. */
    if (o)
        o->replaced = 1;
    return made;
}

/* Whether objs are the objects of set s, some of them built since from
 * their placeholders: then every rule s's cache holds is what the new set
 * would find (a table gives the rules its placeholder's FDE reads gave),
 * and the new set starts with them, not with every pc cold, as it must
 * when objects were loaded or unloaded (entries for pcs in no object, or
 * in an object gone, would be wrong). */
static int same_objects(const cfi_set *s, cfi_object *const *objs, size_t n)
{
    if (s->n != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        int listed = 0;
        for (size_t k = 0; k < n && !listed; k++)
            listed = s->objs[k]->base == objs[i]->base && s->objs[k]->hdr == objs[i]->hdr;
        if (!listed)
            return 0;
    }
    return 1;
}

static int refresh_locked(int mode)
{
    candidates list;
    dl_iterate_phdr(note_link_map, NULL);
    if (list_objects(&list) != 0)
        return -1;
    build b = {0};
    for (size_t i = 0; i < list.n && !b.oom; i++) {
        cfi_object *o = object_for(&list.items[i], mode, &b.oom);
        if (o && push_ptr(&b.objs, &b.n, &b.cap, o) != 0)
            b.oom = 1;
    }
    int oom = b.oom;
    free(list.items);
    if (oom) {
        free(b.objs);
        return -1;
    }
    qsort(b.objs, b.n, sizeof *b.objs, cmp_object);
    /* Overlapping ranges cannot happen between objects really loaded; drop
     * any that would make the binary search ambiguous. */
    size_t n = 0;
    for (size_t i = 0; i < b.n; i++)
        if (!n || b.objs[i]->lo >= b.objs[n - 1]->hi)
            b.objs[n++] = b.objs[i];
    /* Nothing new (a wanted placeholder another build already replaced):
     * the published set stays, and so does its cache. */
    cfi_set *cur = atomic_load(&published);
    if (cur && cur->n == n && !memcmp(cur->objs, b.objs, n * sizeof *b.objs)) {
        free(b.objs);
        return (int)n;
    }
    cfi_set *s = malloc(sizeof *s + n * sizeof s->objs[0] + n * sizeof(object_span));
    if (!s) {
        free(b.objs);
        return -1;
    }
    s->retired_next = NULL;
    s->cache = aligned_alloc(64, CACHE_WORDS * sizeof *s->cache);
    if (!s->cache) {
        free(s);
        free(b.objs);
        return -1;
    }
    /* Every entry is written here, a copy of the old set's or zero: the
     * memory is not zeroed, and its pages are faulted in before any
     * handler can see the set. */
    if (cur && same_objects(cur, b.objs, n)) {
        for (size_t i = 0; i < CACHE_WORDS; i++)
            atomic_store_explicit(&s->cache[i], atomic_load_explicit(&cur->cache[i], memory_order_relaxed),
                                  memory_order_relaxed);
    } else {
        for (size_t i = 0; i < CACHE_WORDS; i++)
            atomic_store_explicit(&s->cache[i], 0, memory_order_relaxed);
    }
    s->blocks = s->cache + CACHE_ENTRIES;
    s->n = n;
    memcpy(s->objs, b.objs, n * sizeof *b.objs);
    object_span *spans = (object_span *)(void *)&s->objs[n];
    for (size_t i = 0; i < n; i++)
        spans[i] = (object_span){s->objs[i]->lo, s->objs[i]->hi};
    s->spans = spans;
    free(b.objs);
    /* Release: a handler that loads the new pointer sees the set's
     * contents as written here. */
    cfi_set *old = atomic_exchange_explicit(&published, s, memory_order_acq_rel);
    if (old) {
        old->retired_next = retired;
        retired = old;
        atomic_store_explicit(&garbage, 1, memory_order_relaxed);
    }
    refreshes++;
    return (int)n;
}

/* A fork while a build runs leaves the child's build_lock held by a thread
 * the child does not have: the child starts with a fresh lock (what the
 * builder had published or listed as owned stays consistent: each is one
 * pointer store or a store then a count). */
static _Atomic int builder_running;
static void fork_child(void)
{
    pthread_mutex_init(&build_lock, NULL);
    atomic_store(&builder_running, 0);
}
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void register_atfork(void) { pthread_atfork(NULL, NULL, fork_child); }

int pp_cfi_table_refresh(void)
{
    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&build_lock);
    int r = refresh_locked(BUILD_ALL);
    pthread_mutex_unlock(&build_lock);
    return r;
}

/* Caller holds build_lock. */
static int link_map_changed_locked(void)
{
    unsigned long long adds = link_map_adds, subs = link_map_subs;
    dl_iterate_phdr(note_link_map, NULL);
    return adds != link_map_adds || subs != link_map_subs;
}

int pp_cfi_table_list(void)
{
    pthread_once(&atfork_once, register_atfork);
    /* A build under way (started by an earlier session) lists the objects
     * itself: no wait for it here. */
    if (pthread_mutex_trylock(&build_lock) != 0)
        return 0;
    int r = 0;
    if (!atomic_load(&published) || link_map_changed_locked())
        r = refresh_locked(BUILD_WANTED);
    pthread_mutex_unlock(&build_lock);
    return r;
}

/* FDEs per bucket of a placeholder's index, on average: a bucket's table
 * entries fit in one or two cache lines. */
#define FDES_PER_BUCKET 8

/* The drain thread: a placeholder's index of its FDEs (fde_first). Above
 * free_build_fdes only: a smaller object's table is built at once. One pass
 * over the header's table (node's 131k entries: well under a millisecond),
 * inside a fault guard (the object may be unloaded meanwhile). Left NULL
 * when the header cannot be indexed or memory is short: the reads then
 * search the whole table, as before. */
static int read_fde_index(const cfi_object *o, uint8_t shift, uint32_t *first, uint32_t n_buckets)
{
    volatile int ok = 0;
    sigjmp_buf jb;
    if (pp_fault_guard_enter(&jb) == 0) {
        if (sigsetjmp(jb, 0) == 0) {
            pp_eh_frame_view v = view_of(o->seg_start, o->seg_len, o->hdr);
            ok = pp_eh_frame_index(&v, o->lo, shift, first, n_buckets) == 0;
        }
        pp_fault_guard_leave();
    }
    return ok;
}

static void index_fdes(cfi_object *o)
{
    if (o->listed_fdes <= free_build_fdes || o->hi <= o->lo)
        return;
    uint8_t shift = bucket_shift_for(o->hi - o->lo, o->listed_fdes, FDES_PER_BUCKET);
    uint64_t n_buckets = ((o->hi - o->lo - 1) >> shift) + 1;
    if (n_buckets > UINT32_MAX - 1)
        return;
    uint32_t *first = malloc((n_buckets + 1) * sizeof *first);
    if (!first)
        return;
    if (!read_fde_index(o, shift, first, (uint32_t)n_buckets)) {
        free(first);
        return;
    }
    o->fde_shift = shift;
    o->n_fde_buckets = (uint32_t)n_buckets;
    atomic_store_explicit(&o->fde_first, first, memory_order_release);
}

/* Bytes either side of a pc whose blocks get its FDE's rows: a hot
 * function's pcs are mostly near one another, and a huge function (V8's
 * interpreter generators run to hundreds of KiB) is not spread over the
 * blocks' words. */
#define FILL_WINDOW 4096

/* The entries of a placeholder's .eh_frame_hdr table among which pc's FDE
 * is, from its index (fde_first): [*from, *to), or the whole table before
 * the index is made. */
PP_SIGNAL_PATH static void fde_bounds(const cfi_object *o, uintptr_t pc, uint64_t *from, uint64_t *to)
{
    *from = 0;
    *to = UINT64_MAX;
    const uint32_t *first = atomic_load_explicit(&o->fde_first, memory_order_acquire);
    if (first) {
        uint64_t k = (pc - o->lo) >> o->fde_shift;
        if (k < o->n_fde_buckets) {
            *from = first[k];
            *to = first[k + 1];
        }
    }
}

/* The drain thread: the rows of pc's FDE by block, unless pc's block has a
 * rule for pc already. Reads the placeholder's .eh_frame inside a fault
 * guard (the object may be unloaded meanwhile). */
static void fill_blocks(const cfi_set *s, const cfi_object *o, uintptr_t pc)
{
    pp_cfi_rule have;
    if (pp_cfi_blocks_lookup(s->blocks, pc, &have))
        return;
    static pp_cfi_rows rows; /* kept between calls, which the caller serializes */
    rows.n = 0;
    uint64_t from, to;
    fde_bounds(o, pc, &from, &to);
    volatile int ok = 0;
    sigjmp_buf jb;
    if (pp_fault_guard_enter(&jb) == 0) {
        if (sigsetjmp(jb, 0) == 0) {
            pp_eh_frame_view v = view_of(o->seg_start, o->seg_len, o->hdr);
            ok = pp_eh_frame_fde_rows_within(&v, pc, from, to, &rows) == 0;
        }
        pp_fault_guard_leave();
    }
    if (ok)
        pp_cfi_blocks_fill(s->blocks, rows.rows, rows.n, pc, FILL_WINDOW, o->lo, o->hi);
}

void pp_cfi_table_want(const uintptr_t *frames, size_t n)
{
    const cfi_set *s = atomic_load_explicit(&published, memory_order_acquire);
    if (!s)
        return;
    /* A stack's frames come in runs of one object: the last object found
     * is tried first. */
    cfi_object *o = NULL, *counted[16];
    size_t n_counted = 0;
    for (size_t i = 0; i < n; i++) {
        /* A return address may be one past its call's object (a call as
         * a function's last instruction at the object's end). */
        uintptr_t pc = i ? frames[i] - 1 : frames[i];
        if (!o || pc < o->lo || pc >= o->hi)
            o = object_at(s, pc);
        if (!o || o->state != OBJ_PLACEHOLDER)
            continue;
        if (!atomic_load_explicit(&o->fde_first, memory_order_relaxed))
            index_fdes(o);
        fill_blocks(s, o, pc);
        if (atomic_load_explicit(&o->wanted, memory_order_relaxed))
            continue;
        int seen = 0; /* one count a sample, however many frames it has there */
        for (size_t j = 0; j < n_counted && !seen; j++)
            seen = counted[j] == o;
        if (seen)
            continue;
        if (n_counted < sizeof counted / sizeof counted[0])
            counted[n_counted++] = o;
        if (++o->misses_seen >= misses_needed(o)) {
            atomic_store(&o->wanted, 1);
            atomic_store(&want_pending, 1);
        }
    }
}

static void *builder_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&build_lock);
    refresh_locked(BUILD_WANTED);
    pthread_mutex_unlock(&build_lock);
    atomic_store(&builder_running, 0);
    return NULL;
}

void pp_cfi_table_refresh_if_missed(void)
{
    if (atomic_load(&builder_running))
        return;
    int want = !atomic_load(&published) || atomic_exchange(&want_pending, 0);
    if (!want) {
        if (!atomic_exchange_explicit(&missed, 0, memory_order_relaxed))
            return;
        pthread_mutex_lock(&build_lock);
        want = link_map_changed_locked();
        pthread_mutex_unlock(&build_lock);
    }
    if (!want)
        return;
    /* A thread of its own: a large binary's tables take tens of
     * milliseconds, which neither the drain nor stop() (joining the drain
     * thread) should wait for. No signal but a fault reaches it: not the
     * profiling signal, and the fault guard's SIGSEGV/SIGBUS for its reads. */
    pthread_once(&atfork_once, register_atfork);
    atomic_store(&builder_running, 1);
    sigset_t all, old;
    sigfillset(&all);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_t t;
    int created = pthread_attr_init(&attr) == 0 && pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0 &&
                  pthread_create(&t, &attr, builder_main, NULL) == 0;
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (created)
        pthread_setname_np(t, "polyprof-cfi");
    else
        atomic_store(&builder_running, 0);
}

/* Caller holds build_lock. */
static void collect_locked(void)
{
    atomic_store_explicit(&garbage, 0, memory_order_relaxed);
    while (retired) {
        cfi_set *next = retired->retired_next;
        free(retired->cache);
        free(retired);
        retired = next;
    }
    cfi_set *cur = atomic_load(&published);
    for (size_t i = 0; i < n_owned; i++)
        owned[i]->marked = 0;
    for (size_t i = 0; cur && i < cur->n; i++)
        cur->objs[i]->marked = 1;
    size_t n = 0;
    for (size_t i = 0; i < n_owned; i++) {
        if (owned[i]->marked) {
            owned[n++] = owned[i];
        } else {
            free(atomic_load_explicit(&owned[i]->fde_first, memory_order_relaxed));
            free(owned[i]);
        }
    }
    n_owned = n;
}

void pp_cfi_table_collect_garbage(void)
{
    /* A build in progress holds the lock: what it replaces waits for a
     * later call. */
    if (pthread_mutex_trylock(&build_lock) != 0)
        return;
    collect_locked();
    pthread_mutex_unlock(&build_lock);
}

void pp_cfi_table_collect_garbage_if_idle(_Atomic int *in_flight)
{
    if (!atomic_load_explicit(&garbage, memory_order_relaxed) || pthread_mutex_trylock(&build_lock) != 0)
        return;
    /* The lock orders this after the replacing store to published. A read
     * of 0 that is a read-modify-write: a handler that comes in later
     * (its increment reads from this one or a later write) loads published
     * after it, so sees the new set; every handler that may have loaded an
     * old one has left. */
    if (atomic_fetch_add(in_flight, 0) == 0)
        collect_locked();
    pthread_mutex_unlock(&build_lock);
}

PP_SIGNAL_PATH static void note_miss(void)
{
    /* Read first: a store from every handler would bounce the line. */
    if (!atomic_load_explicit(&missed, memory_order_relaxed))
        atomic_store_explicit(&missed, 1, memory_order_relaxed);
}

/* What a lookup found, as a cache entry; 0 when it does not fit one. */
PP_SIGNAL_PATH static uint64_t cache_entry(uintptr_t pc, int found, const compact_row *r)
{
    uint64_t what = found == PP_CFI_NO_OBJECT ? FOUND_NO_OBJECT : r->kind;
    uint64_t cfa = 0, rbp = 0;
    if (r) {
        if (r->cfa_offset < 0 || r->cfa_offset >= (1 << CACHE_CFA_BITS) || r->rbp_offset > 0 || r->rbp_offset % 8 ||
            -r->rbp_offset / 8 >= 256)
            return 0;
        cfa = (uint64_t)r->cfa_offset;
        rbp = (uint64_t)(-r->rbp_offset / 8);
    }
    return ((uint64_t)pc >> CACHE_INDEX_BITS) << CACHE_TAG_SHIFT | cfa << 11 | rbp << 3 | (what + 1);
}

PP_SIGNAL_PATH static int from_cache_entry(uint64_t e, pp_cfi_rule *rule)
{
    unsigned what = (unsigned)(e & 7) - 1;
    if (what == FOUND_NO_OBJECT) {
        note_miss();
        return PP_CFI_NO_OBJECT;
    }
    rule->kind = (uint8_t)what;
    rule->rbp_offset = (int16_t)(-(int)((e >> 3) & 0xff) * 8);
    rule->cfa_offset = (int32_t)((e >> 11) & ((1u << CACHE_CFA_BITS) - 1));
    return 0;
}

/* The two ways pc's rule may be cached in. */
PP_SIGNAL_PATH static _Atomic uint64_t *cache_pair(const cfi_set *s, uintptr_t pc)
{
    return &s->cache[(pc & ((1u << CACHE_INDEX_BITS) - 1)) * 2];
}

/* Async-signal-safe: the object of s whose range holds pc, or NULL. */
PP_SIGNAL_PATH static cfi_object *object_at(const cfi_set *s, uintptr_t pc)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) { /* first object with lo > pc */
        size_t mid = lo + (hi - lo) / 2;
        if (s->spans[mid].lo <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo && pc < s->spans[lo - 1].hi ? s->objs[lo - 1] : NULL;
}

PP_SIGNAL_PATH static int search(const cfi_set *s, uintptr_t pc, const compact_row **row, const cfi_object **obj)
{
    *row = NULL;
    const cfi_object *o = object_at(s, pc);
    if (!o)
        return PP_CFI_NO_OBJECT;
    *obj = o;
    uint32_t off = (uint32_t)(pc - o->lo);
    uint32_t a = 0, b = o->n;
    if (o->bucket_first) {
        uint32_t k = off >> o->bucket_shift;
        a = o->bucket_first[k];
        b = o->bucket_first[k + 1];
    }
    while (a < b) { /* first row past off */
        uint32_t mid = a + (b - a) / 2;
        if (o->rows[mid].pc_offset <= off)
            a = mid + 1;
        else
            b = mid;
    }
    if (!a || o->rows[a - 1].kind == PP_CFI_GAP)
        return NOT_COVERED;
    *row = &o->rows[a - 1];
    return 0;
}

/* A placeholder's rule at pc, read from the one FDE covering it: a binary
 * search of the object's .eh_frame_hdr and a run of that FDE's program, a
 * few cache lines where libunwind's slow path (what the placeholder's
 * FALLBACK row hands the frame to) costs a dl_iterate_phdr and two
 * rt_sigprocmask calls a frame. Async-signal-safe as pp_eh_frame_rule_at;
 * the caller's fault guard covers an object unloaded meanwhile. */
PP_SIGNAL_PATH static int search_fde(const cfi_object *o, uintptr_t pc, compact_row *row)
{
    pp_eh_frame_view v = view_of(o->seg_start, o->seg_len, o->hdr);
    pp_cfi_row r;
    uint64_t from, to;
    fde_bounds(o, pc, &from, &to);
    int found = pp_eh_frame_rule_at_within(&v, pc, from, to, &r);
    if (found == PP_EH_FRAME_NOT_COVERED)
        return NOT_COVERED;
    if (found != 0)
        r.kind = PP_CFI_FALLBACK; /* unreadable here: libunwind reads it its own way */
    *row = (compact_row){0, r.cfa_offset, r.rbp_offset, r.kind};
    return 0;
}

PP_SIGNAL_PATH int pp_cfi_table_lookup(uintptr_t pc, pp_cfi_rule *rule)
{
    const cfi_set *s = atomic_load_explicit(&published, memory_order_acquire);
    if (!s) {
        note_miss();
        return PP_CFI_NO_OBJECT;
    }
    _Atomic uint64_t *pair = pc < CACHE_MAX_PC ? cache_pair(s, pc) : NULL;
    uint64_t way0 = 0;
    if (pair) {
        uint64_t tag = (uint64_t)pc >> CACHE_INDEX_BITS;
        way0 = atomic_load_explicit(&pair[0], memory_order_relaxed);
        if (way0 && way0 >> CACHE_TAG_SHIFT == tag)
            return from_cache_entry(way0, rule);
        uint64_t way1 = atomic_load_explicit(&pair[1], memory_order_relaxed);
        if (way1 && way1 >> CACHE_TAG_SHIFT == tag)
            return from_cache_entry(way1, rule);
    }
    const compact_row *r;
    const cfi_object *o = NULL;
    compact_row from_fde;
    int found = search(s, pc, &r, &o);
    int read_fde = found == 0 && o->state == OBJ_PLACEHOLDER;
    if (read_fde) {
        pp_cfi_rule by_block;
        if (pp_cfi_blocks_lookup(s->blocks, pc, &by_block)) {
            from_fde = (compact_row){0, by_block.cfa_offset, by_block.rbp_offset, by_block.kind};
            read_fde = 0;
            atomic_fetch_add_explicit(&block_hits, 1, memory_order_relaxed);
        } else {
            found = search_fde(o, pc, &from_fde);
            atomic_fetch_add_explicit(&fde_reads, 1, memory_order_relaxed);
        }
        r = &from_fde;
    }
    if (found == NOT_COVERED)
        found = PP_CFI_NO_OBJECT;
    if (pair) {
        /* Another thread may store to the pair between these stores: a
         * pair that then holds one entry twice, or loses one, only costs a
         * lookup later. */
        uint64_t e = cache_entry(pc, found, found == 0 ? r : NULL);
        if (e) {
            if (way0)
                atomic_store_explicit(&pair[1], way0, memory_order_relaxed);
            atomic_store_explicit(&pair[0], e, memory_order_relaxed);
        }
    }
    if (found == PP_CFI_NO_OBJECT) {
        note_miss();
        return found;
    }
    rule->cfa_offset = r->cfa_offset;
    rule->rbp_offset = r->rbp_offset;
    rule->kind = r->kind;
    return read_fde ? PP_CFI_FROM_FDE : 0;
}

PP_SIGNAL_PATH void pp_cfi_table_prefetch_leaf(uintptr_t pc)
{
    const cfi_set *s = atomic_load_explicit(&published, memory_order_acquire);
    if (!s)
        return;
    __builtin_prefetch((const void *)cache_pair(s, pc));
    pp_cfi_blocks_prefetch(s->blocks, pc);
}

PP_SIGNAL_PATH void pp_cfi_table_prefetch(const uintptr_t *pcs, uint32_t n)
{
    const cfi_set *s = atomic_load_explicit(&published, memory_order_acquire);
    if (!s)
        return;
    for (uint32_t i = 0; i < n; i++) {
        uintptr_t pc = i ? pcs[i] - 1 : pcs[i]; /* as walk_table looks them up */
        __builtin_prefetch((const void *)cache_pair(s, pc));
    }
}

int pp_cfi_table_built_at(uintptr_t pc)
{
    pthread_mutex_lock(&build_lock);
    const cfi_set *s = atomic_load(&published);
    int state = -1;
    for (size_t i = 0; s && i < s->n && state < 0; i++)
        if (pc >= s->objs[i]->lo && pc < s->objs[i]->hi)
            state = s->objs[i]->state != OBJ_PLACEHOLDER;
    pthread_mutex_unlock(&build_lock);
    return state;
}

void pp_cfi_table_reads(uint64_t *fde_reads_out, uint64_t *block_hits_out)
{
    *fde_reads_out = atomic_load_explicit(&fde_reads, memory_order_relaxed);
    *block_hits_out = atomic_load_explicit(&block_hits, memory_order_relaxed);
}

void pp_cfi_table_stats_get(pp_cfi_table_stats *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&build_lock);
    const cfi_set *s = atomic_load(&published);
    for (size_t i = 0; s && i < s->n; i++) {
        out->objects++;
        out->tables += s->objs[i]->state == OBJ_BUILT;
        out->placeholders += s->objs[i]->state == OBJ_PLACEHOLDER;
        out->rows += s->objs[i]->n;
        out->fdes += s->objs[i]->fdes;
        out->fdes_skipped += s->objs[i]->fdes_skipped;
        out->bytes += sizeof(cfi_object) + s->objs[i]->n * sizeof(compact_row) +
                      (s->objs[i]->bucket_first ? (s->objs[i]->n_buckets + 1) * sizeof(uint32_t) : 0);
    }
    out->refreshes = refreshes;
    out->builds = builds;
    pthread_mutex_unlock(&build_lock);
}
