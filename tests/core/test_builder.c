/* A profile built from a runtime's own samples writes like a sampled one. */
#include <stdlib.h>

#include "check.h"
#include "polyprof.h"

int main(void)
{
    const char *types[] = {"samples", "cpu"}, *units[] = {"count", "nanoseconds"};
    pp_profile *p = pp_profile_create(types, units, 2, "cpu", "nanoseconds", 1000000);
    CHECK(p != NULL);
    pp_frame_spec leaf = {"hashAll", "app.js", 12, 10, 1}, root = {"main", "app.js", 30, 28, 1};
    pp_frame_spec stack[] = {leaf, root};
    pp_label_view labels[] = {{"thread_id", NULL, 7}, {"thread_name", "main", 0}};
    int64_t v1[] = {3, 3000000}, v2[] = {1, 1000000};
    CHECK_EQ_INT(pp_profile_append(p, stack, 2, labels, 2, v1), 0);
    CHECK_EQ_INT(pp_profile_append(p, &root, 1, labels, 2, v2), 0);
    pp_profile_set_times(p, 1700000000000000000LL, 4000000);
    CHECK_EQ_INT(pp_profile_num_samples(p), 2);
    pp_frame_view fv;
    pp_profile_sample_frame(p, 1, 0, &fv);
    CHECK_STR(fv.name, "main");
    CHECK_STR(fv.file, "app.js");
    CHECK_EQ_INT(fv.line, 30);
    char err[128];
    uint8_t *out = NULL;
    size_t len = 0;
    CHECK_EQ_INT(pp_profile_encode(p, PP_FORMAT_COLLAPSED, 0, &out, &len, err, sizeof err), 0);
    CHECK(out && strstr((const char *)out, "main;hashAll 3000000") != NULL);
    free(out);
    /* Round trip through pprof keeps the shared frame shared. */
    CHECK_EQ_INT(pp_profile_encode(p, PP_FORMAT_PPROF, 0, &out, &len, err, sizeof err), 0);
    pp_profile *q = pp_profile_decode_pprof(out, len, err, sizeof err);
    CHECK(q != NULL);
    if (q) {
        CHECK_EQ_INT(pp_profile_num_samples(q), 2);
        CHECK_EQ_INT(pp_profile_value(q, 0, 1), 3000000);
        pp_profile_free(q);
    }
    free(out);
    /* Chrome's .cpuprofile: root, main, hashAll as a path; main's own sample;
     * samples and timeDeltas one per counted sample, deltas summing to the time. */
    CHECK_EQ_INT(pp_profile_encode(p, PP_FORMAT_CPUPROFILE, 0, &out, &len, err, sizeof err), 0);
    const char *json = (const char *)out;
    CHECK(json && strstr(json, "{\"id\":1,\"callFrame\":{\"functionName\":\"(root)\"") == json + 10);
    CHECK(strstr(json, "\"functionName\":\"main\",\"scriptId\":") != NULL);
    CHECK(strstr(json, "\"lineNumber\":29,\"columnNumber\":0},\"hitCount\":1,\"children\":[3]") != NULL);
    CHECK(strstr(json, "\"lineNumber\":11,\"columnNumber\":0},\"hitCount\":3,\"children\":[]") != NULL);
    CHECK(strstr(json, "\"samples\":[3,3,3,2],\"timeDeltas\":[1000,1000,1000,1000]") != NULL);
    CHECK(strstr(json, "\"startTime\":1700000000000000,\"endTime\":1700000000004000}") != NULL);
    free(out);
    const char *bad_types[] = {"a", "b", "c", "d", "e"};
    CHECK(pp_profile_create(bad_types, bad_types, 5, "cpu", "ns", 1) == NULL);
    pp_profile_free(p);
    TEST_MAIN_END();
}
