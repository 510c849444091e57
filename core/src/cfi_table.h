/* The process's unwind rules, per loaded ELF object, for the signal handler.
 *
 * Built off the signal path from each object's .eh_frame (eh_frame.h), on
 * a thread the drain thread starts: at the first session, and again when a sample's pc was
 * in no object's table and the dynamic loader's list of objects changed
 * since (a library dlopen'ed mid-session). A build makes a complete new set
 * of tables and publishes it with one atomic pointer store; the handler
 * only ever loads that pointer and reads what it points to. */
#ifndef PP_CFI_TABLE_H
#define PP_CFI_TABLE_H

#include <stdint.h>

#include "eh_frame.h"

typedef struct pp_cfi_rule {
    int32_t cfa_offset;
    int16_t rbp_offset; /* PP_CFI_RBP_UNCHANGED or the caller's rbp at CFA + this */
    uint8_t kind;       /* PP_CFI_CFA_RSP, _CFA_RBP, _PLT, _FALLBACK or _OUTERMOST */
} pp_cfi_rule;

/* Off the signal path: enumerates the loaded objects (dl_iterate_phdr),
 * builds tables for those not seen before and publishes the new set.
 * Returns the number of objects with tables, -1 when out of memory (the
 * published set stays as it was). */
int pp_cfi_table_refresh(void);

/* Off the signal path, cheap when nothing happened: starts a build of the
 * first set, or a refresh when a handler met a pc outside every table since
 * the last call and the loader's object list changed (a dlopen or dlclose),
 * on a short-lived thread of its own; returns at once. */
void pp_cfi_table_refresh_if_missed(void);

/* Frees the sets replaced by later refreshes and the tables of objects no
 * longer loaded (unless a build is running: then at a later call). The caller guarantees no handler is inside
 * pp_cfi_table_lookup (the sampler calls it between sessions: stop waits
 * until no handler is in flight, and handlers outside a session do not
 * unwind). Why not free at once on replace: a handler on another thread may
 * be reading the old set at that moment, and the handler must not take a
 * lock or count references. Sets are replaced only when the loader's list
 * changed, so what waits here stays small. */
void pp_cfi_table_collect_garbage(void);

/* pc in no object's range (JIT code, or loaded since), or between an
 * object's FDEs (code linked without CFI): no rule. */
#define PP_CFI_NO_OBJECT (-1)

/* Async-signal-safe: one atomic load, two binary searches, no writes but a
 * relaxed atomic flag, and a cache entry. 0 with *rule filled when a table
 * covers pc; else PP_CFI_NO_OBJECT, which also asks the drain thread to look
 * for newly loaded objects. */
int pp_cfi_table_lookup(uintptr_t pc, pp_cfi_rule *rule);

/* Async-signal-safe: no writes, no faults (prefetches only). Asks the CPU
 * for the rule-cache entries of a stack's pcs (leaf first, as the unwinder
 * returns them) all at once, ahead of a walk that looks them up one after
 * another: a sample's stack is mostly its previous one's, whose entries the
 * program has pushed out of the caches since. */
void pp_cfi_table_prefetch(const uintptr_t *pcs, uint32_t n);

typedef struct pp_cfi_table_stats {
    uint64_t objects, rows, fdes, fdes_skipped, bytes, refreshes;
} pp_cfi_table_stats;
void pp_cfi_table_stats_get(pp_cfi_table_stats *out);

#endif
