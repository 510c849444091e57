/* Profile transforms that make a new profile from an existing one. */
#include <stdlib.h>
#include <string.h>

#include "polyprof.h"
#include "profile.h"

static int frame_matches(const pp_profile *p, uint32_t id, const char *name, const char *file)
{
    const pp_frame *f = &p->frames[id];
    if (strcmp(pp_strtab_get(&p->strings, f->name), name) != 0)
        return 0;
    return !file || !*file || strcmp(pp_strtab_get(&p->strings, f->file), file) == 0;
}

/* Copies the profile's frames, mappings and metadata into a new profile that
 * shares ids with the original, so stacks can be copied id for id. */
static pp_profile *clone_without_samples(const pp_profile *p)
{
    pp_profile *q = pp_profile_new();
    if (!q)
        return NULL;
    for (uint32_t i = 1; i < p->strings.count; i++)
        if (pp_profile_intern(q, pp_strtab_get(&p->strings, i)) != i)
            goto fail;
    for (uint32_t i = 0; i < p->n_mappings; i++)
        if (pp_profile_add_mapping(q, &p->mappings[i]) == UINT32_MAX)
            goto fail;
    for (uint32_t i = 0; i < p->n_frames; i++)
        if (pp_profile_add_frame(q, &p->frames[i]) == UINT32_MAX)
            goto fail;
    for (uint32_t i = 0; i < p->n_comments; i++)
        if (pp_profile_add_comment(q, pp_strtab_get(&p->strings, p->comments[i])) != 0)
            goto fail;
    memcpy(q->value_types, p->value_types, sizeof q->value_types);
    q->n_values = p->n_values;
    q->period_type = p->period_type;
    q->period = p->period;
    q->time_nanos = p->time_nanos;
    q->duration_nanos = p->duration_nanos;
    q->default_value = p->default_value;
    return q;
fail:
    pp_profile_free(q);
    return NULL;
}

pp_profile *pp_profile_show_from(const pp_profile *p, const char *name, const char *file, int keep_unmatched)
{
    pp_profile *q = clone_without_samples(p);
    if (!q)
        return NULL;
    for (size_t i = 0; i < p->n_samples; i++) {
        const pp_sample *s = &p->samples[i];
        const uint32_t *stack = p->stack + s->first_frame;
        /* Frames are leaf first: the rootmost match is the last one. */
        int64_t cut = -1;
        for (uint32_t d = 0; d < s->n_frames; d++)
            if (frame_matches(p, stack[d], name, file))
                cut = d;
        if (cut < 0) {
            if (!keep_unmatched)
                continue;
            cut = (int64_t)s->n_frames - 1;
        }
        if (pp_profile_add_sample(q, stack, (uint32_t)(cut + 1), p->labels + s->first_label, s->n_labels,
                                  s->values) != 0) {
            pp_profile_free(q);
            return NULL;
        }
    }
    return q;
}
