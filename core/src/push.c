/* Pushing continuous windows to Grafana Pyroscope.
 *
 * The protocol is Pyroscope's documented HTTP ingest API (grafana/pyroscope,
 * docs "Server HTTP API", section "pprof format"):
 *   POST /ingest?name=<app>{k=v,...}&from=<unix s>&until=<unix s>&format=pprof
 * with the gzip pprof in the form file field "profile" of a
 * multipart/form-data body, the form the docs give for pprof. The server
 * (pkg/og/convert/pprof/profile.go, RawProfile.loadPprofFromForm) reads that
 * field; without a sample_type_config field it names the profile types from
 * the pprof's own sample types (cpu -> process_cpu, wall -> wall). `name` is
 * the application name and its labels; label names follow Prometheus' rules,
 * which Pyroscope's distributor enforces (pkg/validation ValidateLabels), and
 * application names Pyroscope's own (pkg/og/flameql ValidateAppName).
 * Multi-tenant servers read the tenant from X-Scope-OrgID.
 *
 * The HTTP client is libcurl, loaded with dlopen at the first start: a
 * process that never pushes never maps it, and a machine without it gets an
 * error naming the package instead of a failed load of the whole library.
 * RTLD_DEEPBIND: Node carries OpenSSL 3 statically and exports its symbols;
 * without it the libssl/libcrypto libcurl pulls in would bind to Node's
 * copies. AddressSanitizer refuses RTLD_DEEPBIND, so sanitized builds (the
 * core's unit tests, never inside Node) load without it. */
#include "push.h"
#include "service_name.h"

#include <ctype.h>
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define PP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PP_ASAN 1
#endif
#endif

/* ------------------------------------------------------------ libcurl, loaded at run time */

static struct {
    CURLcode (*global_init)(long flags);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    void (*easy_reset)(CURL *);
    void (*easy_cleanup)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    char *(*easy_escape)(CURL *, const char *, int);
    void (*free)(void *);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
    curl_mime *(*mime_init)(CURL *);
    curl_mimepart *(*mime_addpart)(curl_mime *);
    CURLcode (*mime_name)(curl_mimepart *, const char *);
    CURLcode (*mime_filename)(curl_mimepart *, const char *);
    CURLcode (*mime_type)(curl_mimepart *, const char *);
    CURLcode (*mime_data)(curl_mimepart *, const char *, size_t);
    void (*mime_free)(curl_mime *);
} curl;
static pthread_mutex_t curl_lock = PTHREAD_MUTEX_INITIALIZER;
static int curl_loaded;
static void stop_uploads_at_exit(void);

/* Loads libcurl once per process (never unloaded: its TLS library keeps
 * process-wide state). POLYPROF_LIBCURL names another build, e.g.
 * libcurl-gnutls.so.4. A failure is retried at the next start. */
static int load_curl(char *err, size_t errlen)
{
    pthread_mutex_lock(&curl_lock);
    if (curl_loaded) {
        pthread_mutex_unlock(&curl_lock);
        return 0;
    }
    const char *name = getenv("POLYPROF_LIBCURL");
    if (!name || !*name)
        name = "libcurl.so.4";
    int flags = RTLD_NOW | RTLD_LOCAL;
#ifndef PP_ASAN
    flags |= RTLD_DEEPBIND;
#endif
    void *h = dlopen(name, flags);
    if (!h) {
        const char *why = dlerror();
        snprintf(err, errlen, "option 'push': push needs libcurl (Debian: libcurl4): %s", why ? why : name);
        pthread_mutex_unlock(&curl_lock);
        return -1;
    }
    struct {
        void **slot;
        const char *symbol;
    } syms[] = {
        {(void **)&curl.global_init, "curl_global_init"},   {(void **)&curl.easy_init, "curl_easy_init"},
        {(void **)&curl.easy_setopt, "curl_easy_setopt"},   {(void **)&curl.easy_perform, "curl_easy_perform"},
        {(void **)&curl.easy_getinfo, "curl_easy_getinfo"}, {(void **)&curl.easy_reset, "curl_easy_reset"},
        {(void **)&curl.easy_cleanup, "curl_easy_cleanup"}, {(void **)&curl.easy_strerror, "curl_easy_strerror"},
        {(void **)&curl.easy_escape, "curl_easy_escape"},   {(void **)&curl.free, "curl_free"},
        {(void **)&curl.slist_append, "curl_slist_append"}, {(void **)&curl.slist_free_all, "curl_slist_free_all"},
        {(void **)&curl.mime_init, "curl_mime_init"},       {(void **)&curl.mime_addpart, "curl_mime_addpart"},
        {(void **)&curl.mime_name, "curl_mime_name"},       {(void **)&curl.mime_filename, "curl_mime_filename"},
        {(void **)&curl.mime_type, "curl_mime_type"},       {(void **)&curl.mime_data, "curl_mime_data"},
        {(void **)&curl.mime_free, "curl_mime_free"},
    };
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        *syms[i].slot = dlsym(h, syms[i].symbol);
        if (!*syms[i].slot) {
            snprintf(err, errlen, "option 'push': %s has no %s (libcurl 7.66 or later is needed)", name,
                     syms[i].symbol);
            dlclose(h);
            pthread_mutex_unlock(&curl_lock);
            return -1;
        }
    }
    /* Not thread-safe before libcurl 7.84: once, under our lock. */
    CURLcode rc = curl.global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "option 'push': libcurl failed to initialize: %s", curl.easy_strerror(rc));
        pthread_mutex_unlock(&curl_lock);
        return -1;
    }
    curl_loaded = 1;
    /* Registered after curl_global_init, so it runs before the exit
     * handlers of the TLS library that libcurl initialized there. */
    atexit(stop_uploads_at_exit);
    pthread_mutex_unlock(&curl_lock);
    return 0;
}

