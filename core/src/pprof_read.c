#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "pbuf.h"
#include "polyprof.h"
#include "pprof.h"
#include "read_limits.h"

int pp_gunzip(const uint8_t *data, size_t len, size_t limit, pp_buf *out, char *err, size_t errlen)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 15 + 16) != Z_OK) {
        snprintf(err, errlen, "pprof: gzip initialization failed");
        return -1;
    }
    size_t in_left = len, produced = 0;
    zs.next_in = (Bytef *)data;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        if (zs.avail_in == 0) {
            if (!in_left) {
                snprintf(err, errlen, "pprof: truncated gzip data");
                goto fail;
            }
            zs.avail_in = in_left > UINT_MAX ? UINT_MAX : (uInt)in_left;
            in_left -= zs.avail_in;
        }
        if (pp_buf_reserve(out, 64 << 10) != 0) {
            snprintf(err, errlen, "pprof: out of memory decompressing");
            goto fail;
        }
        /* Never let zlib write more than one byte past the limit, so a gzip
         * bomb costs at most `limit` bytes before it is refused. */
        size_t room = out->cap - out->len, allowed = limit - produced + 1;
        if (room > allowed)
            room = allowed;
        if (room > UINT_MAX)
            room = UINT_MAX;
        zs.next_out = out->data + out->len;
        zs.avail_out = (uInt)room;
        rc = inflate(&zs, Z_NO_FLUSH);
        size_t got = room - zs.avail_out;
        out->len += got;
        produced += got;
        if (produced > limit) {
            snprintf(err, errlen, "pprof: decompressed profile exceeds the %zu MiB limit", limit >> 20);
            goto fail;
        }
        if (rc == Z_BUF_ERROR && zs.avail_in == 0 && !in_left) {
            snprintf(err, errlen, "pprof: truncated gzip data");
            goto fail;
        }
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
            snprintf(err, errlen, "pprof: corrupt gzip data: %s", zs.msg ? zs.msg : "inflate failed");
            goto fail;
        }
    }
    inflateEnd(&zs);
    return 0;
fail:
    inflateEnd(&zs);
    return -1;
}

/* ------------------------------------------------------------------ decoder */

typedef struct spans {
    pp_pb_reader *v;
    size_t n, cap;
} spans;

typedef struct u64s {
    uint64_t *v;
    size_t n, cap;
} u64s;

/* pprof ids are arbitrary uint64: sorted (id, index) pairs, looked up by
 * binary search. */
typedef struct id_entry {
    uint64_t id;
    uint32_t index;
} id_entry;

typedef struct id_index {
    id_entry *v;
    size_t n;
} id_index;

typedef struct func_rec {
    uint32_t name, system_name, file;
    int64_t start_line;
} func_rec;

typedef struct decoder {
    pp_profile *p;
    char *err;
    size_t errlen;

    spans sample_types, samples, mappings, locations, functions, strings;
    pp_pb_reader period_type;
    int has_period_type;
    uint64_t period, time_nanos, duration_nanos, default_sample_type;
    u64s comments;

    uint32_t *str; /* pprof string index -> pp_profile string id */
    size_t n_str;
    id_index mapping_ids, function_ids, location_ids;
    func_rec *funcs;
    uint32_t *loc_first, *loc_n; /* location index -> its frames */

    u64s tmp_ids, tmp_values;
    uint32_t *tmp_stack;
    size_t cap_stack;
    pp_label *tmp_labels;
    size_t n_labels, cap_labels;
} decoder;

static int oom(decoder *d)
{
    snprintf(d->err, d->errlen, "pprof: out of memory");
    return -1;
}

static int grow(void **v, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 16;
    while (c < need)
        c *= 2;
    void *n = realloc(*v, c * elem);
    if (!n)
        return -1;
    *v = n;
    *cap = c;
    return 0;
}

static int spans_push(decoder *d, spans *s, const pp_pb_reader *r)
{
    if (grow((void **)&s->v, &s->cap, s->n + 1, sizeof *s->v) != 0)
        return oom(d);
    s->v[s->n++] = *r;
    return 0;
}

