/* The JVMTI agent: java -agentpath:libpolyprof.so=start,event=cpu,file=out.pb.gz
 *
 * Agent_OnLoad parses the options (the core's one grammar, plus the agent's
 * policy keys) and asks for the capabilities and events AsyncGetCallTrace
 * needs. Three ways to run:
 *  - start / file=...: one profile (cpu/wall: the core's signal sampler
 *    with the Java frames from AGCT; alloc: JVMTI heap sampling), written
 *    when the duration ends, or at VMDeath;
 *  - continuous: one profile per window to the local store until VMDeath;
 *  - neither: the environment decides (ENABLE_PROFILING and friends, read by
 *    the core), as in every runtime.
 * In every mode dev.polyprof.Profiler's triggered captures and the circuit
 * breaker are available (policies.c), and endpoint=ADDR serves the local
 * HTTP endpoint (serve.c). Any failure prints one line and leaves
 * the JVM running without the profiler. Loaded later (Agent_OnAttach, or
 * dev.polyprof.Profiler.load from the agent jar) it starts at once. Only the
 * Agent_* entry points and Profiler.load's native are exported (everything
 * else is hidden). */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agct.h"
#include "agent.h"
#include "alloc.h"
#include "anchor.h"
#include "codecache.h"
#include "codeheap.h"
#include "compiled.h"
#include "jthreads.h"
#include "methods.h"
#include "policies.h"
#include "serve.h"
#include "stubs.h"
#include "vmstructs.h"

ppj_agent ppj;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pp_collector *collector; /* cpu/wall while running */
static int alloc_running;
static int finished;            /* profile written (or abandoned): guarded by lock */
static int vm_dying;
static pthread_t timer_thread;
static int have_timer_thread;
static pp_runtime runtime;
static int oneshot;            /* start or file=: one profile, as before the policies */
static int want_continuous;    /* continuous, or ENABLE_PROFILING */
static pp_options continuous_opts;

void ppj_log(const char *fmt, ...)
{
    char line[PP_PATH_MAX + 512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "polyprof: %s\n", line);
}

static int jvmti_ok(jvmtiError rc, const char *what, char *err, size_t errlen)
{
    if (rc == JVMTI_ERROR_NONE)
        return 1;
    snprintf(err, errlen, "%s failed (JVMTI error %d)", what, (int)rc);
    return 0;
}

/* Caller holds lock. Stops whatever runs and writes the file once. */
static void finish_locked(const char *why)
{
    if (finished)
        return;
    finished = 1;
    pp_profile *p = NULL;
    if (collector) {
        p = pp_collector_stop(collector);
        collector = NULL;
        if (p)
            ppj_agct_add_metadata(p);
    } else if (alloc_running) {
        p = ppj_alloc_stop(ppj.jvmti, &runtime);
        alloc_running = 0;
    }
    if (!p)
        return;
    char opts[PP_PATH_MAX + 256], line[PP_PATH_MAX + 300];
    if (ppj.options.mode == PP_MODE_ALLOC) {
        pp_options_format(&ppj.options, opts, sizeof opts);
        snprintf(line, sizeof line, "options=%s", opts);
        pp_profile_add_metadata(p, line);
    }
    snprintf(line, sizeof line, "runtime=jvm");
    pp_profile_add_metadata(p, line);
    char err[512];
    if (pp_profile_write_file(p, ppj.options.file, ppj.options.format, err, sizeof err) != 0)
        ppj_log("cannot write the profile (%s): %s", why, err);
    pp_profile_free(p);
}

/* Writes the profile when the duration ends; woken early at VMDeath. */
static void *timer_main(void *arg)
{
    (void)arg;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    uint64_t ns = (uint64_t)deadline.tv_nsec + ppj.options.duration_ns;
    deadline.tv_sec += (time_t)(ns / 1000000000ULL);
    deadline.tv_nsec = (long)(ns % 1000000000ULL);
    pthread_mutex_lock(&lock);
    int rc = 0;
    while (!vm_dying && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&wake, &lock, &deadline);
    if (!vm_dying)
        finish_locked("duration ended");
    pthread_mutex_unlock(&lock);
    return NULL;
}

