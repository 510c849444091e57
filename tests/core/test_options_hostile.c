/* Option values that once slipped through the grammar: NaN and infinite
 * durations (converting NaN to an integer is undefined: `duration=nan` came
 * back as a different value), numbers past what their key can hold, and the
 * real-time signals glibc keeps for its thread library. Each is refused with
 * the key named, and the options are left as they were. */
#include <signal.h>
#include <string.h>

#include "check.h"
#include "polyprof.h"

static void refused(const char *spec, const char *key)
{
    pp_options o, before;
    char err[512] = "";
    pp_options_default(&o);
    before = o;
    if (pp_options_parse(&o, spec, err, sizeof err) == 0) {
        fprintf(stderr, "accepted: %s\n", spec);
        pp_test_failures++;
        return;
    }
    char quoted[64];
    snprintf(quoted, sizeof quoted, "'%s'", key);
    if (!strstr(err, quoted)) {
        fprintf(stderr, "%s: the error does not name %s: %s\n", spec, quoted, err);
        pp_test_failures++;
    }
    CHECK(memcmp(&o, &before, sizeof o) == 0);
}

int main(void)
{
    const char *durations[] = {"duration", "interval", "window", "store_max_age", "push_timeout", "push_flush"};
    const char *bad_numbers[] = {"nan", "NaN", "nans", "inf", "infinity", "-inf", "1e300", "1e300s",
                                 "0x10", "99999999999999999999999d", "nan(0x1)"};
    char spec[128];
    for (size_t k = 0; k < sizeof durations / sizeof durations[0]; k++) {
        for (size_t v = 0; v < sizeof bad_numbers / sizeof bad_numbers[0]; v++) {
            snprintf(spec, sizeof spec, "%s=%s", durations[k], bad_numbers[v]);
            refused(spec, durations[k]);
        }
    }
    refused("memory=99999999999999999999g", "memory");
    refused("memory=18446744073709551615g", "memory");
    refused("ring=18446744073709551616", "ring");
    refused("store_max_bytes=nan", "store_max_bytes");
    refused("alloc_interval=inf", "alloc_interval");
    refused("cpu_budget=nan", "cpu_budget");
    refused("cpu_budget=inf%", "cpu_budget");
    refused("push_queue=99999999999999999999", "push_queue");
    /* glibc's own real-time signals: SIGRTMIN is past them. */
    refused("signal=32", "signal");
    refused("signal=33", "signal");
    refused("signal=99999999999999999999", "signal");
    refused("signal=RTMIN+99999999999999999999", "signal");
    refused("signal=RTMIN+-1", "signal");

    pp_options o;
    char err[256];
    pp_options_default(&o);
    CHECK_EQ_INT(pp_options_parse(&o, "duration=1.5,store_max_age=.5h,window=90s", err, sizeof err), 0);
    CHECK_EQ_INT(o.duration_ns, 1500000000LL);
    char num[16];
    snprintf(num, sizeof num, "signal=%d", SIGRTMIN);
    CHECK_EQ_INT(pp_options_parse(&o, num, err, sizeof err), 0);
    CHECK_EQ_INT(o.signo, SIGRTMIN);
    CHECK_EQ_INT(pp_options_parse(&o, "signal=RTMIN+0", err, sizeof err), 0);
    CHECK_EQ_INT(o.signo, SIGRTMIN);
    TEST_MAIN_END();
}
