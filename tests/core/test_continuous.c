/* Continuous profiling: one profile per window from the shared sampler, each
 * starting afresh, and the table's memory flat over many windows. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "burn.h"
#include "check.h"
#include "polyprof.h"

static _Atomic int windows;
static _Atomic uint64_t max_table_bytes, first_table_bytes;
static _Atomic int64_t last_end;
static _Atomic int bad_times;

static int on_window(void *ctx, pp_profile *p, const pp_window_info *info)
{
    (void)ctx;
    if (info->end_unix_ns < info->start_unix_ns || info->start_unix_ns < atomic_load(&last_end))
        atomic_fetch_add(&bad_times, 1);
    atomic_store(&last_end, info->end_unix_ns);
    for (uint32_t i = 0; i < pp_profile_num_comments(p); i++) {
        unsigned long long b;
        if (sscanf(pp_profile_comment(p, i), "table_bytes=%llu", &b) == 1) {
            if (atomic_load(&windows) == 0)
                atomic_store(&first_table_bytes, b);
            if (b > atomic_load(&max_table_bytes))
                atomic_store(&max_table_bytes, b);
        }
    }
    atomic_fetch_add(&windows, 1);
    pp_profile_free(p);
    return 0;
}

int main(void)
{
    pp_options o;
    pp_options_default(&o);
    char err[512];
    CHECK_EQ_INT(pp_options_parse(&o, "interval=10ms,window=1s", err, sizeof err), 0);
    pp_continuous *c = pp_continuous_start(&o, on_window, NULL, err, sizeof err);
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "%s\n", err);
        TEST_MAIN_END();
    }
    CHECK(pp_sampler_running());
    burn_wall_ms(3300);
    pp_continuous_stop(c); /* + the partial window */
    CHECK(!pp_sampler_running());
    CHECK(atomic_load(&windows) >= 3 && atomic_load(&windows) <= 5);
    CHECK_EQ_INT(atomic_load(&bad_times), 0);
    /* Every window starts afresh: the same stacks, the same table size. */
    CHECK(atomic_load(&max_table_bytes) <= 2 * atomic_load(&first_table_bytes) + 4096);

    /* The default exporter: the local store. */
    char dir[] = "/tmp/pp-continuous-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    CHECK_EQ_INT(pp_options_set(&o, "store", dir, err, sizeof err), 0);
    CHECK_EQ_INT(pp_options_set(&o, "service", "unit-test", err, sizeof err), 0);
    c = pp_continuous_start(&o, NULL, NULL, err, sizeof err);
    CHECK(c != NULL);
    burn_ms(1200);
    pp_continuous_stop(c);
    pp_store *s = pp_store_open(dir, 0, 0, err, sizeof err);
    pp_store_entry *v = NULL;
    int n = pp_store_list(s, &v, err, sizeof err);
    CHECK(n >= 2);
    for (int i = 0; i < n; i++) {
        CHECK_STR(v[i].service, "unit-test");
        CHECK_STR(v[i].trigger, "continuous");
        CHECK_STR(v[i].type, "cpu");
    }
    free(v);
    pp_store_close(s);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ_INT(system(cmd), 0);
    TEST_MAIN_END();
}
