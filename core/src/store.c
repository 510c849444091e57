/* The local profile store: gzip pprof files in one directory, named
 * <service>_<type>_<UTC start>_<trigger>.pb.gz so that `ls` sorts them by
 * service and time, plus index.tsv (one line per file). The files are the
 * truth: listing reads the directory and rewrites the index to match, so a
 * file removed by hand or a crash between the two never leaves a wrong index.
 * Retention (maximum age, maximum total bytes) runs on every put, oldest
 * first. A store with a key writes <...>.pb.gz.enc files instead
 * (AES-256-GCM, store_crypto.h); retention treats both alike. */
#include "polyprof.h"
#include "store_crypto.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct pp_store {
    char dir[PP_PATH_MAX];
    uint64_t max_age_ns, max_bytes;
    int has_key;
    uint8_t key[PP_STORE_KEY_BYTES]; /* wiped at close */
};

static const char SUFFIX[] = ".pb.gz";
static const char ENC_SUFFIX[] = ".pb.gz.enc";

pp_store *pp_store_open(const char *dir, uint64_t max_age_ns, uint64_t max_bytes, char *err, size_t errlen)
{
    if (!dir || !*dir || strlen(dir) >= PP_PATH_MAX - 300) {
        snprintf(err, errlen, "store: expected a directory path");
        return NULL;
    }
    /* mkdir -p */
    char path[PP_PATH_MAX];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "store: cannot create '%s': %s", path, strerror(errno));
            return NULL;
        }
        *p = '/';
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "store: cannot create '%s': %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "store: '%s' is not a directory", path);
        return NULL;
    }
    if (access(path, W_OK) != 0) {
        snprintf(err, errlen, "store: directory '%s' is not writable", path);
        return NULL;
    }
    pp_store *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(s->dir, sizeof s->dir, "%s", path);
    s->max_age_ns = max_age_ns;
    s->max_bytes = max_bytes;
    return s;
}

pp_store *pp_store_open_keyed(const char *dir, uint64_t max_age_ns, uint64_t max_bytes, const char *key_file,
                              char *err, size_t errlen)
{
    uint8_t key[PP_STORE_KEY_BYTES];
    int has_key = pp_store_key_load(key_file, NULL, key, err, errlen);
    if (has_key < 0)
        return NULL;
    pp_store *s = pp_store_open(dir, max_age_ns, max_bytes, err, errlen);
    if (s && has_key) {
        memcpy(s->key, key, sizeof key);
        s->has_key = 1;
    }
    pp_store_key_wipe(key, sizeof key);
    return s;
}

int pp_store_key_check(const char *key_file, char *err, size_t errlen)
{
    uint8_t key[PP_STORE_KEY_BYTES];
    int rc = pp_store_key_load(key_file, NULL, key, err, errlen);
    pp_store_key_wipe(key, sizeof key);
    return rc;
}

int pp_store_encrypts(const pp_store *s) { return s && s->has_key; }

void pp_store_close(pp_store *s)
{
    if (!s)
        return;
    pp_store_key_wipe(s->key, sizeof s->key);
    free(s);
}

static int has_suffix(const char *name, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len > n && strcmp(name + len - n, suffix) == 0;
}

/* Names go into file names: letters, digits, '-', '.'; anything else '-'.
 * '_' separates the fields, so it is replaced too. */
static void clean(char *out, size_t len, const char *in, const char *fallback)
{
    if (!in || !*in)
        in = fallback;
    size_t n = 0;
    for (; *in && n + 1 < len; in++) {
        char ch = *in;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                 ch == '.';
        out[n++] = ok ? ch : '-';
    }
    out[n] = '\0';
}

