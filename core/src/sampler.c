/* The process-wide sampler: one signal handler, one ring, one sampler thread
 * that arms timers, drains the ring, resolves and merges frames and feeds the
 * collectors. Each collector aggregates into its own capped stack table.
 *
 * Locks, in the only order they are ever taken:
 *   lifecycle_lock  serializes starting and stopping the session; never held
 *               by the sampler thread, so stop can join it.
 *   drain_lock  held while draining (which may wait for the runtime, e.g. the
 *               GIL) and while exporting profiles. Callers of start/stop/
 *               snapshot must therefore not hold the runtime's lock.
 *   state_lock  short: collectors and label rules. Never held while waiting
 *               for anything else, so add/remove of label rules is safe with
 *               the GIL held. */
#include "polyprof.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "cfi_table.h"
#include "fault_guard.h"
#include "framedict.h"
#include "idmap.h"
#include "merge.h"
#include "profile.h"
#include "ring.h"
#include "signal_path.h"
#include "stacks.h"
#include "threads.h"
#include "unwind.h"
#include "wall_park.h"
#include "wall_stacks.h"

#define PP_MAX_COLLECTORS 16
#define PP_MAX_CODE_LABELS 64
#define PP_COOKIE_MAGIC 0x70707270u /* "pprp" */
#define PP_DRAIN_PERIOD_NS 20000000ULL
#define PP_SCAN_PERIOD_NS 100000000ULL
/* A session's first ticks come sooner: the first samples' stacks say which
 * objects' unwind tables to build (until then their frames go to
 * libunwind, several times the cost), and a tick sooner is that much sooner. */
#define PP_WARM_PERIOD_NS 100000000ULL
#define PP_WARM_TICK_NS 4000000ULL
/* With a runtime's quiet_ticks, cpu mode, once warm: a tick is 100 ms rather
 * than 20 while fewer than PP_QUIET_SAMPLES samples would arrive in it at the
 * rate just seen. Each wake-up of the sampler thread costs the kernel's sleep
 * and wake (~15 µs of CPU on a VM), 50 a second at 20 ms, whatever the sample
 * rate; the ring (250 ms of samples from every CPU, 256 full-depth samples at
 * the least) keeps its margin. A capture's deadline still ends a tick on time. */
#define PP_QUIET_TICK_NS 100000000ULL
#define PP_QUIET_SAMPLES 64
/* With quiet_ticks, the /proc scan for threads runs every PP_SCAN_PERIOD_NS
 * only when the thread count changed (st_nlink of /proc/self/task: one stat,
 * where the scan reads every entry), and at least every
 * PP_FULL_SCAN_PERIOD_NS, for a thread that ended while another started. */
#define PP_FULL_SCAN_PERIOD_NS 1000000000ULL
/* Wall mode: threads counted without a signal per tick at most (the rest are
 * signalled), and how often the stacks of threads gone are forgotten. */
#define PP_WALL_REPEATS_MAX 1024
#define PP_WALL_STACKS_EXPIRY_NS 10000000000ULL

struct pp_collector {
    pp_stack_table *table;
    char filter_key[64];
    char filter_value[256];
    uint32_t filter_label; /* label id once known, UINT32_MAX before */
    uint64_t start_ns, deadline_ns;
    int64_t start_wall_ns;
    /* The process-wide counters when this collector started: its metadata
     * reports what happened during its own lifetime. */
    uint64_t samples_at_start, weight_at_start, dropped_ring_at_start, unwind_failed_at_start, truncated_at_start,
        native_skipped_at_start, handler_ns_at_start, unwind_table_misses_at_start,
        unguarded_at_start, guard_reinstalls_at_start, native_frames_at_start, fde_reads_at_start, block_hits_at_start;
    uint64_t own_cpu_at_start, process_cpu_at_start; /* for its overhead_pct */
    pp_options options;
};

typedef struct code_label {
    uintptr_t code;
    char key[64];
    char value[256];
} code_label;

/* Read by the signal handler: atomics only. */
static struct {
    _Atomic int active;
    _Atomic uint32_t generation;
    _Atomic int in_flight;
    _Atomic(pp_ring *) ring;
    _Atomic int native;
    /* samples: signals handled; weight: what they stand for (1 + timer
     * overruns: the kernel fires CPU timers on its tick, so above the tick
     * rate one signal stands for several intervals; in wall mode, the ticks
     * since the thread's last signal, see pp_threads_tick). */
    _Atomic uint64_t samples, weight, dropped_ring, unwind_failed, truncated, native_skipped, handler_ns;
    /* Samples taken while another SIGSEGV handler stood in front of the
     * fault guard (until the next drain tick puts it back). */
    _Atomic uint64_t unguarded;
    /* Machine frames the native walks found, counted by the drain thread:
     * over the samples, a profile's mean native depth. */
    _Atomic uint64_t native_frames;
} live;

static pthread_mutex_t lifecycle_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t drain_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;

static pp_runtime runtime;
static int have_runtime;

/* Guarded by state_lock */
static pp_collector *collectors[PP_MAX_COLLECTORS];
static int n_collectors;
static code_label code_labels[PP_MAX_CODE_LABELS];
static int n_code_labels;
static pp_options session_options;
static int session_running;
static uint64_t dropped_memory;

/* Owned by the sampler thread / drain_lock */
static pp_framedict *dict;
static pp_idmap thread_labels; /* tid -> label ids */
static pp_wall_stacks *wall_stacks; /* wall mode: each thread's latest stack */
static pthread_t sampler_thread;
static _Atomic int sampler_stop;
/* The sampler thread sleeps on sleep_cond (CLOCK_MONOTONIC), so that
 * stop_session wakes it at once however long its tick. */
static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sleep_cond;
static _Atomic pid_t sampler_tid;
static pp_threads_config threads_cfg;
static _Atomic uint64_t drain_cpu_ns;
/* The CPU budget: the interval in force (raised from the session's when over
 * budget), the sampler thread's CPU so far, and whether it stopped sampling. */
static _Atomic uint64_t current_interval_ns;
/* The finest interval any running collector asks for: a triggered capture at
 * 10 ms raises a continuous 100 ms session's rate while it runs (both get
 * every sample, each worth the interval in force). */
static _Atomic uint64_t requested_interval_ns;
static _Atomic uint64_t sampler_cpu_ns;
static _Atomic int budget_stopped;
#define PP_BUDGET_PERIOD_NS 1000000000ULL
#define PP_BUDGET_MIN_PROCESS_NS 50000000ULL /* judge over at least 50 ms of process CPU */
#define PP_BUDGET_MAX_INTERVAL_NS 1000000000ULL
static struct sigaction previous_action;
static int handler_signo;

static __thread int in_handler __attribute__((tls_model("initial-exec")));

PP_SIGNAL_PATH uint64_t pp_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int64_t wall_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
    return -1;
}

/* ------------------------------------------------------------ signal path */

static void chain_foreign(int sig, siginfo_t *si, void *uc)
{
    if (previous_action.sa_flags & SA_SIGINFO) {
        if (previous_action.sa_sigaction)
            previous_action.sa_sigaction(sig, si, uc);
    } else if (previous_action.sa_handler != SIG_DFL && previous_action.sa_handler != SIG_IGN) {
        previous_action.sa_handler(sig);
    }
    /* SIG_DFL for a foreign SIGPROF would kill the process; a profiler that
     * is loaded should not turn someone's stray signal into a crash, so it is
     * ignored. */
}

/* A wall sample stands for the ticks since this thread's previous one in
 * this session, counted here, where the signal is handled: a signal the
 * kernel merged into one still pending (standard signals do not queue), or
 * one handled late on a loaded machine, loses no wall time. A thread's first
 * signal of the session carries the sender's count instead (the ticks since
 * the thread was covered, threads.h). Async-signal-safe: initial-exec TLS and
 * one atomic load. */
