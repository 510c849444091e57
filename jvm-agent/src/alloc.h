/* Allocation profiles: the JVM samples allocations by bytes
 * (SetHeapSamplingInterval) and reports each sampled object to
 * SampledObjectAlloc; each becomes one event with its stack, the allocated
 * class as the leaf frame. */
#ifndef PPJ_ALLOC_H
#define PPJ_ALLOC_H

#include <jvmti.h>

#include "polyprof.h"

/* At VMInit: sets the interval and turns the event on. */
int ppj_alloc_start(jvmtiEnv *jvmti, uint64_t interval, size_t max_memory, char *err, size_t errlen);
/* While sampling: what was sampled so far (any thread; naming frames
 * through rt), else NULL. */
pp_profile *ppj_alloc_snapshot(const pp_runtime *rt);
/* Turns the event off and builds the profile (naming frames through rt). */
pp_profile *ppj_alloc_stop(jvmtiEnv *jvmti, const pp_runtime *rt);
void JNICALL ppj_on_sampled_alloc(jvmtiEnv *jvmti, JNIEnv *jni, jthread thread, jobject object,
                                  jclass object_klass, jlong size);

#endif