/* ------------------------------------------------------------ checks for the option grammar */

static int why(char *out, size_t len, const char *msg)
{
    snprintf(out, len, "%s", msg);
    return -1;
}

int pp_push_check_url(const char *url, char *w, size_t wl)
{
    const char *rest;
    if (!strncasecmp(url, "http://", 7))
        rest = url + 7;
    else if (!strncasecmp(url, "https://", 8))
        rest = url + 8;
    else
        return why(w, wl, "expected an http:// or https:// URL of the Pyroscope server");
    for (const char *c = url; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            return why(w, wl, "a URL has no spaces or control characters");
    size_t host_len = strcspn(rest, "/");
    const char *host_end = rest + host_len;
    if (memchr(rest, '@', host_len))
        return why(w, wl, "credentials do not belong in the URL (the options are visible in ps): "
                          "use POLYPROF_PUSH_BASIC_AUTH or push_basic_auth_file");
    if (strpbrk(url, "?#"))
        return why(w, wl, "the URL has no query or fragment: /ingest and its parameters are added");
    const char *port = NULL;
    if (*rest == '[') {
        const char *close = memchr(rest, ']', host_len);
        if (!close || close == rest + 1)
            return why(w, wl, "expected an IPv6 host in brackets, such as http://[::1]:4040");
        for (const char *c = rest + 1; c < close; c++)
            if (!isxdigit((unsigned char)*c) && *c != ':' && *c != '.')
                return why(w, wl, "expected an IPv6 host in brackets, such as http://[::1]:4040");
        if (close + 1 < host_end) {
            if (close[1] != ':')
                return why(w, wl, "expected a port after the host, such as :4040");
            port = close + 2;
        }
    } else {
        const char *colon = memchr(rest, ':', host_len);
        const char *name_end = colon ? colon : host_end;
        if (name_end == rest)
            return why(w, wl, "the URL has no host");
        for (const char *c = rest; c < name_end; c++)
            if (!isalnum((unsigned char)*c) && *c != '-' && *c != '.' && *c != '_')
                return why(w, wl, "expected a host name of letters, digits, '-', '.' and '_'");
        if (colon)
            port = colon + 1;
    }
    if (port) {
        if (port == host_end)
            return why(w, wl, "expected a port after ':'");
        long n = 0;
        for (const char *c = port; c < host_end; c++) {
            if (!isdigit((unsigned char)*c) || (n = n * 10 + (*c - '0')) > 65535)
                return why(w, wl, "expected a port from 1 to 65535");
        }
        if (n == 0)
            return why(w, wl, "expected a port from 1 to 65535");
    }
    return 0;
}

static int app_char(int c) { return isalnum(c) || c == '_' || c == '.' || c == '-' || c == '/'; }

int pp_push_check_app(const char *app, char *w, size_t wl)
{
    if (!*app || strlen(app) >= sizeof(((pp_options *)0)->push_app))
        return why(w, wl, "expected a name of 1 to 127 characters");
    for (const char *c = app; *c; c++)
        if (!app_char((unsigned char)*c))
            return why(w, wl, "expected letters, digits, '_', '.', '-' or '/' (Pyroscope's application names)");
    return 0;
}

/* Pyroscope adds __name__, service_name and its own labels to every series
 * and caps a series at 30 label names by default. */
#define PP_PUSH_MAX_TAGS 24

int pp_push_check_tags(const char *tags, char *w, size_t wl)
{
    const char *keys[PP_PUSH_MAX_TAGS];
    size_t key_lens[PP_PUSH_MAX_TAGS];
    int n = 0;
    for (const char *item = tags; *item;) {
        size_t len = strcspn(item, ";");
        const char *eq = memchr(item, '=', len);
        if (len == 0) {
            item++;
            continue;
        }
        if (!eq || eq == item || eq == item + len - 1)
            return why(w, wl, "expected name=value pairs separated by ';', such as env=prod;region=eu");
        size_t klen = (size_t)(eq - item);
        if (!isalpha((unsigned char)item[0]) && item[0] != '_')
            return why(w, wl, "a tag name starts with a letter or '_' (Prometheus label names)");
        for (size_t i = 0; i < klen; i++)
            if (!isalnum((unsigned char)item[i]) && item[i] != '_')
                return why(w, wl, "a tag name has letters, digits and '_' only (Prometheus label names)");
        if (klen >= 2 && item[0] == '_' && item[1] == '_')
            return why(w, wl, "tag names starting with '__' are reserved");
        if ((klen == 12 && !strncmp(item, "service_name", 12)))
            return why(w, wl, "service_name is the application name: set push_app");
        for (const char *c = eq + 1; c < item + len; c++)
            if ((unsigned char)*c <= ' ' || *c == 0x7f || strchr(",{}=\"'\\", *c))
                return why(w, wl, "a tag value has no spaces, control characters or any of , { } = \" ' \\");
        for (int i = 0; i < n; i++)
            if (key_lens[i] == klen && !strncmp(keys[i], item, klen))
                return why(w, wl, "a tag name appears twice");
        if (n == PP_PUSH_MAX_TAGS)
            return why(w, wl, "at most 24 tags");
        keys[n] = item;
        key_lens[n++] = klen;
        item += len;
    }
    return 0;
}

/* ------------------------------------------------------------ the queue and its thread */

typedef struct push_item {
    uint8_t *data;
    size_t len;
    int64_t start_unix_ns, end_unix_ns;
} push_item;

/* Kinds of trouble, each reported on stderr at most once a minute. */
enum { LOG_NETWORK, LOG_RETRY_STATUS, LOG_REJECTED, LOG_QUEUE_FULL, LOG_KINDS };
#define LOG_EVERY_NS 60000000000ULL

#define BACKOFF_FIRST_NS 500000000ULL     /* 0.5 s, doubling */
#define BACKOFF_MAX_NS 60000000000ULL     /* 1 min */
#define RETRY_AFTER_MAX_NS 600000000000ULL /* a server asking for more than 10 min is waited 10 min */

struct pp_push {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* CLOCK_MONOTONIC */
    push_item *ring;
    uint32_t cap, head, count;
    int sending; /* one item is out of the ring, being sent */
    int stopping, finished;
    int detached; /* pp_push_release: the thread frees p when it ends */
    uint32_t unsent; /* windows given up at stop */
    uint64_t flush_deadline_ns;
    _Atomic int abort_transfer;
    _Atomic uint64_t pushed, failed, dropped_full, dropped_rejected;
    _Atomic uint64_t last_log_ns[LOG_KINDS];
    uint32_t rng;

    /* What every request carries; fixed at start. */
    char url_base[1024];
    char name[1400]; /* app{k=v,...} */
    char tenant_header[300];
    char *auth_header; /* "Authorization: Bearer ..." or NULL */
    char *userpwd;     /* "user:password" or NULL */
    char ca_file[PP_PATH_MAX];
    uint64_t timeout_ns, flush_ns;
    int signo;
    pthread_t thread;
    pid_t owner; /* the process whose thread uploads (a fork's child has none) */
    struct pp_push *next_live;
};

/* Every pusher whose thread runs. At exit (a pusher released without stop
 * goes on flushing on its own), libcurl's TLS library tears itself down in
 * an exit handler: a thread still uploading then crashed in it. The exit
 * handler below ends the uploads first. */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t live_ended = PTHREAD_COND_INITIALIZER;
static struct pp_push *live_pushers;

static uint64_t mono_ns(void) { return pp_now_ns(); }

static void deadline_ts(uint64_t mono_deadline_ns, struct timespec *ts)
{
    ts->tv_sec = (time_t)(mono_deadline_ns / 1000000000ULL);
    ts->tv_nsec = (long)(mono_deadline_ns % 1000000000ULL);
}

static void live_add(pp_push *p)
{
    pthread_mutex_lock(&live_lock);
    p->owner = getpid();
    p->next_live = live_pushers;
    live_pushers = p;
    pthread_mutex_unlock(&live_lock);
}

static void live_remove(pp_push *p)
{
    pthread_mutex_lock(&live_lock);
    for (pp_push **q = &live_pushers; *q; q = &(*q)->next_live)
        if (*q == p) {
            *q = p->next_live;
            break;
        }
    pthread_cond_broadcast(&live_ended);
    pthread_mutex_unlock(&live_lock);
}

/* This process's running pushers. Called with live_lock held. */
static int live_here(pid_t self)
{
    int n = 0;
    for (pp_push *p = live_pushers; p; p = p->next_live)
        n += p->owner == self;
    return n;
}

/* At exit: no new upload starts, the one under way is aborted (libcurl
 * notices within about a second), and exit waits for the threads, at most
 * EXIT_WAIT_NS; what was queued is counted unsent, as at a stop's deadline. */
#define EXIT_WAIT_NS 2000000000ULL
static void stop_uploads_at_exit(void)
{
    pid_t self = getpid();
    pthread_mutex_lock(&live_lock);
    for (pp_push *p = live_pushers; p; p = p->next_live) {
        if (p->owner != self)
            continue;
        pthread_mutex_lock(&p->lock);
        p->stopping = 1;
        p->flush_deadline_ns = mono_ns();
        atomic_store(&p->abort_transfer, 1);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->lock);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(EXIT_WAIT_NS / 1000000000ULL);
    while (live_here(self) && pthread_cond_timedwait(&live_ended, &live_lock, &ts) != ETIMEDOUT) {
    }
    pthread_mutex_unlock(&live_lock);
}

static void push_log(pp_push *p, int kind, const char *what)
{
    uint64_t now = mono_ns(), last = atomic_load(&p->last_log_ns[kind]);
    if (last && now - last < LOG_EVERY_NS)
        return;
    if (!atomic_compare_exchange_strong(&p->last_log_ns[kind], &last, now))
        return;
    fprintf(stderr,
            "polyprof: push to %s: %s (so far: %llu pushed, %llu failed attempts, %llu dropped queue full, "
            "%llu rejected; at most one such message a minute)\n",
            p->url_base, what, (unsigned long long)atomic_load(&p->pushed), (unsigned long long)atomic_load(&p->failed),
            (unsigned long long)atomic_load(&p->dropped_full), (unsigned long long)atomic_load(&p->dropped_rejected));
}

void pp_push_enqueue(pp_push *p, uint8_t *pprof, size_t len, int64_t start_unix_ns, int64_t end_unix_ns)
{
    uint8_t *dropped = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->count == p->cap) {
        /* Oldest first: the one at the head. */
        dropped = p->ring[p->head].data;
        p->head = (p->head + 1) % p->cap;
        p->count--;
    }
    p->ring[(p->head + p->count) % p->cap] = (push_item){pprof, len, start_unix_ns, end_unix_ns};
    p->count++;
    pthread_cond_broadcast(&p->wake); /* stop() may wait on it too */
    pthread_mutex_unlock(&p->lock);
    if (dropped) {
        free(dropped);
        atomic_fetch_add(&p->dropped_full, 1);
        push_log(p, LOG_QUEUE_FULL, "the upload queue was full: the oldest window was dropped");
    }
}