static int start_profiling(jvmtiEnv *jvmti, JNIEnv *jni, jthread thread, char *err, size_t errlen)
{
    memset(&runtime, 0, sizeof runtime);
    runtime.name = "jvm";
    runtime.resolve_begin = ppj_resolve_begin;
    runtime.resolve = ppj_resolve;
    runtime.resolve_end = ppj_resolve_end;
    runtime.thread_name = ppj_thread_name;
    int alloc = ppj.options.mode == PP_MODE_ALLOC;
    if (alloc && oneshot) {
        if (ppj_alloc_start(jvmti, ppj.options.alloc_interval, ppj.options.max_memory, err, errlen) != 0)
            return -1;
        alloc_running = 1;
    }
    /* The endpoint's CPU captures need the Java frames in every mode. */
    if (alloc && !ppj.options.endpoint[0])
        return 0;
    if (ppj_agct_init(err, errlen) != 0)
        return -1;
    /* Without the anchor's offsets (not HotSpot as we know it) samples in
     * VM code called from compiled code read "[unknown_not_Java]". */
    ppj_anchor_init(jvmti, jni, thread);
    /* The stubs made before DynamicCodeGenerated was enabled (the
     * interpreter, the first adapters) are reported again now; without them
     * samples in those stubs keep AGCT's failure frame. */
    (*jvmti)->GenerateEvents(jvmti, JVMTI_EVENT_DYNAMIC_CODE_GENERATED);
    if (!ppj_codeheap_ready())
        (*jvmti)->GenerateEvents(jvmti, JVMTI_EVENT_COMPILED_METHOD_LOAD); /* compiled before attach */
    /* The core demangles C++ names with a libstdc++ the process already has
     * (it does not load one itself). Some JDK builds link libstdc++ into
     * libjvm statically and hidden, yet every JVM is C++ through and through:
     * load the system one, RTLD_LOCAL so nothing binds to it by accident. */
    if (!dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL))
        (void)dlerror(); /* names stay mangled; nothing else changes */
    runtime.capture = ppj_agct_capture;
    runtime.capture_native = ppj_agct_capture_native;
    runtime.capture_fault = ppj_agct_capture_fault;
    runtime.n_eval = (size_t)ppj_codecache_ranges(runtime.eval, PP_MAX_RANGES);
    runtime.pair_from_leaf = 1;
    /* Java threads are added at ThreadStart, and a method id names its
     * method until the class is unloaded (the check word tells): the
     * sampler thread may wake less often. */
    runtime.quiet_ticks = 1;
    if (pp_sampler_set_runtime(&runtime, err, errlen) != 0)
        return -1;
    ppj_methods_prime(jvmti, jni);
    ppj_jthreads_note_current(jvmti, thread);
    if (!oneshot || alloc)
        return 0;
    collector = pp_collector_start(&ppj.options, NULL, NULL, err, errlen);
    return collector ? 0 : -1;
}

static void JNICALL on_vm_init(jvmtiEnv *jvmti, JNIEnv *jni, jthread thread)
{
    char err[512] = "";
    /* Once: started in the live phase (start_live), the agent can still be
     * sent VMInit, since -javaagent's premain runs while the JVM posts it. */
    static int started;
    pthread_mutex_lock(&lock);
    if (finished || started++) { /* the options were refused at load, or running */
        pthread_mutex_unlock(&lock);
        return;
    }
    int rc = start_profiling(jvmti, jni, thread, err, sizeof err);
    if (rc == 0 && ppj_policies_vm_init(want_continuous ? &continuous_opts : NULL, err, sizeof err) != 0) {
        /* The one-shot profile (if any) is already running: stop it too, so
         * that a failure means no profiler at all. */
        finish_locked("continuous profiling failed");
        rc = -1;
    }
    if (rc != 0) {
        finished = 1;
        ppj_log("%s; the JVM runs on without the profiler", err);
    } else if (oneshot && ppj.options.duration_ns) {
        have_timer_thread = pthread_create(&timer_thread, NULL, timer_main, NULL) == 0;
        if (!have_timer_thread)
            ppj_log("cannot start the duration timer: the profile is written at exit");
    }
    if (rc == 0 && ppj.options.endpoint[0]) {
        pp_options eo = ppj.options;
        /* A one-shot profile's duration is its own length, not the cap of
         * the endpoint's captures (the production configuration's is). */
        if (oneshot)
            eo.duration_ns = 0;
        if (ppj_serve_start(&eo, &runtime, err, sizeof err) != 0)
            ppj_log("the endpoint stays off: %s", err); /* the profiler itself runs on */
    }
    pthread_mutex_unlock(&lock);
}

