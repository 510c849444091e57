#include "endpoint_guard.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

struct pp_guarded_conn {
    int fd;
    int in_request;      /* headers in, answer not yet sent */
    int cut;             /* shut down already: no longer counted */
    uint64_t waiting_ns; /* since when it waits for a request's headers */
    pp_guarded_conn *prev, *next;
};

struct pp_conn_guard {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t watchdog;
    int stopping;
    uint64_t deadline_ns;
    unsigned max_pending;
    /* Guarded by lock: open connections, oldest first. */
    pp_guarded_conn *head, *tail;
    uint64_t deadline_closed, evicted;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The socket stays open (the server closes it, after telling us): its fd
 * cannot be another connection's yet. */
static void cut_locked(pp_guarded_conn *c)
{
    shutdown(c->fd, SHUT_RDWR);
    c->cut = 1;
}

static void *watchdog_main(void *arg)
{
    pp_conn_guard *g = arg;
    pthread_mutex_lock(&g->lock);
    while (!g->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&g->wake, &g->lock, &until);
        uint64_t now = now_ns();
        for (pp_guarded_conn *c = g->head; c; c = c->next) {
            if (!c->in_request && !c->cut && now - c->waiting_ns > g->deadline_ns) {
                cut_locked(c);
                g->deadline_closed++;
            }
        }
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

pp_conn_guard *pp_conn_guard_new(unsigned header_deadline_s, unsigned max_pending)
{
    pp_conn_guard *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->deadline_ns = (uint64_t)header_deadline_s * 1000000000ULL;
    g->max_pending = max_pending;
    pthread_mutex_init(&g->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&g->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&g->watchdog, NULL, watchdog_main, g) != 0) {
        pthread_cond_destroy(&g->wake);
        pthread_mutex_destroy(&g->lock);
        free(g);
        return NULL;
    }
    return g;
}

void pp_conn_guard_free(pp_conn_guard *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->lock);
    g->stopping = 1;
    pthread_cond_signal(&g->wake);
    pthread_mutex_unlock(&g->lock);
    pthread_join(g->watchdog, NULL);
    while (g->head) {
        pp_guarded_conn *c = g->head;
        g->head = c->next;
        free(c);
    }
    pthread_cond_destroy(&g->wake);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

pp_guarded_conn *pp_conn_guard_opened(pp_conn_guard *g, int fd)
{
    pp_guarded_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->fd = fd;
    c->waiting_ns = now_ns();
    pthread_mutex_lock(&g->lock);
    c->prev = g->tail;
    if (g->tail)
        g->tail->next = c;
    else
        g->head = c;
    g->tail = c;
    unsigned pending = 0;
    for (pp_guarded_conn *k = g->head; k; k = k->next)
        pending += !k->in_request && !k->cut;
    /* Over the reserve: the one that has waited longest goes (never the
     * new one, which has not had a chance to send anything). */
    while (pending > g->max_pending) {
        pp_guarded_conn *oldest = NULL;
        for (pp_guarded_conn *k = g->head; k; k = k->next)
            if (k != c && !k->in_request && !k->cut && (!oldest || k->waiting_ns < oldest->waiting_ns))
                oldest = k;
        if (!oldest)
            break;
        cut_locked(oldest);
        g->evicted++;
        pending--;
    }
    pthread_mutex_unlock(&g->lock);
    return c;
}

void pp_conn_guard_request_started(pp_conn_guard *g, pp_guarded_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&g->lock);
    c->in_request = 1;
    pthread_mutex_unlock(&g->lock);
}

void pp_conn_guard_request_done(pp_conn_guard *g, pp_guarded_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&g->lock);
    c->in_request = 0;
    c->waiting_ns = now_ns();
    pthread_mutex_unlock(&g->lock);
}

void pp_conn_guard_closed(pp_conn_guard *g, pp_guarded_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&g->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        g->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        g->tail = c->prev;
    pthread_mutex_unlock(&g->lock);
    free(c);
}

void pp_conn_guard_counts(pp_conn_guard *g, uint64_t *deadline_closed, uint64_t *evicted)
{
    pthread_mutex_lock(&g->lock);
    *deadline_closed = g->deadline_closed;
    *evicted = g->evicted;
    pthread_mutex_unlock(&g->lock);
}
