/*
 * polyprof core: the only header the runtime bridges include.
 *
 * Threading contract, in short:
 *  - pp_options_*, pp_profile_* and the writers are plain functions over the
 *    caller's objects; they allocate and are not async-signal-safe.
 *  - The sampler is a process-wide singleton (signals are process-wide).
 *    pp_sampler_* calls are serialized internally by one mutex; none of them
 *    may be called from a signal handler.
 *  - pp_runtime.capture is the one bridge callback that runs inside the signal
 *    handler: it must be async-signal-safe (no malloc, no locks, no stdio) and
 *    may only read memory through pp_safe_read / the guarded section the core
 *    sets up around it.
 *  - pp_runtime.resolve_* run on the core's drain thread.
 *
 * Errors are values: functions return 0 / a handle on success and -1 / NULL on
 * failure, with a message naming the problem written to `err` (errlen bytes).
 */
#ifndef POLYPROF_H
#define POLYPROF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Exported from a shared core; a bridge that compiles the core into itself
 * defines PP_API empty so nothing but its own entry point is visible. */
#ifndef PP_API
#if defined(__GNUC__)
#define PP_API __attribute__((visibility("default")))
#else
#define PP_API
#endif
#endif

/* ---------------------------------------------------------------- options */

/* PP_MODE_ALLOC: allocation samples the runtime reports itself (the JVM
 * agent, through pp_events_*); the signal sampler refuses it. */
typedef enum { PP_MODE_CPU = 0, PP_MODE_WALL = 1, PP_MODE_ALLOC = 2 } pp_mode;

typedef enum {
    PP_FORMAT_AUTO = 0,   /* from the file suffix */
    PP_FORMAT_PPROF,      /* gzip-compressed profile.proto (.pb.gz, .pprof) */
    PP_FORMAT_COLLAPSED,  /* "root;...;leaf count" lines (.folded, .collapsed, .txt) */
    PP_FORMAT_TEXT,       /* top-N report (.top) */
    PP_FORMAT_CPUPROFILE, /* Chrome DevTools CPU profile JSON (.cpuprofile) */
    PP_FORMAT_HTML,       /* self-contained interactive flame graph (.html) */
    PP_FORMAT_SPEEDSCOPE, /* speedscope JSON, "sampled" profiles (.speedscope.json) */
} pp_format;

#define PP_PATH_MAX 4096

typedef struct pp_options {
    pp_mode mode;            /* event=cpu|wall                      default cpu  */
    uint64_t interval_ns;    /* interval=10ms (ns, us, ms, s; bare = ms) 10ms */
    uint64_t duration_ns;    /* duration=30s, 0 = until stopped              */
    int native;              /* native=true|false                     true     */
    int signo;               /* signal=SIGPROF|PROF|<number>          SIGPROF  */
    size_t max_memory;       /* memory=64m: cap on the aggregation tables     */
    uint32_t ring_slots;     /* ring=N: raw samples buffered between drains;
                                0 = enough for 250 ms on every CPU, 256-2048 */
    uint32_t wall_threads;   /* wall_threads=16: event=wall signals at most this
                                many threads per interval, rotating through
                                them; each sample weighs the intervals since
                                its thread's last one (1-65536) */
    uint32_t depth;          /* depth=1024: frames kept per stack (8-4096);
                                deeper stacks keep the leaf side, marked
                                [truncated] */
    char file[PP_PATH_MAX];  /* file=out.pb.gz                                */
    pp_format format;        /* format=pprof|collapsed|text|cpuprofile (default: suffix) */
    uint64_t alloc_interval; /* alloc_interval=512k: mean bytes between allocation samples */
    /* Continuous profiling and the local store (pp_continuous_*, pp_store_*). */
    uint64_t window_ns;          /* window=60s: one exported profile per window  */
    char store[PP_PATH_MAX];     /* store=DIR, default ./profiles (POLYPROF_STORE) */
    uint64_t store_max_age_ns;   /* store_max_age=7d                             */
    uint64_t store_max_bytes;    /* store_max_bytes=1g                           */
    char service[128];           /* service=checkout: names stored profiles      */
    /* store_key_file=PATH: the store encrypts (AES-256-GCM) with this key;
     * unset: $POLYPROF_STORE_KEY when set, else no encryption. Only the
     * path is kept here, never key material. */
    char store_key_file[PP_PATH_MAX];
    /* cpu_budget=1%: the profiler's own CPU (signal handler + its threads)
     * against the process's; above it the interval doubles (up to 1s), then
     * sampling stops. 0 = no budget (the default of explicit captures; the
     * production configuration defaults to 1%). */
    double cpu_budget_pct;
    /* Push each continuous window to a Grafana Pyroscope server (push*=
     * keys; credentials never in the options: POLYPROF_PUSH_TOKEN,
     * POLYPROF_PUSH_BASIC_AUTH=user:password or the *_file keys). */
    char push_url[1024];                 /* push=https://pyroscope:4040 (http or https) */
    char push_app[128];                  /* push_app=checkout, default: service, else the runtime */
    char push_tags[1024];                /* push_tags=env=prod;region=eu (';' between tags) */
    char push_tenant[256];               /* push_tenant=ID: the X-Scope-OrgID header */
    char push_ca_file[PP_PATH_MAX];      /* push_ca_file=PATH: CA bundle for https */
    char push_token_file[PP_PATH_MAX];   /* push_token_file=PATH: bearer token */
    char push_basic_auth_file[PP_PATH_MAX]; /* push_basic_auth_file=PATH: user:password */
    uint32_t push_queue;                 /* push_queue=8: windows waiting at most */
    uint64_t push_timeout_ns;            /* push_timeout=10s: one request */
    uint64_t push_flush_ns;              /* push_flush=3s: stop sends what is queued this long at most */
    /* The local HTTP endpoint (pp_endpoint_*): endpoint=127.0.0.1:6060, :0
     * (an ephemeral port on loopback) or a unix socket path; off when empty.
     * A non-loopback address needs endpoint_remote=true and a token. */
    char endpoint[256];
    int endpoint_remote;
    char endpoint_token_file[PP_PATH_MAX]; /* the token's file (else $POLYPROF_ENDPOINT_TOKEN) */
} pp_options;