int pp_push_profile(pp_push *push, const pp_profile *p, int64_t start_unix_ns, int64_t end_unix_ns, char *err,
                    size_t errlen)
{
    uint8_t *data = NULL;
    size_t len = 0;
    if (pp_profile_encode(p, PP_FORMAT_PPROF, 0, &data, &len, err, errlen) != 0)
        return -1;
    pp_push_enqueue(push, data, len, start_unix_ns, end_unix_ns);
    return 0;
}

void pp_push_get_stats(pp_push *p, pp_push_stats *out)
{
    pthread_mutex_lock(&p->lock);
    out->queued = p->count + (uint64_t)p->sending;
    pthread_mutex_unlock(&p->lock);
    out->pushed = atomic_load(&p->pushed);
    out->failed_attempts = atomic_load(&p->failed);
    out->dropped_queue_full = atomic_load(&p->dropped_full);
    out->dropped_rejected = atomic_load(&p->dropped_rejected);
}

static size_t discard_body(char *data, size_t size, size_t n, void *ctx)
{
    (void)data;
    (void)ctx;
    return size * n;
}

/* libcurl calls it about once a second while a transfer runs (more often
 * when data moves): a nonzero return aborts the transfer (stop's deadline). */
static int check_abort(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return atomic_load(&((pp_push *)ctx)->abort_transfer);
}

