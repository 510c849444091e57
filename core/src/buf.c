#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pp_buf_init(pp_buf *b) { memset(b, 0, sizeof *b); }

void pp_buf_free(pp_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void pp_buf_reset(pp_buf *b)
{
    b->len = 0;
    b->failed = b->over_limit = 0;
}

int pp_buf_reserve(pp_buf *b, size_t extra)
{
    if (b->failed)
        return -1;
    if (b->limit && (extra > b->limit || b->len > b->limit - extra)) {
        b->failed = b->over_limit = 1;
        return -1;
    }
    if (b->len + extra <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra)
        cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void pp_buf_append(pp_buf *b, const void *data, size_t len)
{
    if (len == 0 || pp_buf_reserve(b, len) != 0)
        return;
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

void pp_buf_append_str(pp_buf *b, const char *s) { pp_buf_append(b, s, strlen(s)); }

void pp_buf_append_byte(pp_buf *b, uint8_t byte)
{
    if (pp_buf_reserve(b, 1) != 0)
        return;
    b->data[b->len++] = byte;
}

int pp_buf_printf(pp_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || pp_buf_reserve(b, (size_t)n + 1) != 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

uint8_t *pp_buf_detach(pp_buf *b, size_t *len)
{
    uint8_t *p = b->data;
    if (len)
        *len = b->len;
    memset(b, 0, sizeof *b);
    return p;
}
