/* The local profiling endpoint: Go's net/http/pprof routes (and polyprof's
 * status and trigger) served by libmicrohttpd on one polling thread of its
 * own. Nothing here waits for the runtime: a CPU capture is a pp_capture on
 * the shared sampler whose thread hands the profile back, the connection
 * waiting meanwhile suspended (MHD_suspend_connection), so the polling thread
 * keeps answering (status, 429s) during a capture and while the runtime's
 * threads are wedged. Memory profiles run the runtime's hook on a worker
 * thread the same way. One job (capture or memory profile) at a time. */
#include "polyprof.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "endpoint_guard.h"
#include "endpoint_listen.h"
#include "libmicrohttpd.h"
#include "service_name.h"
#include "signal_mask.h"

#define MAX_BODY_BYTES 1024            /* no route takes a request body */
#define CONNECTION_MEMORY (16u << 10)  /* request line + headers per connection */
/* Slots, and how many of them may wait for a request's headers at once: the
 * rest are a reserve that slow or stuck clients cannot take (docs/runbook.md,
 * "Local endpoint"). */
#define CONNECTION_LIMIT 128
#define MAX_WAITING_FOR_HEADERS 64
#define HEADER_DEADLINE_S 10           /* a request's whole header, however it trickles in */
#define CONNECTION_TIMEOUT_S 15        /* idle connections; a waiting capture is suspended, not idle */
/* Query arguments in one request: each costs libmicrohttpd ~50 bytes of the
 * connection's memory, and past CONNECTION_MEMORY it stops answering. */
#define MAX_QUERY_ARGS 64
#define DEFAULT_SECONDS 30             /* Go's default for /debug/pprof/profile */
#define DEFAULT_MAX_NS 60000000000ULL  /* PROFILE_MAX_DURATION's default */
#define TOKEN_MAX 1024
#define MAX_BREAKERS 32

typedef enum { JOB_NONE = 0, JOB_PROFILE, JOB_MEMORY, JOB_TRIGGER } job_kind;
static const char *const job_names[] = {"none", "cpu", "memory", "trigger"};

/* One request (MHD's per-request context). */
typedef struct request {
    size_t body_bytes;
    int headers_in;     /* the handler has seen this request */
    int too_many_args;
    int waiting; /* suspended until the job's result is in */
} request;

struct pp_endpoint {
    struct MHD_Daemon *daemon;
    pp_conn_guard *guard;
    int fd;
    pp_listen_addr addr;
    char address[160];
    int port;
    pp_options options;
    pp_endpoint_hooks hooks;
    char runtime[32];
    char service[128];
    char token[TOKEN_MAX];
    size_t token_len;
    uint64_t max_ns;
    int forked; /* a copy inherited by fork(): no threads behind it */

    pthread_mutex_t lock;
    /* Guarded by lock. */
    int stopping;
    job_kind job;
    int job_seconds;
    uint64_t job_deadline_ns;
    struct MHD_Connection *job_conn; /* suspended, waiting for the result */
    pp_capture *capture;             /* finished (joined, freed) by whoever takes it out */
    pthread_t worker;
    int have_worker;
    pp_memory_kind memory_kind;
    int job_done;
    unsigned result_status;
    uint8_t *result_body;
    size_t result_len;
    const char *result_type;
    uint64_t triggers;
    char last_trigger_file[PP_PATH_MAX];
    char last_trigger_error[512];
};

/* One endpoint per process: its routes report process-wide state, and fork
 * and exit handling need to find it. */
static pthread_mutex_t active_lock = PTHREAD_MUTEX_INITIALIZER;
static pp_endpoint *active;
/* Set under active_lock by each start, before its daemon calls back into
 * this file; never unset (the library stays loaded). */
static const pp_libmicrohttpd *mhd;
static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

/* ------------------------------------------------------------ responses */

static enum MHD_Result send_body(struct MHD_Connection *conn, unsigned status, const char *type, void *body,
                                 size_t len, int owned)
{
    struct MHD_Response *r = mhd->create_response_from_buffer(len, body, owned ? MHD_RESPMEM_MUST_FREE
                                                                              : MHD_RESPMEM_MUST_COPY);
    if (!r) {
        if (owned)
            free(body);
        return MHD_NO;
    }
    mhd->add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    mhd->add_response_header(r, "X-Content-Type-Options", "nosniff");
    mhd->add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_UNAUTHORIZED)
        mhd->add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"polyprof\"");
    if (!strcmp(type, "application/octet-stream"))
        mhd->add_response_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION, "attachment; filename=\"profile\"");
    enum MHD_Result rc = mhd->queue_response(conn, status, r);
    mhd->destroy_response(r);
    return rc;
}

__attribute__((format(printf, 3, 4))) static enum MHD_Result send_text(struct MHD_Connection *conn,
                                                                        unsigned status, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof text - 2)
        n = (int)sizeof text - 2;
    text[n++] = '\n';
    return send_body(conn, status, "text/plain; charset=utf-8", text, (size_t)n, 0);
}