PP_API void pp_options_default(pp_options *o);
/* Applies "key=value,key=value" on top of *o. Unknown keys and bad values
 * fail with a message naming the key; *o is unchanged on failure. */
PP_API int pp_options_parse(pp_options *o, const char *spec, char *err, size_t errlen);
/* Applies one key. */
PP_API int pp_options_set(pp_options *o, const char *key, const char *value, char *err, size_t errlen);
/* Calls fn(ctx, key, value) for each push* key in force when o->push_url is
 * set (nothing otherwise), in the grammar: bridges that carry options as
 * {key: value} keep them. */
PP_API void pp_options_each_push_key(const pp_options *o, void (*fn)(void *ctx, const char *key, const char *value),
                                     void *ctx);
/* Renders the options back in the grammar (for metadata and logs). */
PP_API void pp_options_format(const pp_options *o, char *out, size_t outlen);
PP_API int pp_format_from_path(const char *path, pp_format *out, char *err, size_t errlen);
PP_API int pp_format_from_name(const char *name, pp_format *out, char *err, size_t errlen);
/* The canonical name of f ("pprof", "collapsed", "speedscope", ...; "auto"). */
PP_API const char *pp_format_name(pp_format f);

/* ---------------------------------------------------------------- profile */

typedef struct pp_profile pp_profile;

typedef struct pp_frame_view {
    const char *name;
    const char *file;     /* "" when unknown */
    int64_t line;         /* 0 when unknown */
    int64_t start_line;
    uint64_t address;
    int kind;             /* 0 native, 1 interpreter, 2 named by the profiler */
    const char *mapping;  /* object path for native frames, "" otherwise */
} pp_frame_view;

typedef struct pp_label_view {
    const char *key;
    const char *str;      /* NULL when numeric */
    int64_t num;
} pp_label_view;

PP_API void pp_profile_free(pp_profile *p);
PP_API size_t pp_profile_num_samples(const pp_profile *p);
PP_API uint32_t pp_profile_num_values(const pp_profile *p);
/* value type names, e.g. ("cpu", "nanoseconds") */
PP_API void pp_profile_value_type(const pp_profile *p, uint32_t index, const char **type, const char **unit);
PP_API int64_t pp_profile_value(const pp_profile *p, size_t sample, uint32_t index);
PP_API uint32_t pp_profile_sample_depth(const pp_profile *p, size_t sample);
/* depth 0 is the leaf */
PP_API void pp_profile_sample_frame(const pp_profile *p, size_t sample, uint32_t depth, pp_frame_view *out);
PP_API uint32_t pp_profile_sample_num_labels(const pp_profile *p, size_t sample);
PP_API void pp_profile_sample_label(const pp_profile *p, size_t sample, uint32_t i, pp_label_view *out);
/* Free-form "key=value" metadata lines (pprof comments). */
PP_API uint32_t pp_profile_num_comments(const pp_profile *p);
PP_API const char *pp_profile_comment(const pp_profile *p, uint32_t i);
PP_API int64_t pp_profile_duration_nanos(const pp_profile *p);

/* Encodes into a malloc'd buffer the caller frees with free(). */
PP_API int pp_profile_encode(const pp_profile *p, pp_format f, int top_n, uint8_t **out, size_t *outlen,
                             char *err, size_t errlen);
/* Writes atomically (temporary file + rename); PP_FORMAT_AUTO picks by suffix. */
PP_API int pp_profile_write_file(const pp_profile *p, const char *path, pp_format f, char *err, size_t errlen);
/* Reads pprof (gzip-compressed or not). */
PP_API pp_profile *pp_profile_decode_pprof(const uint8_t *data, size_t len, char *err, size_t errlen);
/* Reads any format the core reads: pprof, collapsed stacks, speedscope JSON
 * (sampled and evented profiles) or Chrome's .cpuprofile. Others (text,
 * html, auto) fail with a message naming the readable formats. */
PP_API pp_profile *pp_profile_decode(const uint8_t *data, size_t len, pp_format f, char *err, size_t errlen);
/* Differential profile of cur against base, by value type `sample_type`
 * (NULL or "": cur's default, which base must have too); each stack's share
 * of its own profile's total is compared, so profiles of different lengths
 * compare. f: PP_FORMAT_HTML (a differential flame graph: cur's shape, red
 * where the share grew, blue where it shrank, frames only in base listed and
 * drawn in base's shape) or PP_FORMAT_TEXT (functions whose self and
 * cumulative shares changed most, top_n of each). Profiles without a common
 * value type fail with a message naming both sides' types. The result is a
 * malloc'd, NUL-terminated buffer (outlen leaves the NUL out). */
PP_API int pp_profile_diff(const pp_profile *base, const pp_profile *cur, const char *sample_type, pp_format f,
                           int top_n, uint8_t **out, size_t *outlen, char *err, size_t errlen);
/* Text report of the top_n functions by cumulative value `value_index`
 * (-1: the profile's default), with flat and cumulative share, like pstats. */
