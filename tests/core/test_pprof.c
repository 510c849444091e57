/* pprof writer and reader: exact bytes for a minimal profile, structure of a
 * realistic one, a full roundtrip, and errors (not crashes) on bad input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pbuf.h"
#include "polyprof.h"
#include "pprof.h"
#include "profile.h"

static char err[256];

/* Two value types, a native frame in a mapping, two interpreter frames of
 * which "handler" appears at two lines (one Function, two Locations). */
static pp_profile *build(void)
{
    pp_profile *p = pp_profile_new();
    pp_profile_set_value_type(p, 0, "samples", "count");
    pp_profile_set_value_type(p, 1, "cpu", "nanoseconds");
    p->default_value = 1;
    p->period_type.type = pp_profile_intern(p, "cpu");
    p->period_type.unit = pp_profile_intern(p, "nanoseconds");
    p->period = 10000000;
    p->duration_nanos = 1000000000;
    p->time_nanos = 1700000000000000000;
    pp_mapping m = {.start = 0x7f0000000000, .limit = 0x7f0000100000, .offset = 0x1000,
                    .file = pp_profile_intern(p, "/usr/lib/libz.so.1"), .build_id = pp_profile_intern(p, "abc123")};
    uint32_t mid = pp_profile_add_mapping(p, &m);
    pp_frame f0 = {.name = pp_profile_intern(p, "deflate"), .system_name = pp_profile_intern(p, "deflate"),
                   .address = 0x7f0000001234, .mapping = mid, .kind = PP_FRAME_NATIVE};
    uint32_t app = pp_profile_intern(p, "app.py");
    pp_frame f1 = {.name = pp_profile_intern(p, "handler"), .file = app, .line = 12, .start_line = 10,
                   .kind = PP_FRAME_INTERP};
    pp_frame f2 = {.name = pp_profile_intern(p, "main"), .file = app, .line = 30, .start_line = 28,
                   .kind = PP_FRAME_INTERP};
    pp_frame f3 = f1;
    f3.line = 14;
    uint32_t a = pp_profile_add_frame(p, &f0), b = pp_profile_add_frame(p, &f1), c = pp_profile_add_frame(p, &f2),
             d = pp_profile_add_frame(p, &f3);
    uint32_t tid = pp_profile_intern(p, "thread_id"), tname = pp_profile_intern(p, "thread_name");
    pp_label l0[] = {{.key = tid, .num = 101}, {.key = tname, .str = pp_profile_intern(p, "MainThread")}};
    pp_label l1[] = {{.key = tid, .num = 102}, {.key = tname, .str = pp_profile_intern(p, "worker")}};
    uint32_t s0[] = {a, b, c}, s1[] = {d, c};
    int64_t v0[] = {3, 30000000}, v1[] = {1, 10000000};
    pp_profile_add_sample(p, s0, 3, l0, 2, v0);
    pp_profile_add_sample(p, s1, 2, l1, 2, v1);
    pp_profile_add_comment(p, "polyprof=0.1");
    pp_profile_add_comment(p, "interval=10ms");
    return p;
}

static void test_minimal_bytes(void)
{
    pp_profile *p = pp_profile_new();
    pp_profile_set_value_type(p, 0, "samples", "count");
    pp_frame f = {.name = pp_profile_intern(p, "f"), .kind = PP_FRAME_INTERP};
    uint32_t id = pp_profile_add_frame(p, &f);
    int64_t v[] = {1};
    pp_profile_add_sample(p, &id, 1, NULL, 0, v);
    pp_buf b;
    pp_buf_init(&b);
    CHECK(pp_pprof_encode_raw(p, &b, err, sizeof err) == 0);
    static const uint8_t want[] = {
        0x0a, 0x04, 0x08, 0x01, 0x10, 0x02,                   /* sample_type {type 1, unit 2} */
        0x12, 0x06, 0x0a, 0x01, 0x01, 0x12, 0x01, 0x01,       /* sample {location_id [1], value [1]} */
        0x22, 0x06, 0x08, 0x01, 0x22, 0x02, 0x08, 0x01,       /* location {id 1, line {function_id 1}} */
        0x2a, 0x04, 0x08, 0x01, 0x10, 0x03,                   /* function {id 1, name 3} */
        0x32, 0x00,                                           /* string_table[0] = "" */
        0x32, 0x07, 's', 'a', 'm', 'p', 'l', 'e', 's',
        0x32, 0x05, 'c', 'o', 'u', 'n', 't',
        0x32, 0x01, 'f',
        0x70, 0x01,                                           /* default_sample_type = "samples" */
    };
    CHECK_EQ_INT(b.len, sizeof want);
    CHECK(b.len == sizeof want && memcmp(b.data, want, sizeof want) == 0);
    pp_buf_free(&b);
    pp_profile_free(p);
}

