#include "anchor.h"

#include <dlfcn.h>
#include <string.h>

static int ready;
static intptr_t env_offset;        /* JNIEnv's place inside the JavaThread */
static intptr_t anchor_offset;     /* JavaThread::_anchor */
static intptr_t sp_offset, pc_offset; /* JavaFrameAnchor::_last_Java_sp, _last_Java_pc */
static intptr_t fp_offset = -1;       /* JavaFrameAnchor::_last_Java_fp (x86), -1 when not published */

static int64_t read_u64_symbol(const char *name, int *ok)
{
    const uint64_t *p = dlsym(RTLD_DEFAULT, name);
    if (!p) {
        *ok = 0;
        return 0;
    }
    return (int64_t)*p;
}

/* Each vmStructs entry names a type, a field and its offset; the layout of
 * an entry is itself published (the *Offset and Stride symbols). */
static int find_offsets(void)
{
    int ok = 1;
    char **entries_p = dlsym(RTLD_DEFAULT, "gHotSpotVMStructs");
    int64_t stride = read_u64_symbol("gHotSpotVMStructEntryArrayStride", &ok);
    int64_t type_off = read_u64_symbol("gHotSpotVMStructEntryTypeNameOffset", &ok);
    int64_t field_off = read_u64_symbol("gHotSpotVMStructEntryFieldNameOffset", &ok);
    int64_t offset_off = read_u64_symbol("gHotSpotVMStructEntryOffsetOffset", &ok);
    if (!ok || !entries_p || !*entries_p || stride <= 0)
        return -1;
    int found = 0;
    for (char *e = *entries_p;; e += stride) {
        const char *type = *(const char **)(void *)(e + type_off);
        const char *field = *(const char **)(void *)(e + field_off);
        if (!type)
            break;
        if (!field)
            continue;
        intptr_t off = (intptr_t) * (uint64_t *)(void *)(e + offset_off);
        if (!strcmp(type, "JavaThread") && !strcmp(field, "_anchor")) {
            anchor_offset = off;
            found |= 1;
        } else if (!strcmp(type, "JavaFrameAnchor") && !strcmp(field, "_last_Java_sp")) {
            sp_offset = off;
            found |= 2;
        } else if (!strcmp(type, "JavaFrameAnchor") && !strcmp(field, "_last_Java_pc")) {
            pc_offset = off;
            found |= 4;
        } else if (!strcmp(type, "JavaFrameAnchor") && !strcmp(field, "_last_Java_fp")) {
            fp_offset = off;
        }
    }
    return found == 7 ? 0 : -1;
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
