#include "wall_park.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "polyprof.h"

enum { PARK_RUNNING, PARK_SETTLING, PARK_PARKED };

/* The kernel's encoding of a thread's CPU clock (clock_getcpuclockid,
 * MAKE_THREAD_CPUCLOCK): any tid of this process. */
static int read_cpu_ns(pid_t tid, uint64_t *out)
{
    struct timespec ts;
    if (clock_gettime((clockid_t)((~(unsigned)tid << 3) | 6), &ts) != 0)
        return -1; /* the thread ended: the next scan drops it */
    *out = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
    return 0;
}

/* Where a blocked thread waits: "nr args... sp pc". -1 when it is running,
 * or the file cannot be read (then nothing is ever parked: every visit
 * signals, as without parking). */
static int read_place(pid_t tid, char *out, size_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, out, len - 1);
    close(fd);
    if (n <= 0)
        return -1;
    out[n] = '\0';
    /* "running", or "-1 sp pc" for a thread stopped outside a system call. */
    if (out[0] < '0' || out[0] > '9')
        return -1;
    return 0;
}

static int same_place(pid_t tid, const char *place)
{
    char now[sizeof ((pp_wall_park *)0)->place];
    return read_place(tid, now, sizeof now) == 0 && strcmp(now, place) == 0;
}

int pp_wall_park_visit(pp_wall_park *p, pid_t tid, uint64_t now_ns)
{
    uint64_t cpu;
    if (read_cpu_ns(tid, &cpu) != 0) {
        memset(p, 0, sizeof *p);
        return 0;
    }
    int quiet = p->has_cpu && cpu - p->last_cpu_ns <= PP_WALL_SETTLE_NS;
    p->last_cpu_ns = cpu;
    p->has_cpu = 1;
    if (p->state == PARK_PARKED && cpu == p->park_cpu_ns)
        return 1;
    if (p->state == PARK_SETTLING && cpu - p->park_cpu_ns <= PP_WALL_SETTLE_NS) {
        if (same_place(tid, p->place)) {
            p->state = PARK_PARKED;
            p->park_cpu_ns = cpu;
            return 1;
        }
        if (now_ns < p->settle_deadline_ns)
            return 1;
    }
    /* Signalled. If it looks blocked, this signal's sample is where. */
    p->state = PARK_RUNNING;
    if (quiet && read_place(tid, p->place, sizeof p->place) == 0) {
        p->state = PARK_SETTLING;
        p->park_cpu_ns = cpu;
        p->settle_deadline_ns = now_ns + PP_WALL_SETTLE_GRACE_NS;
    }
    return 0;
}

int pp_wall_park_alive(pid_t tid)
{
    uint64_t cpu;
    return read_cpu_ns(tid, &cpu) == 0;
}

void pp_wall_park_forget(pp_wall_park *p) { p->state = PARK_RUNNING; }

int pp_wall_park_pc_in_syscall(uintptr_t pc)
{
#if defined(__x86_64__)
    /* syscall: 0f 05 */
    unsigned char at[4];
    if (pc < 2 || pp_safe_read(at, (const void *)(pc - 2), sizeof at) != 0)
        return -1;
    return (at[0] == 0x0f && at[1] == 0x05) || (at[2] == 0x0f && at[3] == 0x05);
#elif defined(__aarch64__)
    /* svc #0 */
    uint32_t at[2];
    if (pc < 4 || pp_safe_read(at, (const void *)(pc - 4), sizeof at) != 0)
        return -1;
    return at[0] == 0xd4000001u || at[1] == 0xd4000001u;
#else
    (void)pc;
    return -1;
#endif
}
