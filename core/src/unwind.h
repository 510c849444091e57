/* Native stack capture from a signal's ucontext: the CFI tables built off
 * the signal path first (cfi_table.h), libunwind for what they miss. */
#ifndef PP_UNWIND_H
#define PP_UNWIND_H

#include <stdint.h>

#include "polyprof.h"

/* Off the signal path, once: caching policy, and the address ranges of libc
 * and the dynamic loader for the cold-thread rule below. */
int pp_unwind_init(void);

/* On a thread, outside any signal handler: lets its samples use libunwind's
 * cached fast trace (see below). */
void pp_unwind_warm_thread(void);

/* Off the signal path, before sampling starts: native frames in these ranges
 * end the unwind (the frame itself is kept). For a runtime whose generated
 * code has no unwind tables (the JVM's code cache, pair_from_leaf): past such
 * a frame libunwind can only guess, at great cost (its fast trace gives up
 * and the whole walk is redone the slow way), and the merge drops those
 * frames anyway. NULL/0 clears them. */
void pp_unwind_set_stop_ranges(const pp_addr_range *r, size_t n);

/* Signal handler. Writes up to max return addresses, leaf first (out[0] is the
 * interrupted pc), and ORs PP_SAMPLE_NATIVE_* flags into *flags; out must
 * have room for max + PP_RAW_NATIVE_SLACK (scratch for the handler's own
 * frames). Must be called inside a fault-guarded section.
 *
 * Async-signal-safety: the table walk reads the published tables (one
 * atomic load, no lock), the .eh_frame of an object whose table is not
 * built yet, and the stack (all under the caller's fault guard); it runs
 * wherever the thread was interrupted. libunwind, for what the tables
 * cannot express: its local unwinder with per-thread caching does not
 * allocate once the thread's caches exist, but libunwind keeps them in
 * dynamic TLS, and the first touch of dynamic TLS in a thread may malloc.
 * So a thread's first libunwind walk happens only when the interrupted pc
 * is outside libc and the loader (no malloc or loader lock can be held by
 * the interrupted code there); until then a sample that needs libunwind
 * carries only its pc and says so (PP_SAMPLE_NATIVE_SKIPPED). libunwind
 * never walks a sample that interrupted the loader itself
 * (dl_iterate_phdr would walk a link map that is being changed). */
int pp_unwind_native(void *ucontext, uintptr_t *out, int max, uint32_t *flags);

/* As pp_unwind_native, and also writes fp_out[i], the frame pointer register
 * (rbp) as it was while frame i ran: what a runtime whose generated code
 * describes its frames at fixed offsets from rbp (V8) reads them by. 0 for
 * the frames libunwind unwound (it does not say). fp_out has max entries.
 * *stop_sp gets the stack pointer of the last frame when the walk stopped
 * there because its pc is in a stop range (pp_unwind_set_stop_ranges), and
 * 0 otherwise: where a runtime's own walker (the JVM's) starts. Either
 * pointer may be NULL. */
int pp_unwind_native_fp(void *ucontext, uintptr_t *out, uintptr_t *fp_out, uintptr_t *stop_sp, int max,
                        uint32_t *flags);

/* Samples whose stack the CFI tables (cfi_table.h) could not walk to its
 * end, so libunwind finished it: a rule the tables cannot express (signal
 * trampolines, CFA expressions other than a PLT entry's), code without CFI
 * whose frame pointer does not point into the stack. An object whose table
 * is not built yet is no miss: its FDEs are read where the walk needs them. */
uint64_t pp_unwind_table_misses(void);

/* The drain thread, each tick: has the tables of the objects samples needed
 * built (pp_unwind_note_miss), and the objects listed again when handlers
 * met pcs outside them and the loaded objects changed (dlopen), on a thread
 * of their own (pp_cfi_table_refresh_if_missed). Until an object's table is
 * published, its frames' rules are read from its .eh_frame one FDE at a
 * time. */
void pp_unwind_maintain(void);

/* The drain thread: the native frames of a sample flagged
 * PP_SAMPLE_NATIVE_TABLE_MISS (leaf first, as pp_unwind_native wrote them).
 * The objects they are in get their tables at the next pp_unwind_maintain. */
void pp_unwind_note_miss(const uintptr_t *frames, size_t n);

#endif