PP_API int pp_profile_report(const pp_profile *p, int value_index, int top_n, char **out, char *err, size_t errlen);
/* Keeps the samples having label key=value; a new profile. */
PP_API pp_profile *pp_profile_filter_label(const pp_profile *p, const char *key, const char *value);
/* Cuts each stack that has a frame of function `name` (and `file` unless
 * NULL or "") so that the rootmost such frame is its root, as pprof's
 * show_from does. Other samples are dropped, or kept whole when
 * keep_unmatched is set. A new profile. */
PP_API pp_profile *pp_profile_show_from(const pp_profile *p, const char *name, const char *file,
                                        int keep_unmatched);
/* Names threads after the fact: in every sample whose numeric "thread_id"
 * label is tids[i], the "thread_name" label becomes names[i]. */
PP_API int pp_profile_name_threads(pp_profile *p, const int64_t *tids, const char *const *names, size_t n);
/* Merges n profiles with identical sample and period types (else an error
 * naming both kinds) into a new one. With label_key set, every sample of
 * profiles[i] gets the label label_key=label_values[i] (replacing one of
 * that key), so `go tool pprof -tagfocus` splits them again. Frames and
 * mappings are shared by content; start is the earliest, durations add up,
 * the period is the largest (as google/pprof's Merge). Metadata lines are
 * kept, each prefixed "[label_value] " when there are several sources, plus
 * merged_profiles=n. */
PP_API pp_profile *pp_profile_merge(const pp_profile *const *profiles, const char *const *label_values, size_t n,
                                    const char *label_key, char *err, size_t errlen);

/* Building a profile from samples a runtime collected itself (e.g. V8's own
 * CpuProfiler), so it is written by the same writers. Frames are interned by
 * content. */
typedef struct pp_frame_spec {
    const char *name;
    const char *file;     /* NULL or "" when unknown */
    int64_t line;
    int64_t start_line;
    int kind;             /* 0 native, 1 interpreter, 2 named by the profiler */
} pp_frame_spec;

/* value types: n_values (type, unit) pairs, at most 4; the last is the default
 * reports rank by. */
PP_API pp_profile *pp_profile_create(const char *const *types, const char *const *units, uint32_t n_values,
                                     const char *period_type, const char *period_unit, int64_t period);
/* One sample: frames leaf first, labels (str NULL means numeric), values. */
PP_API int pp_profile_append(pp_profile *p, const pp_frame_spec *frames, uint32_t n_frames,
                             const pp_label_view *labels, uint32_t n_labels, const int64_t *values);
PP_API void pp_profile_set_times(pp_profile *p, int64_t time_nanos, int64_t duration_nanos);
/* Adds a "key=value" metadata line. */
PP_API int pp_profile_add_metadata(pp_profile *p, const char *line);

/* ---------------------------------------------------------------- runtimes */

/* One interpreter frame as captured in the signal handler: raw words the
 * bridge decodes later on the drain thread. */
typedef struct pp_raw_frame {
    uintptr_t code;     /* code object / method id */
    uintptr_t check;    /* bridge-defined word read with the frame, to detect reuse */
    uint32_t offset;    /* bytecode / instruction offset */
    uint32_t flags;     /* PP_RAW_* */
} pp_raw_frame;

/* This frame is the rootmost frame one native eval-loop invocation runs
 * (frames are listed leaf first). */
#define PP_RAW_ENTRY 1u
/* Set by mark_entries: the frame was captured but says nothing (e.g. a
 * runtime stub at the top of the stack); the merge leaves it out. */
#define PP_RAW_OMIT 2u

/* Flags the capture hook may report for the whole sample. */
#define PP_CAPTURE_TRUNCATED 1u  /* more frames than fit */
#define PP_CAPTURE_FAULT 2u      /* a read faulted or an object failed validation */

typedef struct pp_resolved_frame {
    char name[256];
    char file[512];
    int64_t line;
    int64_t start_line;
} pp_resolved_frame;

typedef struct pp_addr_range {
    uintptr_t start, end; /* [start, end) */
} pp_addr_range;

#define PP_MAX_RANGES 8

/* The native walk of one sample, as the signal handler's capture_native
 * hook gets it. */
typedef struct pp_native_stack {
    const uintptr_t *pc; /* leaf first; pc[0] is the interrupted pc */
    const uintptr_t *fp; /* the frame pointer register (rbp) while frame i ran; 0 where the unwinder cannot tell */
    int n;
    uint32_t flags; /* the sample's PP_SAMPLE_NATIVE_* flags */
    /* The walk stopped at a frame of the runtime's generated code
     * (pair_from_leaf: pc[n - 1] is its pc): the stack pointer while that
     * frame ran. 0 when the walk ended otherwise, or libunwind took that
     * step (it does not say). */
    uintptr_t stop_sp;
} pp_native_stack;

