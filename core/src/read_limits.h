/* Limits every profile reader applies, so that what a file costs to read and
 * to write out again stays proportional to the file: a few bytes can
 * describe a deep stack that every later event repeats (speedscope's evented
 * profiles, a .cpuprofile's node chains, pprof's inlined locations), and
 * those repeats, not the file's size, would decide the memory.
 * docs/options.md, "Limits on profile files", lists them. Not
 * async-signal-safe. */
#ifndef PP_READ_LIMITS_H
#define PP_READ_LIMITS_H

#include <stddef.h>

#include "profile.h"

/* Frames in one stack. Deeper than any runtime's stack limit by default
 * (CPython's recursion limit is 1000, V8's stack ~11000 frames, HotSpot's
 * default 1 MiB thread stack a few thousand). */
#define PP_READ_MAX_DEPTH 16384
/* Frame references over all samples of one profile (8 Mi: 32 MiB of stack
 * ids). It also bounds the call trees the writers build (at most one node
 * per reference, ~60 bytes each). */
#define PP_READ_MAX_FRAME_REFS ((size_t)1 << 23)
/* Bytes one text writer (collapsed, report, cpuprofile, html, speedscope,
 * diff) may produce. */
#define PP_WRITE_MAX_BYTES ((size_t)256 << 20)

/* Checks that a sample of `depth` frames may join p. Returns 0, or -1 with
 * err set to "WHAT: <where>: <which limit>"; `where` names the place in the
 * input (e.g. "sample 12", "line 3"). */
int pp_read_check_stack(const pp_profile *p, size_t depth, const char *what, const char *where, char *err,
                        size_t errlen);

#endif
