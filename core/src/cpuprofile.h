/* Chrome DevTools' CPU profile (the JSON `node --cpu-prof` writes). */
#ifndef PP_CPUPROFILE_H
#define PP_CPUPROFILE_H

#include "buf.h"
#include "profile.h"

#define PP_CPUPROFILE_MAX_TICKS 1000

/* One node per distinct call path; each stack's sample count repeated in
 * `samples` (at most PP_CPUPROFILE_MAX_TICKS times per stack: a node's
 * hitCount holds the whole count), its time spread evenly over its
 * `timeDeltas` (microseconds).
 * Samples are grouped by stack, not in the order they were taken: the core
 * keeps aggregates, not a timeline. */
int pp_cpuprofile_write(const pp_profile *p, pp_buf *out, char *err, size_t errlen);

/* Reads a CPU profile: value types samples/count and wall/nanoseconds, one
 * sample per call path that was sampled; sample k's time is timeDeltas[k]
 * (as the writer spreads it). Without `samples`, nodes' hitCount counts;
 * with them, a node's hitCount counts where it is larger than its ticks (the
 * writer's cap on ticks per stack). */
pp_profile *pp_cpuprofile_read(const char *text, size_t len, char *err, size_t errlen);

#endif
