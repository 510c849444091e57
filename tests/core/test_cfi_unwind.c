/* The signal handler's native unwind through the CFI tables gives the same
 * stack as libunwind's own walk of the same signal frame, deep stacks of
 * frame-pointer and frame-pointer-less functions, on the main thread and on
 * a thread of its own (one nothing warmed, first sampled in libc, too),
 * complete to the thread's first frame, without
 * handing any of it to libunwind once the objects' tables are built; an
 * object's table is built only once a sample needed it (until then the
 * stack is still complete, through libunwind), a library loaded later
 * included; a walk stops at a stop range's first frame and gives its stack
 * pointer; the rule read from one FDE in the handler is the row the whole
 * table's parse gives at every pc of real objects; and the .eh_frame parser
 * survives a mangled copy of a real table. */
#define UNW_LOCAL_ONLY
#include <bzlib.h>
#include <dlfcn.h>
#include <libunwind.h>
#include <link.h>
#include <pthread.h>
#include <search.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>

#include "cfi_blocks.h"
#include "cfi_table.h"
#include "check.h"
#include "eh_frame.h"
#include "fault_guard.h"
#include "raw_sample.h"
#include "symbols.h"
#include "unwind.h"

#define DEPTH 64
#define MAX_FRAMES 128

static uintptr_t table_frames[MAX_FRAMES + PP_RAW_NATIVE_SLACK], unw_frames[MAX_FRAMES];
static int n_table, n_unw;
static uint32_t table_flags;
static uintptr_t table_stop_sp, word_below_stop_sp;
static unsigned signals_taken; /* each sample is noted for the drain once */
static volatile int unw_complete;

static void on_signal(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)si;
    sigjmp_buf jb;
    signals_taken++;
    table_flags = 0;
    n_table = 0;
    word_below_stop_sp = 0;
    if (pp_fault_guard_enter(&jb) == 0 && sigsetjmp(jb, 0) == 0) {
        n_table = pp_unwind_native_fp(uc, table_frames, NULL, &table_stop_sp, MAX_FRAMES, &table_flags);
        /* Read while the interrupted frames are still on the stack. */
        if (table_stop_sp)
            word_below_stop_sp = *(const uintptr_t *)(table_stop_sp - sizeof(uintptr_t));
    }
    pp_fault_guard_leave();

    unw_cursor_t cursor;
    n_unw = 0;
    unw_complete = 0;
    if (unw_init_local2(&cursor, (unw_context_t *)uc, UNW_INIT_SIGNAL_FRAME) != 0)
        return;
    do {
        unw_word_t ip;
        unw_get_reg(&cursor, UNW_REG_IP, &ip);
        if (!ip)
            break;
        unw_frames[n_unw++] = (uintptr_t)ip;
    } while (n_unw < MAX_FRAMES && unw_step(&cursor) > 0);
    unw_complete = n_unw < MAX_FRAMES;
}

/* Two kinds of frames alternate: CFA from rbp (frame pointer kept) and CFA
 * from rsp with an offset that changes inside the function. */
static volatile int sink;
__attribute__((noinline)) static int with_fp(int n);

__attribute__((noinline, optimize("omit-frame-pointer"))) static int without_fp(int n)
{
    volatile char pad[40];
    pad[n % 40] = (char)n;
    if (n <= 0) {
        raise(SIGPROF);
        return pad[0];
    }
    return with_fp(n - 1) + pad[n % 40];
}

__attribute__((noinline, optimize("no-omit-frame-pointer"))) static int with_fp(int n)
{
    volatile char *pad = __builtin_alloca(16 + (n & 7) * 8);
    pad[0] = (char)n;
    if (n <= 0) {
        raise(SIGPROF);
        return pad[0];
    }
    return without_fp(n - 1) + pad[0];
}

