/* Text top-N report: functions ranked by cumulative value, with flat and
 * cumulative shares, in the spirit of pstats and `go tool pprof -top -cum`.
 * Not async-signal-safe. */
#ifndef PP_REPORT_H
#define PP_REPORT_H

#include <stddef.h>

#include "buf.h"
#include "profile.h"

/* Appends the report for value `value_index` (-1: the profile's default);
 * top_n <= 0 lists every function. A function is its (name, file) pair:
 * frames of one function at different lines are counted together. */
int pp_report_write(const pp_profile *p, int value_index, int top_n, pp_buf *out, char *err, size_t errlen);

#endif
