/* The one option grammar: "key=value,key=value". Every entry point (agent
 * string, POLYPROF_OPTIONS, Python keyword arguments, Node option objects)
 * funnels through pp_options_set, so a key means the same thing everywhere. */
#include "polyprof.h"
#include "push.h"
#include "endpoint_listen.h"
#include "raw_sample.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PP_DEFAULT_INTERVAL_NS 10000000ULL
#define PP_DEFAULT_MAX_MEMORY (64u << 20)
/* async-profiler's wall clock also signals 16 threads per tick: enough that
 * a handful of busy threads are sampled every tick, few enough that a pool of
 * hundreds of idle ones costs what 16 do. */
#define PP_DEFAULT_WALL_THREADS 16u
#define PP_DEFAULT_ALLOC_INTERVAL (512u << 10)
#define PP_DEFAULT_WINDOW_NS 60000000000ULL
#define PP_DEFAULT_STORE_MAX_AGE_NS (7ULL * 86400 * 1000000000ULL)
#define PP_DEFAULT_STORE_MAX_BYTES (1ULL << 30)
#define PP_DEFAULT_PUSH_QUEUE 8u
#define PP_DEFAULT_PUSH_TIMEOUT_NS 10000000000ULL
#define PP_DEFAULT_PUSH_FLUSH_NS 3000000000ULL

void pp_options_default(pp_options *o)
{
    memset(o, 0, sizeof *o);
    o->mode = PP_MODE_CPU;
    o->interval_ns = PP_DEFAULT_INTERVAL_NS;
    o->native = 1;
    o->signo = SIGPROF;
    o->max_memory = PP_DEFAULT_MAX_MEMORY;
    o->ring_slots = 0; /* sized by the sampler from the interval and the CPUs */
    o->depth = PP_DEPTH_DEFAULT;
    o->wall_threads = PP_DEFAULT_WALL_THREADS;
    o->format = PP_FORMAT_AUTO;
    o->alloc_interval = PP_DEFAULT_ALLOC_INTERVAL;
    o->window_ns = PP_DEFAULT_WINDOW_NS;
    snprintf(o->store, sizeof o->store, "profiles");
    o->store_max_age_ns = PP_DEFAULT_STORE_MAX_AGE_NS;
    o->store_max_bytes = PP_DEFAULT_STORE_MAX_BYTES;
    o->push_queue = PP_DEFAULT_PUSH_QUEUE;
    o->push_timeout_ns = PP_DEFAULT_PUSH_TIMEOUT_NS;
    o->push_flush_ns = PP_DEFAULT_PUSH_FLUSH_NS;
}

static int fail(char *err, size_t errlen, const char *key, const char *value, const char *why)
{
    if (err && errlen)
        snprintf(err, errlen, "option '%s': invalid value '%s': %s", key, value, why);
    return -1;
}

/* Durations: "10ms", "250us", "30s", "5m", "1h", "7d"; a bare number is in
 * default_unit_ns. Rejects negatives, garbage and overflow. */
static int parse_duration(const char *v, uint64_t default_unit_ns, uint64_t *out)
{
    /* Decimal only: strtod would also take "nan", "inf" and hex. */
    if (!isdigit((unsigned char)*v) && *v != '.')
        return -1;
    errno = 0;
    char *end;
    double num = strtod(v, &end);
    if (errno || end == v || !(num >= 0) || !isfinite(num) || strspn(v, "0123456789.eE+-") < (size_t)(end - v))
        return -1;
    double unit;
    if (!*end)
        unit = (double)default_unit_ns;
    else if (!strcmp(end, "ns"))
        unit = 1;
    else if (!strcmp(end, "us"))
        unit = 1e3;
    else if (!strcmp(end, "ms"))
        unit = 1e6;
    else if (!strcmp(end, "s"))
        unit = 1e9;
    else if (!strcmp(end, "m") || !strcmp(end, "min"))
        unit = 60e9;
    else if (!strcmp(end, "h"))
        unit = 3600e9;
    else if (!strcmp(end, "d"))
        unit = 86400e9;
    else
        return -1;
    double ns = num * unit;
    if (!(ns <= 1e18)) /* NaN fails too: converting it to an integer is undefined */
        return -1;
    *out = (uint64_t)(ns + 0.5);
    return 0;
}

