/* Crafted profile files: each case below once crashed a reader or a writer,
 * made its cost grow with something other than the file (a sample's count, a
 * stack's depth repeated by every event), or overflowed a signed sum. Every
 * input is made here; each check is what a user of `polyprof top|convert|
 * diff` or `polyprof.load()` would see: an answer, or an error naming the
 * limit, quickly and without a crash. Run under ASan+UBSan by ctest. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "polyprof.h"
#include "read_limits.h"
#include "strtab.h"

static char err[512];

static const pp_format every_writer[] = {PP_FORMAT_PPROF, PP_FORMAT_COLLAPSED, PP_FORMAT_TEXT,
                                         PP_FORMAT_CPUPROFILE, PP_FORMAT_HTML, PP_FORMAT_SPEEDSCOPE};
#define N_WRITERS (sizeof every_writer / sizeof every_writer[0])

/* Total of value `vi` over the samples, as a user's sum would be. */
static int64_t pp_profile_total_value(const pp_profile *p, uint32_t vi)
{
    int64_t total = 0;
    for (size_t i = 0; i < pp_profile_num_samples(p); i++)
        total += pp_profile_value(p, i, vi);
    return total;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A growable text the tests build inputs in. */
typedef struct text {
    char *s;
    size_t len, cap;
} text;

static void put(text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->s = realloc(t->s, t->cap);
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
}

static void puts_(text *t, const char *s) { put(t, s, strlen(s)); }

/* Names holding a NUL byte: the string table compared with strncmp, which
 * stops at the NUL, then read past the shorter stored name (ASan: heap
 * overflow), and could merge "a\0x" with "a". Each name keeps its own id,
 * before and after the table grows. */
static void test_strtab_names_with_nul(void)
{
    pp_strtab t;
    CHECK(pp_strtab_init(&t) == 0);
    uint32_t plain = pp_strtab_intern(&t, "a");
    enum { N = 3000 };
    static uint32_t ids[N];
    char name[32];
    for (int i = 0; i < N; i++) {
        int n = snprintf(name, sizeof name, "a%c%d", '\0', i);
        ids[i] = pp_strtab_intern_len(&t, name, (size_t)n);
        CHECK(ids[i] != plain);
    }
    /* The table grew many times on the way: every name still finds itself. */
    for (int i = 0; i < N; i++) {
        int n = snprintf(name, sizeof name, "a%c%d", '\0', i);
        CHECK_EQ_INT(pp_strtab_intern_len(&t, name, (size_t)n), ids[i]);
    }
    CHECK_EQ_INT(t.count, N + 2); /* "", "a", and the N names */
    CHECK_EQ_INT(pp_strtab_find(&t, "a"), plain);
    CHECK_EQ_INT(pp_strtab_intern(&t, "a"), plain);
    pp_strtab_free(&t);
}

/* The same through a file: a collapsed profile whose frame names hold NULs
 * reads, writes in every format and reads back, keeping its total. */
static void test_collapsed_names_with_nul(void)
{
    text in = {0};
    puts_(&in, "main;work 5\nmain;wo");
    put(&in, "\0", 1);
    puts_(&in, "rk 7\nmai");
    for (int i = 0; i < 200; i++) {
        put(&in, "\0", 1);
        puts_(&in, "x");
    }
    puts_(&in, " 11\n");
    /* Many names that agree with "main" up to their NUL: one of them probes
     * past "main" in the table. */
    char line[48];
    for (int i = 0; i < 2000; i++) {
        int n = snprintf(line, sizeof line, "main%c%d 1\n", '\0', i);
        put(&in, line, (size_t)n);
    }
    pp_profile *p = pp_profile_decode((const uint8_t *)in.s, in.len, PP_FORMAT_COLLAPSED, err, sizeof err);
    CHECK(p != NULL);
    if (p) {
        CHECK_EQ_INT(pp_profile_num_samples(p), 2003);
        for (size_t w = 0; w < N_WRITERS; w++) {
            uint8_t *out;
            size_t len;
            CHECK(pp_profile_encode(p, every_writer[w], 0, &out, &len, err, sizeof err) == 0);
            if (every_writer[w] == PP_FORMAT_PPROF) {
                pp_profile *back = pp_profile_decode(out, len, PP_FORMAT_PPROF, err, sizeof err);
                CHECK(back != NULL);
                if (back)
                    CHECK_EQ_INT(pp_profile_total_value(back, 0), 2023);
                pp_profile_free(back);
            }
            free(out);
        }
    }
    pp_profile_free(p);
    free(in.s);
}

/* A 22-byte folded file with a count of three billion: the .cpuprofile
 * writer wrote one `samples` entry per unit of count (>30 s, 546 MB). Now
 * the output is small, keeps the time, and reads back with the whole count. */
static void test_cpuprofile_writer_huge_count(void)
{
    const char *in = "main;work 3000000000\n";
    pp_profile *p = pp_profile_decode((const uint8_t *)in, strlen(in), PP_FORMAT_COLLAPSED, err, sizeof err);
    CHECK(p != NULL);
    if (!p)
        return;
    double t0 = now_s();
    uint8_t *out;
    size_t len;
    CHECK(pp_profile_encode(p, PP_FORMAT_CPUPROFILE, 0, &out, &len, err, sizeof err) == 0);
    CHECK(now_s() - t0 < 5);
    CHECK(len < 64 * 1024);
    pp_profile *back = pp_profile_decode(out, len, PP_FORMAT_CPUPROFILE, err, sizeof err);
    CHECK(back != NULL);
    if (back)
        CHECK_EQ_INT(pp_profile_total_value(back, 0), 3000000000LL);
    pp_profile_free(back);
    free(out);
    pp_profile_free(p);
}

/* Times near INT64_MAX: `value + 500` and the sum of the deltas overflowed
 * (UBSan). The writer now holds them. */
static void test_cpuprofile_writer_huge_times(void)
{
    const char *types[] = {"samples", "cpu"}, *units[] = {"count", "nanoseconds"};
    pp_profile *p = pp_profile_create(types, units, 2, "cpu", "nanoseconds", 10000000);
    pp_frame_spec a = {.name = "a", .kind = 1}, b = {.name = "b", .kind = 1};
    int64_t v[2] = {3, INT64_MAX};
    CHECK(pp_profile_append(p, &a, 1, NULL, 0, v) == 0);
    CHECK(pp_profile_append(p, &b, 1, NULL, 0, v) == 0);
    uint8_t *out;
    size_t len;
    CHECK(pp_profile_encode(p, PP_FORMAT_CPUPROFILE, 0, &out, &len, err, sizeof err) == 0);
    if (len) {
        CHECK(strstr((const char *)out, "\"endTime\":-") == NULL);
        free(out);
    }
    pp_profile_free(p);
}

/* An evented speedscope file of nested opens: every event repeated the
 * whole open stack (0.8 MB, 20,000 opens: 819 MB). Now refused, quickly,
 * naming the limit on frames in all that the repeats reach first. */
static void test_speedscope_evented_nested_opens(void)
{
    enum { DEPTH = 20000 };
    text in = {0};
    puts_(&in, "{\"shared\":{\"frames\":[{\"name\":\"f\"}]},\"profiles\":[{\"type\":\"evented\",\"name\":\"t\","
               "\"unit\":\"milliseconds\",\"startValue\":0,\"endValue\":1,\"events\":[");
    char ev[64];
    for (int i = 0; i < DEPTH; i++) {
        snprintf(ev, sizeof ev, "%s{\"type\":\"O\",\"frame\":0,\"at\":%d}", i ? "," : "", i);
        puts_(&in, ev);
    }
    puts_(&in, "]}]}");
    double t0 = now_s();
    pp_profile *p = pp_profile_decode((const uint8_t *)in.s, in.len, PP_FORMAT_SPEEDSCOPE, err, sizeof err);
    CHECK(p == NULL);
    CHECK(strstr(err, "exceed the limit of 8388608 frames in all") != NULL);
    CHECK(now_s() - t0 < 10);
    pp_profile_free(p);
    free(in.s);
}

/* One stack deeper than the per-stack limit: 20,000 opens at one instant,
 * then time passes. */
static void test_speedscope_evented_depth_limit(void)
{
    enum { DEPTH = 20000 };
    text in = {0};
    puts_(&in, "{\"shared\":{\"frames\":[{\"name\":\"f\"}]},\"profiles\":[{\"type\":\"evented\",\"name\":\"t\","
               "\"unit\":\"milliseconds\",\"startValue\":0,\"endValue\":1,\"events\":[");
    for (int i = 0; i < DEPTH; i++)
        puts_(&in, i ? ",{\"type\":\"O\",\"frame\":0,\"at\":0}" : "{\"type\":\"O\",\"frame\":0,\"at\":0}");
    puts_(&in, ",{\"type\":\"C\",\"frame\":0,\"at\":1}]}]}");
    pp_profile *p = pp_profile_decode((const uint8_t *)in.s, in.len, PP_FORMAT_SPEEDSCOPE, err, sizeof err);
    CHECK(p == NULL);
    CHECK(strstr(err, "a stack of 20000 frames exceeds the limit of 16384 frames per stack") != NULL);
    pp_profile_free(p);
    free(in.s);
}

/* Within the depth limit, the repeats are bounded by the limit on frame
 * references in all: 16,000 nested opens, each event repeating the stack. */
static void test_speedscope_evented_frame_refs_limit(void)
{
    enum { DEPTH = 16000, EVENTS = 20000 };
    text in = {0};
    puts_(&in, "{\"shared\":{\"frames\":[{\"name\":\"f\"}]},\"profiles\":[{\"type\":\"evented\",\"name\":\"t\","
               "\"unit\":\"milliseconds\",\"startValue\":0,\"endValue\":1,\"events\":[");
    char ev[64];
    for (int i = 0; i < EVENTS; i++) {
        snprintf(ev, sizeof ev, "%s{\"type\":\"O\",\"frame\":0,\"at\":%d}", i ? "," : "", i);
        puts_(&in, ev);
        if (i >= DEPTH) { /* close and reopen the leaf: one more sample of the whole stack */
            snprintf(ev, sizeof ev, ",{\"type\":\"C\",\"frame\":0,\"at\":%d}", i);
            puts_(&in, ev);
        }
    }
    puts_(&in, "]}]}");
    pp_profile *p = pp_profile_decode((const uint8_t *)in.s, in.len, PP_FORMAT_SPEEDSCOPE, err, sizeof err);
    CHECK(p == NULL);
    CHECK(strstr(err, "frames in all") != NULL);
    pp_profile_free(p);
    free(in.s);
}

/* A .cpuprofile whose nodes form a `depth`-deep chain, every node hit or
 * only the leaf. */
static void cpuprofile_chain(text *in, int depth, int every_node_hit)
{
    puts_(in, "{\"nodes\":[");
    char node[200];
    for (int i = 1; i <= depth; i++) {
        snprintf(node, sizeof node, "%s{\"id\":%d,\"callFrame\":{\"functionName\":\"%s\",\"url\":\"\"},\"hitCount\":%d", i > 1 ? "," : "",
                 i, i == 1 ? "(root)" : "f", every_node_hit || i == depth);
        puts_(in, node);
        if (i < depth) {
            snprintf(node, sizeof node, ",\"children\":[%d]", i + 1);
            puts_(in, node);
        }
        puts_(in, "}");
    }
    puts_(in, "]}");
}

/* Every node of a 20,000-deep chain hit: each node's sample held its whole
 * path (2.4 MB: up to 1.35 GB). Refused, quickly, at the limit on frames in
 * all; a chain one node over the per-stack limit is refused by that one. */
static void test_cpuprofile_reader_deep_chains(void)
{
    text in = {0};
    cpuprofile_chain(&in, 20000, 1);
    double t0 = now_s();
    pp_profile *p = pp_profile_decode((const uint8_t *)in.s, in.len, PP_FORMAT_CPUPROFILE, err, sizeof err);
    CHECK(p == NULL);
    CHECK(strstr(err, "exceed the limit of 8388608 frames in all") != NULL);
    CHECK(now_s() - t0 < 10);
    pp_profile_free(p);
    in.len = 0;
    /* The root is no frame: 16,386 nodes are 16,385 frames. */
    cpuprofile_chain(&in, PP_READ_MAX_DEPTH + 2, 0);
    p = pp_profile_decode((const uint8_t *)in.s, in.len, PP_FORMAT_CPUPROFILE, err, sizeof err);
    CHECK(p == NULL);
    CHECK(strstr(err, "exceeds the limit of 16384 frames per stack") != NULL);
    pp_profile_free(p);
    in.len = 0;
    cpuprofile_chain(&in, PP_READ_MAX_DEPTH + 1, 0);
    p = pp_profile_decode((const uint8_t *)in.s, in.len, PP_FORMAT_CPUPROFILE, err, sizeof err);
    CHECK(p != NULL);
    pp_profile_free(p);
    free(in.s);
}

/* Merging a profile with itself doubled a duration near INT64_MAX into a
 * negative one (signed overflow). It is held at the maximum. */
static void test_merge_duration_does_not_overflow(void)
{
    const char *types[] = {"samples"}, *units[] = {"count"};
    pp_profile *p = pp_profile_create(types, units, 1, "", "", 0);
    pp_frame_spec a = {.name = "a", .kind = 1};
    int64_t v[1] = {1};
    CHECK(pp_profile_append(p, &a, 1, NULL, 0, v) == 0);
    pp_profile_set_times(p, 1, INT64_MAX - 5);
    const pp_profile *both[] = {p, p};
    pp_profile *m = pp_profile_merge(both, NULL, 2, NULL, err, sizeof err);
    CHECK(m != NULL);
    if (m)
        CHECK(pp_profile_duration_nanos(m) > 0);
    pp_profile_free(m);
    pp_profile_free(p);
}

/* Sample values whose sum overflows: the report, flame graph and speedscope
 * writers summed them with signed overflow (UBSan). */
static void test_writers_sum_huge_values(void)
{
    const char *types[] = {"samples"}, *units[] = {"count"};
    pp_profile *p = pp_profile_create(types, units, 1, "", "", 0);
    pp_frame_spec a = {.name = "a", .kind = 1}, b = {.name = "b", .kind = 1};
    int64_t v[1] = {INT64_MAX - 1};
    CHECK(pp_profile_append(p, &a, 1, NULL, 0, v) == 0);
    CHECK(pp_profile_append(p, &b, 1, NULL, 0, v) == 0);
    for (size_t w = 0; w < N_WRITERS; w++) {
        uint8_t *out;
        size_t len;
        CHECK(pp_profile_encode(p, every_writer[w], 0, &out, &len, err, sizeof err) == 0);
        free(out);
    }
    uint8_t *out;
    size_t len;
    CHECK(pp_profile_diff(p, p, NULL, PP_FORMAT_TEXT, 10, &out, &len, err, sizeof err) == 0);
    free(out);
    pp_profile_free(p);
}

/* A diff of two empty profiles: qsort(NULL, 0, ...) (UBSan). */
static void test_diff_of_empty_profiles(void)
{
    const char *types[] = {"samples"}, *units[] = {"count"};
    pp_profile *a = pp_profile_create(types, units, 1, "", "", 0);
    pp_profile *b = pp_profile_create(types, units, 1, "", "", 0);
    uint8_t *out;
    size_t len;
    CHECK(pp_profile_diff(a, b, NULL, PP_FORMAT_TEXT, 10, &out, &len, err, sizeof err) == 0);
    if (len)
        CHECK(strstr((const char *)out, "Grew most") != NULL);
    free(out);
    CHECK(pp_profile_diff(a, b, NULL, PP_FORMAT_HTML, 10, &out, &len, err, sizeof err) == 0);
    free(out);
    pp_profile_free(a);
    pp_profile_free(b);
}

/* Output larger than the writers' limit is refused with the limit's name,
 * not written: a 1 MiB name on 300 frames is 300 MiB of collapsed text. */
static void test_output_limit(void)
{
    const char *types[] = {"samples"}, *units[] = {"count"};
    pp_profile *p = pp_profile_create(types, units, 1, "", "", 0);
    size_t name_len = (size_t)1 << 20;
    char *name = malloc(name_len + 1);
    memset(name, 'n', name_len);
    name[name_len] = '\0';
    enum { DEPTH = 300 };
    static pp_frame_spec stack[DEPTH];
    for (int i = 0; i < DEPTH; i++)
        stack[i] = (pp_frame_spec){.name = name, .kind = 1};
    int64_t v[1] = {1};
    CHECK(pp_profile_append(p, stack, DEPTH, NULL, 0, v) == 0);
    uint8_t *out = NULL;
    size_t len;
    CHECK(pp_profile_encode(p, PP_FORMAT_COLLAPSED, 0, &out, &len, err, sizeof err) != 0);
    CHECK(strstr(err, "exceeds the limit of 256 MiB") != NULL);
    /* The compact formats still write it. */
    CHECK(pp_profile_encode(p, PP_FORMAT_PPROF, 0, &out, &len, err, sizeof err) == 0);
    free(out);
    free(name);
    pp_profile_free(p);
}

/* `test_hostile_input NAME` runs one case (each once failed on its own). */
static const struct {
    const char *name;
    void (*run)(void);
} cases[] = {
    {"test_strtab_names_with_nul", test_strtab_names_with_nul},
    {"test_collapsed_names_with_nul", test_collapsed_names_with_nul},
    {"test_cpuprofile_writer_huge_count", test_cpuprofile_writer_huge_count},
    {"test_cpuprofile_writer_huge_times", test_cpuprofile_writer_huge_times},
    {"test_speedscope_evented_nested_opens", test_speedscope_evented_nested_opens},
    {"test_speedscope_evented_depth_limit", test_speedscope_evented_depth_limit},
    {"test_speedscope_evented_frame_refs_limit", test_speedscope_evented_frame_refs_limit},
    {"test_cpuprofile_reader_deep_chains", test_cpuprofile_reader_deep_chains},
    {"test_merge_duration_does_not_overflow", test_merge_duration_does_not_overflow},
    {"test_writers_sum_huge_values", test_writers_sum_huge_values},
    {"test_diff_of_empty_profiles", test_diff_of_empty_profiles},
    {"test_output_limit", test_output_limit},
};

int main(int argc, char **argv)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (argc < 2 || !strcmp(argv[1], cases[i].name))
            cases[i].run();
    TEST_MAIN_END();
}
