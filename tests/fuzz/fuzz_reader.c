/* libFuzzer harness for one profile reader (FUZZ_FORMAT, set at build time
 * by run.sh): the input is read as a file of that format; a profile that
 * reads is written in every format, read back from each readable one, merged
 * with itself and diffed against itself. A crash, a sanitizer report, a leak,
 * a timeout or memory past run.sh's limit is a finding; an error message is
 * not. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "polyprof.h"

#ifndef FUZZ_FORMAT
#error "build with -DFUZZ_FORMAT=PP_FORMAT_..."
#endif

static const pp_format writers[] = {PP_FORMAT_PPROF, PP_FORMAT_COLLAPSED, PP_FORMAT_TEXT,
                                    PP_FORMAT_CPUPROFILE, PP_FORMAT_HTML, PP_FORMAT_SPEEDSCOPE};

static int readable(pp_format f)
{
    return f == PP_FORMAT_PPROF || f == PP_FORMAT_COLLAPSED || f == PP_FORMAT_CPUPROFILE ||
           f == PP_FORMAT_SPEEDSCOPE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    pp_profile *p = pp_profile_decode(data, size, FUZZ_FORMAT, err, sizeof err);
    if (!p) {
        if (!err[0])
            abort(); /* a refusal always says why */
        return 0;
    }
    for (size_t w = 0; w < sizeof writers / sizeof writers[0]; w++) {
        uint8_t *out = NULL;
        size_t len = 0;
        if (pp_profile_encode(p, writers[w], 10, &out, &len, err, sizeof err) != 0)
            continue; /* a limit, named in err */
        if (readable(writers[w])) {
            pp_profile *back = pp_profile_decode(out, len, writers[w], err, sizeof err);
            /* What a writer wrote, its reader reads (within the limits). */
            if (!back && !strstr(err, "limit")) {
                fprintf(stderr, "written as %s, not read back: %s\n", pp_format_name(writers[w]), err);
                abort();
            }
            pp_profile_free(back);
        }
        free(out);
    }
    const pp_profile *both[] = {p, p};
    pp_profile *m = pp_profile_merge(both, NULL, 2, NULL, err, sizeof err);
    if (m && pp_profile_duration_nanos(m) < 0)
        abort();
    pp_profile_free(m);
    uint8_t *out = NULL;
    size_t len = 0;
    if (pp_profile_diff(p, p, NULL, PP_FORMAT_TEXT, 10, &out, &len, err, sizeof err) == 0)
        free(out);
    if (pp_profile_diff(p, p, NULL, PP_FORMAT_HTML, 10, &out, &len, err, sizeof err) == 0)
        free(out);
    pp_profile_free(p);
    return 0;
}
