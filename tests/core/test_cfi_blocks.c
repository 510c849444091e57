/* Unwind rules stored by block of code (cfi_blocks.h): what a block gives
 * back is the rule of the FDE's row there or nothing, never another row's;
 * and in a session, pcs new to the rule cache in a function an earlier
 * sample read the FDE of are answered by block, not by reading the FDE
 * again, with stacks as complete. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfi_blocks.h"
#include "cfi_table.h"
#include "check.h"
#include "polyprof.h"
#include "profile_comments.h"
#include "sampling.h"

static _Atomic uint64_t blocks[PP_CFI_BLOCKS];

static void clear(void) { memset((void *)blocks, 0, sizeof blocks); }

static pp_cfi_row row(uint64_t pc, uint8_t kind, int32_t cfa, int16_t rbp)
{
    return (pp_cfi_row){pc, cfa, rbp, kind};
}

/* 1 and *out when pc's block answers. */
static int at(uintptr_t pc, pp_cfi_rule *out)
{
    memset(out, 0, sizeof *out);
    return pp_cfi_blocks_lookup(blocks, pc, out);
}

static void expect_rule(uintptr_t pc, uint8_t kind, int32_t cfa, int16_t rbp)
{
    pp_cfi_rule r;
    int hit = at(pc, &r);
    if (!hit || r.kind != kind || (kind <= PP_CFI_CFA_RBP && (r.cfa_offset != cfa || r.rbp_offset != rbp)))
        fprintf(stderr, "pc %#lx: hit %d kind %d cfa %d rbp %d, expected kind %d cfa %d rbp %d\n", (unsigned long)pc,
                hit, r.kind, r.cfa_offset, r.rbp_offset, kind, cfa, rbp);
    CHECK(hit && r.kind == kind);
    if (kind <= PP_CFI_CFA_RBP) {
        CHECK_EQ_INT(r.cfa_offset, cfa);
        CHECK_EQ_INT(r.rbp_offset, rbp);
    }
}

static void expect_none(uintptr_t pc)
{
    pp_cfi_rule r;
    int hit = at(pc, &r);
    if (hit)
        fprintf(stderr, "pc %#lx: a rule (kind %d cfa %d) where none is expected\n", (unsigned long)pc, r.kind,
                r.cfa_offset);
    CHECK(!hit);
}

/* A function with a frame pointer: push rbp (1 byte), mov rbp,rsp (3), the
 * body, and a mid-body epilogue (pop rbp; ret) at 0x100. */
static const uint64_t F = 0x7f1234560000ull;
/* An address this far from another has its block's pair. */
#define COLLIDING ((uint64_t)1 << (PP_CFI_BLOCK_SHIFT + PP_CFI_BLOCKS_INDEX_BITS))

static void function_rows(pp_cfi_row *r)
{
    r[0] = row(F, PP_CFI_CFA_RSP, 8, PP_CFI_RBP_UNCHANGED);
    r[1] = row(F + 1, PP_CFI_CFA_RSP, 16, -16);
    r[2] = row(F + 4, PP_CFI_CFA_RBP, 16, -16);
    r[3] = row(F + 0x101, PP_CFI_CFA_RSP, 8, PP_CFI_RBP_UNCHANGED);
    r[4] = row(F + 0x102, PP_CFI_CFA_RBP, 16, -16);
    r[5] = row(F + 0x200, PP_CFI_GAP, 0, PP_CFI_RBP_UNCHANGED);
}