/* 429 with how long until the running job ends. */
static enum MHD_Result send_busy(struct MHD_Connection *conn, job_kind running, uint64_t deadline_ns)
{
    uint64_t now = pp_now_ns();
    unsigned long wait_s = deadline_ns > now ? (unsigned long)((deadline_ns - now) / 1000000000ULL) + 1 : 1;
    char text[256];
    int n = snprintf(text, sizeof text, "another capture (%s) is running: one at a time; retry in %lu s\n",
                     job_names[running], wait_s);
    struct MHD_Response *r = mhd->create_response_from_buffer((size_t)n, text, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    char retry[32];
    snprintf(retry, sizeof retry, "%lu", wait_s);
    mhd->add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, retry);
    mhd->add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    enum MHD_Result rc = mhd->queue_response(conn, MHD_HTTP_TOO_MANY_REQUESTS, r);
    mhd->destroy_response(r);
    return rc;
}

static void json_string(pp_buf *b, const char *s)
{
    pp_buf_append_byte(b, '"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            pp_buf_printf(b, "\\%c", ch);
        else if (ch < 0x20)
            pp_buf_printf(b, "\\u%04x", ch);
        else
            pp_buf_append_byte(b, ch);
    }
    pp_buf_append_byte(b, '"');
}

/* Sends the buffer's JSON and frees it. */
static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned status, pp_buf *b)
{
    if (b->failed) {
        pp_buf_free(b);
        return MHD_NO;
    }
    size_t len;
    uint8_t *body = pp_buf_detach(b, &len);
    return send_body(conn, status, "application/json", body, len, 1);
}

/* ------------------------------------------------------------ jobs */

/* Caller holds e->lock: the result is in; wake the waiting connection. */
static void finish_job_locked(pp_endpoint *e, unsigned status, const char *type, uint8_t *body, size_t len)
{
    free(e->result_body);
    e->result_status = status;
    e->result_type = type;
    e->result_body = body;
    e->result_len = len;
    e->job_done = 1;
    if (e->job_conn) {
        mhd->resume_connection(e->job_conn);
        e->job_conn = NULL;
    }
}

static void finish_job_with_text(pp_endpoint *e, unsigned status, const char *text)
{
    size_t len = strlen(text);
    uint8_t *body = malloc(len + 1);
    if (body) {
        memcpy(body, text, len);
        body[len] = '\n';
    }
    pthread_mutex_lock(&e->lock);
    finish_job_locked(e, body ? status : MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8", body,
                      body ? len + 1 : 0);
    pthread_mutex_unlock(&e->lock);
}

/* The profile as the response body (takes ownership of p). */
static void finish_job_with_profile(pp_endpoint *e, pp_profile *p)
{
    uint8_t *data = NULL;
    size_t len = 0;
    char err[256];
    int rc = pp_profile_encode(p, PP_FORMAT_PPROF, 0, &data, &len, err, sizeof err);
    pp_profile_free(p);
    if (rc != 0) {
        finish_job_with_text(e, MHD_HTTP_INTERNAL_SERVER_ERROR, err);
        return;
    }
    pthread_mutex_lock(&e->lock);
    finish_job_locked(e, MHD_HTTP_OK, "application/octet-stream", data, len);
    pthread_mutex_unlock(&e->lock);
}

/* A capture's thread, at its duration (or when the endpoint stops early). */
static int on_profile_done(void *ctx, pp_profile *p, const pp_capture_info *info)
{
    (void)info;
    pp_endpoint *e = ctx;
    pp_profile_add_metadata(p, "trigger=endpoint");
    finish_job_with_profile(e, p);
    return 0;
}

static void *memory_worker(void *arg)
{
    pp_endpoint *e = arg;
    char err[512] = "";
    pp_profile *p = e->hooks.memory_profile(e->hooks.ctx, e->memory_kind, err, sizeof err);
    if (p)
        finish_job_with_profile(e, p);
    else
        finish_job_with_text(e, MHD_HTTP_NOT_FOUND,
                             err[0] ? err : "allocation profiling is not running in this process");
    return NULL;
}

/* A triggered capture's thread: the profile goes to the local store. */
static int on_trigger_done(void *ctx, pp_profile *p, const pp_capture_info *info)
{
    pp_endpoint *e = ctx;
    char err[512] = "", path[PP_PATH_MAX] = "";
    pp_profile_add_metadata(p, "trigger=manual");
    pp_store *s = pp_store_open_keyed(e->options.store, e->options.store_max_age_ns, e->options.store_max_bytes,
                                      e->options.store_key_file, err, sizeof err);
    int rc = s ? pp_store_put(s, p, e->service, "cpu", "manual", info->start_unix_ns, path, sizeof path, err,
                              sizeof err)
               : -1;
    pp_store_close(s);
    pp_profile_free(p);
    pthread_mutex_lock(&e->lock);
    snprintf(e->last_trigger_file, sizeof e->last_trigger_file, "%s", rc == 0 ? path : "");
    snprintf(e->last_trigger_error, sizeof e->last_trigger_error, "%s", rc == 0 ? "" : err);
    e->job_done = 1;
    pthread_mutex_unlock(&e->lock);
    return rc;
}