typedef struct pp_runtime {
    const char *name;     /* "python", "node", "jvm" */
    void *ctx;
    /* Signal handler: async-signal-safe. Writes up to max frames, leaf first;
     * returns how many, and ORs PP_CAPTURE_* into *flags. */
    int (*capture)(void *ctx, void *ucontext, pp_raw_frame *frames, int max, uint32_t *flags);
    /* Optional, signal handler, async-signal-safe: called instead of capture
     * in samples whose native stack was unwound, with what the unwinder
     * found (pp_native_stack). For runtimes whose generated code keeps
     * frame pointers and lays its frames out at fixed offsets from them
     * (V8): their frames are read off the native walk instead of walked a
     * second time. For runtimes whose own walker needs the registers of
     * their first frame (the JVM, interrupted in a native call from its
     * JIT code): the walk's stop gives them. */
    int (*capture_native)(void *ctx, void *ucontext, const pp_native_stack *native, pp_raw_frame *frames, int max,
                          uint32_t *flags);
    /* Drain thread. begin returns 0 when frames may be resolved now (the
     * Python bridge takes the GIL there), nonzero to skip this round. */
    int (*resolve_begin)(void *ctx);
    /* Returns 0 when the result may be cached for this raw key, 1 when it is
     * valid for this sample only, -1 when the frame could not be named. */
    int (*resolve)(void *ctx, const pp_raw_frame *f, pp_resolved_frame *out);
    void (*resolve_end)(void *ctx);
    /* Optional, tried first, outside resolve_begin/end: names a frame
     * without the runtime's lock when it can (e.g. a code object already
     * seen and kept alive). 0 when it did (cacheable), -1 otherwise. */
    int (*resolve_fast)(void *ctx, const pp_raw_frame *f, pp_resolved_frame *out);
    /* Drain thread, between resolve_begin and resolve_end: the runtime's name
     * for a thread seen for the first time (e.g. threading.Thread.name).
     * Returns 0 when it wrote one. Optional. */
    int (*thread_name)(void *ctx, int tid, char *out, size_t len);
    /* Nonzero: the interpreter frames pair with the leafmost eval-range
     * native frame, and every native frame rootward of it is dropped, even
     * when the native unwind reached the root. For the JVM, whose JIT code
     * has no unwind tables: past the first code-cache frame the unwinder
     * guesses, AsyncGetCallTrace does not. */
    int pair_from_leaf;
    /* Native frames in these ranges are the eval loop: each stands for the
     * interpreter frames of one invocation (mixed mode). */
    pp_addr_range eval[PP_MAX_RANGES];
    size_t n_eval;
    /* Native frames in these ranges belong to the interpreter. Those whose
     * symbol is_plumbing() calls call machinery (vectorcall trampolines and
     * the like) are dropped wherever they stand; the others (builtins doing
     * real work) stay. Everything above the rootmost interpreter frame
     * (process and thread entry) is dropped. Drain thread; once per pc. */
    pp_addr_range plumbing[PP_MAX_RANGES];
    size_t n_plumbing;
    int (*is_plumbing)(void *ctx, const char *symbol);
    /* Optional, drain thread, for runtimes whose code is generated at run
     * time and has no fixed address range (V8's JIT code, its remapped
     * builtins): what the native frame at pc is, as PP_NATIVE_*. Not cached
     * by the core: the same address may hold other code later. */
    int (*classify_native)(void *ctx, uintptr_t pc);
    /* Optional, drain thread, before the merge: flags the rootmost
     * interpreter frame of each eval-loop invocation PP_RAW_ENTRY, for
     * runtimes whose capture cannot tell where one invocation ends (V8's
     * stack sample lists the frames of every JavaScript entry as one run).
     * native is leaf first, as unwound. */
    void (*mark_entries)(void *ctx, const uintptr_t *native, int n_native, pp_raw_frame *interp, int n_interp);
    /* Optional: one "key=value" metadata line added to every profile
     * exported with this runtime (e.g. how its frames are read, or that
     * they are not). Read at each export: the bridge may rewrite it while
     * no sampler runs. */
    const char *note;
    /* Optional, signal handler, async-signal-safe: a read in capture faulted
     * and the fault guard cut capture short. For a bridge that changes the
     * runtime's state for the length of a walk (the JVM agent points
     * HotSpot's frame anchor past a stub) to put it back. */
    void (*capture_fault)(void *ctx);
    /* Nonzero: the bridge tells the core of each thread as it starts
     * (pp_sampler_add_current_thread) and its raw frames stay resolvable
     * for longer than a drain tick (the JVM's method ids), so in cpu mode
     * the sampler thread may sleep 100 ms rather than 20 while few samples
     * come, and rescans /proc for threads only when their count changed
     * (at least once a second). Zero keeps the 20 ms tick and the 100 ms
     * scan (a Python code object may die between sample and drain). */
    int quiet_ticks;
} pp_runtime;

/* classify_native results. */
#define PP_NATIVE_UNKNOWN 0  /* decide by the ranges and symbols above */
#define PP_NATIVE_EVAL 1     /* stands for one invocation's interpreter frames */
#define PP_NATIVE_PLUMBING 2 /* runtime machinery: dropped */
#define PP_NATIVE_KEEP 3     /* an ordinary native frame */

/* Registers the bridge; call once before the first start. The struct is copied. */
PP_API int pp_sampler_set_runtime(const pp_runtime *rt, char *err, size_t errlen);
/* The registered runtime's name ("python", "node", "jvm"), "" when none. */
PP_API void pp_sampler_runtime_name(char *out, size_t len);

/* Address range of a named function in the loaded objects (ELF symbol tables);
 * also finds "<name>.cold" style parts when `with_parts` is set: returns how
 * many ranges were written. */
PP_API int pp_symbols_function_ranges(const char *name, int with_parts, pp_addr_range *out, int max);
/* The same, in the one loaded object that holds in_object: for a caller
 * that knows where the function lives, which then costs a scan of that
 * object's symbols instead of opening and scanning every object mapped
 * (0 when in_object is in no loaded object). */
PP_API int pp_symbols_function_ranges_in(uintptr_t in_object, const char *name, int with_parts, pp_addr_range *out,
                                         int max);
/* Range of the loaded object that contains addr. */
PP_API int pp_symbols_object_range(uintptr_t addr, pp_addr_range *out);

/* ---------------------------------------------------------------- sampling */

typedef struct pp_collector pp_collector;

/* Starts a collector. The first one starts the sampler with its options
 * (mode, interval, signal, native); later ones share the running sampler and
 * must ask for the same mode. A collector with filter_key set keeps only
 * samples carrying that label (key=value). */
PP_API pp_collector *pp_collector_start(const pp_options *o, const char *filter_key, const char *filter_value,
                                        char *err, size_t errlen);
