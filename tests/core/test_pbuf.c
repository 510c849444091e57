/* Protobuf wire format: encoder output against hand-computed encodings, and
 * the decoder's refusal of malformed input. */
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "check.h"
#include "pbuf.h"

#define CHECK_BYTES(b, ...)                                                      \
    do {                                                                         \
        static const uint8_t want_[] = {__VA_ARGS__};                            \
        CHECK_EQ_INT((b)->len, sizeof want_);                                    \
        CHECK((b)->len == sizeof want_ && memcmp((b)->data, want_, sizeof want_) == 0); \
    } while (0)

static void test_varints(void)
{
    pp_buf b;
    pp_buf_init(&b);
    pp_pb_varint(&b, 0);
    CHECK_BYTES(&b, 0x00);
    pp_buf_reset(&b);
    pp_pb_varint(&b, 1);
    CHECK_BYTES(&b, 0x01);
    pp_buf_reset(&b);
    pp_pb_varint(&b, 127);
    CHECK_BYTES(&b, 0x7f);
    pp_buf_reset(&b);
    pp_pb_varint(&b, 128);
    CHECK_BYTES(&b, 0x80, 0x01);
    pp_buf_reset(&b);
    pp_pb_varint(&b, 300);
    CHECK_BYTES(&b, 0xac, 0x02);
    pp_buf_reset(&b);
    pp_pb_varint(&b, UINT64_MAX);
    CHECK_BYTES(&b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
    pp_buf_reset(&b);
    /* int64 -1 is its two's complement, ten bytes, as protoc encodes it. */
    pp_pb_int64(&b, 1, -1);
    CHECK_BYTES(&b, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
    pp_buf_free(&b);
}

static void test_fields(void)
{
    pp_buf b;
    pp_buf_init(&b);
    pp_pb_uint64(&b, 1, 150); /* the protobuf docs' example */
    CHECK_BYTES(&b, 0x08, 0x96, 0x01);
    pp_buf_reset(&b);
    pp_pb_string(&b, 2, "testing");
    CHECK_BYTES(&b, 0x12, 0x07, 't', 'e', 's', 't', 'i', 'n', 'g');
    pp_buf_reset(&b);
    pp_pb_string(&b, 6, ""); /* pprof string_table[0] */
    CHECK_BYTES(&b, 0x32, 0x00);
    pp_buf_reset(&b);
    pp_pb_uint64(&b, 16, 1); /* field numbers >= 16 need a two-byte tag */
    CHECK_BYTES(&b, 0x80, 0x01, 0x01);
    pp_buf_reset(&b);

    /* message { 3: { 1: 150 } } */
    size_t m = pp_pb_begin(&b, 3);
    pp_pb_uint64(&b, 1, 150);
    pp_pb_end(&b, m);
    CHECK_BYTES(&b, 0x1a, 0x03, 0x08, 0x96, 0x01);
    pp_buf_reset(&b);

    /* packed repeated: the docs' { 4: [3, 270, 86942] } */
    uint64_t v[] = {3, 270, 86942};
    pp_pb_packed_uint64(&b, 4, v, 3);
    CHECK_BYTES(&b, 0x22, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7, 0x05);
    pp_buf_reset(&b);
    int64_t sv[] = {-1, 2};
    pp_pb_packed_int64(&b, 2, sv, 2);
    CHECK_BYTES(&b, 0x12, 0x0b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02);
    pp_buf_reset(&b);
    pp_pb_packed_uint64(&b, 4, v, 0);
    CHECK_EQ_INT(b.len, 0);
    pp_buf_free(&b);
}

/* A body of 200 bytes needs a two-byte length: the reserved byte must grow
 * without corrupting the body, also when nested. */
static void test_long_nested(void)
{
    pp_buf b;
    pp_buf_init(&b);
    size_t outer = pp_pb_begin(&b, 1);
    size_t inner = pp_pb_begin(&b, 2);
    uint8_t body[200];
    for (int i = 0; i < 200; i++)
        body[i] = (uint8_t)i;
    pp_pb_bytes(&b, 3, body, sizeof body);
    pp_pb_end(&b, inner);
    pp_pb_end(&b, outer);
    /* inner body: 0x1a 0xc8 0x01 + 200 = 203 bytes; outer: 0x12 0xcb 0x01 + 203 = 206 */
    CHECK_EQ_INT(b.len, 3 + 206);
    static const uint8_t head[] = {0x0a, 0xce, 0x01, 0x12, 0xcb, 0x01, 0x1a, 0xc8, 0x01};
    CHECK(memcmp(b.data, head, sizeof head) == 0);
    CHECK(memcmp(b.data + sizeof head, body, sizeof body) == 0);

    pp_pb_reader r, m1, m2, m3;
    uint32_t f;
    int w;
    pp_pb_reader_init(&r, b.data, b.len);
    CHECK(pp_pb_read_tag(&r, &f, &w) == 0 && f == 1 && w == PP_PB_LEN);
    CHECK(pp_pb_read_len(&r, &m1) == 0 && pp_pb_done(&r));
    CHECK(pp_pb_read_tag(&m1, &f, &w) == 0 && f == 2 && w == PP_PB_LEN);
    CHECK(pp_pb_read_len(&m1, &m2) == 0);
    CHECK(pp_pb_read_tag(&m2, &f, &w) == 0 && f == 3 && w == PP_PB_LEN);
    CHECK(pp_pb_read_len(&m2, &m3) == 0);
    CHECK_EQ_INT(m3.end - m3.p, 200);
    CHECK(memcmp(m3.p, body, 200) == 0);
    CHECK_EQ_INT(pp_pb_offset(&m3), 9);
    pp_buf_free(&b);
}

static int read_one(const uint8_t *data, size_t len, uint64_t *v, const char **err)
{
    pp_pb_reader r;
    pp_pb_reader_init(&r, data, len);
    int rc = pp_pb_read_varint(&r, v);
    *err = r.err;
    return rc;
}

static void test_decoder(void)
{
    uint64_t v;
    const char *err;
    static const uint8_t ok300[] = {0xac, 0x02};
    CHECK(read_one(ok300, 2, &v, &err) == 0 && v == 300);
    static const uint8_t max[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    CHECK(read_one(max, 10, &v, &err) == 0 && v == UINT64_MAX);

    CHECK(read_one(ok300, 1, &v, &err) == -1);
    CHECK_STR(err, "truncated varint");
    CHECK(read_one(ok300, 0, &v, &err) == -1);
    static const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    CHECK(read_one(eleven, sizeof eleven, &v, &err) == -1);
    CHECK_STR(err, "varint longer than 10 bytes");
    static const uint8_t overflow[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    CHECK(read_one(overflow, sizeof overflow, &v, &err) == -1);
    CHECK_STR(err, "varint overflows 64 bits");

    pp_pb_reader r, sub;
    uint32_t f;
    int w;
    /* field 2, length 5, but only 2 bytes follow */
    static const uint8_t past[] = {0x12, 0x05, 'a', 'b'};
    pp_pb_reader_init(&r, past, sizeof past);
    CHECK(pp_pb_read_tag(&r, &f, &w) == 0 && f == 2 && w == PP_PB_LEN);
    CHECK(pp_pb_read_len(&r, &sub) == -1);
    CHECK_STR(r.err, "length-delimited field runs past the end");
    /* a length so large that p + len would wrap */
    static const uint8_t huge[] = {0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 'x'};
    pp_pb_reader_init(&r, huge, sizeof huge);
    CHECK(pp_pb_read_tag(&r, &f, &w) == 0);
    CHECK(pp_pb_read_len(&r, &sub) == -1);
    /* field number 0 is invalid */
    static const uint8_t zero_field[] = {0x00, 0x01};
    pp_pb_reader_init(&r, zero_field, sizeof zero_field);
    CHECK(pp_pb_read_tag(&r, &f, &w) == -1);
    CHECK_STR(r.err, "invalid field number");
    /* skipping: fixed64/fixed32 bounds, groups refused */
    static const uint8_t fixed[] = {0x01, 0x02, 0x03};
    pp_pb_reader_init(&r, fixed, sizeof fixed);
    CHECK(pp_pb_skip(&r, PP_PB_FIXED64) == -1);
    CHECK(r.p == fixed);
    pp_pb_reader_init(&r, fixed, sizeof fixed);
    CHECK(pp_pb_skip(&r, PP_PB_FIXED32) == -1);
    static const uint8_t four[] = {1, 2, 3, 4};
    pp_pb_reader_init(&r, four, 4);
    CHECK(pp_pb_skip(&r, PP_PB_FIXED32) == 0 && pp_pb_done(&r));
    pp_pb_reader_init(&r, four, 4);
    CHECK(pp_pb_skip(&r, 3) == -1);
    CHECK_STR(r.err, "unsupported wire type");
}

int main(void)
{
    test_varints();
    test_fields();
    test_long_nested();
    test_decoder();
    TEST_MAIN_END();
}
