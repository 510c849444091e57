#include "jthreads.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agct.h"
#include "methods.h"
#include "polyprof.h"

/* tid -> Java name, open addressing, never shrinking; a reused tid takes
 * over its slot. Bounded: once 3/4 full, new threads keep the kernel's name
 * (the Java name truncated to 15 characters). */
#define SLOTS 8192
typedef struct slot {
    int tid; /* 0: empty */
    char name[64];
} slot;
static slot names[SLOTS];
static int used;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void put(int tid, const char *name)
{
    pthread_mutex_lock(&lock);
    unsigned h = (unsigned)tid * 2654435761u % SLOTS;
    for (int i = 0; i < SLOTS; i++, h = (h + 1) % SLOTS) {
        if (names[h].tid == 0) {
            if (used >= SLOTS * 3 / 4)
                break;
            used++;
            names[h].tid = tid;
        }
        if (names[h].tid == tid) {
            snprintf(names[h].name, sizeof names[h].name, "%s", name);
            break;
        }
    }
    pthread_mutex_unlock(&lock);
}

int ppj_thread_name(void *ctx, int tid, char *out, size_t len)
{
    (void)ctx;
    int rc = -1;
    pthread_mutex_lock(&lock);
    unsigned h = (unsigned)tid * 2654435761u % SLOTS;
    for (int i = 0; i < SLOTS && names[h].tid != 0; i++, h = (h + 1) % SLOTS) {
        if (names[h].tid == tid) {
            snprintf(out, len, "%s", names[h].name);
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

void ppj_jthreads_note_current(jvmtiEnv *jvmti, jthread thread)
{
    jvmtiThreadInfo info;
    memset(&info, 0, sizeof info);
    if ((*jvmti)->GetThreadInfo(jvmti, thread, &info) != JVMTI_ERROR_NONE)
        return;
    if (info.name) {
        put((int)syscall(SYS_gettid), info.name);
        (*jvmti)->Deallocate(jvmti, (unsigned char *)info.name);
    }
}

void JNICALL ppj_on_thread_start(jvmtiEnv *jvmti, JNIEnv *jni, jthread thread)
{
    if (ppj_methods_is_own_thread())
        return;
    ppj_agct_keep_thread_env(jni);
    /* Timed from here rather than from the core's next /proc scan (every
     * 100 ms), so short-lived threads are sampled too. */
    pp_sampler_add_current_thread();
    ppj_jthreads_note_current(jvmti, thread);
}

void JNICALL ppj_on_thread_end(jvmtiEnv *jvmti, JNIEnv *jni, jthread thread)
{
    (void)jvmti;
    (void)jni;
    (void)thread;
    /* Before HotSpot frees the thread (and the JNIEnv inside it). */
    ppj_agct_keep_thread_env(NULL);
    /* The name stays until the tid is reused: samples taken just before the
     * end are named after it. The core drops the thread's timer at its next
     * scan; an ended thread's CPU clock no longer fires. */
}
