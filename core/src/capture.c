/* A timed capture: one collector on the shared sampler, stopped at its
 * duration by a thread of the core's, its profile handed to the caller's
 * function there. */
#include "polyprof.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct pp_capture {
    pp_collector *collector;
    pp_capture_fn fn;
    void *ctx;
    uint64_t duration_ns;
    int signo;
    int64_t start_unix_ns;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int cancel;
    _Atomic int done;
};

static int64_t unix_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *capture_main(void *arg)
{
    pp_capture *c = arg;
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, c->signo);
    pthread_sigmask(SIG_BLOCK, &block, NULL);
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    uint64_t ns = (uint64_t)deadline.tv_nsec + c->duration_ns;
    deadline.tv_sec += (time_t)(ns / 1000000000ULL);
    deadline.tv_nsec = (long)(ns % 1000000000ULL);
    pthread_mutex_lock(&c->lock);
    int rc = 0;
    while (!c->cancel && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&c->wake, &c->lock, &deadline);
    pthread_mutex_unlock(&c->lock);
    pp_profile *p = pp_collector_stop(c->collector);
    pp_capture_info info = {c->start_unix_ns, unix_now_ns()};
    if (p)
        c->fn(c->ctx, p, &info);
    atomic_store(&c->done, 1);
    return NULL;
}

pp_capture *pp_capture_start(const pp_options *o, pp_capture_fn fn, void *ctx, char *err, size_t errlen)
{
    if (!o->duration_ns) {
        snprintf(err, errlen, "option 'duration': a capture needs one, such as 30s");
        return NULL;
    }
    pp_capture *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->fn = fn;
    c->ctx = ctx;
    c->duration_ns = o->duration_ns;
    c->signo = o->signo;
    c->start_unix_ns = unix_now_ns();
    c->collector = pp_collector_start(o, NULL, NULL, err, errlen);
    if (!c->collector) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&c->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&c->thread, NULL, capture_main, c) != 0) {
        pp_profile_free(pp_collector_stop(c->collector));
        pthread_cond_destroy(&c->wake);
        pthread_mutex_destroy(&c->lock);
        free(c);
        snprintf(err, errlen, "cannot create the capture thread");
        return NULL;
    }
    return c;
}

int pp_capture_done(pp_capture *c) { return atomic_load(&c->done); }

void pp_capture_finish(pp_capture *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->cancel = 1;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
