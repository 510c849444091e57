#include "compiled.h"

#include <pthread.h>
#include <stdatomic.h>

/* A large program has a few tens of thousands of live compiled methods;
 * past the capacity a method goes unrecorded and its failed samples keep
 * AGCT's failure frame. */
#define CAPACITY 65536

/* A slot is free while start is 0. Writers (JVMTI callbacks, under the
 * lock) clear start first and set it last; a reader takes a slot only when
 * start reads the same before and after it read the rest, so it never
 * pairs one method's range with another's id. */
typedef struct {
    _Atomic uintptr_t start;
    _Atomic uintptr_t end;
    _Atomic(jmethodID) method;
} slot;

static slot table[CAPACITY];
static atomic_int used; /* slots [0, used) may be live */
static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;

void ppj_compiled_on_load(jmethodID method, const void *code, jint size)
{
    if (!code || size <= 0)
        return;
    uintptr_t start = (uintptr_t)code;
    pthread_mutex_lock(&write_lock);
    int n = atomic_load_explicit(&used, memory_order_relaxed), free_slot = -1;
    for (int i = 0; i < n; i++) {
        uintptr_t s = atomic_load_explicit(&table[i].start, memory_order_relaxed);
        if (s == start || (s == 0 && free_slot < 0))
            free_slot = i;
        if (s == start)
            break;
    }
    if (free_slot < 0 && n < CAPACITY) {
        free_slot = n;
        atomic_store_explicit(&used, n + 1, memory_order_release);
    }
    if (free_slot >= 0) {
        slot *sl = &table[free_slot];
        atomic_store_explicit(&sl->start, 0, memory_order_release);
        atomic_store_explicit(&sl->end, start + (uintptr_t)size, memory_order_release);
        atomic_store_explicit(&sl->method, method, memory_order_release);
        atomic_store_explicit(&sl->start, start, memory_order_release);
    }
    pthread_mutex_unlock(&write_lock);
}

void ppj_compiled_on_unload(jmethodID method, const void *code)
{
    (void)method;
    uintptr_t start = (uintptr_t)code;
    pthread_mutex_lock(&write_lock);
    int n = atomic_load_explicit(&used, memory_order_relaxed);
    for (int i = 0; i < n; i++)
        if (atomic_load_explicit(&table[i].start, memory_order_relaxed) == start)
            atomic_store_explicit(&table[i].start, 0, memory_order_release);
    pthread_mutex_unlock(&write_lock);
}

jmethodID ppj_compiled_find(uintptr_t pc)
{
    int n = atomic_load_explicit(&used, memory_order_acquire);
    for (int i = 0; i < n; i++) {
        uintptr_t s = atomic_load_explicit(&table[i].start, memory_order_acquire);
        if (!s || pc < s || pc >= atomic_load_explicit(&table[i].end, memory_order_acquire))
            continue;
        jmethodID m = atomic_load_explicit(&table[i].method, memory_order_acquire);
        if (atomic_load_explicit(&table[i].start, memory_order_acquire) == s)
            return m;
    }
    return NULL;
}