static __thread uint32_t wall_seen_generation __attribute__((tls_model("initial-exec")));
static __thread uint64_t wall_seen_tick __attribute__((tls_model("initial-exec")));

PP_SIGNAL_PATH static uint64_t wall_weight(uint32_t cookie_low)
{
    uint32_t generation = cookie_low & PP_COOKIE_GENERATION_MASK;
    uint64_t sent = cookie_low >> PP_COOKIE_GENERATION_BITS;
    uint64_t tick = pp_threads_wall_ticks();
    uint64_t weight = sent ? sent : 1;
    if (wall_seen_generation == generation)
        weight = tick > wall_seen_tick ? tick - wall_seen_tick : 1; /* 1: two signals handled within one tick */
    wall_seen_generation = generation;
    wall_seen_tick = tick;
    return weight;
}

PP_SIGNAL_PATH static void capture(pp_raw_sample *s, siginfo_t *si, void *uc, int depth, int tid, uint64_t now)
{
    int native = atomic_load_explicit(&live.native, memory_order_relaxed);
    /* The buffer holds the stack this thread's previous sample found
     * (pp_ring_take): its rule-cache entries are asked for now, in parallel,
     * rather than met one cache miss after another in the walk. Prefetches
     * are hints: no fault, no write, no system call (async-signal-safe). */
    if (native)
        pp_cfi_table_prefetch(s->native, s->n_native);
    s->tid = (int32_t)tid;
    s->flags = 0;
    s->time_ns = now;
    if (si->si_code == SI_TIMER) {
        s->weight = 1 + (si->si_overrun > 0 ? (uint64_t)si->si_overrun : 0);
    } else {
        s->weight = wall_weight((uint32_t)(uintptr_t)si->si_value.sival_ptr);
    }
    s->n_native = 0;
    s->n_interp = 0;
    s->native_stop_sp = 0;

    sigjmp_buf jb;
    if (pp_fault_guard_enter(&jb) != 0) {
        /* Without a fault guard no risky read is made: keep the pc only. */
        ucontext_t *ctx = uc;
        s->native[0] = (uintptr_t)ctx->uc_mcontext.gregs[REG_RIP];
        s->n_native = 1;
        s->flags |= PP_SAMPLE_NATIVE_SKIPPED | PP_SAMPLE_INTERP_FAULT;
        atomic_fetch_add_explicit(&live.unguarded, 1, memory_order_relaxed);
        return;
    }
    if (sigsetjmp(jb, 0) == 0) {
        if (native) {
            int for_runtime = runtime.capture_native != NULL;
            s->n_native = (uint32_t)pp_unwind_native_fp(uc, s->native, for_runtime ? s->native_fp : NULL,
                                                        for_runtime ? &s->native_stop_sp : NULL, depth, &s->flags);
        }
    } else {
        /* A read faulted mid-unwind: keep the interrupted pc. */
        ucontext_t *ctx = uc;
        s->native[0] = (uintptr_t)ctx->uc_mcontext.gregs[REG_RIP];
        s->n_native = native ? 1 : 0;
        s->native_stop_sp = 0;
        s->flags |= PP_SAMPLE_NATIVE_FAILED;
        if (pp_fault_guard_enter(&jb) != 0)
            return;
    }
    if (have_runtime && runtime.capture) {
        if (sigsetjmp(jb, 0) == 0) {
            uint32_t iflags = 0;
            pp_native_stack walked = {s->native, s->native_fp, (int)s->n_native, s->flags, s->native_stop_sp};
            int n = native && runtime.capture_native
                        ? runtime.capture_native(runtime.ctx, uc, &walked, s->interp, depth, &iflags)
                        : runtime.capture(runtime.ctx, uc, s->interp, depth, &iflags);
            s->n_interp = (uint32_t)(n < 0 ? 0 : n);
            if (iflags & PP_CAPTURE_TRUNCATED)
                s->flags |= PP_SAMPLE_INTERP_TRUNCATED;
            if (iflags & PP_CAPTURE_FAULT)
                s->flags |= PP_SAMPLE_INTERP_FAULT;
        } else {
            s->n_interp = 0;
            s->flags |= PP_SAMPLE_INTERP_FAULT;
            if (runtime.capture_fault)
                runtime.capture_fault(runtime.ctx);
        }
    }
    pp_fault_guard_leave();
}

/* Async-signal-safe: atomics, the lock-free ring, libunwind under the fault
 * guard, the runtime's capture hook; errno is preserved; re-entry on the same
 * thread is refused. */
PP_SIGNAL_PATH static void on_sample_signal(int sig, siginfo_t *si, void *uc)
{
    int saved_errno = errno;
    uintptr_t cookie = (uintptr_t)si->si_value.sival_ptr;
    int ours = (si->si_code == SI_TIMER || si->si_code == SI_QUEUE) && (cookie >> 32) == PP_COOKIE_MAGIC;
    if (!ours) {
        chain_foreign(sig, si, uc);
        errno = saved_errno;
        return;
    }
    if (in_handler) {
        errno = saved_errno;
        return;
    }
    in_handler = 1;
    /* in_flight goes up before active is read: stop() clears active and then
     * waits for in_flight to reach zero, so no handler can still be using the
     * ring after that wait. */
    atomic_fetch_add(&live.in_flight, 1);
    if (atomic_load(&live.active) &&
        ((uint32_t)cookie & PP_COOKIE_GENERATION_MASK) == (atomic_load(&live.generation) & PP_COOKIE_GENERATION_MASK)) {
        uint64_t t0 = pp_now_ns(); /* clock_gettime: async-signal-safe; also the sample's time */
        if (atomic_load_explicit(&live.native, memory_order_relaxed))
            pp_cfi_table_prefetch_leaf((uintptr_t)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP]);
        pp_ring *ring = atomic_load(&live.ring);
        int tid = pp_thread_id(); /* cached: no system call per sample */
        pp_raw_sample *s = ring ? pp_ring_take(ring, (uint32_t)tid) : NULL;
        if (s)
            pp_ring_prefetch(ring, s);
        uint64_t weight = 0;
        if (s) {
            capture(s, si, uc, (int)pp_ring_depth(ring), tid, t0);
            weight = s->weight;
        }
        if (s && pp_ring_commit(ring, s) == 0) {
            atomic_fetch_add_explicit(&live.samples, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&live.weight, weight, memory_order_relaxed);
        } else {
            atomic_fetch_add_explicit(&live.dropped_ring, 1, memory_order_relaxed);
        }
        atomic_fetch_add_explicit(&live.handler_ns, pp_now_ns() - t0, memory_order_relaxed);
    }
    atomic_fetch_sub(&live.in_flight, 1);
    in_handler = 0;
    errno = saved_errno;
}

/* Installs the handler, or re-installs it when someone replaced it since
 * (signal.signal(SIGPROF, ...) after an earlier session): whatever is there
 * becomes the handler foreign signals are chained to. */
static int install_handler(int signo, char *err, size_t errlen)
{
    if (handler_signo != 0 && handler_signo != signo)
        return set_err(err, errlen, "the profiling signal cannot change within one process once installed");
    struct sigaction cur;
    if (handler_signo == signo && sigaction(signo, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
        cur.sa_sigaction == on_sample_signal)
        return 0;
    struct sigaction sa, prev;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sample_signal;
    /* SA_RESTART: interrupted system calls resume instead of failing with
     * EINTR in the profiled program. */
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(signo, &sa, &prev) != 0) {
        if (err && errlen)
            snprintf(err, errlen, "cannot install the handler for signal %d: %s", signo, strerror(errno));
        return -1;
    }
    /* A foreign handler is stored before it can be called: no signal of
     * ours reaches chain_foreign with a half-written previous_action, since
     * our handler only chains signals that are not ours. */
    previous_action = prev;
    handler_signo = signo;
    return 0;
}

