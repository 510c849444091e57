/* Pushing continuous windows to Pyroscope, against a small HTTP server in
 * this file that answers as told: well (checking what a Pyroscope server
 * would read: path, query, headers, the multipart "profile" field as pprof),
 * never (accepts and stays silent), 429 with Retry-After, 500, 400. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "burn.h"
#include "check.h"
#include "polyprof.h"
#include "push.h"

/* ------------------------------------------------------------ the server */

#define MAX_REQUESTS 64
#define MAX_HELD 64

typedef struct request {
    char line[2048];
    char auth[512];
    char tenant[256];
    char content_type[256];
    uint8_t *body;
    size_t body_len;
    uint64_t at_ns;
} request;

typedef struct server {
    int fd, port;
    pthread_t thread;
    _Atomic int stop;
    _Atomic int silent;    /* accept and never answer */
    /* Statuses for the next requests, in order; then 200. */
    int script[8];
    int n_script;
    const char *retry_after; /* header value sent with 429 */
    pthread_mutex_t lock;
    request reqs[MAX_REQUESTS];
    int n_reqs;
    int held[MAX_HELD];
    int n_held;
} server;

static uint64_t now_ns(void) { return pp_now_ns(); }

/* Reads into buf until the headers end; returns the header length or -1. */
static int read_headers(server *s, int fd, char *buf, size_t cap, size_t *have)
{
    for (;;) {
        char *end = memmem(buf, *have, "\r\n\r\n", 4);
        if (end)
            return (int)(end - buf) + 4;
        if (*have == cap || atomic_load(&s->stop))
            return -1;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = recv(fd, buf + *have, cap - *have, 0);
        if (n <= 0)
            return -1;
        *have += (size_t)n;
    }
}

static void header_value(const char *headers, size_t len, const char *name, char *out, size_t outlen)
{
    out[0] = '\0';
    size_t nl = strlen(name);
    for (const char *line = headers; line < headers + len;) {
        const char *eol = memmem(line, (size_t)(headers + len - line), "\r\n", 2);
        if (!eol)
            break;
        if ((size_t)(eol - line) > nl + 1 && !strncasecmp(line, name, nl) && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            snprintf(out, outlen, "%.*s", (int)(eol - v), v);
            return;
        }
        line = eol + 2;
    }
}

/* Serves one connection until the client closes it. */
static void serve(server *s, int fd)
{
    size_t cap = 1 << 22, have = 0;
    char *buf = malloc(cap);
    for (;;) {
        int hlen = read_headers(s, fd, buf, cap, &have);
        if (hlen < 0)
            break;
        char cl[32];
        header_value(buf, (size_t)hlen, "Content-Length", cl, sizeof cl);
        size_t body_len = (size_t)atol(cl);
        while (have < (size_t)hlen + body_len && !atomic_load(&s->stop)) {
            ssize_t n = recv(fd, buf + have, cap - have, 0);
            if (n <= 0)
                goto done;
            have += (size_t)n;
        }
        request r = {0};
        snprintf(r.line, sizeof r.line, "%.*s", (int)strcspn(buf, "\r\n"), buf);
        header_value(buf, (size_t)hlen, "Authorization", r.auth, sizeof r.auth);
        header_value(buf, (size_t)hlen, "X-Scope-OrgID", r.tenant, sizeof r.tenant);
        header_value(buf, (size_t)hlen, "Content-Type", r.content_type, sizeof r.content_type);
        r.body = malloc(body_len + 1);
        memcpy(r.body, buf + hlen, body_len);
        r.body_len = body_len;
        r.at_ns = now_ns();
        int status = 200;
        pthread_mutex_lock(&s->lock);
        if (s->n_reqs < MAX_REQUESTS)
            s->reqs[s->n_reqs++] = r;
        else
            free(r.body);
        if (s->n_script) {
            status = s->script[0];
            memmove(s->script, s->script + 1, sizeof s->script - sizeof s->script[0]);
            s->n_script--;
        }
        pthread_mutex_unlock(&s->lock);
        char resp[256];
        int n = snprintf(resp, sizeof resp, "HTTP/1.1 %d Status\r\nContent-Length: 2\r\n%s%s%s\r\nok", status,
                         status == 429 && s->retry_after ? "Retry-After: " : "",
                         status == 429 && s->retry_after ? s->retry_after : "",
                         status == 429 && s->retry_after ? "\r\n" : "");
        if (send(fd, resp, (size_t)n, MSG_NOSIGNAL) != n)
            break;
        memmove(buf, buf + hlen + body_len, have - (size_t)hlen - body_len);
        have -= (size_t)hlen + body_len;
    }
done:
    free(buf);
    close(fd);
}

