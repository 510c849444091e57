/* The public pp_profile_* surface over the profile model (profile.h) and the
 * writers: bounds-checked accessors for the bridges, encoding, atomic file
 * writes, filtering and thread naming. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collapsed.h"
#include "cpuprofile.h"
#include "flamegraph.h"
#include "polyprof.h"
#include "pprof.h"
#include "profile.h"
#include "read_limits.h"
#include "report.h"
#include "speedscope.h"

size_t pp_profile_num_samples(const pp_profile *p) { return p->n_samples; }

uint32_t pp_profile_num_values(const pp_profile *p) { return p->n_values; }

void pp_profile_value_type(const pp_profile *p, uint32_t index, const char **type, const char **unit)
{
    int ok = index < p->n_values;
    *type = ok ? pp_strtab_get(&p->strings, p->value_types[index].type) : "";
    *unit = ok ? pp_strtab_get(&p->strings, p->value_types[index].unit) : "";
}

int64_t pp_profile_value(const pp_profile *p, size_t sample, uint32_t index)
{
    return sample < p->n_samples && index < p->n_values ? p->samples[sample].values[index] : 0;
}

uint32_t pp_profile_sample_depth(const pp_profile *p, size_t sample)
{
    return sample < p->n_samples ? p->samples[sample].n_frames : 0;
}

void pp_profile_sample_frame(const pp_profile *p, size_t sample, uint32_t depth, pp_frame_view *out)
{
    memset(out, 0, sizeof *out);
    out->name = out->file = out->mapping = "";
    if (sample >= p->n_samples || depth >= p->samples[sample].n_frames)
        return;
    uint32_t id = p->stack[p->samples[sample].first_frame + depth];
    if (id >= p->n_frames)
        return;
    const pp_frame *f = &p->frames[id];
    out->name = pp_strtab_get(&p->strings, f->name);
    out->file = pp_strtab_get(&p->strings, f->file);
    out->line = f->line;
    out->start_line = f->start_line;
    out->address = f->address;
    out->kind = f->kind;
    if (f->mapping && f->mapping <= p->n_mappings)
        out->mapping = pp_strtab_get(&p->strings, p->mappings[f->mapping - 1].file);
}

uint32_t pp_profile_sample_num_labels(const pp_profile *p, size_t sample)
{
    return sample < p->n_samples ? p->samples[sample].n_labels : 0;
}

void pp_profile_sample_label(const pp_profile *p, size_t sample, uint32_t i, pp_label_view *out)
{
    out->key = "";
    out->str = NULL;
    out->num = 0;
    if (sample >= p->n_samples || i >= p->samples[sample].n_labels)
        return;
    const pp_label *l = &p->labels[p->samples[sample].first_label + i];
    out->key = pp_strtab_get(&p->strings, l->key);
    out->str = l->str ? pp_strtab_get(&p->strings, l->str) : NULL;
    out->num = l->num;
}

uint32_t pp_profile_num_comments(const pp_profile *p) { return p->n_comments; }

const char *pp_profile_comment(const pp_profile *p, uint32_t i)
{
    return i < p->n_comments ? pp_strtab_get(&p->strings, p->comments[i]) : NULL;
}

int64_t pp_profile_duration_nanos(const pp_profile *p) { return p->duration_nanos; }

int pp_profile_encode(const pp_profile *p, pp_format f, int top_n, uint8_t **out, size_t *outlen, char *err,
                      size_t errlen)
{
    if (f == PP_FORMAT_PPROF)
        return pp_pprof_encode(p, out, outlen, err, errlen);
    pp_buf b;
    pp_buf_init(&b);
    b.limit = PP_WRITE_MAX_BYTES;
    int rc;
    if (f == PP_FORMAT_COLLAPSED) {
        rc = pp_collapsed_write(p, -1, 0, &b, err, errlen);
    } else if (f == PP_FORMAT_TEXT) {
        rc = pp_report_write(p, -1, top_n, &b, err, errlen);
    } else if (f == PP_FORMAT_CPUPROFILE) {
        rc = pp_cpuprofile_write(p, &b, err, errlen);
    } else if (f == PP_FORMAT_HTML) {
        rc = pp_flamegraph_write(p, -1, &b, err, errlen);
    } else if (f == PP_FORMAT_SPEEDSCOPE) {
        rc = pp_speedscope_write(p, &b, err, errlen);
    } else {
        snprintf(err, errlen, "encode: format %d is not a concrete output format", (int)f);
        rc = -1;
    }
    return pp_text_finish(&b, rc, "encode", out, outlen, err, errlen);
}

int pp_text_finish(pp_buf *b, int rc, const char *what, uint8_t **out, size_t *outlen, char *err, size_t errlen)
{
    /* Text output ends with a NUL the length leaves out: callers may use it
     * as a C string, and an empty result is still a buffer to free. */
    pp_buf_append_byte(b, 0);
    if (b->over_limit) {
        /* Over the limit, a writer sees only a failed buffer: the message
         * it wrote (if any) says "out of memory", which this replaces. */
        snprintf(err, errlen, "%s: the output exceeds the limit of %zu MiB", what, b->limit >> 20);
        rc = -1;
    } else if (rc == 0 && b->failed) {
        snprintf(err, errlen, "%s: out of memory", what);
        rc = -1;
    }
    if (rc != 0) {
        pp_buf_free(b);
        return -1;
    }
    *out = pp_buf_detach(b, outlen);
    (*outlen)--;
    return 0;
}

