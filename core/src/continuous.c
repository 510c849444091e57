/* Continuous profiling: one collector on the shared sampler, rotated at the
 * end of every window on a thread of the core's own; each window's profile
 * goes to the exporter (the runtime's callback, or the local store). The
 * collector's table is replaced at each rotation, so memory stays flat over
 * any number of windows. */
#include "polyprof.h"
#include "push.h"

#include "service_name.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct pp_continuous {
    pp_collector *collector;
    pp_options options;
    uint64_t window_ns;
    pp_window_fn fn;
    void *ctx;
    pp_store *store; /* default exporter */
    pp_push *push;   /* also pushes each window, when o->push_url is set */
    char service[128];
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stopping;
    _Atomic uint64_t windows, failures;
    uint64_t index;
    int64_t window_start_unix_ns;
};

static int64_t unix_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int store_window(void *ctx, pp_profile *window, const pp_window_info *info)
{
    pp_continuous *c = ctx;
    char err[512];
    int rc = pp_store_put(c->store, window, c->service, c->options.mode == PP_MODE_WALL ? "wall" : "cpu",
                          "continuous", info->start_unix_ns, NULL, 0, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "polyprof: continuous profiling: %s\n", err);
    pp_profile_free(window);
    return rc;
}

/* Encoded here, queued in O(1): the network is the push thread's business. */
static void push_window(pp_continuous *c, const pp_profile *p, const pp_window_info *info)
{
    char err[256];
    if (pp_push_profile(c->push, p, info->start_unix_ns, info->end_unix_ns, err, sizeof err) != 0) {
        fprintf(stderr, "polyprof: continuous profiling: push: %s\n", err);
        atomic_fetch_add(&c->failures, 1);
    }
}

static void export_window(pp_continuous *c)
{
    pp_profile *p = pp_collector_rotate(c->collector);
    int64_t end = unix_now_ns();
    pp_window_info info = {c->index++, c->window_start_unix_ns, end};
    c->window_start_unix_ns = end;
    if (!p) {
        atomic_fetch_add(&c->failures, 1);
        return;
    }
    char line[64];
    snprintf(line, sizeof line, "window=%llu", (unsigned long long)info.index);
    pp_profile_add_metadata(p, line);
    pp_profile_add_metadata(p, "trigger=continuous");
    if (c->push)
        push_window(c, p, &info);
    if (c->fn(c->ctx, p, &info) != 0)
        atomic_fetch_add(&c->failures, 1);
    atomic_fetch_add(&c->windows, 1);
}

static void *continuous_main(void *arg)
{
    pp_continuous *c = arg;
    /* This thread's own stacks are not the application's. */
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, c->options.signo);
    pthread_sigmask(SIG_BLOCK, &block, NULL);
    pthread_mutex_lock(&c->lock);
    for (;;) {
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        uint64_t ns = (uint64_t)deadline.tv_nsec + c->window_ns;
        deadline.tv_sec += (time_t)(ns / 1000000000ULL);
        deadline.tv_nsec = (long)(ns % 1000000000ULL);
        int rc = 0;
        while (!c->stopping && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&c->wake, &c->lock, &deadline);
        if (c->stopping)
            break;
        pthread_mutex_unlock(&c->lock);
        export_window(c);
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

pp_continuous *pp_continuous_start(const pp_options *o, pp_window_fn fn, void *ctx, char *err, size_t errlen)
{
    uint64_t window = o->window_ns;
    if (o->duration_ns && o->duration_ns < window)
        window = o->duration_ns;
    if (window < 1000000000ULL) {
        snprintf(err, errlen, "option 'window': continuous windows are at least 1s");
        return NULL;
    }
    pp_continuous *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->options = *o;
    c->options.duration_ns = 0; /* the windows end captures, not a deadline */
    c->window_ns = window;
    c->fn = fn ? fn : store_window;
    c->ctx = fn ? ctx : c;
    pp_service_name(o, c->service, sizeof c->service);
    if (!fn) {
        c->store = pp_store_open_keyed(o->store, o->store_max_age_ns, o->store_max_bytes, o->store_key_file, err,
                                       errlen);
        if (!c->store) {
            free(c);
            return NULL;
        }
    }
    if (o->push_url[0]) {
        c->push = pp_push_open(o, err, errlen);
        if (!c->push) {
            pp_store_close(c->store);
            free(c);
            return NULL;
        }
    }
    c->collector = pp_collector_start(&c->options, NULL, NULL, err, errlen);
    if (!c->collector) {
        pp_push_stop(c->push, NULL);
        pp_store_close(c->store);
        free(c);
        return NULL;
    }
    c->window_start_unix_ns = unix_now_ns();
    pthread_mutex_init(&c->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&c->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&c->thread, NULL, continuous_main, c) != 0) {
        pp_profile_free(pp_collector_stop(c->collector));
        pp_push_stop(c->push, NULL);
        pp_store_close(c->store);
        pthread_cond_destroy(&c->wake);
        pthread_mutex_destroy(&c->lock);
        free(c);
        snprintf(err, errlen, "cannot create the continuous profiling thread");
        return NULL;
    }
    return c;
}

static int continuous_end(pp_continuous *c, pp_push_stats *push_out, int wait_for_push);

void pp_continuous_stop(pp_continuous *c) { continuous_end(c, NULL, 1); }

int pp_continuous_finish(pp_continuous *c, pp_push_stats *push_out) { return continuous_end(c, push_out, 1); }

void pp_continuous_stop_nowait(pp_continuous *c) { continuous_end(c, NULL, 0); }

static int continuous_end(pp_continuous *c, pp_push_stats *push_out, int wait_for_push)
{
    if (push_out)
        memset(push_out, 0, sizeof *push_out);
    if (!c)
        return -1;
    pthread_mutex_lock(&c->lock);
    c->stopping = 1;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    export_window(c); /* the last, partial window */
    pp_profile_free(pp_collector_stop(c->collector));
    int pushed = c->push ? 0 : -1;
    if (wait_for_push)
        pp_push_stop(c->push, push_out); /* sends what is queued, for push_flush at most */
    else
        pp_push_release(c->push);
    pp_store_close(c->store);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    free(c);
    return pushed;
}

uint64_t pp_continuous_windows(const pp_continuous *c) { return atomic_load(&((pp_continuous *)c)->windows); }

uint64_t pp_continuous_export_failures(const pp_continuous *c)
{
    return atomic_load(&((pp_continuous *)c)->failures);
}

int pp_continuous_push_stats(const pp_continuous *c, pp_push_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!c || !c->push)
        return -1;
    pp_push_get_stats(c->push, out);
    return 0;
}
