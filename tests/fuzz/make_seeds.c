/* Writes the fuzzers' seed corpus with the project's own writers: one small
 * profile (two value types, a few stacks, a label, a NUL-free name with
 * ';' in it) in each readable format, into DIR/<format>/seed; and, for the
 * .eh_frame parser, the kernel's vDSO unwind tables as this process has
 * them mapped (small and real), into DIR/eh_frame/seed. */
#include <link.h>
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

/* fuzz_eh_frame's input: the header's offset (2 bytes, little-endian),
 * then the loadable segment that holds .eh_frame_hdr and .eh_frame. */
typedef struct eh_seed {
    uint8_t *data;
    size_t len;
} eh_seed;

static int vdso_unwind_tables(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    eh_seed *seed = arg;
    if (!strstr(info->dlpi_name, "vdso"))
        return 0;
    const ElfW(Phdr) *eh = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_GNU_EH_FRAME)
            eh = &info->dlpi_phdr[i];
    for (int i = 0; eh && i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *p = &info->dlpi_phdr[i];
        size_t off = eh->p_vaddr - p->p_vaddr;
        if (p->p_type != PT_LOAD || eh->p_vaddr < p->p_vaddr || off >= p->p_memsz || p->p_memsz > 60000)
            continue;
        uint8_t *buf = malloc(2 + p->p_memsz);
        if (!buf)
            return 1;
        buf[0] = (uint8_t)off;
        buf[1] = (uint8_t)(off >> 8);
        memcpy(buf + 2, (const void *)(info->dlpi_addr + p->p_vaddr), p->p_memsz);
        seed->data = buf;
        seed->len = 2 + p->p_memsz;
        return 1;
    }
    return 0;
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
    if (write_seed(argv[1], "options", (const uint8_t *)options, strlen(options)) != 0)
        return 1;
    eh_seed vdso = {NULL, 0};
    dl_iterate_phdr(vdso_unwind_tables, &vdso);
    static const uint8_t no_vdso[] = {0, 0, 1, 0x1b, 0x03, 0x3b};
    int r = vdso.data ? write_seed(argv[1], "eh_frame", vdso.data, vdso.len)
                      : write_seed(argv[1], "eh_frame", no_vdso, sizeof no_vdso);
    free(vdso.data);
    return r ? 1 : 0;
}
