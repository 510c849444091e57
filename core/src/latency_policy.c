/* Latency policies, once for every runtime: the circuit breaker, the
 * process-wide capture rate limiter and the p95 trigger. Pure state machines
 * over the caller's clock; the bridges serialize calls per object (the rate
 * limiter, shared by the process, has its own lock). */
#include "polyprof.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- breaker */

struct pp_breaker {
    /* Its own lock: the bridge records from the runtime's threads while the
     * local endpoint reads its state from a thread of its own. */
    pthread_mutex_t lock;
    struct pp_breaker *prev, *next; /* the registry of live breakers */
    double max_increase_pct;
    int threshold;
    uint64_t cooldown_ns;
    int open;
    uint64_t open_until_ns, trips, last_trip_ns;
    int violations;
    double baseline_ms; /* exponentially weighted mean of latencies outside profiling */
    uint64_t baseline_n;
};

/* Every live breaker, so that status reports (the local endpoint) can show
 * them without each bridge handing them over. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static pp_breaker *registry_head, *registry_tail;

pp_breaker *pp_breaker_new(double max_increase_pct, int violation_threshold, uint64_t cooldown_ns, char *err,
                           size_t errlen)
{
    if (!(max_increase_pct > 0) || !isfinite(max_increase_pct)) {
        snprintf(err, errlen, "max_latency_increase_pct must be a positive number");
        return NULL;
    }
    if (violation_threshold < 1) {
        snprintf(err, errlen, "violation_threshold must be at least 1");
        return NULL;
    }
    pp_breaker *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    b->max_increase_pct = max_increase_pct;
    b->threshold = violation_threshold;
    b->cooldown_ns = cooldown_ns;
    pthread_mutex_init(&b->lock, NULL);
    pthread_mutex_lock(&registry_lock);
    b->prev = registry_tail;
    if (registry_tail)
        registry_tail->next = b;
    else
        registry_head = b;
    registry_tail = b;
    pthread_mutex_unlock(&registry_lock);
    return b;
}

void pp_breaker_free(pp_breaker *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&registry_lock);
    if (b->prev)
        b->prev->next = b->next;
    else
        registry_head = b->next;
    if (b->next)
        b->next->prev = b->prev;
    else
        registry_tail = b->prev;
    pthread_mutex_unlock(&registry_lock);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

static void close_if_cooled(pp_breaker *b, uint64_t now)
{
    if (b->open && now >= b->open_until_ns) {
        b->open = 0;
        b->violations = 0;
    }
}

static int record_locked(pp_breaker *b, double current_ms, double baseline_ms, int profiling, uint64_t now_ns)
{
    close_if_cooled(b, now_ns);
    if (!(current_ms >= 0) || !isfinite(current_ms))
        return 0; /* garbage never trips anything */
    if (baseline_ms < 0 && !profiling) {
        /* Learn: the first 20 values as a plain mean, then a slow EWMA. */
        b->baseline_n++;
        double w = b->baseline_n < 20 ? 1.0 / (double)b->baseline_n : 0.05;
        b->baseline_ms += w * (current_ms - b->baseline_ms);
        return 0;
    }
    double base = baseline_ms >= 0 ? baseline_ms : b->baseline_ms;
    if (b->open || base <= 0)
        return 0;
    if (current_ms > base * (1.0 + b->max_increase_pct / 100.0)) {
        if (++b->violations >= b->threshold) {
            b->open = 1;
            b->open_until_ns = now_ns + b->cooldown_ns;
            b->trips++;
            b->last_trip_ns = now_ns ? now_ns : 1;
            b->violations = 0;
            return 1;
        }
    } else if (b->violations > 0) {
        b->violations--; /* good checks decay the count */
    }
    return 0;
}

int pp_breaker_record(pp_breaker *b, double current_ms, double baseline_ms, int profiling, uint64_t now_ns)
{
    pthread_mutex_lock(&b->lock);
    int tripped = record_locked(b, current_ms, baseline_ms, profiling, now_ns);
    pthread_mutex_unlock(&b->lock);
    return tripped;
}

int pp_breaker_can_profile(pp_breaker *b, uint64_t now_ns)
{
    pthread_mutex_lock(&b->lock);
    close_if_cooled(b, now_ns);
    int can = !b->open;
    pthread_mutex_unlock(&b->lock);
    return can;
}

void pp_breaker_get_state(pp_breaker *b, uint64_t now_ns, pp_breaker_state *out)
{
    pthread_mutex_lock(&b->lock);
    close_if_cooled(b, now_ns);
    out->open = b->open;
    out->trips = b->trips;
    out->last_trip_ns = b->last_trip_ns;
    out->violations = b->violations;
    out->baseline_ms = b->baseline_ms;
    pthread_mutex_unlock(&b->lock);
}

