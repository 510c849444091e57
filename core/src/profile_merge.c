/* Merging profiles of the same kind into one (fleet captures: one profile per
 * instance, one merged view), each sample labelled with where it came from so
 * that `go tool pprof -tagfocus` can split them again. The header fields
 * combine as google/pprof's profile.Merge does: earliest start, summed
 * durations, largest period. Frames and mappings are re-interned by content,
 * so a function seen in several sources is one function in the result. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idmap.h"
#include "polyprof.h"
#include "profile.h"

static const char *str(const pp_profile *p, uint32_t id) { return pp_strtab_get(&p->strings, id); }

static int same_value_types(const pp_profile *a, const pp_profile *b)
{
    if (a->n_values != b->n_values)
        return 0;
    for (uint32_t i = 0; i < a->n_values; i++)
        if (strcmp(str(a, a->value_types[i].type), str(b, b->value_types[i].type)) != 0 ||
            strcmp(str(a, a->value_types[i].unit), str(b, b->value_types[i].unit)) != 0)
            return 0;
    return strcmp(str(a, a->period_type.type), str(b, b->period_type.type)) == 0 &&
           strcmp(str(a, a->period_type.unit), str(b, b->period_type.unit)) == 0;
}

/* "cpu/nanoseconds, samples/count (period cpu/nanoseconds)" for messages. */
static void describe_types(const pp_profile *p, char *out, size_t len)
{
    size_t n = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < p->n_values && n < len; i++)
        n += (size_t)snprintf(out + n, len - n, "%s%s/%s", i ? ", " : "", str(p, p->value_types[i].type),
                              str(p, p->value_types[i].unit));
    if (n < len)
        snprintf(out + n, len - n, " (period %s/%s)", str(p, p->period_type.type), str(p, p->period_type.unit));
}

static void name_source(const char *const *label_values, size_t i, char *out, size_t len)
{
    if (label_values && label_values[i])
        snprintf(out, len, "'%s'", label_values[i]);
    else
        snprintf(out, len, "profile %zu", i + 1);
}

/* What one source's ids become in the merged profile. */
typedef struct translation {
    uint32_t *strings;  /* source string id -> merged id, UINT32_MAX until needed */
    uint32_t *mappings; /* source 1-based mapping -> merged 1-based, 0 = none */
    uint32_t *frames;
} translation;

typedef struct merger {
    pp_profile *out;
    pp_idmap mapping_index, frame_index;
} merger;

static uint32_t tr_string(merger *m, const pp_profile *src, translation *t, uint32_t id)
{
    if (id >= src->strings.count)
        return 0;
    if (t->strings[id] == UINT32_MAX)
        t->strings[id] = pp_profile_intern(m->out, str(src, id));
    return t->strings[id];
}

static int mapping_equal(const pp_mapping *a, const pp_mapping *b)
{
    return a->start == b->start && a->limit == b->limit && a->offset == b->offset && a->file == b->file &&
           a->build_id == b->build_id;
}

static int frame_equal(const pp_frame *a, const pp_frame *b)
{
    return a->name == b->name && a->system_name == b->system_name && a->file == b->file && a->line == b->line &&
           a->start_line == b->start_line && a->address == b->address && a->mapping == b->mapping &&
           a->kind == b->kind;
}

/* Returns the merged 1-based id, or UINT32_MAX when out of memory. The index
 * keys on most fields and the hit is compared in full: a key collision only
 * costs a duplicate entry, never a wrong one. */
static uint32_t add_mapping(merger *m, const pp_mapping *mp)
{
    uint64_t a = mp->start, b = mp->limit, c = ((uint64_t)mp->file << 32) | mp->build_id;
    uint32_t id = pp_idmap_get(&m->mapping_index, a, b, c);
    if (id != UINT32_MAX && mapping_equal(&m->out->mappings[id - 1], mp))
        return id;
    uint32_t added = pp_profile_add_mapping(m->out, mp);
    if (added == UINT32_MAX || (id == UINT32_MAX && pp_idmap_put(&m->mapping_index, a, b, c, added) != 0))
        return UINT32_MAX;
    return added;
}

