/* AsyncGetCallTrace (AGCT), HotSpot's signal-safe stack walker, exported by
 * libjvm but declared nowhere: the declarations below follow its use by
 * profilers since JDK 6. It needs the interrupted thread's JNIEnv (found
 * through JavaVM::GetEnv, a thread-local read), jmethodIDs for every method
 * it may meet (materialized by methods.c on ClassPrepare) and ClassLoad
 * events enabled (without them it returns ticks_no_class_load). */
#include "agct.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "anchor.h"

typedef struct {
    jint lineno; /* bci for Java frames, -3 for native methods */
    jmethodID method_id;
} ASGCT_CallFrame;

typedef struct {
    JNIEnv *env_id;
    jint num_frames;
    ASGCT_CallFrame *frames;
} ASGCT_CallTrace;

typedef void (*agct_fn)(ASGCT_CallTrace *, jint, void *);

static agct_fn agct;

/* Indexed by -num_frames; 0 is a frame without a jmethodID. */
#define N_ERRORS 11
static const char *const error_names[N_ERRORS] = {
    "[no_method_id]",      "[no_class_load]", "[gc_active]",      "[unknown_not_Java]",
    "[not_walkable_not_Java]", "[unknown_Java]", "[not_walkable_Java]", "[unknown_state]",
    "[thread_exit]",       "[deopt]",         "[safepoint]",
};
static _Atomic uint64_t error_counts[N_ERRORS];

int ppj_agct_init(char *err, size_t errlen)
{
    agct = (agct_fn)dlsym(RTLD_DEFAULT, "AsyncGetCallTrace");
    if (!agct) {
        snprintf(err, errlen, "AsyncGetCallTrace not found in the JVM (HotSpot is required for event=cpu/wall)");
        return -1;
    }
    return 0;
}

/* Past AGCT's codes, so no failure count is kept for it. */
#define TRUNCATED_CHECK 1000

pp_raw_frame ppj_truncated_frame(void) { return (pp_raw_frame){0, TRUNCATED_CHECK, 0, 0}; }

const char *ppj_agct_error_name(const pp_raw_frame *f)
{
    if (f->code != 0)
        return NULL;
    if (f->check == TRUNCATED_CHECK)
        return "[truncated]";
    return f->check < N_ERRORS ? error_names[f->check] : "[unknown_agct_error]";
}

/* Async-signal-safe: GetEnv is a thread-local read in HotSpot, AGCT is
 * written for signal handlers, the rest is plain memory. Runs inside the
 * core's fault guard, so the read of a method id's slot cannot crash. */
int ppj_agct_capture(void *ctx, void *ucontext, pp_raw_frame *frames, int max, uint32_t *flags)
{
    (void)ctx;
    JNIEnv *env = NULL;
    if ((*ppj.vm)->GetEnv(ppj.vm, (void **)&env, JNI_VERSION_1_6) != JNI_OK || !env)
        return 0; /* not a Java thread (GC workers, the VM thread): native frames only */
    /* AGCT writes its 16-byte frames into the ring slot's own frame array
     * (24 bytes a frame), so no stack buffer is needed; the frames are then
     * widened in place from the last, which never overwrites a frame not yet
     * read (frame i lands at byte 24i, at or past where frame i was). */
    ASGCT_CallTrace trace;
    trace.env_id = env;
    trace.num_frames = 0;
    trace.frames = (ASGCT_CallFrame *)(void *)frames;
    agct(&trace, max, ucontext);
    int n = trace.num_frames;
    uintptr_t sp, *pc_slot;
    if (n == -3 /* ticks_unknown_not_Java */ && ppj_anchor_get(env, &sp, &pc_slot) == 0) {
        if (!sp)
            return 0; /* no Java frame at all: a VM thread (compiler, service), native frames only */
        if (!*(volatile uintptr_t *)pc_slot) {
            /* Called into the VM from compiled code, anchor not made walkable
             * yet: do what HotSpot's make_walkable does on x86-64 (the return
             * address sits just below the last Java sp), ask again, and put
             * the anchor back as it was. The thread is this one, stopped in
             * its own signal handler. */
            *(volatile uintptr_t *)pc_slot = ((uintptr_t *)sp)[-1];
            trace.num_frames = 0;
            agct(&trace, max, ucontext);
            *(volatile uintptr_t *)pc_slot = 0;
            n = trace.num_frames;
        }
    }
    if (n == 0)
        return 0; /* a Java thread with no Java frame yet (or a compiler thread) */
    if (n < 0) {
        uint32_t code = (uint32_t)-n;
        if (code < N_ERRORS)
            atomic_fetch_add_explicit(&error_counts[code], 1, memory_order_relaxed);
        pp_raw_frame f = {0, code, 0, 0};
        memcpy(&frames[0], &f, sizeof f);
        return 1;
    }
    if (n > max)
        n = max;
    if (n == max)
        *flags |= PP_CAPTURE_TRUNCATED;
    for (int i = n - 1; i >= 0; i--) {
        ASGCT_CallFrame cf;
        memcpy(&cf, (char *)frames + (size_t)i * sizeof cf, sizeof cf);
        pp_raw_frame f;
        f.code = (uintptr_t)cf.method_id;
        /* A jmethodID points at a slot holding the Method*; the slot is
         * reused when a class is unloaded, so the Method* tells the two
         * apart. */
        f.check = cf.method_id ? *(volatile uintptr_t *)(void *)cf.method_id : 0;
        f.offset = (uint32_t)cf.lineno;
        f.flags = 0;
        if (!cf.method_id)
            atomic_fetch_add_explicit(&error_counts[0], 1, memory_order_relaxed);
        memcpy(&frames[i], &f, sizeof f);
    }
    return n;
}

void ppj_agct_add_metadata(pp_profile *p)
{
    for (int i = 0; i < N_ERRORS; i++) {
        uint64_t n = atomic_load(&error_counts[i]);
        if (!n)
            continue;
        char name[48], line[96];
        snprintf(name, sizeof name, "%s", error_names[i] + 1);
        name[strlen(name) - 1] = '\0';
        snprintf(line, sizeof line, "agct_%s=%llu", name, (unsigned long long)n);
        pp_profile_add_metadata(p, line);
    }
}