/* The last signal's two walks gave the same complete stack. */
static void same_stack(const char *where, int min_frames)
{
    /* Both walks start at the interrupted pc inside raise: the handler's
     * own frames are not in either. */
    CHECK(n_table > min_frames);
    CHECK(unw_complete);
    CHECK_EQ_INT(n_table, n_unw);
    int same = n_table == n_unw;
    for (int i = 0; same && i < n_table; i++)
        same = table_frames[i] == unw_frames[i];
    if (!same)
        fprintf(stderr, "%s: the table's stack differs from libunwind's\n", where);
    CHECK(same);
    CHECK(table_flags & PP_SAMPLE_NATIVE_COMPLETE);
    CHECK(!(table_flags & (PP_SAMPLE_NATIVE_FAILED | PP_SAMPLE_NATIVE_TRUNCATED | PP_SAMPLE_NATIVE_SKIPPED)));
}

static void compare(const char *where)
{
    uint64_t misses_before = pp_unwind_table_misses();
    sink = with_fp(DEPTH);
    same_stack(where, DEPTH);
    /* Every frame here (this program, libc) has CFI the table expresses. */
    CHECK_EQ_INT(pp_unwind_table_misses() - misses_before, 0);
    CHECK(!(table_flags & PP_SAMPLE_NATIVE_TABLE_MISS));
}

/* Samples, and what the drain thread does with those whose walk fell back
 * (an object's table is wanted after a sample or more, as many as its size
 * asks), and its ticks, until pc's table is published (built on a thread of
 * its own). */
static int sample_until_table(void (*sample)(void), uintptr_t pc)
{
    static unsigned noted;
    for (int i = 0; i < 500; i++) {
        if (i)
            sample();
        if (noted != signals_taken && (table_flags & PP_SAMPLE_NATIVE_TABLE_MISS))
            pp_unwind_note_miss(table_frames, (size_t)n_table);
        noted = signals_taken;
        pp_unwind_maintain();
        nanosleep(&(struct timespec){0, 10000000}, NULL);
        if (pp_cfi_table_built_at(pc) == 1)
            return 1;
    }
    return 0;
}

static void sample_deep(void) { sink = with_fp(DEPTH); }

/* Samples through libc's own code, by another path each time (a sort's
 * merge, a binary search, a tree's insert...): pcs in libc no earlier sample
 * met, so lookups the rule cache cannot answer. */
