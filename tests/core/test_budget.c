/* The CPU budget: over budget, the sampler doubles its interval (samples
 * keep their time value), and the measured overhead is in the metadata. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "burn.h"
#include "check.h"
#include "profile_comments.h"
#include "polyprof.h"

static uint64_t now_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int main(void)
{
    char err[256];
    pp_options o;
    pp_options_default(&o);
    /* A budget no sampler can keep: after the first second (start-up costs,
     * not judged) the interval doubles every (wall-clock) second; it stops
     * sampling only once at 1 s. Burnt in steps until the interval is 4 ms,
     * since a loaded machine gives the burn less CPU per wall second. */
    CHECK_EQ_INT(pp_options_parse(&o, "interval=1ms,cpu_budget=0.0001%", err, sizeof err), 0);
    pp_collector *c = pp_collector_start(&o, NULL, NULL, err, sizeof err);
    CHECK(c != NULL);
    pp_sampler_stats st;
    uint64_t burnt_ns = 0, wall_start = now_ns(CLOCK_MONOTONIC);
    do {
        uint64_t cpu = now_ns(CLOCK_THREAD_CPUTIME_ID);
        burn_ms(100);
        burnt_ns += now_ns(CLOCK_THREAD_CPUTIME_ID) - cpu;
        pp_sampler_get_stats(&st);
    } while ((st.interval_ns < 4000000 || burnt_ns < 1500000000ULL) &&
             now_ns(CLOCK_MONOTONIC) - wall_start < 60000000000ULL);
    CHECK(st.interval_ns >= 4000000); /* 1 -> 2 -> 4 ms or more */
    CHECK(st.overhead_pct > 0);
    pp_profile *p = pp_collector_stop(c);
    CHECK(comment_value(p, "overhead_pct") > 0);
    CHECK(comment_value(p, "cpu_budget_pct") > 0);
    CHECK(comment_value(p, "budget_interval_us") >= 4000);
    CHECK_EQ_INT((int)comment_value(p, "budget_stopped"), 0);
    /* The time value still adds up to about the CPU burnt. */
    int64_t t = 0;
    for (size_t i = 0; i < pp_profile_num_samples(p); i++)
        t += pp_profile_value(p, i, 1);
    CHECK(t > (int64_t)(burnt_ns * 0.7) && t < (int64_t)(burnt_ns * 1.3));
    pp_profile_free(p);

    /* Without a budget nothing changes, and the overhead is still measured. */
    pp_options_default(&o);
    CHECK_EQ_INT(pp_options_parse(&o, "interval=1ms", err, sizeof err), 0);
    c = pp_collector_start(&o, NULL, NULL, err, sizeof err);
    burn_ms(1500);
    pp_sampler_get_stats(&st);
    CHECK_EQ_INT(st.interval_ns, 1000000);
    p = pp_collector_stop(c);
    CHECK(comment_value(p, "overhead_pct") >= 0);
    CHECK(comment_value(p, "cpu_budget_pct") < 0);
    pp_profile_free(p);
    /* A finer collector raises the rate while it runs; both get its samples,
     * each worth the interval in force, so times still add up. */
    pp_options slow, fast;
    pp_options_default(&slow);
    pp_options_default(&fast);
    CHECK_EQ_INT(pp_options_parse(&slow, "interval=100ms", err, sizeof err), 0);
    CHECK_EQ_INT(pp_options_parse(&fast, "interval=10ms", err, sizeof err), 0);
    pp_collector *cs = pp_collector_start(&slow, NULL, NULL, err, sizeof err);
    burn_ms(1000);
    pp_collector *cf = pp_collector_start(&fast, NULL, NULL, err, sizeof err);
    burn_ms(1000);
    pp_sampler_get_stats(&st);
    CHECK_EQ_INT(st.interval_ns, 10000000);
    pp_profile *pf = pp_collector_stop(cf);
    burn_ms(500);
    pp_sampler_get_stats(&st);
    CHECK_EQ_INT(st.interval_ns, 100000000); /* back to the slow rate */
    pp_profile *ps = pp_collector_stop(cs);
    int64_t n_slow = 0, t_slow = 0, n_fast = 0;
    for (size_t i = 0; i < pp_profile_num_samples(ps); i++) {
        n_slow += pp_profile_value(ps, i, 0);
        t_slow += pp_profile_value(ps, i, 1);
    }
    for (size_t i = 0; i < pp_profile_num_samples(pf); i++)
        n_fast += pp_profile_value(pf, i, 0);
    /* ~10 + ~100 + ~5 signals; without the raise it would be ~25. The fast
     * collector has no duration: a wall-clock one would end early on a
     * loaded machine, where 1 s of CPU takes longer. */
    CHECK(n_slow > 60);
    CHECK(n_fast > 50);
    CHECK(t_slow > 1800000000LL && t_slow < 3500000000LL);
    pp_profile_free(pf);
    pp_profile_free(ps);
    CHECK_EQ_INT(pp_options_parse(&o, "cpu_budget=150%", err, sizeof err), -1);
    CHECK(strstr(err, "cpu_budget") != NULL);
    TEST_MAIN_END();
}
