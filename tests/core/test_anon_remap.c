/* A library the loader was still mapping when the profiler read the process's
 * mappings: the loader reserves the range anonymously, then maps the file over
 * it. Addresses there must be named after the file once the loader has
 * finished, not [anon:0x...] for the rest of the process. */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "framedict.h"
#include "profile.h"
#include "strtab.h"

static const char *frame_object(pp_framedict *d, uint32_t id)
{
    static char out[512];
    pp_profile *p = pp_profile_new();
    uint32_t memo[64], mmemo[64];
    CHECK(pp_framedict_count_frames(d) <= 64 && pp_framedict_count_mappings(d) <= 64);
    memset(memo, 0xff, sizeof memo);
    memset(mmemo, 0xff, sizeof mmemo);
    uint32_t f = pp_framedict_export_frame(d, id, p, memo, mmemo);
    CHECK(f < p->n_frames);
    uint32_t m = p->frames[f].mapping;
    snprintf(out, sizeof out, "%s", m ? pp_strtab_get(&p->strings, p->mappings[m - 1].file) : "(no mapping)");
    pp_profile_free(p);
    return out;
}

int main(void)
{
    long page = sysconf(_SC_PAGESIZE);
    pp_framedict *d = pp_framedict_new();
    CHECK(d != NULL);

    /* The reservation, seen by the profiler while it is anonymous. */
    char *r = mmap(NULL, (size_t)page * 4, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(r != MAP_FAILED);
    uint32_t early = pp_framedict_native(d, (uintptr_t)r + 16, 1);
    const char *early_name = frame_object(d, early);
    fprintf(stderr, "during the load: %s\n", early_name);
    CHECK(strncmp(early_name, "[anon", 5) == 0);

    /* The file mapped over it, then the loader's count moves (a real load). */
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    CHECK(mmap(r, (size_t)page * 4, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0) == r);
    close(fd);
    void *lib = dlopen("libresolv.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        lib = dlopen("libbz2.so.1.0", RTLD_NOW | RTLD_LOCAL);
    CHECK(lib != NULL);

    uint32_t later = pp_framedict_native(d, (uintptr_t)r + 32, 1);
    char exe[512];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK(n > 0);
    exe[n] = 0;
    const char *later_name = frame_object(d, later);
    fprintf(stderr, "after the load: %s (the file is %s)\n", later_name, exe);
    CHECK(strcmp(later_name, exe) == 0);

    dlclose(lib);
    munmap(r, (size_t)page * 4);
    pp_framedict_free(d);
    TEST_MAIN_END();
}
