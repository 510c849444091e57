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

pp_profile *pp_profile_show_from(const pp_profile *p, const char *name, const char *file, int keep_unmatched)
{
    pp_profile *q = pp_profile_copy_without_samples(p);
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