/* Takes the finished job's threads out of e (under its lock) and joins them
 * (outside it: their callbacks take the lock). */
typedef struct job_threads {
    pp_capture *capture;
    pthread_t worker;
    int have_worker;
} job_threads;

static job_threads take_threads_locked(pp_endpoint *e)
{
    job_threads t = {e->capture, e->worker, e->have_worker};
    e->capture = NULL;
    e->have_worker = 0;
    return t;
}

static void join_threads(job_threads t)
{
    if (t.capture)
        pp_capture_finish(t.capture);
    if (t.have_worker)
        pthread_join(t.worker, NULL);
}

/* A finished trigger needs no connection to collect it: free its slot. */
static void reap_trigger(pp_endpoint *e)
{
    job_threads t = {0};
    pthread_mutex_lock(&e->lock);
    if (e->job == JOB_TRIGGER && e->job_done) {
        t = take_threads_locked(e);
        e->job = JOB_NONE;
        e->job_done = 0;
    }
    pthread_mutex_unlock(&e->lock);
    join_threads(t);
}

/* ------------------------------------------------------------ routes */

/* seconds=N: a whole number from 1 to the cap; absent: 30 (or the cap). */
static int parse_seconds(pp_endpoint *e, struct MHD_Connection *conn, int *out, char *why, size_t len)
{
    unsigned long max_s = (unsigned long)(e->max_ns / 1000000000ULL);
    const char *v = mhd->lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "seconds");
    if (!v) {
        *out = (int)(max_s < DEFAULT_SECONDS ? max_s : DEFAULT_SECONDS);
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long s = strtoul(v, &end, 10);
    if (!*v || *end || errno || v[0] == '-' || v[0] == '+' || s == 0) {
        snprintf(why, len, "seconds=%.40s: expected a whole number of seconds from 1 to %lu", v, max_s);
        return -1;
    }
    if (s > max_s) {
        snprintf(why, len,
                 "seconds=%.40s is above this process's maximum capture of %lu s "
                 "(PROFILE_MAX_DURATION, or the duration option)",
                 v, max_s);
        return -1;
    }
    *out = (int)s;
    return 0;
}

/* Claims the job slot; 0, or -1 after answering 429. */
static int claim_job(pp_endpoint *e, struct MHD_Connection *conn, job_kind kind, int seconds, enum MHD_Result *rc)
{
    reap_trigger(e);
    pthread_mutex_lock(&e->lock);
    if (e->job != JOB_NONE || e->stopping) {
        job_kind running = e->job;
        uint64_t deadline = e->job_deadline_ns;
        pthread_mutex_unlock(&e->lock);
        *rc = e->stopping ? send_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "the endpoint is stopping")
                          : send_busy(conn, running, deadline);
        return -1;
    }
    e->job = kind;
    e->job_done = 0;
    e->job_seconds = seconds;
    e->job_deadline_ns = pp_now_ns() + (uint64_t)seconds * 1000000000ULL;
    pthread_mutex_unlock(&e->lock);
    return 0;
}

/* A capture's seconds=N, then the job slot; 0, or -1 after answering. */
static int claim_capture(pp_endpoint *e, struct MHD_Connection *conn, job_kind kind, int *seconds,
                         enum MHD_Result *rc)
{
    char why[256];
    if (parse_seconds(e, conn, seconds, why, sizeof why) != 0) {
        *rc = send_text(conn, MHD_HTTP_BAD_REQUEST, "%s", why);
        return -1;
    }
    return claim_job(e, conn, kind, *seconds, rc);
}

static void release_job(pp_endpoint *e)
{
    pthread_mutex_lock(&e->lock);
    e->job = JOB_NONE;
    e->job_done = 0;
    e->job_conn = NULL;
    pthread_mutex_unlock(&e->lock);
}

/* A capture someone asked for is read at Go's rate (100 Hz) or finer: the
 * production configuration's interval (PROFILE_INTERVAL_MS, 100 ms) is for
 * always-on windows, and would leave a 5 s capture with 50 samples. The CPU
 * budget still holds it back. */
#define CAPTURE_MAX_INTERVAL_NS 10000000ULL

static uint64_t capture_interval_ns(const pp_endpoint *e)
{
    return e->options.interval_ns < CAPTURE_MAX_INTERVAL_NS ? e->options.interval_ns : CAPTURE_MAX_INTERVAL_NS;
}

static pp_options capture_options(const pp_endpoint *e, int seconds)
{
    pp_options o = e->options;
    o.mode = PP_MODE_CPU;
    o.duration_ns = (uint64_t)seconds * 1000000000ULL;
    o.interval_ns = capture_interval_ns(e);
    return o;
}

