/* The local endpoint, with raw sockets as the client: routes, status JSON,
 * the 400/401/404/405/413/429 paths, the token, the loopback rule, a CPU
 * capture decoded by the core's own reader, a trigger into the store,
 * memory hooks, garbage and oversized requests, unix sockets, stop during a
 * capture, the server threads' signal mask, fork. */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "burn.h"
#include "check.h"
#include "polyprof.h"

typedef struct reply {
    int status;
    char headers[4096];
    uint8_t *body;
    size_t len;
} reply;

static int connect_to(int port, const char *unix_path)
{
    int fd;
    if (unix_path) {
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un un = {.sun_family = AF_UNIX};
        snprintf(un.sun_path, sizeof un.sun_path, "%s", unix_path);
        if (connect(fd, (struct sockaddr *)&un, sizeof un) != 0) {
            close(fd);
            return -1;
        }
        return fd;
    }
    fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(0x7f000001);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends raw bytes, reads until the server closes; status 0 when there was
 * no HTTP answer. */
static reply send_raw(int port, const char *unix_path, const void *req, size_t req_len)
{
    reply r;
    memset(&r, 0, sizeof r);
    int fd = connect_to(port, unix_path);
    if (fd < 0)
        return r;
    struct timeval tv = {20, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    size_t off = 0;
    while (off < req_len) {
        ssize_t n = send(fd, (const char *)req + off, req_len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (len == cap)
            buf = realloc(buf, cap *= 2);
        ssize_t n = recv(fd, buf + len, cap - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    uint8_t *end = len >= 4 ? memmem(buf, len, "\r\n\r\n", 4) : NULL;
    if (end && sscanf((char *)buf, "HTTP/1.%*d %d", &r.status) == 1) {
        size_t hl = (size_t)(end - buf);
        snprintf(r.headers, sizeof r.headers, "%.*s", (int)(hl < sizeof r.headers ? hl : sizeof r.headers - 1),
                 (char *)buf);
        r.len = len - hl - 4;
        r.body = malloc(r.len + 1);
        memcpy(r.body, end + 4, r.len);
        r.body[r.len] = '\0';
    }
    free(buf);
    return r;
}

static reply request(int port, const char *method, const char *path, const char *extra_headers)
{
    char req[2048];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n%s\r\n", method,
                     path, extra_headers ? extra_headers : "");
    return send_raw(port, NULL, req, (size_t)n);
}

static reply get(int port, const char *path) { return request(port, "GET", path, NULL); }

static int body_has(const reply *r, const char *s) { return r->body && strstr((char *)r->body, s) != NULL; }

static void drop(reply *r)
{
    free(r->body);
    r->body = NULL;
}

static pp_endpoint *start_with(const char *spec, const pp_endpoint_hooks *hooks, char *err, size_t errlen)
{
    pp_options o;
    pp_options_default(&o);
    if (pp_options_parse(&o, spec, err, errlen) != 0)
        return NULL;
    return pp_endpoint_start(&o, hooks, err, errlen);
}

/* ------------------------------------------------------------ workload */

static _Atomic int burning;

__attribute__((noinline)) void endpoint_test_burner(void)
{
    while (atomic_load(&burning))
        burn_ms(20);
}

static void *burner_main(void *arg)
{
    (void)arg;
    endpoint_test_burner();
    return NULL;
}

typedef struct client_job {
    int port;
    char path[256];
    reply r;
} client_job;

static void *client_main(void *arg)
{
    client_job *j = arg;
    j->r = get(j->port, j->path);
    return NULL;
}

static int profile_has_frame(const pp_profile *p, const char *name)
{
    for (size_t s = 0; s < pp_profile_num_samples(p); s++)
        for (uint32_t d = 0; d < pp_profile_sample_depth(p, s); d++) {
            pp_frame_view v;
            pp_profile_sample_frame(p, s, d, &v);
            if (v.name && strstr(v.name, name))
                return 1;
        }
    return 0;
}

static int has_comment(const pp_profile *p, const char *line)
{
    for (uint32_t i = 0; i < pp_profile_num_comments(p); i++)
        if (!strcmp(pp_profile_comment(p, i), line))
            return 1;
    return 0;
}

/* ------------------------------------------------------------ hooks */

static pp_profile *memory_hook(void *ctx, pp_memory_kind kind, char *err, size_t errlen)
{
    (void)ctx;
    if (kind == PP_MEMORY_ALLOCS) {
        snprintf(err, errlen, "allocation profiling is off: start it with alloc=true");
        return NULL;
    }
    const char *types[] = {"inuse_objects", "inuse_space"}, *units[] = {"count", "bytes"};
    pp_profile *p = pp_profile_create(types, units, 2, "space", "bytes", 524288);
    pp_frame_spec f[] = {{"make_cache", "app.py", 10, 8, 1}};
    int64_t v[] = {3, 3 << 20};
    pp_profile_append(p, f, 1, NULL, 0, v);
    return p;
}

static int status_hook(void *ctx, char *out, size_t len)
{
    (void)ctx;
    snprintf(out, len, "\"test_extra\": 42");
    return 0;
}

/* ------------------------------------------------------------ tests */

static void test_options(void)
{
    pp_options o;
    pp_options_default(&o);
    char err[512];
    CHECK_EQ_INT(pp_options_parse(&o, "endpoint=127.0.0.1:6060", err, sizeof err), 0);
    CHECK_STR(o.endpoint, "127.0.0.1:6060");
    CHECK_EQ_INT(pp_options_parse(&o, "endpoint=:0,endpoint_remote=true", err, sizeof err), 0);
    CHECK_EQ_INT(o.endpoint_remote, 1);
    CHECK_EQ_INT(pp_options_parse(&o, "endpoint=unix:/tmp/x.sock", err, sizeof err), 0);
    CHECK_EQ_INT(pp_options_parse(&o, "endpoint=[::1]:6060", err, sizeof err), 0);
    CHECK_EQ_INT(pp_options_parse(&o, "endpoint=127.0.0.1:99999", err, sizeof err), -1);
    CHECK(strstr(err, "option 'endpoint'") && strstr(err, "port"));
    CHECK_EQ_INT(pp_options_parse(&o, "endpoint=example.com:80", err, sizeof err), -1);
    CHECK(strstr(err, "not an IP address"));
    CHECK_EQ_INT(pp_options_parse(&o, "endpoint_remote=maybe", err, sizeof err), -1);
    CHECK(strstr(err, "endpoint_remote"));
}

static void test_refusals(void)
{
    char err[512];
    unsetenv("POLYPROF_ENDPOINT_TOKEN");
    CHECK(start_with("endpoint=0.0.0.0:0", NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, "not a loopback address") && strstr(err, "endpoint_remote=true"));
    CHECK(start_with("endpoint=0.0.0.0:0,endpoint_remote=true", NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, "no token"));
    CHECK(start_with("endpoint=:0,endpoint_token_file=/nonexistent/token", NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, "endpoint_token_file"));
    /* With both, a non-loopback bind is allowed. */
    setenv("POLYPROF_ENDPOINT_TOKEN", "remote-token-0123456789", 1);
    pp_endpoint *e = start_with("endpoint=0.0.0.0:0,endpoint_remote=true", NULL, err, sizeof err);
    CHECK(e != NULL);
    if (e) {
        reply r = get(pp_endpoint_port(e), "/polyprof/status");
        CHECK_EQ_INT(r.status, 401);
        drop(&r);
    }
    pp_endpoint_stop(e);
    unsetenv("POLYPROF_ENDPOINT_TOKEN");
    /* A port in use. */
    pp_endpoint *a = start_with("endpoint=:0", NULL, err, sizeof err);
    CHECK(a != NULL);
    char spec[64];
    snprintf(spec, sizeof spec, "endpoint=:%d", pp_endpoint_port(a));
    CHECK(start_with(spec, NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, "one endpoint per process"));
    pp_endpoint_stop(a);
}

static void test_routes(pp_endpoint *e)
{
    int port = pp_endpoint_port(e);
    char addr[128];
    pp_endpoint_address(e, addr, sizeof addr);
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%d", port);
    CHECK(port > 0);
    CHECK_STR(addr, want);

    static const struct {
        const char *method, *path;
        int status;
        const char *says;
    } cases[] = {
        {"GET", "/debug/pprof/", 200, "profile?seconds="},
        {"GET", "/nope", 404, "no such page"},
        {"DELETE", "/debug/pprof/profile", 405, "answers GET"},
        {"GET", "/polyprof/trigger", 405, "use POST"},
        {"GET", "/debug/pprof/profile?seconds=abc", 400, "whole number"},
        {"GET", "/debug/pprof/profile?seconds=0", 400, "whole number"},
        {"GET", "/debug/pprof/profile?seconds=600", 400, "maximum capture of 5 s"},
        {"GET", "/debug/pprof/allocs", 404, "allocation profiling is not running in this process"},
        {"GET", "/debug/pprof/heap", 404, "allocation profiling is not running in this process"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        reply r = request(port, cases[i].method, cases[i].path, NULL);
        if (r.status != cases[i].status || !body_has(&r, cases[i].says))
            fprintf(stderr, "%s %s: HTTP %d: %s\n", cases[i].method, cases[i].path, r.status,
                    r.body ? (char *)r.body : "");
        CHECK_EQ_INT(r.status, cases[i].status);
        CHECK(body_has(&r, cases[i].says));
        drop(&r);
    }
}

static void test_status(pp_endpoint *e)
{
    char err[256];
    pp_breaker *quiet = pp_breaker_new(5, 1, 60000000000ULL, err, sizeof err);
    pp_breaker *tripped = pp_breaker_new(5, 1, 60000000000ULL, err, sizeof err);
    uint64_t now = pp_now_ns();
    CHECK_EQ_INT(pp_breaker_record(tripped, 100, 10, 1, now), 1);
    reply r = get(pp_endpoint_port(e), "/polyprof/status");
    CHECK_EQ_INT(r.status, 200);
    CHECK(strstr(r.headers, "application/json") != NULL);
    char pid[64];
    snprintf(pid, sizeof pid, "\"pid\": %d,", (int)getpid());
    CHECK(body_has(&r, pid));
    CHECK(body_has(&r, "\"runtime\": \"test\""));
    CHECK(body_has(&r, "\"service\": \"unit-svc\""));
    CHECK(body_has(&r, "\"captures_running\": "));
    CHECK(body_has(&r, "\"sampler_running\": "));
    CHECK(body_has(&r, "\"interval_ms\": "));
    CHECK(body_has(&r, "\"capture_interval_ms\": 5.000"));
    CHECK(body_has(&r, "\"dropped_samples\": "));
    CHECK(body_has(&r, "\"overhead_pct\": "));
    CHECK(body_has(&r, "\"endpoint_capture\": null"));
    CHECK(body_has(&r, "\"state\": \"open\"") && body_has(&r, "\"state\": \"closed\""));
    CHECK(body_has(&r, "\"breakers_open\": 1"));
    CHECK(body_has(&r, "\"test_extra\": 42"));
    drop(&r);
    pp_breaker_free(quiet);
    pp_breaker_free(tripped);
    r = get(pp_endpoint_port(e), "/polyprof/status");
    CHECK(!body_has(&r, "\"state\": \"open\""));
    drop(&r);
}

static void test_capture(pp_endpoint *e)
{
    int port = pp_endpoint_port(e);
    pthread_t burner, client;
    atomic_store(&burning, 1);
    pthread_create(&burner, NULL, burner_main, NULL);
    client_job job = {.port = port};
    snprintf(job.path, sizeof job.path, "/debug/pprof/profile?seconds=2");
    pthread_create(&client, NULL, client_main, &job);
    usleep(500000);
    /* While it runs: a second capture is refused, status still answers. */
    reply busy = get(port, "/debug/pprof/profile?seconds=1");
    CHECK_EQ_INT(busy.status, 429);
    CHECK(strstr(busy.headers, "Retry-After: ") != NULL);
    drop(&busy);
    reply st = get(port, "/polyprof/status");
    CHECK_EQ_INT(st.status, 200);
    CHECK(body_has(&st, "\"endpoint_capture\": {\"kind\": \"cpu\", \"seconds\": 2"));
    CHECK(body_has(&st, "\"sampler_running\": true"));
    drop(&st);
    pthread_join(client, NULL);
    atomic_store(&burning, 0);
    pthread_join(burner, NULL);

    CHECK_EQ_INT(job.r.status, 200);
    CHECK(strstr(job.r.headers, "application/octet-stream") != NULL);
    CHECK(job.r.len > 2 && job.r.body[0] == 0x1f && job.r.body[1] == 0x8b); /* gzip */
    char err[256];
    pp_profile *p = job.r.body ? pp_profile_decode_pprof(job.r.body, job.r.len, err, sizeof err) : NULL;
    CHECK(p != NULL);
    if (p) {
        CHECK(pp_profile_num_samples(p) > 0);
        CHECK(profile_has_frame(p, "endpoint_test_burner"));
        CHECK(has_comment(p, "trigger=endpoint"));
        int64_t d = pp_profile_duration_nanos(p);
        CHECK(d > 1500000000LL && d < 4000000000LL);
        pp_profile_free(p);
    }
    drop(&job.r);
    /* The sampler stopped with the capture. */
    CHECK(!pp_sampler_running());
}

static void test_trigger(pp_endpoint *e, const char *store)
{
    int port = pp_endpoint_port(e);
    char err[256];
    CHECK_EQ_INT(pp_rate_limit_configure(1, 300000000000ULL, err, sizeof err), 0);
    reply r = request(port, "POST", "/polyprof/trigger?seconds=1", NULL);
    CHECK_EQ_INT(r.status, 202);
    CHECK(body_has(&r, "\"store\": ") && body_has(&r, store));
    CHECK(body_has(&r, "unit-svc_cpu_<UTC start>_manual.pb.gz"));
    drop(&r);
    r = request(port, "POST", "/polyprof/trigger?seconds=1", NULL);
    CHECK_EQ_INT(r.status, 429); /* busy */
    drop(&r);
    usleep(1800000);
    r = get(port, "/polyprof/status");
    CHECK(body_has(&r, "\"last_trigger\": {\"file\": ") && body_has(&r, "_manual.pb.gz"));
    CHECK(body_has(&r, "\"endpoint_capture\": null"));
    drop(&r);
    r = request(port, "POST", "/polyprof/trigger?seconds=1", NULL);
    CHECK_EQ_INT(r.status, 429); /* the rate limit: one per 300 s */
    CHECK(body_has(&r, "rate limited"));
    drop(&r);
    pp_rate_limit_reset();
    pp_store *s = pp_store_open(store, 0, 0, err, sizeof err);
    pp_store_entry *v = NULL;
    int n = s ? pp_store_list(s, &v, err, sizeof err) : -1;
    CHECK_EQ_INT(n, 1);
    if (n == 1) {
        CHECK_STR(v[0].trigger, "manual");
        CHECK_STR(v[0].service, "unit-svc");
    }
    free(v);
    pp_store_close(s);
}

static void test_bad_requests(pp_endpoint *e)
{
    int port = pp_endpoint_port(e);
    const char garbage[] = "\x01\x02\x03 not http at all\r\n\r\n";
    reply r = send_raw(port, NULL, garbage, sizeof garbage - 1);
    CHECK_EQ_INT(r.status, 400);
    fprintf(stderr, "garbage request: HTTP %d\n", r.status);
    drop(&r);
    /* 64 KB of headers: past the connection's memory limit. */
    size_t big = 64 << 10;
    char *req = malloc(big + 256);
    int n = snprintf(req, 256, "GET /polyprof/status HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(req + n, 'a', big);
    memcpy(req + n + big, "\r\n\r\n", 5);
    r = send_raw(port, NULL, req, (size_t)n + big + 4);
    CHECK_EQ_INT(r.status, 431); /* Request Header Fields Too Large */
    fprintf(stderr, "64 KB of headers: HTTP %d\n", r.status);
    drop(&r);
    free(req);
    r = request(port, "POST", "/polyprof/trigger", "Content-Length: 100000\r\n");
    CHECK_EQ_INT(r.status, 413);
    drop(&r);
    /* And the server still serves. */
    r = get(port, "/polyprof/status");
    CHECK_EQ_INT(r.status, 200);
    drop(&r);
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* Stop frees the port and every descriptor: the same port serves again. */
static void test_restart_same_port(void)
{
    char err[512], spec[64];
    int fds = count_fds();
    pp_endpoint *e = start_with("endpoint=:0", NULL, err, sizeof err);
    CHECK(e != NULL);
    if (!e)
        return;
    int port = pp_endpoint_port(e);
    reply r = get(port, "/polyprof/status");
    drop(&r);
    pp_endpoint_stop(e);
    CHECK_EQ_INT(count_fds(), fds);
    snprintf(spec, sizeof spec, "endpoint=127.0.0.1:%d", port);
    e = start_with(spec, NULL, err, sizeof err);
    CHECK(e != NULL);
    if (e) {
        r = get(port, "/polyprof/status");
        CHECK_EQ_INT(r.status, 200);
        drop(&r);
    }
    pp_endpoint_stop(e);
    CHECK_EQ_INT(count_fds(), fds);
}

/* The production interval (100 ms) is for always-on windows; a capture
 * asked for is read at 100 Hz, and a finer interval stays finer. */
static void test_capture_interval(void)
{
    char err[512];
    pp_endpoint *e = start_with("endpoint=:0,interval=100ms", NULL, err, sizeof err);
    CHECK(e != NULL);
    if (!e)
        return;
    reply r = get(pp_endpoint_port(e), "/polyprof/status");
    CHECK(body_has(&r, "\"capture_interval_ms\": 10.000"));
    drop(&r);
    r = get(pp_endpoint_port(e), "/debug/pprof/profile?seconds=1");
    CHECK_EQ_INT(r.status, 200);
    pp_profile *p = r.body ? pp_profile_decode_pprof(r.body, r.len, err, sizeof err) : NULL;
    CHECK(p != NULL);
    if (p) {
        int found = 0; /* the options line: "options=event=cpu,interval=10000us,..." */
        for (uint32_t i = 0; i < pp_profile_num_comments(p); i++)
            found |= strstr(pp_profile_comment(p, i), "interval=10000us") != NULL;
        CHECK(found);
        pp_profile_free(p);
    }
    drop(&r);
    pp_endpoint_stop(e);
}

static void test_memory_hooks(void)
{
    char err[512];
    pp_endpoint_hooks hooks = {.runtime = "test", .memory_profile = memory_hook};
    pp_endpoint *e = start_with("endpoint=:0", &hooks, err, sizeof err);
    CHECK(e != NULL);
    if (!e)
        return;
    int port = pp_endpoint_port(e);
    reply r = get(port, "/debug/pprof/heap");
    CHECK_EQ_INT(r.status, 200);
    pp_profile *p = r.body ? pp_profile_decode_pprof(r.body, r.len, err, sizeof err) : NULL;
    CHECK(p != NULL && profile_has_frame(p, "make_cache"));
    pp_profile_free(p);
    drop(&r);
    r = get(port, "/debug/pprof/allocs");
    CHECK_EQ_INT(r.status, 404);
    CHECK(body_has(&r, "alloc=true"));
    drop(&r);
    pp_endpoint_stop(e);
}

static void test_token(void)
{
    char err[512];
    char path[] = "/tmp/pp-endpoint-token-XXXXXX";
    int fd = mkstemp(path);
    CHECK(write(fd, "file-token-abcdef\n", 18) == 18);
    close(fd);
    char spec[256];
    snprintf(spec, sizeof spec, "endpoint=:0,endpoint_token_file=%s", path);
    pp_endpoint *e = start_with(spec, NULL, err, sizeof err);
    CHECK(e != NULL);
    if (e) {
        int port = pp_endpoint_port(e);
        reply r = get(port, "/polyprof/status");
        CHECK_EQ_INT(r.status, 401);
        CHECK(strstr(r.headers, "WWW-Authenticate: Bearer") != NULL);
        drop(&r);
        r = request(port, "GET", "/polyprof/status", "Authorization: Bearer file-token-abcdeX\r\n");
        CHECK_EQ_INT(r.status, 401);
        drop(&r);
        r = request(port, "GET", "/polyprof/status", "Authorization: Bearer file-token-abcdef-longer\r\n");
        CHECK_EQ_INT(r.status, 401);
        drop(&r);
        r = request(port, "GET", "/polyprof/status", "Authorization: Bearer file-token-abcdef\r\n");
        CHECK_EQ_INT(r.status, 200);
        drop(&r);
    }
    pp_endpoint_stop(e);
    unlink(path);
}

static void test_unix_socket(void)
{
    char dir[] = "/tmp/pp-endpoint-unix-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char sock[128], spec[200], err[512];
    snprintf(sock, sizeof sock, "%s/polyprof.sock", dir);
    snprintf(spec, sizeof spec, "endpoint=%s", sock);
    pp_endpoint *e = start_with(spec, NULL, err, sizeof err);
    CHECK(e != NULL);
    if (!e) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    struct stat st;
    CHECK(stat(sock, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600);
    char addr[200], want[200];
    pp_endpoint_address(e, addr, sizeof addr);
    snprintf(want, sizeof want, "unix:%s", sock);
    CHECK_STR(addr, want);
    const char req[] = "GET /polyprof/status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    reply r = send_raw(0, sock, req, sizeof req - 1);
    CHECK_EQ_INT(r.status, 200);
    CHECK(body_has(&r, "\"address\": \"unix:"));
    drop(&r);
    pp_endpoint_stop(e);
    CHECK(stat(sock, &st) != 0);
    rmdir(dir);
}

static void test_stop_during_capture(void)
{
    char err[512];
    pp_endpoint *e = start_with("endpoint=:0", NULL, err, sizeof err);
    CHECK(e != NULL);
    if (!e)
        return;
    client_job job = {.port = pp_endpoint_port(e)};
    snprintf(job.path, sizeof job.path, "/debug/pprof/profile?seconds=20");
    pthread_t client;
    pthread_create(&client, NULL, client_main, &job);
    usleep(400000);
    pp_endpoint_stop(e);
    pthread_join(client, NULL);
    fprintf(stderr, "capture stopped early: HTTP %d, %zu bytes\n", job.r.status, job.r.len);
    /* The client got what was sampled until the stop, or the connection
     * closed; never a hang. */
    if (job.r.status == 200) {
        pp_profile *p = pp_profile_decode_pprof(job.r.body, job.r.len, err, sizeof err);
        CHECK(p != NULL && pp_profile_duration_nanos(p) < 10000000000LL);
        pp_profile_free(p);
    }
    drop(&job.r);
    CHECK(!pp_sampler_running());
}

/* Every thread the server added blocks SIGPROF (read from /proc). */
static void test_signal_mask(const int *before, int n_before)
{
    DIR *d = opendir("/proc/self/task");
    int checked = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        int tid = atoi(de->d_name);
        if (tid <= 0)
            continue;
        int old = 0;
        for (int i = 0; i < n_before; i++)
            old |= before[i] == tid;
        if (old)
            continue;
        char path[64], line[256];
        snprintf(path, sizeof path, "/proc/self/task/%d/status", tid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        while (fgets(line, sizeof line, f)) {
            unsigned long long mask;
            if (sscanf(line, "SigBlk: %llx", &mask) == 1) {
                CHECK(mask & (1ULL << (SIGPROF - 1)));
                checked++;
            }
        }
        fclose(f);
    }
    closedir(d);
    CHECK(checked >= 1);
}

static int list_tids(int *out, int max)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (atoi(de->d_name) > 0 && n < max)
            out[n++] = atoi(de->d_name);
    closedir(d);
    return n;
}

static void test_fork(pp_endpoint *e)
{
    pid_t pid = fork();
    if (pid == 0) {
        /* The child has no endpoint: stopping the inherited handle is safe,
         * and it may start its own. */
        char err[512];
        pp_endpoint_stop(e);
        pp_endpoint *mine = start_with("endpoint=:0", NULL, err, sizeof err);
        int ok = mine != NULL;
        if (mine) {
            reply r = get(pp_endpoint_port(mine), "/polyprof/status");
            ok = r.status == 200;
            free(r.body);
        }
        pp_endpoint_stop(mine);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    reply r = get(pp_endpoint_port(e), "/polyprof/status");
    CHECK_EQ_INT(r.status, 200); /* the parent still serves */
    drop(&r);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    test_options();
    test_refusals();

    char store[] = "/tmp/pp-endpoint-store-XXXXXX";
    CHECK(mkdtemp(store) != NULL);
    int tids[256];
    int n_tids = list_tids(tids, 256);
    char spec[512], err[512];
    snprintf(spec, sizeof spec, "endpoint=127.0.0.1:0,duration=5s,service=unit-svc,store=%s,interval=5ms", store);
    pp_endpoint_hooks hooks = {.runtime = "test", .status_json = status_hook};
    pp_endpoint *e = start_with(spec, &hooks, err, sizeof err);
    CHECK(e != NULL);
    if (!e) {
        fprintf(stderr, "%s\n", err);
        TEST_MAIN_END();
    }
    test_signal_mask(tids, n_tids);
    test_routes(e);
    test_status(e);
    test_bad_requests(e);
    test_capture(e);
    test_trigger(e, store);
    test_fork(e);
    pp_endpoint_stop(e);

    test_restart_same_port();
    test_capture_interval();
    test_memory_hooks();
    test_token();
    test_unix_socket();
    test_stop_during_capture();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", store);
    CHECK(system(cmd) == 0);
    TEST_MAIN_END();
}
