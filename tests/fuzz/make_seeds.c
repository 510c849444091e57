/* Writes the fuzzers' seed corpus with the project's own writers: one small
 * profile (two value types, a few stacks, a label, a NUL-free name with
 * ';' in it) in each readable format, into DIR/<format>/seed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "polyprof.h"

static int write_seed(const char *dir, const char *name, const uint8_t *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/seed", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len) {
        perror(path);
        return -1;
    }
    return fclose(f);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds DIR\n");
        return 2;
    }
    mkdir(argv[1], 0755);
    const char *types[] = {"samples", "cpu"}, *units[] = {"count", "nanoseconds"};
    pp_profile *p = pp_profile_create(types, units, 2, "cpu", "nanoseconds", 10000000);
    pp_frame_spec main_f = {.name = "main", .file = "app.py", .line = 3, .start_line = 1, .kind = 1};
    pp_frame_spec work = {.name = "work;inner", .file = "app.py", .line = 12, .start_line = 10, .kind = 1};
    pp_frame_spec native = {.name = "memcpy", .kind = 0};
    pp_frame_spec s1[] = {work, main_f}, s2[] = {native, work, main_f}, s3[] = {main_f};
    pp_label_view label = {.key = "thread_name", .str = "worker"};
    int64_t v1[] = {3, 30000000}, v2[] = {2, 20000000}, v3[] = {1, 10000000};
    pp_profile_append(p, s1, 2, &label, 1, v1);
    pp_profile_append(p, s2, 3, NULL, 0, v2);
    pp_profile_append(p, s3, 1, NULL, 0, v3);
    pp_profile_set_times(p, 1700000000000000000LL, 60000000000LL);
    const struct {
        pp_format f;
        const char *name;
    } seeds[] = {{PP_FORMAT_PPROF, "pprof"},
                 {PP_FORMAT_COLLAPSED, "collapsed"},
                 {PP_FORMAT_SPEEDSCOPE, "speedscope"},
                 {PP_FORMAT_CPUPROFILE, "cpuprofile"}};
    char err[512];
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        uint8_t *out;
        size_t len;
        if (pp_profile_encode(p, seeds[i].f, 0, &out, &len, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        if (write_seed(argv[1], seeds[i].name, out, len) != 0)
            return 1;
        free(out);
    }
    pp_profile_free(p);
    const char *options = "event=wall,interval=250us,duration=30s,native=false,signal=SIGUSR2,memory=32m,"
                          "file=/tmp/x.pb.gz,store_max_age=7d,cpu_budget=1%,endpoint=:0";
    return write_seed(argv[1], "options", (const uint8_t *)options, strlen(options)) ? 1 : 0;
}
