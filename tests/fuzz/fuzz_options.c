/* libFuzzer harness for the option grammar and the environment
 * configuration. The input is an option string: whatever parses must print
 * (pp_options_format) as a string that parses again to options that print
 * the same; a refusal must say why. The same string as POLYPROF_OPTIONS, and
 * its first bytes as the other variables, through pp_env_config_read. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "polyprof.h"

static char env_options[4096];
static char env_number[32];

static const char *fake_getenv(const char *name)
{
    if (!strcmp(name, "POLYPROF_OPTIONS"))
        return env_options;
    if (!strcmp(name, "ENABLE_PROFILING"))
        return "true";
    if (!strcmp(name, "PROFILE_INTERVAL_MS") || !strcmp(name, "PROFILE_MAX_DURATION"))
        return env_number;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= sizeof env_options)
        return 0;
    char spec[sizeof env_options];
    memcpy(spec, data, size);
    spec[size] = '\0';
    char err[1024] = "";
    pp_options o;
    pp_options_default(&o);
    if (pp_options_parse(&o, spec, err, sizeof err) == 0) {
        char printed[8192], again[8192];
        pp_options_format(&o, printed, sizeof printed);
        pp_options o2;
        pp_options_default(&o2);
        if (pp_options_parse(&o2, printed, err, sizeof err) != 0) {
            fprintf(stderr, "parsed '%s', printed '%s', which does not parse: %s\n", spec, printed, err);
            abort();
        }
        pp_options_format(&o2, again, sizeof again);
        if (strcmp(printed, again) != 0) {
            fprintf(stderr, "parsed '%s', printed '%s', parsed and printed again '%s'\n", spec, printed, again);
            abort();
        }
    } else if (!err[0]) {
        abort();
    }
    memcpy(env_options, spec, size + 1);
    size_t n = size < sizeof env_number - 1 ? size : sizeof env_number - 1;
    memcpy(env_number, spec, n);
    env_number[n] = '\0';
    pp_env_config cfg;
    err[0] = '\0';
    if (pp_env_config_read(&cfg, fake_getenv, err, sizeof err) != 0 && !err[0])
        abort();
    return 0;
}