/* The resumed request: answer with the job's result, free the job slot. */
static enum MHD_Result answer_job(pp_endpoint *e, struct MHD_Connection *conn)
{
    pthread_mutex_lock(&e->lock);
    unsigned status = e->result_status;
    const char *type = e->result_type;
    uint8_t *body = e->result_body;
    size_t len = e->result_len;
    e->result_body = NULL;
    job_threads t = take_threads_locked(e);
    e->job = JOB_NONE;
    e->job_done = 0;
    pthread_mutex_unlock(&e->lock);
    join_threads(t);
    if (!type)
        return send_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "the capture ended without a result");
    return send_body(conn, status, type, body ? body : (uint8_t *)"", body ? len : 0, body != NULL);
}

/* Suspends conn until the job's callback resumes it. Caller holds no lock. */
static enum MHD_Result wait_for_job(pp_endpoint *e, struct MHD_Connection *conn, request *req)
{
    pthread_mutex_lock(&e->lock);
    if (e->stopping) {
        /* pp_endpoint_stop came between the claim and now: it cannot see
         * this job's threads, and MHD_stop_daemon must find no suspended
         * connection. End the job here; answer with what it has. */
        job_threads t = take_threads_locked(e);
        pthread_mutex_unlock(&e->lock);
        join_threads(t);
        return answer_job(e, conn);
    }
    if (!e->job_done) {
        /* Under the lock: the callback cannot resume before we suspend. */
        e->job_conn = conn;
        req->waiting = 1;
        mhd->suspend_connection(conn);
        pthread_mutex_unlock(&e->lock);
        return MHD_YES;
    }
    pthread_mutex_unlock(&e->lock);
    return answer_job(e, conn); /* already done: answer now */
}

static enum MHD_Result route_profile(pp_endpoint *e, struct MHD_Connection *conn, request *req)
{
    int seconds;
    enum MHD_Result rc;
    if (claim_capture(e, conn, JOB_PROFILE, &seconds, &rc) != 0)
        return rc;
    pp_options o = capture_options(e, seconds);
    char err[512];
    pp_capture *c = pp_capture_start(&o, on_profile_done, e, err, sizeof err);
    if (!c) {
        release_job(e);
        return send_text(conn, MHD_HTTP_CONFLICT, "cannot start a CPU capture: %s", err);
    }
    pthread_mutex_lock(&e->lock);
    e->capture = c;
    pthread_mutex_unlock(&e->lock);
    return wait_for_job(e, conn, req);
}

static enum MHD_Result route_memory(pp_endpoint *e, struct MHD_Connection *conn, request *req, pp_memory_kind k)
{
    if (!e->hooks.memory_profile)
        return send_text(conn, MHD_HTTP_NOT_FOUND, "allocation profiling is not running in this process");
    enum MHD_Result rc;
    if (claim_job(e, conn, JOB_MEMORY, 1, &rc) != 0)
        return rc;
    pthread_mutex_lock(&e->lock);
    e->memory_kind = k;
    int failed = pthread_create(&e->worker, NULL, memory_worker, e);
    e->have_worker = !failed;
    pthread_mutex_unlock(&e->lock);
    if (failed) {
        release_job(e);
        return send_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "cannot create a thread for the memory profile");
    }
    return wait_for_job(e, conn, req);
}

static enum MHD_Result route_trigger(pp_endpoint *e, struct MHD_Connection *conn)
{
    int seconds;
    enum MHD_Result rc;
    if (claim_capture(e, conn, JOB_TRIGGER, &seconds, &rc) != 0)
        return rc;
    if (!pp_rate_limit_take(pp_now_ns())) {
        release_job(e);
        static char limited[] = "{\"error\": \"rate limited: the process-wide capture rate limit is used up\"}\n";
        struct MHD_Response *r = mhd->create_response_from_buffer(strlen(limited), limited, MHD_RESPMEM_PERSISTENT);
        if (!r)
            return MHD_NO;
        mhd->add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        rc = mhd->queue_response(conn, MHD_HTTP_TOO_MANY_REQUESTS, r);
        mhd->destroy_response(r);
        return rc;
    }
    char err[512];
    /* Fail now, not after the capture, when the store cannot be written. */
    pp_store *s = pp_store_open_keyed(e->options.store, e->options.store_max_age_ns, e->options.store_max_bytes,
                                      e->options.store_key_file, err, sizeof err);
    int encrypted = s && pp_store_encrypts(s);
    pp_store_close(s);
    pp_options o = capture_options(e, seconds);
    pp_capture *c = s ? pp_capture_start(&o, on_trigger_done, e, err, sizeof err) : NULL;
    if (!c) {
        release_job(e);
        return send_text(conn, s ? MHD_HTTP_CONFLICT : MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot start: %s", err);
    }
    pthread_mutex_lock(&e->lock);
    e->capture = c;
    e->triggers++;
    if (e->stopping) {
        /* Stopping meanwhile (see wait_for_job): store what it has now. */
        job_threads t = take_threads_locked(e);
        pthread_mutex_unlock(&e->lock);
        join_threads(t);
        return send_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "the endpoint is stopping");
    }
    pthread_mutex_unlock(&e->lock);
    char dir[PP_PATH_MAX];
    if (!realpath(e->options.store, dir))
        snprintf(dir, sizeof dir, "%s", e->options.store);
    pp_buf b;
    pp_buf_init(&b);
    pp_buf_printf(&b, "{\"status\": \"capturing\", \"seconds\": %d, \"store\": ", seconds);
    json_string(&b, dir);
    pp_buf_append_str(&b, ", \"file_pattern\": ");
    char pattern[256];
    snprintf(pattern, sizeof pattern, "%s_cpu_<UTC start>_manual.pb.gz%s", e->service, encrypted ? ".enc" : "");
    json_string(&b, pattern);
    pp_buf_append_str(&b, ", \"status_url\": \"/polyprof/status\"}\n");
    return send_json(conn, MHD_HTTP_ACCEPTED, &b);
}

