/* Reading what the writers write: pprof, collapsed stacks, speedscope JSON
 * and Chrome's .cpuprofile keep every stack and its values through a round
 * trip; foreign speedscope files (evented, threads) read; bad input gets a
 * message, never a crash. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "polyprof.h"

static char err[512];

/* p's total of value vi over the samples whose stack, root first, joined
 * by ';', is `stack`. */
static int64_t stack_total(const pp_profile *p, uint32_t vi, const char *stack)
{
    int64_t total = 0;
    char buf[1024];
    for (size_t i = 0; i < pp_profile_num_samples(p); i++) {
        size_t at = 0;
        buf[0] = 0;
        for (uint32_t d = pp_profile_sample_depth(p, i); d-- > 0;) {
            pp_frame_view f;
            pp_profile_sample_frame(p, i, d, &f);
            at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%s", f.name, d ? ";" : "");
        }
        if (strcmp(buf, stack) == 0)
            total += pp_profile_value(p, i, vi);
    }
    return total;
}

static pp_profile *build(void)
{
    const char *types[] = {"samples", "cpu"}, *units[] = {"count", "nanoseconds"};
    pp_profile *p = pp_profile_create(types, units, 2, "cpu", "nanoseconds", 10000000);
    pp_frame_spec a[3] = {{.name = "leaf", .file = "lib.py", .line = 7, .kind = 1},
                          {.name = "handler", .file = "app.py", .line = 12, .kind = 1},
                          {.name = "main", .file = "app.py", .line = 3, .kind = 1}};
    pp_frame_spec b[2] = {{.name = "other \"quoted\" name", .kind = 1}, {.name = "main", .file = "app.py", .line = 3, .kind = 1}};
    int64_t va[2] = {7, 70000000}, vb[2] = {3, 30000000};
    pp_profile_append(p, a, 3, NULL, 0, va);
    pp_profile_append(p, b, 2, NULL, 0, vb);
    pp_profile_append(p, a + 1, 2, NULL, 0, vb); /* handler itself, under main */
    int64_t none[2] = {2, 20000000};
    pp_profile_append(p, NULL, 0, NULL, 0, none); /* a sample whose stack could not be taken */
    return p;
}

static pp_profile *round_trip(const pp_profile *p, pp_format f)
{
    uint8_t *data;
    size_t len;
    if (pp_profile_encode(p, f, 0, &data, &len, err, sizeof err) != 0) {
        fprintf(stderr, "encode %s: %s\n", pp_format_name(f), err);
        return NULL;
    }
    pp_profile *q = pp_profile_decode(data, len, f, err, sizeof err);
    if (!q)
        fprintf(stderr, "decode %s: %s\n", pp_format_name(f), err);
    free(data);
    return q;
}

static void check_stacks(const pp_profile *q, uint32_t vi, int64_t scale)
{
    CHECK_EQ_INT(stack_total(q, vi, "main;handler;leaf"), 7 * scale);
    CHECK_EQ_INT(stack_total(q, vi, "main;other \"quoted\" name"), 3 * scale);
    CHECK_EQ_INT(stack_total(q, vi, "main;handler"), 3 * scale);
    CHECK_EQ_INT(stack_total(q, vi, "main"), 0);
}

static void test_round_trips(void)
{
    pp_profile *p = build();
    /* pprof -> collapsed -> pprof: the collapsed file holds the default value (cpu). */
    pp_profile *c = round_trip(p, PP_FORMAT_COLLAPSED);
    CHECK(c != NULL);
    if (c) {
        check_stacks(c, 0, 10000000);
        CHECK_EQ_INT(stack_total(c, 0, ""), 2 * 10000000); /* "[no frames]" reads back as no frames */
        pp_profile *c2 = round_trip(c, PP_FORMAT_PPROF);
        CHECK(c2 != NULL);
        if (c2) {
            check_stacks(c2, 0, 10000000);
            CHECK_EQ_INT(stack_total(c2, 0, ""), 2 * 10000000);
        }
        pp_profile_free(c2);
    }
    pp_profile_free(c);

    /* speedscope keeps both value types, their names and the default. */
    pp_profile *s = round_trip(p, PP_FORMAT_SPEEDSCOPE);
    CHECK(s != NULL);
    if (s) {
        CHECK_EQ_INT(pp_profile_num_values(s), 2);
        const char *type, *unit;
        pp_profile_value_type(s, 1, &type, &unit);
        CHECK_STR(type, "cpu");
        CHECK_STR(unit, "nanoseconds");
        pp_profile_value_type(s, 0, &type, &unit);
        CHECK_STR(type, "samples");
        CHECK_STR(unit, "count");
        check_stacks(s, 0, 1);
        check_stacks(s, 1, 10000000);
        pp_frame_view f;
        for (size_t i = 0; i < pp_profile_num_samples(s); i++) {
            pp_profile_sample_frame(s, i, 0, &f);
            if (strcmp(f.name, "leaf") == 0) {
                CHECK_STR(f.file, "lib.py");
                CHECK_EQ_INT(f.line, 7);
            }
        }
    }
    pp_profile_free(s);

    /* .cpuprofile: counts and times (microsecond resolution) per stack. */
    pp_profile *cp = round_trip(p, PP_FORMAT_CPUPROFILE);
    CHECK(cp != NULL);
    if (cp) {
        check_stacks(cp, 0, 1);
        check_stacks(cp, 1, 10000000);
        pp_profile *cp2 = round_trip(cp, PP_FORMAT_PPROF);
        CHECK(cp2 != NULL);
        if (cp2)
            check_stacks(cp2, 1, 10000000);
        pp_profile_free(cp2);
    }
    pp_profile_free(cp);
    pp_profile_free(p);
}

