/* Wall mode: whether a visited thread must be signalled to see where it is,
 * or is still blocked where its latest sample has it and can be counted
 * there without a signal. Each signal to a blocked thread wakes it, and in
 * CPython it then retakes the GIL from the busy thread before waiting again;
 * with a pool of idle threads that was most of wall mode's cost.
 *
 * A thread is parked in two steps. A thread that ran no more than
 * PP_WALL_SETTLE_NS since its previous visit and sits in a system call
 * (/proc/self/task/TID/syscall: the call, its arguments, stack pointer and
 * pc) is signalled once more, so its sample shows that wait. At a later
 * visit, if it spent no more than the allowance since (what the signal itself
 * cost it) and sits in the very same call again, it is parked; until then,
 * for at most PP_WALL_SETTLE_GRACE_NS (CPython may still be waiting for the
 * GIL on its way back), it is counted on the signalled stack. A parked
 * thread stays parked while its CPU time does not move at all: a thread that
 * did not run cannot have moved. Anything else is signalled. A thread can
 * still wake between the visit that read its place and the signal: the
 * drain checks that the sample's interrupted pc is at a system call
 * (pp_wall_park_pc_in_syscall) and otherwise has it signalled at its next
 * visit (pp_wall_park_forget).
 *
 * Under the threads lock, except pp_wall_park_pc_in_syscall (any thread). */
#ifndef PP_WALL_PARK_H
#define PP_WALL_PARK_H

#include <stdint.h>
#include <sys/types.h>

#define PP_WALL_SETTLE_NS 200000ULL
#define PP_WALL_SETTLE_GRACE_NS 20000000ULL

typedef struct pp_wall_park {
    int state; /* running, settling, parked */
    int has_cpu;
    uint64_t last_cpu_ns; /* at the previous visit */
    uint64_t park_cpu_ns; /* when signalled to park (settling), when parked */
    uint64_t settle_deadline_ns;
    char place[128]; /* the system call it was signalled in */
} pp_wall_park;

/* A visit at now_ns of thread tid: 1 when it can be counted on its latest
 * stack, 0 when it is to be signalled. A zeroed pp_wall_park is a thread
 * not visited yet. */
int pp_wall_park_visit(pp_wall_park *p, pid_t tid, uint64_t now_ns);
/* The thread's latest sample was not taken in a system call (it woke between
 * the visit that found it waiting and the signal): that stack is not where
 * it waits, so it is not parked on it; its next visit signals it. */
void pp_wall_park_forget(pp_wall_park *p);
/* Whether an interrupted pc (a sample's leaf) is at a system call: the
 * instruction at it (a call the kernel will restart) or just before it (one
 * that returned early). 1 yes, 0 no, -1 unknown (unreadable, or another
 * architecture). Reads through the fault guard (pp_safe_read). */
int pp_wall_park_pc_in_syscall(uintptr_t pc);
/* Whether the thread still exists (its CPU clock can be read). */
int pp_wall_park_alive(pid_t tid);

#endif
