/* DWARF call-frame information (.eh_frame_hdr / .eh_frame) for x86-64,
 * turned into rows of simple unwind rules a signal handler can apply.
 *
 * Each row says, from its pc until the next row's: the canonical frame
 * address (CFA) is rsp or rbp plus an offset, the return address is at
 * CFA-8, and the caller's rbp is either unchanged or saved at CFA plus an
 * offset; PLT entries get the one expression linkers write for them. What a
 * row cannot say (another CFA expression; a CFA in another register; a signal trampoline; a return address
 * not at CFA-8) becomes a FALLBACK row: the unwinder hands that frame to
 * libunwind.
 *
 * The parser reads only inside the view it is given and bounds every loop by
 * the view's size and fixed limits: a malformed or hostile .eh_frame yields
 * fewer rows or an error, never a read outside the view or an endless loop.
 * It allocates (off the signal path only). */
#ifndef PP_EH_FRAME_H
#define PP_EH_FRAME_H

#include <stddef.h>
#include <stdint.h>

enum {
    PP_CFI_CFA_RSP = 0,  /* CFA = rsp + cfa_offset */
    PP_CFI_CFA_RBP = 1,  /* CFA = rbp + cfa_offset */
    PP_CFI_FALLBACK = 2, /* a rule the table cannot express: ask libunwind */
    PP_CFI_OUTERMOST = 3, /* the return address is undefined: the thread's first frame */
    PP_CFI_GAP = 4,      /* no FDE covers this pc */
    /* A PLT entry (the linker's one CFA expression): CFA = rsp + cfa_offset,
     * plus 8 once (pc & 15) >= rbp_offset, past the entry's push. */
    PP_CFI_PLT = 5,
};

/* rbp_offset when the caller's rbp is still in rbp (CFA+0 cannot hold a
 * saved register: the return address sits just below it). */
#define PP_CFI_RBP_UNCHANGED 0

typedef struct pp_cfi_row {
    uint64_t pc;        /* where the rule starts (address in the view's space) */
    int32_t cfa_offset;
    int16_t rbp_offset; /* caller's rbp at CFA + this, or PP_CFI_RBP_UNCHANGED */
    uint8_t kind;       /* PP_CFI_* */
} pp_cfi_row;

typedef struct pp_cfi_rows {
    pp_cfi_row *rows;
    size_t n, cap;
    size_t limit;        /* set by pp_eh_frame_parse: rows past it are not kept */
    size_t fdes;         /* FDEs read */
    size_t fdes_skipped; /* FDEs that could not be read (malformed) */
} pp_cfi_rows;

/* Memory holding .eh_frame_hdr and the .eh_frame it indexes: data[0..len)
 * is what address `vaddr` holds (pc-relative pointers are resolved against
 * it), and the header starts at data[hdr_offset]. */
typedef struct pp_eh_frame_view {
    const uint8_t *data;
    size_t len;
    uint64_t vaddr;
    size_t hdr_offset;
} pp_eh_frame_view;

/* Appends the rows of every FDE the header's table lists to out (rows of
 * one FDE in pc order; FDEs in the table's order, each followed by a GAP row
 * at its end) and returns 0; -1 when the header itself is unreadable or out
 * of memory (out keeps what was appended, free it with pp_cfi_rows_free).
 * A malformed FDE or CIE is skipped and counted. */
int pp_eh_frame_parse(const pp_eh_frame_view *v, pp_cfi_rows *out);
void pp_cfi_rows_free(pp_cfi_rows *r);

/* pp_eh_frame_rule_at: no FDE covers pc. */
#define PP_EH_FRAME_NOT_COVERED 1

/* The row covering pc, as pp_eh_frame_parse would give it, read from the
 * one FDE covering pc (a binary search of the header's table), for a
 * signal handler that meets an object whose table is not built yet: 0 with
 * *out filled (out->pc where the row starts); PP_EH_FRAME_NOT_COVERED when
 * no FDE covers pc; -1 when the header or the FDE cannot be read, or the
 * table's entries are not of a fixed size (no linker writes those).
 * Async-signal-safe: no allocation, no lock, reads only inside the view and
 * writes only *out and its own stack (about 1 KiB); the caller guards the
 * reads against faults when the object may be unloaded meanwhile. */
int pp_eh_frame_rule_at(const pp_eh_frame_view *v, uint64_t pc, pp_cfi_row *out);

/* A coarse index of the header's table by pc, for the handler's FDE reads
 * of a large object: first[k] is how many of the table's entries start at
 * or below lo + (k << shift), k in [0, n_buckets), and first[n_buckets] is
 * the table's length. The FDE covering a pc at or above lo + (k << shift)
 * and below lo + ((k + 1) << shift) is then among entries
 * [first[k] - 1, first[k + 1]) (pp_eh_frame_rule_at_within). One pass over
 * the table. 0, or -1 when the header is unreadable or its entries are not
 * of a fixed size. first has n_buckets + 1 entries. */
int pp_eh_frame_index(const pp_eh_frame_view *v, uint64_t lo, uint8_t shift, uint32_t *first, uint32_t n_buckets);

/* As pp_eh_frame_rule_at, knowing that the entries before from start at or
 * below pc and those from to on above it (bounds past the table are
 * clamped; wrong bounds find a wrong FDE or none, as a hostile table does,
 * never a read outside the view). Async-signal-safe as pp_eh_frame_rule_at. */
int pp_eh_frame_rule_at_within(const pp_eh_frame_view *v, uint64_t pc, uint64_t from, uint64_t to, pp_cfi_row *out);

/* Off the signal path: appends the rows of the one FDE covering pc to out,
 * as pp_eh_frame_parse gives them (in pc order, then a GAP row at the FDE's
 * end), found as pp_eh_frame_rule_at_within finds it. 0;
 * PP_EH_FRAME_NOT_COVERED when no FDE covers pc; -1 when the header or the
 * FDE cannot be read, or out of memory (out then as it was). */
int pp_eh_frame_fde_rows_within(const pp_eh_frame_view *v, uint64_t pc, uint64_t from, uint64_t to, pp_cfi_rows *out);

/* The number of FDEs the header's table lists (what a parse would read),
 * 0 when the header is unreadable: reads the header's first bytes only. */
size_t pp_eh_frame_fde_count(const pp_eh_frame_view *v);

#endif