/* Sizes: "64m", "512k", "1g", bytes when bare. */
static int parse_size(const char *v, uint64_t *out)
{
    if (!*v || !isdigit((unsigned char)*v))
        return -1;
    errno = 0;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno)
        return -1;
    uint64_t mul = 1;
    if (!*end)
        mul = 1;
    else if (!strcasecmp(end, "k") || !strcasecmp(end, "kb") || !strcasecmp(end, "kib"))
        mul = 1ULL << 10;
    else if (!strcasecmp(end, "m") || !strcasecmp(end, "mb") || !strcasecmp(end, "mib"))
        mul = 1ULL << 20;
    else if (!strcasecmp(end, "g") || !strcasecmp(end, "gb") || !strcasecmp(end, "gib"))
        mul = 1ULL << 30;
    else
        return -1;
    if (n > UINT64_MAX / mul)
        return -1;
    *out = n * mul;
    return 0;
}

static int parse_bool(const char *v, int *out)
{
    if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes") || !strcasecmp(v, "on")) {
        *out = 1;
        return 0;
    }
    if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no") || !strcasecmp(v, "off")) {
        *out = 0;
        return 0;
    }
    return -1;
}

static const struct {
    const char *name;
    int signo;
} signal_names[] = {
    {"PROF", SIGPROF}, {"VTALRM", SIGVTALRM}, {"ALRM", SIGALRM}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2},
};

#ifdef __SIGRTMIN
#define RESERVED_RT_FIRST __SIGRTMIN
#else
#define RESERVED_RT_FIRST 32
#endif

static int parse_signal(const char *v, int *out)
{
    const char *name = v;
    if (!strncasecmp(name, "SIG", 3))
        name += 3;
    for (size_t i = 0; i < sizeof signal_names / sizeof signal_names[0]; i++) {
        if (!strcasecmp(name, signal_names[i].name)) {
            *out = signal_names[i].signo;
            return 0;
        }
    }
    if (!strncasecmp(name, "RTMIN+", 6)) {
        char *end;
        long k = strtol(name + 6, &end, 10);
        if (*end || k < 0 || k > SIGRTMAX - SIGRTMIN)
            return -1;
        *out = SIGRTMIN + (int)k;
        return 0;
    }
    char *end;
    long n = strtol(v, &end, 10);
    /* Below SIGRTMIN, glibc keeps real-time signals for its thread library
     * (32 and 33 on Linux): taking one breaks pthread cancellation and setxid. */
    int reserved_by_libc = n >= RESERVED_RT_FIRST && n < SIGRTMIN;
    if (*v && !*end && n > 0 && n < NSIG && n != SIGKILL && n != SIGSTOP && n != SIGSEGV && n != SIGBUS &&
        n != SIGILL && n != SIGFPE && !reserved_by_libc) {
        *out = (int)n;
        return 0;
    }
    return -1;
}

/* A string key into a fixed buffer; the check (optional) says what is wrong. */
static int set_text(char *dst, size_t cap, const char *key, const char *value, int (*check)(const char *, char *, size_t),
                    const char *expected, char *err, size_t errlen)
{
    char why[256];
    if (!*value || strlen(value) >= cap)
        return fail(err, errlen, key, value, expected);
    if (check && check(value, why, sizeof why) != 0)
        return fail(err, errlen, key, value, why);
    snprintf(dst, cap, "%s", value);
    return 0;
}

static int check_tenant(const char *v, char *why, size_t len)
{
    for (; *v; v++)
        if ((unsigned char)*v <= ' ' || *v == 0x7f) {
            snprintf(why, len, "a tenant ID has no spaces or control characters");
            return -1;
        }
    return 0;
}

/* push*: pushing continuous windows to Pyroscope (push.c). Secrets are not
 * keys: the option string is visible in ps. */
