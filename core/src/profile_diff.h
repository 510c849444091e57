/* Differential profiles: which value of two profiles to compare, and the
 * text report of the functions whose share changed most. The page is
 * flamegraph.c's. Not async-signal-safe. */
#ifndef PP_PROFILE_DIFF_H
#define PP_PROFILE_DIFF_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "profile.h"

/* The value to compare in each profile: the value type named sample_type
 * (NULL or "": cur's default), which both must have with the same unit. */
int pp_diff_pick_values(const pp_profile *base, const pp_profile *cur, const char *sample_type, uint32_t *base_vi,
                        uint32_t *cur_vi, char *err, size_t errlen);

/* Functions (name, file) by change of self and of cumulative share, in
 * points of each profile's total: the top_n that grew most and the top_n
 * that shrank most (top_n <= 0: every function that changed). */
int pp_diff_report_write(const pp_profile *base, uint32_t base_vi, const pp_profile *cur, uint32_t cur_vi, int top_n,
                         pp_buf *out, char *err, size_t errlen);

#endif
