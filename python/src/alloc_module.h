/* Sampled allocation profiling of CPython (PyMem hooks into the core's heap
 * tracker): the module functions, and the profiles for native callers. */
#ifndef POLYPROF_PY_ALLOC_MODULE_H
#define POLYPROF_PY_ALLOC_MODULE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stddef.h>

#include "polyprof.h"

/* Any thread, without the GIL (e.g. the local endpoint's): the running
 * allocation profile, alloc_space the default value (inuse_default 0, Go's
 * /debug/pprof/allocs) or inuse_space (1, /debug/pprof/heap). NULL with a
 * message when allocation profiling is not running. The caller frees it. */
pp_profile *pp_py_alloc_profile(int inuse_default, char *err, size_t errlen);
/* Any thread, lock-free: whether allocation profiling is running (its
 * samples' frames are named when a profile is exported, not within a drain
 * tick). */
int pp_py_alloc_running(void);
/* Adds alloc_start, alloc_stop, alloc_snapshot, ... to polyprof._native. */
int add_alloc(PyObject *m);

#endif
