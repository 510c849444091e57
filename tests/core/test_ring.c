/* The sample ring: FIFO order, full means refused (never overwritten),
 * samples take the bytes their frames need (a ring holds many shallow
 * samples but still a whole deep one), and concurrent producers lose nothing
 * that was accepted. */
#include <pthread.h>
#include <stdatomic.h>

#include "check.h"
#include "ring.h"

static pp_ring *ring;
static _Atomic uint64_t accepted;

static int put(int tid, uint64_t weight, uint32_t n_native, uint32_t n_interp)
{
    pp_raw_sample *s = pp_ring_take(ring, (uint32_t)tid);
    if (!s)
        return -1;
    s->tid = tid;
    s->flags = 0;
    s->weight = weight;
    s->n_native = n_native;
    s->n_interp = n_interp;
    for (uint32_t i = 0; i < n_native; i++)
        s->native[i] = weight * 1000 + i;
    for (uint32_t i = 0; i < n_interp; i++) {
        s->interp[i].code = weight * 1000 + i;
        s->interp[i].check = 0;
        s->interp[i].offset = i;
        s->interp[i].flags = 0;
    }
    return pp_ring_commit(ring, s);
}

static int intact(const pp_raw_sample *s)
{
    for (uint32_t i = 0; i < s->n_native; i++)
        if (s->native[i] != s->weight * 1000 + i)
            return 0;
    for (uint32_t i = 0; i < s->n_interp; i++)
        if (s->interp[i].code != s->weight * 1000 + i || s->interp[i].offset != i)
            return 0;
    return 1;
}

static void *producer(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < 20000; i++) {
        if (put(id, (uint64_t)i, (uint32_t)(i % 40), (uint32_t)(i % 64)) == 0)
            atomic_fetch_add(&accepted, 1);
    }
    return NULL;
}

int main(void)
{
    /* Depth 1024: a whole sample of 1024 native and 1024 interpreter
     * frames fits, however small the ring was asked to be. */
    ring = pp_ring_new(1000, 1024);
    CHECK_EQ_INT(pp_ring_depth(ring), 1024);
    for (int round = 0; round < 3; round++) { /* across the wrap too */
        CHECK_EQ_INT(put(0, 1, 1024, 1024), 0);
        const pp_raw_sample *d = pp_ring_peek(ring);
        CHECK(d != NULL);
        if (d) {
            CHECK_EQ_INT(d->n_native, 1024);
            CHECK_EQ_INT(d->n_interp, 1024);
            CHECK(intact(d));
        }
        pp_ring_release(ring);
    }
    pp_ring_free(ring);
    ring = pp_ring_new(65536, 64);
    /* What the sampler thread does at a session's start, within the ring's
     * own memory whatever the depth (here the buffers' arrays are shorter
     * than a page). */
    pp_ring_prefault(ring);
    /* Shallow samples (40-byte header + 10 + 10 frames: 360 bytes) fill it by bytes. */
    int n = 0;
    while (put(0, (uint64_t)n, 10, 10) == 0)
        n++;
    CHECK_EQ_INT(n, 65536 / 360);
    for (int i = 0; i < n; i++) {
        const pp_raw_sample *s = pp_ring_peek(ring);
        CHECK(s != NULL);
        if (s) {
            CHECK_EQ_INT(s->weight, i);
            CHECK(intact(s));
        }
        pp_ring_release(ring);
    }
    CHECK(pp_ring_peek(ring) == NULL);
    /* Every capture buffer handed out: the next handler drops its sample. */
    pp_raw_sample *taken[128];
    int nt = 0;
    while (nt < 128 && (taken[nt] = pp_ring_take(ring, 7)) != NULL)
        nt++;
    CHECK(nt >= 10 && nt <= 64);
    CHECK(pp_ring_take(ring, 7) == NULL);
    for (int i = 0; i < nt; i++)
        pp_ring_give_back(ring, taken[i]);

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
            CHECK(intact(s));
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
    CHECK(consumed > 0);
    pp_ring_free(ring);
    TEST_MAIN_END();
}