pp_profile *pp_profile_decode(const uint8_t *data, size_t len, pp_format f, char *err, size_t errlen)
{
    switch (f) {
    case PP_FORMAT_PPROF: return pp_profile_decode_pprof(data, len, err, errlen);
    case PP_FORMAT_COLLAPSED: return pp_collapsed_read((const char *)data, len, err, errlen);
    case PP_FORMAT_SPEEDSCOPE: return pp_speedscope_read((const char *)data, len, err, errlen);
    case PP_FORMAT_CPUPROFILE: return pp_cpuprofile_read((const char *)data, len, err, errlen);
    default: break;
    }
    snprintf(err, errlen,
             "cannot read %s profiles; readable formats: pprof (.pb.gz, .pprof, .pb), collapsed (.folded, "
             ".collapsed, .txt), speedscope (.speedscope.json), cpuprofile (.cpuprofile)",
             pp_format_name(f));
    return NULL;
}

int pp_profile_report(const pp_profile *p, int value_index, int top_n, char **out, char *err, size_t errlen)
{
    pp_buf b;
    pp_buf_init(&b);
    int rc = pp_report_write(p, value_index, top_n, &b, err, errlen);
    pp_buf_append_byte(&b, 0);
    if (rc == 0 && b.failed) {
        snprintf(err, errlen, "report: out of memory");
        rc = -1;
    }
    if (rc != 0) {
        pp_buf_free(&b);
        return -1;
    }
    *out = (char *)pp_buf_detach(&b, NULL);
    return 0;
}

