/* Profiles built from samples a runtime collected itself (V8's CpuProfiler
 * in Node's fallback mode): the same model, so the same writers. */
#include <stdlib.h>
#include <string.h>

#include "idmap.h"
#include "polyprof.h"
#include "profile.h"

pp_profile *pp_profile_create(const char *const *types, const char *const *units, uint32_t n_values,
                              const char *period_type, const char *period_unit, int64_t period)
{
    if (n_values == 0 || n_values > PP_MAX_VALUES)
        return NULL;
    pp_profile *p = pp_profile_new();
    if (!p)
        return NULL;
    for (uint32_t i = 0; i < n_values; i++) {
        if (pp_profile_set_value_type(p, i, types[i], units[i]) != 0) {
            pp_profile_free(p);
            return NULL;
        }
    }
    p->default_value = n_values - 1;
    p->period_type.type = pp_profile_intern(p, period_type ? period_type : "");
    p->period_type.unit = pp_profile_intern(p, period_unit ? period_unit : "");
    p->period = period;
    return p;
}

static uint32_t intern_spec(pp_profile *p, const pp_frame_spec *spec)
{
    pp_frame f;
    memset(&f, 0, sizeof f);
    f.name = pp_profile_intern(p, spec->name ? spec->name : "[unknown]");
    f.file = spec->file && *spec->file ? pp_profile_intern(p, spec->file) : 0;
    f.line = spec->line;
    f.start_line = spec->start_line;
    f.kind = (uint8_t)(spec->kind >= 0 && spec->kind <= 2 ? spec->kind : PP_FRAME_INTERP);
    if (f.name == UINT32_MAX || f.file == UINT32_MAX)
        return UINT32_MAX;
    uint64_t a = ((uint64_t)f.name << 32) | f.file, b = (uint64_t)f.line, c = ((uint64_t)f.start_line << 8) | f.kind;
    uint32_t id = pp_idmap_get(p->frame_index, a, b, c);
    if (id != UINT32_MAX)
        return id;
    id = pp_profile_add_frame(p, &f);
    if (id != UINT32_MAX && pp_idmap_put(p->frame_index, a, b, c, id) != 0)
        return UINT32_MAX;
    return id;
}

int pp_profile_append(pp_profile *p, const pp_frame_spec *frames, uint32_t n_frames, const pp_label_view *labels,
                      uint32_t n_labels, const int64_t *values)
{
    if (!p->frame_index) {
        p->frame_index = calloc(1, sizeof *p->frame_index);
        if (!p->frame_index)
            return -1;
        pp_idmap_init(p->frame_index);
    }
    uint32_t *ids = malloc(((size_t)n_frames + 1) * sizeof *ids);
    pp_label *ls = malloc(((size_t)n_labels + 1) * sizeof *ls);
    int rc = -1;
    if (!ids || !ls)
        goto out;
    for (uint32_t i = 0; i < n_frames; i++)
        if ((ids[i] = intern_spec(p, &frames[i])) == UINT32_MAX)
            goto out;
    for (uint32_t i = 0; i < n_labels; i++) {
        memset(&ls[i], 0, sizeof ls[i]);
        ls[i].key = pp_profile_intern(p, labels[i].key);
        if (labels[i].str)
            ls[i].str = pp_profile_intern(p, labels[i].str);
        else
            ls[i].num = labels[i].num;
    }
    rc = pp_profile_add_sample(p, ids, n_frames, ls, n_labels, values);
out:
    free(ids);
    free(ls);
    return rc;
}

void pp_profile_set_times(pp_profile *p, int64_t time_nanos, int64_t duration_nanos)
{
    p->time_nanos = time_nanos;
    p->duration_nanos = duration_nanos;
}

int pp_profile_add_metadata(pp_profile *p, const char *line) { return pp_profile_add_comment(p, line); }
