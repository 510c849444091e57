/* Burns CPU on the calling thread for a while: the workload of the tests
 * that run the real sampler. */
#ifndef PP_TEST_BURN_H
#define PP_TEST_BURN_H

#include <time.h>

static volatile double pp_test_sink;

static void burn_ms(int ms)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do {
        for (int i = 0; i < 10000; i++)
            pp_test_sink += i * 0.5;
        clock_gettime(CLOCK_MONOTONIC, &b);
    } while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < ms);
}

#endif
