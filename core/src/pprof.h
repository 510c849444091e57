/* pprof (github.com/google/pprof/proto/profile.proto) writer and reader for
 * pp_profile. The reader, pp_profile_decode_pprof, is declared in polyprof.h.
 * Not async-signal-safe. */
#ifndef PP_PPROF_H
#define PP_PPROF_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "profile.h"

/* Decompressed pprof larger than this is refused: a guard against gzip bombs
 * handed to the reader. */
#define PP_PPROF_MAX_INFLATED ((size_t)512 << 20)

/* Appends the uncompressed protobuf encoding of p to out. */
int pp_pprof_encode_raw(const pp_profile *p, pp_buf *out, char *err, size_t errlen);
/* gzip-compressed protobuf, as `go tool pprof` and the Go runtime write it:
 * a malloc'd buffer the caller frees. */
int pp_pprof_encode(const pp_profile *p, uint8_t **out, size_t *outlen, char *err, size_t errlen);
/* Appends the gunzipped data to out; fails past `limit` output bytes. */
int pp_gunzip(const uint8_t *data, size_t len, size_t limit, pp_buf *out, char *err, size_t errlen);

#endif
