/* Production policies in the JVM (see policies.h). The state machines are
 * the core's; what lives here is their wiring: one lock serializing the
 * Java threads that report latencies (the core's objects are not
 * thread-safe by themselves), the captures' export to the store, and the
 * breaker pausing whatever profiles when it trips. */
#include "policies.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"

#define PROFILER_CLASS "Ldev/polyprof/Profiler;"

static pthread_mutex_t plock = PTHREAD_MUTEX_INITIALIZER;
static ppj_policy_config cfg;
static pp_options base;           /* what captures start from */
static pp_trigger *trigger;
static pp_breaker *breaker;
static int ready, dying;          /* guarded by plock */
static pp_options continuous_opts;
static int continuous_wanted;     /* configured; paused while the breaker is open */
static pp_continuous *continuous;
static pp_capture *capture;       /* the one triggered capture at a time */
static char service[128];

/* What the running capture's callback writes as metadata. Written before the
 * capture starts and read only by its callback: a new capture starts only
 * after the previous one is finished. */
static struct {
    char reason[64];
    double p95; /* < 0: none (a manual trigger) */
} cap_meta;
static pp_store *store; /* opened by the first capture's callback, closed at VMDeath */

void ppj_policy_defaults(ppj_policy_config *c)
{
    memset(c, 0, sizeof *c);
    c->trigger_p95_ms = 500;
    c->trigger_cooldown_ns = 300000000000ULL;
    c->trigger_duration_ns = 30000000000ULL;
    c->trigger_interval_ns = 10000000ULL;
    c->rate_max = 1;
    c->rate_window_ns = 300000000000ULL;
    c->breaker_pct = 5;
    c->breaker_violations = 3;
    c->breaker_cooldown_ns = 60000000000ULL;
}

/* Durations go through the core's own parser (its "duration" and "interval"
 * keys), so "300s", "5m", "10ms" mean what they mean everywhere. */
static int core_duration(const char *core_key, const char *value, uint64_t *out)
{
    pp_options tmp;
    pp_options_default(&tmp);
    char e[256];
    if (pp_options_set(&tmp, core_key, value, e, sizeof e) != 0)
        return -1;
    *out = !strcmp(core_key, "interval") ? tmp.interval_ns : tmp.duration_ns;
    return 0;
}

static int positive_number(const char *v, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !(d > 0) || d > 1e9)
        return -1;
    *out = d;
    return 0;
}

static int bad(char *err, size_t errlen, const char *key, const char *value, const char *why)
{
    snprintf(err, errlen, "option '%s': invalid value '%s': %s", key, value ? value : "", why);
    return -1;
}

int ppj_policy_option(ppj_policy_config *c, const char *key, const char *value, char *err, size_t errlen)
{
    if (!value)
        return !strcmp(key, "continuous") ? (c->continuous = 1) : 0;
    double d;
    uint64_t ns;
    if (!strcmp(key, "continuous")) {
        return bad(err, errlen, key, value, "a bare word: write 'continuous'");
    } else if (!strcmp(key, "trigger_p95_ms")) {
        if (positive_number(value, &d) != 0)
            return bad(err, errlen, key, value, "expected a positive number of milliseconds, such as 500");
        c->trigger_p95_ms = d;
    } else if (!strcmp(key, "trigger_cooldown")) {
        if (core_duration("duration", value, &ns) != 0)
            return bad(err, errlen, key, value, "expected a duration such as 300s (0 for none)");
        c->trigger_cooldown_ns = ns;
    } else if (!strcmp(key, "trigger_duration")) {
        if (core_duration("duration", value, &ns) != 0 || ns < 10000000ULL || ns > 300000000000ULL)
            return bad(err, errlen, key, value, "expected a duration from 10ms to 300s, such as 30s");
        c->trigger_duration_ns = ns;
    } else if (!strcmp(key, "trigger_interval")) {
        if (core_duration("interval", value, &ns) != 0)
            return bad(err, errlen, key, value, "expected a duration from 100us to 60s, such as 10ms");
        c->trigger_interval_ns = ns;
    } else if (!strcmp(key, "rate_limit")) {
        char *end;
        errno = 0;
        unsigned long n = strtoul(value, &end, 10);
        if (errno || end == value || *end != '/' || n == 0 || n > 1000000 ||
            core_duration("duration", end + 1, &ns) != 0 || ns == 0)
            return bad(err, errlen, key, value, "expected captures/window, such as 1/300s");
        c->rate_max = (uint32_t)n;
        c->rate_window_ns = ns;
        c->rate_given = 1;
    } else if (!strcmp(key, "breaker_max_increase_pct")) {
        if (positive_number(value, &d) != 0)
            return bad(err, errlen, key, value, "expected a positive percentage, such as 5");
        c->breaker_pct = d;
    } else if (!strcmp(key, "breaker_violations")) {
        if (positive_number(value, &d) != 0 || d != (int)d || d > 1000)
            return bad(err, errlen, key, value, "expected a count from 1 to 1000, such as 3");
        c->breaker_violations = (int)d;
    } else if (!strcmp(key, "breaker_cooldown")) {
        if (core_duration("duration", value, &ns) != 0)
            return bad(err, errlen, key, value, "expected a duration such as 60s");
        c->breaker_cooldown_ns = ns;
    } else {
        return 0;
    }
    return 1;
}

