#include "json.h"

#include <math.h>
#include <stdio.h>

static void append_string(pp_buf *b, const char *s, int in_script)
{
    pp_buf_append_byte(b, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            pp_buf_append_byte(b, '\\');
            pp_buf_append_byte(b, c);
        } else if (c < 0x20 || (in_script && (c == '<' || c == '>' || c == '&'))) {
            pp_buf_printf(b, "\\u%04x", c);
        } else {
            pp_buf_append_byte(b, c);
        }
    }
    pp_buf_append_byte(b, '"');
}

void pp_json_string(pp_buf *b, const char *s) { append_string(b, s, 0); }

void pp_json_script_string(pp_buf *b, const char *s) { append_string(b, s, 1); }

cJSON *pp_json_parse(const char *text, size_t len, const char *what, char *err, size_t errlen)
{
    const char *end = NULL;
    /* cJSON_GetErrorPtr is a global: the parse end pointer is per call. */
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        snprintf(err, errlen, "%s: not valid JSON (at byte %zu)", what, at);
    }
    return root;
}

int pp_json_index(const cJSON *v, double limit, size_t *out)
{
    if (!cJSON_IsNumber(v))
        return -1;
    double d = v->valuedouble;
    if (!(d >= 0 && d < limit) || floor(d) != d)
        return -1;
    *out = (size_t)d;
    return 0;
}

#define VALUE_CAP ((double)((int64_t)1 << 50))

int64_t pp_json_int64(double d)
{
    if (!(d == d))
        return 0;
    if (d > VALUE_CAP)
        d = VALUE_CAP;
    if (d < -VALUE_CAP)
        d = -VALUE_CAP;
    return (int64_t)llround(d);
}

void pp_json_add(int64_t *acc, int64_t v)
{
    *acc = v > 0 && *acc > INT64_MAX - v ? INT64_MAX : *acc + v;
}

const char *pp_json_str(const cJSON *obj, const char *key, const char *dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : dflt;
}