/* Counts top-level fields by number and returns the offset of the first
 * occurrence of `field`. */
static void scan(const uint8_t *data, size_t len, size_t counts[16], size_t first[16])
{
    pp_pb_reader r;
    pp_pb_reader_init(&r, data, len);
    memset(counts, 0, 16 * sizeof *counts);
    while (!pp_pb_done(&r)) {
        uint32_t f;
        int w;
        size_t at = pp_pb_offset(&r);
        if (pp_pb_read_tag(&r, &f, &w) != 0 || pp_pb_skip(&r, w) != 0) {
            CHECK(!"top-level scan failed");
            return;
        }
        if (f < 16) {
            if (!counts[f])
                first[f] = at;
            counts[f]++;
        }
    }
}

static void test_structure(void)
{
    pp_profile *p = build();
    uint8_t *gz;
    size_t gzlen;
    CHECK(pp_pprof_encode(p, &gz, &gzlen, err, sizeof err) == 0);
    CHECK(gzlen > 18 && gz[0] == 0x1f && gz[1] == 0x8b);
    pp_buf raw, direct;
    pp_buf_init(&raw);
    pp_buf_init(&direct);
    CHECK(pp_gunzip(gz, gzlen, PP_PPROF_MAX_INFLATED, &raw, err, sizeof err) == 0);
    CHECK(pp_pprof_encode_raw(p, &direct, err, sizeof err) == 0);
    CHECK(raw.len == direct.len && memcmp(raw.data, direct.data, raw.len) == 0);

    size_t counts[16], first[16];
    scan(raw.data, raw.len, counts, first);
    CHECK_EQ_INT(raw.data[0], 0x0a); /* sample_type comes first */
    CHECK_EQ_INT(counts[1], 2);      /* sample_type */
    CHECK_EQ_INT(counts[2], 2);      /* sample */
    CHECK_EQ_INT(counts[3], 1);      /* mapping */
    CHECK_EQ_INT(counts[4], 4);      /* location: one per frame */
    CHECK_EQ_INT(counts[5], 3);      /* function: handler deduplicated */
    CHECK_EQ_INT(counts[6], p->strings.count);
    CHECK_EQ_INT(counts[13], 1);     /* comments, packed */
    CHECK(raw.data[first[6]] == 0x32 && raw.data[first[6] + 1] == 0x00);

    /* first sample: location ids [1 2 3] leaf first, values [3 30000000] */
    static const uint8_t s0[] = {0x0a, 0x03, 0x01, 0x02, 0x03, 0x12, 0x05, 0x03, 0x80, 0x87, 0xa7, 0x0e};
    CHECK(memcmp(raw.data + first[2] + 2, s0, sizeof s0) == 0);
    /* the mapping says frames are symbolized: has_functions (7) = true */
    const uint8_t *m = raw.data + first[3];
    static const uint8_t has_functions[] = {0x38, 0x01};
    CHECK(m[m[1] + 2 - 2] == has_functions[0] && m[m[1] + 2 - 1] == has_functions[1]);
    /* the native location carries mapping_id 1 and its address */
    static const uint8_t loc1[] = {0x22, 0x10, 0x08, 0x01, 0x10, 0x01, 0x18};
    CHECK(memcmp(raw.data + first[4], loc1, sizeof loc1) == 0);

    pp_buf_free(&raw);
    pp_buf_free(&direct);
    free(gz);
    pp_profile_free(p);
}

static void check_frame(const pp_profile *p, size_t s, uint32_t d, const char *name, const char *file, int64_t line,
                        int kind)
{
    pp_frame_view v;
    pp_profile_sample_frame(p, s, d, &v);
    CHECK_STR(v.name, name);
    CHECK_STR(v.file, file);
    CHECK_EQ_INT(v.line, line);
    CHECK_EQ_INT(v.kind, kind);
}