/* <service>_<type>_<YYYYMMDDTHHMMSS.mmmZ>_<trigger>[-N].pb.gz[.enc] */
static int parse_name(const char *name, pp_store_entry *e)
{
    size_t len = strlen(name);
    int encrypted = has_suffix(name, len, ENC_SUFFIX);
    size_t suffix_len = strlen(encrypted ? ENC_SUFFIX : SUFFIX);
    if ((!encrypted && !has_suffix(name, len, SUFFIX)) || len >= sizeof e->file)
        return -1;
    char buf[256];
    snprintf(buf, sizeof buf, "%.*s", (int)(len - suffix_len), name);
    char *f[4];
    char *save = NULL;
    int n = 0;
    for (char *t = strtok_r(buf, "_", &save); t && n < 4; t = strtok_r(NULL, "_", &save))
        f[n++] = t;
    if (n != 4 || strtok_r(NULL, "_", &save))
        return -1;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int ms = 0;
    if (sscanf(f[2], "%4d%2d%2dT%2d%2d%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
               &tm.tm_sec, &ms) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    memset(e, 0, sizeof *e);
    snprintf(e->file, sizeof e->file, "%s", name);
    snprintf(e->service, sizeof e->service, "%s", f[0]);
    snprintf(e->type, sizeof e->type, "%s", f[1]);
    /* A "-N" added to keep names apart is not part of the trigger. */
    char *dash = strrchr(f[3], '-');
    if (dash && dash[1] && strspn(dash + 1, "0123456789") == strlen(dash + 1))
        *dash = '\0';
    snprintf(e->trigger, sizeof e->trigger, "%s", f[3]);
    e->start_unix_ns = (int64_t)t * 1000000000LL + (int64_t)ms * 1000000LL;
    e->encrypted = encrypted;
    return 0;
}

static int by_start(const void *a, const void *b)
{
    const pp_store_entry *x = a, *y = b;
    if (x->start_unix_ns != y->start_unix_ns)
        return x->start_unix_ns < y->start_unix_ns ? -1 : 1;
    return strcmp(x->file, y->file);
}

static int read_entries(pp_store *s, pp_store_entry **out, char *err, size_t errlen)
{
    DIR *d = opendir(s->dir);
    if (!d) {
        snprintf(err, errlen, "store: cannot read '%s': %s", s->dir, strerror(errno));
        return -1;
    }
    size_t n = 0, cap = 64;
    pp_store_entry *v = malloc(cap * sizeof *v);
    if (!v) {
        closedir(d);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        pp_store_entry e;
        if (parse_name(de->d_name, &e) != 0)
            continue;
        char path[PP_PATH_MAX + 256];
        snprintf(path, sizeof path, "%s/%s", s->dir, de->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        e.bytes = (uint64_t)st.st_size;
        if (n == cap) {
            pp_store_entry *g = realloc(v, cap * 2 * sizeof *v);
            if (!g) {
                free(v);
                closedir(d);
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            v = g;
            cap *= 2;
        }
        v[n++] = e;
    }
    closedir(d);
    qsort(v, n, sizeof *v, by_start);
    *out = v;
    return (int)n;
}

/* Rewritten whole through a temporary file and rename(), so readers never
 * see half an index. */
static void write_index(pp_store *s, const pp_store_entry *v, int n)
{
    char tmp[PP_PATH_MAX + 64], path[PP_PATH_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s/.index.tsv.%d", s->dir, (int)getpid());
    snprintf(path, sizeof path, "%s/index.tsv", s->dir);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    fprintf(f, "# start_unix_ns\tservice\ttype\ttrigger\tbytes\tfile\tencryption\n");
    for (int i = 0; i < n; i++)
        fprintf(f, "%lld\t%s\t%s\t%s\t%llu\t%s\t%s\n", (long long)v[i].start_unix_ns, v[i].service, v[i].type,
                v[i].trigger, (unsigned long long)v[i].bytes, v[i].file, v[i].encrypted ? "aes-256-gcm" : "none");
    if (fclose(f) == 0)
        rename(tmp, path);
    else
        unlink(tmp);
}

int pp_store_list(pp_store *s, pp_store_entry **out, char *err, size_t errlen)
{
    int n = read_entries(s, out, err, errlen);
    if (n >= 0)
        write_index(s, *out, n);
    return n;
}

int pp_store_prune(pp_store *s, int64_t now_unix_ns)
{
    char err[256];
    pp_store_entry *v;
    int n = read_entries(s, &v, err, sizeof err);
    if (n < 0)
        return 0;
    uint64_t total = 0;
    for (int i = 0; i < n; i++)
        total += v[i].bytes;
    int removed = 0, kept = 0;
    for (int i = 0; i < n; i++) {
        int too_old = s->max_age_ns && now_unix_ns - v[i].start_unix_ns > (int64_t)s->max_age_ns;
        int too_big = s->max_bytes && total > s->max_bytes && i < n - 1; /* never the newest */
        if (too_old || too_big) {
            char path[PP_PATH_MAX + 256];
            snprintf(path, sizeof path, "%s/%s", s->dir, v[i].file);
            if (unlink(path) == 0 || errno == ENOENT) {
                total -= v[i].bytes;
                removed++;
                continue;
            }
        }
        v[kept++] = v[i];
    }
    write_index(s, v, kept);
    free(v);
    return removed;
}

static int64_t unix_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int pp_store_put(pp_store *s, const pp_profile *p, const char *service, const char *type, const char *trigger,
                 int64_t start_unix_ns, char *path_out, size_t path_len, char *err, size_t errlen)
{
    char svc[64], typ[32], trg[48];
    clean(svc, sizeof svc, service, "app");
    clean(typ, sizeof typ, type, "cpu");
    clean(trg, sizeof trg, trigger, "manual");
    time_t secs = (time_t)(start_unix_ns / 1000000000LL);
    int ms = (int)((start_unix_ns % 1000000000LL) / 1000000LL);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
    uint8_t *data = NULL;
    size_t len = 0;
    if (pp_profile_encode(p, PP_FORMAT_PPROF, 0, &data, &len, err, errlen) != 0)
        return -1;
    const char *suffix = SUFFIX;
    if (s->has_key) {
        uint8_t *sealed = NULL;
        size_t sealed_len = 0;
        int rc = pp_store_encrypt(s->key, data, len, &sealed, &sealed_len, err, errlen);
        pp_store_key_wipe(data, len);
        free(data);
        if (rc != 0)
            return -1;
        data = sealed;
        len = sealed_len;
        suffix = ENC_SUFFIX;
    }
    char path[PP_PATH_MAX + 256];
    int fd = -1;
    for (int k = 0; k < 1000 && fd < 0; k++) {
        if (k == 0)
            snprintf(path, sizeof path, "%s/%s_%s_%s.%03dZ_%s%s", s->dir, svc, typ, stamp, ms, trg, suffix);
        else
            snprintf(path, sizeof path, "%s/%s_%s_%s.%03dZ_%s-%d%s", s->dir, svc, typ, stamp, ms, trg, k, suffix);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        snprintf(err, errlen, "store: cannot create a file in '%s': %s", s->dir, strerror(errno));
        free(data);
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, errlen, "store: cannot write '%s': %s", path, strerror(errno));
            close(fd);
            unlink(path);
            free(data);
            return -1;
        }
        off += (size_t)w;
    }
    free(data);
    if (close(fd) != 0) {
        snprintf(err, errlen, "store: cannot write '%s': %s", path, strerror(errno));
        unlink(path);
        return -1;
    }
    if (path_out && path_len)
        snprintf(path_out, path_len, "%s", path);
    pp_store_prune(s, unix_now_ns());
    return 0;
}

/* The whole file; NULL with err set. */
static uint8_t *read_whole(const char *path, size_t *len, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > (off_t)1 << 30) {
        snprintf(err, errlen, "cannot read %s: %s", path, S_ISREG(st.st_mode) ? "larger than 1g" : "not a file");
        close(fd);
        return NULL;
    }
    size_t cap = (size_t)st.st_size, n = 0;
    uint8_t *buf = malloc(cap ? cap : 1);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        close(fd);
        return NULL;
    }
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
            free(buf);
            close(fd);
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    *len = n;
    return buf;
}