static uint32_t add_frame(merger *m, const pp_frame *f)
{
    uint64_t a = ((uint64_t)f->name << 32) | f->file, b = f->address ^ ((uint64_t)f->mapping << 48),
             c = ((uint64_t)f->line << 24) ^ ((uint64_t)f->start_line << 4) ^ f->kind ^ ((uint64_t)f->system_name << 40);
    uint32_t id = pp_idmap_get(&m->frame_index, a, b, c);
    if (id != UINT32_MAX && frame_equal(&m->out->frames[id], f))
        return id;
    uint32_t added = pp_profile_add_frame(m->out, f);
    if (added == UINT32_MAX || (id == UINT32_MAX && pp_idmap_put(&m->frame_index, a, b, c, added) != 0))
        return UINT32_MAX;
    return added;
}

static int translate_tables(merger *m, const pp_profile *src, translation *t)
{
    t->strings = malloc(((size_t)src->strings.count + 1) * sizeof *t->strings);
    t->mappings = malloc(((size_t)src->n_mappings + 1) * sizeof *t->mappings);
    t->frames = malloc(((size_t)src->n_frames + 1) * sizeof *t->frames);
    if (!t->strings || !t->mappings || !t->frames)
        return -1;
    memset(t->strings, 0xff, ((size_t)src->strings.count + 1) * sizeof *t->strings);
    t->mappings[0] = 0;
    for (uint32_t i = 0; i < src->n_mappings; i++) {
        pp_mapping mp = src->mappings[i];
        mp.file = tr_string(m, src, t, mp.file);
        mp.build_id = tr_string(m, src, t, mp.build_id);
        if ((t->mappings[i + 1] = add_mapping(m, &mp)) == UINT32_MAX)
            return -1;
    }
    for (uint32_t i = 0; i < src->n_frames; i++) {
        pp_frame f = src->frames[i];
        f.name = tr_string(m, src, t, f.name);
        f.system_name = tr_string(m, src, t, f.system_name);
        f.file = tr_string(m, src, t, f.file);
        f.mapping = f.mapping && f.mapping <= src->n_mappings ? t->mappings[f.mapping] : 0;
        if ((t->frames[i] = add_frame(m, &f)) == UINT32_MAX)
            return -1;
    }
    return 0;
}

/* The source's samples, each with its labels (less any `label_key` it had)
 * and label_key=label_value. */
static int copy_samples(merger *m, const pp_profile *src, translation *t, uint32_t key, uint32_t value)
{
    uint32_t *stack = NULL;
    pp_label *labels = NULL;
    uint32_t cap_stack = 0, cap_labels = 0;
    int rc = 0;
    for (size_t i = 0; i < src->n_samples && rc == 0; i++) {
        const pp_sample *s = &src->samples[i];
        if (s->n_frames + 1 > cap_stack || s->n_labels + 1 > cap_labels) {
            cap_stack = s->n_frames + 1 > cap_stack ? s->n_frames + 1 : cap_stack;
            cap_labels = s->n_labels + 1 > cap_labels ? s->n_labels + 1 : cap_labels;
            uint32_t *ns = realloc(stack, cap_stack * sizeof *stack);
            if (ns)
                stack = ns;
            pp_label *nl = realloc(labels, cap_labels * sizeof *labels);
            if (nl)
                labels = nl;
            if (!ns || !nl) {
                rc = -1;
                break;
            }
        }
        for (uint32_t d = 0; d < s->n_frames; d++) {
            uint32_t f = src->stack[s->first_frame + d];
            stack[d] = f < src->n_frames ? t->frames[f] : 0;
        }
        uint32_t n_labels = 0;
        for (uint32_t j = 0; j < s->n_labels; j++) {
            pp_label l = src->labels[s->first_label + j];
            l.key = tr_string(m, src, t, l.key);
            if (key && l.key == key)
                continue;
            l.str = l.str ? tr_string(m, src, t, l.str) : 0;
            l.num_unit = l.num_unit ? tr_string(m, src, t, l.num_unit) : 0;
            labels[n_labels++] = l;
        }
        if (key) {
            pp_label l = {key, value, 0, 0};
            labels[n_labels++] = l;
        }
        rc = pp_profile_add_sample(m->out, stack, s->n_frames, labels, n_labels, s->values);
    }
    free(stack);
    free(labels);
    return rc;
}