int pp_breaker_list_states(pp_breaker_state *out, int max, uint64_t now_ns)
{
    int n = 0;
    pthread_mutex_lock(&registry_lock);
    for (pp_breaker *b = registry_head; b; b = b->next, n++)
        if (n < max)
            pp_breaker_get_state(b, now_ns, &out[n]);
    pthread_mutex_unlock(&registry_lock);
    return n;
}

/* ---------------------------------------------------------------- rate limiter */

#define MAX_RATE 1024

static pthread_mutex_t rate_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t rate_max = 1;
static uint64_t rate_window_ns = 300ULL * 1000000000ULL; /* 1 per 5 minutes */
static uint64_t rate_taken[MAX_RATE];                     /* times of the captures in the window, a ring */
static uint32_t rate_n, rate_head;

int pp_rate_limit_configure(uint32_t max_captures, uint64_t window_ns, char *err, size_t errlen)
{
    if (max_captures < 1 || max_captures > MAX_RATE || window_ns == 0) {
        snprintf(err, errlen, "rate limit: expected 1 to %d captures per a positive window", MAX_RATE);
        return -1;
    }
    pthread_mutex_lock(&rate_lock);
    rate_max = max_captures;
    rate_window_ns = window_ns;
    rate_n = rate_head = 0;
    pthread_mutex_unlock(&rate_lock);
    return 0;
}

void pp_rate_limit_reset(void)
{
    pthread_mutex_lock(&rate_lock);
    rate_n = rate_head = 0;
    pthread_mutex_unlock(&rate_lock);
}

int pp_rate_limit_take(uint64_t now_ns)
{
    pthread_mutex_lock(&rate_lock);
    /* Forget the captures that left the window (oldest first). */
    while (rate_n > 0) {
        uint32_t oldest = (rate_head + MAX_RATE - rate_n) % MAX_RATE;
        if (now_ns - rate_taken[oldest] < rate_window_ns)
            break;
        rate_n--;
    }
    int ok = rate_n < rate_max;
    if (ok) {
        rate_taken[rate_head] = now_ns;
        rate_head = (rate_head + 1) % MAX_RATE;
        rate_n++;
    }
    pthread_mutex_unlock(&rate_lock);
    return ok;
}

/* ---------------------------------------------------------------- p95 trigger */

#define WINDOW 100
#define MIN_VALUES 20

struct pp_trigger {
    double threshold_ms;
    uint64_t cooldown_ns;
    double values[WINDOW];
    int n, head;
    uint64_t last_fire_ns;
    int fired;
};

pp_trigger *pp_trigger_new(double threshold_ms, uint64_t cooldown_ns, char *err, size_t errlen)
{
    if (!(threshold_ms > 0) || !isfinite(threshold_ms)) {
        snprintf(err, errlen, "latency_threshold_ms must be a positive number");
        return NULL;
    }
    pp_trigger *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->threshold_ms = threshold_ms;
    t->cooldown_ns = cooldown_ns;
    return t;
}

void pp_trigger_free(pp_trigger *t) { free(t); }

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double pp_trigger_p95(pp_trigger *t)
{
    if (t->n < MIN_VALUES)
        return -1;
    double sorted[WINDOW];
    memcpy(sorted, t->values, sizeof(double) * (size_t)t->n);
    qsort(sorted, (size_t)t->n, sizeof sorted[0], cmp_double);
    /* Nearest rank: the smallest value with at least 95% at or below it. */
    int rank = (int)ceil(0.95 * t->n);
    return sorted[rank - 1];
}

int pp_trigger_record(pp_trigger *t, double latency_ms, uint64_t now_ns, double *p95_ms)
{
    if (latency_ms >= 0 && isfinite(latency_ms)) {
        t->values[t->head] = latency_ms;
        t->head = (t->head + 1) % WINDOW;
        if (t->n < WINDOW)
            t->n++;
    }
    double p95 = pp_trigger_p95(t);
    if (p95_ms)
        *p95_ms = p95;
    if (p95 < 0 || p95 <= t->threshold_ms)
        return 0;
    if (t->fired && now_ns - t->last_fire_ns < t->cooldown_ns)
        return 0;
    if (!pp_rate_limit_take(now_ns))
        return 0;
    t->fired = 1;
    t->last_fire_ns = now_ns;
    return 1;
}

int pp_trigger_manual(pp_trigger *t, uint64_t now_ns)
{
    (void)t;
    return pp_rate_limit_take(now_ns);
}