static void test_speedscope_foreign(void)
{
    /* Two threads, one evented in milliseconds, one sampled in seconds. */
    const char *text =
        "{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\","
        "\"shared\":{\"frames\":[{\"name\":\"main\"},{\"name\":\"work\",\"file\":\"w.js\",\"line\":4}]},"
        "\"profiles\":["
        "{\"type\":\"evented\",\"name\":\"Thread A\",\"unit\":\"milliseconds\",\"startValue\":0,\"endValue\":10,"
        "\"events\":[{\"type\":\"O\",\"frame\":0,\"at\":0},{\"type\":\"O\",\"frame\":1,\"at\":2},"
        "{\"type\":\"C\",\"frame\":1,\"at\":7},{\"type\":\"C\",\"frame\":0,\"at\":10}]},"
        "{\"type\":\"sampled\",\"name\":\"Thread B\",\"unit\":\"seconds\",\"startValue\":0,\"endValue\":1,"
        "\"samples\":[[0,1],[0]],\"weights\":[0.25,0.5]}]}";
    pp_profile *p = pp_profile_decode((const uint8_t *)text, strlen(text), PP_FORMAT_SPEEDSCOPE, err, sizeof err);
    CHECK(p != NULL);
    if (!p) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    CHECK_EQ_INT(pp_profile_num_values(p), 1);
    const char *type, *unit;
    pp_profile_value_type(p, 0, &type, &unit);
    CHECK_STR(unit, "nanoseconds");
    CHECK_EQ_INT(stack_total(p, 0, "main;work"), 5000000 + 250000000);
    CHECK_EQ_INT(stack_total(p, 0, "main"), 5000000 + 500000000);
    /* each sample names its thread */
    int labelled = 0;
    for (size_t i = 0; i < pp_profile_num_samples(p); i++) {
        pp_label_view l;
        if (pp_profile_sample_num_labels(p, i) == 1) {
            pp_profile_sample_label(p, i, 0, &l);
            labelled += strcmp(l.key, "thread_name") == 0 && l.str &&
                        (strcmp(l.str, "Thread A") == 0 || strcmp(l.str, "Thread B") == 0);
        }
    }
    CHECK_EQ_INT(labelled, (int)pp_profile_num_samples(p));
    pp_profile_free(p);
}