typedef enum { SENT, REJECTED, RETRY } send_result;

/* One POST; *retry_after_ns gets the server's Retry-After, *what a reason. */
static send_result send_one(pp_push *p, CURL *h, const push_item *it, uint64_t timeout_ns, uint64_t *retry_after_ns,
                            int *log_kind, char *what, size_t whatlen)
{
    *retry_after_ns = 0;
    char *name = curl.easy_escape(h, p->name, 0);
    if (!name) {
        snprintf(what, whatlen, "out of memory");
        *log_kind = LOG_NETWORK;
        return RETRY;
    }
    /* Whole seconds that cover the window: until is never before from. */
    long long from = it->start_unix_ns / 1000000000LL;
    long long until = (it->end_unix_ns + 999999999LL) / 1000000000LL;
    if (until <= from)
        until = from + 1;
    size_t url_len = strlen(p->url_base) + strlen(name) + 128;
    char *url = malloc(url_len);
    if (!url) {
        curl.free(name);
        snprintf(what, whatlen, "out of memory");
        *log_kind = LOG_NETWORK;
        return RETRY;
    }
    snprintf(url, url_len, "%s/ingest?name=%s&from=%lld&until=%lld&format=pprof&spyName=polyprof", p->url_base, name,
             from, until);
    curl.free(name);

    struct curl_slist *headers = NULL, *next;
    /* No "Expect: 100-continue" round trip. */
    const char *lines[] = {"Expect:", p->tenant_header[0] ? p->tenant_header : NULL, p->auth_header};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        if (!lines[i])
            continue;
        if (!(next = curl.slist_append(headers, lines[i]))) {
            curl.slist_free_all(headers);
            free(url);
            snprintf(what, whatlen, "out of memory");
            *log_kind = LOG_NETWORK;
            return RETRY;
        }
        headers = next;
    }
    curl_mime *form = curl.mime_init(h);
    curl_mimepart *part = form ? curl.mime_addpart(form) : NULL;
    CURLcode rc = CURLE_OUT_OF_MEMORY;
    if (part && curl.mime_name(part, "profile") == CURLE_OK && curl.mime_filename(part, "profile.pprof") == CURLE_OK &&
        curl.mime_type(part, "application/octet-stream") == CURLE_OK &&
        curl.mime_data(part, (const char *)it->data, it->len) == CURLE_OK) {
        long timeout_ms = (long)(timeout_ns / 1000000ULL);
        if (timeout_ms < 1)
            timeout_ms = 1;
        curl.easy_reset(h);
        curl.easy_setopt(h, CURLOPT_URL, url);
        curl.easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
        curl.easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
        curl.easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
        curl.easy_setopt(h, CURLOPT_HTTPHEADER, headers);
        curl.easy_setopt(h, CURLOPT_MIMEPOST, form);
        curl.easy_setopt(h, CURLOPT_USERAGENT, "polyprof");
        curl.easy_setopt(h, CURLOPT_WRITEFUNCTION, discard_body);
        curl.easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl.easy_setopt(h, CURLOPT_XFERINFOFUNCTION, check_abort);
        curl.easy_setopt(h, CURLOPT_XFERINFODATA, (void *)p);
        if (p->ca_file[0])
            curl.easy_setopt(h, CURLOPT_CAINFO, p->ca_file);
        if (p->userpwd) {
            curl.easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
            curl.easy_setopt(h, CURLOPT_USERPWD, p->userpwd);
        }
        rc = curl.easy_perform(h);
    }
    send_result result;
    if (rc != CURLE_OK) {
        snprintf(what, whatlen, "%s", curl.easy_strerror(rc));
        *log_kind = LOG_NETWORK;
        result = RETRY;
    } else {
        long status = 0;
        curl.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && status < 300) {
            result = SENT;
        } else if (status == 429 || status >= 500) {
            curl_off_t after = 0;
            if (curl.easy_getinfo(h, CURLINFO_RETRY_AFTER, &after) == CURLE_OK && after > 0)
                *retry_after_ns = (uint64_t)after * 1000000000ULL;
            snprintf(what, whatlen, "HTTP %ld, will retry", status);
            *log_kind = LOG_RETRY_STATUS;
            result = RETRY;
        } else {
            /* 4xx: the same request would be refused again. */
            snprintf(what, whatlen, "HTTP %ld: the server refused the window, dropped", status);
            *log_kind = LOG_REJECTED;
            result = REJECTED;
        }
    }
    /* The handle keeps its connection for the next window; not the form. */
    curl.easy_setopt(h, CURLOPT_MIMEPOST, (curl_mime *)NULL);
    curl.easy_setopt(h, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
    curl.mime_free(form);
    curl.slist_free_all(headers);
    free(url);
    return result;
}

