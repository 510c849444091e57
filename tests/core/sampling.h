/* A sampling session and its profile's frames, as the tests that run the
 * real sampler use them. */
#ifndef PP_TEST_SAMPLING_H
#define PP_TEST_SAMPLING_H

#include <stdio.h>
#include <string.h>

#include "check.h"
#include "polyprof.h"

/* A collector started with the option string opts; a check fails when it
 * cannot start. */
static inline pp_collector *start_sampling(const char *opts)
{
    char err[256];
    pp_options o;
    pp_options_default(&o);
    CHECK_EQ_INT(pp_options_parse(&o, opts, err, sizeof err), 0);
    pp_collector *c = pp_collector_start(&o, NULL, NULL, err, sizeof err);
    if (!c)
        fprintf(stderr, "start: %s\n", err);
    CHECK(c != NULL);
    return c;
}

/* Whether sample's stack has a frame of that name. */
static inline int frame_named(const pp_profile *p, size_t sample, const char *name)
{
    for (uint32_t d = 0; d < pp_profile_sample_depth(p, sample); d++) {
        pp_frame_view f;
        pp_profile_sample_frame(p, sample, d, &f);
        if (f.name && !strcmp(f.name, name))
            return 1;
    }
    return 0;
}

/* The value (column 0) of the samples with a frame named leaf into *in,
 * and of those among them that also have every frame named in callers (a
 * NULL-terminated list) into *whole. */
static inline void value_through(const pp_profile *p, const char *leaf, const char *const *callers, int64_t *in,
                                 int64_t *whole)
{
    *in = *whole = 0;
    for (size_t i = 0; i < pp_profile_num_samples(p); i++) {
        if (!frame_named(p, i, leaf))
            continue;
        int64_t v = pp_profile_value(p, i, 0);
        *in += v;
        int all = 1;
        for (const char *const *c = callers; *c && all; c++)
            all = frame_named(p, i, *c);
        if (all)
            *whole += v;
    }
}

#endif
