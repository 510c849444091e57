#include "codecache.h"

#include <stdio.h>
#include <string.h>

/* Anonymous: no backing file (or a kernel "[anon:...]" name). The
 * kernel's own executable pages ([vdso], [vsyscall]) are not code cache. */
static int anonymous(const char *path)
{
    return !*path || !strncmp(path, "[anon:", 6);
}

/* The code cache is one reservation: committed parts are rwx, the rest
 * "---p". A run of adjacent anonymous mappings made only of those, with at
 * least one executable part, is taken whole, so code committed later (the
 * code heaps grow inside the reservation) is covered too. */
int ppj_codecache_ranges(pp_addr_range *out, int max)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return 0;
    char line[1024];
    int n = 0;
    uintptr_t run_start = 0, run_end = 0;
    int run_exec = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long start, end, off, inode;
        char perms[8], dev[16];
        int pos = 0;
        if (sscanf(line, "%lx-%lx %7s %lx %15s %lu %n", &start, &end, perms, &off, dev, &inode, &pos) < 6)
            continue;
        char *path = line + pos;
        path[strcspn(path, "\n")] = '\0';
        int member = inode == 0 && anonymous(path) &&
                     (!strcmp(perms, "rwxp") || !strcmp(perms, "---p") || !strcmp(perms, "r-xp"));
        if (member && run_end == start && (run_exec || run_start != run_end)) {
            run_end = end;
            run_exec |= perms[2] == 'x';
            continue;
        }
        if (run_exec && n < max)
            out[n++] = (pp_addr_range){run_start, run_end};
        if (member) {
            run_start = start;
            run_end = end;
            run_exec = perms[2] == 'x';
        } else {
            run_start = run_end = 0;
            run_exec = 0;
        }
    }
    if (run_exec && n < max)
        out[n++] = (pp_addr_range){run_start, run_end};
    fclose(f);
    return n;
}
