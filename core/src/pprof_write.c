#include "pprof.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "pbuf.h"

/* profile.proto field numbers */
enum {
    PROFILE_SAMPLE_TYPE = 1, PROFILE_SAMPLE = 2, PROFILE_MAPPING = 3, PROFILE_LOCATION = 4,
    PROFILE_FUNCTION = 5, PROFILE_STRING_TABLE = 6, PROFILE_TIME_NANOS = 9,
    PROFILE_DURATION_NANOS = 10, PROFILE_PERIOD_TYPE = 11, PROFILE_PERIOD = 12,
    PROFILE_COMMENT = 13, PROFILE_DEFAULT_SAMPLE_TYPE = 14,
};
enum { VALUE_TYPE_TYPE = 1, VALUE_TYPE_UNIT = 2 };
enum { SAMPLE_LOCATION_ID = 1, SAMPLE_VALUE = 2, SAMPLE_LABEL = 3 };
enum { LABEL_KEY = 1, LABEL_STR = 2, LABEL_NUM = 3, LABEL_NUM_UNIT = 4 };
enum {
    MAPPING_ID = 1, MAPPING_MEMORY_START = 2, MAPPING_MEMORY_LIMIT = 3, MAPPING_FILE_OFFSET = 4,
    MAPPING_FILENAME = 5, MAPPING_BUILD_ID = 6, MAPPING_HAS_FUNCTIONS = 7,
};
enum { LOCATION_ID = 1, LOCATION_MAPPING_ID = 2, LOCATION_ADDRESS = 3, LOCATION_LINE = 4 };
enum { LINE_FUNCTION_ID = 1, LINE_LINE = 2 };
enum { FUNCTION_ID = 1, FUNCTION_NAME = 2, FUNCTION_SYSTEM_NAME = 3, FUNCTION_FILENAME = 4, FUNCTION_START_LINE = 5 };

/* proto3 leaves default (zero) scalars out; readers treat absent as zero. */
static void put_nonzero(pp_buf *b, uint32_t field, uint64_t v)
{
    if (v)
        pp_pb_uint64(b, field, v);
}

static void put_value_type(pp_buf *b, uint32_t field, pp_value_type vt)
{
    size_t m = pp_pb_begin(b, field);
    put_nonzero(b, VALUE_TYPE_TYPE, vt.type);
    put_nonzero(b, VALUE_TYPE_UNIT, vt.unit);
    pp_pb_end(b, m);
}

/* pprof has a Function table that frames share: frames of one function at
 * different lines become one Function and several Locations. */
typedef struct func_index {
    uint32_t *slots; /* frame index + 1 of the function's first frame, 0 = empty */
    uint32_t nslots;
    uint32_t *frame_func; /* frame index -> function id (1-based) */
    uint32_t *func_frame; /* function id - 1 -> representative frame index */
    uint32_t n_funcs;
} func_index;

static uint64_t func_hash(const pp_frame *f)
{
    uint64_t h = 1469598103934665603ULL;
    uint64_t parts[4] = {f->name, f->system_name, f->file, (uint64_t)f->start_line};
    for (int i = 0; i < 4; i++) {
        h ^= parts[i];
        h *= 1099511628211ULL;
        h ^= h >> 29;
    }
    return h;
}

static int same_func(const pp_frame *a, const pp_frame *b)
{
    return a->name == b->name && a->system_name == b->system_name && a->file == b->file &&
           a->start_line == b->start_line;
}

static int build_func_index(const pp_profile *p, func_index *fi)
{
    memset(fi, 0, sizeof *fi);
    uint32_t n = 64;
    while (n < (uint64_t)p->n_frames * 2)
        n *= 2;
    fi->nslots = n;
    fi->slots = calloc(n, sizeof *fi->slots);
    fi->frame_func = calloc(p->n_frames ? p->n_frames : 1, sizeof *fi->frame_func);
    fi->func_frame = calloc(p->n_frames ? p->n_frames : 1, sizeof *fi->func_frame);
    if (!fi->slots || !fi->frame_func || !fi->func_frame)
        return -1;
    for (uint32_t i = 0; i < p->n_frames; i++) {
        const pp_frame *f = &p->frames[i];
        uint32_t s = (uint32_t)func_hash(f) & (n - 1);
        while (fi->slots[s] && !same_func(&p->frames[fi->slots[s] - 1], f))
            s = (s + 1) & (n - 1);
        if (!fi->slots[s]) {
            fi->slots[s] = i + 1;
            fi->func_frame[fi->n_funcs++] = i;
            fi->frame_func[i] = fi->n_funcs;
        } else {
            fi->frame_func[i] = fi->frame_func[fi->slots[s] - 1];
        }
    }
    return 0;
}

static void free_func_index(func_index *fi)
{
    free(fi->slots);
    free(fi->frame_func);
    free(fi->func_frame);
}

/* Everything the encoder dereferences by id is checked first, so a profile
 * built wrong yields an error rather than a file pprof rejects. */
