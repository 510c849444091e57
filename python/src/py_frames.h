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
/* The identity word of a code object that a raw frame carries (its check):
 * a freed code object's address reused by another gives another word. */
uintptr_t pp_py_code_check(PyCodeObject *co);
/* Whether the interpreter is finalizing (frames are then left alone). */
int pp_py_finalizing(void);
/* A runtime for event profiles (pp_events_export, pp_heap_export), with its
 * own resolver: callers serialize its use. Frames are named with the GIL
 * when the exporting thread holds it, else without it (never waiting). */
void pp_py_events_runtime(pp_runtime *rt);
/* Whether the eval loop's address range was found (needed for mixed mode). */
int pp_py_mixed_mode_available(void);
/* The eval loop's ranges found at registration: how many went to out. */
int pp_py_eval_loop(pp_addr_range *out, int max);
/* Drain batches that named frames without the GIL because another thread
 * held it past the wait (GIL_WAIT_NS): a wedged interpreter, seen from the
 * local endpoint's status. */
unsigned long long pp_py_batches_without_gil(void);
/* Which frame layout is in use, as every profile's metadata line says it
 * ("python_frame_layout=..."): compiled in, verified against the
 * interpreter's _Py_DebugOffsets (3.13+), taken from them where a patch
 * release moved a field, or refused (no Python frames are captured). */
const char *pp_py_layout_note(void);
/* 0 when Python frames are refused (the note says why). */
int pp_py_frames_usable(void);
/* Tests: chooses the layout again from copies of the compiled offsets and
 * of the interpreter's _Py_DebugOffsets, each with the fields in a dict
 * changed ({"interpreter_frame.owner": 80}; the runtime's also "cookie",
 * "version", "free_threaded"), installs it when `install` (not while the
 * sampler runs) and returns the metadata line. */
PyObject *pp_py_layout_test(PyObject *built_changes, PyObject *runtime_changes, int install);

#endif
