#include "anchor.h"

#include "vmstructs.h"

static int ready;
static intptr_t env_offset;        /* JNIEnv's place inside the JavaThread */
static intptr_t anchor_offset;     /* JavaThread::_anchor */
static intptr_t sp_offset, pc_offset; /* JavaFrameAnchor::_last_Java_sp, _last_Java_pc */
static intptr_t fp_offset = -1;       /* JavaFrameAnchor::_last_Java_fp (x86), -1 when not published */

static int find_offsets(void)
{
    anchor_offset = ppj_vmstructs_offset("JavaThread", "_anchor");
    sp_offset = ppj_vmstructs_offset("JavaFrameAnchor", "_last_Java_sp");
    pc_offset = ppj_vmstructs_offset("JavaFrameAnchor", "_last_Java_pc");
    fp_offset = ppj_vmstructs_offset("JavaFrameAnchor", "_last_Java_fp");
    return anchor_offset >= 0 && sp_offset >= 0 && pc_offset >= 0 ? 0 : -1;
}

int ppj_anchor_init(jvmtiEnv *jvmti, JNIEnv *jni, jthread thread)
{
    (void)jvmti;
    if (find_offsets() != 0)
        return -1;
    /* java.lang.Thread.eetop holds the JavaThread's address: with the
     * current thread's JNIEnv it gives where a JNIEnv sits in a JavaThread. */
    jclass cls = (*jni)->GetObjectClass(jni, thread);
    jfieldID eetop = cls ? (*jni)->GetFieldID(jni, cls, "eetop", "J") : NULL;
    if (!eetop) {
        (*jni)->ExceptionClear(jni);
        return -1;
    }
    intptr_t jt = (intptr_t)(*jni)->GetLongField(jni, thread, eetop);
    (*jni)->DeleteLocalRef(jni, cls);
    if (!jt)
        return -1;
    env_offset = (intptr_t)jni - jt;
    if (env_offset <= 0 || env_offset > 4096)
        return -1;
    ready = 1;
    return 0;
}

int ppj_anchor_get(JNIEnv *env, uintptr_t *sp, uintptr_t **pc_slot)
{
    if (!ready)
        return -1;
    char *anchor = (char *)env - env_offset + anchor_offset;
    *sp = *(volatile uintptr_t *)(void *)(anchor + sp_offset);
    *pc_slot = (uintptr_t *)(void *)(anchor + pc_offset);
    return 0;
}

int ppj_anchor_slots(JNIEnv *env, uintptr_t **sp_slot, uintptr_t **pc_slot, uintptr_t **fp_slot)
{
    if (!ready || fp_offset < 0)
        return -1;
    char *anchor = (char *)env - env_offset + anchor_offset;
    *sp_slot = (uintptr_t *)(void *)(anchor + sp_offset);
    *pc_slot = (uintptr_t *)(void *)(anchor + pc_offset);
    *fp_slot = (uintptr_t *)(void *)(anchor + fp_offset);
    return 0;
}
