/* AsyncGetCallTrace from the signal handler: the Java frames of the
 * interrupted thread as raw frames (jmethodID, bci, the Method* the id
 * pointed to), or one named frame for each of its failure codes. */
#ifndef PPJ_AGCT_H
#define PPJ_AGCT_H

#include <jni.h>
#include <stdint.h>

#include "polyprof.h"

/* Looks up AsyncGetCallTrace in libjvm; 0 when found. */
int ppj_agct_init(char *err, size_t errlen);
/* Keeps env as the calling thread's JNIEnv for its samples (NULL: none);
 * called at its ThreadStart and ThreadEnd (and VMInit), see agct.c. */
void ppj_agct_keep_thread_env(JNIEnv *env);
/* VMDeath: threads may be freed without ThreadEnd from now on, so no kept
 * JNIEnv is used again. */
void ppj_agct_forget_thread_envs(void);
/* pp_runtime.capture and capture_native: async-signal-safe. With the
 * native walk, samples in native code called from JIT code without a frame
 * anchor keep their Java frames. */
int ppj_agct_capture(void *ctx, void *ucontext, pp_raw_frame *frames, int max, uint32_t *flags);
int ppj_agct_capture_native(void *ctx, void *ucontext, const pp_native_stack *native, pp_raw_frame *frames, int max,
                            uint32_t *flags);
/* pp_runtime.capture_fault: puts back the frame anchor a walk cut short by
 * a fault had changed. Async-signal-safe. */
void ppj_agct_capture_fault(void *ctx);
/* Raw frames with code 0 carry a failure: check is the negated AGCT code
 * (1..10), or 0 for a frame whose method had no jmethodID. The name, e.g.
 * "[gc_active]"; NULL when not such a frame. */
const char *ppj_agct_error_name(const pp_raw_frame *f);
/* A raw frame that names itself "[truncated]": the root-side marker of a
 * stack the agent cut itself (allocation stacks past depth=). */
pp_raw_frame ppj_truncated_frame(void);
/* Adds "agct_<reason>=N" metadata lines for every failure seen since start. */
void ppj_agct_add_metadata(pp_profile *p);

#endif
