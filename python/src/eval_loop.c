/* Finds the eval loop's machine code.
 *
 * An interpreter built with its symbol table names it: _PyEval_EvalFrameDefault
 * and its ".cold"-style parts. Distribution builds (Debian's python3.x) are
 * stripped down to the exported symbols, and there the exported
 * _PyEval_EvalFrameDefault is a small wrapper whose body, the loop itself,
 * is a local function without a name. Its extent is still known to the
 * unwinder (.eh_frame): a probe called from Python code nested a few eval
 * invocations deep unwinds its own stack. The loop appears once per
 * invocation, and so may the call machinery that enters it (_PyEval_Vector):
 * of the functions that appear that often, the loop is by far the largest
 * (tens of kilobytes of opcode cases, where the machinery is a few hundred
 * bytes). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <string.h>

#include "eval_loop.h"

/* Eval-loop invocations the probe runs under (module, f1, f2, f3): C code
 * (map) calls each nested function, so each runs in an invocation of its own. */
#define PROBE_DEPTH 4
#define PROBE_FRAMES 128

static pp_addr_range probed[PROBE_FRAMES];
static int n_probed;

/* Records the function extent of every native frame on the stack. */
static PyObject *probe(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    unw_context_t uc;
    unw_cursor_t cursor;
    n_probed = 0;
    if (unw_getcontext(&uc) != 0 || unw_init_local(&cursor, &uc) != 0)
        Py_RETURN_NONE;
    while (n_probed < PROBE_FRAMES && unw_step(&cursor) > 0) {
        unw_proc_info_t pi;
        if (unw_get_proc_info(&cursor, &pi) == 0 && pi.end_ip > pi.start_ip)
            probed[n_probed++] = (pp_addr_range){(uintptr_t)pi.start_ip, (uintptr_t)pi.end_ip};
    }
    Py_RETURN_NONE;
}

static PyMethodDef probe_def = {"probe", probe, METH_NOARGS, NULL};

static const char probe_source[] = "def f3(_):\n"
                                   "    probe()\n"
                                   "def f2(_):\n"
                                   "    list(map(f3, [0]))\n"
                                   "def f1(_):\n"
                                   "    list(map(f2, [0]))\n"
                                   "list(map(f1, [0]))\n";

/* No build's eval loop is smaller. */
#define MIN_LOOP_BYTES (16 * 1024)

/* The largest function of the interpreter that appears PROBE_DEPTH times or
 * more on the probe's stack: -1 when none does, or it is too small to be
 * the loop. */
static int find_loop(const pp_addr_range *within, pp_addr_range *out)
{
    int best = -1;
    for (int i = 0; i < n_probed; i++) {
        if (probed[i].start < within->start || probed[i].end > within->end)
            continue;
        int count = 0;
        for (int j = 0; j < n_probed; j++)
            count += probed[j].start == probed[i].start;
        if (count >= PROBE_DEPTH && (best < 0 || probed[i].end - probed[i].start > probed[best].end - probed[best].start))
            best = i;
    }
    if (best < 0 || probed[best].end - probed[best].start < MIN_LOOP_BYTES)
        return -1;
    *out = probed[best];
    return 0;
}

static int probe_loop(const pp_addr_range *within, pp_addr_range *out)
{
    PyObject *fn = PyCFunction_New(&probe_def, NULL);
    PyObject *globals = PyDict_New();
    PyObject *builtins = PyImport_ImportModule("builtins");
    int rc = -1;
    if (fn && globals && builtins && PyDict_SetItemString(globals, "__builtins__", builtins) == 0 &&
        PyDict_SetItemString(globals, "probe", fn) == 0) {
        n_probed = 0;
        PyObject *r = PyRun_String(probe_source, Py_file_input, globals, globals);
        if (r)
            rc = find_loop(within, out);
        Py_XDECREF(r);
    }
    PyErr_Clear();
    Py_XDECREF(builtins);
    Py_XDECREF(globals);
    Py_XDECREF(fn);
    return rc;
}

int pp_py_eval_ranges(pp_addr_range *out, int max)
{
    /* The loop lives beside PyEval_EvalCode (libpython, or the executable
     * when it links CPython statically): searching that object alone spares
     * opening every other object mapped. */
    int n = pp_symbols_function_ranges_in((uintptr_t)&PyEval_EvalCode, "_PyEval_EvalFrameDefault", 1, out, max);
    if (n <= 0)
        n = pp_symbols_function_ranges("_PyEval_EvalFrameDefault", 1, out, max);
    if (n < 0)
        n = 0;
    pp_addr_range interpreter, loop;
    if (n >= max || pp_symbols_object_range((uintptr_t)&PyEval_EvalCode, &interpreter) != 0 ||
        probe_loop(&interpreter, &loop) != 0)
        return n;
    for (int i = 0; i < n; i++)
        if (loop.start < out[i].end && out[i].start < loop.end)
            return n; /* named already */
    out[n++] = loop;
    return n;
}