/* Exponential with jitter: half the step fixed, half random. */
static uint64_t backoff_ns(pp_push *p, unsigned attempt, uint64_t retry_after_ns)
{
    uint64_t step = BACKOFF_FIRST_NS;
    for (unsigned i = 0; i < attempt && step < BACKOFF_MAX_NS; i++)
        step *= 2;
    if (step > BACKOFF_MAX_NS)
        step = BACKOFF_MAX_NS;
    p->rng ^= p->rng << 13;
    p->rng ^= p->rng >> 17;
    p->rng ^= p->rng << 5;
    uint64_t delay = step / 2 + (uint64_t)((double)(step / 2) * (p->rng / 4294967296.0));
    if (retry_after_ns > RETRY_AFTER_MAX_NS)
        retry_after_ns = RETRY_AFTER_MAX_NS;
    return retry_after_ns > delay ? retry_after_ns : delay;
}

/* Called with the lock held; returns with it held. */
static void upload(pp_push *p, CURL *h, push_item it)
{
    for (unsigned attempt = 0;; attempt++) {
        uint64_t timeout = p->timeout_ns;
        if (p->stopping) {
            uint64_t now = mono_ns();
            if (now >= p->flush_deadline_ns) {
                p->unsent++;
                break;
            }
            if (p->flush_deadline_ns - now < timeout)
                timeout = p->flush_deadline_ns - now;
        }
        pthread_mutex_unlock(&p->lock);
        uint64_t retry_after = 0;
        int kind = LOG_NETWORK;
        char what[CURL_ERROR_SIZE + 64];
        send_result r = h ? send_one(p, h, &it, timeout, &retry_after, &kind, what, sizeof what) : RETRY;
        if (!h)
            snprintf(what, sizeof what, "libcurl could not make a handle");
        if (r == SENT)
            atomic_fetch_add(&p->pushed, 1);
        else if (r == REJECTED)
            atomic_fetch_add(&p->dropped_rejected, 1);
        else
            atomic_fetch_add(&p->failed, 1);
        if (r != SENT)
            push_log(p, kind, what);
        pthread_mutex_lock(&p->lock);
        if (r != RETRY)
            break;
        uint64_t until = mono_ns() + backoff_ns(p, attempt, retry_after);
        for (;;) {
            if (p->stopping && until > p->flush_deadline_ns) {
                p->unsent++;
                goto out;
            }
            if (mono_ns() >= until)
                break;
            struct timespec ts;
            deadline_ts(until, &ts);
            pthread_cond_timedwait(&p->wake, &p->lock, &ts);
        }
        /* Windows kept coming while this one waited: if the queue filled,
         * this one is the oldest. */
        if (p->count == p->cap) {
            atomic_fetch_add(&p->dropped_full, 1);
            pthread_mutex_unlock(&p->lock);
            push_log(p, LOG_QUEUE_FULL, "the upload queue was full: the oldest window was dropped");
            pthread_mutex_lock(&p->lock);
            break;
        }
    }
out:
    free(it.data);
}