static void *server_main(void *arg)
{
    server *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {s->fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(s->fd, NULL, NULL);
        if (fd < 0)
            continue;
        if (atomic_load(&s->silent)) {
            pthread_mutex_lock(&s->lock);
            if (s->n_held < MAX_HELD)
                s->held[s->n_held++] = fd;
            else
                close(fd);
            pthread_mutex_unlock(&s->lock);
            continue;
        }
        serve(s, fd);
    }
    return NULL;
}

static server *server_start(void)
{
    server *s = calloc(1, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (bind(s->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(s->fd, 64) != 0 ||
        getsockname(s->fd, (struct sockaddr *)&a, &alen) != 0) {
        perror("test server");
        exit(1);
    }
    s->port = ntohs(a.sin_port);
    pthread_create(&s->thread, NULL, server_main, s);
    return s;
}

/* Closes the connections it held silently: the server answers from now on. */
static void server_wake(server *s)
{
    atomic_store(&s->silent, 0);
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->n_held; i++)
        close(s->held[i]);
    s->n_held = 0;
    pthread_mutex_unlock(&s->lock);
}

/* Connections held silently so far. */
static int server_held(server *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->n_held;
    pthread_mutex_unlock(&s->lock);
    return n;
}

static int server_requests(server *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->n_reqs;
    pthread_mutex_unlock(&s->lock);
    return n;
}

static void server_stop(server *s)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    server_wake(s);
    close(s->fd);
    for (int i = 0; i < s->n_reqs; i++)
        free(s->reqs[i].body);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* ------------------------------------------------------------ reading a request */

/* The value of query parameter key, %-decoded. */
static int query_param(const char *line, const char *key, char *out, size_t outlen)
{
    const char *q = strchr(line, '?');
    size_t kl = strlen(key);
    while (q) {
        q++;
        if (!strncmp(q, key, kl) && q[kl] == '=') {
            const char *v = q + kl + 1;
            size_t o = 0;
            while (*v && *v != '&' && *v != ' ' && o + 1 < outlen) {
                if (*v == '%' && isxdigit((unsigned char)v[1]) && isxdigit((unsigned char)v[2])) {
                    char hex[3] = {v[1], v[2], 0};
                    out[o++] = (char)strtol(hex, NULL, 16);
                    v += 3;
                } else {
                    out[o++] = *v++;
                }
            }
            out[o] = '\0';
            return 0;
        }
        q = strchr(q, '&');
    }
    return -1;
}

/* The multipart field "profile", as Pyroscope's ingest handler reads it. */
static pp_profile *profile_field(const request *r)
{
    const char *b = strstr(r->content_type, "boundary=");
    if (strncmp(r->content_type, "multipart/form-data", 19) != 0 || !b)
        return NULL;
    char delim[128];
    snprintf(delim, sizeof delim, "\r\n--%s", b + 9);
    const uint8_t *part = memmem(r->body, r->body_len, "name=\"profile\"", 14);
    if (!part)
        return NULL;
    const uint8_t *data = memmem(part, r->body_len - (size_t)(part - r->body), "\r\n\r\n", 4);
    if (!data)
        return NULL;
    data += 4;
    const uint8_t *end = memmem(data, r->body_len - (size_t)(data - r->body), delim, strlen(delim));
    if (!end)
        return NULL;
    char err[256];
    pp_profile *p = pp_profile_decode_pprof(data, (size_t)(end - data), err, sizeof err);
    if (!p)
        fprintf(stderr, "profile field: %s\n", err);
    return p;
}

static void wait_for(server *s, int n, int max_ms)
{
    for (int waited = 0; server_requests(s) < n && waited < max_ms; waited += 20)
        usleep(20000);
}

static pp_options push_options(server *s, const char *extra)
{
    pp_options o;
    pp_options_default(&o);
    char spec[512], err[512];
    snprintf(spec, sizeof spec, "push=http://127.0.0.1:%d/,%s", s->port, extra);
    if (pp_options_parse(&o, spec, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    return o;
}

/* A gzip pprof to push, with one sample. */
static uint8_t *small_pprof(size_t *len)
{
    const char *types[] = {"samples", "cpu"}, *units[] = {"count", "nanoseconds"};
    pp_profile *p = pp_profile_create(types, units, 2, "cpu", "nanoseconds", 10000000);
    pp_frame_spec f = {"work", "work.c", 3, 1, 0};
    int64_t v[] = {1, 10000000};
    pp_profile_append(p, &f, 1, NULL, 0, v);
    uint8_t *out = NULL;
    char err[128];
    pp_profile_encode(p, PP_FORMAT_PPROF, 0, &out, len, err, sizeof err);
    pp_profile_free(p);
    return out;
}

static void enqueue_small(pp_push *p, int64_t start_s)
{
    size_t len;
    uint8_t *data = small_pprof(&len);
    pp_push_enqueue(p, data, len, start_s * 1000000000LL, (start_s + 1) * 1000000000LL);
}

/* ------------------------------------------------------------ the tests */

static void test_options(void)
{
    pp_options o;
    pp_options_default(&o);
    char err[512];
    CHECK_EQ_INT(pp_options_parse(&o, "push=https://pyroscope.example:4040/base,push_tags=env=prod;region=eu-1,"
                                      "push_app=shop/checkout,push_tenant=team-a,push_queue=4,push_timeout=2s",
                                  err, sizeof err),
                 0);
    CHECK_STR(o.push_url, "https://pyroscope.example:4040/base");
    CHECK_STR(o.push_tags, "env=prod;region=eu-1");
    CHECK_EQ_INT(o.push_queue, 4);
    CHECK_EQ_INT(o.push_timeout_ns, 2000000000LL);
    const char *bad[][2] = {
        {"push=ftp://host", "http:// or https://"},
        {"push=http://", "no host"},
        {"push=http://user:pw@host:4040", "credentials"},
        {"push=http://host:99999", "port"},
        {"push=http://host/ingest?x=1", "query"},
        {"push_tags=env", "name=value"},
        {"push_tags=1env=x", "starts with a letter"},
        {"push_tags=__name__=x", "reserved"},
        {"push_tags=env=a b", "no spaces"},
        {"push_tags=env=a;env=b", "twice"},
        {"push_app=my app", "letters"},
        {"push_token=abc", "POLYPROF_PUSH_TOKEN"},
        {"push_queue=0", "from 1 to 1024"},
        {"push_timeout=1ms", "100ms"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pp_options_default(&o);
        err[0] = '\0';
        CHECK_EQ_INT(pp_options_parse(&o, bad[i][0], err, sizeof err), -1);
        if (!strstr(err, bad[i][1]) || !strstr(err, "push")) {
            fprintf(stderr, "%s: unexpected message: %s\n", bad[i][0], err);
            pp_test_failures++;
        }
    }
    pp_options_default(&o);
    pp_options_parse(&o, "push_token=hunter2", err, sizeof err); /* the secret is not echoed */
    CHECK(strstr(err, "hunter2") == NULL);
}

static void test_missing_libcurl(void)
{
    setenv("POLYPROF_LIBCURL", "libcurl-not-installed.so.4", 1);
    pp_options o;
    pp_options_default(&o);
    char err[512] = "";
    CHECK_EQ_INT(pp_options_parse(&o, "push=http://127.0.0.1:9", err, sizeof err), 0);
    pp_push *p = pp_push_start(&o, "app", err, sizeof err);
    CHECK(p == NULL);
    CHECK(strstr(err, "push needs libcurl (Debian: libcurl4)") != NULL);
    unsetenv("POLYPROF_LIBCURL");
}

/* (1) A good server: one request per window, Pyroscope's query, the
 * headers, a body whose "profile" field is the window's pprof. */
static void test_windows_reach_a_good_server(void)
{
    server *s = server_start();
    setenv("POLYPROF_PUSH_TOKEN", "s3cret-token", 1);
    pp_options o = push_options(s, "interval=10ms,window=1s,service=unit-app,push_tags=env=test;region=eu,"
                                   "push_tenant=tenant-7,push_timeout=2s");
    char err[512];
    int64_t t0 = time(NULL);
    pp_continuous *c = pp_continuous_start(&o, NULL, NULL, err, sizeof err);
    unsetenv("POLYPROF_PUSH_TOKEN");
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "%s\n", err);
        server_stop(s);
        return;
    }
    burn_wall_ms(2300);
    uint64_t windows = pp_continuous_windows(c);
    pp_push_stats st;
    CHECK_EQ_INT(pp_continuous_finish(c, &st), 0); /* the partial window is pushed before it returns */
    int64_t t1 = time(NULL);
    int n = server_requests(s);
    CHECK(n >= 3 && n <= 4);
    CHECK_EQ_INT(st.pushed, n);
    CHECK(n == (int)windows || n == (int)windows + 1); /* + the partial one */
    CHECK_EQ_INT(st.failed_attempts + st.dropped_queue_full + st.dropped_rejected + st.queued, 0);
    for (int i = 0; i < n; i++) {
        request *r = &s->reqs[i];
        char name[256], from[32], until[32], format[32];
        CHECK(!strncmp(r->line, "POST /ingest?", 13));
        CHECK_EQ_INT(query_param(r->line, "name", name, sizeof name), 0);
        CHECK_STR(name, "unit-app{env=test,region=eu}");
        CHECK_EQ_INT(query_param(r->line, "format", format, sizeof format), 0);
        CHECK_STR(format, "pprof");
        CHECK_EQ_INT(query_param(r->line, "from", from, sizeof from), 0);
        CHECK_EQ_INT(query_param(r->line, "until", until, sizeof until), 0);
        CHECK(atoll(from) >= t0 && atoll(until) <= t1 + 1 && atoll(until) > atoll(from));
        CHECK(atoll(until) - atoll(from) <= 3); /* whole seconds around 1 s, late by a loaded machine */
        CHECK_STR(r->auth, "Bearer s3cret-token");
        CHECK_STR(r->tenant, "tenant-7");
        pp_profile *p = profile_field(r);
        CHECK(p != NULL);
        if (p) {
            const char *type, *unit;
            pp_profile_value_type(p, 1, &type, &unit);
            CHECK_STR(type, "cpu");
            if (i < n - 1) /* whole windows of burning */
                CHECK(pp_profile_num_samples(p) > 0);
            pp_profile_free(p);
        }
    }
    server_stop(s);
}

/* Basic auth from a file; the stats through the public API. */
static void test_basic_auth_file(void)
{
    server *s = server_start();
    char path[] = "/tmp/pp-push-auth-XXXXXX";
    int fd = mkstemp(path);
    CHECK(write(fd, "alice:pa ss\n", 12) == 12);
    close(fd);
    char extra[256];
    snprintf(extra, sizeof extra, "push_basic_auth_file=%s,push_app=basic", path);
    pp_options o = push_options(s, extra);
    char err[512];
    pp_push *p = pp_push_start(&o, "ignored", err, sizeof err);
    CHECK(p != NULL);
    enqueue_small(p, 1000);
    wait_for(s, 1, 5000);
    pp_push_stop(p, NULL);
    CHECK_EQ_INT(server_requests(s), 1);
    CHECK_STR(s->reqs[0].auth, "Basic YWxpY2U6cGEgc3M="); /* base64("alice:pa ss") */
    char name[64];
    query_param(s->reqs[0].line, "name", name, sizeof name);
    CHECK_STR(name, "basic{}");
    /* Both kinds of credentials: refused. */
    setenv("POLYPROF_PUSH_TOKEN", "t", 1);
    CHECK(pp_push_start(&o, "x", err, sizeof err) == NULL);
    CHECK(strstr(err, "keep one") != NULL);
    unsetenv("POLYPROF_PUSH_TOKEN");
    unlink(path);
    /* An unreadable CA file or secret file: refused at start, naming the key. */
    pp_options bad = push_options(s, "push_ca_file=/nonexistent/ca.pem");
    CHECK(pp_push_start(&bad, "x", err, sizeof err) == NULL);
    CHECK(strstr(err, "option 'push_ca_file': cannot read /nonexistent/ca.pem") != NULL);
    bad = push_options(s, "push_token_file=/nonexistent/token");
    CHECK(pp_push_start(&bad, "x", err, sizeof err) == NULL);
    CHECK(strstr(err, "option 'push_token_file': cannot read") != NULL);
    server_stop(s);
}

/* (2) A server that accepts and never answers: enqueueing never waits, the
 * queue stays bounded, the oldest windows are dropped and counted; when the
 * server comes back, the newest windows arrive. */
static void test_silent_server(void)
{
    server *s = server_start();
    atomic_store(&s->silent, 1);
    pp_options o = push_options(s, "push_queue=3,push_timeout=500ms,push_flush=5s");
    char err[512];
    pp_push *p = pp_push_start(&o, "silent", err, sizeof err);
    CHECK(p != NULL);
    enqueue_small(p, 1);
    for (int waited = 0; server_held(s) < 1 && waited < 5000; waited += 10)
        usleep(10000); /* window 1 is being sent */
    usleep(50000);
    uint64_t t = now_ns();
    for (int i = 2; i <= 10; i++)
        enqueue_small(p, i);
    /* Not a speed assertion: a blocked enqueue would take the request timeout. */
    CHECK(now_ns() - t < 400000000ULL);
    pp_push_stats st;
    pp_push_get_stats(p, &st);
    CHECK(st.queued <= 4);
    CHECK_EQ_INT(st.dropped_queue_full, 6); /* windows 2-7 */
    usleep(1500000);
    pp_push_get_stats(p, &st);
    CHECK(st.failed_attempts >= 1);
    CHECK_EQ_INT(st.pushed, 0);
    server_wake(s);
    wait_for(s, 3, 8000);
    usleep(200000);
    pp_push_get_stats(p, &st);
    pp_push_stop(p, NULL);
    CHECK_EQ_INT(st.pushed, 3);
    CHECK_EQ_INT(st.dropped_queue_full, 7); /* and window 1, the oldest, when its retry came */
    CHECK_EQ_INT(st.queued, 0);
    CHECK_EQ_INT(server_requests(s), 3);
    for (int i = 0; i < server_requests(s) && i < 3; i++) {
        char from[32];
        query_param(s->reqs[i].line, "from", from, sizeof from);
        CHECK_EQ_INT(atoll(from), 8 + i);
    }
    server_stop(s);
}

/* The application's windows come on time with a silent server, and stop
 * returns within push_flush (plus libcurl's abort check, about a second). */
static void test_silent_server_does_not_slow_windows(void)
{
    server *s = server_start();
    atomic_store(&s->silent, 1);
    pp_options o = push_options(s, "interval=10ms,window=1s,push_queue=1,push_timeout=60s,push_flush=500ms");
    char err[512];
    pp_continuous *c = pp_continuous_start(&o, NULL, NULL, err, sizeof err);
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "%s\n", err);
        server_stop(s);
        return;
    }
    /* Window 0 waits for an answer, window 1 waits in the queue, window 2
     * pushes window 1 out. */
    uint64_t started = now_ns();
    for (int i = 0; i < 100 && pp_continuous_windows(c) < 3; i++)
        burn_ms(100);
    /* On time: an exporter waiting for the server would take push_timeout (60 s). */
    CHECK(now_ns() - started < 6000000000ULL);
    pp_push_stats st;
    CHECK_EQ_INT(pp_continuous_push_stats(c, &st), 0);
    CHECK(pp_continuous_windows(c) >= 3);
    CHECK(st.queued <= 2);
    CHECK(st.dropped_queue_full >= 1);
    uint64_t t = now_ns();
    pp_continuous_stop(c);
    CHECK(now_ns() - t < 3000000000ULL);
    server_stop(s);
}

