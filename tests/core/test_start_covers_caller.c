/* start() times the thread that called it before it returns: the sampler
 * thread's scan of the process's threads may run tens of milliseconds later
 * on a loaded machine, and work done right after start() was missed until
 * then (all of it when short). */
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "burn.h"
#include "check.h"
#include "polyprof.h"

#define BURN_MS 40

int main(void)
{
    /* One CPU for the whole process, and a real-time policy the sampler
     * thread inherits: it cannot run before this thread blocks (in stop()),
     * as on a machine too loaded to give it a CPU. Without the privilege
     * for that (not root), the check below only holds the sampler thread
     * to its own pace. */
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu() >= 0 ? sched_getcpu() : 0, &one);
    CHECK_EQ_INT(sched_setaffinity(0, sizeof one, &one), 0);
    struct sched_param fifo = {.sched_priority = 1};
    if (sched_setscheduler(0, SCHED_FIFO, &fifo) != 0)
        fprintf(stderr, "no SCHED_FIFO here: the sampler thread may run first\n");
    char err[256];
    pp_options o;
    pp_options_default(&o);
    CHECK_EQ_INT(pp_options_parse(&o, "interval=1ms", err, sizeof err), 0);
    pp_collector *c = pp_collector_start(&o, NULL, NULL, err, sizeof err);
    CHECK(c != NULL);
    pp_sampler_stats st;
    pp_sampler_get_stats(&st);
    CHECK(st.threads >= 1); /* the caller, whatever the sampler thread has done yet */
    burn_ms(BURN_MS);
    pp_profile *p = pp_collector_stop(c);
    int64_t cpu_ns = 0;
    for (size_t i = 0; i < pp_profile_num_samples(p); i++)
        cpu_ns += pp_profile_value(p, i, 1);
    /* CPU-time timers fire on the burn's own CPU time, however loaded the
     * machine: most of it is in the profile. */
    fprintf(stderr, "profile: %.1f ms of %d ms burnt\n", cpu_ns / 1e6, BURN_MS);
    CHECK(cpu_ns >= (int64_t)BURN_MS * 1000000 * 6 / 10);
    pp_profile_free(p);
    return 0;
}