static enum MHD_Result route_status(pp_endpoint *e, struct MHD_Connection *conn)
{
    reap_trigger(e);
    pp_sampler_stats st;
    pp_sampler_get_stats(&st);
    uint64_t now = pp_now_ns();
    pp_breaker_state br[MAX_BREAKERS];
    int n_br = pp_breaker_list_states(br, MAX_BREAKERS, now);
    pthread_mutex_lock(&e->lock);
    job_kind job = e->job;
    int job_seconds = e->job_seconds;
    double remaining = e->job_deadline_ns > now ? (double)(e->job_deadline_ns - now) / 1e9 : 0;
    uint64_t triggers = e->triggers;
    char last_file[PP_PATH_MAX], last_error[512];
    snprintf(last_file, sizeof last_file, "%s", e->last_trigger_file);
    snprintf(last_error, sizeof last_error, "%s", e->last_trigger_error);
    pthread_mutex_unlock(&e->lock);

    pp_buf b;
    pp_buf_init(&b);
    pp_buf_printf(&b, "{\"pid\": %d, \"runtime\": ", (int)getpid());
    json_string(&b, e->runtime);
    pp_buf_append_str(&b, ", \"service\": ");
    json_string(&b, e->service);
    pp_buf_append_str(&b, ", \"address\": ");
    json_string(&b, e->address);
    pp_buf_printf(&b,
                  ", \"sampler_running\": %s, \"captures_running\": %u, \"interval_ms\": %.3f"
                  ", \"samples\": %llu, \"dropped_samples\": %llu, \"dropped_ring_full\": %llu"
                  ", \"dropped_memory_cap\": %llu, \"overhead_pct\": %.3f, \"budget_stopped\": %s"
                  ", \"max_seconds\": %llu, \"capture_interval_ms\": %.3f, \"cpu_budget_pct\": %g",
                  st.running ? "true" : "false", st.collectors, (double)st.interval_ns / 1e6,
                  (unsigned long long)st.samples, (unsigned long long)(st.dropped_ring + st.dropped_memory),
                  (unsigned long long)st.dropped_ring, (unsigned long long)st.dropped_memory, st.overhead_pct,
                  st.budget_stopped ? "true" : "false", (unsigned long long)(e->max_ns / 1000000000ULL),
                  (double)capture_interval_ns(e) / 1e6, e->options.cpu_budget_pct);
    if (job == JOB_NONE)
        pp_buf_append_str(&b, ", \"endpoint_capture\": null");
    else
        pp_buf_printf(&b, ", \"endpoint_capture\": {\"kind\": \"%s\", \"seconds\": %d, \"remaining_s\": %.1f}",
                      job_names[job], job_seconds, remaining);
    int open = 0;
    pp_buf_append_str(&b, ", \"breakers\": [");
    for (int i = 0; i < n_br && i < MAX_BREAKERS; i++) {
        open += br[i].open;
        pp_buf_printf(&b,
                      "%s{\"state\": \"%s\", \"trips\": %llu, \"violations\": %d, \"baseline_ms\": %.3f"
                      ", \"last_trip_s_ago\": %.1f}",
                      i ? ", " : "", br[i].open ? "open" : "closed", (unsigned long long)br[i].trips,
                      br[i].violations, br[i].baseline_ms,
                      br[i].last_trip_ns ? (double)(now - br[i].last_trip_ns) / 1e9 : -1.0);
    }
    pp_buf_printf(&b, "], \"breakers_open\": %d, \"triggers\": %llu, \"last_trigger\": ", open,
                  (unsigned long long)triggers);
    if (!last_file[0] && !last_error[0]) {
        pp_buf_append_str(&b, "null");
    } else {
        pp_buf_append_str(&b, "{\"file\": ");
        json_string(&b, last_file);
        pp_buf_append_str(&b, ", \"error\": ");
        json_string(&b, last_error);
        pp_buf_append_str(&b, "}");
    }
    char extra[4096];
    if (e->hooks.status_json && e->hooks.status_json(e->hooks.ctx, extra, sizeof extra) == 0 && extra[0]) {
        pp_buf_append_str(&b, ", ");
        pp_buf_append_str(&b, extra);
    }
    pp_buf_append_str(&b, "}\n");
    return send_json(conn, MHD_HTTP_OK, &b);
}

