/* The CPython runtime of the core: frame capture and resolution. */
#ifndef PP_PY_FRAMES_H
#define PP_PY_FRAMES_H

#include <stddef.h>

/* Registers the capture hook, resolver and eval-loop ranges with the core. */
int pp_py_register_runtime(char *err, size_t errlen);
/* Whether the eval loop's address range was found (needed for mixed mode). */
int pp_py_mixed_mode_available(void);
/* Drain batches that named frames without the GIL because another thread
 * held it past the wait (GIL_WAIT_NS): a wedged interpreter, seen from the
 * local endpoint's status. */
unsigned long long pp_py_batches_without_gil(void);

#endif