static void each_block_keeps_its_longest_row(void)
{
    pp_cfi_row r[6];
    function_rows(r);
    clear();
    size_t written = pp_cfi_blocks_fill(blocks, r, 6, (uintptr_t)F + 0x50, 4096, 0, UINTPTR_MAX);
    CHECK_EQ_INT(written, 0x200 / 32);
    /* The first block: three rows, the body's covers most of it. */
    expect_none((uintptr_t)F);
    expect_none((uintptr_t)F + 3);
    expect_rule((uintptr_t)F + 4, PP_CFI_CFA_RBP, 16, -16);
    expect_rule((uintptr_t)F + 31, PP_CFI_CFA_RBP, 16, -16);
    expect_rule((uintptr_t)F + 0x50, PP_CFI_CFA_RBP, 16, -16);
    /* The epilogue's block: its one-byte row is not the block's, nor is
     * the byte before it (the same rule, but another row). */
    expect_none((uintptr_t)F + 0x100);
    expect_none((uintptr_t)F + 0x101);
    expect_rule((uintptr_t)F + 0x102, PP_CFI_CFA_RBP, 16, -16);
    expect_rule((uintptr_t)F + 0x1ff, PP_CFI_CFA_RBP, 16, -16);
    /* Past the FDE's end, and before its start. */
    expect_none((uintptr_t)F + 0x200);
    expect_none((uintptr_t)F - 1);
    /* The same pair, another block (its tag differs). */
    expect_none((uintptr_t)F + 0x50 + COLLIDING);
}

/* Two blocks whose addresses collide both stay, and two rows of one block
 * both stay; a third block in the pair evicts the one stored first. */
static void a_pair_keeps_two(void)
{
    pp_cfi_row r[6];
    function_rows(r);
    pp_cfi_row far[6];
    for (int i = 0; i < 6; i++) {
        far[i] = r[i];
        far[i].pc += COLLIDING;
        if (far[i].kind == PP_CFI_CFA_RBP)
            far[i].cfa_offset = 24; /* tell them apart */
    }
    clear();
    pp_cfi_blocks_fill(blocks, r, 6, (uintptr_t)F + 0x50, 4096, 0, UINTPTR_MAX);
    pp_cfi_blocks_fill(blocks, far, 6, (uintptr_t)F + COLLIDING + 0x50, 4096, 0, UINTPTR_MAX);
    expect_rule((uintptr_t)F + 0x50, PP_CFI_CFA_RBP, 16, -16);
    expect_rule((uintptr_t)F + COLLIDING + 0x50, PP_CFI_CFA_RBP, 24, -16);
    /* Filling a function again moves nothing: its words are there. */
    CHECK_EQ_INT(pp_cfi_blocks_fill(blocks, r, 6, (uintptr_t)F + 0x50, 4096, 0, UINTPTR_MAX), 0);
    expect_rule((uintptr_t)F + COLLIDING + 0x50, PP_CFI_CFA_RBP, 24, -16);
    /* A third: the block stored first goes. */
    for (int i = 0; i < 6; i++)
        far[i].pc += COLLIDING;
    pp_cfi_blocks_fill(blocks, far, 6, (uintptr_t)F + 2 * COLLIDING + 0x50, 4096, 0, UINTPTR_MAX);
    expect_rule((uintptr_t)F + 2 * COLLIDING + 0x50, PP_CFI_CFA_RBP, 24, -16);
    expect_rule((uintptr_t)F + COLLIDING + 0x50, PP_CFI_CFA_RBP, 24, -16);
    expect_none((uintptr_t)F + 0x50);
    /* Two rows of one block: the epilogue's, which a sample met there,
     * joins the body's. */
    clear();
    pp_cfi_blocks_fill(blocks, r, 6, (uintptr_t)F + 0x50, 4096, 0, UINTPTR_MAX);
    pp_cfi_blocks_fill(blocks, r, 6, (uintptr_t)F + 0x101, 4096, 0, UINTPTR_MAX);
    expect_rule((uintptr_t)F + 0x101, PP_CFI_CFA_RSP, 8, PP_CFI_RBP_UNCHANGED);
    expect_rule((uintptr_t)F + 0x102, PP_CFI_CFA_RBP, 16, -16);
    expect_rule((uintptr_t)F + 0x50, PP_CFI_CFA_RBP, 16, -16);
}