static int raising_compare(const void *a, const void *b)
{
    raise(SIGPROF);
    return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

static void leave_node(void *p) { (void)p; /* v's, on the stack */ }

static void sample_in_libc(void)
{
    static int path;
    int v[8] = {5, 3, 7, 1, 8, 2, 6, 4}, key = 6;
    void *root = NULL;
    switch (path++ % 4) {
    case 0:
        qsort(v, 8, sizeof v[0], raising_compare);
        break;
    case 1:
        sink = bsearch(&key, (int[]){1, 2, 6}, 3, sizeof key, raising_compare) != NULL;
        break;
    case 2:
        tsearch(&v[0], &root, raising_compare);
        tsearch(&v[1], &root, raising_compare);
        tdestroy(root, leave_node);
        break;
    default:
        sink = lfind(&key, v, &(size_t){8}, sizeof key, raising_compare) != NULL;
    }
}

/* A function's address inside a loaded library, not a PLT entry of this
 * program's. */
static uintptr_t fn_in(const char *lib, const char *name)
{
    void *h = dlopen(lib, RTLD_NOW | RTLD_NOLOAD);
    uintptr_t fn = h ? (uintptr_t)dlsym(h, name) : 0;
    if (!fn)
        fprintf(stderr, "%s in %s: not found\n", name, lib);
    CHECK(fn != 0);
    return fn;
}

static int is_placeholder(uintptr_t pc) { return pp_cfi_table_built_at(pc) == 0; }

/* A session's start lists the objects and parses none: their frames' rules
 * are read from their .eh_frame one FDE at a time, in the handler, without
 * libunwind (whole stacks all the same, and no table miss counted), the
 * sample flagged for the drain thread; the objects on such stacks get
 * tables, and only they. */
static void tables_built_on_demand(void)
{
    pp_cfi_table_stats st;
    pp_cfi_table_stats_get(&st);
    CHECK(st.objects >= 3); /* this program, libc, libunwind at least */
    CHECK_EQ_INT(st.tables, 0);
    CHECK_EQ_INT(st.placeholders, st.objects);
    CHECK(is_placeholder((uintptr_t)&with_fp));
    CHECK(is_placeholder(fn_in("libunwind.so.8", "unw_backtrace")));

    uint64_t misses_before = pp_unwind_table_misses();
    sample_deep();
    same_stack("before the tables", DEPTH);
    CHECK_EQ_INT(pp_unwind_table_misses() - misses_before, 0);
    CHECK(table_flags & PP_SAMPLE_NATIVE_TABLE_MISS);

    CHECK(sample_until_table(sample_deep, (uintptr_t)&with_fp));
    /* libc's, from a sample with pcs there the cache had not seen: a
     * sample by the same path again reads its rules from the cache, needs
     * no table and counts for none. */
    CHECK(sample_until_table(sample_in_libc, fn_in("libc.so.6", "raise")));
    pp_cfi_table_stats_get(&st);
    CHECK(st.tables >= 2); /* this program and libc */
    CHECK(st.tables < st.objects);
    /* No sample's frame was in libunwind: it has no table. */
    CHECK(is_placeholder(fn_in("libunwind.so.8", "unw_backtrace")));
}

static void *thread_main(void *arg)
{
    (void)arg;
    /* As the sampler does for threads it registers: lets a first sample in
     * libc be unwound. */
    pp_unwind_warm_thread();
    compare("thread");
    return NULL;
}

/* A thread nothing warmed, sampled in libc at its first sample (raise):
 * libunwind would not be safe to start there (its first use in a thread
 * may allocate), but the table walk needs none of it, so the stack is
 * whole, not skipped. */
static void *cold_thread_main(void *arg)
{
    (void)arg;
    compare("cold thread, first sample in libc");
    return NULL;
}

static void depth_limit(void)
{
    /* The depth limit cuts the stack and says so. */
    uintptr_t frames[8 + PP_RAW_NATIVE_SLACK];
    ucontext_t uc;
    getcontext(&uc);
    uint32_t flags = 0;
    sigjmp_buf jb;
    volatile int n = 0; /* set between sigsetjmp and a possible jump back */
    if (pp_fault_guard_enter(&jb) == 0 && sigsetjmp(jb, 0) == 0)
        n = pp_unwind_native(&uc, frames, 2, &flags);
    pp_fault_guard_leave();
    CHECK_EQ_INT(n, 2);
    CHECK(flags & PP_SAMPLE_NATIVE_TRUNCATED);
}

/* A runtime's generated code (the JVM's code cache) is a stop range: the
 * walk ends at the first frame there, and gives that frame's stack pointer,
 * just above the return address that led into it, for the runtime's own
 * walker to start from. */
__attribute__((noinline)) static void sample_in_callee(void)
{
    raise(SIGPROF);
    __asm__ volatile("" ::: "memory"); /* not a tail call */
}

__attribute__((noinline)) static int stop_frame(void)
{
    sample_in_callee();
    return sink + 1;
}

static void stop_ranges(void)
{
    pp_addr_range r;
    CHECK_EQ_INT(pp_symbols_function_at((uintptr_t)&stop_frame, &r), 0);
    pp_unwind_set_stop_ranges(&r, 1);
    sink = stop_frame();
    pp_unwind_set_stop_ranges(NULL, 0);
    CHECK(n_table >= 3 && n_table < n_unw);
    uintptr_t last = table_frames[n_table - 1];
    CHECK(last > r.start && last <= r.end);
    for (int i = 0; i < n_table; i++)
        CHECK(table_frames[i] == unw_frames[i]);
    CHECK(table_stop_sp != 0);
    CHECK(word_below_stop_sp == last);
    CHECK(!(table_flags & (PP_SAMPLE_NATIVE_COMPLETE | PP_SAMPLE_NATIVE_FAILED)));

    /* A walk that ends otherwise stopped at no generated code. */
    sample_deep();
    same_stack("after the stop ranges", DEPTH);
    CHECK_EQ_INT(table_stop_sp, 0);
}

/* libbz2 calls this from BZ2_bzCompressInit: a sample with a frame of the
 * library in the middle of the stack. */
static void *alloc_raising(void *opaque, int n, int m)
{
    (void)opaque;
    (void)n;
    (void)m;
    raise(SIGPROF);
    return NULL; /* the init fails at once: nothing to free */
}

static int (*bz_init)(bz_stream *, int, int, int);

static void __attribute__((noinline)) sample_through_bz2(void)
{
    bz_stream strm;
    memset(&strm, 0, sizeof strm);
    strm.bzalloc = alloc_raising;
    bz_init(&strm, 9, 0, 0);
    __asm__ volatile("" ::: "memory");
}

/* A library loaded after the objects were listed: its code is in no
 * object until a handler meets it and the drain thread's tick
 * (pp_unwind_maintain) has the objects listed again in the background;
 * then a sample through it is complete (libunwind walks the library's
 * frame), and the drain has its table built, which the next sample uses. */
static void library_loaded_later(void)
{
    void *lib = dlopen("libbz2.so.1.0", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "libbz2 not found: dlopen case not checked (%s)\n", dlerror());
        return;
    }
    uintptr_t fn = (uintptr_t)dlsym(lib, "BZ2_bzlibVersion");
    bz_init = (int (*)(bz_stream *, int, int, int))dlsym(lib, "BZ2_bzCompressInit");
    CHECK(fn != 0 && bz_init != NULL);
    if (!fn || !bz_init)
        return;
    pp_cfi_rule rule;
    CHECK_EQ_INT(pp_cfi_table_lookup(fn, &rule), PP_CFI_NO_OBJECT);
    for (int i = 0; i < 500 && !is_placeholder(fn); i++) {
        pp_unwind_maintain();
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
    CHECK(is_placeholder(fn));

    uint64_t misses_before = pp_unwind_table_misses();
    sample_through_bz2();
    same_stack("through libbz2, listed", 4);
    CHECK_EQ_INT(pp_unwind_table_misses() - misses_before, 0);
    CHECK(table_flags & PP_SAMPLE_NATIVE_TABLE_MISS);
    CHECK(sample_until_table(sample_through_bz2, fn));
    CHECK_EQ_INT(pp_cfi_table_lookup(fn, &rule), 0);
    CHECK(rule.kind == PP_CFI_CFA_RSP || rule.kind == PP_CFI_CFA_RBP);
    CHECK_EQ_INT(rule.cfa_offset, 8); /* at a function's first instruction */
    CHECK(rule.rbp_offset == PP_CFI_RBP_UNCHANGED);

    misses_before = pp_unwind_table_misses();
    sample_through_bz2();
    same_stack("through libbz2, its table built", 4);
    CHECK_EQ_INT(pp_unwind_table_misses() - misses_before, 0);
}

typedef struct found {
    const char *name;
    pp_eh_frame_view view;
    int ok;
} found;

static int find_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    found *f = arg;
    /* The main program is listed first, with an empty name. */
    if (f->name[0] ? !strstr(info->dlpi_name, f->name) : info->dlpi_name[0] != 0)
        return 0;
    const ElfW(Phdr) *eh = NULL, *seg = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_GNU_EH_FRAME)
            eh = &info->dlpi_phdr[i];
    for (int i = 0; eh && i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *p = &info->dlpi_phdr[i];
        if (p->p_type == PT_LOAD && eh->p_vaddr >= p->p_vaddr && eh->p_vaddr - p->p_vaddr < p->p_memsz)
            seg = p;
    }
    if (!seg)
        return 0;
    uintptr_t start = info->dlpi_addr + seg->p_vaddr;
    f->view = (pp_eh_frame_view){(const uint8_t *)start, seg->p_memsz, start,
                                 info->dlpi_addr + eh->p_vaddr - start};
    f->ok = 1;
    return 1;
}