/* ------------------------------------------------------------ drain */

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t process_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The profiler's own CPU: time in the signal handler (all threads) plus the
 * sampler thread's CPU (drain, naming, thread scans). */
static uint64_t own_cpu_ns(void) { return atomic_load(&live.handler_ns) + atomic_load(&sampler_cpu_ns); }

static _Atomic uint64_t session_own_cpu_at_start, session_process_cpu_at_start;

/* Bumped when the runtime may name threads differently (a Node worker
 * registering, thread ids being reused): cached names are asked again. */
static _Atomic uint32_t thread_names_epoch;

void pp_sampler_thread_names_changed(void) { atomic_fetch_add(&thread_names_epoch, 1); }

/* Cached per (tid, epoch). */
static void thread_label_ids(pid_t tid, pp_resolve_session *rs, uint32_t *out)
{
    uint64_t c = (uint64_t)atomic_load(&thread_names_epoch);
    uint32_t id = pp_idmap_get(&thread_labels, (uint64_t)tid, 1, c);
    if (id != UINT32_MAX) {
        out[0] = id;
        out[1] = pp_idmap_get(&thread_labels, (uint64_t)tid, 2, c);
        return;
    }
    char runtime_name[128];
    const char *name = NULL;
    if (rs->rt && rs->rt->thread_name && pp_resolve_session_ready(rs) &&
        rs->rt->thread_name(rs->rt->ctx, tid, runtime_name, sizeof runtime_name) == 0 && runtime_name[0])
        name = runtime_name;
    if (!name && pp_threads_name(tid, runtime_name, sizeof runtime_name) == 0)
        name = runtime_name;
    char fallback[32];
    if (!name || !*name) {
        snprintf(fallback, sizeof fallback, "%d", (int)tid);
        name = fallback;
    }
    out[0] = pp_framedict_label_num(dict, "thread_id", tid);
    out[1] = pp_framedict_label_str(dict, "thread_name", name);
    pp_idmap_put(&thread_labels, (uint64_t)tid, 1, c, out[0]);
    pp_idmap_put(&thread_labels, (uint64_t)tid, 2, c, out[1]);
}

static int is_plumbing(void *ctx, uintptr_t pc, int leaf)
{
    (void)ctx;
    if (have_runtime && runtime.classify_native) {
        int kind = runtime.classify_native(runtime.ctx, pc);
        if (kind != PP_NATIVE_UNKNOWN)
            return kind == PP_NATIVE_PLUMBING;
    }
    return pp_framedict_native_is_plumbing(dict, pc, leaf, have_runtime ? &runtime : NULL);
}

typedef struct processed {
    uint32_t frames[PP_MERGED_MAX];
    uint32_t n_frames;
    uint32_t labels[2 + PP_MAX_CODE_LABELS];
    uint32_t n_labels;
    uint64_t weight;
    uint64_t time_ns;
} processed;

static void process_sample(const pp_raw_sample *s, uint32_t depth, pp_resolve_session *rs, const code_label *rules,
                           int n_rules, processed *out)
{
    pp_frame_ref refs[PP_MERGED_MAX];
    /* drain thread only (drain_lock) */
    static uintptr_t marked_native[PP_DEPTH_MAX + PP_RAW_NATIVE_SLACK];
    static pp_raw_frame marked_interp[PP_DEPTH_MAX];
    static pp_raw_sample marked = {.native = marked_native, .interp = marked_interp};
    if (have_runtime && runtime.mark_entries && s->n_interp) {
        /* The ring slot is the handler's; the bridge marks a copy. */
        marked.tid = s->tid;
        marked.flags = s->flags;
        marked.weight = s->weight;
        marked.time_ns = s->time_ns;
        marked.n_native = s->n_native;
        marked.n_interp = s->n_interp;
        memcpy(marked.native, s->native, sizeof(uintptr_t) * s->n_native);
        memcpy(marked.interp, s->interp, sizeof(pp_raw_frame) * s->n_interp);
        runtime.mark_entries(runtime.ctx, marked.native, (int)marked.n_native, marked.interp, (int)marked.n_interp);
        s = &marked;
    }
    int n = pp_merge_stack_depth(s, depth, have_runtime ? &runtime : NULL, is_plumbing, NULL, refs);
    int truncated = 0;
    for (int i = n - 1; i >= 0 && refs[i].kind == PP_REF_SPECIAL; i--)
        truncated |= refs[i].index == PP_SPECIAL_TRUNCATED;
    out->n_frames = 0;
    for (int i = 0; i < n; i++) {
        uint32_t id;
        switch (refs[i].kind) {
        case PP_REF_NATIVE:
            id = pp_framedict_native(dict, s->native[refs[i].index], refs[i].index == 0);
            break;
        case PP_REF_INTERP:
            id = pp_framedict_interp(dict, &s->interp[refs[i].index], rs);
            break;
        default:
            id = pp_framedict_special(dict, (pp_special)refs[i].index);
            break;
        }
        if (id != UINT32_MAX)
            out->frames[out->n_frames++] = id;
    }
    thread_label_ids(s->tid, rs, out->labels);
    out->n_labels = 2;
    for (int r = 0; r < n_rules; r++) {
        for (uint32_t i = 0; i < s->n_interp; i++) {
            if (s->interp[i].code == rules[r].code) {
                out->labels[out->n_labels++] = pp_framedict_label_str(dict, rules[r].key, rules[r].value);
                break;
            }
        }
    }
    out->weight = s->weight;
    out->time_ns = s->time_ns;
    /* A pair_from_leaf runtime (the JVM) expects the native unwind to stop
     * in its generated code: with interpreter frames to stand for the rest,
     * that is no failure. */
    if ((s->flags & PP_SAMPLE_NATIVE_FAILED) && !(have_runtime && runtime.pair_from_leaf && s->n_interp))
        atomic_fetch_add_explicit(&live.unwind_failed, 1, memory_order_relaxed);
    if (s->flags & PP_SAMPLE_NATIVE_SKIPPED)
        atomic_fetch_add_explicit(&live.native_skipped, 1, memory_order_relaxed);
    /* What the merged stack says: cut at the depth, or captured cut. */
    if (truncated)
        atomic_fetch_add_explicit(&live.truncated, 1, memory_order_relaxed);
}

/* A sample counts if it was taken before the collector's deadline, however
 * late the drain thread gets to it (a loaded machine delays the drain). */
static int collector_accepts(pp_collector *c, const processed *p)
{
    if (c->deadline_ns && p->time_ns >= c->deadline_ns)
        return 0;
    if (!c->filter_key[0])
        return 1;
    for (uint32_t i = 0; i < p->n_labels; i++) {
        if (c->filter_label == p->labels[i])
            return 1;
        if (c->filter_label == UINT32_MAX &&
            pp_framedict_label_matches(dict, p->labels[i], c->filter_key, c->filter_value)) {
            c->filter_label = p->labels[i];
            return 1;
        }
    }
    return 0;
}

/* Wall mode, drain thread. A thread counted on its latest stack without a
 * signal (pp_threads_tick): the stack, weighing the ticks it was counted
 * for. -1 when there is nothing to add yet (no stack of the thread known:
 * its first sample carries the ticks). */
static int count_repeat(const pp_raw_sample *s, pp_resolve_session *rs, processed *out)
{
    const uint32_t *frames, *labels;
    uint32_t n_frames, n_labels;
    if (!wall_stacks)
        return -1;
    if (pp_wall_stacks_repeat(wall_stacks, s->tid, s->weight, s->time_ns, &frames, &n_frames, &labels, &n_labels) !=
        0)
        return -1;
    memcpy(out->frames, frames, sizeof(uint32_t) * n_frames);
    out->n_frames = n_frames;
    if (n_labels > sizeof out->labels / sizeof out->labels[0])
        n_labels = sizeof out->labels / sizeof out->labels[0];
    memcpy(out->labels, labels, sizeof(uint32_t) * n_labels);
    out->n_labels = n_labels;
    /* The thread's name as it is now (a runtime may have named it since). */
    if (n_labels >= 2)
        thread_label_ids(s->tid, rs, out->labels);
    out->weight = s->weight;
    out->time_ns = s->time_ns;
    atomic_fetch_add_explicit(&live.weight, s->weight, memory_order_relaxed);
    return 0;
}

