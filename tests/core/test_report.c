/* Text report: exact output for a small profile with recursion, both value
 * types, top-N, tie order and errors. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "polyprof.h"
#include "profile.h"

static char err[256];

static pp_profile *build(void)
{
    pp_profile *p = pp_profile_new();
    pp_profile_set_value_type(p, 0, "cpu", "nanoseconds");
    pp_profile_set_value_type(p, 1, "samples", "count");
    uint32_t app = pp_profile_intern(p, "app.py");
    pp_frame fm = {.name = pp_profile_intern(p, "main"), .file = app, .line = 3, .start_line = 1,
                   .kind = PP_FRAME_INTERP};
    pp_frame fa = {.name = pp_profile_intern(p, "a"), .file = app, .line = 6, .start_line = 5,
                   .kind = PP_FRAME_INTERP};
    pp_frame fa2 = fa;
    fa2.line = 7; /* another line of the same function */
    pp_frame fb = {.name = pp_profile_intern(p, "b"), .file = pp_profile_intern(p, "lib.py"), .line = 2,
                   .kind = PP_FRAME_INTERP};
    uint32_t m = pp_profile_add_frame(p, &fm), a = pp_profile_add_frame(p, &fa), a2 = pp_profile_add_frame(p, &fa2),
             b = pp_profile_add_frame(p, &fb);
    uint32_t s0[] = {a, a2, m}, s1[] = {b, a, m}, s2[] = {m}, s3[] = {b, m};
    int64_t v0[] = {20000000, 2}, v1[] = {10000000, 1}, v2[] = {5000000, 1}, v3[] = {1500000, 1};
    pp_profile_add_sample(p, s0, 3, NULL, 0, v0); /* a recursing into itself */
    pp_profile_add_sample(p, s1, 3, NULL, 0, v1);
    pp_profile_add_sample(p, s2, 1, NULL, 0, v2);
    pp_profile_add_sample(p, s3, 2, NULL, 0, v3);
    return p;
}

static void check_report(const pp_profile *p, int vi, int top, const char *want)
{
    char *out = NULL;
    CHECK(pp_profile_report(p, vi, top, &out, err, sizeof err) == 0);
    CHECK_STR(out, want);
    free(out);
}

static void test_report(void)
{
    pp_profile *p = build();
    /* a's cum is 30ms, not 50ms: the recursive sample counts once */
    check_report(p, -1, 0,
                 "Total: 36.50ms cpu (nanoseconds); top 3 of 3 functions by cumulative value\n"
                 "      flat   flat%        cum    cum%  function\n"
                 "    5.00ms  13.70%    36.50ms 100.00%  main  app.py:1\n"
                 "   20.00ms  54.79%    30.00ms  82.19%  a  app.py:5\n"
                 "   11.50ms  31.51%    11.50ms  31.51%  b  lib.py\n");
    check_report(p, 1, 2,
                 "Total: 5 samples (count); top 2 of 3 functions by cumulative value\n"
                 "      flat   flat%        cum    cum%  function\n"
                 "         1  20.00%          5 100.00%  main  app.py:1\n"
                 "         2  40.00%          3  60.00%  a  app.py:5\n");
    char *out = NULL;
    CHECK(pp_profile_report(p, 4, 0, &out, err, sizeof err) == -1);
    CHECK_STR(err, "report: value index 4 out of range (profile has 2 values)");
    CHECK(out == NULL);

    uint8_t *enc;
    size_t len;
    CHECK(pp_profile_encode(p, PP_FORMAT_TEXT, 1, &enc, &len, err, sizeof err) == 0);
    CHECK(strstr((char *)enc, "top 1 of 3 functions") != NULL);
    CHECK_EQ_INT(len, strlen((char *)enc));
    free(enc);
    pp_profile_free(p);
}

static void test_ties_and_units(void)
{
    pp_profile *p = pp_profile_new();
    pp_profile_set_value_type(p, 0, "wall", "nanoseconds");
    pp_frame fz = {.name = pp_profile_intern(p, "zeta"), .kind = PP_FRAME_NATIVE};
    pp_frame fy = {.name = pp_profile_intern(p, "yank"), .kind = PP_FRAME_NATIVE};
    pp_frame fx = {.name = pp_profile_intern(p, "idle"), .kind = PP_FRAME_NATIVE};
    uint32_t z = pp_profile_add_frame(p, &fz), y = pp_profile_add_frame(p, &fy), x = pp_profile_add_frame(p, &fx);
    int64_t v[] = {2500000000}, w[] = {999}, zero[] = {0};
    pp_profile_add_sample(p, &z, 1, NULL, 0, v);
    pp_profile_add_sample(p, &y, 1, NULL, 0, v);
    pp_profile_add_sample(p, NULL, 0, NULL, 0, w); /* no frames: in the total only */
    pp_profile_add_sample(p, &x, 1, NULL, 0, zero); /* nothing to show */
    check_report(p, -1, 0,
                 "Total: 5.00s wall (nanoseconds); top 2 of 2 functions by cumulative value\n"
                 "      flat   flat%        cum    cum%  function\n"
                 "     2.50s  50.00%      2.50s  50.00%  yank\n"
                 "     2.50s  50.00%      2.50s  50.00%  zeta\n");
    pp_profile_free(p);

    p = pp_profile_new();
    pp_profile_set_value_type(p, 0, "cpu", "nanoseconds");
    check_report(p, -1, 10,
                 "Total: 0 cpu (nanoseconds); top 0 of 0 functions by cumulative value\n"
                 "      flat   flat%        cum    cum%  function\n");
    pp_profile_free(p);
}

int main(void)
{
    test_report();
    test_ties_and_units();
    TEST_MAIN_END();
}