/* Fills f->view from the loaded object named f->name ("" for the
 * program); a check fails when there is none. */
static int object_found(found *f)
{
    dl_iterate_phdr(find_object, f);
    CHECK(f->ok);
    return f->ok;
}

static int same_rule(const pp_cfi_row *a, const pp_cfi_row *b)
{
    return a->kind == b->kind && a->cfa_offset == b->cfa_offset && a->rbp_offset == b->rbp_offset;
}

/* What the handler reads from one FDE (pp_eh_frame_rule_at) is what the
 * parse of the whole table says, at each row's first and last pc and one
 * between, and no FDE where the table has a gap; and the read within the
 * bounds of a coarse index of the table (pp_eh_frame_index, 64-byte
 * buckets: a few FDEs each) finds the same. Returns the pcs checked. */
static size_t rule_at_matches_the_parse(const char *object)
{
    found f = {object, {0}, 0};
    if (!object_found(&f))
        return 0;
    pp_cfi_rows rows = {0};
    CHECK_EQ_INT(pp_eh_frame_parse(&f.view, &rows), 0);
    CHECK(rows.n > 0);
    if (!rows.n)
        return 0;
    const uint8_t shift = 6;
    uint64_t lo = rows.rows[0].pc, span = rows.rows[rows.n - 1].pc - lo;
    uint32_t n_buckets = (uint32_t)((span - 1) >> shift) + 1;
    uint32_t *first = malloc(((size_t)n_buckets + 1) * sizeof *first);
    CHECK(first != NULL);
    CHECK_EQ_INT(pp_eh_frame_index(&f.view, lo, shift, first, n_buckets), 0);
    size_t checked = 0, differ = 0, differ_within = 0;
    for (size_t i = 0; i + 1 < rows.n; i++) {
        const pp_cfi_row *r = &rows.rows[i];
        uint64_t next = rows.rows[i + 1].pc;
        if (next <= r->pc)
            continue; /* overlapping FDEs: the parse's order is not the search's */
        const uint64_t pcs[] = {r->pc, r->pc + (next - r->pc) / 2, next - 1};
        for (size_t k = 0; k < 3; k++) {
            pp_cfi_row at;
            int found_fde = pp_eh_frame_rule_at(&f.view, pcs[k], &at);
            int same = r->kind == PP_CFI_GAP ? found_fde == PP_EH_FRAME_NOT_COVERED
                                             : found_fde == 0 && same_rule(&at, r) && at.pc <= pcs[k];
            if (!same && differ++ < 5)
                fprintf(stderr, "%s: pc %#llx: the FDE says %d kind %d cfa %d rbp %d, the parse kind %d cfa %d rbp %d\n",
                        object[0] ? object : "the program", (unsigned long long)pcs[k], found_fde, at.kind,
                        at.cfa_offset, at.rbp_offset, r->kind, r->cfa_offset, r->rbp_offset);
            uint64_t b = (pcs[k] - lo) >> shift;
            pp_cfi_row within;
            int found_within = pp_eh_frame_rule_at_within(&f.view, pcs[k], first[b], first[b + 1], &within);
            if ((found_within != found_fde || (found_fde == 0 && (!same_rule(&within, &at) || within.pc != at.pc))) &&
                differ_within++ < 5)
                fprintf(stderr, "%s: pc %#llx: within bucket %llu [%u, %u) %d, the whole table's search %d\n",
                        object[0] ? object : "the program", (unsigned long long)pcs[k], (unsigned long long)b,
                        first[b], first[b + 1], found_within, found_fde);
            checked++;
        }
    }
    fprintf(stderr, "%s: %zu pcs checked against %zu rows\n", object[0] ? object : "the program", checked, rows.n);
    CHECK(checked > 0);
    CHECK_EQ_INT(differ, 0);
    CHECK_EQ_INT(differ_within, 0);
    free(first);
    pp_cfi_row at;
    CHECK_EQ_INT(pp_eh_frame_rule_at(&f.view, rows.rows[0].pc - 1, &at), PP_EH_FRAME_NOT_COVERED);
    pp_cfi_rows_free(&rows);
    return checked;
}

