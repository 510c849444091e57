/* The option grammar: defaults, units, and errors that name the key. */
#include <signal.h>

#include "check.h"
#include "polyprof.h"

int main(void)
{
    pp_options o;
    char err[256];
    pp_options_default(&o);
    CHECK_EQ_INT(o.mode, PP_MODE_CPU);
    CHECK_EQ_INT(o.interval_ns, 10000000);
    CHECK_EQ_INT(o.native, 1);
    CHECK_EQ_INT(o.signo, SIGPROF);

    CHECK_EQ_INT(pp_options_parse(&o, "start,event=wall,interval=250us,duration=30s,native=false,file=/tmp/x.pb.gz",
                                  err, sizeof err), 0);
    CHECK_EQ_INT(o.mode, PP_MODE_WALL);
    CHECK_EQ_INT(o.interval_ns, 250000);
    CHECK_EQ_INT(o.duration_ns, 30000000000LL);
    CHECK_EQ_INT(o.native, 0);
    CHECK_STR(o.file, "/tmp/x.pb.gz");
    CHECK_EQ_INT(pp_options_parse(&o, "interval=5", err, sizeof err), 0); /* bare number: ms */
    CHECK_EQ_INT(o.interval_ns, 5000000);
    CHECK_EQ_INT(pp_options_parse(&o, "memory=32m,signal=SIGUSR2", err, sizeof err), 0);
    CHECK_EQ_INT(o.max_memory, 32 << 20);
    CHECK_EQ_INT(o.signo, SIGUSR2);

    pp_options before = o;
    CHECK_EQ_INT(pp_options_parse(&o, "interval=0", err, sizeof err), -1);
    CHECK(strstr(err, "'interval'") != NULL);
    CHECK_EQ_INT(pp_options_parse(&o, "interval=-5ms", err, sizeof err), -1);
    CHECK(strstr(err, "'interval'") != NULL);
    CHECK_EQ_INT(pp_options_parse(&o, "interval=fast", err, sizeof err), -1);
    CHECK_EQ_INT(pp_options_parse(&o, "event=gpu", err, sizeof err), -1);
    CHECK(strstr(err, "'event'") != NULL);
    CHECK_EQ_INT(pp_options_parse(&o, "native=true,bogus=1", err, sizeof err), -1);
    CHECK(strstr(err, "unknown option 'bogus'") != NULL);
    CHECK_EQ_INT(pp_options_parse(&o, "signal=SEGV", err, sizeof err), -1);
    CHECK_EQ_INT(pp_options_parse(&o, "memory=1k", err, sizeof err), -1);
    CHECK_EQ_INT(pp_options_parse(&o, "interval", err, sizeof err), -1);
    /* A failed parse leaves the options as they were. */
    CHECK_EQ_INT(o.interval_ns, before.interval_ns);
    CHECK_EQ_INT(o.native, before.native);
    TEST_MAIN_END();
}
