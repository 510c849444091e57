/* speedscope's file format (https://www.speedscope.app/file-format-schema.json).
 * Not async-signal-safe. */
#ifndef PP_SPEEDSCOPE_H
#define PP_SPEEDSCOPE_H

#include <stddef.h>

#include "buf.h"
#include "profile.h"

/* One "sampled" profile per value type, named after it, sharing one frame
 * list; stacks root first; samples whose value is 0 are left out. The
 * active profile is the profile's default value. */
int pp_speedscope_write(const pp_profile *p, pp_buf *out, char *err, size_t errlen);

/* Reads "sampled" and "evented" profiles. A file this writer made reads back
 * with its value types (profile name = value type); other files get one
 * value type per unit (times as "time" in nanoseconds, bytes as "space",
 * others as "samples"), and when they hold several profiles (threads) each
 * sample is labelled thread_name = its profile's name. */
pp_profile *pp_speedscope_read(const char *text, size_t len, char *err, size_t errlen);

#endif