/* Stops the collector and returns what it aggregated. The sampler stops with
 * its last collector. Never NULL unless out of memory. */
PP_API pp_profile *pp_collector_stop(pp_collector *c);
/* What it has so far, without stopping. */
PP_API pp_profile *pp_collector_snapshot(pp_collector *c);
/* Deadline (CLOCK_MONOTONIC ns) from the collector's duration, 0 when none. */
PP_API uint64_t pp_collector_deadline(const pp_collector *c);
PP_API int pp_sampler_running(void);
/* What the collector has aggregated since it started or was last rotated;
 * it then starts afresh (its table, times and counters), so memory stays flat
 * over any number of windows. NULL if c is not running or out of memory. */
PP_API pp_profile *pp_collector_rotate(pp_collector *c);
/* Covers the calling thread now instead of at the next periodic scan of the
 * process's threads (every 100 ms): bridges call it when the runtime starts
 * a thread. No-op when the sampler is stopped. */
PP_API int pp_sampler_add_current_thread(void);
/* The runtime names threads differently now (a new thread registered, a
 * thread id reused): thread names are asked for again. Any thread; not from
 * a signal handler. */
PP_API void pp_sampler_thread_names_changed(void);

/* Every sample whose interpreter frames include `code` gets label key=value
 * while the rule is registered. */
PP_API int pp_sampler_add_code_label(uintptr_t code, const char *key, const char *value);
PP_API void pp_sampler_remove_code_label(uintptr_t code);

typedef struct pp_sampler_stats {
    uint64_t samples;          /* taken in the signal handler */
    uint64_t dropped_ring;     /* ring full */
    uint64_t dropped_memory;   /* aggregation table at its cap */
    uint64_t unwind_failed;
    uint64_t truncated;
    uint64_t threads;          /* threads with a timer now */
    uint64_t handler_ns;       /* time spent in the signal handler */
    uint64_t drain_cpu_ns;     /* CPU of the drain thread */
    double overhead_pct;       /* handler + drain CPU against the process's, this session */
    uint64_t interval_ns;      /* the sampling interval now (the CPU budget may raise it) */
    int budget_stopped;        /* the CPU budget stopped sampling */
    int running;               /* the sampler runs now */
    uint32_t collectors;       /* captures (collectors) running now */
} pp_sampler_stats;

PP_API void pp_sampler_get_stats(pp_sampler_stats *out);

/* ---------------------------------------------------------------- production configuration */

/* The environment's configuration, the same for every runtime:
 *   ENABLE_PROFILING=true        profiling on (default off)
 *   PROFILE_INTERVAL_MS=100      sampling interval (default 100; below 10 raised to 10, warned)
 *   PROFILE_MAX_DURATION=60      hard maximum of one capture in seconds (default 60; above 300 capped, warned)
 *   POLYPROF_OPTIONS=k=v,...     the option grammar for everything else
 *   POLYPROF_STORE=DIR           the local store (default ./profiles)
 *   POLYPROF_STORE_KEY=KEY       encrypts the store (64 hex digits or base64 of 32 bytes); checked here
 * The same clamping applies to interval and duration given in POLYPROF_OPTIONS. */
#define PP_ENV_MAX_WARNINGS 4
typedef struct pp_env_config {
    int enabled;
    pp_options options; /* duration_ns is the hard maximum of a capture (a continuous window) */
    char warnings[PP_ENV_MAX_WARNINGS][256];
    int n_warnings;
} pp_env_config;

/* get: getenv, or a stand-in for tests. Returns 0, or -1 with a message naming
 * the variable and key (profiling must then stay off). */
PP_API int pp_env_config_read(pp_env_config *out, const char *(*get)(const char *name), char *err, size_t errlen);

/* ---------------------------------------------------------------- local store */

/* A directory of gzip pprof files named <service>_<type>_<UTC start>_<trigger>.pb.gz
 * with an index (index.tsv); retention by age and total size, oldest removed
 * first, enforced on every put. */
typedef struct pp_store pp_store;
typedef struct pp_store_entry {
    char file[256];     /* name inside the store's directory */
    char service[128];
    char type[32];      /* cpu, wall, alloc */
    char trigger[64];   /* continuous, p95, manual, ... */
    int64_t start_unix_ns;
    uint64_t bytes;
    int encrypted;      /* a .pb.gz.enc file (AES-256-GCM) */
} pp_store_entry;

/* Creates the directory if needed. */
PP_API pp_store *pp_store_open(const char *dir, uint64_t max_age_ns, uint64_t max_bytes, char *err, size_t errlen);
/* The same, with encryption at rest: the key comes from key_file when set
 * (32 raw bytes, or the text form), else from the environment variable
 * POLYPROF_STORE_KEY when set (64 hex digits, or base64 of 32 bytes). Puts
 * then write <...>.pb.gz.enc: AES-256-GCM, a random 96-bit nonce per file,
 * the header authenticated. A bad key fails here, with a message naming its
 * source. The key is copied into the store and wiped at close. */
PP_API pp_store *pp_store_open_keyed(const char *dir, uint64_t max_age_ns, uint64_t max_bytes, const char *key_file,
                                     char *err, size_t errlen);
/* Whether a store key is configured (key_file, else POLYPROF_STORE_KEY) and
 * valid, without keeping it: 1 yes, 0 none, -1 err names the source. For
 * entry points that open their store later but must fail at start. */
PP_API int pp_store_key_check(const char *key_file, char *err, size_t errlen);
/* 1 when puts encrypt (the store has a key). */
PP_API int pp_store_encrypts(const pp_store *s);
/* Wipes the key, if any. */
PP_API void pp_store_close(pp_store *s);
/* Writes p; path_out (optional) gets the file's path. Then enforces retention. */
PP_API int pp_store_put(pp_store *s, const pp_profile *p, const char *service, const char *type, const char *trigger,
                        int64_t start_unix_ns, char *path_out, size_t path_len, char *err, size_t errlen);
