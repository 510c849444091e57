/* The process's unwind rules, per loaded ELF object, for the signal handler.
 *
 * Built off the signal path from each object's .eh_frame (eh_frame.h), per
 * object and only for objects a sample needed: a session's start lists the
 * loaded objects, each with a placeholder (a lookup there reads the one
 * FDE covering the pc from the object's .eh_frame, in the handler: a few
 * cache lines, where libunwind's slow path costs system calls), and the
 * drain thread asks for the tables of the objects its samples' frames
 * needed that way often enough for its size (pp_cfi_table_want), which a
 * thread of its own parses: a
 * table's lookup is a search of compact rows, and needs no run of a CFA
 * program. Parsing every object up front cost a process tens of
 * milliseconds of CPU (node's executable: 76k FDEs) whether or not a
 * sample ever landed there. Objects loaded later (dlopen) are listed when
 * a sample's pc was in no object and the loader's list changed. Each change
 * makes a complete new set and publishes it with one atomic pointer store;
 * the handler only ever loads that pointer and reads what it points to. */
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
 * builds the table of every one without one and publishes the new set, at
 * once (tests, benchmarks). Returns the number of objects listed, -1 when
 * out of memory (the published set stays as it was). */
int pp_cfi_table_refresh(void);

/* Off the signal path, at a session's start: when no set is published yet
 * or the loader's list changed, lists the loaded objects and publishes
 * placeholders for those not seen before (no .eh_frame is read: tens of
 * microseconds). Does not wait for a build under way. Returns the number
 * of objects listed (0 when nothing was done), -1 when out of memory. */
int pp_cfi_table_list(void);

/* The drain thread: the native frames of a sample whose walk read an FDE
 * or fell back to libunwind, leaf first (the interrupted pc, then return
 * addresses). Stores the rows of each such frame's FDE in a placeholder by
 * block (cfi_blocks.h), where the handler's later lookups of pcs near it
 * find them. Counts the sample against each placeholder its frames fall
 * in; a placeholder counted often enough for its size is wanted, and the
 * next pp_cfi_table_refresh_if_missed has its table built. Reads the published
 * set, so must not run alongside collect_garbage; calls are serialized by
 * the caller. */
void pp_cfi_table_want(const uintptr_t *frames, size_t n);

/* Off the signal path, cheap when nothing happened: starts a build when
 * placeholders were wanted, when no set is published yet, or when a handler
 * met a pc outside every object since the last call and the loader's
 * object list changed (a dlopen or dlclose), on a short-lived thread of its
 * own; returns at once. */
void pp_cfi_table_refresh_if_missed(void);

/* Frees the sets replaced by later refreshes, the placeholders replaced by
 * tables and the tables of objects no longer loaded (unless a build is
 * running: then at a later call). The caller guarantees no handler is
 * inside pp_cfi_table_lookup and that pp_cfi_table_want is not running: the
 * sampler calls it between sessions (stop waits until no handler is in
 * flight, and handlers outside a session do not unwind) and on the drain
 * thread once it has seen no handler in flight after the replacement. Why
 * not free at once on replace: a handler on another thread may be reading
 * the old set at that moment, and the handler must not take a lock or count
 * references. */
void pp_cfi_table_collect_garbage(void);

/* collect_garbage, if a set was replaced since the last one, when
 * *in_flight (the sampler's count of handlers running, raised before a
 * handler's first lookup) is 0 after the replacement: lets the drain thread
 * free replaced sets mid-session (each placeholder's table replaces the
 * set, and each set has its 128 KiB cache). The caller guarantees
 * pp_cfi_table_want is not running. */
void pp_cfi_table_collect_garbage_if_idle(_Atomic int *in_flight);

/* pc in no object's range (JIT code, or loaded since), or between an
 * object's FDEs (code linked without CFI): no rule. */
#define PP_CFI_NO_OBJECT (-1)
/* *rule was read from the object's .eh_frame by this lookup, its table not
 * being built yet (a placeholder): worth the drain thread's knowing, which
 * has the table built once an object needs it often enough. */
#define PP_CFI_FROM_FDE 1

/* Async-signal-safe: one atomic load, a cache entry, and on a cache miss two
 * binary searches, or for an object without a table yet a search of its
 * .eh_frame_hdr and one FDE's program (pp_eh_frame_rule_at, under the
 * caller's fault guard), unless the placeholder's rows stored by block
 * hold it; no lock, no allocation, no writes but relaxed atomic counters and
 * flag and the cache entry. 0 or PP_CFI_FROM_FDE with *rule filled
 * (kind PP_CFI_FALLBACK: a rule the tables cannot express, for libunwind);
 * else PP_CFI_NO_OBJECT, which also asks the drain thread to look for
 * newly loaded objects. */
int pp_cfi_table_lookup(uintptr_t pc, pp_cfi_rule *rule);

/* Async-signal-safe: no writes, no faults (prefetches only). Asks the CPU
 * for the rule-cache entries of a stack's pcs (leaf first, as the unwinder
 * returns them) all at once, ahead of a walk that looks them up one after
 * another: a sample's stack is mostly its previous one's, whose entries the
 * program has pushed out of the caches since. */
void pp_cfi_table_prefetch(const uintptr_t *pcs, uint32_t n);

/* Async-signal-safe as pp_cfi_table_prefetch: the interrupted pc's entry
 * and its block's words, asked for as the handler starts. That pc is new to
 * the cache in most samples, and in an object without a table its block's
 * words answer it: their lines arrive while the handler claims its buffer. */
void pp_cfi_table_prefetch_leaf(uintptr_t pc);

/* Off the signal path (tests), before pp_cfi_table_want: an object's table
 * is wanted at its first sample that read its FDEs when it has up to
 * free_fdes FDEs (default 6144, a build of ~2 ms), else after one more such
 * sample per per_miss FDEs past those (default 16: the reads have then
 * cost about what the build would). */
void pp_cfi_table_set_want_policy(size_t free_fdes, uint32_t per_miss);

/* Off the signal path (tests): 1 when the object holding pc has its table
 * built (or its .eh_frame gave none), 0 when it is a placeholder, -1 when
 * pc is in no listed object. */
int pp_cfi_table_built_at(uintptr_t pc);

typedef struct pp_cfi_table_stats {
    uint64_t objects; /* listed in the published set */
    uint64_t tables;  /* of those, objects whose .eh_frame was parsed into rows */
    uint64_t placeholders; /* and objects whose .eh_frame no sample has needed yet */
    uint64_t rows, fdes, fdes_skipped, bytes;
    uint64_t refreshes; /* sets published */
    uint64_t builds;    /* objects' .eh_frame parsed, in all */
} pp_cfi_table_stats;
void pp_cfi_table_stats_get(pp_cfi_table_stats *out);

/* Lookups in placeholders the rule cache lacked, since the process started,
 * read without a lock: those answered by one FDE read in the handler, and
 * those answered by the rows the drain thread had stored by block. */
void pp_cfi_table_reads(uint64_t *fde_reads, uint64_t *block_hits);

#endif
