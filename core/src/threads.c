#include "threads.h"

#include <dirent.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "wall_park.h"

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

typedef struct thread_entry {
    pid_t tid;
    timer_t timer;
    int has_timer;
    int seen;
    uint64_t last_tick; /* wall mode: the tick this thread was last signalled or counted at, or covered at */
    pp_wall_park park; /* wall mode: whether it is blocked where last sampled */
    char name[32];
} thread_entry;

static thread_entry *threads;
static size_t n_threads, cap_threads;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* The session whose timers are armed (its cookie), 0 once disarmed: a thread
 * that registers itself with a stale session's settings (racing stop) is
 * refused instead of keeping a timer nobody will delete. */
static uint64_t armed_cookie;
/* Wall mode: ticks so far (written under lock, read by the signal handler),
 * and where the next tick starts in the thread list (under lock). */
static _Atomic uint64_t wall_ticks;
static size_t wall_cursor;
/* Wall mode: the sender's ids a queued signal carries, read once per session
 * rather than with two system calls per tick. */
static pid_t self_pid;
static uid_t self_uid;

/* The kernel's encoding of a thread's CPU clock (see clock_getcpuclockid and
 * MAKE_THREAD_CPUCLOCK in the kernel): any tid of this process, not only the
 * caller's own pthread. */
static clockid_t thread_cpu_clock(pid_t tid) { return (clockid_t)((~(unsigned)tid << 3) | 6); }

static void read_name(pid_t tid, char *out, size_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, out, len - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n <= 0) {
        snprintf(out, len, "%d", (int)tid);
        return;
    }
    out[n] = '\0';
    char *nl = strchr(out, '\n');
    if (nl)
        *nl = '\0';
}

static int arm(thread_entry *t, const pp_threads_config *cfg)
{
    if (cfg->mode != PP_MODE_CPU)
        return 0;
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = cfg->signo;
    sev.sigev_notify_thread_id = t->tid;
    sev.sigev_value.sival_ptr = (void *)(uintptr_t)cfg->cookie;
    if (timer_create(thread_cpu_clock(t->tid), &sev, &t->timer) != 0)
        return -1; /* the thread ended between the scan and now */
    struct itimerspec its;
    its.it_interval.tv_sec = (time_t)(cfg->interval_ns / 1000000000ULL);
    its.it_interval.tv_nsec = (long)(cfg->interval_ns % 1000000000ULL);
    its.it_value = its.it_interval;
    if (timer_settime(t->timer, 0, &its, NULL) != 0) {
        timer_delete(t->timer);
        return -1;
    }
    t->has_timer = 1;
    return 0;
}

static void disarm(thread_entry *t)
{
    if (t->has_timer)
        timer_delete(t->timer);
    t->has_timer = 0;
}

static thread_entry *find(pid_t tid)
{
    for (size_t i = 0; i < n_threads; i++)
        if (threads[i].tid == tid)
            return &threads[i];
    return NULL;
}

/* Caller holds lock. */
static thread_entry *add_locked(const pp_threads_config *cfg, pid_t tid)
{
    thread_entry *t = find(tid);
    if (t)
        return t;
    if (n_threads == cap_threads) {
        size_t cap = cap_threads ? cap_threads * 2 : 64;
        thread_entry *p = realloc(threads, cap * sizeof *p);
        if (!p)
            return NULL;
        threads = p;
        cap_threads = cap;
    }
    t = &threads[n_threads];
    memset(t, 0, sizeof *t);
    t->tid = tid;
    t->seen = 1;
    /* Its wall time counts from now: its first signal stands for the ticks
     * since. */
    t->last_tick = atomic_load(&wall_ticks);
    read_name(tid, t->name, sizeof t->name);
    if (arm(t, cfg) != 0)
        return NULL;
    n_threads++;
    return t;
}

size_t pp_threads_timed(void)
{
    pthread_mutex_lock(&lock);
    size_t n = 0;
    for (size_t i = 0; i < n_threads; i++)
        n += threads[i].has_timer;
    pthread_mutex_unlock(&lock);
    return n;
}

void pp_threads_begin(const pp_threads_config *cfg)
{
    pthread_mutex_lock(&lock);
    self_pid = getpid();
    self_uid = getuid();
    armed_cookie = cfg->cookie;
    pthread_mutex_unlock(&lock);
}

int pp_threads_add(const pp_threads_config *cfg, pid_t tid)
{
    if (tid == cfg->exclude_tid)
        return 0;
    pthread_mutex_lock(&lock);
    thread_entry *t = armed_cookie == cfg->cookie ? add_locked(cfg, tid) : NULL;
    pthread_mutex_unlock(&lock);
    return t ? 0 : -1;
}