static void test_bad_input(void)
{
    static const struct {
        pp_format f;
        const char *text, *message;
    } bad[] = {
        {PP_FORMAT_SPEEDSCOPE, "{\"shared\":", "speedscope: not valid JSON"},
        {PP_FORMAT_SPEEDSCOPE, "{\"nodes\":[]}", "not a speedscope file"},
        {PP_FORMAT_SPEEDSCOPE,
         "{\"shared\":{\"frames\":[{\"name\":\"a\"}]},\"profiles\":[{\"type\":\"sampled\",\"name\":\"x\","
         "\"unit\":\"none\",\"samples\":[[0,5]],\"weights\":[1]}]}",
         "names a frame that is not one of the 1 shared frames"},
        {PP_FORMAT_SPEEDSCOPE,
         "{\"shared\":{\"frames\":[{\"name\":\"a\"}]},\"profiles\":[{\"type\":\"evented\",\"name\":\"x\","
         "\"unit\":\"none\",\"events\":[{\"type\":\"C\",\"frame\":0,\"at\":1}]}]}",
         "closes a frame that is not open"},
        {PP_FORMAT_CPUPROFILE, "[1,2", "cpuprofile: not valid JSON"},
        {PP_FORMAT_CPUPROFILE, "{\"samples\":[]}", "not a Chrome CPU profile"},
        {PP_FORMAT_CPUPROFILE,
         "{\"nodes\":[{\"id\":1,\"callFrame\":{\"functionName\":\"a\"},\"children\":[2]},"
         "{\"id\":2,\"callFrame\":{\"functionName\":\"b\"},\"children\":[9]}],\"samples\":[2]}",
         "cpuprofile: a child id that names no node, or a node with two parents"},
        {PP_FORMAT_TEXT, "x", "cannot read text profiles; readable formats: pprof"},
        {PP_FORMAT_HTML, "x", "speedscope (.speedscope.json), cpuprofile (.cpuprofile)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        pp_profile *p = pp_profile_decode((const uint8_t *)bad[i].text, strlen(bad[i].text), bad[i].f, err, sizeof err);
        CHECK(p == NULL);
        if (!strstr(err, bad[i].message)) {
            fprintf(stderr, "case %zu: message '%s' lacks '%s'\n", i, err, bad[i].message);
            CHECK(0);
        }
        pp_profile_free(p);
    }
    /* absurd numbers are capped, not overflowed */
    const char *huge = "{\"nodes\":[{\"id\":1e300,\"callFrame\":{\"functionName\":\"(root)\"},\"children\":[2]},"
                       "{\"id\":2,\"callFrame\":{\"functionName\":\"a\",\"lineNumber\":1e300}}],"
                       "\"samples\":[2,2,2],\"timeDeltas\":[1e300,1e300,1e300],\"startTime\":-1e300,\"endTime\":1e300}";
    pp_profile *h = pp_profile_decode((const uint8_t *)huge, strlen(huge), PP_FORMAT_CPUPROFILE, err, sizeof err);
    CHECK(h != NULL);
    if (h) {
        CHECK_EQ_INT(stack_total(h, 0, "a"), 3);
        CHECK(stack_total(h, 1, "a") > 0);
    }
    pp_profile_free(h);
    /* a cycle of parents without two parents: 1 -> 2 -> 1 via 'parent' */
    const char *cyc = "{\"nodes\":[{\"id\":1,\"parent\":2,\"callFrame\":{\"functionName\":\"a\"}},"
                      "{\"id\":2,\"parent\":1,\"callFrame\":{\"functionName\":\"b\"}}],\"samples\":[1]}";
    CHECK(pp_profile_decode((const uint8_t *)cyc, strlen(cyc), PP_FORMAT_CPUPROFILE, err, sizeof err) == NULL);
    CHECK(strstr(err, "cycle") != NULL);
}

/* Every prefix and many one-byte changes of a file we wrote: a profile or
 * a message, never a crash (ASan and UBSan watch). */
static void test_damaged_files(void)
{
    pp_profile *p = build();
    const pp_format formats[] = {PP_FORMAT_SPEEDSCOPE, PP_FORMAT_CPUPROFILE, PP_FORMAT_COLLAPSED};
    for (size_t k = 0; k < sizeof formats / sizeof formats[0]; k++) {
        uint8_t *data;
        size_t len;
        CHECK_EQ_INT(pp_profile_encode(p, formats[k], 0, &data, &len, err, sizeof err), 0);
        uint8_t *copy = malloc(len ? len : 1);
        for (size_t cut = 0; cut < len; cut++) {
            memcpy(copy, data, cut); /* exactly cut bytes, so ASan sees any read past them */
            pp_profile *q = pp_profile_decode(copy, cut, formats[k], err, sizeof err);
            CHECK(q != NULL || err[0] != 0);
            pp_profile_free(q);
        }
        static const char junk[] = "\"{}[],:-9e99x0 ";
        for (size_t i = 0; i < len; i += 3) {
            memcpy(copy, data, len);
            copy[i] = (uint8_t)junk[i % (sizeof junk - 1)];
            pp_profile_free(pp_profile_decode(copy, len, formats[k], err, sizeof err));
        }
        free(copy);
        free(data);
    }
    pp_profile_free(p);
}

int main(void)
{
    test_round_trips();
    test_damaged_files();
    test_speedscope_foreign();
    test_bad_input();
    TEST_MAIN_END();
}
