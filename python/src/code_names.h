/* Names of code objects that were freed: module bodies, exec'd and generated
 * code run once and are deallocated before the samples taken in them are
 * named (by the drain thread, or for allocation samples at export). Their
 * name, file and first line are kept when they are freed (a code watcher on
 * 3.12+, the code type's deallocator before), in a bounded FIFO, so such
 * samples are still named. */
#ifndef PP_CODE_NAMES_H
#define PP_CODE_NAMES_H

#include <stdint.h>

#include "polyprof.h"

/* Starts keeping the names of freed code objects. With the GIL; idempotent.
 * 0, or -1 with a Python exception set. */
int pp_code_names_enable(void);

/* The kept name of the freed code object that was at `code` with identity
 * word `check` (see py_frames.c): 0 and `out` filled (line = first line,
 * the line table is not kept), or -1. Any thread, GIL or not. */
int pp_code_names_find(uintptr_t code, uintptr_t check, pp_resolved_frame *out);

typedef struct pp_code_names_stats {
    unsigned long long kept;    /* freed code objects whose names were kept */
    unsigned long long evicted_young; /* names pushed out of the FIFO within a second of being kept */
    unsigned long long found;   /* frames named from the kept names */
} pp_code_names_stats;

void pp_code_names_get_stats(pp_code_names_stats *out);

/* Adds the stats (process totals) to p's metadata as freed_code_names_kept,
 * freed_code_frames_named and freed_code_names_evicted_young: a profile
 * says what it could not name. Any thread. */
void pp_code_names_add_metadata(pp_profile *p);

#endif