int pp_threads_scan(const pp_threads_config *cfg)
{
    DIR *dir = opendir("/proc/self/task");
    if (!dir)
        return (int)n_threads;
    pthread_mutex_lock(&lock);
    armed_cookie = cfg->cookie;
    for (size_t i = 0; i < n_threads; i++)
        threads[i].seen = 0;
    struct dirent *de;
    while ((de = readdir(dir))) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        pid_t tid = (pid_t)atoi(de->d_name);
        if (tid == cfg->exclude_tid)
            continue;
        thread_entry *t = add_locked(cfg, tid);
        if (t)
            t->seen = 1;
    }
    closedir(dir);
    /* Drop threads that ended; compact in place. */
    size_t w = 0;
    for (size_t i = 0; i < n_threads; i++) {
        if (threads[i].seen)
            threads[w++] = threads[i];
        else
            disarm(&threads[i]);
    }
    n_threads = w;
    int n = (int)n_threads;
    pthread_mutex_unlock(&lock);
    return n;
}

static int queue_signal(const pp_threads_config *cfg, pid_t pid, uid_t uid, pid_t tid, uint32_t weight)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = cfg->signo;
    si.si_code = SI_QUEUE;
    si.si_pid = pid;
    si.si_uid = uid;
    uint64_t cookie = cfg->cookie | ((uint64_t)weight << PP_COOKIE_GENERATION_BITS);
    si.si_value.sival_ptr = (void *)(uintptr_t)cookie;
    /* rt_tgsigqueueinfo rather than tgkill: it carries the cookie. */
    return (int)syscall(SYS_rt_tgsigqueueinfo, pid, tid, cfg->signo, &si);
}

size_t pp_threads_tick(const pp_threads_config *cfg, uint64_t elapsed_ticks, pp_wall_repeat *repeats, size_t cap)
{
    size_t n_repeats = 0;
    pthread_mutex_lock(&lock);
    pid_t pid = self_pid;
    uid_t uid = self_uid;
    uint64_t step = elapsed_ticks ? elapsed_ticks : 1;
    uint64_t now_tick = atomic_fetch_add(&wall_ticks, step) + step;
    /* Read after the tick count moved on: a handler timed later counts
     * these ticks too. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
    size_t n = n_threads;
    size_t per_tick = cfg->wall_threads && cfg->wall_threads < n ? cfg->wall_threads : n;
    if (wall_cursor >= n)
        wall_cursor = 0;
    for (size_t j = 0; j < per_tick; j++) {
        thread_entry *t = &threads[(wall_cursor + j) % n];
        uint64_t owed = now_tick - t->last_tick; /* at least 1: the ticks moved on above */
        uint32_t weight = owed > PP_WALL_WEIGHT_MAX ? PP_WALL_WEIGHT_MAX : (uint32_t)owed;
        if (n_repeats < cap && pp_wall_park_visit(&t->park, t->tid, now_ns)) {
            repeats[n_repeats].tid = t->tid;
            repeats[n_repeats].weight = owed;
            repeats[n_repeats].time_ns = now_ns;
            n_repeats++;
            t->last_tick = now_tick;
            continue;
        }
        /* A signal the kernel refused (the queue is full) is owed to the
         * thread's next one. */
        if (queue_signal(cfg, pid, uid, t->tid, weight) == 0)
            t->last_tick = weight == owed ? now_tick : t->last_tick + weight;
    }
    wall_cursor = n ? (wall_cursor + per_tick) % n : 0;
    pthread_mutex_unlock(&lock);
    return n_repeats;
}

size_t pp_threads_wall_flush(uint64_t late_ticks, pp_wall_repeat *repeats, size_t cap)
{
    size_t n_repeats = 0;
    pthread_mutex_lock(&lock);
    uint64_t now_tick = atomic_fetch_add(&wall_ticks, late_ticks) + late_ticks;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
    for (size_t i = 0; i < n_threads && n_repeats < cap; i++) {
        thread_entry *t = &threads[i];
        if (now_tick == t->last_tick || !pp_wall_park_alive(t->tid))
            continue;
        repeats[n_repeats].tid = t->tid;
        repeats[n_repeats].weight = now_tick - t->last_tick;
        repeats[n_repeats].time_ns = now_ns;
        n_repeats++;
        t->last_tick = now_tick;
    }
    pthread_mutex_unlock(&lock);
    return n_repeats;
}

void pp_threads_wall_unpark(pid_t tid)
{
    pthread_mutex_lock(&lock);
    thread_entry *t = find(tid);
    if (t)
        pp_wall_park_forget(&t->park);
    pthread_mutex_unlock(&lock);
}

uint64_t pp_threads_wall_ticks(void) { return atomic_load_explicit(&wall_ticks, memory_order_relaxed); }

void pp_threads_disarm_all(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_threads; i++)
        disarm(&threads[i]);
    n_threads = 0;
    armed_cookie = 0;
    pthread_mutex_unlock(&lock);
}

int pp_threads_name(pid_t tid, char *out, size_t len)
{
    pthread_mutex_lock(&lock);
    thread_entry *t = find(tid);
    if (t)
        snprintf(out, len, "%s", t->name);
    pthread_mutex_unlock(&lock);
    return t ? 0 : -1;
}

void pp_threads_forget(void)
{
    pthread_mutex_init(&lock, NULL);
    n_threads = 0;
    wall_cursor = 0;
    armed_cookie = 0;
}