static void test_roundtrip(void)
{
    pp_profile *p = build();
    uint8_t *gz;
    size_t gzlen;
    CHECK(pp_pprof_encode(p, &gz, &gzlen, err, sizeof err) == 0);
    pp_profile *q = pp_profile_decode_pprof(gz, gzlen, err, sizeof err);
    CHECK(q != NULL);
    if (!q) {
        fprintf(stderr, "decode: %s\n", err);
        free(gz);
        pp_profile_free(p);
        return;
    }
    CHECK_EQ_INT(pp_profile_num_samples(q), 2);
    CHECK_EQ_INT(pp_profile_num_values(q), 2);
    const char *type, *unit;
    pp_profile_value_type(q, 1, &type, &unit);
    CHECK_STR(type, "cpu");
    CHECK_STR(unit, "nanoseconds");
    CHECK_EQ_INT(q->default_value, 1);
    CHECK_EQ_INT(q->period, 10000000);
    CHECK_STR(pp_strtab_get(&q->strings, q->period_type.type), "cpu");
    CHECK_EQ_INT(pp_profile_duration_nanos(q), 1000000000);
    CHECK_EQ_INT(q->time_nanos, 1700000000000000000);
    CHECK_EQ_INT(pp_profile_value(q, 0, 0), 3);
    CHECK_EQ_INT(pp_profile_value(q, 0, 1), 30000000);
    CHECK_EQ_INT(pp_profile_value(q, 1, 1), 10000000);

    CHECK_EQ_INT(pp_profile_sample_depth(q, 0), 3);
    pp_frame_view v;
    pp_profile_sample_frame(q, 0, 0, &v);
    CHECK_STR(v.name, "deflate");
    CHECK_EQ_INT(v.address, 0x7f0000001234);
    CHECK_EQ_INT(v.kind, 0);
    CHECK_STR(v.mapping, "/usr/lib/libz.so.1");
    check_frame(q, 0, 1, "handler", "app.py", 12, 1);
    check_frame(q, 0, 2, "main", "app.py", 30, 1);
    pp_profile_sample_frame(q, 0, 2, &v);
    CHECK_EQ_INT(v.start_line, 28);
    CHECK_STR(v.mapping, "");
    CHECK_EQ_INT(pp_profile_sample_depth(q, 1), 2);
    check_frame(q, 1, 0, "handler", "app.py", 14, 1);
    check_frame(q, 1, 1, "main", "app.py", 30, 1);
    CHECK_EQ_INT(q->mappings[0].start, 0x7f0000000000);
    CHECK_EQ_INT(q->mappings[0].limit, 0x7f0000100000);
    CHECK_EQ_INT(q->mappings[0].offset, 0x1000);
    CHECK_STR(pp_strtab_get(&q->strings, q->mappings[0].build_id), "abc123");

    CHECK_EQ_INT(pp_profile_sample_num_labels(q, 1), 2);
    pp_label_view l;
    pp_profile_sample_label(q, 1, 0, &l);
    CHECK_STR(l.key, "thread_id");
    CHECK(l.str == NULL);
    CHECK_EQ_INT(l.num, 102);
    pp_profile_sample_label(q, 1, 1, &l);
    CHECK_STR(l.key, "thread_name");
    CHECK_STR(l.str, "worker");

    CHECK_EQ_INT(pp_profile_num_comments(q), 2);
    CHECK_STR(pp_profile_comment(q, 0), "polyprof=0.1");
    CHECK_STR(pp_profile_comment(q, 1), "interval=10ms");

    /* re-encoding the decoded profile gives the same bytes: nothing lost */
    uint8_t *gz2;
    size_t gzlen2;
    pp_buf a, b;
    pp_buf_init(&a);
    pp_buf_init(&b);
    CHECK(pp_pprof_encode(q, &gz2, &gzlen2, err, sizeof err) == 0);
    CHECK(pp_gunzip(gz, gzlen, PP_PPROF_MAX_INFLATED, &a, err, sizeof err) == 0);
    CHECK(pp_gunzip(gz2, gzlen2, PP_PPROF_MAX_INFLATED, &b, err, sizeof err) == 0);
    CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);

    /* the raw (uncompressed) form decodes too */
    pp_profile *r = pp_profile_decode_pprof(a.data, a.len, err, sizeof err);
    CHECK(r && pp_profile_num_samples(r) == 2);
    pp_profile_free(r);

    pp_buf_free(&a);
    pp_buf_free(&b);
    free(gz2);
    free(gz);
    pp_profile_free(q);
    pp_profile_free(p);
}

/* Builds a raw profile by hand with the encoder: strings "", "f", "g". */
static void put_strings(pp_buf *b)
{
    pp_pb_string(b, 6, "");
    pp_pb_string(b, 6, "f");
    pp_pb_string(b, 6, "g");
}