static int u64s_push(decoder *d, u64s *s, uint64_t v)
{
    if (grow((void **)&s->v, &s->cap, s->n + 1, sizeof *s->v) != 0)
        return oom(d);
    s->v[s->n++] = v;
    return 0;
}

/* "sample 3", or just "profile" for the top-level message. */
static const char *subject(char *buf, size_t len, const char *what, size_t index)
{
    if (strcmp(what, "profile") == 0)
        return what;
    snprintf(buf, len, "%s %zu", what, index);
    return buf;
}

static int malformed(decoder *d, const pp_pb_reader *r, const char *what, size_t index)
{
    char s[48];
    snprintf(d->err, d->errlen, "pprof: malformed %s: %s (offset %zu)", subject(s, sizeof s, what, index),
             r->err ? r->err : "bad field", pp_pb_offset(r));
    return -1;
}

static int wire_mismatch(decoder *d, const char *what, size_t index, uint32_t field, int wire)
{
    char s[48];
    snprintf(d->err, d->errlen, "pprof: %s: field %" PRIu32 " has unexpected wire type %d",
             subject(s, sizeof s, what, index), field, wire);
    return -1;
}

/* One varint field. */
static int get_u64(decoder *d, pp_pb_reader *r, uint32_t field, int wire, uint64_t *out, const char *what,
                   size_t index)
{
    if (wire != PP_PB_VARINT)
        return wire_mismatch(d, what, index, field, wire);
    if (pp_pb_read_varint(r, out) != 0)
        return malformed(d, r, what, index);
    return 0;
}

/* A repeated integer field: packed (one length-delimited run) or not. */
static int get_repeated(decoder *d, pp_pb_reader *r, uint32_t field, int wire, u64s *out, const char *what,
                        size_t index)
{
    uint64_t v;
    if (wire == PP_PB_VARINT) {
        if (pp_pb_read_varint(r, &v) != 0)
            return malformed(d, r, what, index);
        return u64s_push(d, out, v);
    }
    if (wire != PP_PB_LEN)
        return wire_mismatch(d, what, index, field, wire);
    pp_pb_reader sub;
    if (pp_pb_read_len(r, &sub) != 0)
        return malformed(d, r, what, index);
    while (!pp_pb_done(&sub)) {
        if (pp_pb_read_varint(&sub, &v) != 0)
            return malformed(d, &sub, what, index);
        if (u64s_push(d, out, v) != 0)
            return -1;
    }
    return 0;
}

static int get_msg(decoder *d, pp_pb_reader *r, uint32_t field, int wire, pp_pb_reader *sub, const char *what,
                   size_t index)
{
    if (wire != PP_PB_LEN)
        return wire_mismatch(d, what, index, field, wire);
    if (pp_pb_read_len(r, sub) != 0)
        return malformed(d, r, what, index);
    return 0;
}

static int skip(decoder *d, pp_pb_reader *r, int wire, const char *what, size_t index)
{
    if (pp_pb_skip(r, wire) != 0)
        return malformed(d, r, what, index);
    return 0;
}

static int next_field(decoder *d, pp_pb_reader *r, uint32_t *field, int *wire, const char *what, size_t index)
{
    if (pp_pb_read_tag(r, field, wire) != 0)
        return malformed(d, r, what, index);
    return 0;
}

static int string_ref(decoder *d, uint64_t idx, uint32_t *out, const char *what, size_t index)
{
    /* A file without a string table can only mean "" by index 0. */
    if (idx == 0 && d->n_str == 0) {
        *out = 0;
        return 0;
    }
    if (idx >= d->n_str) {
        snprintf(d->err, d->errlen, "pprof: %s %zu references string %" PRIu64 " but the table has %zu", what,
                 index, idx, d->n_str);
        return -1;
    }
    *out = d->str[idx];
    return 0;
}

