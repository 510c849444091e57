#include "pbuf.h"

#include <string.h>

static size_t varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static size_t put_varint(uint8_t *out, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

void pp_pb_varint(pp_buf *b, uint64_t v)
{
    if (pp_buf_reserve(b, 10) != 0)
        return;
    b->len += put_varint(b->data + b->len, v);
}

void pp_pb_tag(pp_buf *b, uint32_t field, int wire) { pp_pb_varint(b, ((uint64_t)field << 3) | (uint64_t)wire); }

void pp_pb_uint64(pp_buf *b, uint32_t field, uint64_t v)
{
    pp_pb_tag(b, field, PP_PB_VARINT);
    pp_pb_varint(b, v);
}

/* int64 is encoded as its two's complement bit pattern (10 bytes when
 * negative), not zigzag: that is what the proto "int64" type means. */
void pp_pb_int64(pp_buf *b, uint32_t field, int64_t v) { pp_pb_uint64(b, field, (uint64_t)v); }

void pp_pb_bytes(pp_buf *b, uint32_t field, const void *data, size_t len)
{
    pp_pb_tag(b, field, PP_PB_LEN);
    pp_pb_varint(b, len);
    pp_buf_append(b, data, len);
}

void pp_pb_string(pp_buf *b, uint32_t field, const char *s) { pp_pb_bytes(b, field, s, strlen(s)); }

/* One byte is reserved for the length, which covers bodies under 128 bytes
 * (most Sample/Location/Line messages); longer bodies are shifted right once
 * the length is known. This keeps output minimal without a sizing pass. */
size_t pp_pb_begin(pp_buf *b, uint32_t field)
{
    pp_pb_tag(b, field, PP_PB_LEN);
    size_t mark = b->len;
    pp_buf_append_byte(b, 0);
    return mark;
}

void pp_pb_end(pp_buf *b, size_t mark)
{
    if (b->failed)
        return;
    size_t body = b->len - mark - 1;
    size_t n = varint_size(body);
    if (n > 1) {
        if (pp_buf_reserve(b, n - 1) != 0)
            return;
        memmove(b->data + mark + n, b->data + mark + 1, body);
        b->len += n - 1;
    }
    put_varint(b->data + mark, body);
}

void pp_pb_packed_uint64(pp_buf *b, uint32_t field, const uint64_t *v, size_t n)
{
    if (n == 0)
        return;
    size_t mark = pp_pb_begin(b, field);
    for (size_t i = 0; i < n; i++)
        pp_pb_varint(b, v[i]);
    pp_pb_end(b, mark);
}

void pp_pb_packed_int64(pp_buf *b, uint32_t field, const int64_t *v, size_t n)
{
    if (n == 0)
        return;
    size_t mark = pp_pb_begin(b, field);
    for (size_t i = 0; i < n; i++)
        pp_pb_varint(b, (uint64_t)v[i]);
    pp_pb_end(b, mark);
}

void pp_pb_reader_init(pp_pb_reader *r, const uint8_t *data, size_t len)
{
    r->p = data;
    r->end = data + len;
    r->base = data;
    r->err = NULL;
}

static int fail(pp_pb_reader *r, const char *msg)
{
    r->err = msg;
    return -1;
}

int pp_pb_read_varint(pp_pb_reader *r, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned i = 0;; i++) {
        if (r->p >= r->end)
            return fail(r, "truncated varint");
        uint8_t byte = *r->p++;
        if (i == 9) {
            /* The 10th byte is the last and may only carry bit 63. */
            if (byte & 0x80)
                return fail(r, "varint longer than 10 bytes");
            if (byte > 1)
                return fail(r, "varint overflows 64 bits");
        }
        v |= (uint64_t)(byte & 0x7f) << (7 * i);
        if (!(byte & 0x80)) {
            *out = v;
            return 0;
        }
    }
}

int pp_pb_read_tag(pp_pb_reader *r, uint32_t *field, int *wire)
{
    uint64_t key;
    if (pp_pb_read_varint(r, &key) != 0)
        return -1;
    uint64_t f = key >> 3;
    if (f == 0 || f > 0x1fffffff)
        return fail(r, "invalid field number");
    *field = (uint32_t)f;
    *wire = (int)(key & 7);
    return 0;
}

int pp_pb_read_len(pp_pb_reader *r, pp_pb_reader *sub)
{
    uint64_t len;
    if (pp_pb_read_varint(r, &len) != 0)
        return -1;
    if (len > (uint64_t)(r->end - r->p))
        return fail(r, "length-delimited field runs past the end");
    sub->p = r->p;
    sub->end = r->p + len;
    sub->base = r->base;
    sub->err = NULL;
    r->p += len;
    return 0;
}

static int skip_n(pp_pb_reader *r, size_t n)
{
    if (n > (size_t)(r->end - r->p))
        return fail(r, "fixed-size field runs past the end");
    r->p += n;
    return 0;
}

int pp_pb_skip(pp_pb_reader *r, int wire)
{
    uint64_t v;
    pp_pb_reader sub;
    switch (wire) {
    case PP_PB_VARINT:
        return pp_pb_read_varint(r, &v);
    case PP_PB_FIXED64:
        return skip_n(r, 8);
    case PP_PB_LEN:
        return pp_pb_read_len(r, &sub);
    case PP_PB_FIXED32:
        return skip_n(r, 4);
    default:
        /* Groups (3, 4) are deprecated and absent from profile.proto. */
        return fail(r, "unsupported wire type");
    }
}
