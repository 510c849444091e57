/* JSON for the writers (string escaping) and the readers (cJSON, Debian's
 * libcjson: a kept parser instead of a hand-rolled one). Not
 * async-signal-safe. */
#ifndef PP_JSON_H
#define PP_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "buf.h"

/* Appends s as a JSON string literal. */
void pp_json_string(pp_buf *b, const char *s);
/* The same, safe inside an HTML <script>: "</" never appears as such. */
void pp_json_script_string(pp_buf *b, const char *s);

/* Parses text; NULL with "WHAT: not valid JSON (at byte N)" on failure.
 * The caller frees the tree with cJSON_Delete. */
cJSON *pp_json_parse(const char *text, size_t len, const char *what, char *err, size_t errlen);

/* v is a whole number in [0, limit): 0 and *out, else -1. */
int pp_json_index(const cJSON *v, double limit, size_t *out);

/* A JSON number as a value: rounded, NaN as 0, capped at +-2^50 (so that
 * sums of many stay far inside int64 instead of overflowing). */
int64_t pp_json_int64(double d);
/* *acc += v, saturating at INT64_MAX. */
void pp_json_add(int64_t *acc, int64_t v);

/* The string member `key` of obj, or dflt when absent or not a string. */
const char *pp_json_str(const cJSON *obj, const char *key, const char *dflt);

#endif
