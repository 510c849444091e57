/* Mixed-mode merge: turns one raw sample (native pcs + interpreter frames)
 * into one stack, leaf first. Each native frame that runs the eval loop is
 * replaced by the interpreter frames that invocation was running; the
 * interpreter's own plumbing between and above interpreter frames is dropped;
 * native frames below (leafward of) the leafmost interpreter frame stay.
 * Pure function: no allocation, no globals, unit-tested on its own. */
#ifndef PP_MERGE_H
#define PP_MERGE_H

#include <stdint.h>

#include "polyprof.h"
#include "raw_sample.h"

typedef enum { PP_REF_NATIVE = 0, PP_REF_INTERP = 1, PP_REF_SPECIAL = 2 } pp_ref_kind;

/* Frames the profiler names itself, so losses show in the output. */
typedef enum {
    PP_SPECIAL_TRUNCATED = 0,     /* "[truncated]": deeper than the capture limit */
    PP_SPECIAL_UNWIND_FAILED = 1, /* "[unwind failed]" */
    PP_SPECIAL_INTERP_FAULT = 2,  /* "[interpreter frames unreadable]" */
    PP_SPECIAL_OVERFLOW = 3,      /* "[overflow: profiler memory cap reached]" */
    PP_SPECIAL_UNRESOLVED = 4,    /* "[unresolved frame]" */
    PP_SPECIAL_COUNT
} pp_special;

const char *pp_special_name(pp_special s);

typedef struct pp_frame_ref {
    uint8_t kind;   /* pp_ref_kind */
    uint32_t index; /* native index, interp index, or pp_special */
} pp_frame_ref;

/* The deepest merged stack: depth frames and the markers after them. */
#define PP_MERGED_MAX (PP_DEPTH_MAX + 4)

/* Whether the native frame at pc is interpreter plumbing to drop. */
typedef int (*pp_plumbing_fn)(void *ctx, uintptr_t pc, int leaf);

/* Returns the number of refs written: at most depth frames (the leaf side;
 * a stack cut there ends in [truncated]) and the markers, so at most
 * PP_MERGED_MAX. pp_merge_stack keeps up to PP_DEPTH_MAX frames. */
int pp_merge_stack_depth(const pp_raw_sample *s, uint32_t depth, const pp_runtime *rt, pp_plumbing_fn is_plumbing,
                         void *ctx, pp_frame_ref *out);
int pp_merge_stack(const pp_raw_sample *s, const pp_runtime *rt, pp_plumbing_fn is_plumbing, void *ctx,
                   pp_frame_ref *out);

#endif