static void push_destroy(pp_push *p)
{
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    if (p->userpwd)
        memset(p->userpwd, 0, strlen(p->userpwd));
    if (p->auth_header)
        memset(p->auth_header, 0, strlen(p->auth_header));
    free(p->auth_header);
    free(p->userpwd);
    free(p->ring);
    free(p);
}

static void *push_main(void *arg)
{
    pp_push *p = arg;
    /* The uploader's stacks are not the application's. */
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, p->signo);
    pthread_sigmask(SIG_BLOCK, &block, NULL);
    CURL *h = curl.easy_init();
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->count && !p->stopping)
            pthread_cond_wait(&p->wake, &p->lock);
        if (!p->count || (p->stopping && mono_ns() >= p->flush_deadline_ns))
            break;
        push_item it = p->ring[p->head];
        p->head = (p->head + 1) % p->cap;
        p->count--;
        p->sending = 1;
        upload(p, h, it);
        p->sending = 0;
    }
    uint32_t unsent = p->unsent + p->count;
    for (; p->count; p->count--, p->head = (p->head + 1) % p->cap)
        free(p->ring[p->head].data);
    p->finished = 1;
    int detached = p->detached;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    if (h)
        curl.easy_cleanup(h);
    if (unsent)
        fprintf(stderr, "polyprof: push to %s: %u window(s) not sent by the end of push_flush, dropped\n", p->url_base,
                unsent);
    /* After its last libcurl call: exit may go on. */
    live_remove(p);
    if (detached)
        push_destroy(p);
    return NULL;
}

