/* Collapsed stacks: exact text for a small profile (merging, ordering,
 * sanitizing, the lines flag, the value index) and the reader. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "collapsed.h"
#include "polyprof.h"
#include "profile.h"

static char err[256];

static pp_profile *build(void)
{
    pp_profile *p = pp_profile_new();
    pp_profile_set_value_type(p, 0, "samples", "count");
    pp_profile_set_value_type(p, 1, "cpu", "nanoseconds");
    uint32_t app = pp_profile_intern(p, "app.py");
    pp_frame main_f = {.name = pp_profile_intern(p, "main"), .file = app, .line = 1, .start_line = 1,
                       .kind = PP_FRAME_INTERP};
    pp_frame h10 = {.name = pp_profile_intern(p, "handler"), .file = app, .line = 10, .start_line = 9,
                    .kind = PP_FRAME_INTERP};
    pp_frame h12 = h10;
    h12.line = 12;
    pp_frame weird = {.name = pp_profile_intern(p, "a;b\nc"), .kind = PP_FRAME_INTERP};
    pp_frame memcpy_f = {.name = pp_profile_intern(p, "memcpy"), .file = pp_profile_intern(p, "string.c"),
                         .line = 7, .address = 0x1234, .kind = PP_FRAME_NATIVE};
    uint32_t m = pp_profile_add_frame(p, &main_f), a = pp_profile_add_frame(p, &h10),
             b = pp_profile_add_frame(p, &h12), w = pp_profile_add_frame(p, &weird),
             c = pp_profile_add_frame(p, &memcpy_f);
    uint32_t s0[] = {a, m}, s1[] = {b, m}, s2[] = {c, w, m}, s4[] = {m};
    int64_t v0[] = {2, 20}, v1[] = {3, 30}, v2[] = {1, 0}, v3[] = {4, 40}, v4[] = {0, 7};
    pp_profile_add_sample(p, s0, 2, NULL, 0, v0);
    pp_profile_add_sample(p, s2, 3, NULL, 0, v2);
    pp_profile_add_sample(p, s1, 2, NULL, 0, v1);
    pp_profile_add_sample(p, NULL, 0, NULL, 0, v3);
    pp_profile_add_sample(p, s4, 1, NULL, 0, v4);
    return p;
}

static void check_text(const pp_profile *p, int vi, unsigned flags, const char *want)
{
    pp_buf b;
    pp_buf_init(&b);
    CHECK(pp_collapsed_write(p, vi, flags, &b, err, sizeof err) == 0);
    pp_buf_append_byte(&b, 0);
    CHECK_STR((const char *)b.data, want);
    pp_buf_free(&b);
}

static void test_write(void)
{
    pp_profile *p = build();
    /* handler at two lines merges into one stack; the stack with value 0 is
     * left out; ';' and '\n' in a name are replaced; sorted by stack. */
    check_text(p, -1, 0,
               "[no frames] 4\n"
               "main;a:b c;memcpy 1\n"
               "main;handler 5\n");
    check_text(p, 0, PP_COLLAPSED_LINES,
               "[no frames] 4\n"
               "main (app.py:1);a:b c;memcpy 1\n"
               "main (app.py:1);handler (app.py:10) 2\n"
               "main (app.py:1);handler (app.py:12) 3\n");
    check_text(p, 1, 0,
               "[no frames] 40\n"
               "main 7\n"
               "main;handler 50\n");
    pp_buf b;
    pp_buf_init(&b);
    CHECK(pp_collapsed_write(p, 2, 0, &b, err, sizeof err) == -1);
    CHECK_STR(err, "collapsed: value index 2 out of range (profile has 2 values)");
    pp_buf_free(&b);

    /* through the public encoder: NUL-terminated, length without it */
    uint8_t *out;
    size_t len;
    CHECK(pp_profile_encode(p, PP_FORMAT_COLLAPSED, 0, &out, &len, err, sizeof err) == 0);
    CHECK_EQ_INT(len, strlen("[no frames] 4\nmain;a:b c;memcpy 1\nmain;handler 5\n"));
    CHECK_STR((char *)out, "[no frames] 4\nmain;a:b c;memcpy 1\nmain;handler 5\n");
    free(out);
    pp_profile_free(p);
}

static void test_read(void)
{
    static const char text[] = "main;handler 5\nmain;a:b c;memcpy 1\r\n\n[no frames] 4";
    pp_profile *p = pp_collapsed_read(text, strlen(text), err, sizeof err);
    CHECK(p != NULL);
    if (!p)
        return;
    CHECK_EQ_INT(pp_profile_num_samples(p), 3);
    CHECK_EQ_INT(pp_profile_num_values(p), 1);
    const char *type, *unit;
    pp_profile_value_type(p, 0, &type, &unit);
    CHECK_STR(type, "samples");
    CHECK_STR(unit, "count");
    /* "main" is one frame shared by the lines; "[no frames]" is an empty stack. */
    CHECK_EQ_INT(p->n_frames, 4);
    CHECK_EQ_INT(pp_profile_sample_depth(p, 2), 0);
    CHECK_EQ_INT(pp_profile_sample_depth(p, 1), 3);
    pp_frame_view v;
    pp_profile_sample_frame(p, 1, 0, &v); /* leaf first */
    CHECK_STR(v.name, "memcpy");
    pp_profile_sample_frame(p, 1, 1, &v);
    CHECK_STR(v.name, "a:b c");
    pp_profile_sample_frame(p, 1, 2, &v);
    CHECK_STR(v.name, "main");
    CHECK_EQ_INT(pp_profile_value(p, 0, 0), 5);
    CHECK_EQ_INT(pp_profile_value(p, 2, 0), 4);

    /* written back: the same lines, sorted */
    pp_buf b;
    pp_buf_init(&b);
    CHECK(pp_collapsed_write(p, -1, 0, &b, err, sizeof err) == 0);
    pp_buf_append_byte(&b, 0);
    CHECK_STR((char *)b.data, "[no frames] 4\nmain;a:b c;memcpy 1\nmain;handler 5\n");
    pp_buf_free(&b);
    pp_profile_free(p);

    static const struct {
        const char *text, *err;
    } bad[] = {
        {"ok 1\nmain;handler\n", "collapsed: line 2: missing count after the stack"},
        {"a;;b 1", "collapsed: line 1: empty frame name"},
        {"a; 1", "collapsed: line 1: empty frame name"},
        {" 5", "collapsed: line 1: empty frame name"},
        {"a 12x", "collapsed: line 1: count '12x' is not a non-negative integer"},
        {"a -1", "collapsed: line 1: count '-1' is not a non-negative integer"},
        {"a 99999999999999999999", "collapsed: line 1: count '99999999999999999999' is not a non-negative integer"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        CHECK(pp_collapsed_read(bad[i].text, strlen(bad[i].text), err, sizeof err) == NULL);
        CHECK_STR(err, bad[i].err);
    }
    p = pp_collapsed_read("", 0, err, sizeof err);
    CHECK(p && pp_profile_num_samples(p) == 0);
    pp_profile_free(p);
}

int main(void)
{
    test_write();
    test_read();
    TEST_MAIN_END();
}
