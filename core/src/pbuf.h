/* Minimal protocol buffers wire format: an encoder that appends to a pp_buf
 * and a bounds-checked decoder over a byte span. Only what profile.proto
 * needs: varints, length-delimited fields, packed repeated integers; fixed
 * fields are skipped when reading and never written. Not async-signal-safe. */
#ifndef PP_PBUF_H
#define PP_PBUF_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum { PP_PB_VARINT = 0, PP_PB_FIXED64 = 1, PP_PB_LEN = 2, PP_PB_FIXED32 = 5 };

/* ---------------------------------------------------------------- encoder
 * Allocation failures latch in b->failed; callers check it once at the end. */

void pp_pb_varint(pp_buf *b, uint64_t v);
void pp_pb_tag(pp_buf *b, uint32_t field, int wire);
/* Scalars are written even when zero: the caller decides what to omit. */
void pp_pb_uint64(pp_buf *b, uint32_t field, uint64_t v);
void pp_pb_int64(pp_buf *b, uint32_t field, int64_t v);
void pp_pb_bytes(pp_buf *b, uint32_t field, const void *data, size_t len);
void pp_pb_string(pp_buf *b, uint32_t field, const char *s);
/* Nested message or packed field: begin writes the tag and returns a mark,
 * end backpatches the length once the body is known. Nesting is allowed. */
size_t pp_pb_begin(pp_buf *b, uint32_t field);
void pp_pb_end(pp_buf *b, size_t mark);
/* Packed repeated fields; nothing is written when n == 0 (proto3 default). */
void pp_pb_packed_uint64(pp_buf *b, uint32_t field, const uint64_t *v, size_t n);
void pp_pb_packed_int64(pp_buf *b, uint32_t field, const int64_t *v, size_t n);

/* ---------------------------------------------------------------- decoder
 * Every function returns 0, or -1 with r->err set to a static message; the
 * reader never looks outside [p, end). */

typedef struct pp_pb_reader {
    const uint8_t *p, *end;
    const uint8_t *base; /* start of the outermost span, for error offsets */
    const char *err;
} pp_pb_reader;

void pp_pb_reader_init(pp_pb_reader *r, const uint8_t *data, size_t len);
static inline int pp_pb_done(const pp_pb_reader *r) { return r->p >= r->end; }
/* Offset of the read position from the outermost span's start. */
static inline size_t pp_pb_offset(const pp_pb_reader *r) { return (size_t)(r->p - r->base); }
int pp_pb_read_varint(pp_pb_reader *r, uint64_t *out);
int pp_pb_read_tag(pp_pb_reader *r, uint32_t *field, int *wire);
/* Reads a length-delimited field's body into *sub (which shares r's base). */
int pp_pb_read_len(pp_pb_reader *r, pp_pb_reader *sub);
/* Skips the value of a field of wire type `wire`. */
int pp_pb_skip(pp_pb_reader *r, int wire);

#endif
