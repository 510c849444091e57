/* The environment's configuration: defaults, clamping with warnings, and
 * errors that name the variable (profiling then stays off). */
#include <string.h>

#include "check.h"
#include "polyprof.h"

static const char *const *env; /* "NAME", "value", ..., NULL */

static const char *fake_getenv(const char *name)
{
    for (int i = 0; env[i]; i += 2)
        if (!strcmp(env[i], name))
            return env[i + 1];
    return NULL;
}

static int read_env(const char *const *vars, pp_env_config *c, char *err)
{
    env = vars;
    return pp_env_config_read(c, fake_getenv, err, 512);
}

int main(void)
{
    pp_env_config c;
    char err[512];
    {
        const char *const vars[] = {NULL};
        CHECK_EQ_INT(read_env(vars, &c, err), 0);
        CHECK_EQ_INT(c.enabled, 0); /* off by default */
        CHECK_EQ_INT(c.options.interval_ns, 100000000);
        CHECK_EQ_INT(c.options.duration_ns, 60000000000LL);
        CHECK_STR(c.options.store, "profiles");
        CHECK_EQ_INT(c.n_warnings, 0);
    }
    {
        const char *const vars[] = {"ENABLE_PROFILING", "true", "PROFILE_INTERVAL_MS", "250", "PROFILE_MAX_DURATION",
                                    "30", "POLYPROF_STORE", "/tmp/p", "POLYPROF_OPTIONS", "memory=32m,service=api",
                                    NULL};
        CHECK_EQ_INT(read_env(vars, &c, err), 0);
        CHECK_EQ_INT(c.enabled, 1);
        CHECK_EQ_INT(c.options.interval_ns, 250000000);
        CHECK_EQ_INT(c.options.duration_ns, 30000000000LL);
        CHECK_EQ_INT(c.options.window_ns, 30000000000LL); /* a window is a capture: at most the maximum */
        CHECK_EQ_INT(c.options.max_memory, 32 << 20);
        CHECK_STR(c.options.store, "/tmp/p");
        CHECK_STR(c.options.service, "api");
    }
    {
        /* Clamped, with a warning each. */
        const char *const vars[] = {"ENABLE_PROFILING", "1", "PROFILE_INTERVAL_MS", "2", "PROFILE_MAX_DURATION",
                                    "900", NULL};
        CHECK_EQ_INT(read_env(vars, &c, err), 0);
        CHECK_EQ_INT(c.options.interval_ns, 10000000);
        CHECK_EQ_INT(c.options.duration_ns, 300000000000LL);
        CHECK_EQ_INT(c.n_warnings, 2);
        CHECK(strstr(c.warnings[0], "PROFILE_INTERVAL_MS") && strstr(c.warnings[0], "10 ms"));
        CHECK(strstr(c.warnings[1], "PROFILE_MAX_DURATION") && strstr(c.warnings[1], "300 s"));
    }
    {
        /* The same limits for values given in POLYPROF_OPTIONS; no duration
         * there still means the default maximum. */
        const char *const vars[] = {"POLYPROF_OPTIONS", "interval=1ms", NULL};
        CHECK_EQ_INT(read_env(vars, &c, err), 0);
        CHECK_EQ_INT(c.options.interval_ns, 10000000);
        CHECK_EQ_INT(c.options.duration_ns, 60000000000LL);
        CHECK(c.n_warnings == 1 && strstr(c.warnings[0], "POLYPROF_OPTIONS interval"));
    }
    {
        static const char *const bad[][4] = {
            {"ENABLE_PROFILING", "maybe", "ENABLE_PROFILING", NULL},
            {"PROFILE_INTERVAL_MS", "fast", "PROFILE_INTERVAL_MS", NULL},
            {"PROFILE_INTERVAL_MS", "-5", "PROFILE_INTERVAL_MS", NULL},
            {"PROFILE_INTERVAL_MS", "10ms", "PROFILE_INTERVAL_MS", NULL},
            {"PROFILE_MAX_DURATION", "0", "PROFILE_MAX_DURATION", NULL},
            {"PROFILE_MAX_DURATION", "", "PROFILE_MAX_DURATION", NULL},
            {"POLYPROF_OPTIONS", "colour=blue", "unknown option 'colour'", NULL},
            {"POLYPROF_OPTIONS", "window=0", "option 'window'", NULL},
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            const char *const vars[] = {bad[i][0], bad[i][1], NULL};
            err[0] = '\0';
            CHECK_EQ_INT(read_env(vars, &c, err), -1);
            if (!strstr(err, bad[i][2]))
                fprintf(stderr, "case %zu: '%s' lacks '%s'\n", i, err, bad[i][2]);
            CHECK(strstr(err, bad[i][2]) != NULL);
        }
    }
    TEST_MAIN_END();
}