/* pp_push_release (a tripped breaker's stop) returns at once; the queued
 * windows still go out in the background within push_flush. */
static void test_release_flushes_in_the_background(void)
{
    server *s = server_start();
    atomic_store(&s->silent, 1);
    pp_options o = push_options(s, "push_timeout=60s,push_flush=5s");
    char err[512];
    pp_push *p = pp_push_start(&o, "released", err, sizeof err);
    enqueue_small(p, 1);
    enqueue_small(p, 2);
    for (int waited = 0; server_held(s) < 1 && waited < 5000; waited += 10)
        usleep(10000); /* window 1 is being sent, and waits for an answer */
    uint64_t t = now_ns();
    pp_push_release(p);
    CHECK(now_ns() - t < 200000000ULL); /* neither the request nor the flush was waited for */
    server_wake(s);
    wait_for(s, 2, 5000);
    CHECK_EQ_INT(server_requests(s), 2);
    usleep(100000); /* the thread ends and frees itself (LeakSanitizer checks) */
    server_stop(s);
}

/* A process that exits while a released pusher is still uploading: exit
 * ends the upload (libcurl's TLS library tears itself down in an exit
 * handler, and a thread still in libcurl then crashed in it) and waits for
 * the thread, whose last word is the windows it did not send. In a child,
 * whose stderr is read here. */
