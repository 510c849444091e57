/* Event profiles (the JVM's sampled allocations): stacks recorded from
 * callbacks with caller-given values, aggregated by content, named at export
 * through the runtime's resolver, capped with a counted overflow. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "polyprof.h"

static int resolve_calls;

/* Names code 0x10 "a", 0x20 "b"; anything else cannot be named. */
static int resolve(void *ctx, const pp_raw_frame *f, pp_resolved_frame *out)
{
    (void)ctx;
    resolve_calls++;
    if (f->code != 0x10 && f->code != 0x20)
        return -1;
    snprintf(out->name, sizeof out->name, "%s", f->code == 0x10 ? "com.example.A.a" : "com.example.B.b");
    snprintf(out->file, sizeof out->file, "com/example/X.java");
    out->line = (int64_t)f->offset;
    return 0;
}

static int64_t total(const pp_profile *p, const char *leaf, uint32_t vi)
{
    int64_t sum = 0;
    for (size_t s = 0; s < pp_profile_num_samples(p); s++) {
        pp_frame_view f;
        pp_profile_sample_frame(p, s, 0, &f);
        if (!leaf || !strcmp(f.name, leaf))
            sum += pp_profile_value(p, s, vi);
    }
    return sum;
}

int main(void)
{
    const char *types[] = {"alloc_objects", "alloc_space"}, *units[] = {"count", "bytes"};
    pp_events *e = pp_events_new(types, units, 2, "space", "bytes", 512 * 1024, 1 << 20);
    CHECK(e != NULL);
    pp_raw_frame st1[] = {{0x10, 1, 7, 0}, {0x20, 2, 3, 0}};
    pp_raw_frame st2[] = {{0x20, 2, 3, 0}};
    pp_raw_frame bad[] = {{0x99, 0, 0, 0}, {0x20, 2, 3, 0}};
    for (int i = 0; i < 3; i++) {
        int64_t v[] = {1, 300};
        CHECK_EQ_INT(pp_events_record(e, "byte[]", st1, 2, v), 0);
    }
    int64_t v2[] = {2, 100};
    CHECK_EQ_INT(pp_events_record(e, "java.lang.String", st2, 1, v2), 0);
    CHECK_EQ_INT(pp_events_record(e, "byte[]", bad, 2, v2), 0);

    pp_runtime rt;
    memset(&rt, 0, sizeof rt);
    rt.resolve = resolve;
    pp_profile *p = pp_events_export(e, &rt);
    CHECK(p != NULL);
    CHECK_EQ_INT(pp_profile_num_samples(p), 3);
    CHECK_EQ_INT(resolve_calls, 3); /* each distinct frame once */
    CHECK_EQ_INT(total(p, "byte[]", 1), 1000);
    CHECK_EQ_INT(total(p, "java.lang.String", 0), 2);
    const char *t, *u;
    pp_profile_value_type(p, 1, &t, &u);
    CHECK_STR(t, "alloc_space");
    CHECK_STR(u, "bytes");
    /* Stack shape: class leaf, then the frames leaf first, named. */
    int found = 0, unresolved = 0;
    for (size_t s = 0; s < pp_profile_num_samples(p); s++) {
        pp_frame_view f;
        if (pp_profile_sample_depth(p, s) != 3)
            continue;
        pp_profile_sample_frame(p, s, 1, &f);
        if (!strcmp(f.name, "com.example.A.a")) {
            found++;
            CHECK_EQ_INT(f.line, 7);
            CHECK_STR(f.file, "com/example/X.java");
            pp_profile_sample_frame(p, s, 2, &f);
            CHECK_STR(f.name, "com.example.B.b");
        } else if (!strcmp(f.name, "[unresolved frame]")) {
            unresolved++;
        }
    }
    CHECK_EQ_INT(found, 1);
    CHECK_EQ_INT(unresolved, 1);
    /* Every writer takes it. */
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256];
    CHECK_EQ_INT(pp_profile_encode(p, PP_FORMAT_PPROF, 0, &buf, &len, err, sizeof err), 0);
    free(buf);
    CHECK_EQ_INT(pp_profile_encode(p, PP_FORMAT_COLLAPSED, 0, &buf, &len, err, sizeof err), 0);
    CHECK(buf && strstr((const char *)buf, "com.example.B.b;com.example.A.a;byte[] 900") != NULL);
    free(buf);
    pp_profile_free(p);
    pp_events_free(e);

    /* Past the memory cap: samples land in one counted overflow stack. */
    e = pp_events_new(types, units, 2, "space", "bytes", 1, 1);
    int64_t one[] = {1, 10};
    int dropped = 0;
    for (uintptr_t i = 0; i < 2000; i++) {
        pp_raw_frame f = {0x1000 + i, 0, 0, 0};
        dropped += pp_events_record(e, NULL, &f, 1, one) != 0;
    }
    CHECK(dropped > 0);
    p = pp_events_export(e, NULL);
    CHECK_EQ_INT(total(p, "[overflow: profiler memory cap reached]", 0), dropped);
    CHECK_EQ_INT(total(p, NULL, 0), 2000);
    pp_profile_free(p);
    pp_events_free(e);
    TEST_MAIN_END();
}
