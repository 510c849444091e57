/* The aggregated profile: the one in-memory shape every writer reads and every
 * reader (pprof decoding) produces. It is self-contained (owns its strings),
 * so it outlives the sampler that filled it. Not async-signal-safe. */
#ifndef PP_PROFILE_H
#define PP_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "strtab.h"

#define PP_MAX_VALUES 4

typedef enum {
    PP_FRAME_NATIVE = 0,  /* machine code: address, mapping, symbol */
    PP_FRAME_INTERP = 1,  /* interpreter frame: Python, JavaScript, Java */
    PP_FRAME_SPECIAL = 2, /* named by the profiler: [truncated], [overflow] ... */
} pp_frame_kind;

typedef struct pp_frame {
    uint32_t name;       /* string id: function (qualified name where known) */
    uint32_t system_name;/* string id: mangled/raw name, or 0 */
    uint32_t file;       /* string id, or 0 */
    int64_t line;        /* 0 when unknown */
    int64_t start_line;  /* first line of the function, 0 when unknown */
    uint64_t address;    /* native pc, 0 for non-native frames */
    uint32_t mapping;    /* 1-based index into mappings, 0 = none */
    uint8_t kind;        /* pp_frame_kind */
} pp_frame;

typedef struct pp_mapping {
    uint64_t start, limit, offset;
    uint32_t file;       /* string id: path of the object */
    uint32_t build_id;   /* string id, or 0 */
} pp_mapping;

typedef struct pp_label {
    uint32_t key;        /* string id */
    uint32_t str;        /* string id, 0 when numeric */
    int64_t num;
    uint32_t num_unit;   /* string id, or 0 */
} pp_label;

typedef struct pp_sample {
    uint32_t first_frame;  /* index into pp_profile.stack, leaf first */
    uint32_t n_frames;
    uint32_t first_label;  /* index into pp_profile.labels */
    uint32_t n_labels;
    int64_t values[PP_MAX_VALUES];
} pp_sample;

typedef struct pp_value_type {
    uint32_t type, unit;   /* string ids */
} pp_value_type;

typedef struct pp_profile {
    pp_strtab strings;

    pp_frame *frames;      /* frame ids are indexes */
    uint32_t n_frames, cap_frames;

    pp_mapping *mappings;
    uint32_t n_mappings, cap_mappings;

    uint32_t *stack;       /* concatenated frame ids of all samples */
    size_t n_stack, cap_stack;

    pp_label *labels;
    size_t n_labels, cap_labels;

    pp_sample *samples;
    size_t n_samples, cap_samples;

    pp_value_type value_types[PP_MAX_VALUES];
    uint32_t n_values;
    pp_value_type period_type;
    int64_t period;
    int64_t time_nanos;
    int64_t duration_nanos;
    uint32_t default_value; /* index of the value reports rank by */

    uint32_t *comments;    /* string ids, free-form metadata "key=value" */
    uint32_t n_comments, cap_comments;

    struct pp_idmap *frame_index; /* content -> frame id, for pp_profile_append; lazily made */
} pp_profile;

pp_profile *pp_profile_new(void);
void pp_profile_free(pp_profile *p);

/* Builders. All return 0 / an id, or -1 / UINT32_MAX when out of memory. */
uint32_t pp_profile_intern(pp_profile *p, const char *s);
int pp_profile_set_value_type(pp_profile *p, uint32_t index, const char *type, const char *unit);
uint32_t pp_profile_add_frame(pp_profile *p, const pp_frame *f);
uint32_t pp_profile_add_mapping(pp_profile *p, const pp_mapping *m);
/* frames: leaf first. labels are copied. */
int pp_profile_add_sample(pp_profile *p, const uint32_t *frames, uint32_t n_frames,
                          const pp_label *labels, uint32_t n_labels, const int64_t *values);
int pp_profile_add_comment(pp_profile *p, const char *text);

/* A new profile with p's strings (same ids), frames, mappings, value types
 * and metadata, and no samples: the start of every transform. */
pp_profile *pp_profile_copy_without_samples(const pp_profile *p);

/* The value index a writer uses: `requested`, or the profile's default when
 * negative. Returns -1 with a message naming `what` when out of range. */
int pp_profile_pick_value(const pp_profile *p, int requested, const char *what, uint32_t *out, char *err,
                          size_t errlen);

/* Hands a writer's text over to a pp_profile_encode-style caller: NUL
 * terminated (outlen leaves it out), or freed when rc != 0 or memory ran
 * out (err: "WHAT: out of memory"). Returns 0 or -1. */
struct pp_buf;
int pp_text_finish(struct pp_buf *b, int rc, const char *what, uint8_t **out, size_t *outlen, char *err,
                   size_t errlen);

/* a + b, held at INT64_MAX / INT64_MIN instead of overflowing: sample
 * values come from files, and a sum of them must not be undefined. */
static inline int64_t pp_add_sat(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

/* Total of value `index` over all samples (saturating). */
int64_t pp_profile_total(const pp_profile *p, uint32_t index);

#endif