static int copy_comments(merger *m, const pp_profile *src, const char *prefix)
{
    for (uint32_t i = 0; i < src->n_comments; i++) {
        const char *c = str(src, src->comments[i]);
        if (!prefix) {
            if (pp_strtab_find(&m->out->strings, c) != UINT32_MAX) {
                int seen = 0; /* the same line from several sources is kept once */
                for (uint32_t j = 0; j < m->out->n_comments && !seen; j++)
                    seen = strcmp(str(m->out, m->out->comments[j]), c) == 0;
                if (seen)
                    continue;
            }
            if (pp_profile_add_comment(m->out, c) != 0)
                return -1;
            continue;
        }
        size_t len = strlen(prefix) + strlen(c) + 4;
        char *line = malloc(len);
        if (!line)
            return -1;
        snprintf(line, len, "[%s] %s", prefix, c);
        int rc = pp_profile_add_comment(m->out, line);
        free(line);
        if (rc != 0)
            return -1;
    }
    return 0;
}

pp_profile *pp_profile_merge(const pp_profile *const *profiles, const char *const *label_values, size_t n,
                             const char *label_key, char *err, size_t errlen)
{
    if (n == 0 || !profiles) {
        snprintf(err, errlen, "merge: no profiles to merge");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!profiles[i]) {
            snprintf(err, errlen, "merge: profile %zu is missing", i + 1);
            return NULL;
        }
        if (label_key && *label_key && (!label_values || !label_values[i])) {
            snprintf(err, errlen, "merge: no '%s' label value for profile %zu", label_key, i + 1);
            return NULL;
        }
        if (i > 0 && !same_value_types(profiles[0], profiles[i])) {
            char a[256], b[256], na[300], nb[300];
            describe_types(profiles[0], a, sizeof a);
            describe_types(profiles[i], b, sizeof b);
            name_source(label_values, 0, na, sizeof na);
            name_source(label_values, i, nb, sizeof nb);
            snprintf(err, errlen, "merge: profiles of different kinds cannot be merged: %s has sample types %s, %s has %s",
                     na, a, nb, b);
            return NULL;
        }
    }
    int labelled = label_key && *label_key;
    const pp_profile *first = profiles[0];
    merger m;
    memset(&m, 0, sizeof m);
    m.out = pp_profile_new();
    if (!m.out) {
        snprintf(err, errlen, "merge: out of memory");
        return NULL;
    }
    pp_idmap_init(&m.mapping_index);
    pp_idmap_init(&m.frame_index);
    pp_profile *out = m.out;
    int rc = 0;
    for (uint32_t i = 0; i < first->n_values && rc == 0; i++)
        rc = pp_profile_set_value_type(out, i, str(first, first->value_types[i].type),
                                       str(first, first->value_types[i].unit));
    out->default_value = first->default_value;
    out->period_type.type = pp_profile_intern(out, str(first, first->period_type.type));
    out->period_type.unit = pp_profile_intern(out, str(first, first->period_type.unit));
    uint32_t key = labelled ? pp_profile_intern(out, label_key) : 0;
    if (key == UINT32_MAX || out->period_type.type == UINT32_MAX || out->period_type.unit == UINT32_MAX)
        rc = -1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const pp_profile *src = profiles[i];
        if (src->time_nanos && (!out->time_nanos || src->time_nanos < out->time_nanos))
            out->time_nanos = src->time_nanos;
        if (src->duration_nanos > 0) /* a file's negative duration adds nothing */
            out->duration_nanos = pp_add_sat(out->duration_nanos, src->duration_nanos);
        if (src->period > out->period)
            out->period = src->period;
        translation t = {0};
        uint32_t value = labelled ? pp_profile_intern(out, label_values[i]) : 0;
        rc = value == UINT32_MAX ? -1 : translate_tables(&m, src, &t);
        if (rc == 0)
            rc = copy_samples(&m, src, &t, key, value);
        /* With one source its metadata stays as it is; with several, each
         * line says which source it describes. */
        if (rc == 0)
            rc = copy_comments(&m, src, labelled && n > 1 ? label_values[i] : NULL);
        free(t.strings);
        free(t.mappings);
        free(t.frames);
    }
    if (rc == 0 && n > 1) {
        char line[64];
        snprintf(line, sizeof line, "merged_profiles=%zu", n);
        rc = pp_profile_add_comment(out, line);
    }
    pp_idmap_free(&m.mapping_index);
    pp_idmap_free(&m.frame_index);
    if (rc != 0) {
        pp_profile_free(out);
        snprintf(err, errlen, "merge: out of memory");
        return NULL;
    }
    return out;
}
