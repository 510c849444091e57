/* One code point as UTF-8, for the two places that turn a str's code points
 * into UTF-8 without CPython's help (a fault-safe read without the GIL, and a
 * deallocator that must not allocate or raise). Async-signal-safe. */
#ifndef PP_UTF8_ENCODE_H
#define PP_UTF8_ENCODE_H

#include <stddef.h>
#include <stdint.h>

/* Bytes written to enc (1-4), or 0 when cp is not a code point. */
static inline size_t pp_utf8_encode(uint32_t cp, char enc[4])
{
    if (cp < 0x80) {
        enc[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        enc[0] = (char)(0xc0 | cp >> 6);
        enc[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        enc[0] = (char)(0xe0 | cp >> 12);
        enc[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        enc[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    if (cp < 0x110000) {
        enc[0] = (char)(0xf0 | cp >> 18);
        enc[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        enc[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        enc[3] = (char)(0x80 | (cp & 0x3f));
        return 4;
    }
    return 0;
}

#endif