/* Wall mode, drain thread. A signalled sample becomes its thread's latest
 * stack, and weighs the ticks since its previous one that were not counted
 * without a signal in between. -1 when none are left (nothing to add). */
static int keep_wall_stack(const pp_raw_sample *s, processed *p)
{
    if (!wall_stacks)
        return 0;
    /* Only a stack taken in a system call is one a thread can be counted
     * on while it waits. */
    if (s->n_native && pp_wall_park_pc_in_syscall(s->native[0]) == 0)
        pp_threads_wall_unpark(s->tid);
    uint64_t weight = pp_wall_stacks_sample(wall_stacks, s->tid, p->frames, p->n_frames, p->labels, p->n_labels,
                                            p->weight, s->time_ns);
    if (weight < p->weight)
        atomic_fetch_sub_explicit(&live.weight, p->weight - weight, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&live.weight, weight - p->weight, memory_order_relaxed);
    p->weight = weight;
    return weight ? 0 : -1;
}

/* Caller holds drain_lock. */
static void drain_locked(void)
{
    pp_ring *ring = atomic_load(&live.ring);
    if (!ring || !dict)
        return;
    pp_resolve_session rs = {have_runtime ? &runtime : NULL, 0};
    code_label rules[PP_MAX_CODE_LABELS];
    pthread_mutex_lock(&state_lock);
    int n_rules = n_code_labels;
    memcpy(rules, code_labels, sizeof(code_label) * (size_t)n_rules);
    pthread_mutex_unlock(&state_lock);

    /* Batched so that state_lock is taken once per batch; each entry holds
     * a whole stack of up to PP_DEPTH_MAX frames (16 KiB). */
    static processed batch[16];
    uint32_t depth = pp_ring_depth(ring);
    for (;;) {
        int nb = 0;
        const pp_raw_sample *s;
        while (nb < 16 && (s = pp_ring_peek(ring))) {
            if (s->flags & PP_SAMPLE_WALL_REPEAT) {
                if (count_repeat(s, &rs, &batch[nb]) == 0)
                    nb++;
            } else {
                /* The objects of a stack the tables could not walk get
                 * their tables (built off this thread). */
                if (s->flags & PP_SAMPLE_NATIVE_TABLE_MISS)
                    pp_unwind_note_miss(s->native, s->n_native);
                atomic_fetch_add_explicit(&live.native_frames, s->n_native, memory_order_relaxed);
                process_sample(s, depth, &rs, rules, n_rules, &batch[nb]);
                if (session_options.mode != PP_MODE_WALL || keep_wall_stack(s, &batch[nb]) == 0)
                    nb++;
            }
            pp_ring_release(ring);
        }
        if (nb == 0)
            break;
        uint64_t interval = atomic_load(&current_interval_ns);
        pthread_mutex_lock(&state_lock);
        for (int i = 0; i < nb; i++) {
            for (int c = 0; c < n_collectors; c++) {
                if (!collector_accepts(collectors[c], &batch[i]))
                    continue;
                if (pp_stack_table_add(collectors[c]->table, batch[i].frames, batch[i].n_frames, batch[i].labels,
                                       batch[i].n_labels, batch[i].weight, batch[i].weight * interval) != 0)
                    dropped_memory += batch[i].weight;
            }
        }
        pthread_mutex_unlock(&state_lock);
    }
    pp_resolve_session_end(&rs);
}

/* Also *next_deadline: the earliest deadline still ahead (UINT64_MAX: none). */
static int all_collectors_expired(uint64_t now, uint64_t *next_deadline)
{
    pthread_mutex_lock(&state_lock);
    int expired = n_collectors > 0;
    *next_deadline = UINT64_MAX;
    for (int i = 0; i < n_collectors; i++) {
        uint64_t d = collectors[i]->deadline_ns;
        if (!d || now < d)
            expired = 0;
        if (d && now < d && d < *next_deadline)
            *next_deadline = d;
    }
    pthread_mutex_unlock(&state_lock);
    return expired;
}

/* Returns early when stop_session asks the thread to stop. */
static void sleep_until(uint64_t deadline)
{
    struct timespec ts = {(time_t)(deadline / 1000000000ULL), (long)(deadline % 1000000000ULL)};
    pthread_mutex_lock(&sleep_lock);
    int rc = 0;
    while (!atomic_load(&sampler_stop) && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&sleep_cond, &sleep_lock, &ts);
    pthread_mutex_unlock(&sleep_lock);
}

/* The process' thread count, from st_nlink of /proc/self/task (two more
 * than its threads); -1 when it cannot be read. */
static long task_count(void)
{
    struct stat st;
    return stat("/proc/self/task", &st) == 0 ? (long)st.st_nlink - 2 : -1;
}

/* Sampler thread, wall mode: the threads counted on their latest stacks this
 * tick go through the ring, so the drain meets them in order with the
 * signalled samples. */
static void queue_repeats(const pp_wall_repeat *repeats, size_t n)
{
    pp_ring *ring = atomic_load(&live.ring);
    for (size_t i = 0; i < n; i++) {
        /* The sampler thread's own buffer: the sampled threads' buffers keep
         * their previous stacks (pp_ring_take). */
        pp_raw_sample *s = ring ? pp_ring_take(ring, (uint32_t)pp_thread_id()) : NULL;
        if (!s) {
            atomic_fetch_add_explicit(&live.dropped_ring, 1, memory_order_relaxed);
            continue;
        }
        s->tid = (int32_t)repeats[i].tid;
        s->flags = PP_SAMPLE_WALL_REPEAT;
        s->weight = repeats[i].weight;
        s->time_ns = repeats[i].time_ns;
        s->n_native = 0;
        s->n_interp = 0;
        if (pp_ring_commit(ring, s) != 0)
            atomic_fetch_add_explicit(&live.dropped_ring, 1, memory_order_relaxed);
    }
}

