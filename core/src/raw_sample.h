/* What the signal handler records: raw words only, decoded later on the drain
 * thread. The frame arrays are as long as the session's depth (depth=, up to
 * PP_DEPTH_MAX): the handler fills a preallocated capture buffer and the ring
 * keeps only the frames it got, so deep stacks cost memory only when seen. */
#ifndef PP_RAW_SAMPLE_H
#define PP_RAW_SAMPLE_H

#include <stdint.h>

#include "polyprof.h"

/* Frames kept per stack unless depth= says otherwise (async-profiler keeps
 * 2048, py-spy whole stacks: real programs recurse past a few hundred). */
#define PP_DEPTH_DEFAULT 1024
#define PP_DEPTH_MIN 8
#define PP_DEPTH_MAX 4096
/* Room past the depth in a capture's native array: the unwinder's fast trace
 * records the signal handler's own frames before the interrupted ones. */
#define PP_RAW_NATIVE_SLACK 16

/* Sample-wide flags */
#define PP_SAMPLE_NATIVE_TRUNCATED 1u  /* more native frames than fit */
#define PP_SAMPLE_NATIVE_FAILED 2u     /* unwinding faulted or could not start */
#define PP_SAMPLE_NATIVE_SKIPPED 4u    /* not unwound on purpose (loader, cold thread) */
#define PP_SAMPLE_INTERP_TRUNCATED 8u
#define PP_SAMPLE_INTERP_FAULT 16u
#define PP_SAMPLE_NATIVE_COMPLETE 32u  /* the unwinder reached the outermost frame */
#define PP_SAMPLE_WALL_REPEAT 64u      /* wall mode, no frames: the thread is where its latest sample has it */
#define PP_SAMPLE_NATIVE_TABLE_MISS 128u /* a frame's object had no table yet, or libunwind finished the stack */

typedef struct pp_raw_sample {
    int32_t tid;
    uint32_t flags;
    uint64_t weight; /* 1 + timer overruns */
    uint64_t time_ns; /* CLOCK_MONOTONIC when taken: a duration is judged by it, not by when it is drained */
    uint32_t n_native;
    uint32_t n_interp;
    uintptr_t *native;    /* leaf first; [0] is the interrupted pc */
    pp_raw_frame *interp; /* leaf first */
    /* Capture buffers only, not kept in the ring: rbp in each native frame,
     * for a runtime's capture_native hook (pp_unwind_native_fp). */
    uintptr_t *native_fp;
    uintptr_t native_stop_sp; /* pp_native_stack.stop_sp; capture only */
} pp_raw_sample;

#endif
