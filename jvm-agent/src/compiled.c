#include "compiled.h"

#include <pthread.h>
#include <stdatomic.h>

#include "codeheap.h"

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

/* The writers' side, under write_lock, so that a load or unload costs the
 * JVM's Service Thread (which posts these events, one per compiled method)
 * a few memory accesses rather than a scan of every live method: slots
 * freed by unloads, reused first, and an open-addressing index from code
 * start to slot (linear probing, at most half full counting tombstones;
 * rebuilt from the slots when tombstones pile up). The signal handler
 * never reads these. */
#define INDEX_SIZE (2 * CAPACITY)
#define INDEX_EMPTY 0
#define INDEX_TOMBSTONE (-1)
static int32_t index_slot[INDEX_SIZE]; /* slot + 1, or INDEX_EMPTY / INDEX_TOMBSTONE */
static int index_filled;               /* entries plus tombstones */
static int32_t free_slots[CAPACITY];
static int n_free;

static uint32_t index_home(uintptr_t start)
{
    uint64_t h = (uint64_t)start * 0x9e3779b97f4a7c15ull; /* code starts are aligned: mix the low bits in */
    return (uint32_t)(h >> 47) & (INDEX_SIZE - 1);
}

/* Where start's entry is, or -1; *insert_at gets the first reusable
 * position on its probe path. */
static int index_find(uintptr_t start, int *insert_at)
{
    int reusable = -1;
    for (uint32_t i = index_home(start), probes = 0; probes < INDEX_SIZE; i = (i + 1) & (INDEX_SIZE - 1), probes++) {
        int32_t e = index_slot[i];
        if (e == INDEX_EMPTY) {
            if (insert_at)
                *insert_at = reusable >= 0 ? reusable : (int)i;
            return -1;
        }
        if (e == INDEX_TOMBSTONE) {
            if (reusable < 0)
                reusable = (int)i;
        } else if (atomic_load_explicit(&table[e - 1].start, memory_order_relaxed) == start) {
            return (int)i;
        }
    }
    if (insert_at)
        *insert_at = reusable;
    return -1;
}

static void index_rebuild(void)
{
    for (int i = 0; i < INDEX_SIZE; i++)
        index_slot[i] = INDEX_EMPTY;
    index_filled = 0;
    int n = atomic_load_explicit(&used, memory_order_relaxed);
    for (int s = 0; s < n; s++) {
        uintptr_t start = atomic_load_explicit(&table[s].start, memory_order_relaxed);
        int at;
        if (start && index_find(start, &at) < 0) {
            index_slot[at] = s + 1;
            index_filled++;
        }
    }
}

void ppj_compiled_on_load(jmethodID method, const void *code, jint size)
{
    if (!code || size <= 0)
        return;
    uintptr_t start = (uintptr_t)code;
    pthread_mutex_lock(&write_lock);
    int at = -1, pos = index_find(start, &at), free_slot = -1;
    if (pos >= 0) {
        free_slot = index_slot[pos] - 1; /* GenerateEvents replays, or code reused at the same address */
    } else if (n_free > 0) {
        free_slot = free_slots[--n_free];
    } else {
        int n = atomic_load_explicit(&used, memory_order_relaxed);
        if (n < CAPACITY) {
            free_slot = n;
            atomic_store_explicit(&used, n + 1, memory_order_release);
        }
    }
    if (free_slot >= 0) {
        slot *sl = &table[free_slot];
        atomic_store_explicit(&sl->start, 0, memory_order_release);
        atomic_store_explicit(&sl->end, start + (uintptr_t)size, memory_order_release);
        atomic_store_explicit(&sl->method, method, memory_order_release);
        atomic_store_explicit(&sl->start, start, memory_order_release);
        if (pos < 0) {
            if (index_slot[at] == INDEX_EMPTY)
                index_filled++;
            index_slot[at] = free_slot + 1;
            if (index_filled > INDEX_SIZE / 2)
                index_rebuild();
        }
    }
    pthread_mutex_unlock(&write_lock);
}

void ppj_compiled_on_unload(jmethodID method, const void *code)
{
    (void)method;
    uintptr_t start = (uintptr_t)code;
    pthread_mutex_lock(&write_lock);
    int pos = start ? index_find(start, NULL) : -1;
    if (pos >= 0) {
        int s = index_slot[pos] - 1;
        atomic_store_explicit(&table[s].start, 0, memory_order_release);
        index_slot[pos] = INDEX_TOMBSTONE;
        free_slots[n_free++] = s;
    }
    pthread_mutex_unlock(&write_lock);
}

jmethodID ppj_compiled_find(uintptr_t pc)
{
    if (ppj_codeheap_ready())
        return ppj_codeheap_method_at(pc);
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