int ppj_policies_init(const ppj_policy_config *c, const pp_options *b, char *err, size_t errlen)
{
    cfg = *c;
    base = *b;
    base.file[0] = '\0';
    char e[256];
    if (!(trigger = pp_trigger_new(cfg.trigger_p95_ms, cfg.trigger_cooldown_ns, e, sizeof e))) {
        snprintf(err, errlen, "option 'trigger_p95_ms': %s", e);
        return -1;
    }
    if (!(breaker = pp_breaker_new(cfg.breaker_pct, cfg.breaker_violations, cfg.breaker_cooldown_ns, e, sizeof e))) {
        snprintf(err, errlen, "option 'breaker_max_increase_pct': %s", e);
        return -1;
    }
    /* The limiter is process-wide: only an explicit rate_limit changes what
     * another bridge in the same process may have configured. */
    if (cfg.rate_given && pp_rate_limit_configure(cfg.rate_max, cfg.rate_window_ns, e, sizeof e) != 0) {
        snprintf(err, errlen, "option 'rate_limit': %s", e);
        return -1;
    }
    /* Captures open the store when the first one ends: a bad key fails now. */
    if (pp_store_key_check(base.store_key_file, err, errlen) < 0)
        return -1;
    if (base.service[0]) {
        snprintf(service, sizeof service, "%s", base.service);
    } else {
        /* As the core names continuous windows: the program's name. */
        FILE *f = fopen("/proc/self/comm", "r");
        if (!f || !fgets(service, sizeof service, f))
            snprintf(service, sizeof service, "app");
        if (f)
            fclose(f);
        service[strcspn(service, "\n")] = '\0';
    }
    return 0;
}

int ppj_policies_vm_init(const pp_options *cont, char *err, size_t errlen)
{
    pthread_mutex_lock(&plock);
    ready = base.mode != PP_MODE_ALLOC; /* captures are signal-sampled */
    int rc = 0;
    if (cont) {
        continuous_opts = *cont;
        continuous_wanted = 1;
        continuous = pp_continuous_start(&continuous_opts, NULL, NULL, err, errlen);
        if (!continuous) {
            continuous_wanted = 0;
            rc = -1;
        }
    }
    pthread_mutex_unlock(&plock);
    return rc;
}

static void iso_time(int64_t unix_ns, char *out, size_t len)
{
    time_t secs = (time_t)(unix_ns / 1000000000LL);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char s[32];
    strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, len, "%s.%03dZ", s, (int)(unix_ns % 1000000000LL / 1000000));
}

/* On the core's capture thread: the profile goes to the store, named after
 * its trigger, with what fired it as metadata. */
static int on_capture(void *ctx, pp_profile *p, const pp_capture_info *info)
{
    (void)ctx;
    char line[160], t[48];
    snprintf(line, sizeof line, "trigger=%s", cap_meta.reason);
    pp_profile_add_metadata(p, line);
    if (cap_meta.p95 >= 0) {
        snprintf(line, sizeof line, "p95=%.3f", cap_meta.p95);
        pp_profile_add_metadata(p, line);
    }
    snprintf(line, sizeof line, "threshold_ms=%g", cfg.trigger_p95_ms);
    pp_profile_add_metadata(p, line);
    iso_time(info->start_unix_ns, t, sizeof t);
    snprintf(line, sizeof line, "start=%s", t);
    pp_profile_add_metadata(p, line);
    iso_time(info->end_unix_ns, t, sizeof t);
    snprintf(line, sizeof line, "end=%s", t);
    pp_profile_add_metadata(p, line);
    pp_profile_add_metadata(p, "runtime=jvm");
    char err[512];
    int rc = -1;
    if (!store)
        store = pp_store_open_keyed(base.store, base.store_max_age_ns, base.store_max_bytes, base.store_key_file, err,
                                    sizeof err);
    if (store)
        rc = pp_store_put(store, p, service, base.mode == PP_MODE_WALL ? "wall" : "cpu", cap_meta.reason,
                          info->start_unix_ns, NULL, 0, err, sizeof err);
    if (rc != 0)
        ppj_log("triggered capture (%s) not stored: %s", cap_meta.reason, err);
    pp_profile_free(p);
    return rc;
}