static void the_pcs_own_block_keeps_the_pcs_row(void)
{
    pp_cfi_row r[6];
    function_rows(r);
    clear();
    pp_cfi_blocks_fill(blocks, r, 6, (uintptr_t)F + 0x101, 4096, 0, UINTPTR_MAX);
    expect_rule((uintptr_t)F + 0x101, PP_CFI_CFA_RSP, 8, PP_CFI_RBP_UNCHANGED);
    expect_none((uintptr_t)F + 0x100);
    expect_none((uintptr_t)F + 0x102);
    clear();
    pp_cfi_blocks_fill(blocks, r, 6, (uintptr_t)F + 2, 4096, 0, UINTPTR_MAX);
    expect_rule((uintptr_t)F + 2, PP_CFI_CFA_RSP, 16, -16);
    expect_none((uintptr_t)F + 4);
    expect_none((uintptr_t)F);
}

static void only_the_window_is_stored(void)
{
    pp_cfi_row r[3];
    r[0] = row(F, PP_CFI_CFA_RSP, 8, PP_CFI_RBP_UNCHANGED);
    r[1] = row(F + 1, PP_CFI_CFA_RBP, 16, -16);
    r[2] = row(F + 0x40000, PP_CFI_GAP, 0, PP_CFI_RBP_UNCHANGED);
    clear();
    size_t written = pp_cfi_blocks_fill(blocks, r, 3, (uintptr_t)F + 0x20000, 0x100, 0, UINTPTR_MAX);
    CHECK_EQ_INT(written, 2 * 0x100 / 32);
    expect_rule((uintptr_t)F + 0x20000, PP_CFI_CFA_RBP, 16, -16);
    expect_rule((uintptr_t)F + 0x20000 - 0x100, PP_CFI_CFA_RBP, 16, -16);
    expect_rule((uintptr_t)F + 0x20000 + 0xff, PP_CFI_CFA_RBP, 16, -16);
    expect_none((uintptr_t)F + 0x20000 - 0x101);
    expect_none((uintptr_t)F + 0x20000 + 0x100);
    expect_none((uintptr_t)F + 0x1000);
}

/* An FDE that reaches past its object's code (a malformed table) stores
 * nothing outside it: another object may be there. */
static void only_the_objects_code_is_stored(void)
{
    pp_cfi_row r[6];
    function_rows(r);
    clear();
    pp_cfi_blocks_fill(blocks, r, 6, (uintptr_t)F + 0x50, 4096, (uintptr_t)F + 0x40, (uintptr_t)F + 0x100);
    expect_none((uintptr_t)F + 0x3f);
    expect_none((uintptr_t)F + 0x20);
    expect_rule((uintptr_t)F + 0x40, PP_CFI_CFA_RBP, 16, -16);
    expect_rule((uintptr_t)F + 0xff, PP_CFI_CFA_RBP, 16, -16);
    expect_none((uintptr_t)F + 0x100);
    expect_none((uintptr_t)F + 0x150);
}

