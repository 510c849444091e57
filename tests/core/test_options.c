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

    CHECK_EQ_INT(o.wall_threads, 16); /* the default */
    CHECK_EQ_INT(pp_options_parse(&o, "wall_threads=4", err, sizeof err), 0);
    CHECK_EQ_INT(o.wall_threads, 4);
    char formatted[512];
    pp_options_format(&o, formatted, sizeof formatted);
    CHECK(strstr(formatted, "wall_threads=4") != NULL);
    CHECK_EQ_INT(pp_options_parse(&o, "wall_threads=0", err, sizeof err), -1);
    CHECK(strstr(err, "'wall_threads'") != NULL && strstr(err, "1 to 65536") != NULL);
    CHECK_EQ_INT(pp_options_parse(&o, "wall_threads=many", err, sizeof err), -1);
    CHECK(strstr(err, "'wall_threads'") != NULL);
    CHECK_EQ_INT(o.wall_threads, 4); /* a refused string changes nothing */

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
    /* The JVM agent's keys: event=alloc with its sampling interval. */
    {
        pp_options a;
        pp_options_default(&a);
        CHECK_EQ_INT(a.alloc_interval, 512 * 1024);
        CHECK_EQ_INT(pp_options_parse(&a, "start,event=alloc,alloc_interval=1m,file=/tmp/a.pb.gz", err, sizeof err),
                     0);
        CHECK_EQ_INT(a.mode, PP_MODE_ALLOC);
        CHECK_EQ_INT(a.alloc_interval, 1 << 20);
        char text[512];
        pp_options_format(&a, text, sizeof text);
        CHECK(strstr(text, "event=alloc,alloc_interval=1048576") != NULL);
        CHECK_EQ_INT(pp_options_parse(&a, "alloc_interval=lots", err, sizeof err), -1);
        CHECK(strstr(err, "'alloc_interval'") != NULL);
        CHECK_EQ_INT(pp_options_parse(&a, "alloc_interval=4g", err, sizeof err), -1);
        CHECK_EQ_INT(pp_options_parse(&a, "alloc", err, sizeof err), 0);
        CHECK_EQ_INT(a.mode, PP_MODE_ALLOC);
        /* The signal sampler refuses alloc, naming the key. */
        CHECK(pp_collector_start(&a, NULL, NULL, err, sizeof err) == NULL);
        CHECK(strstr(err, "'event'") != NULL);
    }
    /* A failed parse leaves the options as they were. */
    CHECK_EQ_INT(o.interval_ns, before.interval_ns);
    CHECK_EQ_INT(o.native, before.native);
    TEST_MAIN_END();
}