static int cmp_id(const void *a, const void *b)
{
    uint64_t x = ((const id_entry *)a)->id, y = ((const id_entry *)b)->id;
    return x < y ? -1 : x > y;
}

static int id_index_build(decoder *d, id_index *m, const uint64_t *ids, size_t n, const char *what)
{
    m->v = malloc((n ? n : 1) * sizeof *m->v);
    if (!m->v)
        return oom(d);
    m->n = n;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] == 0) {
            snprintf(d->err, d->errlen, "pprof: %s %zu has id 0", what, i);
            return -1;
        }
        m->v[i].id = ids[i];
        m->v[i].index = (uint32_t)i;
    }
    if (n > 1)
        qsort(m->v, n, sizeof *m->v, cmp_id);
    for (size_t i = 1; i < n; i++) {
        if (m->v[i].id == m->v[i - 1].id) {
            snprintf(d->err, d->errlen, "pprof: duplicate %s id %" PRIu64, what, m->v[i].id);
            return -1;
        }
    }
    return 0;
}

static int id_index_find(const id_index *m, uint64_t id, uint32_t *index)
{
    id_entry key = {id, 0};
    const id_entry *e = bsearch(&key, m->v, m->n, sizeof *m->v, cmp_id);
    if (!e)
        return -1;
    *index = e->index;
    return 0;
}

static int missing(decoder *d, const char *what, size_t index, const char *target, uint64_t id)
{
    snprintf(d->err, d->errlen, "pprof: %s %zu references %s %" PRIu64 " that does not exist", what, index, target,
             id);
    return -1;
}

/* --------------------------------------------------------------- messages */

static int read_top(decoder *d, pp_pb_reader *r)
{
    while (!pp_pb_done(r)) {
        uint32_t f;
        int w;
        pp_pb_reader sub;
        if (next_field(d, r, &f, &w, "profile", 0) != 0)
            return -1;
        int rc;
        switch (f) {
        case 1: rc = get_msg(d, r, f, w, &sub, "profile", 0) || spans_push(d, &d->sample_types, &sub); break;
        case 2: rc = get_msg(d, r, f, w, &sub, "profile", 0) || spans_push(d, &d->samples, &sub); break;
        case 3: rc = get_msg(d, r, f, w, &sub, "profile", 0) || spans_push(d, &d->mappings, &sub); break;
        case 4: rc = get_msg(d, r, f, w, &sub, "profile", 0) || spans_push(d, &d->locations, &sub); break;
        case 5: rc = get_msg(d, r, f, w, &sub, "profile", 0) || spans_push(d, &d->functions, &sub); break;
        case 6: rc = get_msg(d, r, f, w, &sub, "profile", 0) || spans_push(d, &d->strings, &sub); break;
        case 9: rc = get_u64(d, r, f, w, &d->time_nanos, "profile", 0); break;
        case 10: rc = get_u64(d, r, f, w, &d->duration_nanos, "profile", 0); break;
        case 11:
            rc = get_msg(d, r, f, w, &d->period_type, "profile", 0);
            d->has_period_type = 1;
            break;
        case 12: rc = get_u64(d, r, f, w, &d->period, "profile", 0); break;
        case 13: rc = get_repeated(d, r, f, w, &d->comments, "profile", 0); break;
        case 14: rc = get_u64(d, r, f, w, &d->default_sample_type, "profile", 0); break;
        default: rc = skip(d, r, w, "profile", 0); break; /* drop_frames, keep_frames, newer fields */
        }
        if (rc)
            return -1;
    }
    return 0;
}

static int read_value_type(decoder *d, pp_pb_reader r, pp_value_type *out, const char *what, size_t index)
{
    uint64_t type = 0, unit = 0;
    while (!pp_pb_done(&r)) {
        uint32_t f;
        int w;
        if (next_field(d, &r, &f, &w, what, index) != 0)
            return -1;
        int rc = f == 1 ? get_u64(d, &r, f, w, &type, what, index)
               : f == 2 ? get_u64(d, &r, f, w, &unit, what, index)
                        : skip(d, &r, w, what, index);
        if (rc)
            return -1;
    }
    if (string_ref(d, type, &out->type, what, index) || string_ref(d, unit, &out->unit, what, index))
        return -1;
    return 0;
}

