/* The calling thread's own PyThreadState, for the signal handler. */
#ifndef PP_PY_THREAD_STATE_H
#define PP_PY_THREAD_STATE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* What PyGILState_GetThisThreadState returns (set even while the thread has
 * released the GIL), read with one call instead of three. Async-signal-safe
 * as that is: a read of the thread's own thread-specific data. */
PyThreadState *pp_py_this_thread_state(void);

#endif