static void test_exit_ends_the_uploads(void)
{
    int fds[2];
    CHECK_EQ_INT(pipe(fds), 0);
    uint64_t t = now_ns();
    pid_t child = fork();
    if (child == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        server *s = server_start();
        atomic_store(&s->silent, 1);
        pp_options o = push_options(s, "push_timeout=60s,push_flush=60s");
        char err[512];
        pp_push *p = pp_push_start(&o, "exiting", err, sizeof err);
        if (!p)
            _exit(3);
        enqueue_small(p, 1);
        enqueue_small(p, 2);
        for (int waited = 0; server_held(s) < 1 && waited < 5000; waited += 10)
            usleep(10000); /* window 1 is being sent, and waits for an answer */
        pp_push_release(p);
        exit(0);
    }
    close(fds[1]);
    char out[4096];
    size_t have = 0;
    ssize_t n;
    char rest[4096];
    /* Read to the end (what does not fit is dropped): a closed pipe would kill the child. */
    while ((n = have < sizeof out - 1 ? read(fds[0], out + have, sizeof out - 1 - have)
                                      : read(fds[0], rest, sizeof rest)) > 0)
        if (have < sizeof out - 1)
            have += (size_t)n;
    out[have] = 0;
    close(fds[0]);
    int status = 0;
    CHECK_EQ_INT(waitpid(child, &status, 0), child);
    /* Exited, not killed by a signal (LeakSanitizer may still set the
     * status: the child's server is left running, on purpose). */
    CHECK(WIFEXITED(status));
    if (!WIFEXITED(status))
        fprintf(stderr, "the exiting child: status %#x, stderr:\n%s\n", status, out);
    CHECK(strstr(out, "2 window(s) not sent by the end of push_flush") != NULL);
    /* Not a speed assertion: exit must not wait push_flush (60 s). */
    CHECK(now_ns() - t < 20000000000ULL);
}