/* The JVMTI event. start_live calls on_vm_init itself, on the attaching
 * thread (the Attach Listener, a caller of Profiler.load), whose JNIEnv is
 * not kept: whether JVMTI will post its ThreadEnd is not known there. */
static void JNICALL on_vm_init_event(jvmtiEnv *jvmti, JNIEnv *jni, jthread thread)
{
    /* The thread that runs main, whose ThreadStart may have come before
     * VMInit (or not at all); it ends with ThreadEnd like any other. */
    ppj_agct_keep_thread_env(jni);
    on_vm_init(jvmti, jni, thread);
}

static void JNICALL on_vm_death(jvmtiEnv *jvmti, JNIEnv *jni)
{
    (void)jvmti;
    (void)jni;
    ppj_agct_forget_thread_envs();
    /* First: its captures name frames through the VM that is going. */
    ppj_serve_stop();
    pthread_mutex_lock(&lock);
    vm_dying = 1;
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&lock);
    ppj_policies_vm_death();
    if (have_timer_thread)
        pthread_join(timer_thread, NULL);
    pthread_mutex_lock(&lock);
    finish_locked("at exit");
    pthread_mutex_unlock(&lock);
}

/* ClassLoad only needs to be enabled: AGCT refuses to walk without it
 * (ticks_no_class_load). */
static void JNICALL on_class_load(jvmtiEnv *jvmti, JNIEnv *jni, jthread thread, jclass klass)
{
    (void)jvmti, (void)jni, (void)thread, (void)klass;
}

static void JNICALL on_class_prepare(jvmtiEnv *jvmti, JNIEnv *jni, jthread thread, jclass klass)
{
    ppj_on_class_prepare(jvmti, jni, thread, klass);
    ppj_policies_class_prepare(jvmti, jni, klass);
}

static void JNICALL on_compiled_method_load(jvmtiEnv *jvmti, jmethodID method, jint code_size,
                                            const void *code_addr, jint map_length, const jvmtiAddrLocationMap *map,
                                            const void *compile_info)
{
    (void)jvmti, (void)map_length, (void)map, (void)compile_info;
    ppj_compiled_on_load(method, code_addr, code_size);
}

static void JNICALL on_compiled_method_unload(jvmtiEnv *jvmti, jmethodID method, const void *code_addr)
{
    (void)jvmti;
    ppj_compiled_on_unload(method, code_addr);
}

static int check_file(char *err, size_t errlen)
{
    if (!ppj.options.file[0]) {
        snprintf(err, errlen, "option 'file': required, e.g. file=/tmp/profile.pb.gz (.pb.gz pprof, .folded collapsed)");
        return -1;
    }
    if (ppj.options.format == PP_FORMAT_AUTO) {
        char ferr[PP_PATH_MAX + 256];
        if (pp_format_from_path(ppj.options.file, &ppj.options.format, ferr, sizeof ferr) != 0) {
            snprintf(err, errlen, "option 'file': %s", ferr);
            return -1;
        }
    }
    /* Found out now, not when the profile is written at exit. */
    char dir[PP_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", ppj.options.file);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    if (access(slash ? dir : ".", W_OK) != 0) {
        snprintf(err, errlen, "option 'file': cannot write into directory '%s': %s", slash ? dir : ".",
                 strerror(errno));
        return -1;
    }
    return 0;
}