static enum MHD_Result route_index(pp_endpoint *e, struct MHD_Connection *conn)
{
    char page[2048];
    snprintf(page, sizeof page,
             "<!DOCTYPE html>\n<html><head><title>/debug/pprof/</title></head><body>\n"
             "<h1>/debug/pprof/</h1>\n<p>polyprof, %s process %d</p>\n<table>\n"
             "<tr><td><a href=\"profile?seconds=%d\">profile</a></td><td>CPU profile of the next N seconds "
             "(seconds=1..%llu, one capture at a time)</td></tr>\n"
             "<tr><td><a href=\"allocs\">allocs</a></td><td>sampled allocations%s</td></tr>\n"
             "<tr><td><a href=\"heap\">heap</a></td><td>sampled live heap%s</td></tr>\n"
             "<tr><td><a href=\"/polyprof/status\">/polyprof/status</a></td><td>sampler, captures, breakers "
             "(JSON)</td></tr>\n"
             "<tr><td>POST /polyprof/trigger?seconds=N</td><td>a capture to the local store</td></tr>\n"
             "</table>\n<p>go tool pprof -top 'http://HOST:PORT/debug/pprof/profile?seconds=5'</p>\n"
             "</body></html>\n",
             e->runtime, (int)getpid(), DEFAULT_SECONDS < e->max_ns / 1000000000ULL ? DEFAULT_SECONDS
                                                                                      : (int)(e->max_ns / 1000000000ULL),
             (unsigned long long)(e->max_ns / 1000000000ULL),
             e->hooks.memory_profile ? "" : " (not running in this process)",
             e->hooks.memory_profile ? "" : " (not running in this process)");
    return send_body(conn, MHD_HTTP_OK, "text/html; charset=utf-8", page, strlen(page), 0);
}

/* 0 when equal; the time taken does not depend on where they differ. */
static int constant_time_compare(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a, *y = b;
    unsigned char diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(x[i] ^ y[i]);
    return diff != 0;
}

/* Constant time in the token's content. */
static int authorized(pp_endpoint *e, struct MHD_Connection *conn)
{
    if (!e->token_len)
        return 1;
    const char *h = mhd->lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    h += 7;
    while (*h == ' ')
        h++;
    size_t n = strlen(h);
    /* Compare as many bytes as the token either way; a length mismatch
     * fails after the same work. */
    char given[TOKEN_MAX];
    memset(given, 0, sizeof given);
    memcpy(given, h, n < sizeof given ? n : sizeof given - 1);
    int same = constant_time_compare(given, e->token, e->token_len) == 0;
    return same && n == e->token_len;
}

static pp_guarded_conn *guarded(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = mhd->get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static int method_is(const char *method, const char *want) { return !strcmp(method, want); }

static enum MHD_Result dispatch(pp_endpoint *e, struct MHD_Connection *conn, const char *url, const char *method,
                                request *req)
{
    if (!authorized(e, conn))
        return send_text(conn, MHD_HTTP_UNAUTHORIZED, "this endpoint needs \"Authorization: Bearer <token>\"");
    int get = method_is(method, MHD_HTTP_METHOD_GET) || method_is(method, MHD_HTTP_METHOD_HEAD);
    if (!strcmp(url, "/polyprof/trigger")) {
        if (!method_is(method, MHD_HTTP_METHOD_POST))
            return send_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "use POST /polyprof/trigger?seconds=N");
        return route_trigger(e, conn);
    }
    int known = !strcmp(url, "/debug/pprof/") || !strcmp(url, "/debug/pprof") || !strcmp(url, "/") ||
                !strcmp(url, "/debug/pprof/profile") || !strcmp(url, "/debug/pprof/allocs") ||
                !strcmp(url, "/debug/pprof/heap") || !strcmp(url, "/polyprof/status");
    if (!known)
        return send_text(conn, MHD_HTTP_NOT_FOUND, "no such page: %.200s (see /debug/pprof/)", url);
    if (!get)
        return send_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "%.200s answers GET", url);
    if (!strcmp(url, "/debug/pprof/profile"))
        return route_profile(e, conn, req);
    if (!strcmp(url, "/debug/pprof/allocs"))
        return route_memory(e, conn, req, PP_MEMORY_ALLOCS);
    if (!strcmp(url, "/debug/pprof/heap"))
        return route_memory(e, conn, req, PP_MEMORY_HEAP);
    if (!strcmp(url, "/polyprof/status"))
        return route_status(e, conn);
    return route_index(e, conn);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    (void)upload_data;
    pp_endpoint *e = cls;
    request *req = *con_cls;
    if (!req) {
        req = calloc(1, sizeof *req);
        if (!req)
            return MHD_NO;
        *con_cls = req;
    }
    if (!req->headers_in) {
        /* First call: headers only. Refuse big bodies before reading them. */
        req->headers_in = 1;
        pp_conn_guard_request_started(e->guard, guarded(conn));
        if (req->too_many_args)
            return send_text(conn, MHD_HTTP_URI_TOO_LONG, "at most %d query arguments", MAX_QUERY_ARGS);
        const char *cl = mhd->lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > MAX_BODY_BYTES)
            return send_text(conn, MHD_HTTP_CONTENT_TOO_LARGE, "request bodies are limited to %d bytes",
                             MAX_BODY_BYTES);
        return MHD_YES;
    }
    if (*upload_data_size) {
        /* No route reads a body: count it and drop it. */
        req->body_bytes += *upload_data_size;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->waiting)
        return answer_job(e, conn);
    if (req->body_bytes > MAX_BODY_BYTES)
        return send_text(conn, MHD_HTTP_CONTENT_TOO_LARGE, "request bodies are limited to %d bytes",
                         MAX_BODY_BYTES);
    return dispatch(e, conn, url, method, req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    pp_endpoint *e = cls;
    pp_conn_guard_request_done(e->guard, guarded(conn));
    free(*con_cls);
    *con_cls = NULL;
}