static int set_push_option(pp_options *o, const char *key, const char *value, char *err, size_t errlen)
{
    uint64_t u;
    if (!strcmp(key, "push"))
        return set_text(o->push_url, sizeof o->push_url, key, value, pp_push_check_url,
                        "expected the Pyroscope server's URL, such as http://pyroscope:4040", err, errlen);
    if (!strcmp(key, "push_app"))
        return set_text(o->push_app, sizeof o->push_app, key, value, pp_push_check_app,
                        "expected a name of 1 to 127 characters", err, errlen);
    if (!strcmp(key, "push_tags")) {
        char why[256];
        if (strlen(value) >= sizeof o->push_tags)
            return fail(err, errlen, key, value, "at most 1023 characters");
        if (pp_push_check_tags(value, why, sizeof why) != 0)
            return fail(err, errlen, key, value, why);
        snprintf(o->push_tags, sizeof o->push_tags, "%s", value);
        return 0;
    }
    if (!strcmp(key, "push_tenant"))
        return set_text(o->push_tenant, sizeof o->push_tenant, key, value, check_tenant,
                        "expected a tenant ID of 1 to 255 characters", err, errlen);
    if (!strcmp(key, "push_ca_file"))
        return set_text(o->push_ca_file, sizeof o->push_ca_file, key, value, NULL, "expected a path", err, errlen);
    if (!strcmp(key, "push_token_file"))
        return set_text(o->push_token_file, sizeof o->push_token_file, key, value, NULL, "expected a path", err,
                        errlen);
    if (!strcmp(key, "push_basic_auth_file"))
        return set_text(o->push_basic_auth_file, sizeof o->push_basic_auth_file, key, value, NULL, "expected a path",
                        err, errlen);
    if (!strcmp(key, "push_queue")) {
        if (parse_size(value, &u) != 0 || u < 1 || u > 1024)
            return fail(err, errlen, key, value, "expected a number of windows from 1 to 1024");
        o->push_queue = (uint32_t)u;
        return 0;
    }
    if (!strcmp(key, "push_timeout")) {
        if (parse_duration(value, 1000000000ULL, &u) != 0 || u < 100000000ULL || u > 300000000000ULL)
            return fail(err, errlen, key, value, "expected a duration from 100ms to 5m, such as 10s");
        o->push_timeout_ns = u;
        return 0;
    }
    if (!strcmp(key, "push_flush")) {
        if (parse_duration(value, 1000000000ULL, &u) != 0 || u > 300000000000ULL)
            return fail(err, errlen, key, value, "expected a duration from 0 to 5m, such as 3s");
        o->push_flush_ns = u;
        return 0;
    }
    if (!strcmp(key, "push_token") || !strcmp(key, "push_basic_auth") || !strcmp(key, "push_password")) {
        if (err && errlen)
            snprintf(err, errlen, "option '%s': secrets are not options (they would show in ps): set "
                                  "POLYPROF_PUSH_TOKEN or POLYPROF_PUSH_BASIC_AUTH=user:password, or use "
                                  "push_token_file / push_basic_auth_file", key);
        return -1;
    }
    if (err && errlen)
        snprintf(err, errlen, "unknown option '%s' (push keys: push, push_app, push_tags, push_tenant, push_queue, "
                              "push_timeout, push_flush, push_ca_file, push_token_file, push_basic_auth_file)", key);
    return -1;
}

