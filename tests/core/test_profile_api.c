/* The public profile surface: accessors out of range, atomic file writes,
 * label filtering, thread naming, format selection. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "polyprof.h"
#include "profile.h"

static char err[512];

static pp_profile *build(void)
{
    pp_profile *p = pp_profile_new();
    pp_profile_set_value_type(p, 0, "samples", "count");
    pp_frame f = {.name = pp_profile_intern(p, "work"), .kind = PP_FRAME_INTERP};
    uint32_t id = pp_profile_add_frame(p, &f);
    uint32_t tid = pp_profile_intern(p, "thread_id"), tname = pp_profile_intern(p, "thread_name");
    for (int t = 0; t < 3; t++) {
        pp_label l[] = {{.key = tid, .num = 100 + t}, {.key = tname, .str = pp_profile_intern(p, "Thread")}};
        int64_t v[] = {t + 1};
        pp_profile_add_sample(p, &id, 1, l, 2, v);
    }
    return p;
}

static void test_accessors(void)
{
    pp_profile *p = build();
    pp_frame_view v;
    pp_profile_sample_frame(p, 9, 0, &v);
    CHECK_STR(v.name, "");
    CHECK_STR(v.mapping, "");
    pp_profile_sample_frame(p, 0, 5, &v);
    CHECK_STR(v.name, "");
    pp_label_view l;
    pp_profile_sample_label(p, 0, 7, &l);
    CHECK_STR(l.key, "");
    CHECK(l.str == NULL);
    const char *type, *unit;
    pp_profile_value_type(p, 3, &type, &unit);
    CHECK_STR(type, "");
    CHECK_EQ_INT(pp_profile_value(p, 99, 0), 0);
    CHECK_EQ_INT(pp_profile_sample_depth(p, 99), 0);
    CHECK(pp_profile_comment(p, 0) == NULL);
    pp_profile_free(p);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_write_file(void)
{
    char dir[] = "/tmp/pp_test_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/out.pb.gz", dir);
    pp_profile *p = build();
    CHECK(pp_profile_write_file(p, path, PP_FORMAT_AUTO, err, sizeof err) == 0);
    CHECK_EQ_INT(count_entries(dir), 1); /* no temporary left behind */
    FILE *f = fopen(path, "rb");
    uint8_t buf[4096];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f)
        fclose(f);
    pp_profile *q = pp_profile_decode_pprof(buf, n, err, sizeof err);
    CHECK(q && pp_profile_num_samples(q) == 3);
    pp_profile_free(q);

    /* overwriting replaces the file whole */
    snprintf(path, sizeof path, "%s/out.folded", dir);
    CHECK(pp_profile_write_file(p, path, PP_FORMAT_AUTO, err, sizeof err) == 0);
    CHECK(pp_profile_write_file(p, path, PP_FORMAT_AUTO, err, sizeof err) == 0);
    f = fopen(path, "rb");
    n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = 0;
    CHECK_STR((char *)buf, "work 6\n");
    unlink(path);
    snprintf(path, sizeof path, "%s/out.pb.gz", dir);
    unlink(path);

    snprintf(path, sizeof path, "%s/missing/out.pb.gz", dir);
    CHECK(pp_profile_write_file(p, path, PP_FORMAT_PPROF, err, sizeof err) == -1);
    CHECK(strstr(err, path) != NULL);
    CHECK(strstr(err, "No such file or directory") != NULL);
    CHECK(pp_profile_write_file(p, "/tmp/out.json", PP_FORMAT_AUTO, err, sizeof err) == -1);
    CHECK(strstr(err, "'.json'") != NULL);
    rmdir(dir);
    pp_profile_free(p);
}

