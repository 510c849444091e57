/* The memory every sample touches (hot_pages.h) is 2 MiB-aligned and asks
 * for huge pages; making it resident faults it in without changing a byte
 * handlers wrote before; and where the kernel refuses the advice (no transparent huge
 * pages, a kernel without MADV_POPULATE_WRITE: here madvise fails for every
 * call, by a seccomp filter in a child), the same memory works on ordinary
 * pages and a profile's native stacks come out as they do elsewhere. */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "burn.h"
#include "check.h"
#include "hot_pages.h"
#include "polyprof.h"

#define HUGE (2u << 20)
#define LEN (300u << 10)

/* The VmFlags of the mapping holding p, from /proc/self/smaps ("" when not
 * found). */
static void vm_flags(const void *p, char *out, size_t len)
{
    out[0] = '\0';
    FILE *f = fopen("/proc/self/smaps", "re");
    if (!f)
        return;
    char line[512];
    int inside = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            inside = (uintptr_t)p >= lo && (uintptr_t)p < hi;
        } else if (inside && strncmp(line, "VmFlags:", 8) == 0) {
            snprintf(out, len, "%s", line + 8);
            break;
        }
    }
    fclose(f);
}

static int all_resident(void *p, size_t len)
{
    size_t pages = (len + 4095) / 4096;
    unsigned char *vec = malloc(pages);
    int ok = vec && mincore(p, len, vec) == 0;
    for (size_t i = 0; ok && i < pages; i++)
        ok = vec[i] & 1;
    free(vec);
    return ok;
}

static void check_memory(const char *where, int advice_refused)
{
    unsigned char *p = pp_hot_pages_map(LEN);
    CHECK(p != NULL);
    if (!p)
        return;
    CHECK_EQ_INT((uintptr_t)p % HUGE, 0);
    char flags[256];
    vm_flags(p, flags, sizeof flags);
    /* "hg": MADV_HUGEPAGE taken, where the kernel has huge pages at all. */
    if (!advice_refused && access("/sys/kernel/mm/transparent_hugepage/enabled", R_OK) == 0 && !strstr(flags, " hg"))
        fprintf(stderr, "%s: no huge page advice on the mapping (VmFlags:%s)\n", where, flags), pp_test_failures++;
    if (advice_refused)
        CHECK(!strstr(flags, " hg"));

    /* Untouched until now: resident afterwards, and still zero. */
    pp_hot_pages_make_resident(p, LEN);
    CHECK(all_resident(p, LEN));
    int zero = 1;
    for (size_t i = 0; i < LEN; i += 512)
        zero &= p[i] == 0;
    CHECK(zero);
    pp_hot_pages_unmap(p, LEN);

    /* What handlers wrote before the pages were made resident (the
     * first samples of a session) is kept: every other page written. */
    p = pp_hot_pages_map(LEN);
    CHECK(p != NULL);
    if (!p)
        return;
    for (size_t i = 0; i < LEN; i += 8192)
        memset(p + i + 8, 0xa5, 64);
    pp_hot_pages_make_resident(p, LEN);
    int kept = 1;
    for (size_t i = 0; i < LEN; i += 4096)
        for (size_t k = 0; k < 80; k++)
            kept &= p[i + k] == ((i % 8192) == 0 && k >= 8 && k < 72 ? 0xa5 : 0);
    if (!kept)
        fprintf(stderr, "%s: bytes written before the pages were made resident changed\n", where);
    CHECK(kept);
    pp_hot_pages_unmap(p, LEN);
}

/* Every madvise fails with EINVAL, as on a kernel built without huge pages
 * (and MADV_POPULATE_WRITE fails so on kernels before 5.14). */
static int refuse_madvise(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_madvise, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EINVAL & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof f / sizeof f[0]), f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

__attribute__((noinline)) static void inner_frame(int ms)
{
    burn_ms(ms);
    __asm__ volatile("" ::: "memory"); /* not a tail call */
}

__attribute__((noinline)) static void outer_frame(int ms)
{
    inner_frame(ms);
    __asm__ volatile("" ::: "memory");
}

static int has_frame(const pp_profile *p, size_t i, const char *name, uint32_t *at)
{
    pp_frame_view v;
    for (uint32_t d = 0; d < pp_profile_sample_depth(p, i); d++) {
        pp_profile_sample_frame(p, i, d, &v);
        if (v.name && strstr(v.name, name)) {
            *at = d;
            return 1;
        }
    }
    return 0;
}

/* A CPU profile with native stacks: nearly every sample of the burn is
 * under inner_frame, itself under outer_frame. */
static void check_profile(const char *where)
{
    char err[256];
    pp_options o;
    pp_options_default(&o);
    CHECK_EQ_INT(pp_options_parse(&o, "interval=1ms", err, sizeof err), 0);
    pp_collector *c = pp_collector_start(&o, NULL, NULL, err, sizeof err);
    CHECK(c != NULL);
    if (!c)
        return;
    outer_frame(400);
    pp_profile *p = pp_collector_stop(c);
    CHECK(p != NULL);
    if (!p)
        return;
    int64_t total = 0, nested = 0;
    for (size_t i = 0; i < pp_profile_num_samples(p); i++) {
        int64_t v = pp_profile_value(p, i, 0);
        uint32_t in = 0, out = 0;
        total += v;
        if (has_frame(p, i, "inner_frame", &in) && has_frame(p, i, "outer_frame", &out) && in < out)
            nested += v;
    }
    if (total < 50 || nested * 10 < total * 8)
        fprintf(stderr, "%s: %lld of %lld samples under outer_frame > inner_frame\n", where, (long long)nested,
                (long long)total);
    CHECK(total >= 50);
    CHECK(nested * 10 >= total * 8);
    pp_profile_free(p);
}

int main(void)
{
    check_memory("advice taken", 0);

    pid_t child = fork();
    if (child == 0) {
        if (refuse_madvise() != 0) {
            fprintf(stderr, "cannot install the seccomp filter: %s\n", strerror(errno));
            _exit(1);
        }
        CHECK(madvise(NULL, 0, MADV_NORMAL) != 0 && errno == EINVAL);
        check_memory("advice refused", 1);
        check_profile("advice refused");
        _exit(pp_test_failures ? 1 : 0);
    }
    int status = 0;
    CHECK(child > 0 && waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    check_profile("advice taken");
    TEST_MAIN_END();
}