int pp_options_set(pp_options *o, const char *key, const char *value, char *err, size_t errlen)
{
    uint64_t u;
    if (!strcmp(key, "event") || !strcmp(key, "mode")) {
        if (!strcmp(value, "cpu"))
            o->mode = PP_MODE_CPU;
        else if (!strcmp(value, "wall"))
            o->mode = PP_MODE_WALL;
        else if (!strcmp(value, "alloc"))
            o->mode = PP_MODE_ALLOC;
        else
            return fail(err, errlen, key, value, "expected cpu, wall or alloc");
    } else if (!strcmp(key, "interval")) {
        if (parse_duration(value, 1000000ULL, &u) != 0)
            return fail(err, errlen, key, value, "expected a positive duration such as 10ms");
        if (u < 100000ULL)
            return fail(err, errlen, key, value, "must be at least 100us");
        if (u > 60000000000ULL)
            return fail(err, errlen, key, value, "must be at most 60s");
        o->interval_ns = u;
    } else if (!strcmp(key, "duration")) {
        if (parse_duration(value, 1000000000ULL, &u) != 0)
            return fail(err, errlen, key, value, "expected a duration such as 30s (0 for none)");
        o->duration_ns = u;
    } else if (!strcmp(key, "native")) {
        int b;
        if (parse_bool(value, &b) != 0)
            return fail(err, errlen, key, value, "expected true or false");
        o->native = b;
    } else if (!strcmp(key, "signal")) {
        int s;
        if (parse_signal(value, &s) != 0)
            return fail(err, errlen, key, value, "expected a signal name such as SIGPROF or a number");
        o->signo = s;
    } else if (!strcmp(key, "memory")) {
        if (parse_size(value, &u) != 0 || u < (1u << 20))
            return fail(err, errlen, key, value, "expected a size of at least 1m, such as 64m");
        o->max_memory = (size_t)u;
    } else if (!strcmp(key, "ring")) {
        if (parse_size(value, &u) != 0 || u < 8 || u > 65536)
            return fail(err, errlen, key, value, "expected a slot count from 8 to 65536");
        o->ring_slots = (uint32_t)u;
    } else if (!strcmp(key, "wall_threads")) {
        if (parse_size(value, &u) != 0 || u < 1 || u > 65536)
            return fail(err, errlen, key, value, "expected a thread count from 1 to 65536");
        o->wall_threads = (uint32_t)u;
    } else if (!strcmp(key, "depth")) {
        if (parse_size(value, &u) != 0 || u < PP_DEPTH_MIN || u > PP_DEPTH_MAX)
            return fail(err, errlen, key, value, "expected a frame count from 8 to 4096");
        o->depth = (uint32_t)u;
    } else if (!strcmp(key, "file")) {
        if (!*value || strlen(value) >= sizeof o->file)
            return fail(err, errlen, key, value, "expected a path");
        snprintf(o->file, sizeof o->file, "%s", value);
    } else if (!strcmp(key, "format")) {
        pp_format f = PP_FORMAT_AUTO;
        if (strcmp(value, "auto") != 0 && pp_format_from_name(value, &f, NULL, 0) != 0)
            return fail(err, errlen, key, value, "expected auto, pprof, collapsed, text, cpuprofile, html or speedscope");
        o->format = f;
    } else if (!strcmp(key, "alloc_interval")) {
        /* Mean bytes between allocation samples; the JVM takes an int. */
        if (parse_size(value, &u) != 0 || u == 0 || u > 0x7fffffffULL)
            return fail(err, errlen, key, value, "expected a size from 1 byte to 2g, such as 512k");
        o->alloc_interval = u;
    } else if (!strcmp(key, "window")) {
        if (parse_duration(value, 1000000000ULL, &u) != 0 || u < 1000000000ULL || u > 86400000000000ULL)
            return fail(err, errlen, key, value, "expected a duration from 1s to 24h, such as 60s");
        o->window_ns = u;
    } else if (!strcmp(key, "store")) {
        if (!*value || strlen(value) >= sizeof o->store)
            return fail(err, errlen, key, value, "expected a directory");
        snprintf(o->store, sizeof o->store, "%s", value);
    } else if (!strcmp(key, "store_max_age")) {
        if (parse_duration(value, 1000000000ULL, &u) != 0 || u < 1000000000ULL)
            return fail(err, errlen, key, value, "expected a duration of at least 1s, such as 7d");
        o->store_max_age_ns = u;
    } else if (!strcmp(key, "store_max_bytes")) {
        if (parse_size(value, &u) != 0 || u < 1024)
            return fail(err, errlen, key, value, "expected a size of at least 1k, such as 1g");
        o->store_max_bytes = u;
    } else if (!strcmp(key, "store_key_file")) {
        /* The key is read when the store opens: here only the path. */
        if (!*value || strlen(value) >= sizeof o->store_key_file)
            return fail(err, errlen, key, value, "expected the path of a key file");
        snprintf(o->store_key_file, sizeof o->store_key_file, "%s", value);
    } else if (!strcmp(key, "cpu_budget")) {
        errno = 0;
        char *end;
        double pct = strtod(value, &end);
        if (end != value && *end == '%')
            end++;
        if (errno || end == value || *end || !(pct >= 0) || pct > 100)
            return fail(err, errlen, key, value, "expected a percentage from 0 (none) to 100, such as 1%");
        o->cpu_budget_pct = pct;
    } else if (!strcmp(key, "service")) {
        size_t n = strlen(value);
        if (!n || n >= sizeof o->service)
            return fail(err, errlen, key, value, "expected a name of 1 to 127 characters");
        for (size_t i = 0; i < n; i++)
            if (!isalnum((unsigned char)value[i]) && !strchr("-_.", value[i]))
                return fail(err, errlen, key, value, "expected letters, digits, '-', '_' or '.'");
        snprintf(o->service, sizeof o->service, "%s", value);
    } else if (!strncmp(key, "push", 4) && (!key[4] || key[4] == '_')) {
        return set_push_option(o, key, value, err, errlen);
    } else if (!strcmp(key, "endpoint")) {
        pp_listen_addr a;
        char why[200];
        if (strlen(value) >= sizeof o->endpoint || pp_listen_parse(value, &a, why, sizeof why) != 0)
            return fail(err, errlen, key, value, strlen(value) >= sizeof o->endpoint ? "too long" : why);
        snprintf(o->endpoint, sizeof o->endpoint, "%s", value);
    } else if (!strcmp(key, "endpoint_remote")) {
        int b;
        if (parse_bool(value, &b) != 0)
            return fail(err, errlen, key, value, "expected true or false");
        o->endpoint_remote = b;
    } else if (!strcmp(key, "endpoint_token_file")) {
        if (!*value || strlen(value) >= sizeof o->endpoint_token_file)
            return fail(err, errlen, key, value, "expected a path");
        snprintf(o->endpoint_token_file, sizeof o->endpoint_token_file, "%s", value);
    } else {
        if (err && errlen)
            snprintf(err, errlen, "unknown option '%s' (known: event, interval, duration, native, signal, "
                                  "memory, ring, depth, wall_threads, file, format, alloc_interval, window, store, store_max_age, "
                                  "store_max_bytes, store_key_file, service, cpu_budget, push, push_app, push_tags, "
                                  "push_tenant, push_queue, push_timeout, push_flush, push_ca_file, push_token_file, "
                                  "push_basic_auth_file, endpoint, endpoint_remote, endpoint_token_file)", key);
        return -1;
    }
    return 0;
}