pp_profile *pp_store_read(pp_store *s, const char *file, char *err, size_t errlen)
{
    char path[PP_PATH_MAX + 256];
    if (!file || !*file) {
        snprintf(err, errlen, "store: expected a file name");
        return NULL;
    }
    if (strchr(file, '/'))
        snprintf(path, sizeof path, "%s", file);
    else
        snprintf(path, sizeof path, "%s/%s", s->dir, file);
    size_t len = 0;
    uint8_t *data = read_whole(path, &len, err, errlen);
    if (!data)
        return NULL;
    /* The name says which files must be encrypted: a .enc file without the
     * header was changed, and is never read as plain pprof. */
    if (has_suffix(path, strlen(path), ENC_SUFFIX) || pp_store_is_encrypted(data, len)) {
        if (!s->has_key) {
            snprintf(err, errlen, "%s is encrypted: no store key (store_key_file, or %s)", path, PP_STORE_KEY_ENV);
            free(data);
            return NULL;
        }
        uint8_t *plain = NULL;
        size_t plain_len = 0;
        int rc = pp_store_decrypt(s->key, data, len, path, &plain, &plain_len, err, errlen);
        free(data);
        if (rc != 0)
            return NULL;
        data = plain;
        len = plain_len;
    }
    char why[512];
    pp_profile *p = pp_profile_decode_pprof(data, len, why, sizeof why);
    free(data);
    if (!p)
        snprintf(err, errlen, "cannot read %s: %s", path, why);
    return p;
}
