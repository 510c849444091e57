/* The Java frame anchor of the interrupted thread (where its last Java frame
 * is while it runs VM or native code), read through the offsets HotSpot
 * publishes for debuggers (gHotSpotVMStructs). AGCT gives up on a thread
 * whose anchor has a stack pointer but no pc yet (a call into the VM from
 * compiled code, made walkable lazily); with the anchor known the handler
 * tells "no Java frames at all" (the VM's own threads) from "not walkable
 * yet" and can make it walkable the way HotSpot itself does. */
#ifndef PPJ_ANCHOR_H
#define PPJ_ANCHOR_H

#include <jni.h>
#include <jvmti.h>
#include <stdint.h>

/* At VMInit, on a Java thread: 0 when the offsets were found. */
int ppj_anchor_init(jvmtiEnv *jvmti, JNIEnv *jni, jthread thread);
/* Async-signal-safe. The anchor of the thread that owns env: its last Java
 * sp, and where its last Java pc is stored. 0 when known. */
int ppj_anchor_get(JNIEnv *env, uintptr_t *sp, uintptr_t **pc_slot);
/* Async-signal-safe. Where the anchor's last Java sp, pc and fp are stored
 * (x86's anchor has an fp; HotSpot publishes it as _last_Java_fp). 0 when
 * all three are known. */
int ppj_anchor_slots(JNIEnv *env, uintptr_t **sp_slot, uintptr_t **pc_slot, uintptr_t **fp_slot);

#endif