static void *sampler_main(void *arg)
{
    (void)arg;
    /* The sampler thread must never take our own signal. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, threads_cfg.signo);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    pthread_setname_np(pthread_self(), "polyprof");
    threads_cfg.exclude_tid = (pid_t)syscall(SYS_gettid);
    atomic_store(&sampler_tid, threads_cfg.exclude_tid);

    uint64_t tick = threads_cfg.mode == PP_MODE_WALL ? threads_cfg.interval_ns : PP_DRAIN_PERIOD_NS;
    if (tick > PP_DRAIN_PERIOD_NS)
        tick = PP_DRAIN_PERIOD_NS;
    uint64_t next = pp_now_ns(), next_scan = 0, next_drain = 0, wall_next = next, next_expiry = next;
    uint64_t warm_until = next + PP_WARM_PERIOD_NS;
    uint64_t next_full_scan = 0, samples_seen = atomic_load(&live.samples), seen_at = next;
    long scanned_count = -1;
    int quiet = have_runtime && runtime.quiet_ticks;
    static pp_wall_repeat repeats[PP_WALL_REPEATS_MAX]; /* sampler thread only */
    int expired = 0;
    uint64_t sampler_cpu_base = atomic_load(&sampler_cpu_ns);
    unsigned budget_shift = 0; /* the CPU budget doubled the interval this many times */
    uint64_t budget_next = next + PP_BUDGET_PERIOD_NS, budget_own = own_cpu_ns(), budget_proc = process_cpu_ns();
    /* The first period pays for starting (symbol tables, a runtime's code
     * enumeration), once per process or per sampler start, not per sample:
     * judged, it would slow every short capture (an endpoint's 2 s profile)
     * for good. It only sets the baseline. */
    int budget_warm = 0;
    while (!atomic_load(&sampler_stop)) {
        uint64_t now = pp_now_ns();
        atomic_store(&sampler_cpu_ns, sampler_cpu_base + thread_cpu_ns());
        if (session_options.cpu_budget_pct > 0 && now >= budget_next && !atomic_load(&budget_stopped)) {
            budget_next = now + PP_BUDGET_PERIOD_NS;
            uint64_t own = own_cpu_ns(), proc = process_cpu_ns();
            /* An idle process says little: judge once enough CPU was spent. */
            if (!budget_warm) {
                budget_warm = 1;
                budget_own = own;
                budget_proc = proc;
            } else if (proc - budget_proc >= PP_BUDGET_MIN_PROCESS_NS) {
                double pct = 100.0 * (double)(own - budget_own) / (double)(proc - budget_proc);
                if (pct > session_options.cpu_budget_pct) {
                    if (atomic_load(&current_interval_ns) >= PP_BUDGET_MAX_INTERVAL_NS) {
                        /* Slowing down was not enough: stop sampling. */
                        pp_threads_disarm_all();
                        atomic_store(&budget_stopped, 1);
                    } else {
                        budget_shift++;
                    }
                }
                budget_own = own;
                budget_proc = proc;
            }
        }
        {
            /* The interval in force: the finest one asked for, slowed down
             * by the budget; a change re-arms every thread. */
            uint64_t want = atomic_load(&requested_interval_ns);
            for (unsigned k = 0; k < budget_shift && want < PP_BUDGET_MAX_INTERVAL_NS; k++)
                want *= 2;
            if (budget_shift && want > PP_BUDGET_MAX_INTERVAL_NS)
                want = PP_BUDGET_MAX_INTERVAL_NS;
            if (want != atomic_load(&current_interval_ns) && !atomic_load(&budget_stopped)) {
                pp_threads_disarm_all();
                atomic_store(&current_interval_ns, want);
                threads_cfg.interval_ns = want;
                next_scan = next_full_scan = 0;
                if (threads_cfg.mode == PP_MODE_WALL)
                    wall_next = now;
            }
        }
        if (atomic_load(&budget_stopped)) {
            if (now >= next_drain) {
                pthread_mutex_lock(&drain_lock);
                drain_locked();
                pthread_mutex_unlock(&drain_lock);
                next_drain = now + PP_DRAIN_PERIOD_NS;
            }
            sleep_until(now + PP_DRAIN_PERIOD_NS);
            continue;
        }
        uint64_t next_deadline;
        int all_expired = all_collectors_expired(now, &next_deadline);
        if (all_expired && !expired) {
            /* Every capture reached its duration: stop the signals until
             * stop() collects the profiles. Nothing profiles forever by
             * accident. */
            expired = 1;
            pp_threads_disarm_all();
        } else if (!all_expired && expired) {
            expired = 0; /* a collector without a deadline joined: re-arm */
            next_scan = next_full_scan = 0;
            wall_next = now; /* the threads are covered afresh: nothing is owed for the pause */
        }
        /* Every tick: a SIGSEGV handler installed since (faulthandler,
         * a crash reporter) displaced the fault guard; put it back in front
         * before more samples go without stacks. */
        pp_fault_guard_keep();
        if (!expired && now >= next_scan) {
            long count = quiet ? task_count() : -1;
            if (count < 0 || count != scanned_count || now >= next_full_scan) {
                (void)pp_threads_scan(&threads_cfg);
                scanned_count = count;
                next_full_scan = now + PP_FULL_SCAN_PERIOD_NS;
            }
            next_scan = now + PP_SCAN_PERIOD_NS;
        }
        if (!expired && threads_cfg.mode == PP_MODE_WALL && now >= wall_next) {
            /* Woken late (a loaded machine), the intervals missed are still
             * wall time every thread spent: the next signals carry them. */
            uint64_t elapsed = 1 + (now - wall_next) / threads_cfg.interval_ns;
            size_t n = pp_threads_tick(&threads_cfg, elapsed, repeats, PP_WALL_REPEATS_MAX);
            queue_repeats(repeats, n);
            wall_next += elapsed * threads_cfg.interval_ns;
        }
        if (now >= next_drain) {
            pthread_mutex_lock(&drain_lock);
            drain_locked();
            if (wall_stacks && now >= next_expiry) {
                pp_wall_stacks_expire(wall_stacks);
                next_expiry = now + PP_WALL_STACKS_EXPIRY_NS;
            }
            pthread_mutex_unlock(&drain_lock);
            next_drain = now + (now < warm_until ? PP_WARM_TICK_NS : PP_DRAIN_PERIOD_NS);
        }
        if (threads_cfg.mode == PP_MODE_WALL) {
            /* Ticks follow the interval in force. */
            tick = threads_cfg.interval_ns < PP_DRAIN_PERIOD_NS ? threads_cfg.interval_ns : PP_DRAIN_PERIOD_NS;
        } else if (quiet && now >= warm_until) {
            uint64_t taken = atomic_load(&live.samples);
            uint64_t ahead = now > seen_at ? (taken - samples_seen) * PP_QUIET_TICK_NS / (now - seen_at) : UINT64_MAX;
            tick = ahead < PP_QUIET_SAMPLES ? PP_QUIET_TICK_NS : PP_DRAIN_PERIOD_NS;
            samples_seen = taken;
            seen_at = now;
        }
        /* The unwind tables: built in the background for the objects the
         * drained samples needed (until then their frames fall back to
         * libunwind), and objects listed again when samples met a
         * dlopen'ed library. The sets they replace are freed once no
         * handler is in flight; drain_lock keeps pp_unwind_note_miss,
         * which reads the published set, from running meanwhile. */
        pp_unwind_maintain();
        if (pthread_mutex_trylock(&drain_lock) == 0) {
            pp_cfi_table_collect_garbage_if_idle(&live.in_flight);
            pthread_mutex_unlock(&drain_lock);
        }
        /* The ring's pages, once per ring: here rather than in start(), off
         * the caller's thread, and after the first scan has armed the
         * threads' timers; the first samples may fault pages in themselves
         * meanwhile. */
        pp_ring_prefault(atomic_load(&live.ring));
        uint64_t step = now < warm_until && tick > PP_WARM_TICK_NS ? PP_WARM_TICK_NS : tick;
        next += step;
        if (next < now)
            next = now + step;
        if (!expired && next_deadline < next && next_deadline > now)
            next = next_deadline; /* the capture ends on time: its signals stop there */
        sleep_until(next);
    }
    if (threads_cfg.mode == PP_MODE_WALL && !expired && !atomic_load(&budget_stopped)) {
        /* Each thread's wall time runs to the stop: the ticks since its
         * last visit, and those due since the last tick (a sampler the
         * machine kept waiting), count on its latest stack. */
        uint64_t now = pp_now_ns();
        uint64_t late = now >= wall_next ? 1 + (now - wall_next) / threads_cfg.interval_ns : 0;
        queue_repeats(repeats, pp_threads_wall_flush(late, repeats, PP_WALL_REPEATS_MAX));
    }
    atomic_store(&drain_cpu_ns, thread_cpu_ns());
    return NULL;
}

/* ------------------------------------------------------------ lifecycle */

int pp_sampler_set_runtime(const pp_runtime *rt, char *err, size_t errlen)
{
    pthread_mutex_lock(&state_lock);
    int busy = session_running;
    if (!busy) {
        runtime = *rt;
        have_runtime = 1;
    }
    pthread_mutex_unlock(&state_lock);
    return busy ? set_err(err, errlen, "cannot change the runtime while the sampler runs") : 0;
}