static int read_strings(decoder *d)
{
    d->n_str = d->strings.n;
    d->str = malloc((d->n_str ? d->n_str : 1) * sizeof *d->str);
    if (!d->str)
        return oom(d);
    for (size_t i = 0; i < d->n_str; i++) {
        const pp_pb_reader *s = &d->strings.v[i];
        size_t len = (size_t)(s->end - s->p);
        if (i == 0 && len != 0) {
            snprintf(d->err, d->errlen, "pprof: string_table[0] must be empty");
            return -1;
        }
        d->str[i] = pp_strtab_intern_len(&d->p->strings, (const char *)s->p, len);
        if (d->str[i] == UINT32_MAX)
            return oom(d);
    }
    return 0;
}

static int read_mappings(decoder *d)
{
    u64s ids = {0};
    int rc = -1;
    for (size_t i = 0; i < d->mappings.n; i++) {
        pp_pb_reader r = d->mappings.v[i];
        uint64_t id = 0, start = 0, limit = 0, offset = 0, file = 0, build_id = 0;
        while (!pp_pb_done(&r)) {
            uint32_t f;
            int w;
            if (next_field(d, &r, &f, &w, "mapping", i) != 0)
                goto out;
            uint64_t *dst = f == 1 ? &id : f == 2 ? &start : f == 3 ? &limit : f == 4 ? &offset
                          : f == 5 ? &file : f == 6 ? &build_id : NULL;
            if (dst ? get_u64(d, &r, f, w, dst, "mapping", i) : skip(d, &r, w, "mapping", i))
                goto out;
        }
        pp_mapping m = {.start = start, .limit = limit, .offset = offset};
        if (string_ref(d, file, &m.file, "mapping", i) || string_ref(d, build_id, &m.build_id, "mapping", i))
            goto out;
        if (pp_profile_add_mapping(d->p, &m) == UINT32_MAX || u64s_push(d, &ids, id) != 0) {
            oom(d);
            goto out;
        }
    }
    rc = id_index_build(d, &d->mapping_ids, ids.v, ids.n, "mapping");
out:
    free(ids.v);
    return rc;
}

static int read_functions(decoder *d)
{
    u64s ids = {0};
    int rc = -1;
    d->funcs = malloc((d->functions.n ? d->functions.n : 1) * sizeof *d->funcs);
    if (!d->funcs)
        return oom(d);
    for (size_t i = 0; i < d->functions.n; i++) {
        pp_pb_reader r = d->functions.v[i];
        uint64_t id = 0, name = 0, system_name = 0, file = 0, start_line = 0;
        while (!pp_pb_done(&r)) {
            uint32_t f;
            int w;
            if (next_field(d, &r, &f, &w, "function", i) != 0)
                goto out;
            uint64_t *dst = f == 1 ? &id : f == 2 ? &name : f == 3 ? &system_name : f == 4 ? &file
                          : f == 5 ? &start_line : NULL;
            if (dst ? get_u64(d, &r, f, w, dst, "function", i) : skip(d, &r, w, "function", i))
                goto out;
        }
        func_rec *fr = &d->funcs[i];
        fr->start_line = (int64_t)start_line;
        if (string_ref(d, name, &fr->name, "function", i) ||
            string_ref(d, system_name, &fr->system_name, "function", i) ||
            string_ref(d, file, &fr->file, "function", i))
            goto out;
        if (u64s_push(d, &ids, id) != 0)
            goto out;
    }
    rc = id_index_build(d, &d->function_ids, ids.v, ids.n, "function");
out:
    free(ids.v);
    return rc;
}

/* A Location with no usable Line still needs a frame: name it by address the
 * way pprof prints unsymbolized locations. */
