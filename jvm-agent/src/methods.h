/* Java methods: jmethodIDs made to exist for every loaded class (AGCT can
 * only report methods that have one), and raw frames named on whichever
 * thread resolves them (the core's drain thread, or the thread writing an
 * allocation profile), attaching that thread to the VM when needed. */
#ifndef PPJ_METHODS_H
#define PPJ_METHODS_H

#include <jvmti.h>
#include <stddef.h>

#include "polyprof.h"

/* ClassPrepare callback. */
void JNICALL ppj_on_class_prepare(jvmtiEnv *jvmti, JNIEnv *jni, jthread thread, jclass klass);
/* Once at VMInit: ids for the classes loaded before ClassPrepare was on. */
void ppj_methods_prime(jvmtiEnv *jvmti, JNIEnv *jni);

/* pp_runtime hooks. */
int ppj_resolve_begin(void *ctx);
int ppj_resolve(void *ctx, const pp_raw_frame *f, pp_resolved_frame *out);
void ppj_resolve_end(void *ctx);

/* "Lcom/example/Foo;" -> "com.example.Foo", "[I" -> "int[]". */
void ppj_class_name(const char *signature, char *out, size_t len);
/* Whether the calling thread is one the agent attached for naming: its
 * ThreadStart is not a Java thread to sample. */
int ppj_methods_is_own_thread(void);

#endif
