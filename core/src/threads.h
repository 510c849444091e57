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
} pp_threads_config;

/* Creates timers for new threads, deletes those of threads that ended.
 * Returns how many threads are covered. */
int pp_threads_scan(const pp_threads_config *cfg);
/* A session starts: threads may add themselves with its settings. */
void pp_threads_begin(const pp_threads_config *cfg);
/* Covers one thread now (called on the new thread itself, so it is timed
 * from its first instructions rather than from the next scan). Idempotent. */
int pp_threads_add(const pp_threads_config *cfg, pid_t tid);
/* Wall mode: queue one signal to every covered thread. */
void pp_threads_tick(const pp_threads_config *cfg);
/* Deletes every timer and forgets every thread. */
void pp_threads_disarm_all(void);
/* The kernel's name of a covered thread; 0 when known. */
int pp_threads_name(pid_t tid, char *out, size_t len);
/* After fork, in the child: forget everything without touching the kernel
 * (timers are not inherited). */
void pp_threads_forget(void);

#endif