static int add_unnamed_frame(decoder *d, pp_frame *fr, uint64_t address)
{
    char name[32];
    if (address)
        snprintf(name, sizeof name, "0x%" PRIx64, address);
    else
        snprintf(name, sizeof name, "[unknown]");
    fr->name = pp_profile_intern(d->p, name);
    if (fr->name == UINT32_MAX || pp_profile_add_frame(d->p, fr) == UINT32_MAX)
        return oom(d);
    return 0;
}

static int read_line(decoder *d, pp_pb_reader r, size_t loc, pp_frame *fr)
{
    uint64_t func_id = 0, line = 0;
    while (!pp_pb_done(&r)) {
        uint32_t f;
        int w;
        if (next_field(d, &r, &f, &w, "location", loc) != 0)
            return -1;
        int rc = f == 1 ? get_u64(d, &r, f, w, &func_id, "location", loc)
               : f == 2 ? get_u64(d, &r, f, w, &line, "location", loc)
                        : skip(d, &r, w, "location", loc);
        if (rc)
            return -1;
    }
    fr->line = (int64_t)line;
    if (func_id == 0) /* proto3 "absent": the line has no function */
        return add_unnamed_frame(d, fr, fr->address);
    uint32_t fi;
    if (id_index_find(&d->function_ids, func_id, &fi) != 0)
        return missing(d, "location", loc, "function", func_id);
    fr->name = d->funcs[fi].name;
    fr->system_name = d->funcs[fi].system_name;
    fr->file = d->funcs[fi].file;
    fr->start_line = d->funcs[fi].start_line;
    if (pp_profile_add_frame(d->p, fr) == UINT32_MAX)
        return oom(d);
    return 0;
}

static int read_locations(decoder *d)
{
    u64s ids = {0};
    spans lines = {0};
    int rc = -1;
    size_t n = d->locations.n;
    d->loc_first = malloc((n ? n : 1) * sizeof *d->loc_first);
    d->loc_n = malloc((n ? n : 1) * sizeof *d->loc_n);
    if (!d->loc_first || !d->loc_n) {
        oom(d);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        pp_pb_reader r = d->locations.v[i], sub;
        uint64_t id = 0, mapping_id = 0, address = 0;
        lines.n = 0;
        while (!pp_pb_done(&r)) {
            uint32_t f;
            int w;
            if (next_field(d, &r, &f, &w, "location", i) != 0)
                goto out;
            int frc = f == 1 ? get_u64(d, &r, f, w, &id, "location", i)
                    : f == 2 ? get_u64(d, &r, f, w, &mapping_id, "location", i)
                    : f == 3 ? get_u64(d, &r, f, w, &address, "location", i)
                    : f == 4 ? get_msg(d, &r, f, w, &sub, "location", i) || spans_push(d, &lines, &sub)
                             : skip(d, &r, w, "location", i);
            if (frc)
                goto out;
        }
        pp_frame fr = {.address = address};
        if (mapping_id) {
            uint32_t mi;
            if (id_index_find(&d->mapping_ids, mapping_id, &mi) != 0) {
                missing(d, "location", i, "mapping", mapping_id);
                goto out;
            }
            fr.mapping = mi + 1;
        }
        /* Only machine code carries an address or a mapping; interpreter and
         * profiler-named frames have neither. */
        fr.kind = (address || mapping_id) ? PP_FRAME_NATIVE : PP_FRAME_INTERP;
        if (d->p->n_frames > UINT32_MAX - lines.n - 1) {
            snprintf(d->err, d->errlen, "pprof: too many frames");
            goto out;
        }
        d->loc_first[i] = d->p->n_frames;
        /* Line[0] is the leaf-most (inlined) function, the last one its
         * caller: emitting them in order keeps the stack leaf first. */
        for (size_t l = 0; l < lines.n; l++) {
            pp_frame lf = fr;
            if (read_line(d, lines.v[l], i, &lf) != 0)
                goto out;
        }
        if (lines.n == 0 && add_unnamed_frame(d, &fr, address) != 0)
            goto out;
        d->loc_n[i] = d->p->n_frames - d->loc_first[i];
        if (u64s_push(d, &ids, id) != 0)
            goto out;
    }
    rc = id_index_build(d, &d->location_ids, ids.v, ids.n, "location");
out:
    free(ids.v);
    free(lines.v);
    return rc;
}