void pp_sampler_runtime_name(char *out, size_t len)
{
    pthread_mutex_lock(&state_lock);
    snprintf(out, len, "%s", have_runtime && runtime.name ? runtime.name : "");
    pthread_mutex_unlock(&state_lock);
}

static void init_sleep_cond(void)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&sleep_cond, &a);
    pthread_condattr_destroy(&a);
}

static void on_fork_child(void)
{
    /* The child has one thread and no timers: whatever the parent was doing,
     * the child starts with the profiler off and may start it afresh. */
    atomic_store(&live.active, 0);
    atomic_store(&live.in_flight, 0);
    atomic_fetch_add(&live.generation, 1);
    pthread_mutex_init(&lifecycle_lock, NULL);
    pthread_mutex_init(&drain_lock, NULL);
    pthread_mutex_init(&state_lock, NULL);
    pthread_mutex_init(&sleep_lock, NULL);
    init_sleep_cond();
    pp_threads_forget();
    /* The parent's ring may hold its threads' samples, or a slot another
     * thread reserved and will never commit here; the dictionary may be
     * mid-update. Abandon them (a bounded leak, once per fork) and let the
     * next start allocate fresh ones. */
    atomic_store(&live.ring, NULL);
    dict = NULL;
    pp_idmap_init(&thread_labels);
    wall_stacks = NULL;
    for (int i = 0; i < n_collectors; i++)
        collectors[i] = NULL; /* their owners' handles now dangle; stop() refuses them */
    n_collectors = 0;
    n_code_labels = 0;
    session_running = 0;
    atomic_store(&sampler_tid, 0);
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void init_once(void)
{
    init_sleep_cond();
    pthread_atfork(NULL, NULL, on_fork_child);
}

/* The drain empties the ring every 20 ms (with quiet_ticks, every 100 ms while
 * fewer than PP_QUIET_SAMPLES samples would come in that time), but on a
 * loaded machine it can be
 * descheduled for much longer; a ring that holds 250 ms of samples from every
 * CPU rides that out. Counted in 4 KiB units (a sample of 128 native and 128
 * interpreter frames; most take far less, a sample only takes the bytes its
 * frames need): 256 (1 MiB) is the floor, 2048 (8 MiB) the ceiling. The ring
 * is made once per process (again only for another depth), so the first
 * session's interval sizes it; `ring=` overrides. */
#define PP_RING_UNIT_BYTES 4096
static uint32_t auto_ring_slots(uint64_t interval_ns)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1)
        cpus = 1;
    if (interval_ns < 100000)
        interval_ns = 100000;
    uint64_t slots = (uint64_t)cpus * 250000000ULL / interval_ns;
    if (slots < 256)
        slots = 256;
    if (slots > 2048)
        slots = 2048;
    return (uint32_t)slots;
}

/* Times the calling thread with cfg's settings, its unwinder readied first. */
static int add_calling_thread(const pp_threads_config *cfg)
{
    pp_unwind_warm_thread();
    return pp_threads_add(cfg, (pid_t)syscall(SYS_gettid));
}

/* Caller holds drain_lock and state_lock; session not running. */
static int start_session(const pp_options *o, char *err, size_t errlen)
{
    if (install_handler(o->signo, err, errlen) != 0)
        return -1;
    if (pp_fault_guard_install() != 0) {
        /* Once lost mid-process (said on stderr then), later sessions run
         * without it, as that one did; failing to install it at all is an
         * error. */
        pp_fault_guard_info gi;
        pp_fault_guard_stats(&gi);
        if (!gi.lost || !gi.reinstalls)
            return set_err(err, errlen, "cannot install the fault guard for SIGSEGV/SIGBUS");
    }
    pp_unwind_init();
    /* pair_from_leaf: the merge keeps no native frame rootward of the
     * runtime's generated code, so the unwinder need not walk past it. */
    pp_unwind_set_stop_ranges(runtime.eval, have_runtime && runtime.pair_from_leaf ? runtime.n_eval : 0);
    pp_ring *old = atomic_load(&live.ring);
    if (old && pp_ring_depth(old) != o->depth) {
        /* Drained by the last stop, and no handler can hold it: each waits
         * for in_flight, and none is in flight between sessions. */
        atomic_store(&live.ring, NULL);
        pp_ring_free(old);
        old = NULL;
    }
    if (!old) {
        uint32_t units = o->ring_slots ? o->ring_slots : auto_ring_slots(o->interval_ns);
        pp_ring *r = pp_ring_new((size_t)units * PP_RING_UNIT_BYTES, o->depth);
        if (!r)
            return set_err(err, errlen, "out of memory allocating the sample ring");
        atomic_store(&live.ring, r);
    }
    if (!dict) {
        dict = pp_framedict_new();
        if (!dict)
            return set_err(err, errlen, "out of memory allocating the frame dictionary");
        pp_idmap_init(&thread_labels);
    } else {
        pp_framedict_refresh_symbols(dict);
    }
    if (o->mode == PP_MODE_WALL) {
        if (!wall_stacks && !(wall_stacks = pp_wall_stacks_new()))
            return set_err(err, errlen, "out of memory allocating the wall-mode stacks");
        pp_wall_stacks_clear(wall_stacks); /* weights are per session */
    }
    session_options = *o;
    atomic_store(&current_interval_ns, o->interval_ns);
    atomic_store(&requested_interval_ns, o->interval_ns);
    atomic_store(&budget_stopped, 0);
    atomic_store(&session_own_cpu_at_start, own_cpu_ns());
    atomic_store(&session_process_cpu_at_start, process_cpu_ns());
    atomic_store(&live.native, o->native);
    uint32_t gen = atomic_fetch_add(&live.generation, 1) + 1;
    threads_cfg.mode = o->mode;
    threads_cfg.interval_ns = o->interval_ns;
    threads_cfg.signo = o->signo;
    threads_cfg.cookie = ((uint64_t)PP_COOKIE_MAGIC << 32) | (gen & PP_COOKIE_GENERATION_MASK);
    threads_cfg.wall_threads = o->wall_threads;
    threads_cfg.exclude_tid = 0;
    pp_threads_begin(&threads_cfg);
    atomic_store(&sampler_stop, 0);
    atomic_store(&live.active, 1);
    /* The calling thread is timed from here rather than from the sampler
     * thread's first scan: on a loaded machine that thread may not run for
     * tens of milliseconds, and `start(); work(); stop()` lost the work's
     * first part, all of it when short. */
    add_calling_thread(&threads_cfg);
    /* The sampler thread is excluded from sampling by blocking the signal in
     * it; its tid is not known before it runs, which is fine. */
    if (pthread_create(&sampler_thread, NULL, sampler_main, NULL) != 0) {
        atomic_store(&live.active, 0);
        return set_err(err, errlen, "cannot create the sampler thread");
    }
    session_running = 1;
    return 0;
}

/* Caller holds lifecycle_lock only: the sampler thread may be waiting for
 * drain_lock, so it must be joined before drain_lock is taken. */
static void stop_session(void)
{
    pthread_mutex_lock(&sleep_lock);
    atomic_store(&sampler_stop, 1);
    pthread_cond_signal(&sleep_cond);
    pthread_mutex_unlock(&sleep_lock);
    pthread_join(sampler_thread, NULL);
    pthread_mutex_lock(&drain_lock);
    pp_threads_disarm_all();
    atomic_store(&live.active, 0);
    atomic_fetch_add(&live.generation, 1);
    while (atomic_load(&live.in_flight) > 0)
        sched_yield();
    drain_locked();
    pthread_mutex_lock(&state_lock);
    session_running = 0;
    pthread_mutex_unlock(&state_lock);
    pthread_mutex_unlock(&drain_lock);
}

/* A collector's profile covers what happened from now: its times and the
 * process-wide counters it reports as differences (at start and rotation). */
