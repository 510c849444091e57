/* Unwind rules by block of code; see cfi_blocks.h. */
#include "cfi_blocks.h"

#include <stdatomic.h>

#include "signal_path.h"

#define BLOCK_BYTES (1u << PP_CFI_BLOCK_SHIFT)
#define TAG_SHIFT (PP_CFI_BLOCK_SHIFT + PP_CFI_BLOCKS_INDEX_BITS)
#define CFA_UNITS 4096 /* cfa_offset / 8 below this */
#define RBP_UNITS 64   /* -rbp_offset / 8 below this */

/* The first word of pc's pair. */
PP_SIGNAL_PATH static size_t index_of(uintptr_t pc)
{
    return ((size_t)(pc >> PP_CFI_BLOCK_SHIFT) & ((1u << PP_CFI_BLOCKS_INDEX_BITS) - 1)) * 2;
}

/* Tags are 32 bits: pcs from 2^50 up (none in a user address space) are
 * never stored. */
PP_SIGNAL_PATH static int storable(uintptr_t pc) { return ((uint64_t)pc >> TAG_SHIFT) <= UINT32_MAX; }

/* 1 with *rule when word w is pc's block's and covers pc. */
PP_SIGNAL_PATH static int word_covers(uint64_t w, uintptr_t pc, pp_cfi_rule *rule)
{
    if (!(w & 7) || w >> 32 != (uint64_t)pc >> TAG_SHIFT)
        return 0;
    unsigned off = (unsigned)(pc & (BLOCK_BYTES - 1));
    if (off < ((w >> 21) & 31) || off >= ((w >> 26) & 63))
        return 0;
    rule->kind = (uint8_t)((w & 7) - 1);
    rule->rbp_offset = (int16_t)(-(int)((w >> 3) & (RBP_UNITS - 1)) * 8);
    rule->cfa_offset = (int32_t)(((w >> 9) & (CFA_UNITS - 1)) * 8);
    return 1;
}

PP_SIGNAL_PATH int pp_cfi_blocks_lookup(const _Atomic uint64_t *blocks, uintptr_t pc, pp_cfi_rule *rule)
{
    if (!storable(pc))
        return 0;
    const _Atomic uint64_t *pair = &blocks[index_of(pc)];
    return word_covers(atomic_load_explicit(&pair[0], memory_order_relaxed), pc, rule) ||
           word_covers(atomic_load_explicit(&pair[1], memory_order_relaxed), pc, rule);
}

PP_SIGNAL_PATH void pp_cfi_blocks_prefetch(const _Atomic uint64_t *blocks, uintptr_t pc)
{
    __builtin_prefetch((const void *)&blocks[index_of(pc)]);
}

/* The word for a row covering bytes [lo, hi) of the block at block; 0 when
 * the row does not fit one. */
static uint64_t word_of(const pp_cfi_row *r, uintptr_t block, unsigned lo, unsigned hi)
{
    uint64_t cfa = 0, rbp = 0;
    switch (r->kind) {
    case PP_CFI_CFA_RSP:
    case PP_CFI_CFA_RBP:
        if (r->cfa_offset < 0 || r->cfa_offset % 8 || r->cfa_offset / 8 >= CFA_UNITS || r->rbp_offset > 0 ||
            r->rbp_offset % 8 || -r->rbp_offset / 8 >= RBP_UNITS)
            return 0;
        cfa = (uint64_t)(r->cfa_offset / 8);
        rbp = (uint64_t)(-r->rbp_offset / 8);
        break;
    case PP_CFI_FALLBACK:
    case PP_CFI_OUTERMOST:
        break;
    default:
        return 0;
    }
    return ((uint64_t)block >> TAG_SHIFT) << 32 | (uint64_t)hi << 26 | (uint64_t)lo << 21 | cfa << 9 | rbp << 3 |
           ((uint64_t)r->kind + 1);
}

size_t pp_cfi_blocks_fill(_Atomic uint64_t *blocks, const pp_cfi_row *rows, size_t n, uintptr_t pc,
                          uintptr_t window, uintptr_t lo, uintptr_t hi)
{
    if (n < 2)
        return 0;
    uintptr_t start = (uintptr_t)rows[0].pc, end = (uintptr_t)rows[n - 1].pc;
    if (pc > window && pc - window > start)
        start = pc - window;
    if (pc + window > pc && pc + window < end)
        end = pc + window;
    if (start < lo)
        start = lo;
    if (end > hi)
        end = hi;
    if (start >= end || !storable(end - 1))
        return 0;
    size_t written = 0, i = 0;
    for (uintptr_t block = start & ~(uintptr_t)(BLOCK_BYTES - 1); block < end; block += BLOCK_BYTES) {
        while (i + 1 < n - 1 && rows[i + 1].pc <= block)
            i++; /* rows[i]: the first row reaching into the block */
        const pp_cfi_row *best = NULL;
        unsigned best_lo = 0, best_hi = 0;
        int holds_pc = pc >= block && pc - block < BLOCK_BYTES;
        for (size_t j = i; j + 1 < n && rows[j].pc < block + BLOCK_BYTES; j++) {
            uintptr_t piece_lo = rows[j].pc > block ? (uintptr_t)rows[j].pc : block;
            uintptr_t piece_hi = rows[j + 1].pc < block + BLOCK_BYTES ? (uintptr_t)rows[j + 1].pc : block + BLOCK_BYTES;
            if (piece_lo < start)
                piece_lo = start;
            if (piece_hi > end)
                piece_hi = end;
            if (piece_lo >= piece_hi)
                continue;
            int better = holds_pc ? pc >= piece_lo && pc < piece_hi : !best || piece_hi - piece_lo > best_hi - best_lo;
            if (better) {
                best = &rows[j];
                best_lo = (unsigned)(piece_lo - block);
                best_hi = (unsigned)(piece_hi - block);
            }
        }
        uint64_t w = best ? word_of(best, block, best_lo, best_hi) : 0;
        _Atomic uint64_t *pair = &blocks[index_of(block)];
        uint64_t first = atomic_load_explicit(&pair[0], memory_order_relaxed);
        if (w && w != first && w != atomic_load_explicit(&pair[1], memory_order_relaxed)) {
            /* Between these stores a handler finds the moved word in both
             * ways: never in neither. */
            atomic_store_explicit(&pair[1], first, memory_order_relaxed);
            atomic_store_explicit(&pair[0], w, memory_order_relaxed);
            written++;
        }
    }
    return written;
}
