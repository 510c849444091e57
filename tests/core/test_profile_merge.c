/* Merging profiles (fleet captures): every sample keeps its stack and values
 * and gains the label naming its source; shared functions and mappings stay
 * shared; profiles of different kinds are refused with a message naming both. */
#include <stdlib.h>
#include <string.h>

#include "burn.h"
#include "check.h"
#include "polyprof.h"
#include "profile.h"

static const char *types[] = {"samples", "cpu"}, *units[] = {"count", "nanoseconds"};

static pp_profile *built(const char *leaf, int64_t count, int64_t time_nanos, int64_t period, const char *comment)
{
    pp_profile *p = pp_profile_create(types, units, 2, "cpu", "nanoseconds", period);
    pp_frame_spec stack[] = {{leaf, "app.py", 12, 10, 1}, {"main", "app.py", 30, 28, 1}};
    pp_label_view labels[] = {{"thread_name", "MainThread", 0}, {"thread_id", NULL, 7}};
    int64_t v[] = {count, count * 10000000};
    pp_profile_append(p, stack, 2, labels, 2, v);
    pp_profile_set_times(p, time_nanos, 2000000000);
    pp_profile_add_metadata(p, comment);
    return p;
}

/* The string label `key` of sample i, or NULL. */
static const char *label_of(const pp_profile *p, size_t i, const char *key)
{
    for (uint32_t j = 0; j < pp_profile_sample_num_labels(p, i); j++) {
        pp_label_view l;
        pp_profile_sample_label(p, i, j, &l);
        if (strcmp(l.key, key) == 0)
            return l.str;
    }
    return NULL;
}

static int has_comment(const pp_profile *p, const char *line)
{
    for (uint32_t i = 0; i < pp_profile_num_comments(p); i++)
        if (strcmp(pp_profile_comment(p, i), line) == 0)
            return 1;
    return 0;
}

static void test_two_instances(void)
{
    pp_profile *a = built("work", 3, 2000, 10000000, "samples_taken=3");
    pp_profile *b = built("other", 5, 1000, 20000000, "samples_taken=5");
    const pp_profile *in[] = {a, b};
    const char *names[] = {"10.0.0.1:8080", "10.0.0.2:8080"};
    char err[256] = "";
    pp_profile *m = pp_profile_merge(in, names, 2, "instance", err, sizeof err);
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK_EQ_INT(pp_profile_num_samples(m), 2);
    CHECK_STR(label_of(m, 0, "instance"), "10.0.0.1:8080");
    CHECK_STR(label_of(m, 1, "instance"), "10.0.0.2:8080");
    CHECK_STR(label_of(m, 1, "thread_name"), "MainThread");
    pp_frame_view f;
    pp_profile_sample_frame(m, 1, 0, &f);
    CHECK_STR(f.name, "other");
    pp_profile_sample_frame(m, 1, 1, &f);
    CHECK_STR(f.name, "main");
    CHECK_EQ_INT(f.line, 30);
    CHECK_EQ_INT(pp_profile_value(m, 0, 1), 30000000);
    CHECK_EQ_INT(pp_profile_value(m, 1, 0), 5);
    CHECK_EQ_INT(m->n_frames, 3); /* main is one function of both */
    CHECK_EQ_INT(m->time_nanos, 1000);
    CHECK_EQ_INT(pp_profile_duration_nanos(m), 4000000000LL);
    CHECK_EQ_INT(m->period, 20000000);
    CHECK(has_comment(m, "[10.0.0.1:8080] samples_taken=3"));
    CHECK(has_comment(m, "[10.0.0.2:8080] samples_taken=5"));
    CHECK(has_comment(m, "merged_profiles=2"));

    /* Through pprof and back: the labels are what go tool pprof -tagfocus reads. */
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_EQ_INT(pp_profile_encode(m, PP_FORMAT_PPROF, 0, &buf, &len, err, sizeof err), 0);
    pp_profile *back = pp_profile_decode_pprof(buf, len, err, sizeof err);
    CHECK(back != NULL);
    if (back) {
        pp_profile *only = pp_profile_filter_label(back, "instance", "10.0.0.2:8080");
        CHECK_EQ_INT(pp_profile_num_samples(only), 1);
        CHECK_EQ_INT(pp_profile_value(only, 0, 0), 5);
        pp_profile_free(only);
        pp_profile_free(back);
    }
    free(buf);

    /* Merging a merged profile again relabels: one instance label per sample. */
    const pp_profile *again[] = {m};
    const char *fleet[] = {"fleet-a"};
    pp_profile *r = pp_profile_merge(again, fleet, 1, "instance", err, sizeof err);
    CHECK(r != NULL);
    if (r) {
        CHECK_EQ_INT(pp_profile_sample_num_labels(r, 0), 3);
        CHECK_STR(label_of(r, 0, "instance"), "fleet-a");
        CHECK(has_comment(r, "merged_profiles=2")); /* one source: its lines as they were */
        pp_profile_free(r);
    }
    pp_profile_free(m);
    pp_profile_free(a);
    pp_profile_free(b);
}

static void test_refuses_different_kinds(void)
{
    pp_profile *a = built("work", 3, 1, 10000000, "x=1");
    const char *wall_types[] = {"samples", "wall"};
    pp_profile *w = pp_profile_create(wall_types, units, 2, "wall", "nanoseconds", 10000000);
    const pp_profile *in[] = {a, w};
    const char *names[] = {"a:1", "b:2"};
    char err[512] = "";
    CHECK(pp_profile_merge(in, names, 2, "instance", err, sizeof err) == NULL);
    CHECK(strstr(err, "'a:1' has sample types samples/count, cpu/nanoseconds") != NULL);
    CHECK(strstr(err, "'b:2' has samples/count, wall/nanoseconds") != NULL);
    CHECK(pp_profile_merge(in, NULL, 0, NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, "no profiles") != NULL);
    const char *missing[] = {"a:1", NULL};
    CHECK(pp_profile_merge(in, missing, 2, "instance", err, sizeof err) == NULL);
    CHECK(strstr(err, "no 'instance' label value for profile 2") != NULL);
    pp_profile_free(a);
    pp_profile_free(w);
}

/* A sampled profile with native frames merged with itself: mappings and
 * frames are shared, every value doubles. */
static void test_sampled_profile_shares_mappings(void)
{
    pp_options o;
    pp_options_default(&o);
    char err[256];
    pp_collector *c = pp_collector_start(&o, NULL, NULL, err, sizeof err);
    CHECK(c != NULL);
    if (!c)
        return;
    burn_ms(300);
    pp_profile *p = pp_collector_stop(c);
    CHECK(p && p->n_samples > 0 && p->n_mappings > 0);
    const pp_profile *in[] = {p, p};
    const char *names[] = {"x", "y"};
    pp_profile *m = pp_profile_merge(in, names, 2, "instance", err, sizeof err);
    CHECK(m != NULL);
    if (m) {
        CHECK_EQ_INT(m->n_mappings, p->n_mappings);
        CHECK_EQ_INT(m->n_frames, p->n_frames);
        CHECK_EQ_INT(pp_profile_num_samples(m), 2 * pp_profile_num_samples(p));
        for (uint32_t v = 0; v < p->n_values; v++)
            CHECK_EQ_INT(pp_profile_total(m, v), 2 * pp_profile_total(p, v));
        pp_profile_free(m);
    }
    pp_profile_free(p);
}

int main(void)
{
    test_two_instances();
    test_refuses_different_kinds();
    test_sampled_profile_shares_mappings();
    TEST_MAIN_END();
}
