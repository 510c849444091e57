#include "stubs.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* HotSpot makes a few thousand stubs at most (adapters are shared by
 * signature, dispatch stubs by vtable index); past the capacity new ones go
 * unrecorded, and their samples keep AGCT's failure frame. */
#define CAPACITY 16384
#define NAME_LEN 48
/* The largest code HotSpot reports as one piece is C1's temporary buffer
 * (~0.6 MiB; the interpreter ~0.1 MiB). GenerateEvents also replays a stub
 * that is still being generated (JDK 21 generates its compiler stubs on a
 * thread of their own while the VM starts), with no end yet: its length
 * is the garbage of 0 - start, which can be positive and would cover the
 * stubs made after it, vtable and itable dispatch included. */
#define MAX_STUB_BYTES (8u << 20)

typedef struct {
    int frameless;
    char name[NAME_LEN];
} stub;

/* Where each stub is, apart from the rest: what the signal handler searches,
 * 16 bytes a stub rather than 72, so a search of a few hundred stubs reads a
 * few KB. */
typedef struct {
    uintptr_t start, end;
} stub_range;

static stub table[CAPACITY];
static stub_range ranges[CAPACITY];
static atomic_int count;
/* The lowest start and highest end recorded: a pc outside (a sample in libc
 * or libm called from compiled code, where AGCT says ticks_unknown_Java) is
 * no stub's, without a search. Widened before count is published. */
static _Atomic uintptr_t lowest = UINTPTR_MAX, highest;
static pthread_mutex_t insert_lock = PTHREAD_MUTEX_INITIALIZER;

void JNICALL ppj_stubs_on_generated(jvmtiEnv *jvmti, const char *name, const void *address, jint length)
{
    (void)jvmti;
    if (!address || length <= 0 || (uint32_t)length > MAX_STUB_BYTES)
        return;
    uintptr_t start = (uintptr_t)address;
    pthread_mutex_lock(&insert_lock);
    int n = atomic_load_explicit(&count, memory_order_relaxed);
    int known = 0;
    /* GenerateEvents replays stubs already reported. A stub replayed while
     * it was generated is reported again once it is done: that end holds. */
    for (int i = 0; i < n && !known; i++) {
        known = ranges[i].start == start;
        if (known && ranges[i].end != start + (uintptr_t)length)
            __atomic_store_n(&ranges[i].end, start + (uintptr_t)length, __ATOMIC_RELAXED);
    }
    if (!known && n < CAPACITY) {
        stub *s = &table[n];
        snprintf(s->name, sizeof s->name, "%s", name ? name : "stub");
        s->frameless = !strncmp(s->name, "vtable", 6) || !strncmp(s->name, "itable", 6);
        uintptr_t end = start + (uintptr_t)length;
        ranges[n] = (stub_range){start, end};
        if (start < atomic_load_explicit(&lowest, memory_order_relaxed))
            atomic_store_explicit(&lowest, start, memory_order_relaxed);
        if (end > atomic_load_explicit(&highest, memory_order_relaxed))
            atomic_store_explicit(&highest, end, memory_order_relaxed);
        atomic_store_explicit(&count, n + 1, memory_order_release);
    }
    pthread_mutex_unlock(&insert_lock);
}

int ppj_stubs_find(uintptr_t pc)
{
    int n = atomic_load_explicit(&count, memory_order_acquire);
    if (pc < atomic_load_explicit(&lowest, memory_order_relaxed) ||
        pc >= atomic_load_explicit(&highest, memory_order_relaxed))
        return -1;
    for (int i = 0; i < n; i++)
        if (pc >= ranges[i].start && pc < ranges[i].end)
            return i;
    return -1;
}

int ppj_stubs_frameless(int index) { return table[index].frameless; }

uintptr_t ppj_stubs_start(int index) { return ranges[index].start; }

uintptr_t ppj_stubs_end(int index) { return ranges[index].end; }

const char *ppj_stubs_name(int index)
{
    return index >= 0 && index < atomic_load_explicit(&count, memory_order_acquire) ? table[index].name : NULL;
}
