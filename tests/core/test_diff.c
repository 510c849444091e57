/* Differential profiles: shares of each profile's own total are compared
 * (a longer new profile is not "all growth"), the text report ranks by the
 * change, the page carries both profiles' values, frames only in the base
 * are kept, and profiles without a common value type are refused. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "polyprof.h"

static char err[512];

static void add(pp_profile *p, const char *leaf, const char *mid, int64_t n)
{
    /* leaf first: leaf, [mid,] main */
    pp_frame_spec f[3] = {{.name = leaf, .file = "app.py", .kind = 1}, {.name = mid ? mid : "main", .file = "app.py", .kind = 1},
                          {.name = "main", .file = "app.py", .kind = 1}};
    int64_t v[2] = {n, n * 10000000};
    pp_profile_append(p, f, mid ? 3 : 2, NULL, 0, v);
}

static pp_profile *cpu_profile(void)
{
    const char *types[] = {"samples", "cpu"}, *units[] = {"count", "nanoseconds"};
    return pp_profile_create(types, units, 2, "cpu", "nanoseconds", 10000000);
}

/* The text line of `fn` in the section starting at `heading`. */
static const char *row(const char *text, const char *heading, const char *fn)
{
    const char *s = strstr(text, heading);
    if (!s)
        return NULL;
    const char *end = strstr(s + 1, "\n\n");
    char pat[128];
    snprintf(pat, sizeof pat, "  %s  app.py\n", fn);
    const char *r = strstr(s, pat);
    if (!r || (end && r > end))
        return NULL;
    while (r > s && r[-1] != '\n')
        r--;
    return r;
}

int main(void)
{
    /* base: 100 samples; new: 200 (twice as long). alpha halves its share,
     * beta doubles it, gone is only in base, fresh only in new. */
    pp_profile *base = cpu_profile(), *cur = cpu_profile();
    add(base, "alpha", NULL, 60);
    add(base, "beta", NULL, 20);
    add(base, "leafy", "beta", 10);
    add(base, "gone", NULL, 10);
    add(cur, "alpha", NULL, 60);
    add(cur, "beta", NULL, 80);
    add(cur, "leafy", "beta", 40);
    add(cur, "fresh", NULL, 20);

    uint8_t *out;
    size_t len;
    CHECK_EQ_INT(pp_profile_diff(base, cur, NULL, PP_FORMAT_TEXT, 10, &out, &len, err, sizeof err), 0);
    const char *text = (const char *)out;
    CHECK(strstr(text, "cpu (nanoseconds)") != NULL);
    /* beta cumulative 30% -> 60%: +30 points, first among those that grew. */
    const char *r = row(text, "Grew most by cumulative share", "beta");
    CHECK(r && strncmp(r, "  30.00%   60.00%   +30.00  beta", 32) == 0);
    r = strstr(text, "Grew most by cumulative share");
    CHECK(r && strstr(r, "function\n") && strncmp(strstr(r, "function\n") + 9, "  30.00%   60.00%   +30.00  beta", 32) == 0);
    /* alpha 60% -> 30% and gone 10% -> 0% shrank; main (100% both) did not change. */
    CHECK(row(text, "Shrank most by cumulative share", "alpha") != NULL);
    r = row(text, "Shrank most by cumulative share", "gone");
    CHECK(r && strncmp(r, "  10.00%    0.00%   -10.00  gone", 32) == 0);
    CHECK(row(text, "Grew most by cumulative share", "main") == NULL);
    CHECK(row(text, "Shrank most by cumulative share", "main") == NULL);
    /* self: beta 20% -> 40%, leafy 10% -> 20% */
    r = row(text, "Grew most by self share", "leafy");
    CHECK(r && strncmp(r, "  10.00%   20.00%   +10.00  leafy", 33) == 0);
    if (pp_test_failures)
        fprintf(stderr, "%s", text);
    free(out);

    /* The page: both profiles' values per node, frames of both. */
    CHECK_EQ_INT(pp_profile_diff(base, cur, "cpu", PP_FORMAT_HTML, 0, &out, &len, err, sizeof err), 0);
    const char *html = (const char *)out;
    CHECK(strstr(html, "<title>polyprof differential flame graph (cpu)</title>") != NULL);
    /* all, main, then the widest child (beta 1.2 s), its leafy, alpha, fresh, gone (only in base: 0 wide) */
    CHECK(strstr(html, "\"nodes\":[0,2000000000,0,1,2000000000,1,2,1200000000,2,3,400000000,3,4,600000000,2,"
                       "5,200000000,2,6,0,2],\"base\":[1000000000,1000000000,300000000,100000000,600000000,0,"
                       "100000000]") != NULL);
    CHECK(strstr(html, "id=\"shape\"") != NULL && strstr(html, "id=\"gone\"") != NULL);
    free(out);

    /* the plain page is unchanged: no base values, no diff controls */
    CHECK_EQ_INT(pp_profile_encode(cur, PP_FORMAT_HTML, 0, &out, &len, err, sizeof err), 0);
    CHECK(strstr((const char *)out, "\"base\":") == NULL && strstr((const char *)out, "id=\"shape\"") == NULL);
    free(out);

    /* value types: by name, a missing one, mismatched profiles */
    CHECK_EQ_INT(pp_profile_diff(base, cur, "samples", PP_FORMAT_TEXT, 3, &out, &len, err, sizeof err), 0);
    CHECK(strstr((const char *)out, "samples (count)") != NULL);
    free(out);
    CHECK_EQ_INT(pp_profile_diff(base, cur, "wall", PP_FORMAT_TEXT, 3, &out, &len, err, sizeof err), -1);
    CHECK_STR(err, "diff: no sample type 'wall' in the new profile (it has: samples/count, cpu/nanoseconds)");
    const char *at[] = {"alloc_space"}, *au[] = {"bytes"};
    pp_profile *alloc = pp_profile_create(at, au, 1, "space", "bytes", 524288);
    CHECK_EQ_INT(pp_profile_diff(base, alloc, NULL, PP_FORMAT_HTML, 0, &out, &len, err, sizeof err), -1);
    CHECK(strstr(err, "sample types do not match") && strstr(err, "base has: samples/count, cpu/nanoseconds") &&
          strstr(err, "new has: alloc_space/bytes"));
    CHECK_EQ_INT(pp_profile_diff(base, cur, NULL, PP_FORMAT_PPROF, 0, &out, &len, err, sizeof err), -1);
    CHECK(strstr(err, "use html or text") != NULL);
    pp_profile_free(alloc);
    pp_profile_free(base);
    pp_profile_free(cur);
    TEST_MAIN_END();
}