/* Splits the agent string: the policy keys (policies.h) are applied to
 * *pc, everything else is copied to core_out for the core's parser.
 * Notes whether "start" or "file=" asked for a one-shot profile. */
static int split_options(const char *options, ppj_policy_config *pc, char *core_out, size_t core_len,
                         int *has_start, char *err, size_t errlen)
{
    char *copy = strdup(options ? options : "");
    if (!copy) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = 0;
    size_t used = 0;
    core_out[0] = '\0';
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item && rc == 0; item = strtok_r(NULL, ",", &save)) {
        while (*item == ' ')
            item++;
        if (!*item)
            continue;
        char *eq = strchr(item, '=');
        if (eq)
            *eq = '\0';
        if (!eq && !strcmp(item, "start"))
            *has_start = 1;
        int r = ppj_policy_option(pc, item, eq ? eq + 1 : NULL, err, errlen);
        if (eq)
            *eq = '=';
        if (r < 0) {
            rc = -1;
        } else if (r == 0) {
            int n = snprintf(core_out + used, core_len - used, "%s%s", used ? "," : "", item);
            if (n < 0 || (size_t)n >= core_len - used) {
                snprintf(err, errlen, "the option string is too long");
                rc = -1;
            } else {
                used += (size_t)n;
            }
        }
    }
    free(copy);
    return rc;
}

static const char *env_get(const char *name) { return getenv(name); }

/* Decides the mode and checks the options; -1 with err set. *quiet_off: the
 * environment's configuration was bad, err is its message (said the way
 * every runtime says it). */
static int configure(const char *options, int *quiet_off, char *err, size_t errlen)
{
    ppj_policy_config pc;
    ppj_policy_defaults(&pc);
    size_t core_len = strlen(options ? options : "") + 1;
    char *core = malloc(core_len);
    if (!core) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int has_start = 0;
    int rc = split_options(options, &pc, core, core_len, &has_start, err, errlen);
    pp_options_default(&ppj.options);
    if (rc == 0)
        rc = pp_options_parse(&ppj.options, core, err, errlen);
    if (rc != 0) {
        free(core);
        return -1;
    }
    oneshot = !pc.continuous && (has_start || ppj.options.file[0]);
    /* Production entry points keep the profiler's own CPU under 1% unless
     * told otherwise; a one-shot profile is a developer's, unbudgeted. */
    int budget_given = strstr(core, "cpu_budget=") != NULL;
    if (!oneshot && !budget_given)
        ppj.options.cpu_budget_pct = 1.0;
    if (pc.continuous) {
        if (ppj.options.mode == PP_MODE_ALLOC) {
            snprintf(err, errlen, "option 'continuous': event=alloc is not supported; use event=cpu or event=wall");
            rc = -1;
        }
        want_continuous = 1;
        continuous_opts = ppj.options;
    } else if (!oneshot) {
        /* Production: the environment decides, then the agent string's keys
         * (service=..., window=...) apply on top of it. */
        pp_env_config env;
        char e[1024];
        if (pp_env_config_read(&env, env_get, e, sizeof e) != 0) {
            snprintf(err, errlen, "%s", e);
            *quiet_off = 1;
            rc = -1;
        } else {
            for (int i = 0; i < env.n_warnings; i++)
                ppj_log("%s", env.warnings[i]);
            if (pp_options_parse(&env.options, core, err, errlen) != 0) {
                rc = -1;
            } else if (env.enabled && env.options.mode == PP_MODE_ALLOC) {
                snprintf(err, errlen, "option 'event': event=alloc is not supported for continuous profiling");
                rc = -1;
            } else {
                ppj.options = env.options;
                want_continuous = env.enabled;
                continuous_opts = env.options;
            }
        }
    }
    free(core);
    /* Triggered captures are a production entry point in every mode. */
    pp_options capture_base = ppj.options;
    if (!budget_given)
        capture_base.cpu_budget_pct = 1.0;
    if (rc == 0 && ppj_policies_init(&pc, &capture_base, err, errlen) != 0)
        rc = -1;
    if (rc != 0 || !oneshot)
        return rc;
    return check_file(err, errlen);
}

