/* Java threads: each is covered by the sampler from its first instruction
 * (ThreadStart on the new thread itself) and known by its Java name. */
#ifndef PPJ_JTHREADS_H
#define PPJ_JTHREADS_H

#include <jvmti.h>
#include <stddef.h>

void JNICALL ppj_on_thread_start(jvmtiEnv *jvmti, JNIEnv *jni, jthread thread);
void JNICALL ppj_on_thread_end(jvmtiEnv *jvmti, JNIEnv *jni, jthread thread);
/* Records the calling thread's Java name (the thread that starts the
 * profiler is not announced by ThreadStart). */
void ppj_jthreads_note_current(jvmtiEnv *jvmti, jthread thread);
/* pp_runtime.thread_name. */
int ppj_thread_name(void *ctx, int tid, char *out, size_t len);

#endif
