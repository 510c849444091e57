/* CPU time to build one ELF object's function index (pp_elf_index), the
 * drain thread's first naming of a native frame in that object: node's
 * executable has ~86k function symbols.
 *
 *   elf_index_cost OBJECT [BUILDS]
 *
 * Prints the median and minimum over BUILDS (default 30) builds, each on a
 * freshly opened object, with the caches as the previous build left them
 * (warm) and after 64 MiB of other memory has been walked (cold: the raw
 * table and the names come from memory, as in a profiled process whose
 * drain thread meets the object for the first time). Thread CPU time. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "elf_symtab.h"

static double thread_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static unsigned char evict[64u << 20];

static int run(const char *path, int builds, int cold, double *ms)
{
    for (int i = 0; i < builds; i++) {
        if (cold)
            for (size_t k = 0; k < sizeof evict; k += 64)
                evict[k]++;
        pp_elf e;
        if (pp_elf_open_file(&e, path) != 0)
            return -1;
        double t0 = thread_ms();
        int rc = pp_elf_index(&e);
        ms[i] = thread_ms() - t0;
        pp_elf_close(&e);
        if (rc != 0)
            return -1;
    }
    qsort(ms, (size_t)builds, sizeof *ms, cmp_double);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s OBJECT [BUILDS]\n", argv[0]);
        return 2;
    }
    int builds = argc > 2 ? atoi(argv[2]) : 30;
    if (builds < 1)
        builds = 1;
    double *ms = malloc((size_t)builds * sizeof *ms);
    if (!ms)
        return 1;
    for (int cold = 0; cold < 2; cold++) {
        if (run(argv[1], builds, cold, ms) != 0) {
            fprintf(stderr, "%s: cannot open or index\n", argv[1]);
            return 1;
        }
        printf("%s_median_ms=%.2f %s_min_ms=%.2f ", cold ? "cold" : "warm", ms[builds / 2], cold ? "cold" : "warm", ms[0]);
    }
    printf("\n");
    free(ms);
    return 0;
}