/* Caller holds plock. 1 when a capture started. */
static int start_capture_locked(const char *reason, double p95, uint64_t now)
{
    if (!ready || dying || !pp_breaker_can_profile(breaker, now))
        return 0;
    if (capture) {
        if (!pp_capture_done(capture))
            return 0; /* one at a time: a second would only share the samples */
        pp_capture_finish(capture);
        capture = NULL;
    }
    snprintf(cap_meta.reason, sizeof cap_meta.reason, "%s", reason);
    cap_meta.p95 = p95;
    pp_options o = base;
    o.interval_ns = cfg.trigger_interval_ns;
    o.duration_ns = cfg.trigger_duration_ns;
    char err[512];
    capture = pp_capture_start(&o, on_capture, NULL, err, sizeof err);
    if (!capture) {
        ppj_log("triggered capture (%s) not started: %s", reason, err);
        return 0;
    }
    return 1;
}

/* Caller holds plock: the breaker tripped; what profiles stops now (each
 * writes what it has) and stays stopped for the cooldown. On the reporting
 * Java thread, once per trip: stopping here rather than on a thread of our
 * own means no sample is taken after recordLatency says the breaker is
 * open. */
static void pause_locked(double ms)
{
    if (continuous) {
        pp_continuous_stop_nowait(continuous); /* pushes to Pyroscope finish in the background */
        continuous = NULL;
    }
    if (capture) {
        pp_capture_finish(capture);
        capture = NULL;
    }
    ppj_log("circuit breaker open: %d latencies in a row over the baseline by more than %g%% (last %.1f ms); "
            "profiling paused for %.0f s",
            cfg.breaker_violations, cfg.breaker_pct, ms, (double)cfg.breaker_cooldown_ns / 1e9);
}

/* Caller holds plock: continuous profiling resumes once the breaker lets
 * it. Checked on each report rather than by a timer: an application that
 * reports no latencies cannot trip the breaker either. */
static void resume_locked(uint64_t now)
{
    if (!continuous_wanted || continuous || dying || !pp_breaker_can_profile(breaker, now))
        return;
    char err[512];
    continuous = pp_continuous_start(&continuous_opts, NULL, NULL, err, sizeof err);
    if (!continuous) {
        continuous_wanted = 0;
        ppj_log("continuous profiling not resumed: %s", err);
    }
}

void ppj_policies_vm_death(void)
{
    pthread_mutex_lock(&plock);
    dying = 1;
    if (continuous) {
        /* Writes (and pushes, for push_flush at most) the last, partial window. */
        pp_push_stats st;
        if (pp_continuous_finish(continuous, &st) == 0 &&
            (st.failed_attempts || st.dropped_queue_full || st.dropped_rejected))
            ppj_log("push at exit: %llu windows pushed, %llu failed attempts, %llu dropped queue full, %llu rejected",
                    (unsigned long long)st.pushed, (unsigned long long)st.failed_attempts,
                    (unsigned long long)st.dropped_queue_full, (unsigned long long)st.dropped_rejected);
        continuous = NULL;
    }
    if (capture) {
        pp_capture_finish(capture);
        capture = NULL;
    }
    pthread_mutex_unlock(&plock);
    /* The store is only used by capture callbacks, all finished now. */
    pp_store_close(store);
    store = NULL;
}

/* ---------------------------------------------------------------- natives of dev.polyprof.Profiler */

