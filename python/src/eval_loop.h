/* Where CPython's eval loop (_PyEval_EvalFrameDefault) lies in memory, for
 * mixed mode: each native frame in it stands for the Python frames of one
 * invocation. */
#ifndef PP_EVAL_LOOP_H
#define PP_EVAL_LOOP_H

#include "polyprof.h"

/* The eval loop's address ranges, found once (with the GIL, it runs a few
 * lines of Python): from the symbol table, and where the interpreter is
 * stripped (distribution builds keep only exported symbols, and the loop's
 * body is a local function there), from a probe of the running stack.
 * Returns how many ranges went to out (0: mixed mode is not available). */
int pp_py_eval_ranges(pp_addr_range *out, int max);

#endif
