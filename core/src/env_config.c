/* The production configuration from the environment, read the same way by
 * every runtime: ENABLE_PROFILING, PROFILE_INTERVAL_MS, PROFILE_MAX_DURATION,
 * POLYPROF_OPTIONS, POLYPROF_STORE, POLYPROF_STORE_KEY. Out-of-range values that are safe to fix
 * are fixed with a warning; anything else is an error naming the variable,
 * and the caller leaves profiling off. */
#include "polyprof.h"
#include "store_crypto.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MIN_INTERVAL_NS 10000000ULL       /* 10 ms */
#define DEFAULT_INTERVAL_NS 100000000ULL  /* 100 ms */
#define DEFAULT_MAX_DURATION_NS 60000000000ULL
#define CAP_MAX_DURATION_NS 300000000000ULL

__attribute__((format(printf, 2, 3))) static void warn(pp_env_config *c, const char *fmt, ...)
{
    if (c->n_warnings >= PP_ENV_MAX_WARNINGS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->warnings[c->n_warnings++], sizeof c->warnings[0], fmt, ap);
    va_end(ap);
}

/* A plain decimal number, nothing else (no units, no sign). */
static int parse_number(const char *v, double *out)
{
    while (isspace((unsigned char)*v))
        v++;
    if (!*v || *v == '-' || *v == '+')
        return -1;
    errno = 0;
    char *end;
    double d = strtod(v, &end);
    while (isspace((unsigned char)*end))
        end++;
    if (errno || end == v || *end || !isfinite(d))
        return -1;
    *out = d;
    return 0;
}

static int parse_switch(const char *v, int *out)
{
    if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes") || !strcasecmp(v, "on")) {
        *out = 1;
        return 0;
    }
    if (!*v || !strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no") || !strcasecmp(v, "off")) {
        *out = 0;
        return 0;
    }
    return -1;
}

int pp_env_config_read(pp_env_config *out, const char *(*get)(const char *name), char *err, size_t errlen)
{
    pp_env_config c;
    memset(&c, 0, sizeof c);
    pp_options_default(&c.options);
    c.options.interval_ns = DEFAULT_INTERVAL_NS;
    c.options.duration_ns = DEFAULT_MAX_DURATION_NS;
    c.options.cpu_budget_pct = 1.0;

    const char *v = get("ENABLE_PROFILING");
    if (v && parse_switch(v, &c.enabled) != 0) {
        snprintf(err, errlen, "ENABLE_PROFILING='%s': expected true or false", v);
        return -1;
    }
    v = get("POLYPROF_STORE");
    if (v && *v) {
        char e[512];
        if (pp_options_set(&c.options, "store", v, e, sizeof e) != 0) {
            snprintf(err, errlen, "POLYPROF_STORE: %s", e);
            return -1;
        }
    }
    v = get("POLYPROF_OPTIONS");
    if (v) {
        char e[512];
        if (pp_options_parse(&c.options, v, e, sizeof e) != 0) {
            snprintf(err, errlen, "POLYPROF_OPTIONS: %s", e);
            return -1;
        }
    }
    /* The store's key is checked now, so that a bad one stops profiling at
     * start rather than failing the first window. */
    uint8_t key[PP_STORE_KEY_BYTES];
    int has_key = pp_store_key_load(c.options.store_key_file, get, key, err, errlen);
    pp_store_key_wipe(key, sizeof key);
    if (has_key < 0)
        return -1;
    double d;
    v = get("PROFILE_INTERVAL_MS");
    if (v) {
        if (parse_number(v, &d) != 0 || d <= 0) {
            snprintf(err, errlen, "PROFILE_INTERVAL_MS='%s': expected a positive number of milliseconds", v);
            return -1;
        }
        if (d > 60000) {
            snprintf(err, errlen, "PROFILE_INTERVAL_MS='%s': must be at most 60000 (one minute)", v);
            return -1;
        }
        c.options.interval_ns = (uint64_t)(d * 1e6 + 0.5);
    }
    v = get("PROFILE_MAX_DURATION");
    if (v) {
        if (parse_number(v, &d) != 0 || d <= 0) {
            snprintf(err, errlen, "PROFILE_MAX_DURATION='%s': expected a positive number of seconds", v);
            return -1;
        }
        c.options.duration_ns = d > 1e6 ? CAP_MAX_DURATION_NS + 1 : (uint64_t)(d * 1e9 + 0.5);
    }
    if (c.options.interval_ns < MIN_INTERVAL_NS) {
        warn(&c, "%s %.3g ms is below the 10 ms minimum for production profiling; using 10 ms",
             get("PROFILE_INTERVAL_MS") ? "PROFILE_INTERVAL_MS:" : "POLYPROF_OPTIONS interval:",
             (double)c.options.interval_ns / 1e6);
        c.options.interval_ns = MIN_INTERVAL_NS;
    }
    if (c.options.duration_ns == 0) {
        /* Nothing profiles forever by accident. */
        c.options.duration_ns = DEFAULT_MAX_DURATION_NS;
    } else if (c.options.duration_ns > CAP_MAX_DURATION_NS) {
        warn(&c, "%s %.6g s is above the 300 s cap; using 300 s",
             get("PROFILE_MAX_DURATION") ? "PROFILE_MAX_DURATION:" : "POLYPROF_OPTIONS duration:",
             (double)c.options.duration_ns / 1e9);
        c.options.duration_ns = CAP_MAX_DURATION_NS;
    }
    /* A continuous window is a capture: it ends at the maximum too. */
    if (c.options.window_ns > c.options.duration_ns)
        c.options.window_ns = c.options.duration_ns;
    *out = c;
    return 0;
}