static int read_label(decoder *d, pp_pb_reader r, size_t sample, pp_label *out)
{
    uint64_t key = 0, str = 0, num = 0, unit = 0;
    while (!pp_pb_done(&r)) {
        uint32_t f;
        int w;
        if (next_field(d, &r, &f, &w, "sample", sample) != 0)
            return -1;
        uint64_t *dst = f == 1 ? &key : f == 2 ? &str : f == 3 ? &num : f == 4 ? &unit : NULL;
        if (dst ? get_u64(d, &r, f, w, dst, "sample", sample) : skip(d, &r, w, "sample", sample))
            return -1;
    }
    out->num = (int64_t)num;
    if (string_ref(d, key, &out->key, "sample", sample) || string_ref(d, str, &out->str, "sample", sample) ||
        string_ref(d, unit, &out->num_unit, "sample", sample))
        return -1;
    return 0;
}

static int read_sample(decoder *d, size_t i)
{
    pp_pb_reader r = d->samples.v[i], sub;
    d->tmp_ids.n = d->tmp_values.n = d->n_labels = 0;
    while (!pp_pb_done(&r)) {
        uint32_t f;
        int w;
        if (next_field(d, &r, &f, &w, "sample", i) != 0)
            return -1;
        int rc;
        if (f == 1) {
            rc = get_repeated(d, &r, f, w, &d->tmp_ids, "sample", i);
        } else if (f == 2) {
            rc = get_repeated(d, &r, f, w, &d->tmp_values, "sample", i);
        } else if (f == 3) {
            rc = get_msg(d, &r, f, w, &sub, "sample", i);
            if (!rc && grow((void **)&d->tmp_labels, &d->cap_labels, d->n_labels + 1, sizeof *d->tmp_labels))
                rc = oom(d);
            if (!rc) {
                memset(&d->tmp_labels[d->n_labels], 0, sizeof *d->tmp_labels);
                rc = read_label(d, sub, i, &d->tmp_labels[d->n_labels++]);
            }
        } else {
            rc = skip(d, &r, w, "sample", i);
        }
        if (rc)
            return -1;
    }
    if (d->tmp_values.n != d->p->n_values) {
        snprintf(d->err, d->errlen, "pprof: sample %zu has %zu values but the profile has %" PRIu32 " sample types",
                 i, d->tmp_values.n, d->p->n_values);
        return -1;
    }
    size_t depth = 0;
    for (size_t k = 0; k < d->tmp_ids.n; k++) {
        uint32_t li;
        if (id_index_find(&d->location_ids, d->tmp_ids.v[k], &li) != 0)
            return missing(d, "sample", i, "location", d->tmp_ids.v[k]);
        char where[48];
        snprintf(where, sizeof where, "sample %zu", i);
        if (pp_read_check_stack(d->p, depth + d->loc_n[li], "pprof", where, d->err, d->errlen) != 0)
            return -1;
        if (grow((void **)&d->tmp_stack, &d->cap_stack, depth + d->loc_n[li], sizeof *d->tmp_stack) != 0)
            return oom(d);
        for (uint32_t j = 0; j < d->loc_n[li]; j++)
            d->tmp_stack[depth++] = d->loc_first[li] + j;
    }
    /* pp_sample indexes the shared label array with 32 bits (the stack is
     * kept below that by PP_READ_MAX_FRAME_REFS). */
    if (d->p->n_labels + d->n_labels > UINT32_MAX) {
        snprintf(d->err, d->errlen, "pprof: sample %zu: too many labels in the profile", i);
        return -1;
    }
    int64_t values[PP_MAX_VALUES] = {0};
    for (size_t k = 0; k < d->tmp_values.n; k++)
        values[k] = (int64_t)d->tmp_values.v[k];
    if (pp_profile_add_sample(d->p, d->tmp_stack, (uint32_t)depth, d->tmp_labels, (uint32_t)d->n_labels, values))
        return oom(d);
    return 0;
}

