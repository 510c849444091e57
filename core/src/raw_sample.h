/* What the signal handler records: raw words only, decoded later on the drain
 * thread. Fixed size so a ring slot can hold one without allocation. */
#ifndef PP_RAW_SAMPLE_H
#define PP_RAW_SAMPLE_H

#include <stdint.h>

#include "polyprof.h"

#define PP_RAW_MAX_NATIVE 128
#define PP_RAW_MAX_INTERP 128

/* Sample-wide flags */
#define PP_SAMPLE_NATIVE_TRUNCATED 1u  /* more native frames than fit */
#define PP_SAMPLE_NATIVE_FAILED 2u     /* unwinding faulted or could not start */
#define PP_SAMPLE_NATIVE_SKIPPED 4u    /* not unwound on purpose (loader, cold thread) */
#define PP_SAMPLE_INTERP_TRUNCATED 8u
#define PP_SAMPLE_INTERP_FAULT 16u
#define PP_SAMPLE_NATIVE_COMPLETE 32u  /* the unwinder reached the outermost frame */

typedef struct pp_raw_sample {
    int32_t tid;
    uint32_t flags;
    uint64_t weight;       /* 1 + timer overruns */
    uint16_t n_native;
    uint16_t n_interp;
    uintptr_t native[PP_RAW_MAX_NATIVE];   /* leaf first; [0] is the interrupted pc */
    pp_raw_frame interp[PP_RAW_MAX_INTERP]; /* leaf first */
} pp_raw_sample;

#endif
