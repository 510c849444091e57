/* A self-contained interactive flame graph: one HTML file, no network. */
#ifndef PP_FLAMEGRAPH_H
#define PP_FLAMEGRAPH_H

#include "buf.h"
#include "profile.h"

/* value_index < 0: the profile's time value (the last one). */
int pp_flamegraph_write(const pp_profile *p, int value_index, pp_buf *out, char *err, size_t errlen);

/* The differential page: cur's shape, coloured by each frame's change of
 * share between base (value base_vi) and cur (value cur_vi). */
int pp_flamegraph_write_diff(const pp_profile *base, uint32_t base_vi, const pp_profile *cur, uint32_t cur_vi,
                             pp_buf *out, char *err, size_t errlen);

#endif
