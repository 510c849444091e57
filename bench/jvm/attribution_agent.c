/* A measuring agent for bench/jvm/overhead_attribution.py: it loads a
 * profiler's JVMTI agent itself and times what that agent does, so that the
 * profiler's own CPU is read where it is spent instead of differenced from
 * whole-JVM totals.
 *
 *   java -agentpath:attribution_agent.so=OUT.json#REAL.so#REAL_OPTIONS ...
 *   java -agentpath:attribution_agent.so=OUT.json ...        (no profiler)
 *
 * What it measures (written to OUT.json at exit):
 *  - onload: the calling thread's CPU across the real Agent_OnLoad;
 *  - every event callback the real agent registers (SetEventCallbacks is
 *    patched in the JVMTI function table, which all environments share):
 *    VMInit and VMDeath by the calling thread's CPU, the others by count and
 *    CLOCK_MONOTONIC time (a vDSO read; a thread-CPU clock read is a system
 *    call, dearer than many of the callbacks it would time);
 *  - the profiling signal's handler (SIGPROF unless told otherwise by
 *    ATTRIBUTION_SIGNAL): after the real VMInit the handler the agent
 *    installed is wrapped by one that counts calls and CLOCK_MONOTONIC time
 *    inside it (preemption included, as polyprof's own handler_ns);
 *  - four snapshots of every thread's CPU (/proc/self/task/TID/schedstat,
 *    ns, with its name) and the process' CPU (CLOCK_PROCESS_CPUTIME_ID,
 *    exited threads included): before and after the real VMInit, before and
 *    after the real VMDeath (without a real agent, at this agent's own VMInit
 *    and VMDeath, which the JVM posts first, being the first environment).
 * Nothing here runs in the profiler's way except the signal wrapper (two
 * clock reads and two atomic adds per signal). */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <jvmti.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 512
#define MAX_ENVS 4

typedef struct {
    int tid;
    char comm[20];
    uint64_t ns;
} thread_cpu;

typedef struct {
    int taken;
    uint64_t mono_ns, process_ns, self_ns, handler_calls, handler_ns;
    int n;
    thread_cpu threads[MAX_THREADS];
} snapshot;

static char out_path[4096];
static void *real_lib;
static jvmtiEnv *own_env;
static snapshot snaps[4]; /* before/after the real VMInit, before/after the real VMDeath */
static uint64_t onload_self_ns, onload_process_ns, onunload_self_ns;
static int onunload_called;

static uint64_t clock_ns(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------ signal handler -- */

static struct sigaction wrapped;
static int wrapped_signo, wrap_installed;
static _Atomic uint64_t handler_calls, handler_ns;
/* Calls over LONG_CALL_NS (the thread was preempted inside, most likely)
 * apart: the rest's time is the handler's own cost without the machine's
 * load in it. */
#define LONG_CALL_NS 200000ULL
static _Atomic uint64_t long_calls, long_calls_ns;

static void timed_handler(int sig, siginfo_t *si, void *uc)
{
    uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
    if (wrapped.sa_flags & SA_SIGINFO)
        wrapped.sa_sigaction(sig, si, uc);
    else
        wrapped.sa_handler(sig);
    uint64_t took = clock_ns(CLOCK_MONOTONIC) - t0;
    atomic_fetch_add_explicit(&handler_ns, took, memory_order_relaxed);
    atomic_fetch_add_explicit(&handler_calls, 1, memory_order_relaxed);
    if (took > LONG_CALL_NS) {
        atomic_fetch_add_explicit(&long_calls, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&long_calls_ns, took, memory_order_relaxed);
    }
}

static void wrap_signal_handler(void)
{
    const char *s = getenv("ATTRIBUTION_SIGNAL");
    int signo = s ? atoi(s) : SIGPROF;
    struct sigaction cur;
    if (sigaction(signo, NULL, &cur) != 0)
        return;
    if (!(cur.sa_flags & SA_SIGINFO) && (cur.sa_handler == SIG_DFL || cur.sa_handler == SIG_IGN))
        return;
    wrapped = cur;
    struct sigaction sa = cur;
    sa.sa_flags |= SA_SIGINFO;
    sa.sa_sigaction = timed_handler;
    if (sigaction(signo, &sa, NULL) == 0) {
        wrapped_signo = signo;
        wrap_installed = 1;
    }
}

static int wrap_still_installed(void)
{
    struct sigaction cur;
    return wrap_installed && sigaction(wrapped_signo, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
           cur.sa_sigaction == timed_handler;
}

/* ----------------------------------------------------------- snapshots -- */

static void take(snapshot *s)
{
    s->taken = 1;
    s->mono_ns = clock_ns(CLOCK_MONOTONIC);
    s->self_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    s->handler_calls = atomic_load(&handler_calls);
    s->handler_ns = atomic_load(&handler_ns);
    s->n = 0;
    DIR *d = opendir("/proc/self/task");
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) && s->n < MAX_THREADS) {
            if (e->d_name[0] == '.')
                continue;
            char path[300], buf[128];
            thread_cpu *t = &s->threads[s->n];
            t->tid = atoi(e->d_name);
            snprintf(path, sizeof path, "/proc/self/task/%s/schedstat", e->d_name);
            FILE *f = fopen(path, "r");
            if (!f)
                continue;
            int ok = fgets(buf, sizeof buf, f) != NULL;
            fclose(f);
            if (!ok)
                continue;
            t->ns = strtoull(buf, NULL, 10);
            snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
            t->comm[0] = '\0';
            if ((f = fopen(path, "r"))) {
                if (fgets(t->comm, sizeof t->comm, f))
                    t->comm[strcspn(t->comm, "\n")] = '\0';
                fclose(f);
            }
            s->n++;
        }
        closedir(d);
    }
    /* Last: the process' CPU must include every thread's figure read above. */
    s->process_ns = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

