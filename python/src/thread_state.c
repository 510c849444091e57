/* The calling thread's own PyThreadState without CPython's call chain.
 *
 * PyGILState_GetThisThreadState reads the thread-specific key CPython keeps
 * in _PyRuntime through three or four calls across two libraries
 * (PyThread_tss_is_created, PyThread_tss_get, pthread_getspecific), whose code
 * and PLT entries the program has pushed out of the caches and TLB in the
 * milliseconds between two samples. Here the same checks are made on the same
 * fields, and pthread is asked once: the result is the same. Nothing is kept
 * between calls: an embedding application that finalizes the interpreter and
 * starts it again gets a new key, read here as CPython reads it.
 *
 * The runtime's structure is internal, so its layout comes from the headers
 * of the version built against, in a file of its own (the internal headers
 * want Py_BUILD_CORE before Python.h). Versions whose function was not
 * checked against these fields (3.14 on) call CPython's own. */
#define PY_SSIZE_T_CLEAN
#include <patchlevel.h> /* the version, to know how to include the rest */
#if PY_VERSION_HEX < 0x030E0000
#define Py_BUILD_CORE 1
#endif
#include <Python.h>
#if PY_VERSION_HEX < 0x030E0000
#include <internal/pycore_runtime.h>
#endif
#include <pthread.h>

#include "signal_path.h"
#include "thread_state.h"

/* Set once the fields read below gave this thread the thread state CPython
 * gives it: the layout compiled in is the running interpreter's (a patch
 * release or a vendor's build that moved them makes the handler ask CPython
 * instead). */
static int own_lookup_agrees;

static PyThreadState *own_lookup(void)
{
#if PY_VERSION_HEX >= 0x030E0000
    return PyGILState_GetThisThreadState();
#elif PY_VERSION_HEX >= 0x030C0000
    /* 3.12, 3.13: gilstate_tss_get (PyThread_tss_is_created, then _get). */
    const Py_tss_t *key = &_PyRuntime.autoTSSkey;
    return key->_is_initialized ? (PyThreadState *)pthread_getspecific(key->_key) : NULL;
#else
    /* 3.9 to 3.11: none once the interpreter state is gone (finalized). */
    const struct _gilstate_runtime_state *g = &_PyRuntime.gilstate;
    return g->autoInterpreterState ? (PyThreadState *)pthread_getspecific(g->autoTSSkey._key) : NULL;
#endif
}

int pp_py_thread_state_check(void)
{
    PyThreadState *cpythons = PyGILState_GetThisThreadState();
    own_lookup_agrees = cpythons != NULL && own_lookup() == cpythons;
    return own_lookup_agrees;
}

PP_SIGNAL_PATH PyThreadState *pp_py_this_thread_state(void)
{
    return own_lookup_agrees ? own_lookup() : PyGILState_GetThisThreadState();
}
