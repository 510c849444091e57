/* Production policies in the JVM: continuous profiling to the local store,
 * latency-triggered and manual captures, and the latency circuit breaker,
 * all the core's (pp_continuous_*, pp_trigger_*, pp_breaker_*,
 * pp_capture_*); this file only binds them to the agent's life cycle and to
 * the Java API class dev.polyprof.Profiler (natives registered when that
 * class is prepared). */
#ifndef PPJ_POLICIES_H
#define PPJ_POLICIES_H

#include <jni.h>
#include <jvmti.h>
#include <stddef.h>
#include <stdint.h>

#include "polyprof.h"

/* The agent-only keys of the option string (the core's grammar has no
 * place for them: they configure objects, not a capture). */
typedef struct ppj_policy_config {
    int continuous;                /* continuous                     */
    double trigger_p95_ms;         /* trigger_p95_ms=500             */
    uint64_t trigger_cooldown_ns;  /* trigger_cooldown=300s          */
    uint64_t trigger_duration_ns;  /* trigger_duration=30s           */
    uint64_t trigger_interval_ns;  /* trigger_interval=10ms          */
    uint32_t rate_max;             /* rate_limit=1/300s              */
    uint64_t rate_window_ns;
    int rate_given;
    double breaker_pct;            /* breaker_max_increase_pct=5     */
    int breaker_violations;        /* breaker_violations=3           */
    uint64_t breaker_cooldown_ns;  /* breaker_cooldown=60s           */
} ppj_policy_config;

void ppj_policy_defaults(ppj_policy_config *c);
/* One item of the agent string: 1 when it was an agent-only key (applied),
 * 0 when it belongs to the core's grammar, -1 on a bad value (err names the
 * key). value is NULL for a bare word. */
int ppj_policy_option(ppj_policy_config *c, const char *key, const char *value, char *err, size_t errlen);

/* Agent_OnLoad: creates the trigger and the breaker and configures the
 * process-wide rate limit. base: the options captures start from (mode,
 * memory, store, service, cpu budget). */
int ppj_policies_init(const ppj_policy_config *c, const pp_options *base, char *err, size_t errlen);
/* VMInit, after the runtime is registered with the core: captures may start
 * from now on; with continuous non-NULL, continuous profiling starts. */
int ppj_policies_vm_init(const pp_options *continuous, char *err, size_t errlen);
/* VMDeath: the last partial window and any running capture are written;
 * nothing starts afterwards. */
void ppj_policies_vm_death(void);
/* ClassPrepare: binds the natives of dev.polyprof.Profiler. */
void ppj_policies_class_prepare(jvmtiEnv *jvmti, JNIEnv *jni, jclass klass);

#endif