static void put_function(pp_buf *b, uint64_t id, uint64_t name)
{
    size_t m = pp_pb_begin(b, 5);
    pp_pb_uint64(b, 1, id);
    pp_pb_uint64(b, 2, name);
    pp_pb_end(b, m);
}

static void put_line(pp_buf *b, uint64_t func, uint64_t line)
{
    size_t m = pp_pb_begin(b, 4);
    pp_pb_uint64(b, 1, func);
    pp_pb_uint64(b, 2, line);
    pp_pb_end(b, m);
}

static void put_sample(pp_buf *b, uint64_t loc, int64_t value)
{
    size_t m = pp_pb_begin(b, 2);
    pp_pb_packed_uint64(b, 1, &loc, 1);
    pp_pb_packed_int64(b, 2, &value, 1);
    pp_pb_end(b, m);
}

static pp_profile *decode_buf(const pp_buf *b) { return pp_profile_decode_pprof(b->data, b->len, err, sizeof err); }

static void test_inlined_and_ids(void)
{
    pp_buf b;
    pp_buf_init(&b);
    /* location 7 has two lines: f inlined into g; ids need not be dense.
     * string_table comes last, which the reader must allow. */
    size_t m = pp_pb_begin(&b, 1);
    pp_pb_uint64(&b, 1, 1);
    pp_pb_end(&b, m);
    put_sample(&b, 7, 5);
    m = pp_pb_begin(&b, 4);
    pp_pb_uint64(&b, 1, 7);
    put_line(&b, 20, 3);
    put_line(&b, 10, 9);
    pp_pb_end(&b, m);
    put_function(&b, 10, 2);
    put_function(&b, 20, 1);
    put_strings(&b);
    pp_profile *p = decode_buf(&b);
    CHECK(p != NULL);
    if (p) {
        CHECK_EQ_INT(pp_profile_sample_depth(p, 0), 2);
        check_frame(p, 0, 0, "f", "", 3, 1);
        check_frame(p, 0, 1, "g", "", 9, 1);
        CHECK_EQ_INT(pp_profile_value(p, 0, 0), 5);
        CHECK_EQ_INT(p->default_value, 0); /* absent: the last sample type */
        pp_profile_free(p);
    }

    /* a sample that points at a location that is not there */
    pp_buf_reset(&b);
    m = pp_pb_begin(&b, 1);
    pp_pb_end(&b, m);
    put_sample(&b, 1, 1);
    put_sample(&b, 99, 1);
    m = pp_pb_begin(&b, 4);
    pp_pb_uint64(&b, 1, 1);
    pp_pb_end(&b, m);
    put_strings(&b);
    CHECK(decode_buf(&b) == NULL);
    CHECK_STR(err, "pprof: sample 1 references location 99 that does not exist");

    /* a line that points at a missing function */
    pp_buf_reset(&b);
    m = pp_pb_begin(&b, 4);
    pp_pb_uint64(&b, 1, 1);
    put_line(&b, 5, 1);
    pp_pb_end(&b, m);
    put_strings(&b);
    CHECK(decode_buf(&b) == NULL);
    CHECK_STR(err, "pprof: location 0 references function 5 that does not exist");

    /* a location in a missing mapping */
    pp_buf_reset(&b);
    m = pp_pb_begin(&b, 4);
    pp_pb_uint64(&b, 1, 1);
    pp_pb_uint64(&b, 2, 3);
    pp_pb_end(&b, m);
    put_strings(&b);
    CHECK(decode_buf(&b) == NULL);
    CHECK_STR(err, "pprof: location 0 references mapping 3 that does not exist");

    /* a function name past the string table */
    pp_buf_reset(&b);
    put_function(&b, 1, 42);
    put_strings(&b);
    CHECK(decode_buf(&b) == NULL);
    CHECK_STR(err, "pprof: function 0 references string 42 but the table has 3");

    /* duplicate ids */
    pp_buf_reset(&b);
    put_function(&b, 1, 1);
    put_function(&b, 1, 2);
    put_strings(&b);
    CHECK(decode_buf(&b) == NULL);
    CHECK_STR(err, "pprof: duplicate function id 1");

    /* string_table[0] must be "" */
    pp_buf_reset(&b);
    pp_pb_string(&b, 6, "x");
    CHECK(decode_buf(&b) == NULL);
    CHECK_STR(err, "pprof: string_table[0] must be empty");

    /* value count must match the sample types */
    pp_buf_reset(&b);
    put_sample(&b, 1, 1);
    put_strings(&b);
    CHECK(decode_buf(&b) == NULL);
    CHECK_STR(err, "pprof: sample 0 has 1 values but the profile has 0 sample types");

    /* a known field with the wrong wire type */
    pp_buf_reset(&b);
    pp_pb_string(&b, 10, "oops");
    CHECK(decode_buf(&b) == NULL);
    CHECK_STR(err, "pprof: profile: field 10 has unexpected wire type 2");

    /* a truncated sample message */
    pp_buf_reset(&b);
    put_strings(&b);
    static const uint8_t cut[] = {0x12, 0x02, 0x08, 0x80}; /* sample { 1: <varint cut short> } */
    pp_buf_append(&b, cut, sizeof cut);
    CHECK(decode_buf(&b) == NULL);
    CHECK_STR(err, "pprof: malformed sample 0: truncated varint (offset 12)");
    pp_buf_free(&b);
}