static int setup(JavaVM *vm, const char *options, int *quiet_off, char *err, size_t errlen)
{
    ppj.vm = vm;
    if (configure(options, quiet_off, err, errlen) != 0)
        return -1;
    jvmtiEnv *jvmti = NULL;
    if ((*vm)->GetEnv(vm, (void **)&jvmti, JVMTI_VERSION_1_2) != JNI_OK || !jvmti) {
        snprintf(err, errlen, "JVMTI 1.2 is not available in this JVM");
        return -1;
    }
    ppj.jvmti = jvmti;
    int alloc = ppj.options.mode == PP_MODE_ALLOC;
    int cpu_frames = !alloc || ppj.options.endpoint[0]; /* AsyncGetCallTrace will be used */
    jvmtiCapabilities caps;
    memset(&caps, 0, sizeof caps);
    caps.can_get_source_file_name = 1;
    caps.can_get_line_numbers = 1;
    if (alloc)
        caps.can_generate_sampled_object_alloc_events = 1;
    if (cpu_frames)
        caps.can_generate_compiled_method_load_events = 1;
    if (!jvmti_ok((*jvmti)->AddCapabilities(jvmti, &caps), "AddCapabilities", err, errlen))
        return -1;
    jvmtiEventCallbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.VMInit = on_vm_init_event;
    cb.VMDeath = on_vm_death;
    cb.ClassLoad = on_class_load;
    cb.ClassPrepare = on_class_prepare;
    cb.CompiledMethodLoad = on_compiled_method_load;
    cb.CompiledMethodUnload = on_compiled_method_unload;
    cb.ThreadStart = ppj_on_thread_start;
    cb.ThreadEnd = ppj_on_thread_end;
    cb.SampledObjectAlloc = ppj_on_sampled_alloc;
    cb.DynamicCodeGenerated = ppj_stubs_on_generated;
    if (!jvmti_ok((*jvmti)->SetEventCallbacks(jvmti, &cb, (jint)sizeof cb), "SetEventCallbacks", err, errlen))
        return -1;
    /* Samples in compiled code land on the right method and line, not the
     * nearest safepoint's, only if HotSpot records debug information at
     * every instruction (DebugNonSafepoints, which the compilers read at
     * each compilation). Enabling CompiledMethodLoad turns it on too, but
     * then HotSpot decodes every method's debug scopes for the event, on
     * its Service Thread: set the flag, and find compiled methods in the
     * code heap (codeheap.h), when this HotSpot publishes what both need. */
    int events_for_compiled = cpu_frames && (ppj_vmstructs_set_default_flag("DebugNonSafepoints") != 0 ||
                                             ppj_codeheap_init() != 0);
    jvmtiEvent events[10];
    int n = 0;
    events[n++] = JVMTI_EVENT_VM_INIT;
    events[n++] = JVMTI_EVENT_VM_DEATH;
    events[n++] = JVMTI_EVENT_CLASS_PREPARE; /* alloc stacks need jmethodIDs too */
    if (events_for_compiled) {
        events[n++] = JVMTI_EVENT_COMPILED_METHOD_LOAD;
        events[n++] = JVMTI_EVENT_COMPILED_METHOD_UNLOAD; /* compiled.h */
    }
    if (cpu_frames) {
        events[n++] = JVMTI_EVENT_CLASS_LOAD;
        events[n++] = JVMTI_EVENT_DYNAMIC_CODE_GENERATED; /* stubs.h */
        events[n++] = JVMTI_EVENT_THREAD_START;
        events[n++] = JVMTI_EVENT_THREAD_END;
    }
    for (int i = 0; i < n; i++)
        if (!jvmti_ok((*jvmti)->SetEventNotificationMode(jvmti, JVMTI_ENABLE, events[i], NULL),
                      "SetEventNotificationMode", err, errlen))
            return -1;
    return 0;
}

/* One profiler per process: the sampler, its signal and these statics are
 * process-wide. */
static int agent_loaded;

