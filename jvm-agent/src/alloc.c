#include "alloc.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agct.h"
#include "agent.h"
#include "methods.h"

static _Atomic(pp_events *) events;
static atomic_int sampling; /* between start and stop */
static uint64_t sampling_interval;

int ppj_alloc_start(jvmtiEnv *jvmti, uint64_t interval, size_t max_memory, char *err, size_t errlen)
{
    const char *types[] = {"alloc_objects", "alloc_space"}, *units[] = {"count", "bytes"};
    pp_events *e = pp_events_new(types, units, 2, "space", "bytes", (int64_t)interval, max_memory);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    sampling_interval = interval;
    atomic_store(&events, e);
    jvmtiError rc = (*jvmti)->SetHeapSamplingInterval(jvmti, (jint)interval);
    if (rc == JVMTI_ERROR_NONE)
        rc = (*jvmti)->SetEventNotificationMode(jvmti, JVMTI_ENABLE, JVMTI_EVENT_SAMPLED_OBJECT_ALLOC, NULL);
    if (rc != JVMTI_ERROR_NONE) {
        snprintf(err, errlen, "option 'event': alloc needs JVMTI heap sampling (JDK 11+): error %d", (int)rc);
        return -1;
    }
    atomic_store(&sampling, 1);
    return 0;
}

/* Sampling picks an allocation once per `interval` bytes on average, so an
 * object of `size` bytes is picked with probability 1 - exp(-size/interval):
 * each sample stands for 1/that objects and size/that bytes (what Go's
 * runtime/pprof does), so totals estimate what was really allocated. */
void JNICALL ppj_on_sampled_alloc(jvmtiEnv *jvmti, JNIEnv *jni, jthread thread, jobject object,
                                  jclass object_klass, jlong size)
{
    (void)jni;
    (void)object;
    pp_events *e = atomic_load(&events);
    if (!e)
        return;
    /* The core's depth= governs these stacks as it does the sampled ones,
     * up to what one event sample holds (one slot kept for the marker).
     * One frame more than kept is asked for, to tell a stack that fits from
     * one that was cut; the leaf side is kept, as JVMTI returns it. Heap
     * buffers: at 4096 frames they would take 160 KiB of a Java thread's
     * stack. */
    uint32_t keep = ppj.options.depth;
    if (keep > PP_MAX_EVENT_FRAMES - 1)
        keep = PP_MAX_EVENT_FRAMES - 1;
    jvmtiFrameInfo *info = malloc((keep + 1) * sizeof *info);
    pp_raw_frame *frames = malloc((keep + 1) * sizeof *frames);
    if (!info || !frames) {
        free(info);
        free(frames);
        return; /* no memory for this one sample: the next one may have it */
    }
    jint n = 0;
    if ((*jvmti)->GetStackTrace(jvmti, thread, 0, (jint)keep + 1, info, &n) != JVMTI_ERROR_NONE)
        n = 0;
    int cut = n > (jint)keep;
    if (cut)
        n = (jint)keep;
    for (jint i = 0; i < n; i++) {
        frames[i].code = (uintptr_t)info[i].method;
        /* The Method* the id points at: see agct.c. */
        frames[i].check = *(volatile uintptr_t *)(void *)info[i].method;
        frames[i].offset = (uint32_t)info[i].location;
        frames[i].flags = 0;
    }
    if (cut)
        frames[n++] = ppj_truncated_frame();
    char *sig = NULL, cls[256] = "[unknown class]";
    if ((*jvmti)->GetClassSignature(jvmti, object_klass, &sig, NULL) == JVMTI_ERROR_NONE && sig) {
        ppj_class_name(sig, cls, sizeof cls);
        (*jvmti)->Deallocate(jvmti, (unsigned char *)sig);
    }
    double p = sampling_interval ? 1.0 - exp(-(double)size / (double)sampling_interval) : 1.0;
    double scale = p > 0 ? 1.0 / p : 1.0;
    int64_t values[2] = {(int64_t)(scale + 0.5), (int64_t)((double)size * scale + 0.5)};
    pp_events_record(e, cls, frames, (uint32_t)n, values);
    free(info);
    free(frames);
}

pp_profile *ppj_alloc_snapshot(const pp_runtime *rt)
{
    pp_events *e = atomic_load(&events);
    return e && atomic_load(&sampling) ? pp_events_export(e, rt) : NULL;
}

pp_profile *ppj_alloc_stop(jvmtiEnv *jvmti, const pp_runtime *rt)
{
    atomic_store(&sampling, 0);
    (*jvmti)->SetEventNotificationMode(jvmti, JVMTI_DISABLE, JVMTI_EVENT_SAMPLED_OBJECT_ALLOC, NULL);
    pp_events *e = atomic_load(&events);
    /* The table is not freed: a callback that read it before the event was
     * turned off may still be recording into it. */
    return e ? pp_events_export(e, rt) : NULL;
}