void pp_options_each_push_key(const pp_options *o, void (*fn)(void *ctx, const char *key, const char *value),
                              void *ctx)
{
    if (!o->push_url[0])
        return;
    const struct {
        const char *key, *value;
    } text[] = {
        {"push", o->push_url},
        {"push_app", o->push_app},
        {"push_tags", o->push_tags},
        {"push_tenant", o->push_tenant},
        {"push_ca_file", o->push_ca_file},
        {"push_token_file", o->push_token_file},
        {"push_basic_auth_file", o->push_basic_auth_file},
    };
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++)
        if (text[i].value[0])
            fn(ctx, text[i].key, text[i].value);
    char buf[32];
    snprintf(buf, sizeof buf, "%u", o->push_queue);
    fn(ctx, "push_queue", buf);
    snprintf(buf, sizeof buf, "%lluns", (unsigned long long)o->push_timeout_ns);
    fn(ctx, "push_timeout", buf);
    snprintf(buf, sizeof buf, "%lluns", (unsigned long long)o->push_flush_ns);
    fn(ctx, "push_flush", buf);
}

int pp_options_parse(pp_options *o, const char *spec, char *err, size_t errlen)
{
    if (!spec)
        return 0;
    pp_options work = *o;
    char *copy = strdup(spec);
    if (!copy) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = 0;
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*item))
            item++;
        if (!*item)
            continue;
        char *eq = strchr(item, '=');
        if (!eq) {
            /* Bare words: "start" is the agent's verb; "cpu"/"wall" name the event. */
            if (!strcmp(item, "start"))
                continue;
            if (!strcmp(item, "cpu") || !strcmp(item, "wall") || !strcmp(item, "alloc")) {
                rc = pp_options_set(&work, "event", item, err, errlen);
            } else {
                snprintf(err, errlen, "option '%s': expected key=value", item);
                rc = -1;
            }
        } else {
            *eq = '\0';
            char *end = eq - 1;
            while (end >= item && isspace((unsigned char)*end))
                *end-- = '\0';
            rc = pp_options_set(&work, item, eq + 1, err, errlen);
        }
        if (rc != 0)
            break;
    }
    free(copy);
    if (rc == 0)
        *o = work;
    return rc;
}

void pp_options_format(const pp_options *o, char *out, size_t outlen)
{
    if (o->mode == PP_MODE_ALLOC) {
        snprintf(out, outlen, "event=alloc,alloc_interval=%llu,duration=%llums,memory=%zuk%s%s",
                 (unsigned long long)o->alloc_interval, (unsigned long long)(o->duration_ns / 1000000),
                 o->max_memory >> 10, o->file[0] ? ",file=" : "", o->file);
        return;
    }
    char wall_threads[32] = "";
    if (o->mode == PP_MODE_WALL)
        snprintf(wall_threads, sizeof wall_threads, ",wall_threads=%u", o->wall_threads);
    snprintf(out, outlen, "event=%s,interval=%lluus,duration=%llums,native=%s,signal=%d,memory=%zuk%s%s%s",
             o->mode == PP_MODE_CPU ? "cpu" : "wall", (unsigned long long)(o->interval_ns / 1000),
             (unsigned long long)(o->duration_ns / 1000000), o->native ? "true" : "false", o->signo,
             o->max_memory >> 10, wall_threads, o->file[0] ? ",file=" : "", o->file);
}