/* (3) 429 with Retry-After: retried no sooner than the server asked. */
static void test_retry_after(void)
{
    server *s = server_start();
    s->script[0] = 429;
    s->n_script = 1;
    s->retry_after = "1";
    pp_options o = push_options(s, "push_timeout=2s");
    char err[512];
    pp_push *p = pp_push_start(&o, "limited", err, sizeof err);
    enqueue_small(p, 100);
    wait_for(s, 2, 5000);
    usleep(100000);
    pp_push_stats st;
    pp_push_get_stats(p, &st);
    pp_push_stop(p, NULL);
    CHECK_EQ_INT(server_requests(s), 2);
    CHECK_EQ_INT(st.pushed, 1);
    CHECK_EQ_INT(st.failed_attempts, 1);
    if (server_requests(s) == 2)
        CHECK(s->reqs[1].at_ns - s->reqs[0].at_ns >= 950000000ULL);
    server_stop(s);
}

/* (4) 500s: retried with backoff until the server recovers; (5) 400: the
 * window is dropped and counted, never retried. */
static void test_server_errors(void)
{
    server *s = server_start();
    s->script[0] = 500;
    s->script[1] = 503;
    s->n_script = 2;
    pp_options o = push_options(s, "push_timeout=2s");
    char err[512];
    pp_push *p = pp_push_start(&o, "flaky", err, sizeof err);
    enqueue_small(p, 200);
    wait_for(s, 3, 8000);
    usleep(100000);
    pp_push_stats st;
    pp_push_get_stats(p, &st);
    CHECK_EQ_INT(server_requests(s), 3);
    CHECK_EQ_INT(st.pushed, 1);
    CHECK_EQ_INT(st.failed_attempts, 2);
    if (server_requests(s) == 3) /* backoff: at least half of 0.5 s, then of 1 s */
        CHECK(s->reqs[2].at_ns - s->reqs[1].at_ns >= 450000000ULL);

    pthread_mutex_lock(&s->lock);
    s->script[0] = 400;
    s->n_script = 1;
    pthread_mutex_unlock(&s->lock);
    enqueue_small(p, 300);
    wait_for(s, 4, 5000);
    usleep(700000); /* a retry would come within 0.5 s */
    pp_push_get_stats(p, &st);
    pp_push_stop(p, NULL);
    CHECK_EQ_INT(server_requests(s), 4);
    CHECK_EQ_INT(st.dropped_rejected, 1);
    CHECK_EQ_INT(st.pushed, 1);
    server_stop(s);
}