static void test_bad_input(void)
{
    CHECK(pp_profile_decode_pprof(NULL, 0, err, sizeof err) == NULL);
    CHECK_STR(err, "pprof: empty input");
    static const uint8_t garbage[] = "this is not a profile at all";
    CHECK(pp_profile_decode_pprof(garbage, sizeof garbage, err, sizeof err) == NULL);
    CHECK(strncmp(err, "pprof: ", 7) == 0);

    pp_profile *p = build();
    uint8_t *gz;
    size_t gzlen;
    CHECK(pp_pprof_encode(p, &gz, &gzlen, err, sizeof err) == 0);
    CHECK(pp_profile_decode_pprof(gz, gzlen / 2, err, sizeof err) == NULL);
    CHECK_STR(err, "pprof: truncated gzip data");
    CHECK(pp_profile_decode_pprof(gz, 2, err, sizeof err) == NULL);
    CHECK_STR(err, "pprof: truncated gzip data");
    uint8_t *bad = malloc(gzlen);
    memcpy(bad, gz, gzlen);
    bad[12] ^= 0xff; /* inside the deflate stream */
    CHECK(pp_profile_decode_pprof(bad, gzlen, err, sizeof err) == NULL);
    free(bad);

    /* every truncation and every single-byte corruption of the protobuf
     * either decodes or fails cleanly (ASan/UBSan watch the rest) */
    pp_buf raw;
    pp_buf_init(&raw);
    CHECK(pp_pprof_encode_raw(p, &raw, err, sizeof err) == 0);
    for (size_t n = 1; n < raw.len; n++)
        pp_profile_free(pp_profile_decode_pprof(raw.data, n, err, sizeof err));
    uint8_t *copy = malloc(raw.len);
    for (size_t i = 0; i < raw.len; i++) {
        for (int x = 0; x < 3; x++) {
            static const uint8_t flips[] = {0xff, 0x80, 0x01};
            memcpy(copy, raw.data, raw.len);
            copy[i] ^= flips[x];
            pp_profile_free(pp_profile_decode_pprof(copy, raw.len, err, sizeof err));
        }
    }
    free(copy);
    pp_buf_free(&raw);
    free(gz);
    pp_profile_free(p);
}

static void test_gunzip_limit(void)
{
    /* A 2 MiB comment compresses to a few KiB: refused past a 1 MiB limit,
     * and inflating stops there instead of producing it all. */
    pp_profile *p = pp_profile_new();
    size_t n = 2 << 20;
    char *s = malloc(n);
    memset(s, 'a', n - 1);
    s[n - 1] = 0;
    pp_profile_add_comment(p, s);
    free(s);
    uint8_t *out;
    size_t outlen;
    pp_buf raw;
    pp_buf_init(&raw);
    CHECK(pp_pprof_encode(p, &out, &outlen, err, sizeof err) == 0);
    CHECK(outlen < 64 << 10);
    CHECK(pp_gunzip(out, outlen, 1 << 20, &raw, err, sizeof err) == -1);
    CHECK_STR(err, "pprof: decompressed profile exceeds the 1 MiB limit");
    CHECK(raw.len <= (1 << 20) + 1);
    pp_buf_reset(&raw);
    CHECK(pp_gunzip(out, outlen, 4 << 20, &raw, err, sizeof err) == 0);
    CHECK(raw.len > n);
    free(out);
    pp_buf_free(&raw);
    pp_profile_free(p);
}

int main(void)
{
    test_minimal_bytes();
    test_structure();
    test_roundtrip();
    test_inlined_and_ids();
    test_bad_input();
    test_gunzip_limit();
    TEST_MAIN_END();
}