static void begin_period(pp_collector *c)
{
    c->start_ns = pp_now_ns();
    c->start_wall_ns = wall_now_ns();
    c->samples_at_start = atomic_load(&live.samples);
    c->weight_at_start = atomic_load(&live.weight);
    c->dropped_ring_at_start = atomic_load(&live.dropped_ring);
    c->unwind_failed_at_start = atomic_load(&live.unwind_failed);
    c->truncated_at_start = atomic_load(&live.truncated);
    c->native_skipped_at_start = atomic_load(&live.native_skipped);
    c->handler_ns_at_start = atomic_load(&live.handler_ns);
    c->unwind_table_misses_at_start = pp_unwind_table_misses();
    c->native_frames_at_start = atomic_load(&live.native_frames);
    pp_cfi_table_reads(&c->fde_reads_at_start, &c->block_hits_at_start);
    c->unguarded_at_start = atomic_load(&live.unguarded);
    pp_fault_guard_info gi;
    pp_fault_guard_stats(&gi);
    c->guard_reinstalls_at_start = gi.reinstalls;
    c->own_cpu_at_start = own_cpu_ns();
    c->process_cpu_at_start = process_cpu_ns();
}

/* Caller holds state_lock. */
static void recompute_requested_interval_locked(void)
{
    uint64_t want = 0;
    for (int i = 0; i < n_collectors; i++)
        if (!want || collectors[i]->options.interval_ns < want)
            want = collectors[i]->options.interval_ns;
    if (want)
        atomic_store(&requested_interval_ns, want);
}

