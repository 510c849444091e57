#include "profile.h"

#include "idmap.h"
#include "polyprof.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GROW(arr, n, cap, extra)                                                    \
    do {                                                                            \
        if ((n) + (extra) > (cap)) {                                                \
            size_t newcap_ = (cap) ? (size_t)(cap) * 2 : 64;                        \
            while (newcap_ < (size_t)(n) + (extra))                                 \
                newcap_ *= 2;                                                       \
            void *p_ = realloc((arr), newcap_ * sizeof *(arr));                     \
            if (!p_)                                                                \
                return -1;                                                          \
            (arr) = p_;                                                             \
            (cap) = newcap_;                                                        \
        }                                                                           \
    } while (0)

pp_profile *pp_profile_new(void)
{
    pp_profile *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    if (pp_strtab_init(&p->strings) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

void pp_profile_free(pp_profile *p)
{
    if (!p)
        return;
    pp_strtab_free(&p->strings);
    free(p->frames);
    free(p->mappings);
    free(p->stack);
    free(p->labels);
    free(p->samples);
    free(p->comments);
    if (p->frame_index) {
        pp_idmap_free(p->frame_index);
        free(p->frame_index);
    }
    free(p);
}

uint32_t pp_profile_intern(pp_profile *p, const char *s) { return pp_strtab_intern(&p->strings, s ? s : ""); }

int pp_profile_set_value_type(pp_profile *p, uint32_t index, const char *type, const char *unit)
{
    if (index >= PP_MAX_VALUES)
        return -1;
    uint32_t t = pp_profile_intern(p, type), u = pp_profile_intern(p, unit);
    if (t == UINT32_MAX || u == UINT32_MAX)
        return -1;
    p->value_types[index].type = t;
    p->value_types[index].unit = u;
    if (index + 1 > p->n_values)
        p->n_values = index + 1;
    return 0;
}

static int add_frame(pp_profile *p, const pp_frame *f)
{
    GROW(p->frames, p->n_frames, p->cap_frames, 1);
    p->frames[p->n_frames++] = *f;
    return 0;
}

uint32_t pp_profile_add_frame(pp_profile *p, const pp_frame *f)
{
    return add_frame(p, f) == 0 ? p->n_frames - 1 : UINT32_MAX;
}

static int add_mapping(pp_profile *p, const pp_mapping *m)
{
    GROW(p->mappings, p->n_mappings, p->cap_mappings, 1);
    p->mappings[p->n_mappings++] = *m;
    return 0;
}

uint32_t pp_profile_add_mapping(pp_profile *p, const pp_mapping *m)
{
    return add_mapping(p, m) == 0 ? p->n_mappings : UINT32_MAX; /* 1-based */
}

int pp_profile_add_sample(pp_profile *p, const uint32_t *frames, uint32_t n_frames,
                          const pp_label *labels, uint32_t n_labels, const int64_t *values)
{
    GROW(p->stack, p->n_stack, p->cap_stack, n_frames);
    GROW(p->labels, p->n_labels, p->cap_labels, n_labels);
    GROW(p->samples, p->n_samples, p->cap_samples, 1);
    pp_sample *s = &p->samples[p->n_samples++];
    memset(s, 0, sizeof *s);
    s->first_frame = (uint32_t)p->n_stack;
    s->n_frames = n_frames;
    s->first_label = (uint32_t)p->n_labels;
    s->n_labels = n_labels;
    if (n_frames)
        memcpy(p->stack + p->n_stack, frames, n_frames * sizeof *frames);
    p->n_stack += n_frames;
    if (n_labels)
        memcpy(p->labels + p->n_labels, labels, n_labels * sizeof *labels);
    p->n_labels += n_labels;
    for (uint32_t i = 0; i < PP_MAX_VALUES; i++)
        s->values[i] = i < p->n_values ? values[i] : 0;
    return 0;
}

int pp_profile_add_comment(pp_profile *p, const char *text)
{
    uint32_t id = pp_profile_intern(p, text);
    if (id == UINT32_MAX)
        return -1;
    GROW(p->comments, p->n_comments, p->cap_comments, 1);
    p->comments[p->n_comments++] = id;
    return 0;
}

int64_t pp_profile_total(const pp_profile *p, uint32_t index)
{
    int64_t total = 0;
    for (size_t i = 0; i < p->n_samples; i++)
        total = pp_add_sat(total, p->samples[i].values[index]);
    return total;
}

int pp_profile_pick_value(const pp_profile *p, int requested, const char *what, uint32_t *out, char *err,
                          size_t errlen)
{
    uint32_t vi = requested < 0 ? p->default_value : (uint32_t)requested;
    if (vi >= p->n_values) {
        snprintf(err, errlen, "%s: value index %d out of range (profile has %" PRIu32 " values)", what,
                 requested < 0 ? (int)vi : requested, p->n_values);
        return -1;
    }
    *out = vi;
    return 0;
}
