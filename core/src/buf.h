/* Growable byte buffer used by the writers and the protobuf encoder.
 * Not for use in a signal handler: it allocates. */
#ifndef PP_BUF_H
#define PP_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct pp_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    int failed; /* set once an allocation failed; later appends are no-ops */
    size_t limit;     /* 0, or the most bytes the buffer may hold */
    int over_limit;   /* failed because of `limit`, not memory */
} pp_buf;

void pp_buf_init(pp_buf *b);
void pp_buf_free(pp_buf *b);
void pp_buf_reset(pp_buf *b);
int pp_buf_reserve(pp_buf *b, size_t extra);
void pp_buf_append(pp_buf *b, const void *data, size_t len);
void pp_buf_append_str(pp_buf *b, const char *s);
void pp_buf_append_byte(pp_buf *b, uint8_t byte);
/* printf-style append; returns 0 or -1 when out of memory */
int pp_buf_printf(pp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Takes ownership of the bytes: the buffer is left empty. */
uint8_t *pp_buf_detach(pp_buf *b, size_t *len);

#endif