static void test_filter_and_names(void)
{
    pp_profile *p = build();
    pp_profile *q = pp_profile_filter_label(p, "thread_id", "101");
    CHECK(q && pp_profile_num_samples(q) == 1 && pp_profile_value(q, 0, 0) == 2);
    pp_profile_free(q);
    q = pp_profile_filter_label(p, "thread_name", "Thread");
    CHECK(q && pp_profile_num_samples(q) == 3);
    pp_profile_free(q);
    q = pp_profile_filter_label(p, "nope", "x");
    CHECK(q && pp_profile_num_samples(q) == 0 && pp_profile_num_values(q) == 1);
    pp_profile_free(q);

    int64_t tids[] = {102, 100, 555};
    const char *names[] = {"worker-2", "MainThread", "gone"};
    CHECK(pp_profile_name_threads(p, tids, names, 3) == 0);
    pp_label_view l;
    const char *want[] = {"MainThread", "Thread", "worker-2"};
    for (size_t s = 0; s < 3; s++) {
        pp_profile_sample_label(p, s, 1, &l);
        CHECK_STR(l.key, "thread_name");
        CHECK_STR(l.str, want[s]);
        pp_profile_sample_label(p, s, 0, &l);
        CHECK_EQ_INT(l.num, 100 + (int64_t)s);
    }
    q = pp_profile_filter_label(p, "thread_name", "worker-2");
    CHECK(q && pp_profile_num_samples(q) == 1);
    pp_profile_free(q);
    pp_profile_free(p);
}

static void test_formats(void)
{
    pp_format f;
    CHECK(pp_format_from_path("a/b.pb.gz", &f, err, sizeof err) == 0 && f == PP_FORMAT_PPROF);
    CHECK(pp_format_from_path("b.pprof", &f, err, sizeof err) == 0 && f == PP_FORMAT_PPROF);
    CHECK(pp_format_from_path("b.pb", &f, err, sizeof err) == 0 && f == PP_FORMAT_PPROF);
    CHECK(pp_format_from_path("b.folded", &f, err, sizeof err) == 0 && f == PP_FORMAT_COLLAPSED);
    CHECK(pp_format_from_path("b.collapsed", &f, err, sizeof err) == 0 && f == PP_FORMAT_COLLAPSED);
    CHECK(pp_format_from_path("b.txt", &f, err, sizeof err) == 0 && f == PP_FORMAT_COLLAPSED);
    CHECK(pp_format_from_path("b.top", &f, err, sizeof err) == 0 && f == PP_FORMAT_TEXT);
    CHECK(pp_format_from_path("b.cpuprofile", &f, err, sizeof err) == 0 && f == PP_FORMAT_CPUPROFILE);
    CHECK(pp_format_from_path("b.gz", &f, err, sizeof err) == -1);
    CHECK_STR(err, "file suffix '.gz' of 'b.gz' is not supported (use .pb.gz, .pprof, .pb, .folded, .collapsed, "
                   ".txt, .top, .cpuprofile, .html, .speedscope.json)");
    CHECK(pp_format_from_path("b.speedscope.json", &f, err, sizeof err) == 0 && f == PP_FORMAT_SPEEDSCOPE);
    CHECK(pp_format_from_path("b.json", &f, err, sizeof err) == -1);
    CHECK_STR(pp_format_name(PP_FORMAT_SPEEDSCOPE), "speedscope");
    CHECK(pp_format_from_path("dir.d/profile", &f, err, sizeof err) == -1);
    CHECK(strstr(err, "has no suffix") != NULL);
    CHECK(pp_format_from_name("folded", &f, err, sizeof err) == 0 && f == PP_FORMAT_COLLAPSED);
    CHECK(pp_format_from_name("top", &f, err, sizeof err) == 0 && f == PP_FORMAT_TEXT);
    CHECK(pp_format_from_name("pprof", &f, err, sizeof err) == 0 && f == PP_FORMAT_PPROF);
    CHECK(pp_format_from_name("json", &f, err, sizeof err) == -1);
    CHECK_STR(err, "unknown format 'json' (use pprof, collapsed, folded, text, top, cpuprofile, html or speedscope)");
}

int main(void)
{
    test_accessors();
    test_write_file();
    test_filter_and_names();
    test_formats();
    TEST_MAIN_END();
}