/* Entries oldest first (from the files present; the index is rewritten to
 * match). *out is malloc'ed; returns the count or -1. */
PP_API int pp_store_list(pp_store *s, pp_store_entry **out, char *err, size_t errlen);
/* Applies retention as of now_unix_ns; returns how many files were removed. */
PP_API int pp_store_prune(pp_store *s, int64_t now_unix_ns);
/* Reads a stored profile back: file is a name from pp_store_list or a path
 * (with a '/'); an encrypted file is decrypted with the store's key. A wrong
 * key, a changed or truncated file: NULL, "cannot decrypt <path>: wrong key
 * or the file was modified"; no key: "<path> is encrypted: ...". */
PP_API pp_profile *pp_store_read(pp_store *s, const char *file, char *err, size_t errlen);

/* ---------------------------------------------------------------- continuous profiling */

typedef struct pp_window_info {
    uint64_t index;          /* 0, 1, 2, ... */
    int64_t start_unix_ns, end_unix_ns;
} pp_window_info;

/* Receives each finished window, on the core's continuous thread; takes
 * ownership of window. Returns 0, or -1 when it failed (counted). */
typedef int (*pp_window_fn)(void *ctx, pp_profile *window, const pp_window_info *info);

typedef struct pp_continuous pp_continuous;

/* Samples at o->interval_ns and hands over one profile per o->window_ns (at
 * most o->duration_ns when that is set: every capture has a hard maximum).
 * fn NULL: windows go to the local store o->store as <service>_<event>_..._continuous.pb.gz. */
PP_API pp_continuous *pp_continuous_start(const pp_options *o, pp_window_fn fn, void *ctx, char *err, size_t errlen);
/* Hands over the last, partial window, then stops. */
PP_API void pp_continuous_stop(pp_continuous *c);
PP_API uint64_t pp_continuous_windows(const pp_continuous *c);      /* exported so far */
PP_API uint64_t pp_continuous_export_failures(const pp_continuous *c);

/* With o->push_url set, every window is also pushed to that Pyroscope
 * server (POST /ingest, format=pprof) from a bounded queue on a thread of
 * the core's; the exporter (or the store) gets it as before. */
typedef struct pp_push_stats {
    uint64_t pushed;             /* windows the server accepted (2xx) */
    uint64_t failed_attempts;    /* requests that failed (network, timeout, 429, 5xx): retried with backoff */
    uint64_t dropped_queue_full; /* windows dropped, oldest first, because the queue was full */
    uint64_t dropped_rejected;   /* windows the server refused (4xx other than 429): not retried */
    uint64_t queued;             /* windows waiting now, the one being sent included */
} pp_push_stats;
/* Returns 0, or -1 when c does not push (out zeroed). Any thread. */
PP_API int pp_continuous_push_stats(const pp_continuous *c, pp_push_stats *out);
/* pp_continuous_stop that reports the push counters after the last flush
 * (zeroed when c did not push); returns 0 when c pushed, -1 otherwise. */
PP_API int pp_continuous_finish(pp_continuous *c, pp_push_stats *push_out);
/* A Pyroscope pusher of the bridge's own, for windows the core's continuous
 * profiler does not make (the bridges' allocation windows): the same queue,
 * uploader thread, credentials and counters as a continuous profile's push.
 * Opened from o->push_* (o->push_url set); the application is o->push_app,
 * else o->service, else the runtime's name, as for continuous windows. */
typedef struct pp_push pp_push;
PP_API pp_push *pp_push_open(const pp_options *o, char *err, size_t errlen);
/* Encodes p (gzip pprof) and queues it for [start, end): O(1) on the
 * network's side, never waits for it. 0, or -1 with err when p cannot be
 * encoded. Any thread, one at a time. */
PP_API int pp_push_profile(pp_push *push, const pp_profile *p, int64_t start_unix_ns, int64_t end_unix_ns, char *err,
                           size_t errlen);
PP_API void pp_push_get_stats(pp_push *push, pp_push_stats *out);
/* Sends what is queued for at most push_flush, stops the uploader and frees
 * push; final (optional) gets the counters as they ended. */
PP_API void pp_push_stop(pp_push *push, pp_push_stats *final);

/* pp_continuous_stop for a latency-sensitive thread (a tripped circuit
 * breaker): the queued windows are pushed in the background, for push_flush
 * at most, instead of before it returns. */
PP_API void pp_continuous_stop_nowait(pp_continuous *c);

/* ---------------------------------------------------------------- latency policies */

/* Every function takes the time (CLOCK_MONOTONIC ns, pp_now_ns()) from the
 * caller, so that tests can drive them with their own clock. Not thread-safe
 * by themselves: bridges serialize calls on one object. */

/* Circuit breaker on application latency. A baseline is learned from the
 * latencies recorded while not profiling (or given per call); while
 * profiling, a latency above baseline * (1 + max_increase_pct / 100) is a
 * violation, a good one takes one violation back; violation_threshold
 * violations in a row trip it: it opens (profiling must stop) and stays
 * open for cooldown_ns. */
typedef struct pp_breaker pp_breaker;
typedef struct pp_breaker_state {
    int open;
    uint64_t trips;
    uint64_t last_trip_ns;  /* 0: never */
    int violations;
    double baseline_ms;     /* learned; 0 until the first latency outside profiling */
} pp_breaker_state;
PP_API pp_breaker *pp_breaker_new(double max_increase_pct, int violation_threshold, uint64_t cooldown_ns, char *err,
                                  size_t errlen);
