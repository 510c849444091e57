/* Circuit breaker, rate limiter and p95 trigger, driven by a test clock. */
#include "check.h"
#include "polyprof.h"

#define S 1000000000ULL

int main(void)
{
    char err[256];
    /* Breaker: baseline 100 ms learned outside profiling; 3 violations above
     * +5% in a row trip it; a good check takes one back; open for 60 s. */
    pp_breaker *b = pp_breaker_new(5, 3, 60 * S, err, sizeof err);
    CHECK(b != NULL);
    uint64_t now = 1000 * S;
    for (int i = 0; i < 30; i++)
        pp_breaker_record(b, 100, -1, 0, now);
    pp_breaker_state st;
    pp_breaker_get_state(b, now, &st);
    CHECK(st.baseline_ms > 99 && st.baseline_ms < 101);
    CHECK_EQ_INT(pp_breaker_record(b, 120, -1, 1, now), 0);
    CHECK_EQ_INT(pp_breaker_record(b, 120, -1, 1, now), 0);
    CHECK_EQ_INT(pp_breaker_record(b, 101, -1, 1, now), 0); /* good: 2 -> 1 */
    CHECK_EQ_INT(pp_breaker_record(b, 120, -1, 1, now), 0); /* 2 */
    CHECK_EQ_INT(pp_breaker_record(b, 120, -1, 1, now), 1); /* 3: trips */
    pp_breaker_get_state(b, now, &st);
    CHECK(st.open && st.trips == 1 && st.last_trip_ns == now);
    CHECK_EQ_INT(pp_breaker_can_profile(b, now + 59 * S), 0);
    CHECK_EQ_INT(pp_breaker_can_profile(b, now + 60 * S), 1); /* cooled down: closed */
    pp_breaker_get_state(b, now + 61 * S, &st);
    CHECK(!st.open && st.trips == 1);
    /* The classic form: baseline given per call. */
    CHECK_EQ_INT(pp_breaker_record(b, 300, 200, 1, now + 70 * S), 0);
    CHECK_EQ_INT(pp_breaker_record(b, 300, 200, 1, now + 70 * S), 0);
    CHECK_EQ_INT(pp_breaker_record(b, 300, 200, 1, now + 70 * S), 1);
    CHECK(pp_breaker_new(0, 3, S, err, sizeof err) == NULL);
    CHECK(pp_breaker_new(5, 0, S, err, sizeof err) == NULL);
    pp_breaker_free(b);

    /* Rate limiter: 2 per 10 s for the process. */
    CHECK_EQ_INT(pp_rate_limit_configure(2, 10 * S, err, sizeof err), 0);
    CHECK_EQ_INT(pp_rate_limit_take(0), 1);
    CHECK_EQ_INT(pp_rate_limit_take(1 * S), 1);
    CHECK_EQ_INT(pp_rate_limit_take(2 * S), 0);
    CHECK_EQ_INT(pp_rate_limit_take(10 * S), 1); /* the first left the window */
    CHECK_EQ_INT(pp_rate_limit_take(10 * S), 0);
    CHECK_EQ_INT(pp_rate_limit_configure(0, S, err, sizeof err), -1);

    /* p95 trigger: threshold 500 ms, cooldown 300 s; 20 values needed. */
    CHECK_EQ_INT(pp_rate_limit_configure(100, 3600 * S, err, sizeof err), 0);
    pp_trigger *t = pp_trigger_new(500, 300 * S, err, sizeof err);
    double p95 = 0;
    now = 5000 * S;
    for (int i = 0; i < 19; i++)
        CHECK_EQ_INT(pp_trigger_record(t, 900, now, &p95), 0);
    CHECK(p95 < 0); /* not enough values */
    CHECK_EQ_INT(pp_trigger_record(t, 900, now, &p95), 1);
    CHECK(p95 == 900);
    CHECK_EQ_INT(pp_trigger_record(t, 900, now + 299 * S, &p95), 0); /* cooldown */
    CHECK_EQ_INT(pp_trigger_record(t, 900, now + 300 * S, &p95), 1);
    /* p95 of 1..100 is 95: below a 96 threshold, above a 94 one. */
    pp_trigger *u = pp_trigger_new(96, 0, err, sizeof err);
    pp_trigger *v = pp_trigger_new(94, 0, err, sizeof err);
    int fu = 0, fv = 0;
    for (int i = 1; i <= 100; i++) {
        fu |= pp_trigger_record(u, i, now, &p95);
        fv |= pp_trigger_record(v, i, now + 1, NULL);
    }
    CHECK(p95 == 95);
    CHECK_EQ_INT(fu, 0);
    CHECK_EQ_INT(fv, 1);
    /* The shared limiter caps every trigger, manual ones too. */
    CHECK_EQ_INT(pp_rate_limit_configure(1, 60 * S, err, sizeof err), 0);
    CHECK_EQ_INT(pp_trigger_manual(t, now), 1);
    CHECK_EQ_INT(pp_trigger_manual(u, now), 0);
    CHECK_EQ_INT(pp_trigger_record(t, 900, now + 1000 * S, NULL), 1);
    CHECK_EQ_INT(pp_trigger_record(v, 900, now + 1000 * S, NULL), 0);
    pp_trigger_free(t);
    pp_trigger_free(u);
    pp_trigger_free(v);
    TEST_MAIN_END();
}