static int validate(const pp_profile *p, char *err, size_t errlen)
{
    uint32_t ns = p->strings.count;
    if (p->n_values > PP_MAX_VALUES) {
        snprintf(err, errlen, "pprof: profile has %" PRIu32 " value types, at most %d supported", p->n_values,
                 PP_MAX_VALUES);
        return -1;
    }
    for (uint32_t i = 0; i < p->n_frames; i++) {
        const pp_frame *f = &p->frames[i];
        if (f->name >= ns || f->system_name >= ns || f->file >= ns) {
            snprintf(err, errlen, "pprof: frame %" PRIu32 " references a string that does not exist", i);
            return -1;
        }
        if (f->mapping > p->n_mappings) {
            snprintf(err, errlen, "pprof: frame %" PRIu32 " references mapping %" PRIu32 " that does not exist", i,
                     f->mapping);
            return -1;
        }
    }
    for (uint32_t i = 0; i < p->n_mappings; i++) {
        if (p->mappings[i].file >= ns || p->mappings[i].build_id >= ns) {
            snprintf(err, errlen, "pprof: mapping %" PRIu32 " references a string that does not exist", i + 1);
            return -1;
        }
    }
    for (size_t i = 0; i < p->n_samples; i++) {
        const pp_sample *s = &p->samples[i];
        if ((size_t)s->first_frame + s->n_frames > p->n_stack ||
            (size_t)s->first_label + s->n_labels > p->n_labels) {
            snprintf(err, errlen, "pprof: sample %zu has frames or labels out of range", i);
            return -1;
        }
        for (uint32_t d = 0; d < s->n_frames; d++) {
            if (p->stack[s->first_frame + d] >= p->n_frames) {
                snprintf(err, errlen, "pprof: sample %zu references frame %" PRIu32 " that does not exist", i,
                         p->stack[s->first_frame + d]);
                return -1;
            }
        }
        for (uint32_t l = 0; l < s->n_labels; l++) {
            const pp_label *lb = &p->labels[s->first_label + l];
            if (lb->key >= ns || lb->str >= ns || lb->num_unit >= ns) {
                snprintf(err, errlen, "pprof: sample %zu label %" PRIu32 " references a string that does not exist",
                         i, l);
                return -1;
            }
        }
    }
    return 0;
}

static void put_sample(pp_buf *b, const pp_profile *p, const pp_sample *s)
{
    size_t m = pp_pb_begin(b, PROFILE_SAMPLE);
    if (s->n_frames) {
        size_t ids = pp_pb_begin(b, SAMPLE_LOCATION_ID);
        for (uint32_t d = 0; d < s->n_frames; d++)
            pp_pb_varint(b, (uint64_t)p->stack[s->first_frame + d] + 1);
        pp_pb_end(b, ids);
    }
    pp_pb_packed_int64(b, SAMPLE_VALUE, s->values, p->n_values);
    for (uint32_t l = 0; l < s->n_labels; l++) {
        const pp_label *lb = &p->labels[s->first_label + l];
        size_t lm = pp_pb_begin(b, SAMPLE_LABEL);
        put_nonzero(b, LABEL_KEY, lb->key);
        if (lb->str)
            pp_pb_uint64(b, LABEL_STR, lb->str);
        else
            put_nonzero(b, LABEL_NUM, (uint64_t)lb->num);
        put_nonzero(b, LABEL_NUM_UNIT, lb->num_unit);
        pp_pb_end(b, lm);
    }
    pp_pb_end(b, m);
}

static void put_mapping(pp_buf *b, const pp_mapping *mp, uint32_t id)
{
    size_t m = pp_pb_begin(b, PROFILE_MAPPING);
    pp_pb_uint64(b, MAPPING_ID, id);
    put_nonzero(b, MAPPING_MEMORY_START, mp->start);
    put_nonzero(b, MAPPING_MEMORY_LIMIT, mp->limit);
    put_nonzero(b, MAPPING_FILE_OFFSET, mp->offset);
    put_nonzero(b, MAPPING_FILENAME, mp->file);
    put_nonzero(b, MAPPING_BUILD_ID, mp->build_id);
    /* Frames arrive symbolized: tells pprof not to symbolize them again. */
    pp_pb_uint64(b, MAPPING_HAS_FUNCTIONS, 1);
    pp_pb_end(b, m);
}

static void put_location(pp_buf *b, const pp_frame *f, uint32_t id, uint32_t func_id)
{
    size_t m = pp_pb_begin(b, PROFILE_LOCATION);
    pp_pb_uint64(b, LOCATION_ID, id);
    put_nonzero(b, LOCATION_MAPPING_ID, f->mapping);
    if (f->kind == PP_FRAME_NATIVE)
        put_nonzero(b, LOCATION_ADDRESS, f->address);
    size_t lm = pp_pb_begin(b, LOCATION_LINE);
    pp_pb_uint64(b, LINE_FUNCTION_ID, func_id);
    put_nonzero(b, LINE_LINE, (uint64_t)f->line);
    pp_pb_end(b, lm);
    pp_pb_end(b, m);
}