static jboolean JNICALL n_record(JNIEnv *jni, jclass cls, jdouble ms, jdouble baseline)
{
    (void)jni, (void)cls;
    if (!(ms >= 0))
        return JNI_FALSE;
    pthread_mutex_lock(&plock);
    int started = 0;
    if (trigger && !dying) {
        uint64_t now = pp_now_ns();
        if (pp_breaker_record(breaker, ms, baseline >= 0 ? baseline : -1.0, pp_sampler_running(), now))
            pause_locked(ms);
        else
            resume_locked(now);
        double p95 = -1;
        if (pp_trigger_record(trigger, ms, now, &p95))
            started = start_capture_locked("p95", p95, now);
    }
    pthread_mutex_unlock(&plock);
    return started ? JNI_TRUE : JNI_FALSE;
}

static jboolean JNICALL n_trigger(JNIEnv *jni, jclass cls, jstring reason)
{
    (void)cls;
    char name[64] = "manual";
    if (reason) {
        const char *s = (*jni)->GetStringUTFChars(jni, reason, NULL);
        if (!s)
            return JNI_FALSE; /* OutOfMemoryError pending */
        if (*s)
            snprintf(name, sizeof name, "%s", s);
        (*jni)->ReleaseStringUTFChars(jni, reason, s);
    }
    pthread_mutex_lock(&plock);
    int started = 0;
    if (trigger && !dying) {
        uint64_t now = pp_now_ns();
        resume_locked(now);
        /* Refused while the breaker is open without spending the rate limit. */
        if (ready && pp_breaker_can_profile(breaker, now) && pp_trigger_manual(trigger, now))
            started = start_capture_locked(name, -1, now);
    }
    pthread_mutex_unlock(&plock);
    return started ? JNI_TRUE : JNI_FALSE;
}

static jboolean JNICALL n_breaker_open(JNIEnv *jni, jclass cls)
{
    (void)jni, (void)cls;
    pthread_mutex_lock(&plock);
    pp_breaker_state st = {0};
    if (breaker)
        pp_breaker_get_state(breaker, pp_now_ns(), &st);
    pthread_mutex_unlock(&plock);
    return st.open ? JNI_TRUE : JNI_FALSE;
}

static jlong JNICALL n_breaker_trips(JNIEnv *jni, jclass cls)
{
    (void)jni, (void)cls;
    pthread_mutex_lock(&plock);
    pp_breaker_state st = {0};
    if (breaker)
        pp_breaker_get_state(breaker, pp_now_ns(), &st);
    pthread_mutex_unlock(&plock);
    return (jlong)st.trips;
}

static jdouble JNICALL n_p95(JNIEnv *jni, jclass cls)
{
    (void)jni, (void)cls;
    pthread_mutex_lock(&plock);
    double v = trigger ? pp_trigger_p95(trigger) : -1;
    pthread_mutex_unlock(&plock);
    return v;
}

static jboolean JNICALL n_capturing(JNIEnv *jni, jclass cls)
{
    (void)jni, (void)cls;
    pthread_mutex_lock(&plock);
    int running = capture && !pp_capture_done(capture);
    pthread_mutex_unlock(&plock);
    return running ? JNI_TRUE : JNI_FALSE;
}

static jboolean JNICALL n_profiling(JNIEnv *jni, jclass cls)
{
    (void)jni, (void)cls;
    return pp_sampler_running() ? JNI_TRUE : JNI_FALSE;
}

void ppj_policies_class_prepare(jvmtiEnv *jvmti, JNIEnv *jni, jclass klass)
{
    char *sig = NULL;
    if ((*jvmti)->GetClassSignature(jvmti, klass, &sig, NULL) != JVMTI_ERROR_NONE || !sig)
        return;
    int ours = !strcmp(sig, PROFILER_CLASS);
    (*jvmti)->Deallocate(jvmti, (unsigned char *)sig);
    if (!ours)
        return;
    static const JNINativeMethod natives[] = {
        {"record0", "(DD)Z", (void *)n_record},
        {"trigger0", "(Ljava/lang/String;)Z", (void *)n_trigger},
        {"breakerOpen0", "()Z", (void *)n_breaker_open},
        {"breakerTrips0", "()J", (void *)n_breaker_trips},
        {"p950", "()D", (void *)n_p95},
        {"capturing0", "()Z", (void *)n_capturing},
        {"profiling0", "()Z", (void *)n_profiling},
    };
    if ((*jni)->RegisterNatives(jni, klass, natives, (jint)(sizeof natives / sizeof natives[0])) != 0) {
        /* A different version of the class: its methods stay unbound and
         * the class reports the agent as absent. */
        (*jni)->ExceptionClear(jni);
        ppj_log("dev.polyprof.Profiler does not match this agent; its methods do nothing");
    }
}