/* ------------------------------------------------------------ lifecycle */

/* A secret from a file: the first line, trailing blanks removed. */
static char *read_secret_file(const char *path, const char *key, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "option '%s': cannot read %s: %s", key, path, strerror(errno));
        return NULL;
    }
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    n = strlen(buf);
    while (n && isspace((unsigned char)buf[n - 1]))
        buf[--n] = '\0';
    if (!n) {
        snprintf(err, errlen, "option '%s': %s is empty", key, path);
        return NULL;
    }
    char *s = strdup(buf);
    if (!s)
        snprintf(err, errlen, "out of memory");
    return s;
}

/* The secret from the *_file key, else from the environment variable. */
static int secret(const char *file, const char *file_key, const char *env, char **out, char *err, size_t errlen)
{
    *out = NULL;
    if (file[0]) {
        *out = read_secret_file(file, file_key, err, errlen);
        return *out ? 0 : -1;
    }
    const char *v = getenv(env);
    if (!v || !*v)
        return 0;
    if (!(*out = strdup(v))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int header_safe(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < ' ' || *s == 0x7f)
            return 0;
    return 1;
}

/* Before the thread and the lock exist. */
static void push_free(pp_push *p)
{
    free(p->auth_header);
    free(p->userpwd);
    free(p->ring);
    free(p);
}

pp_push *pp_push_start(const pp_options *o, const char *app, char *err, size_t errlen)
{
    char w[256];
    if (pp_push_check_url(o->push_url, w, sizeof w) != 0) {
        snprintf(err, errlen, "option 'push': %s", w);
        return NULL;
    }
    if (pp_push_check_tags(o->push_tags, w, sizeof w) != 0) {
        snprintf(err, errlen, "option 'push_tags': %s", w);
        return NULL;
    }
    if (o->push_ca_file[0] && access(o->push_ca_file, R_OK) != 0) {
        snprintf(err, errlen, "option 'push_ca_file': cannot read %s: %s", o->push_ca_file, strerror(errno));
        return NULL;
    }
    if (load_curl(err, errlen) != 0)
        return NULL;
    pp_push *p = calloc(1, sizeof *p);
    uint32_t cap = o->push_queue ? o->push_queue : 8;
    if (!p || !(p->ring = calloc(cap, sizeof *p->ring))) {
        free(p);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->cap = cap;
    p->timeout_ns = o->push_timeout_ns ? o->push_timeout_ns : 10000000000ULL;
    p->flush_ns = o->push_flush_ns;
    p->signo = o->signo;
    p->rng = (uint32_t)(mono_ns() ^ (uint64_t)(uintptr_t)p) | 1u;
    snprintf(p->url_base, sizeof p->url_base, "%s", o->push_url);
    size_t n = strlen(p->url_base);
    while (n && p->url_base[n - 1] == '/')
        p->url_base[--n] = '\0';
    snprintf(p->ca_file, sizeof p->ca_file, "%s", o->push_ca_file);
    if (o->push_tenant[0])
        snprintf(p->tenant_header, sizeof p->tenant_header, "X-Scope-OrgID: %s", o->push_tenant);

    /* The application name, then the tags with ',' as Pyroscope writes them. */
    char name[128];
    snprintf(name, sizeof name, "%s", o->push_app[0] ? o->push_app : (app && *app ? app : "app"));
    for (char *c = name; *c; c++)
        if (!app_char((unsigned char)*c))
            *c = '_';
    char tags[sizeof o->push_tags];
    snprintf(tags, sizeof tags, "%s", o->push_tags);
    size_t t = 0;
    for (char *c = tags; *c; c++) {
        if (*c == ';') {
            if (t && tags[t - 1] != ',')
                tags[t++] = ',';
        } else {
            tags[t++] = *c;
        }
    }
    while (t && tags[t - 1] == ',')
        t--;
    tags[t] = '\0';
    snprintf(p->name, sizeof p->name, "%s{%s}", name, tags);

    char *token = NULL, *basic = NULL;
    if (secret(o->push_token_file, "push_token_file", "POLYPROF_PUSH_TOKEN", &token, err, errlen) != 0 ||
        secret(o->push_basic_auth_file, "push_basic_auth_file", "POLYPROF_PUSH_BASIC_AUTH", &basic, err, errlen) != 0)
        goto fail;
    if (token && basic) {
        snprintf(err, errlen, "option 'push': both a bearer token and basic auth are set "
                              "(POLYPROF_PUSH_TOKEN / push_token_file, POLYPROF_PUSH_BASIC_AUTH / push_basic_auth_file): "
                              "keep one");
        goto fail;
    }
    if ((token && !header_safe(token)) || (basic && !header_safe(basic))) {
        snprintf(err, errlen, "option 'push': the token or basic auth has control characters");
        goto fail;
    }
    if (basic && !strchr(basic, ':')) {
        snprintf(err, errlen, "option 'push': basic auth is user:password (POLYPROF_PUSH_BASIC_AUTH or push_basic_auth_file)");
        goto fail;
    }
    if (token) {
        size_t len = strlen(token) + 32;
        if (!(p->auth_header = malloc(len))) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        snprintf(p->auth_header, len, "Authorization: Bearer %s", token);
    }
    p->userpwd = basic;
    basic = NULL;
    free(token);
    token = NULL;

    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&p->wake, &attr);
    pthread_condattr_destroy(&attr);
    live_add(p);
    if (pthread_create(&p->thread, NULL, push_main, p) != 0) {
        live_remove(p);
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->lock);
        snprintf(err, errlen, "cannot create the push thread");
        goto fail;
    }
    return p;
fail:
    if (token)
        memset(token, 0, strlen(token));
    free(token);
    free(basic);
    push_free(p);
    return NULL;
}