static int read_profile(decoder *d, const uint8_t *data, size_t len)
{
    pp_pb_reader r;
    pp_pb_reader_init(&r, data, len);
    if (read_top(d, &r) || read_strings(d))
        return -1;
    if (d->sample_types.n > PP_MAX_VALUES) {
        snprintf(d->err, d->errlen, "pprof: %zu sample types, at most %d supported", d->sample_types.n,
                 PP_MAX_VALUES);
        return -1;
    }
    pp_profile *p = d->p;
    for (size_t i = 0; i < d->sample_types.n; i++)
        if (read_value_type(d, d->sample_types.v[i], &p->value_types[i], "sample type", i))
            return -1;
    p->n_values = (uint32_t)d->sample_types.n;
    if (d->has_period_type && read_value_type(d, d->period_type, &p->period_type, "period type", 0))
        return -1;
    p->period = (int64_t)d->period;
    p->time_nanos = (int64_t)d->time_nanos;
    p->duration_nanos = (int64_t)d->duration_nanos;
    /* Without default_sample_type pprof ranks by the last sample type. */
    p->default_value = p->n_values ? p->n_values - 1 : 0;
    if (d->default_sample_type) {
        uint32_t type;
        if (string_ref(d, d->default_sample_type, &type, "default sample type", 0))
            return -1;
        for (uint32_t i = 0; i < p->n_values; i++)
            if (p->value_types[i].type == type) {
                p->default_value = i;
                break;
            }
    }
    for (size_t i = 0; i < d->comments.n; i++) {
        uint32_t id;
        if (string_ref(d, d->comments.v[i], &id, "comment", i))
            return -1;
        if (pp_profile_add_comment(p, pp_strtab_get(&p->strings, id)) != 0)
            return oom(d);
    }
    if (read_mappings(d) || read_functions(d) || read_locations(d))
        return -1;
    for (size_t i = 0; i < d->samples.n; i++)
        if (read_sample(d, i))
            return -1;
    return 0;
}

static void decoder_free(decoder *d)
{
    free(d->sample_types.v);
    free(d->samples.v);
    free(d->mappings.v);
    free(d->locations.v);
    free(d->functions.v);
    free(d->strings.v);
    free(d->comments.v);
    free(d->str);
    free(d->mapping_ids.v);
    free(d->function_ids.v);
    free(d->location_ids.v);
    free(d->funcs);
    free(d->loc_first);
    free(d->loc_n);
    free(d->tmp_ids.v);
    free(d->tmp_values.v);
    free(d->tmp_stack);
    free(d->tmp_labels);
}

pp_profile *pp_profile_decode_pprof(const uint8_t *data, size_t len, char *err, size_t errlen)
{
    if (!data || len == 0) {
        snprintf(err, errlen, "pprof: empty input");
        return NULL;
    }
    pp_buf raw;
    pp_buf_init(&raw);
    if (len >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
        if (pp_gunzip(data, len, PP_PPROF_MAX_INFLATED, &raw, err, errlen) != 0) {
            pp_buf_free(&raw);
            return NULL;
        }
        data = raw.data;
        len = raw.len;
        if (len == 0) {
            snprintf(err, errlen, "pprof: empty input");
            pp_buf_free(&raw);
            return NULL;
        }
    }
    decoder d;
    memset(&d, 0, sizeof d);
    d.err = err;
    d.errlen = errlen;
    d.p = pp_profile_new();
    if (!d.p)
        oom(&d);
    if (!d.p || read_profile(&d, data, len) != 0) {
        pp_profile_free(d.p);
        d.p = NULL;
    }
    decoder_free(&d);
    pp_buf_free(&raw);
    return d.p;
}