typedef struct names {
    char name[32][256];
    int n;
} names;

static int note_name(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    names *ns = arg;
    int has_cfi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++)
        has_cfi |= info->dlpi_phdr[i].p_type == PT_GNU_EH_FRAME;
    if (has_cfi && ns->n < 32)
        snprintf(ns->name[ns->n++], sizeof ns->name[0], "%s", info->dlpi_name);
    return 0;
}

/* Every object loaded here with unwind tables: the program, the loader, the
 * vDSO, libc (its signal trampoline's FDE included), libunwind, zlib... */
/* The rows of the FDE covering pc (pp_eh_frame_fde_rows_within, what the
 * drain thread stores by block) are the rules the handler's read of that
 * FDE finds, each from where it starts; and stored by block, every rule a
 * block gives back within the FDE is the one the FDE has there. Returns
 * the block lookups that found a rule. */
static size_t fde_rows_match_rule_at(const pp_eh_frame_view *v, uint64_t pc, _Atomic uint64_t *blocks)
{
    pp_cfi_rows rows = {0};
    int r = pp_eh_frame_fde_rows_within(v, pc, 0, UINT64_MAX, &rows);
    pp_cfi_row at;
    int at_r = pp_eh_frame_rule_at(v, pc, &at);
    CHECK_EQ_INT(r, at_r);
    if (r != 0) {
        pp_cfi_rows_free(&rows);
        return 0;
    }
    CHECK(rows.n >= 2 && rows.rows[0].pc <= pc && pc < rows.rows[rows.n - 1].pc);
    CHECK_EQ_INT(rows.rows[rows.n - 1].kind, PP_CFI_GAP);
    size_t differ = 0, hits = 0;
    for (size_t i = 0; i + 1 < rows.n; i++)
        if (pp_eh_frame_rule_at(v, rows.rows[i].pc, &at) != 0 || !same_rule(&at, &rows.rows[i]) ||
            at.pc != rows.rows[i].pc)
            differ++;
    memset(blocks, 0, PP_CFI_BLOCKS * sizeof *blocks);
    pp_cfi_blocks_fill(blocks, rows.rows, rows.n, (uintptr_t)pc, 1u << 20, 0, UINTPTR_MAX);
    for (uint64_t q = rows.rows[0].pc; q < rows.rows[rows.n - 1].pc; q++) {
        pp_cfi_rule rule;
        if (!pp_cfi_blocks_lookup(blocks, (uintptr_t)q, &rule))
            continue;
        hits++;
        if (pp_eh_frame_rule_at(v, q, &at) != 0 || at.kind != rule.kind ||
            (rule.kind <= PP_CFI_CFA_RBP && (at.cfa_offset != rule.cfa_offset || at.rbp_offset != rule.rbp_offset))) {
            if (differ++ < 5)
                fprintf(stderr, "pc %#llx: the block says kind %d cfa %d rbp %d, the FDE kind %d cfa %d rbp %d\n",
                        (unsigned long long)q, rule.kind, rule.cfa_offset, rule.rbp_offset, at.kind, at.cfa_offset,
                        at.rbp_offset);
        }
    }
    CHECK_EQ_INT(differ, 0);
    pp_cfi_rows_free(&rows);
    return hits;
}