pp_push *pp_push_open(const pp_options *o, char *err, size_t errlen)
{
    /* Pyroscope's application: push_app (pp_push_start), else service,
     * else the runtime, else the program's name as the store has it. */
    char app[128];
    if (o->service[0])
        snprintf(app, sizeof app, "%s", o->service);
    else
        pp_sampler_runtime_name(app, sizeof app);
    if (!app[0])
        pp_service_name(o, app, sizeof app);
    return pp_push_start(o, app, err, errlen);
}

void pp_push_stop(pp_push *p, pp_push_stats *final)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    p->flush_deadline_ns = mono_ns() + p->flush_ns;
    pthread_cond_broadcast(&p->wake);
    struct timespec ts;
    deadline_ts(p->flush_deadline_ns, &ts);
    while (!p->finished && pthread_cond_timedwait(&p->wake, &p->lock, &ts) != ETIMEDOUT) {
    }
    if (!p->finished)
        atomic_store(&p->abort_transfer, 1); /* libcurl notices within about a second */
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    if (final)
        pp_push_get_stats(p, final);
    push_destroy(p);
}

void pp_push_release(pp_push *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    int finished = p->finished;
    if (!finished) {
        p->stopping = 1;
        p->flush_deadline_ns = mono_ns() + p->flush_ns;
        p->detached = 1; /* the thread frees p: it reads this under the lock as it ends */
        pthread_cond_broadcast(&p->wake);
    }
    pthread_mutex_unlock(&p->lock);
    if (finished) {
        pthread_join(p->thread, NULL);
        push_destroy(p);
    } else {
        pthread_detach(p->thread);
    }
}