/* Called with the request line, before libmicrohttpd parses its query into
 * the connection's memory: a query of more than MAX_QUERY_ARGS arguments
 * would exhaust that memory, and libmicrohttpd (0.9.75) then never answers.
 * Its '&'s are blanked in place (the buffer is libmicrohttpd's read buffer,
 * writable; the parse that follows then finds one argument) and the request
 * gets 414. The returned context becomes the request's con_cls. */
static void *on_request_line(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    (void)conn;
    request *req = calloc(1, sizeof *req);
    if (!req)
        return NULL;
    /* uri points into libmicrohttpd's writable read buffer (see above) */
    char *query = (char *)strchr(uri, '?');
    size_t args = 0;
    for (const char *q = query; q && *q; q++)
        args += *q == '&';
    if (args + 1 > MAX_QUERY_ARGS) {
        req->too_many_args = 1;
        for (char *q = query; *q; q++)
            if (*q == '&')
                *q = '_';
    }
    return req;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    pp_endpoint *e = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = mhd->get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci ? pp_conn_guard_opened(e->guard, (int)ci->connect_fd) : NULL;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        pp_conn_guard_closed(e->guard, *socket_context);
        *socket_context = NULL;
    }
}

/* ------------------------------------------------------------ lifecycle */

static int read_token(pp_endpoint *e, const pp_options *o, char *err, size_t errlen)
{
    char buf[TOKEN_MAX];
    size_t n = 0;
    if (o->endpoint_token_file[0]) {
        int fd = open(o->endpoint_token_file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            snprintf(err, errlen, "option 'endpoint_token_file': cannot read '%s': %s", o->endpoint_token_file,
                     strerror(errno));
            return -1;
        }
        ssize_t r;
        while (n < sizeof buf && (r = read(fd, buf + n, sizeof buf - n)) > 0)
            n += (size_t)r;
        close(fd);
        if (n == sizeof buf) {
            snprintf(err, errlen, "option 'endpoint_token_file': the token in '%s' is longer than %d bytes",
                     o->endpoint_token_file, TOKEN_MAX - 1);
            return -1;
        }
    } else {
        const char *env = getenv("POLYPROF_ENDPOINT_TOKEN");
        if (!env || !*env)
            return 0;
        n = strlen(env);
        if (n >= sizeof buf) {
            snprintf(err, errlen, "POLYPROF_ENDPOINT_TOKEN is longer than %d bytes", TOKEN_MAX - 1);
            return -1;
        }
        memcpy(buf, env, n);
    }
    /* A file ends with a newline; the token is its first line. */
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        n--;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)buf[i] <= ' ' || (unsigned char)buf[i] == 0x7f) {
            snprintf(err, errlen, "%s: the token must be one line of printable characters without spaces",
                     o->endpoint_token_file[0] ? "option 'endpoint_token_file'" : "POLYPROF_ENDPOINT_TOKEN");
            return -1;
        }
    }
    if (!n) {
        snprintf(err, errlen, "%s: the token is empty",
                 o->endpoint_token_file[0] ? "option 'endpoint_token_file'" : "POLYPROF_ENDPOINT_TOKEN");
        return -1;
    }
    memcpy(e->token, buf, n);
    e->token_len = n;
    return 0;
}

/* A forked child has none of the endpoint's threads: it forgets the
 * endpoint and closes its copy of the listening socket (so a parent's exit
 * frees the port), leaving the parent serving. */
static void on_fork_child(void)
{
    pthread_mutex_init(&active_lock, NULL);
    if (active) {
        active->forked = 1;
        if (active->fd >= 0)
            close(active->fd);
        active->fd = -1;
        pthread_mutex_init(&active->lock, NULL);
        active = NULL;
    }
}

static void stop_at_exit(void)
{
    pthread_mutex_lock(&active_lock);
    pp_endpoint *e = active;
    pthread_mutex_unlock(&active_lock);
    pp_endpoint_stop(e);
}

static void install_process_hooks(void)
{
    pthread_atfork(NULL, NULL, on_fork_child);
    atexit(stop_at_exit);
}