/* fde_rows_match_rule_at for the FDEs of every 16th row of each object. */
static void fde_rows_match_everywhere(void)
{
    names ns = {.n = 0};
    dl_iterate_phdr(note_name, &ns);
    _Atomic uint64_t *blocks = calloc(PP_CFI_BLOCKS, sizeof *blocks);
    CHECK(blocks != NULL);
    size_t fdes = 0, hits = 0;
    for (int i = 0; blocks && i < ns.n; i++) {
        found f = {ns.name[i], {0}, 0};
        if (!object_found(&f))
            continue;
        pp_cfi_rows rows = {0};
        CHECK_EQ_INT(pp_eh_frame_parse(&f.view, &rows), 0);
        for (size_t k = 0; k < rows.n; k += 16, fdes++)
            hits += fde_rows_match_rule_at(&f.view, rows.rows[k].pc, blocks);
        pp_cfi_rows_free(&rows);
    }
    fprintf(stderr, "rows of %zu FDEs read, %zu pcs found by block\n", fdes, hits);
    CHECK(fdes > 1000);
    CHECK(hits > 100000);
    free((void *)blocks);
}

static void rule_at_matches_the_parse_everywhere(void)
{
    names ns = {.n = 0};
    dl_iterate_phdr(note_name, &ns);
    CHECK(ns.n >= 5);
    size_t checked = 0;
    for (int i = 0; i < ns.n; i++)
        checked += rule_at_matches_the_parse(ns.name[i]);
    CHECK(checked > 50000);
}