/* ------------------------------------------------ the real agent's events -- */

enum { EV_VM_INIT, EV_VM_DEATH, EV_THREAD_START, EV_THREAD_END, EV_CLASS_LOAD, EV_CLASS_PREPARE,
       EV_COMPILED_LOAD, EV_COMPILED_UNLOAD, EV_DYNAMIC_CODE, EV_GC_START, EV_GC_FINISH, EV_SAMPLED_ALLOC,
       EV_COUNT };
static const char *const ev_names[EV_COUNT] = {
    "VMInit", "VMDeath", "ThreadStart", "ThreadEnd", "ClassLoad", "ClassPrepare", "CompiledMethodLoad",
    "CompiledMethodUnload", "DynamicCodeGenerated", "GarbageCollectionStart", "GarbageCollectionFinish",
    "SampledObjectAlloc"};
static _Atomic uint64_t ev_calls[EV_COUNT], ev_ns[EV_COUNT];
static jvmtiEventCallbacks real_cb; /* the real agent's (one environment: the last it set) */
static char unwrapped[1024];       /* callbacks it set that are not timed here */

#define TIMED(ev, call)                                                                                        \
    do {                                                                                                       \
        uint64_t t0_ = clock_ns(CLOCK_MONOTONIC);                                                              \
        call;                                                                                                  \
        atomic_fetch_add_explicit(&ev_ns[ev], clock_ns(CLOCK_MONOTONIC) - t0_, memory_order_relaxed);          \
        atomic_fetch_add_explicit(&ev_calls[ev], 1, memory_order_relaxed);                                     \
    } while (0)

static void JNICALL w_vm_init(jvmtiEnv *e, JNIEnv *j, jthread t)
{
    take(&snaps[0]);
    real_cb.VMInit(e, j, t);
    take(&snaps[1]);
    ev_calls[EV_VM_INIT] = 1;
    ev_ns[EV_VM_INIT] = snaps[1].self_ns - snaps[0].self_ns;
    wrap_signal_handler();
}

static void JNICALL w_vm_death(jvmtiEnv *e, JNIEnv *j)
{
    take(&snaps[2]);
    real_cb.VMDeath(e, j);
    take(&snaps[3]);
    ev_calls[EV_VM_DEATH] = 1;
    ev_ns[EV_VM_DEATH] = snaps[3].self_ns - snaps[2].self_ns;
}

static void JNICALL w_thread_start(jvmtiEnv *e, JNIEnv *j, jthread t)
{
    TIMED(EV_THREAD_START, real_cb.ThreadStart(e, j, t));
}

static void JNICALL w_thread_end(jvmtiEnv *e, JNIEnv *j, jthread t)
{
    TIMED(EV_THREAD_END, real_cb.ThreadEnd(e, j, t));
}

static void JNICALL w_class_load(jvmtiEnv *e, JNIEnv *j, jthread t, jclass k)
{
    TIMED(EV_CLASS_LOAD, real_cb.ClassLoad(e, j, t, k));
}

static void JNICALL w_class_prepare(jvmtiEnv *e, JNIEnv *j, jthread t, jclass k)
{
    TIMED(EV_CLASS_PREPARE, real_cb.ClassPrepare(e, j, t, k));
}

static void JNICALL w_compiled_load(jvmtiEnv *e, jmethodID m, jint size, const void *addr, jint n,
                                    const jvmtiAddrLocationMap *map, const void *info)
{
    TIMED(EV_COMPILED_LOAD, real_cb.CompiledMethodLoad(e, m, size, addr, n, map, info));
}

static void JNICALL w_compiled_unload(jvmtiEnv *e, jmethodID m, const void *addr)
{
    TIMED(EV_COMPILED_UNLOAD, real_cb.CompiledMethodUnload(e, m, addr));
}

