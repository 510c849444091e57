/* Core-internal extensions of event profiles (pp_events_*, polyprof.h) for
 * profiles whose values go down as well as up: the heap tracker adds a
 * sampled block's live values to its stack's aggregate when it is allocated
 * and takes them back when it is freed. */
#ifndef PP_EVENTS_H
#define PP_EVENTS_H

#include <stdint.h>

#include "polyprof.h"

/* A raw frame that is a native return address (pp_raw_frame.code = pc),
 * named at export through the core's ELF symbolizer. Frames whose symbol
 * the runtime's is_plumbing calls machinery are left out of the stack. */
#define PP_RAW_NATIVE_PC 0x100u
/* A raw frame that stands for the root side of a stack cut at the depth
 * (the root-most frame of the sample; code, check and offset unused), named
 * "[truncated]" at export as the CPU sampler names its cuts. */
#define PP_RAW_TRUNCATED 0x200u

/* The aggregate of samples that went past the memory cap. */
#define PP_EVENTS_OVERFLOW UINT32_MAX

/* pp_events_record, and *stack gets the aggregate the values went to
 * (PP_EVENTS_OVERFLOW when the cap took them), for pp_events_add later. */
int pp_events_record_stack(pp_events *e, const char *leaf_name, const pp_raw_frame *frames, uint32_t n_frames,
                           const int64_t *values, uint32_t *stack);
/* Adds values (negative ones subtract) to an aggregate recorded before. */
void pp_events_add(pp_events *e, uint32_t stack, const int64_t *values);
/* Starts a new window: the values whose bit is set in clear_mask go back to
 * zero in every aggregate (the others, e.g. live bytes, carry over); times
 * and counters start afresh. Stacks stay interned. */
void pp_events_new_window(pp_events *e, uint32_t clear_mask);
/* pp_events_export with the values reordered: value i of the profile is the
 * recorded value order[i] (NULL: as recorded), so the caller picks which is
 * last, the default. Aggregates whose values are all zero are left out. */
pp_profile *pp_events_export_ordered(pp_events *e, const pp_runtime *rt, const uint32_t *order);

#endif
