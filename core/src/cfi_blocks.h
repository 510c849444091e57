/* Unwind rules by 32-byte block of code, for the objects whose tables are
 * not built (cfi_table.h's placeholders).
 *
 * The rule cache holds exact pcs, and each sample brings a pc it lacks: the
 * interrupted one, somewhere in a hot function, is new in most samples. In
 * an object without a table, each such pc cost a read of one FDE in the
 * handler: four or five cache lines (the header's index and table, the FDE,
 * its CIE) that the program has evicted since the last sample, ~7k cycles on
 * a loaded VM, nearly half of a Node sample's cost. Most of those pcs are in
 * a function an earlier sample met. So the drain thread, which sees the
 * samples that read an FDE, reads that FDE's rows in full and stores them
 * here by block: a later pc anywhere in the function then costs one line.
 *
 * Two 64-bit words per index of the block's address, in one 16-byte pair
 * (one cache line): two blocks whose addresses collide, or two rows of one
 * block, both stay. The handler reads words and the drain thread writes
 * them with relaxed atomic loads and stores, so no reader sees half a word.
 * A word holds one row of its block (the one covering most of it, or the
 * one a sample needed), and the span of the block it covers:
 *   bits 0-2   the row's kind + 1 (0: empty; only CFA_RSP, CFA_RBP,
 *              FALLBACK and OUTERMOST rows are kept)
 *   bits 3-8   -rbp_offset / 8 (0: rbp unchanged)
 *   bits 9-20  cfa_offset / 8
 *   bits 21-25 first byte of the block the row covers
 *   bits 26-31 one past its last byte (1-32)
 *   bits 32-63 block address >> (PP_CFI_BLOCK_SHIFT +
 *              PP_CFI_BLOCKS_INDEX_BITS) (the rest is the pair's index) */
#ifndef PP_CFI_BLOCKS_H
#define PP_CFI_BLOCKS_H

#include <stddef.h>
#include <stdint.h>

#include "cfi_table.h"
#include "eh_frame.h"

#define PP_CFI_BLOCK_SHIFT 5
#define PP_CFI_BLOCKS_INDEX_BITS 13 /* 8192 pairs, 128 KiB */
#define PP_CFI_BLOCKS (2u << PP_CFI_BLOCKS_INDEX_BITS) /* words */

/* Async-signal-safe: two relaxed atomic loads of one line. 1 with *rule
 * filled when a word for pc's block holds a row covering pc, else 0. */
int pp_cfi_blocks_lookup(const _Atomic uint64_t *blocks, uintptr_t pc, pp_cfi_rule *rule);

/* Async-signal-safe: a prefetch of pc's pair. */
void pp_cfi_blocks_prefetch(const _Atomic uint64_t *blocks, uintptr_t pc);

/* Stores the rows of one FDE (as pp_eh_frame_fde_rows_within gives them:
 * in pc order, a GAP row at the end) in the words of the blocks they cover
 * within window bytes either side of pc and within [lo, hi) (the object's
 * code: an FDE of a malformed table that reaches past it must not answer
 * for another object's pcs), each block getting the row that
 * covers most of it (pc's own block: the row covering pc), in the first
 * word of its pair; the word there moves to the second, unless the pair
 * holds that row already. Rows the words cannot express (PLT rows, offsets
 * out of range) leave their blocks as they were. Returns the number of
 * words written. */
size_t pp_cfi_blocks_fill(_Atomic uint64_t *blocks, const pp_cfi_row *rows, size_t n, uintptr_t pc,
                          uintptr_t window, uintptr_t lo, uintptr_t hi);

#endif