static void report_setup_failure(const char *err, int quiet_off)
{
    finished = 1;
    if (quiet_off) /* the same line as the Python and Node entry points */
        ppj_log("profiling stays off: %s", err);
    else
        ppj_log("%s; the JVM runs on without the profiler", err);
}

__attribute__((visibility("default"))) JNIEXPORT jint JNICALL Agent_OnLoad(JavaVM *vm, char *options,
                                                                            void *reserved)
{
    (void)reserved;
    if (agent_loaded++) {
        ppj_log("loaded twice; this -agentpath is ignored");
        return JNI_OK;
    }
    char err[PP_PATH_MAX + 512];
    int quiet_off = 0;
    if (setup(vm, options, &quiet_off, err, sizeof err) != 0)
        report_setup_failure(err, quiet_off);
    /* Never fail the JVM's start: a profiler is not worth an outage. */
    return JNI_OK;
}

/* Starts the agent in a JVM that is already running (the live phase): what
 * VMInit would have done, now, on the calling thread. Classes loaded so far
 * get their method IDs from start_profiling (ppj_methods_prime), threads
 * running so far are found by the core's /proc scan, and dev.polyprof.Profiler,
 * already prepared, gets its natives here. Returns 1 when the agent runs. */
static int start_live(JavaVM *vm, JNIEnv *jni, const char *options)
{
    if (agent_loaded++) {
        ppj_log("already loaded; these options are ignored: %s", options && *options ? options : "(none)");
        return !finished;
    }
    char err[PP_PATH_MAX + 512];
    int quiet_off = 0;
    if (setup(vm, options, &quiet_off, err, sizeof err) != 0) {
        report_setup_failure(err, quiet_off);
        return 0;
    }
    jthread thread = NULL;
    if ((*ppj.jvmti)->GetCurrentThread(ppj.jvmti, &thread) != JVMTI_ERROR_NONE) {
        report_setup_failure("JVMTI GetCurrentThread failed", 0);
        return 0;
    }
    on_vm_init(ppj.jvmti, jni, thread);
    jclass profiler = (*jni)->FindClass(jni, "dev/polyprof/Profiler");
    if (profiler)
        ppj_policies_class_prepare(ppj.jvmti, jni, profiler);
    else
        (*jni)->ExceptionClear(jni); /* not on this class path: nothing to bind */
    return !finished;
}

__attribute__((visibility("default"))) JNIEXPORT jint JNICALL Agent_OnAttach(JavaVM *vm, char *options,
                                                                              void *reserved)
{
    (void)reserved;
    JNIEnv *jni = NULL;
    if ((*vm)->GetEnv(vm, (void **)&jni, JNI_VERSION_1_6) != JNI_OK || !jni) {
        ppj_log("attach: no JNI environment on the attaching thread; the JVM runs on without the profiler");
        return JNI_OK;
    }
    start_live(vm, jni, options);
    return JNI_OK;
}

/* dev.polyprof.Profiler.load(options): the agent jar's route in (its premain
 * for -javaagent, or a call from the application), after System.load of this
 * library. Same options, same one-line failures as -agentpath. */
__attribute__((visibility("default"))) JNIEXPORT jboolean JNICALL Java_dev_polyprof_Profiler_load0(JNIEnv *jni,
                                                                                                   jclass cls,
                                                                                                   jstring options)
{
    (void)cls;
    JavaVM *vm = NULL;
    if ((*jni)->GetJavaVM(jni, &vm) != 0 || !vm)
        return JNI_FALSE;
    const char *opts = options ? (*jni)->GetStringUTFChars(jni, options, NULL) : NULL;
    if (options && !opts)
        return JNI_FALSE; /* OutOfMemoryError pending */
    int ok = start_live(vm, jni, opts ? opts : "");
    if (opts)
        (*jni)->ReleaseStringUTFChars(jni, options, opts);
    return ok ? JNI_TRUE : JNI_FALSE;
}

__attribute__((visibility("default"))) JNIEXPORT void JNICALL Agent_OnUnload(JavaVM *vm)
{
    (void)vm;
    /* Nothing is torn down: the signal handler stays installed for the
     * process's life, since a signal may still be in flight. */
}