static void JNICALL w_dynamic_code(jvmtiEnv *e, const char *name, const void *addr, jint length)
{
    TIMED(EV_DYNAMIC_CODE, real_cb.DynamicCodeGenerated(e, name, addr, length));
}

static void JNICALL w_gc_start(jvmtiEnv *e) { TIMED(EV_GC_START, real_cb.GarbageCollectionStart(e)); }

static void JNICALL w_gc_finish(jvmtiEnv *e) { TIMED(EV_GC_FINISH, real_cb.GarbageCollectionFinish(e)); }

static void JNICALL w_sampled_alloc(jvmtiEnv *e, JNIEnv *j, jthread t, jobject o, jclass k, jlong size)
{
    TIMED(EV_SAMPLED_ALLOC, real_cb.SampledObjectAlloc(e, j, t, o, k, size));
}

static jvmtiError(JNICALL *real_set_event_callbacks)(jvmtiEnv *, const jvmtiEventCallbacks *, jint);

static jvmtiError JNICALL timed_set_event_callbacks(jvmtiEnv *env, const jvmtiEventCallbacks *cb, jint size)
{
    if (env == own_env || !cb)
        return real_set_event_callbacks(env, cb, size);
    jvmtiEventCallbacks w;
    memset(&w, 0, sizeof w);
    memcpy(&w, cb, (size_t)size < sizeof w ? (size_t)size : sizeof w);
    real_cb = w;
#define WRAP(field, fn)                                                                                        \
    if (w.field)                                                                                               \
        w.field = fn;
    WRAP(VMInit, w_vm_init)
    WRAP(VMDeath, w_vm_death)
    WRAP(ThreadStart, w_thread_start)
    WRAP(ThreadEnd, w_thread_end)
    WRAP(ClassLoad, w_class_load)
    WRAP(ClassPrepare, w_class_prepare)
    WRAP(CompiledMethodLoad, w_compiled_load)
    WRAP(CompiledMethodUnload, w_compiled_unload)
    WRAP(DynamicCodeGenerated, w_dynamic_code)
    WRAP(GarbageCollectionStart, w_gc_start)
    WRAP(GarbageCollectionFinish, w_gc_finish)
    WRAP(SampledObjectAlloc, w_sampled_alloc)
#undef WRAP
    /* The rest pass through untimed: named in the output. */
    const void *const *slot = (const void *const *)&w;
    const void *const *orig = (const void *const *)&real_cb;
    unwrapped[0] = '\0';
    for (size_t i = 0; i < sizeof w / sizeof(void *); i++)
        if (slot[i] && slot[i] == orig[i]) {
            size_t used = strlen(unwrapped);
            snprintf(unwrapped + used, sizeof unwrapped - used, "%s%zu", used ? "," : "", i);
        }
    return real_set_event_callbacks(env, &w, (jint)sizeof w);
}

static int patch_function_table(jvmtiEnv *env)
{
    struct jvmtiInterface_1_ *table = (struct jvmtiInterface_1_ *)*env;
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t slot = (uintptr_t)&table->SetEventCallbacks;
    uintptr_t start = slot & ~(uintptr_t)(page - 1);
    if (mprotect((void *)start, (size_t)page, PROT_READ | PROT_WRITE) != 0)
        return -1;
    real_set_event_callbacks = table->SetEventCallbacks;
    table->SetEventCallbacks = timed_set_event_callbacks;
    return 0;
}

/* ------------------------------------------- this agent's own environment -- */

static void JNICALL own_vm_init(jvmtiEnv *e, JNIEnv *j, jthread t)
{
    (void)e, (void)j, (void)t;
    if (!real_cb.VMInit) {
        take(&snaps[0]);
        snaps[1] = snaps[0];
    }
}

static void JNICALL own_vm_death(jvmtiEnv *e, JNIEnv *j)
{
    (void)e, (void)j;
    if (!real_cb.VMDeath) {
        take(&snaps[2]);
        snaps[3] = snaps[2];
    }
}

/* ------------------------------------------------------------- output -- */

static void write_snapshot(FILE *f, const snapshot *s)
{
    fprintf(f, "{\"taken\": %d, \"mono_ns\": %llu, \"process_ns\": %llu, \"self_ns\": %llu, \"handler_calls\": %llu, "
               "\"handler_ns\": %llu, \"threads\": [",
            s->taken, (unsigned long long)s->mono_ns, (unsigned long long)s->process_ns,
            (unsigned long long)s->self_ns, (unsigned long long)s->handler_calls, (unsigned long long)s->handler_ns);
    for (int i = 0; i < s->n; i++) {
        fprintf(f, "%s[%d, \"", i ? ", " : "", s->threads[i].tid);
        for (const char *c = s->threads[i].comm; *c; c++)
            fputc(*c == '"' || *c == '\\' ? '_' : *c, f);
        fprintf(f, "\", %llu]", (unsigned long long)s->threads[i].ns);
    }
    fprintf(f, "]}");
}