PP_API void pp_breaker_free(pp_breaker *b);
/* baseline_ms < 0: against the learned baseline. profiling: whether a capture
 * runs now (latencies outside profiling teach the baseline). Returns 1 when
 * this call tripped the breaker. */
PP_API int pp_breaker_record(pp_breaker *b, double current_ms, double baseline_ms, int profiling, uint64_t now_ns);
PP_API int pp_breaker_can_profile(pp_breaker *b, uint64_t now_ns);
PP_API void pp_breaker_get_state(pp_breaker *b, uint64_t now_ns, pp_breaker_state *out);
/* The states of every live breaker of the process (oldest first), for status
 * reports from any thread: writes at most max, returns how many there are.
 * Each breaker has its own lock, so this may run while a bridge records. */
PP_API int pp_breaker_list_states(pp_breaker_state *out, int max, uint64_t now_ns);

/* At most max_captures per window_ns, for every trigger of the process. */
PP_API int pp_rate_limit_configure(uint32_t max_captures, uint64_t window_ns, char *err, size_t errlen);
/* Takes one capture from the process-wide limiter: 1 when allowed. */
PP_API int pp_rate_limit_take(uint64_t now_ns);
PP_API void pp_rate_limit_reset(void);

/* Latency trigger: the p95 of the last 100 latencies (once there are 20)
 * above threshold_ms fires, at most once per cooldown_ns and within the
 * process-wide rate limit. */
typedef struct pp_trigger pp_trigger;
PP_API pp_trigger *pp_trigger_new(double threshold_ms, uint64_t cooldown_ns, char *err, size_t errlen);
PP_API void pp_trigger_free(pp_trigger *t);
/* Returns 1 when a capture should start now (cooldown and the rate limit are
 * then taken), with the p95 in *p95_ms (always set once there are 20 values). */
PP_API int pp_trigger_record(pp_trigger *t, double latency_ms, uint64_t now_ns, double *p95_ms);
/* A manual or scheduled trigger: the same cooldown-free path through the rate
 * limit. Returns 1 when allowed. */
PP_API int pp_trigger_manual(pp_trigger *t, uint64_t now_ns);
PP_API double pp_trigger_p95(pp_trigger *t); /* -1 with fewer than 20 values */

/* ---------------------------------------------------------------- timed captures */

/* One capture of o->duration_ns (required) on the shared sampler; when it
 * ends (or is cancelled) its profile goes to fn on a thread of the core's.
 * The triggered profilers' high-fidelity captures. */
typedef struct pp_capture pp_capture;
typedef struct pp_capture_info {
    int64_t start_unix_ns, end_unix_ns;
} pp_capture_info;
typedef int (*pp_capture_fn)(void *ctx, pp_profile *profile, const pp_capture_info *info);
PP_API pp_capture *pp_capture_start(const pp_options *o, pp_capture_fn fn, void *ctx, char *err, size_t errlen);
PP_API int pp_capture_done(pp_capture *c);
/* Ends the capture now if it still runs (fn gets what it has), waits for fn,
 * and frees it. */
PP_API void pp_capture_finish(pp_capture *c);

/* ---------------------------------------------------------------- local endpoint */

/* An HTTP server on native threads of the core (libmicrohttpd), in Go's
 * net/http/pprof conventions, so `go tool pprof http://HOST:PORT/debug/pprof/profile`
 * and scrapers such as Parca work against any runtime:
 *   GET  /debug/pprof/               index
 *   GET  /debug/pprof/profile?seconds=N   gzip pprof of a fresh N-second CPU
 *        capture on the shared sampler (default 30, at most o->duration_ns,
 *        60 s when 0; above it 400 naming the cap)
 *   GET  /debug/pprof/allocs, /heap  through hooks->memory_profile (404 without)
 *   GET  /polyprof/status            JSON: sampler, captures, breakers, overhead
 *   POST /polyprof/trigger?seconds=N a capture to the local store (o->store),
 *        under the process-wide rate limiter: 202, or 429
 * One capture at a time (429 with Retry-After otherwise). Nothing runs on the
 * runtime's threads: it answers while the runtime is wedged. Threads it creates
 * block every asynchronous signal (the sampler's included). One endpoint per
 * process. After fork() the child has none (its copy of the listening socket
 * is closed; the parent keeps serving); it may start its own. */
typedef enum { PP_MEMORY_ALLOCS = 0, PP_MEMORY_HEAP = 1 } pp_memory_kind;

typedef struct pp_endpoint_hooks {
    const char *runtime;  /* "python", "node", "jvm": in /polyprof/status */
    void *ctx;
    /* Optional: the allocation (PP_MEMORY_ALLOCS) or live-heap profile now.
     * Called on a thread of the endpoint's, never the runtime's: it must not
     * wait for the runtime without a bound. NULL with a message in err: the
     * request gets 404 with that message. The endpoint frees the profile. */
    pp_profile *(*memory_profile)(void *ctx, pp_memory_kind kind, char *err, size_t errlen);
    /* Optional: extra members for /polyprof/status, as JSON text
     * `"key": value, ...` without braces. Returns 0 when it wrote some.
     * Same thread rules as memory_profile. */
    int (*status_json)(void *ctx, char *out, size_t len);
} pp_endpoint_hooks;

typedef struct pp_endpoint pp_endpoint;

/* Serves on o->endpoint with the token from o->endpoint_token_file or
 * $POLYPROF_ENDPOINT_TOKEN (then every request needs "Authorization: Bearer
 * <token>"). Fails with a message naming the option: a bad address, a
 * non-loopback address without endpoint_remote=true and a token, a busy
 * port, a second endpoint. hooks may be NULL; it is copied. */
PP_API pp_endpoint *pp_endpoint_start(const pp_options *o, const pp_endpoint_hooks *hooks, char *err,
                                      size_t errlen);