/* A large object's table is wanted once the samples that read its FDEs
 * number one per so many FDEs past those a build costs little for (by
 * default 16 past 6144): libunwind's object, untouched so far, with that
 * policy scaled down to its size, after exactly that many, not one fewer. */
static void table_wanted_by_size(void)
{
    found f = {"libunwind.so", {0}, 0};
    if (!object_found(&f))
        return;
    size_t fdes = pp_eh_frame_fde_count(&f.view);
    CHECK(fdes > 100);
    uintptr_t in_it = fn_in("libunwind.so.8", "unw_backtrace");
    CHECK(is_placeholder(in_it));
    pp_cfi_table_set_want_policy(64, 8);
    uintptr_t frames[2] = {in_it + 4, in_it + 8}; /* one sample, two frames there: one count */
    size_t needed = 1 + (fdes - 64) / 8;
    for (size_t i = 0; i + 1 < needed; i++)
        pp_unwind_note_miss(frames, 2);
    pp_unwind_maintain();
    nanosleep(&(struct timespec){0, 50000000}, NULL);
    CHECK(is_placeholder(in_it));
    pp_unwind_note_miss(frames, 2);
    for (int i = 0; i < 500 && is_placeholder(in_it); i++) {
        pp_unwind_maintain();
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
    CHECK(!is_placeholder(in_it));
}

/* libc's real table parses into many FDEs; copies with bytes flipped or
 * cut short parse without a crash (ASan watches the reads) and without
 * more rows than the view could describe. */
static void parser_on_mangled_tables(void)
{
    found f = {"libc.so", {0}, 0};
    if (!object_found(&f))
        return;
    pp_cfi_rows rows = {0};
    CHECK_EQ_INT(pp_eh_frame_parse(&f.view, &rows), 0);
    CHECK(rows.fdes > 500);
    CHECK(rows.fdes_skipped * 100 < rows.fdes);
    pp_cfi_rows_free(&rows);

    uint8_t *copy = malloc(f.view.len);
    CHECK(copy != NULL);
    if (!copy)
        return;
    unsigned seed = 12345;
    for (int round = 0; round < 40; round++) {
        memcpy(copy, f.view.data, f.view.len);
        for (int k = 0; k < 200; k++) {
            seed = seed * 1103515245u + 12345u;
            copy[(seed >> 4) % f.view.len] ^= (uint8_t)(seed >> 20);
        }
        pp_eh_frame_view v = f.view;
        v.data = copy;
        if (round % 4 == 3)
            v.len = f.view.hdr_offset + (seed % 4096); /* cut short */
        pp_eh_frame_parse(&v, &rows);
        CHECK(rows.n <= 2 * v.len);
        pp_cfi_rows_free(&rows);
        /* The handler's one-FDE reads of the same copy: inside it too. */
        for (uint64_t pc = f.view.vaddr - 4096; pc < f.view.vaddr + 8 * f.view.len; pc += 4093) {
            pp_cfi_row at;
            int r = pp_eh_frame_rule_at(&v, pc, &at);
            CHECK(r == -1 || r == PP_EH_FRAME_NOT_COVERED || (r == 0 && at.kind <= PP_CFI_PLT));
        }
    }
    free(copy);
}

/* This program's .plt has the linker's CFA expression: its rows say where
 * the return address is before and after the entry's push, and the handler
 * walks out of a PLT entry without libunwind. */
static void plt_entries(void)
{
    found f = {"", {0}, 0};
    if (!object_found(&f))
        return;
    pp_cfi_rows rows = {0};
    pp_eh_frame_parse(&f.view, &rows);
    const pp_cfi_row *plt = NULL;
    for (size_t i = 0; i < rows.n && !plt; i++)
        if (rows.rows[i].kind == PP_CFI_PLT)
            plt = &rows.rows[i];
    CHECK(plt != NULL);
    if (plt) {
        CHECK_EQ_INT(plt->cfa_offset, 8);
        CHECK(plt->rbp_offset >= 10 && plt->rbp_offset <= 11); /* the push: 11 bytes in (10 with IBT) */
        pp_cfi_rule rule;
        CHECK_EQ_INT(pp_cfi_table_lookup((uintptr_t)plt->pc + 16, &rule), 0);
        CHECK_EQ_INT(rule.kind, PP_CFI_PLT);
    }
    pp_cfi_rows_free(&rows);
}

int main(void)
{
    if (pp_fault_guard_install() != 0) {
        fprintf(stderr, "cannot install the fault guard\n");
        return 1;
    }
    pp_unwind_init(); /* as a session's start: the objects listed, no table built */
    /* A table at an object's first sample that read its FDEs, whatever its
     * size (the default waits longer for large ones: table_wanted_by_size
     * below), so these tests see tables built. */
    pp_cfi_table_set_want_policy((size_t)1 << 30, 1);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGPROF, &sa, NULL);

    tables_built_on_demand();
    rule_at_matches_the_parse_everywhere();
    fde_rows_match_everywhere();
    compare("main thread");
    pthread_t t;
    CHECK_EQ_INT(pthread_create(&t, NULL, thread_main, NULL), 0);
    pthread_join(t, NULL);
    CHECK_EQ_INT(pthread_create(&t, NULL, cold_thread_main, NULL), 0);
    pthread_join(t, NULL);
    depth_limit();
    stop_ranges();
    library_loaded_later();
    plt_entries();
    parser_on_mangled_tables();

    table_wanted_by_size();

    /* Every table at once, for whoever asks (benchmarks). */
    pp_cfi_table_refresh();
    pp_cfi_table_stats st;
    pp_cfi_table_stats_get(&st);
    CHECK_EQ_INT(st.placeholders, 0);
    CHECK(st.rows > 1000);
    CHECK(!is_placeholder(fn_in("libunwind.so.8", "unw_backtrace")));
    compare("every table built");

    pp_cfi_table_collect_garbage();
    if (pp_test_failures)
        fprintf(stderr, "%d check(s) failed\n", pp_test_failures);
    return pp_test_failures != 0;
}