__attribute__((destructor)) static void write_output(void)
{
    if (!out_path[0])
        return;
    FILE *f = fopen(out_path, "w");
    if (!f)
        return;
    fprintf(f, "{\"onload_self_ns\": %llu, \"onload_process_ns\": %llu, \"onunload_called\": %d, "
               "\"onunload_self_ns\": %llu, \"exit_process_ns\": %llu,\n",
            (unsigned long long)onload_self_ns, (unsigned long long)onload_process_ns, onunload_called,
            (unsigned long long)onunload_self_ns, (unsigned long long)clock_ns(CLOCK_PROCESS_CPUTIME_ID));
    fprintf(f, " \"handler\": {\"signal\": %d, \"wrapped\": %d, \"still_wrapped_at_exit\": %d, \"calls\": %llu, "
               "\"ns\": %llu, \"long_calls\": %llu, \"long_calls_ns\": %llu},\n",
            wrapped_signo, wrap_installed, wrap_still_installed(), (unsigned long long)atomic_load(&handler_calls),
            (unsigned long long)atomic_load(&handler_ns), (unsigned long long)atomic_load(&long_calls),
            (unsigned long long)atomic_load(&long_calls_ns));
    fprintf(f, " \"events\": {");
    for (int i = 0; i < EV_COUNT; i++)
        fprintf(f, "%s\"%s\": [%llu, %llu]", i ? ", " : "", ev_names[i], (unsigned long long)ev_calls[i],
                (unsigned long long)ev_ns[i]);
    fprintf(f, "},\n \"unwrapped_callback_slots\": \"%s\",\n \"snapshots\": [\n", unwrapped);
    for (int i = 0; i < 4; i++) {
        write_snapshot(f, &snaps[i]);
        fprintf(f, i < 3 ? ",\n" : "\n");
    }
    fprintf(f, "]}\n");
    fclose(f);
}

/* ------------------------------------------------------- entry points -- */

static jint (*real_onload(void))(JavaVM *, char *, void *)
{
    return (jint(*)(JavaVM *, char *, void *))dlsym(real_lib, "Agent_OnLoad");
}

JNIEXPORT jint JNICALL Agent_OnLoad(JavaVM *vm, char *options, void *reserved)
{
    char *opts = strdup(options ? options : "");
    char *real_path = strchr(opts, '#'), *real_options = NULL;
    if (real_path) {
        *real_path++ = '\0';
        real_options = strchr(real_path, '#');
        if (real_options)
            *real_options++ = '\0';
    }
    snprintf(out_path, sizeof out_path, "%s", opts);
    if ((*vm)->GetEnv(vm, (void **)&own_env, JVMTI_VERSION_1_2) != JNI_OK) {
        fprintf(stderr, "attribution_agent: no JVMTI\n");
        return JNI_ERR;
    }
    jvmtiEventCallbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.VMInit = own_vm_init;
    cb.VMDeath = own_vm_death;
    (*own_env)->SetEventCallbacks(own_env, &cb, (jint)sizeof cb);
    (*own_env)->SetEventNotificationMode(own_env, JVMTI_ENABLE, JVMTI_EVENT_VM_INIT, NULL);
    (*own_env)->SetEventNotificationMode(own_env, JVMTI_ENABLE, JVMTI_EVENT_VM_DEATH, NULL);
    if (!real_path || !*real_path)
        return JNI_OK;
    if (patch_function_table(own_env) != 0) {
        fprintf(stderr, "attribution_agent: cannot patch the JVMTI function table\n");
        return JNI_ERR;
    }
    uint64_t t0 = clock_ns(CLOCK_THREAD_CPUTIME_ID), p0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
    real_lib = dlopen(real_path, RTLD_LAZY);
    if (!real_lib || !real_onload()) {
        fprintf(stderr, "attribution_agent: cannot load %s: %s\n", real_path, dlerror());
        return JNI_ERR;
    }
    jint rc = real_onload()(vm, real_options ? real_options : (char *)"", reserved);
    onload_self_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID) - t0;
    onload_process_ns = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - p0;
    return rc;
}

JNIEXPORT void JNICALL Agent_OnUnload(JavaVM *vm)
{
    if (!real_lib)
        return;
    void (*unload)(JavaVM *) = (void (*)(JavaVM *))dlsym(real_lib, "Agent_OnUnload");
    onunload_called = 1;
    if (!unload)
        return;
    uint64_t t0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    unload(vm);
    onunload_self_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID) - t0;
}
