/* libFuzzer harness for the .eh_frame parser (core/src/eh_frame.c), which
 * reads the unwind tables of every object loaded in the profiled process.
 * The input: the .eh_frame_hdr's offset (2 bytes, little-endian, taken
 * modulo the rest's length), then the memory that holds the header and the
 * .eh_frame it indexes. Whatever the bytes, the parser must stay inside
 * them (ASan), end (-timeout), and emit only rows a table can hold; the
 * signal handler's one-FDE read (pp_eh_frame_rule_at) alike, and the same
 * read within the bounds of the table's coarse index (pp_eh_frame_index,
 * bucket size from the first byte); and the drain thread's read of one
 * FDE's rows (pp_eh_frame_fde_rows_within) stored by block
 * (pp_cfi_blocks_fill): rows in order around the pc, and nothing a block
 * gives back that the FDE's rows do not say. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cfi_blocks.h"
#include "eh_frame.h"

static _Atomic uint64_t blocks[PP_CFI_BLOCKS];

/* The rows of pc's FDE, stored by block: every pc a block answers for has
 * the rule of the row covering it. */
static void check_fde_rows(const pp_eh_frame_view *v, uint64_t pc)
{
    pp_cfi_rows one = {0};
    if (pp_eh_frame_fde_rows_within(v, pc, 0, UINT64_MAX, &one) == 0) {
        if (one.n < 2 || one.rows[0].pc > pc || one.rows[one.n - 1].pc <= pc)
            abort();
        for (size_t i = 0; i + 1 < one.n; i++)
            if (one.rows[i].pc >= one.rows[i + 1].pc || one.rows[i].kind > PP_CFI_PLT)
                abort();
        memset((void *)blocks, 0, sizeof blocks);
        pp_cfi_blocks_fill(blocks, one.rows, one.n, (uintptr_t)pc, 256, (uintptr_t)v->vaddr,
                           (uintptr_t)(v->vaddr + v->len));
        size_t r = 0;
        for (uint64_t q = pc > 256 ? pc - 256 : 0; q < pc + 256; q++) {
            pp_cfi_rule rule;
            if (!pp_cfi_blocks_lookup(blocks, (uintptr_t)q, &rule))
                continue;
            while (r + 1 < one.n && one.rows[r + 1].pc <= q)
                r++;
            const pp_cfi_row *row = &one.rows[r];
            if (q < row->pc || r + 1 >= one.n || rule.kind != row->kind ||
                (rule.kind <= PP_CFI_CFA_RBP && (rule.cfa_offset != row->cfa_offset || rule.rbp_offset != row->rbp_offset)))
                abort();
        }
    }
    pp_cfi_rows_free(&one);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    size_t len = size - 2;
    /* A copy of exactly the view: a read one byte past it is a finding. */
    uint8_t *mem = malloc(len);
    if (!mem)
        return 0;
    memcpy(mem, data + 2, len);
    size_t hdr = ((size_t)data[0] | (size_t)data[1] << 8) % len;
    pp_eh_frame_view v = {mem, len, 0x7f0000001000ULL, hdr};
    pp_cfi_rows rows = {0};
    pp_eh_frame_parse(&v, &rows);
    for (size_t i = 0; i < rows.n; i++)
        if (rows.rows[i].kind > PP_CFI_PLT)
            abort();
    /* The handler's one-FDE read, at pcs the parse found rules for (64 of
     * them, spread over the rows) and across the view: inside the bytes
     * too, and the same kinds. (Its rule may differ from the parse's on a
     * hostile table: unsorted, or with overlapping FDEs.) */
    pp_cfi_row at;
    for (size_t i = 0; i < rows.n; i += 1 + rows.n / 64)
        if (pp_eh_frame_rule_at(&v, rows.rows[i].pc, &at) == 0 && at.kind > PP_CFI_PLT)
            abort();
    for (uint64_t pc = v.vaddr - 64; pc < v.vaddr + 2 * len + 64; pc += 1 + len / 16)
        if (pp_eh_frame_rule_at(&v, pc, &at) == 0 && at.kind > PP_CFI_PLT)
            abort();
    for (size_t i = 0; i < rows.n; i += 1 + rows.n / 8)
        check_fde_rows(&v, rows.rows[i].pc);
    uint8_t shift = (uint8_t)(4 + data[0] % 12);
    uint64_t lo = v.vaddr - 64, span = 2 * (uint64_t)len + 128;
    uint32_t n_buckets = (uint32_t)((span - 1) >> shift) + 1;
    uint32_t *first = malloc(((size_t)n_buckets + 1) * sizeof *first);
    if (first && pp_eh_frame_index(&v, lo, shift, first, n_buckets) == 0) {
        for (uint32_t k = 0; k < n_buckets; k++)
            if (first[k] > first[k + 1])
                abort(); /* counts of entries at or below a rising pc */
        for (uint64_t pc = lo; pc < lo + span; pc += 1 + len / 16) {
            uint64_t b = (pc - lo) >> shift;
            if (pp_eh_frame_rule_at_within(&v, pc, first[b], first[b + 1], &at) == 0 && at.kind > PP_CFI_PLT)
                abort();
        }
    }
    free(first);
    pp_cfi_rows_free(&rows);
    free(mem);
    return 0;
}