/* Ends a running capture (its client gets what was sampled), stops serving,
 * joins the threads, removes a unix socket. NULL is fine. */
PP_API void pp_endpoint_stop(pp_endpoint *e);
/* "127.0.0.1:43817", "[::1]:6060" or "unix:/path": the bound address (the
 * real port when asked for port 0). */
PP_API void pp_endpoint_address(const pp_endpoint *e, char *out, size_t len);
PP_API int pp_endpoint_port(const pp_endpoint *e); /* 0 for a unix socket */

/* Reads len bytes at src into dst without crashing on unmapped memory: for
 * the capture hook. Returns 0, or -1 when the read faulted. */
PP_API int pp_safe_read(void *dst, const void *src, size_t len);

/* Monotonic clock in ns. */
PP_API uint64_t pp_now_ns(void);

/* The calling thread's kernel thread id (gettid), cached per thread, so the
 * capture hook can read it without a system call. Async-signal-safe; right
 * in a fork's child too (the cache is reset there by an atfork handler: a
 * process forked with a raw clone/fork system call, bypassing the C library,
 * is not covered). */
PP_API int pp_thread_id(void);

/* ---------------------------------------------------------------- events */

/* Event profiles: samples a runtime reports from its own callbacks, not from
 * the core's signal (the JVM's sampled allocations): a raw interpreter stack
 * and caller-given values per sample, aggregated by stack under a memory cap
 * (past it, into one "[overflow: profiler memory cap reached]" sample), named
 * at export through the runtime's resolve hooks. Thread-safe (one mutex);
 * not async-signal-safe. */
typedef struct pp_events pp_events;

/* The deepest depth= (4096), and a "[truncated]" mark at the cut. */
#define PP_MAX_EVENT_FRAMES 4097

/* n_values (type, unit) pairs, at most 4; the last is the default. */
PP_API pp_events *pp_events_new(const char *const *types, const char *const *units, uint32_t n_values,
                                const char *period_type, const char *period_unit, int64_t period,
                                size_t max_memory);
/* One sample: an optional named leaf frame (e.g. the allocated class), then
 * frames leaf first (at most PP_MAX_EVENT_FRAMES), and n_values values.
 * Returns 0, or -1 when the sample went to the overflow stack. */
PP_API int pp_events_record(pp_events *e, const char *leaf_name, const pp_raw_frame *frames, uint32_t n_frames,
                            const int64_t *values);
/* A profile of everything recorded so far; frames are named through rt
 * (resolve_fast, then resolve_begin/resolve/resolve_end on the calling
 * thread); those it cannot name read "[unresolved frame]". */
PP_API pp_profile *pp_events_export(pp_events *e, const pp_runtime *rt);
PP_API void pp_events_free(pp_events *e);

/* ---------------------------------------------------------------- heap tracker */

/* Sampled allocations with live-heap tracking, for runtimes that hook their
 * allocator (the Python bridge's PyMem hooks): each sampled block's stack
 * and weighted size, and, until it is freed, its place in the live heap. The
 * runtime decides which allocations to sample (on average one per
 * `interval` bytes, exponentially spaced, as Go's MemProfileRate); the
 * tracker weights each sample by 1/(1-e^(-size/interval)) so totals estimate
 * every allocation. Profiles have the values alloc_objects/count,
 * alloc_space/bytes, inuse_objects/count, inuse_space/bytes (Go's heap
 * profile). Memory: the stacks and the live-block table share max_memory;
 * past it samples go to the overflow stack and blocks are not tracked
 * (counted). Thread-safe (one mutex); not async-signal-safe. Every free of
 * the runtime should first ask the lock-free pp_heap_maybe_tracked
 * (core/src/heap_tracker.h) and call pp_heap_record_free only when it says
 * maybe. */
typedef struct pp_heap pp_heap;

/* A tracked block's share of the live heap. */
typedef struct pp_heap_block {
    uint32_t stack;
    int64_t count, bytes; /* weighted */
} pp_heap_block;

PP_API pp_heap *pp_heap_new(uint64_t interval, size_t max_memory);
/* Only when no thread can call into it any more. */
PP_API void pp_heap_free(pp_heap *h);
/* A sampled allocation of size bytes at addr, frames leaf first (leaf_name
 * as in pp_events_record). A block already tracked at addr (its free was
 * missed) leaves the live heap first. 0, or -1 when it went to the overflow. */
PP_API int pp_heap_record_alloc(pp_heap *h, uintptr_t addr, uint64_t size, const char *leaf_name,
                                const pp_raw_frame *frames, uint32_t n_frames);
/* addr was freed: 1 when it was tracked (its live values are taken back). */
PP_API int pp_heap_record_free(pp_heap *h, uintptr_t addr);
/* For realloc: takes the block at addr out of the table, still live (1 when
 * it was tracked), and puts it back at its new address. */
PP_API int pp_heap_detach(pp_heap *h, uintptr_t addr, pp_heap_block *out);
PP_API void pp_heap_attach(pp_heap *h, uintptr_t addr, const pp_heap_block *b);
/* The profile so far. inuse_default: inuse_space is the last value (the
 * default, as in Go's /debug/pprof/heap); else alloc_space is (allocs). */
PP_API pp_profile *pp_heap_export(pp_heap *h, int inuse_default, const pp_runtime *rt);
/* The profile so far, then allocations start a new window: alloc values go
 * back to zero, live blocks and their inuse values carry over. */
PP_API pp_profile *pp_heap_rotate(pp_heap *h, int inuse_default, const pp_runtime *rt);
PP_API size_t pp_heap_live_blocks(pp_heap *h);

#ifdef __cplusplus
}
#endif

#endif
