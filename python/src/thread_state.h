/* The calling thread's own PyThreadState, for the signal handler. */
#ifndef PP_PY_THREAD_STATE_H
#define PP_PY_THREAD_STATE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* What PyGILState_GetThisThreadState returns (set even while the thread has
 * released the GIL), read with one call instead of three. Async-signal-safe
 * as that is: a read of the thread's own thread-specific data. */
PyThreadState *pp_py_this_thread_state(void);

/* With the GIL, on a thread that has a thread state, before the handler
 * uses the above: whether the runtime's fields read there give what CPython
 * gives (1); if not, the handler calls CPython's function instead. */
int pp_py_thread_state_check(void);

#endif
