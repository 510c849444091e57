/* Which threads get sampled: discovers the process's threads from
 * /proc/self/task, gives each a CPU-time timer (cpu mode) that signals that
 * very thread (SIGEV_THREAD_ID), or signals each on a wall-clock tick (wall
 * mode). Thread-safe (one mutex); not signal-safe. */
#ifndef PP_THREADS_H
#define PP_THREADS_H

#include <stdint.h>
#include <sys/types.h>

#include "polyprof.h"

typedef struct pp_threads_config {
    pp_mode mode;
    uint64_t interval_ns;
    int signo;
    uint64_t cookie;   /* carried in si_value so the handler knows the signal is ours */
    pid_t exclude_tid; /* the sampler's own thread */
    uint32_t wall_threads; /* wall mode: threads signalled per tick, 0 = all */
} pp_threads_config;

/* Wall mode carries each signal's weight (how many ticks the sample stands
 * for) in the cookie's bits above the generation: PP_WALL_WEIGHT_MAX at most,
 * the rest is carried by the thread's next signal. */
#define PP_COOKIE_GENERATION_BITS 20
#define PP_COOKIE_GENERATION_MASK ((1u << PP_COOKIE_GENERATION_BITS) - 1)
#define PP_WALL_WEIGHT_MAX ((1u << (32 - PP_COOKIE_GENERATION_BITS)) - 1)

/* Creates timers for new threads, deletes those of threads that ended.
 * Returns how many threads are covered. */
int pp_threads_scan(const pp_threads_config *cfg);
/* Threads with a timer now (cpu mode). */
size_t pp_threads_timed(void);
/* A session starts: threads may add themselves with its settings. */
void pp_threads_begin(const pp_threads_config *cfg);
/* Covers one thread now (called on the new thread itself, so it is timed
 * from its first instructions rather than from the next scan). Idempotent. */
int pp_threads_add(const pp_threads_config *cfg, pid_t tid);
/* Wall mode: a thread counted on its latest stack for `weight` ticks
 * without being signalled (pp_threads_tick); time_ns: CLOCK_MONOTONIC once
 * the tick count included them. */
typedef struct pp_wall_repeat {
    pid_t tid;
    uint64_t weight;
    uint64_t time_ns;
} pp_wall_repeat;

/* Wall mode: visit the next wall_threads covered threads, rotating through
 * them, so a tick costs the same however many threads the process has. A
 * thread reached every k-th tick stands for k intervals, so its wall time
 * stays right: the handler counts the ticks since the thread's previous
 * sample (pp_threads_wall_ticks); each signal also carries the ticks since
 * the thread was last visited or covered, which its first sample of a
 * session uses. A visited thread that has not run since it was sampled
 * blocked (its CPU time says so) is not signalled: it goes into repeats
 * (up to cap of them), to be counted on its latest stack, and the ticks
 * counted so come off its next signalled sample (wall_stacks.h).
 * elapsed_ticks: the intervals since the last tick (more than 1 when the
 * sampler woke late): owed to every thread, not lost. Returns how many
 * repeats were written. */
size_t pp_threads_tick(const pp_threads_config *cfg, uint64_t elapsed_ticks, pp_wall_repeat *repeats, size_t cap);
/* Wall mode, as the sampling stops: every covered thread still alive with
 * the ticks since its last visit, to be counted on its latest stack, so
 * that its wall time runs to the end rather than to its last visit (up to
 * threads / wall_threads ticks earlier, more when a loaded machine kept the
 * sampler waiting). For a parked thread that stack is where it still is;
 * for one that runs, its latest sample stands for the ticks after it as
 * every sample stands for the ticks before it. late_ticks: ticks due since
 * the last one, counted first. Up to cap of them; returns how many. */
size_t pp_threads_wall_flush(uint64_t late_ticks, pp_wall_repeat *repeats, size_t cap);
/* Wall mode: tid's latest sample does not show it waiting (wall_park.h);
 * its next visit signals it rather than counting it there. */
void pp_threads_wall_unpark(pid_t tid);
/* Wall ticks so far in this process (they stand still while no session
 * ticks). Async-signal-safe: one atomic load. */
uint64_t pp_threads_wall_ticks(void);
/* Deletes every timer and forgets every thread. */
void pp_threads_disarm_all(void);
/* The kernel's name of a covered thread; 0 when known. */
int pp_threads_name(pid_t tid, char *out, size_t len);
/* After fork, in the child: forget everything without touching the kernel
 * (timers are not inherited). */
void pp_threads_forget(void);

#endif