static int write_all(int fd, const uint8_t *data, size_t len)
{
    while (len) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int pp_profile_write_file(const pp_profile *p, const char *path, pp_format f, char *err, size_t errlen)
{
    if (f == PP_FORMAT_AUTO && pp_format_from_path(path, &f, err, errlen) != 0)
        return -1;
    uint8_t *data;
    size_t len;
    if (pp_profile_encode(p, f, 0, &data, &len, err, errlen) != 0)
        return -1;
    /* Readers of `path` see the old file or the whole new one, never a
     * partial write: the temporary sits in the same directory (so rename is
     * atomic) and is named by pid (so concurrent writers do not collide). */
    char *tmp = NULL;
    int rc = -1;
    if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
        tmp = NULL;
        snprintf(err, errlen, "cannot write %s: out of memory", path);
        goto out;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (write_all(fd, data, len) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    if (close(fd) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    free(tmp);
    free(data);
    return rc;
}

/* A copy of everything but the samples; the string table is copied in id
 * order so every string id in frames, mappings and labels stays valid. */
pp_profile *pp_profile_copy_without_samples(const pp_profile *p)
{
    pp_profile *q = pp_profile_new();
    if (!q)
        return NULL;
    for (uint32_t i = 1; i < p->strings.count; i++)
        if (pp_strtab_intern_len(&q->strings, p->strings.strs[i], p->strings.lens[i]) != i)
            goto fail;
    for (uint32_t i = 0; i < p->n_frames; i++)
        if (pp_profile_add_frame(q, &p->frames[i]) == UINT32_MAX)
            goto fail;
    for (uint32_t i = 0; i < p->n_mappings; i++)
        if (pp_profile_add_mapping(q, &p->mappings[i]) == UINT32_MAX)
            goto fail;
    for (uint32_t i = 0; i < p->n_comments; i++)
        if (pp_profile_add_comment(q, p->strings.strs[p->comments[i]]) != 0)
            goto fail;
    memcpy(q->value_types, p->value_types, sizeof q->value_types);
    q->n_values = p->n_values;
    q->period_type = p->period_type;
    q->period = p->period;
    q->time_nanos = p->time_nanos;
    q->duration_nanos = p->duration_nanos;
    q->default_value = p->default_value;
    return q;
fail:
    pp_profile_free(q);
    return NULL;
}

/* value matches a string label by text and a numeric one by its decimal
 * form, so "thread_id=1234" filters as a user would expect. */
static int label_matches(const pp_profile *p, const pp_label *l, uint32_t key, const char *value)
{
    if (l->key != key)
        return 0;
    if (l->str)
        return strcmp(pp_strtab_get(&p->strings, l->str), value) == 0;
    char num[24];
    snprintf(num, sizeof num, "%" PRId64, l->num);
    return strcmp(num, value) == 0;
}

pp_profile *pp_profile_filter_label(const pp_profile *p, const char *key, const char *value)
{
    pp_profile *q = pp_profile_copy_without_samples(p);
    if (!q)
        return NULL;
    uint32_t kid = key && value ? pp_strtab_find(&p->strings, key) : UINT32_MAX;
    if (kid == UINT32_MAX)
        return q;
    for (size_t i = 0; i < p->n_samples; i++) {
        const pp_sample *s = &p->samples[i];
        const pp_label *labels = p->labels + s->first_label;
        int keep = 0;
        for (uint32_t l = 0; l < s->n_labels && !keep; l++)
            keep = label_matches(p, &labels[l], kid, value);
        if (keep &&
            pp_profile_add_sample(q, p->stack + s->first_frame, s->n_frames, labels, s->n_labels, s->values) != 0) {
            pp_profile_free(q);
            return NULL;
        }
    }
    return q;
}

typedef struct tid_name {
    int64_t tid;
    uint32_t name; /* string id */
} tid_name;

static int cmp_tid(const void *a, const void *b)
{
    int64_t x = ((const tid_name *)a)->tid, y = ((const tid_name *)b)->tid;
    return x < y ? -1 : x > y;
}

int pp_profile_name_threads(pp_profile *p, const int64_t *tids, const char *const *names, size_t n)
{
    uint32_t id_key = pp_strtab_find(&p->strings, "thread_id");
    uint32_t name_key = pp_strtab_find(&p->strings, "thread_name");
    if (n == 0 || id_key == UINT32_MAX || name_key == UINT32_MAX)
        return 0;
    tid_name *map = malloc(n * sizeof *map);
    if (!map)
        return -1;
    for (size_t i = 0; i < n; i++) {
        map[i].tid = tids[i];
        map[i].name = pp_profile_intern(p, names[i]);
        if (map[i].name == UINT32_MAX) {
            free(map);
            return -1;
        }
    }
    qsort(map, n, sizeof *map, cmp_tid);
    for (size_t i = 0; i < p->n_samples; i++) {
        pp_label *labels = p->labels + p->samples[i].first_label;
        uint32_t nl = p->samples[i].n_labels;
        const tid_name *hit = NULL;
        for (uint32_t l = 0; l < nl && !hit; l++) {
            if (labels[l].key == id_key && !labels[l].str) {
                tid_name k = {labels[l].num, 0};
                hit = bsearch(&k, map, n, sizeof *map, cmp_tid);
            }
        }
        /* An empty name would make the label read as numeric: keep the old one. */
        for (uint32_t l = 0; hit && hit->name && l < nl; l++)
            if (labels[l].key == name_key && labels[l].str)
                labels[l].str = hit->name;
    }
    free(map);
    return 0;
}