/* A bridge's own pusher (allocation windows): the application from
 * service, the profile encoded by the core, its value types intact. */
static void test_bridge_pusher(void)
{
    server *s = server_start();
    pp_options o = push_options(s, "service=alloc-app,push_tags=env=test");
    char err[512];
    pp_push *push = pp_push_open(&o, err, sizeof err);
    CHECK(push != NULL);
    if (!push) {
        fprintf(stderr, "%s\n", err);
        server_stop(s);
        return;
    }
    const char *types[] = {"alloc_objects", "alloc_space"}, *units[] = {"count", "bytes"};
    pp_profile *p = pp_profile_create(types, units, 2, "space", "bytes", 524288);
    pp_frame_spec f = {"grow", "app.py", 7, 9, 0};
    int64_t v[] = {4, 2097152};
    pp_profile_append(p, &f, 1, NULL, 0, v);
    int64_t t0 = (int64_t)time(NULL);
    CHECK_EQ_INT(pp_push_profile(push, p, t0 * 1000000000LL, (t0 + 1) * 1000000000LL, err, sizeof err), 0);
    pp_profile_free(p);
    pp_push_stats st;
    pp_push_stop(push, &st);
    CHECK_EQ_INT(st.pushed, 1);
    CHECK_EQ_INT(server_requests(s), 1);
    if (server_requests(s) == 1) {
        char name[256];
        CHECK_EQ_INT(query_param(s->reqs[0].line, "name", name, sizeof name), 0);
        CHECK_STR(name, "alloc-app{env=test}");
        pp_profile *got = profile_field(&s->reqs[0]);
        CHECK(got != NULL);
        if (got) {
            const char *type, *unit;
            pp_profile_value_type(got, 1, &type, &unit);
            CHECK_STR(type, "alloc_space");
            CHECK_EQ_INT(pp_profile_num_samples(got), 1);
            pp_profile_free(got);
        }
    }
    server_stop(s);
}

int main(void)
{
    test_options();
    test_missing_libcurl();
    test_windows_reach_a_good_server();
    test_bridge_pusher();
    test_basic_auth_file();
    test_silent_server();
    test_silent_server_does_not_slow_windows();
    test_release_flushes_in_the_background();
    test_exit_ends_the_uploads();
    test_retry_after();
    test_server_errors();
    TEST_MAIN_END();
}