pp_endpoint *pp_endpoint_start(const pp_options *o, const pp_endpoint_hooks *hooks, char *err, size_t errlen)
{
    pthread_once(&hooks_once, install_process_hooks);
    if (!o->endpoint[0]) {
        snprintf(err, errlen, "option 'endpoint': expected an address such as 127.0.0.1:6060, :0 or a unix "
                              "socket path");
        return NULL;
    }
    const pp_libmicrohttpd *fns = pp_libmicrohttpd_get(err, errlen);
    if (!fns)
        return NULL;
    pp_endpoint *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->fd = -1;
    char why[256];
    if (pp_listen_parse(o->endpoint, &e->addr, why, sizeof why) != 0) {
        snprintf(err, errlen, "option 'endpoint': invalid value '%s': %s", o->endpoint, why);
        free(e);
        return NULL;
    }
    if (read_token(e, o, err, errlen) != 0) {
        free(e);
        return NULL;
    }
    if (!e->addr.loopback && (!o->endpoint_remote || !e->token_len)) {
        snprintf(err, errlen,
                 "option 'endpoint': %s is not a loopback address; serving profiles beyond this machine needs "
                 "endpoint_remote=true and a token (endpoint_token_file=PATH or POLYPROF_ENDPOINT_TOKEN)%s",
                 o->endpoint, !o->endpoint_remote ? "" : " (no token is set)");
        free(e);
        return NULL;
    }
    e->options = *o;
    e->max_ns = o->duration_ns ? o->duration_ns : DEFAULT_MAX_NS;
    if (e->max_ns < 1000000000ULL)
        e->max_ns = 1000000000ULL;
    if (hooks)
        e->hooks = *hooks;
    snprintf(e->runtime, sizeof e->runtime, "%s", e->hooks.runtime ? e->hooks.runtime : "native");
    pp_service_name(o, e->service, sizeof e->service);
    pthread_mutex_init(&e->lock, NULL);

    pthread_mutex_lock(&active_lock);
    mhd = fns; /* the same every time; the daemon's threads, created below, see it */
    if (active) {
        snprintf(err, errlen, "option 'endpoint': this process already serves on %s (one endpoint per process)",
                 active->address);
        pthread_mutex_unlock(&active_lock);
        pthread_mutex_destroy(&e->lock);
        free(e);
        return NULL;
    }
    e->fd = pp_listen_open(&e->addr, why, sizeof why);
    if (e->fd < 0) {
        snprintf(err, errlen, "option 'endpoint': %s", why);
        pthread_mutex_unlock(&active_lock);
        pthread_mutex_destroy(&e->lock);
        free(e);
        return NULL;
    }
    e->port = pp_listen_describe(e->fd, &e->addr, e->address, sizeof e->address);
    /* Threads inherit the creating thread's signal mask: the server's must
     * never take the sampler's signal (nor the application's). Faults stay
     * deliverable. */
    sigset_t old;
    pp_block_async_signals(&old);
    e->guard = pp_conn_guard_new(HEADER_DEADLINE_S, MAX_WAITING_FOR_HEADERS);
    e->daemon = !e->guard ? NULL : mhd->start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL, on_request, e,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)e->fd, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)CONNECTION_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED, on_completed, e, MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, e, MHD_OPTION_URI_LOG_CALLBACK, on_request_line, e, MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!e->daemon) {
        snprintf(err, errlen, "option 'endpoint': the HTTP server (libmicrohttpd) did not start on %s",
                 e->address);
        pp_conn_guard_free(e->guard);
        close(e->fd);
        if (e->addr.is_unix)
            unlink(e->addr.path);
        pthread_mutex_unlock(&active_lock);
        pthread_mutex_destroy(&e->lock);
        free(e);
        return NULL;
    }
    active = e;
    pthread_mutex_unlock(&active_lock);
    return e;
}

void pp_endpoint_stop(pp_endpoint *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&active_lock);
    if (active == e)
        active = NULL;
    pthread_mutex_unlock(&active_lock);
    if (e->forked) {
        /* Inherited through fork(): the threads are the parent's. The
         * daemon's memory is left alone (a bounded leak); the socket file,
         * if any, is the parent's. */
        free(e);
        return;
    }
    pthread_mutex_lock(&e->lock);
    e->stopping = 1;
    job_threads t = take_threads_locked(e);
    pthread_mutex_unlock(&e->lock);
    /* A running capture ends now: its client gets what was sampled, a
     * trigger's profile is stored. Every suspended connection is resumed by
     * then, as MHD_stop_daemon requires. */
    join_threads(t);
    mhd->stop_daemon(e->daemon);
    pp_conn_guard_free(e->guard);
    /* MHD_OPTION_LISTEN_SOCKET: the daemon closes the socket it was given. */
    if (e->addr.is_unix)
        unlink(e->addr.path);
    free(e->result_body);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

void pp_endpoint_address(const pp_endpoint *e, char *out, size_t len)
{
    snprintf(out, len, "%s", e ? e->address : "");
}

int pp_endpoint_port(const pp_endpoint *e) { return e ? e->port : 0; }
