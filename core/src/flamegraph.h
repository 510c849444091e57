/* A self-contained interactive flame graph: one HTML file, no network. */
#ifndef PP_FLAMEGRAPH_H
#define PP_FLAMEGRAPH_H

#include "buf.h"
#include "profile.h"

/* value_index < 0: the profile's time value (the last one). */
int pp_flamegraph_write(const pp_profile *p, int value_index, pp_buf *out, char *err, size_t errlen);

#endif
