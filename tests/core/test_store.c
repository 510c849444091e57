/* The local store: file names, the index, retention by age and by size
 * (oldest first, never the newest). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "polyprof.h"

static pp_profile *small_profile(int n)
{
    const char *types[] = {"samples", "cpu"}, *units[] = {"count", "nanoseconds"};
    pp_profile *p = pp_profile_create(types, units, 2, "cpu", "nanoseconds", 10000000);
    pp_frame_spec f = {0};
    f.name = "work";
    f.file = "app.py";
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "fn%d", i);
        f.name = name;
        int64_t v[2] = {1, 10000000};
        pp_profile_append(p, &f, 1, NULL, 0, v);
    }
    return p;
}

int main(void)
{
    char dir[] = "/tmp/pp-store-test-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char sub[256];
    snprintf(sub, sizeof sub, "%s/a/b", dir);
    char err[512];
    const int64_t hour = 3600LL * 1000000000LL;
    const int64_t t0 = 1764000000LL * 1000000000LL; /* 2025-11-24 */
    pp_store *s = pp_store_open(sub, 2 * hour, 0, err, sizeof err);
    CHECK(s != NULL);
    pp_profile *p = small_profile(3);
    char path[4096];
    /* Written at t0, t0+1h, t0+2h, t0+3h: puts prune by the real clock, so
     * these old times are pruned through pp_store_prune with a chosen now. */
    pp_store_close(s);
    s = pp_store_open(sub, 0, 0, err, sizeof err);
    for (int i = 0; i < 4; i++)
        CHECK_EQ_INT(pp_store_put(s, p, "check out", "cpu", i == 3 ? "p95" : "continuous", t0 + i * hour, path,
                                  sizeof path, err, sizeof err), 0);
    CHECK(strstr(path, "/check-out_cpu_20251124T") != NULL && strstr(path, "_p95.pb.gz") != NULL);
    /* The same second and trigger again: a distinct name. */
    CHECK_EQ_INT(pp_store_put(s, p, "check out", "cpu", "p95", t0 + 3 * hour, path, sizeof path, err, sizeof err), 0);
    CHECK(strstr(path, "_p95-1.pb.gz") != NULL);
    pp_store_entry *v = NULL;
    int n = pp_store_list(s, &v, err, sizeof err);
    CHECK_EQ_INT(n, 5);
    if (n == 5) {
        CHECK_EQ_INT(v[0].start_unix_ns, t0);
        CHECK_STR(v[0].service, "check-out");
        CHECK_STR(v[0].trigger, "continuous");
        CHECK_STR(v[4].trigger, "p95");
        CHECK(v[0].bytes > 20);
    }
    free(v);
    char index[512];
    snprintf(index, sizeof index, "%s/index.tsv", sub);
    CHECK(access(index, R_OK) == 0);
    pp_store_close(s);

    /* Age: as of t0+3.5h with a 2h limit, the files of t0 and t0+1h go. */
    s = pp_store_open(sub, 2 * hour, 0, err, sizeof err);
    CHECK_EQ_INT(pp_store_prune(s, t0 + 3 * hour + hour / 2), 2);
    n = pp_store_list(s, &v, err, sizeof err);
    CHECK_EQ_INT(n, 3);
    if (n == 3)
        CHECK_EQ_INT(v[0].start_unix_ns, t0 + 2 * hour);
    uint64_t one = n > 0 ? v[0].bytes : 0;
    free(v);
    pp_store_close(s);

    /* Size: room for two files: the oldest goes first. */
    s = pp_store_open(sub, 0, 2 * one + one / 2, err, sizeof err);
    CHECK_EQ_INT(pp_store_prune(s, t0), 1);
    n = pp_store_list(s, &v, err, sizeof err);
    CHECK_EQ_INT(n, 2);
    if (n == 2)
        CHECK_EQ_INT(v[0].start_unix_ns, t0 + 3 * hour);
    free(v);
    pp_store_close(s);

    /* Errors name the problem. */
    CHECK(pp_store_open("/proc/polyprof-no/such", 0, 0, err, sizeof err) == NULL);
    CHECK(strstr(err, "cannot create") != NULL);
    pp_profile_free(p);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ_INT(system(cmd), 0);
    TEST_MAIN_END();
}