/* A word holds what fits it: the rest is left to the FDE's read. */
static void rows_a_word_cannot_hold_are_not_stored(void)
{
    struct {
        pp_cfi_row r;
        int stored;
    } cases[] = {
        {row(F, PP_CFI_PLT, 8, 11), 0},                        /* the threshold does not fit */
        {row(F, PP_CFI_CFA_RSP, 12, PP_CFI_RBP_UNCHANGED), 0}, /* not a multiple of 8 */
        {row(F, PP_CFI_CFA_RSP, 40000, -16), 0},               /* a frame past 32 KiB */
        {row(F, PP_CFI_CFA_RBP, 16, -600), 0},                 /* rbp saved far from the CFA */
        {row(F, PP_CFI_CFA_RBP, 16, 8), 0},                    /* above it */
        {row(F, PP_CFI_CFA_RSP, 32760, -504), 1},              /* the largest that fit */
        {row(F, PP_CFI_FALLBACK, 0, PP_CFI_RBP_UNCHANGED), 1},
        {row(F, PP_CFI_OUTERMOST, 0, PP_CFI_RBP_UNCHANGED), 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pp_cfi_row r[2] = {cases[i].r, row(F + 64, PP_CFI_GAP, 0, PP_CFI_RBP_UNCHANGED)};
        clear();
        size_t written = pp_cfi_blocks_fill(blocks, r, 2, (uintptr_t)F, 4096, 0, UINTPTR_MAX);
        CHECK_EQ_INT(written, cases[i].stored ? 2 : 0);
        if (cases[i].stored)
            expect_rule((uintptr_t)F + 40, r[0].kind, r[0].cfa_offset, r[0].rbp_offset);
        else
            expect_none((uintptr_t)F + 40);
    }
    /* pcs no user address space has are neither stored nor found. */
    const uint64_t high = 1ull << 52;
    pp_cfi_row r[2] = {row(high, PP_CFI_CFA_RSP, 8, PP_CFI_RBP_UNCHANGED),
                       row(high + 64, PP_CFI_GAP, 0, PP_CFI_RBP_UNCHANGED)};
    clear();
    CHECK_EQ_INT(pp_cfi_blocks_fill(blocks, r, 2, (uintptr_t)high, 4096, 0, UINTPTR_MAX), 0);
    expect_none((uintptr_t)high);
}

/* ~6 KiB of straight-line code run over and over: each sample lands on
 * an instruction of its own, most of them new to the rule cache. */
#define ADD1 __asm__ volatile("add $1, %0" : "+r"(v));
#define ADD8 ADD1 ADD1 ADD1 ADD1 ADD1 ADD1 ADD1 ADD1
#define ADD64 ADD8 ADD8 ADD8 ADD8 ADD8 ADD8 ADD8 ADD8
#define ADD512 ADD64 ADD64 ADD64 ADD64 ADD64 ADD64 ADD64 ADD64

static volatile uint64_t wide_sink;

__attribute__((noipa)) static void wide_function(int rounds)
{
    uint64_t v = 0;
    for (int i = 0; i < rounds; i++) {
        ADD512 ADD512 ADD512
    }
    wide_sink = v;
}

static double thread_cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

__attribute__((noipa)) static void run_wide_function(double ms)
{
    double end = thread_cpu_ms() + ms;
    while (thread_cpu_ms() < end)
        wide_function(2000);
}

static void a_session_reads_each_function_once(void)
{
    /* No table is built in this session: an object's is wanted only after
     * as many samples that read its FDEs as it has FDEs. Every object stays
     * a placeholder, read by FDE or by block. */
    pp_cfi_table_set_want_policy(0, 1);
    pp_collector *c = start_sampling("interval=1ms");
    if (!c)
        return;
    run_wide_function(1500);
    pp_profile *p = pp_collector_stop(c);
    double taken = comment_value(p, "samples_taken");
    double fde_reads = comment_value(p, "unwind_fde_reads");
    double block_hits = comment_value(p, "unwind_block_hits");
    double frames = comment_value(p, "native_frames");
    int64_t in_wide, whole;
    value_through(p, "wide_function", (const char *const[]){"run_wide_function", "main", NULL}, &in_wide, &whole);
    fprintf(stderr, "%.0f samples, %.1f native frames each, %.0f FDE reads, %.0f by block; %lld in wide_function, "
                    "%lld of them whole\n",
            taken, taken > 0 ? frames / taken : 0, fde_reads, block_hits, (long long)in_wide, (long long)whole);
    CHECK(taken > 100);
    CHECK(frames >= 3 * taken);
    CHECK(in_wide >= 0.8 * taken);
    CHECK(whole >= 0.98 * (double)in_wide);
    /* Without the blocks each new pc in wide_function reads its FDE: about
     * one a sample until its ~1500 instructions were all seen. */
    CHECK(block_hits >= 0.3 * taken);
    CHECK(fde_reads <= 0.25 * block_hits);
    pp_profile_free(p);
}

int main(void)
{
    each_block_keeps_its_longest_row();
    the_pcs_own_block_keeps_the_pcs_row();
    a_pair_keeps_two();
    only_the_window_is_stored();
    only_the_objects_code_is_stored();
    rows_a_word_cannot_hold_are_not_stored();
    a_session_reads_each_function_once();
    if (pp_test_failures)
        fprintf(stderr, "%d check(s) failed\n", pp_test_failures);
    return pp_test_failures != 0;
}
