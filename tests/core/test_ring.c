/* The sample ring: FIFO order, full means refused (never overwritten), and
 * concurrent producers lose nothing that was accepted. */
#include <pthread.h>
#include <stdatomic.h>

#include "check.h"
#include "ring.h"

static pp_ring *ring;
static _Atomic uint64_t accepted;

static void *producer(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < 20000; i++) {
        uint64_t pos;
        pp_raw_sample *s = pp_ring_reserve(ring, &pos);
        if (!s)
            continue;
        s->tid = id;
        s->weight = (uint64_t)i;
        pp_ring_commit(ring, pos);
        atomic_fetch_add(&accepted, 1);
    }
    return NULL;
}

int main(void)
{
    ring = pp_ring_new(10); /* rounds up to 16 */
    uint64_t pos;
    for (int i = 0; i < 16; i++) {
        pp_raw_sample *s = pp_ring_reserve(ring, &pos);
        CHECK(s != NULL);
        s->weight = (uint64_t)i;
        pp_ring_commit(ring, pos);
    }
    CHECK(pp_ring_reserve(ring, &pos) == NULL); /* full */
    for (int i = 0; i < 16; i++) {
        const pp_raw_sample *s = pp_ring_peek(ring);
        CHECK(s != NULL);
        if (s)
            CHECK_EQ_INT(s->weight, i);
        pp_ring_release(ring);
    }
    CHECK(pp_ring_peek(ring) == NULL);

    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, producer, (void *)(intptr_t)i);
    uint64_t consumed = 0;
    int64_t last[3] = {-1, -1, -1};
    int done = 0;
    while (!done || pp_ring_peek(ring)) {
        const pp_raw_sample *s = pp_ring_peek(ring);
        if (s) {
            CHECK((int64_t)s->weight > last[s->tid]); /* per-producer order kept */
            last[s->tid] = (int64_t)s->weight;
            pp_ring_release(ring);
            consumed++;
        } else if (!done) {
            done = 1;
            for (int i = 0; i < 3; i++)
                pthread_join(t[i], NULL);
        }
    }
    CHECK_EQ_INT(consumed, atomic_load(&accepted));
    pp_ring_free(ring);
    TEST_MAIN_END();
}
