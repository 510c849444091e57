/* Collapsed ("folded") stacks, the input of flamegraph.pl, speedscope and
 * inferno: one line per distinct stack, frames root first separated by ';',
 * then a space and the value. Not async-signal-safe. */
#ifndef PP_COLLAPSED_H
#define PP_COLLAPSED_H

#include <stddef.h>

#include "buf.h"
#include "profile.h"

/* Interpreter frames render as "name (file:line)" instead of "name". */
#define PP_COLLAPSED_LINES 1u

/* Appends the lines for value `value_index` (-1: the profile's default) to
 * out, sorted by stack; stacks that render alike are merged and stacks whose
 * total is 0 are left out. */
int pp_collapsed_write(const pp_profile *p, int value_index, unsigned flags, pp_buf *out, char *err, size_t errlen);

/* Parses collapsed text into a profile with one value type, samples/count,
 * one sample per line; frame names are kept verbatim. */
pp_profile *pp_collapsed_read(const char *text, size_t len, char *err, size_t errlen);

#endif