static void put_function(pp_buf *b, const pp_frame *f, uint32_t id)
{
    size_t m = pp_pb_begin(b, PROFILE_FUNCTION);
    pp_pb_uint64(b, FUNCTION_ID, id);
    put_nonzero(b, FUNCTION_NAME, f->name);
    put_nonzero(b, FUNCTION_SYSTEM_NAME, f->system_name);
    put_nonzero(b, FUNCTION_FILENAME, f->file);
    put_nonzero(b, FUNCTION_START_LINE, (uint64_t)f->start_line);
    pp_pb_end(b, m);
}

int pp_pprof_encode_raw(const pp_profile *p, pp_buf *b, char *err, size_t errlen)
{
    if (validate(p, err, errlen) != 0)
        return -1;
    func_index fi;
    if (build_func_index(p, &fi) != 0) {
        free_func_index(&fi);
        snprintf(err, errlen, "pprof: out of memory indexing functions");
        return -1;
    }
    for (uint32_t i = 0; i < p->n_values; i++)
        put_value_type(b, PROFILE_SAMPLE_TYPE, p->value_types[i]);
    for (size_t i = 0; i < p->n_samples; i++)
        put_sample(b, p, &p->samples[i]);
    for (uint32_t i = 0; i < p->n_mappings; i++)
        put_mapping(b, &p->mappings[i], i + 1);
    for (uint32_t i = 0; i < p->n_frames; i++)
        put_location(b, &p->frames[i], i + 1, fi.frame_func[i]);
    for (uint32_t i = 0; i < fi.n_funcs; i++)
        put_function(b, &p->frames[fi.func_frame[i]], i + 1);
    /* strtab id 0 is "", which is what pprof requires of string_table[0]. */
    for (uint32_t i = 0; i < p->strings.count; i++)
        pp_pb_bytes(b, PROFILE_STRING_TABLE, p->strings.strs[i], p->strings.lens[i]);
    put_nonzero(b, PROFILE_TIME_NANOS, (uint64_t)p->time_nanos);
    put_nonzero(b, PROFILE_DURATION_NANOS, (uint64_t)p->duration_nanos);
    if (p->period_type.type || p->period_type.unit)
        put_value_type(b, PROFILE_PERIOD_TYPE, p->period_type);
    put_nonzero(b, PROFILE_PERIOD, (uint64_t)p->period);
    if (p->n_comments) {
        size_t m = pp_pb_begin(b, PROFILE_COMMENT);
        for (uint32_t i = 0; i < p->n_comments; i++)
            pp_pb_varint(b, p->comments[i]);
        pp_pb_end(b, m);
    }
    if (p->default_value < p->n_values)
        put_nonzero(b, PROFILE_DEFAULT_SAMPLE_TYPE, p->value_types[p->default_value].type);
    free_func_index(&fi);
    if (b->failed) {
        snprintf(err, errlen, "pprof: out of memory encoding the profile");
        return -1;
    }
    return 0;
}

static int gzip_into(const uint8_t *data, size_t len, pp_buf *out, char *err, size_t errlen)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* windowBits 15 + 16 selects the gzip wrapper that pprof readers expect. */
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        snprintf(err, errlen, "pprof: gzip initialization failed");
        return -1;
    }
    size_t in_left = len;
    zs.next_in = (Bytef *)data;
    int rc;
    do {
        /* avail_in/avail_out are 32-bit: feed huge inputs in slices. */
        if (zs.avail_in == 0 && in_left) {
            zs.avail_in = in_left > UINT_MAX ? UINT_MAX : (uInt)in_left;
            in_left -= zs.avail_in;
        }
        size_t room = deflateBound(&zs, zs.avail_in) + 64;
        if (pp_buf_reserve(out, room) != 0) {
            deflateEnd(&zs);
            snprintf(err, errlen, "pprof: out of memory compressing the profile");
            return -1;
        }
        room = out->cap - out->len;
        zs.next_out = out->data + out->len;
        zs.avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
        uInt before = zs.avail_out;
        rc = deflate(&zs, in_left ? Z_NO_FLUSH : Z_FINISH);
        out->len += before - zs.avail_out;
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
            deflateEnd(&zs);
            snprintf(err, errlen, "pprof: gzip compression failed (zlib error %d)", rc);
            return -1;
        }
    } while (rc != Z_STREAM_END);
    deflateEnd(&zs);
    return 0;
}

int pp_pprof_encode(const pp_profile *p, uint8_t **out, size_t *outlen, char *err, size_t errlen)
{
    pp_buf raw, gz;
    pp_buf_init(&raw);
    pp_buf_init(&gz);
    int rc = pp_pprof_encode_raw(p, &raw, err, errlen);
    if (rc == 0)
        rc = gzip_into(raw.data, raw.len, &gz, err, errlen);
    pp_buf_free(&raw);
    if (rc != 0) {
        pp_buf_free(&gz);
        return -1;
    }
    *out = pp_buf_detach(&gz, outlen);
    return 0;
}