pp_collector *pp_collector_start(const pp_options *o, const char *filter_key, const char *filter_value, char *err,
                                 size_t errlen)
{
    pthread_once(&once, init_once);
    if (o->mode == PP_MODE_ALLOC) {
        set_err(err, errlen, "option 'event': alloc is recorded by the runtime (the JVM agent), not by the "
                             "signal sampler; use cpu or wall");
        return NULL;
    }
    pp_collector *c = calloc(1, sizeof *c);
    if (!c) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    c->table = pp_stack_table_new(o->max_memory);
    if (!c->table) {
        free(c);
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    c->options = *o;
    c->filter_label = UINT32_MAX;
    if (filter_key) {
        snprintf(c->filter_key, sizeof c->filter_key, "%s", filter_key);
        snprintf(c->filter_value, sizeof c->filter_value, "%s", filter_value ? filter_value : "");
    }
    pthread_mutex_lock(&lifecycle_lock);
    pthread_mutex_lock(&drain_lock);
    pthread_mutex_lock(&state_lock);
    int rc = 0;
    if (n_collectors == PP_MAX_COLLECTORS) {
        rc = set_err(err, errlen, "too many profiles are being collected at once (at most 16)");
    } else if (session_running && session_options.mode != o->mode) {
        if (err && errlen)
            snprintf(err, errlen, "the sampler is already running in %s mode; a %s profile cannot share it",
                     session_options.mode == PP_MODE_CPU ? "cpu" : "wall", o->mode == PP_MODE_CPU ? "cpu" : "wall");
        rc = -1;
    } else if (!session_running) {
        rc = start_session(o, err, errlen);
    }
    if (rc == 0) {
        c->deadline_ns = o->duration_ns ? pp_now_ns() + o->duration_ns : 0;
        begin_period(c);
        collectors[n_collectors++] = c;
        recompute_requested_interval_locked();
    }
    pthread_mutex_unlock(&state_lock);
    pthread_mutex_unlock(&drain_lock);
    pthread_mutex_unlock(&lifecycle_lock);
    if (rc != 0) {
        pp_stack_table_free(c->table);
        free(c);
        return NULL;
    }
    return c;
}

static void add_comment(pp_profile *p, const char *key, unsigned long long value)
{
    char line[128];
    snprintf(line, sizeof line, "%s=%llu", key, value);
    pp_profile_add_comment(p, line);
}

/* Caller holds drain_lock. */
static pp_profile *export_locked(pp_collector *c)
{
    pp_profile *p = pp_profile_new();
    if (!p)
        return NULL;
    int wall = c->options.mode == PP_MODE_WALL;
    pp_profile_set_value_type(p, 0, "samples", "count");
    pp_profile_set_value_type(p, 1, wall ? "wall" : "cpu", "nanoseconds");
    p->period_type.type = pp_profile_intern(p, wall ? "wall" : "cpu");
    p->period_type.unit = pp_profile_intern(p, "nanoseconds");
    p->period = (int64_t)atomic_load(&current_interval_ns);
    p->default_value = 1;
    p->time_nanos = c->start_wall_ns;
    uint64_t end = pp_now_ns();
    if (c->deadline_ns && end > c->deadline_ns)
        end = c->deadline_ns;
    p->duration_nanos = (int64_t)(end - c->start_ns);

    /* Mapping ids may grow by one: the executable's, added first below. */
    uint32_t nf = pp_framedict_count_frames(dict), nm = pp_framedict_count_mappings(dict) + 1;
    uint32_t *memo = malloc(((size_t)nf + 1) * sizeof *memo);
    uint32_t *mmemo = malloc(((size_t)nm + 1) * sizeof *mmemo);
    if (!memo || !mmemo) {
        free(memo);
        free(mmemo);
        pp_profile_free(p);
        return NULL;
    }
    memset(memo, 0xff, ((size_t)nf + 1) * sizeof *memo);
    memset(mmemo, 0xff, ((size_t)nm + 1) * sizeof *mmemo);
    pp_framedict_export_main_mapping(dict, p, mmemo);
    uint32_t frames[PP_MERGED_MAX];
    pp_label labels[2 + PP_MAX_CODE_LABELS];
    pthread_mutex_lock(&state_lock);
    size_t n = pp_stack_table_size(c->table);
    for (size_t i = 0; i < n; i++) {
        pp_stack_entry e;
        pp_stack_table_get(c->table, i, &e);
        uint32_t k = 0;
        for (uint32_t f = 0; f < e.n_frames && k < PP_MERGED_MAX; f++)
            frames[k++] = pp_framedict_export_frame(dict, e.frames[f], p, memo, mmemo);
        uint32_t nl = e.n_labels < 2 + PP_MAX_CODE_LABELS ? e.n_labels : 2 + PP_MAX_CODE_LABELS;
        for (uint32_t l = 0; l < nl; l++)
            pp_framedict_export_label(dict, e.labels[l], p, &labels[l]);
        int64_t values[PP_MAX_VALUES] = {(int64_t)e.count, (int64_t)e.value};
        pp_profile_add_sample(p, frames, k, labels, nl, values);
    }
    uint64_t ov_count, ov_value;
    pp_stack_table_overflow(c->table, &ov_count, &ov_value);
    if (ov_count) {
        uint32_t ov = pp_framedict_special(dict, PP_SPECIAL_OVERFLOW);
        frames[0] = pp_framedict_export_frame(dict, ov, p, memo, mmemo);
        int64_t values[PP_MAX_VALUES] = {(int64_t)ov_count, (int64_t)ov_value};
        pp_profile_add_sample(p, frames, 1, NULL, 0, values);
    }
    add_comment(p, "dropped_memory_cap", ov_count);
    add_comment(p, "table_bytes", pp_stack_table_bytes(c->table));
    pthread_mutex_unlock(&state_lock);
    free(memo);
    free(mmemo);
    add_comment(p, "samples_taken", atomic_load(&live.samples) - c->samples_at_start);
    add_comment(p, "samples_weight", atomic_load(&live.weight) - c->weight_at_start);
    add_comment(p, "dropped_ring_full", atomic_load(&live.dropped_ring) - c->dropped_ring_at_start);
    add_comment(p, "unwind_failed", atomic_load(&live.unwind_failed) - c->unwind_failed_at_start);
    add_comment(p, "truncated", atomic_load(&live.truncated) - c->truncated_at_start);
    add_comment(p, "native_skipped", atomic_load(&live.native_skipped) - c->native_skipped_at_start);
    add_comment(p, "handler_ns", atomic_load(&live.handler_ns) - c->handler_ns_at_start);
    add_comment(p, "unwind_table_misses", pp_unwind_table_misses() - c->unwind_table_misses_at_start);
    add_comment(p, "native_frames", atomic_load(&live.native_frames) - c->native_frames_at_start);
    {
        uint64_t fde_reads, block_hits;
        pp_cfi_table_reads(&fde_reads, &block_hits);
        add_comment(p, "unwind_fde_reads", fde_reads - c->fde_reads_at_start);
        add_comment(p, "unwind_block_hits", block_hits - c->block_hits_at_start);
    }
    if (have_runtime && runtime.note && runtime.note[0])
        pp_profile_add_comment(p, runtime.note);
    {
        pp_fault_guard_info gi;
        pp_fault_guard_stats(&gi);
        add_comment(p, "unguarded_samples", atomic_load(&live.unguarded) - c->unguarded_at_start);
        add_comment(p, "fault_guard_reinstalled", gi.reinstalls - c->guard_reinstalls_at_start);
        if (gi.lost) {
            char line[256];
            snprintf(line, sizeof line, "fault_guard_lost=%s", gi.lost_reason);
            pp_profile_add_comment(p, line);
        }
    }
    {
        /* What profiling cost the process during this capture. */
        uint64_t own = own_cpu_ns() - c->own_cpu_at_start, proc = process_cpu_ns() - c->process_cpu_at_start;
        char line[96];
        snprintf(line, sizeof line, "overhead_pct=%.3f", proc ? 100.0 * (double)own / (double)proc : 0.0);
        pp_profile_add_comment(p, line);
        if (session_options.cpu_budget_pct > 0) {
            snprintf(line, sizeof line, "cpu_budget_pct=%g", session_options.cpu_budget_pct);
            pp_profile_add_comment(p, line);
            add_comment(p, "budget_interval_us", atomic_load(&current_interval_ns) / 1000);
            add_comment(p, "budget_stopped", (unsigned long long)atomic_load(&budget_stopped));
        }
    }
    char opts[PP_PATH_MAX + 256];
    pp_options_format(&c->options, opts, sizeof opts);
    char line[PP_PATH_MAX + 300];
    snprintf(line, sizeof line, "options=%s", opts);
    pp_profile_add_comment(p, line);
    return p;
}

static int find_collector(pp_collector *c)
{
    for (int i = 0; i < n_collectors; i++)
        if (collectors[i] == c)
            return i;
    return -1;
}

/* What a running collector has so far; with `restart`, it then starts
 * afresh (a new table, a new period). NULL if c is not running. */
static pp_profile *export_running(pp_collector *c, int restart)
{
    pthread_mutex_lock(&drain_lock);
    pp_profile *p = NULL;
    pthread_mutex_lock(&state_lock);
    int idx = find_collector(c);
    pthread_mutex_unlock(&state_lock);
    if (idx >= 0) {
        drain_locked();
        p = export_locked(c);
        pp_stack_table *fresh = p && restart ? pp_stack_table_new(c->options.max_memory) : NULL;
        if (fresh) {
            pthread_mutex_lock(&state_lock);
            pp_stack_table *old = c->table;
            c->table = fresh;
            begin_period(c);
            if (c->deadline_ns)
                c->deadline_ns = c->start_ns + c->options.duration_ns;
            pthread_mutex_unlock(&state_lock);
            pp_stack_table_free(old);
        }
    }
    pthread_mutex_unlock(&drain_lock);
    return p;
}

pp_profile *pp_collector_snapshot(pp_collector *c) { return export_running(c, 0); }

pp_profile *pp_collector_rotate(pp_collector *c) { return export_running(c, 1); }

pp_profile *pp_collector_stop(pp_collector *c)
{
    pthread_mutex_lock(&lifecycle_lock);
    pthread_mutex_lock(&state_lock);
    int idx = find_collector(c);
    int last = idx >= 0 && n_collectors == 1;
    pthread_mutex_unlock(&state_lock);
    if (idx < 0) {
        /* Not ours (any more): e.g. a handle carried across fork(). */
        pthread_mutex_unlock(&lifecycle_lock);
        return NULL;
    }
    if (last)
        stop_session();
    pthread_mutex_lock(&drain_lock);
    if (!last)
        drain_locked();
    pp_profile *p = export_locked(c);
    pthread_mutex_lock(&state_lock);
    idx = find_collector(c);
    if (idx >= 0) {
        collectors[idx] = collectors[--n_collectors];
        collectors[n_collectors] = NULL;
        recompute_requested_interval_locked();
    }
    pthread_mutex_unlock(&state_lock);
    pthread_mutex_unlock(&drain_lock);
    pthread_mutex_unlock(&lifecycle_lock);
    pp_stack_table_free(c->table);
    free(c);
    return p;
}

uint64_t pp_collector_deadline(const pp_collector *c) { return c->deadline_ns; }

int pp_sampler_add_current_thread(void)
{
    pthread_mutex_lock(&state_lock);
    int running = session_running;
    pp_threads_config cfg = threads_cfg;
    pthread_mutex_unlock(&state_lock);
    return running ? add_calling_thread(&cfg) : 0;
}

int pp_sampler_running(void)
{
    pthread_mutex_lock(&state_lock);
    int r = session_running;
    pthread_mutex_unlock(&state_lock);
    return r;
}

int pp_sampler_add_code_label(uintptr_t code, const char *key, const char *value)
{
    pthread_mutex_lock(&state_lock);
    int rc = -1;
    for (int i = 0; i < n_code_labels; i++) {
        if (code_labels[i].code == code) {
            snprintf(code_labels[i].key, sizeof code_labels[i].key, "%s", key);
            snprintf(code_labels[i].value, sizeof code_labels[i].value, "%s", value);
            rc = 0;
        }
    }
    if (rc != 0 && n_code_labels < PP_MAX_CODE_LABELS) {
        code_label *l = &code_labels[n_code_labels++];
        l->code = code;
        snprintf(l->key, sizeof l->key, "%s", key);
        snprintf(l->value, sizeof l->value, "%s", value);
        rc = 0;
    }
    pthread_mutex_unlock(&state_lock);
    return rc;
}

void pp_sampler_remove_code_label(uintptr_t code)
{
    pthread_mutex_lock(&state_lock);
    for (int i = 0; i < n_code_labels; i++) {
        if (code_labels[i].code == code) {
            code_labels[i] = code_labels[--n_code_labels];
            break;
        }
    }
    pthread_mutex_unlock(&state_lock);
}

void pp_sampler_get_stats(pp_sampler_stats *out)
{
    memset(out, 0, sizeof *out);
    out->samples = atomic_load(&live.samples);
    out->dropped_ring = atomic_load(&live.dropped_ring);
    out->unwind_failed = atomic_load(&live.unwind_failed);
    out->truncated = atomic_load(&live.truncated);
    out->handler_ns = atomic_load(&live.handler_ns);
    out->drain_cpu_ns = atomic_load(&drain_cpu_ns);
    out->interval_ns = atomic_load(&current_interval_ns);
    out->budget_stopped = atomic_load(&budget_stopped);
    out->threads = pp_threads_timed();
    uint64_t proc = process_cpu_ns() - atomic_load(&session_process_cpu_at_start);
    uint64_t own = own_cpu_ns() - atomic_load(&session_own_cpu_at_start);
    out->overhead_pct = proc ? 100.0 * (double)own / (double)proc : 0.0;
    pthread_mutex_lock(&state_lock);
    out->dropped_memory = dropped_memory;
    out->running = session_running;
    out->collectors = (uint32_t)n_collectors;
    pthread_mutex_unlock(&state_lock);
}
