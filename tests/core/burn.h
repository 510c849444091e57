/* Burns ms of CPU on the calling thread: the workload of the tests that run
 * the real sampler. CPU time, not wall time, so that what a profile adds up
 * to does not depend on how busy the machine is (wall time is at least
 * as long). */
#ifndef PP_TEST_BURN_H
#define PP_TEST_BURN_H

#include <time.h>

static volatile double pp_test_sink;

static inline void burn_on_clock(clockid_t clock, int ms)
{
    struct timespec a, b;
    clock_gettime(clock, &a);
    do {
        for (int i = 0; i < 10000; i++)
            pp_test_sink += i * 0.5;
        clock_gettime(clock, &b);
    } while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < ms);
}

static inline void burn_ms(int ms) { burn_on_clock(CLOCK_THREAD_CPUTIME_ID, ms); }

/* Burns for ms of wall time: for what is counted in wall time (windows). */
static inline void burn_wall_ms(int ms) { burn_on_clock(CLOCK_MONOTONIC, ms); }

#endif
