/* The CPython runtime of the core: frame capture and resolution. */
#ifndef PP_PY_FRAMES_H
#define PP_PY_FRAMES_H

#include <stddef.h>

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "polyprof.h"

/* Registers the capture hook, resolver and eval-loop ranges with the core. */
int pp_py_register_runtime(char *err, size_t errlen);
/* The interpreter frames of ts, leaf first, as the sampler captures them
 * (the same raw frames, so they are named the same way). Reads ts's frames
 * without locks or allocation: call it on ts's own thread. */
int pp_py_capture_thread(PyThreadState *ts, pp_raw_frame *out, int max, uint32_t *flags);
/* A runtime for event profiles (pp_events_export, pp_heap_export), with its
 * own resolver: callers serialize its use. with_gil: frames not named before
 * are named under the GIL (the caller may hold it); without it, only frames
 * it has named before are (no waiting for the interpreter). */
void pp_py_events_runtime(pp_runtime *rt, int with_gil);
/* Whether the eval loop's address range was found (needed for mixed mode). */
int pp_py_mixed_mode_available(void);
/* Drain batches that named frames without the GIL because another thread
 * held it past the wait (GIL_WAIT_NS): a wedged interpreter, seen from the
 * local endpoint's status. */
unsigned long long pp_py_batches_without_gil(void);

#endif
