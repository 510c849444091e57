#include "speedscope.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "read_limits.h"

#define SCHEMA "https://www.speedscope.app/file-format-schema.json"
#define EXPORTER "polyprof"

/* speedscope knows these units; everything else is a plain count ("none"). */
static const char *unit_out(const char *unit)
{
    if (strcmp(unit, "nanoseconds") == 0 || strcmp(unit, "bytes") == 0)
        return unit;
    return "none";
}

int pp_speedscope_write(const pp_profile *p, pp_buf *out, char *err, size_t errlen)
{
    pp_buf_append_str(out, "{\"$schema\":\"" SCHEMA "\",\"exporter\":\"" EXPORTER "\",\"name\":\"polyprof profile\"");
    pp_buf_printf(out, ",\"activeProfileIndex\":%" PRIu32 ",\"shared\":{\"frames\":[",
                  p->default_value < p->n_values ? p->default_value : 0);
    for (uint32_t i = 0; i < p->n_frames; i++) {
        const pp_frame *f = &p->frames[i];
        const char *name = pp_strtab_get(&p->strings, f->name);
        const char *file = pp_strtab_get(&p->strings, f->file);
        pp_buf_append_str(out, i ? ",{\"name\":" : "{\"name\":");
        pp_json_string(out, *name ? name : "[unknown]");
        if (*file) {
            pp_buf_append_str(out, ",\"file\":");
            pp_json_string(out, file);
        }
        if (f->line > 0)
            pp_buf_printf(out, ",\"line\":%" PRId64, f->line);
        pp_buf_append_byte(out, '}');
    }
    pp_buf_append_str(out, "]},\"profiles\":[");
    for (uint32_t vi = 0; vi < p->n_values; vi++) {
        const char *type = pp_strtab_get(&p->strings, p->value_types[vi].type);
        const char *unit = pp_strtab_get(&p->strings, p->value_types[vi].unit);
        int64_t total = 0;
        for (size_t i = 0; i < p->n_samples; i++)
            if (p->samples[i].values[vi] > 0)
                total = pp_add_sat(total, p->samples[i].values[vi]);
        pp_buf_append_str(out, vi ? ",{\"type\":\"sampled\",\"name\":" : "{\"type\":\"sampled\",\"name\":");
        pp_json_string(out, type);
        pp_buf_printf(out, ",\"unit\":\"%s\",\"startValue\":0,\"endValue\":%" PRId64 ",\"samples\":[",
                      unit_out(unit), total);
        int first = 1;
        for (size_t i = 0; i < p->n_samples; i++) {
            const pp_sample *s = &p->samples[i];
            if (s->values[vi] <= 0)
                continue;
            pp_buf_append_str(out, first ? "[" : ",[");
            first = 0;
            for (uint32_t d = s->n_frames; d-- > 0;) /* root first */
                pp_buf_printf(out, "%" PRIu32 "%s", p->stack[s->first_frame + d], d ? "," : "");
            pp_buf_append_byte(out, ']');
        }
        pp_buf_append_str(out, "],\"weights\":[");
        first = 1;
        for (size_t i = 0; i < p->n_samples; i++) {
            if (p->samples[i].values[vi] <= 0)
                continue;
            pp_buf_printf(out, "%s%" PRId64, first ? "" : ",", p->samples[i].values[vi]);
            first = 0;
        }
        pp_buf_append_str(out, "]}");
    }
    pp_buf_append_str(out, "]}\n");
    if (out->failed) {
        snprintf(err, errlen, "speedscope: out of memory");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ reader */

typedef struct reader {
    pp_profile *p;
    const cJSON **frames; /* shared.frames, indexable (cJSON arrays are lists) */
    size_t n_frames;
    uint32_t *frame_id;  /* speedscope frame index -> profile frame id + 1 */
    uint32_t *stack;     /* leaf first, for pp_profile_add_sample */
    size_t cap_stack;
    char *err;
    size_t errlen;
} reader;

static int oom(reader *r)
{
    snprintf(r->err, r->errlen, "speedscope: out of memory");
    return -1;
}

static uint32_t frame_of(reader *r, size_t index)
{
    if (r->frame_id[index])
        return r->frame_id[index] - 1;
    const cJSON *fi = r->frames[index];
    const cJSON *line = cJSON_GetObjectItemCaseSensitive(fi, "line");
    pp_frame f = {.name = pp_profile_intern(r->p, pp_json_str(fi, "name", "[unknown]")),
                  .file = pp_profile_intern(r->p, pp_json_str(fi, "file", "")),
                  .line = cJSON_IsNumber(line) && line->valuedouble > 0 ? pp_json_int64(line->valuedouble) : 0,
                  .kind = PP_FRAME_INTERP};
    if (f.name == UINT32_MAX || f.file == UINT32_MAX)
        return UINT32_MAX;
    uint32_t id = pp_profile_add_frame(r->p, &f);
    if (id != UINT32_MAX)
        r->frame_id[index] = id + 1;
    return id;
}

/* frames: speedscope indexes root first (validated by the caller). */
/* `name`, `kind` and `at` say where in the file, for the limits' messages. */
static int add_sample(reader *r, const size_t *frames, size_t n, uint32_t vi, int64_t value, const pp_label *label,
                      const char *name, const char *kind, size_t at)
{
    char where[160];
    snprintf(where, sizeof where, "profile '%.80s': %s %zu", name, kind, at);
    if (pp_read_check_stack(r->p, n, "speedscope", where, r->err, r->errlen) != 0)
        return -1;
    if (n > r->cap_stack) {
        uint32_t *s = realloc(r->stack, n * sizeof *s);
        if (!s)
            return oom(r);
        r->stack = s;
        r->cap_stack = n;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t id = frame_of(r, frames[i]);
        if (id == UINT32_MAX)
            return oom(r);
        r->stack[n - 1 - i] = id;
    }
    int64_t values[PP_MAX_VALUES] = {0};
    values[vi] = value;
    if (pp_profile_add_sample(r->p, r->stack, (uint32_t)n, label, label ? 1 : 0, values) != 0)
        return oom(r);
    return 0;
}

/* Scale to the profile's integer unit: times become nanoseconds. */
static double unit_scale(const char *unit, const char **type, const char **our_unit)
{
    static const struct {
        const char *unit;
        double scale;
    } times[] = {{"nanoseconds", 1}, {"microseconds", 1e3}, {"milliseconds", 1e6}, {"seconds", 1e9}};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        if (strcmp(unit, times[i].unit) == 0) {
            *type = "time";
            *our_unit = "nanoseconds";
            return times[i].scale;
        }
    }
    if (strcmp(unit, "bytes") == 0) {
        *type = "space";
        *our_unit = "bytes";
    } else {
        *type = "samples";
        *our_unit = "count";
    }
    return 1;
}

/* The value index for (type, unit), adding it when new. */
static int value_slot(reader *r, const char *type, const char *unit, const char *name, uint32_t *out)
{
    pp_profile *p = r->p;
    for (uint32_t i = 0; i < p->n_values; i++) {
        if (strcmp(pp_strtab_get(&p->strings, p->value_types[i].type), type) == 0 &&
            strcmp(pp_strtab_get(&p->strings, p->value_types[i].unit), unit) == 0) {
            *out = i;
            return 0;
        }
    }
    if (p->n_values == PP_MAX_VALUES) {
        snprintf(r->err, r->errlen, "speedscope: profile '%s': more than %d kinds of values", name, PP_MAX_VALUES);
        return -1;
    }
    *out = p->n_values;
    return pp_profile_set_value_type(p, p->n_values, type, unit) == 0 ? 0 : oom(r);
}

static int read_stack(reader *r, const cJSON *arr, const char *name, size_t at, size_t **buf, size_t *cap, size_t *n)
{
    if (!cJSON_IsArray(arr)) {
        snprintf(r->err, r->errlen, "speedscope: profile '%s': sample %zu is not an array of frame indexes", name, at);
        return -1;
    }
    size_t len = (size_t)cJSON_GetArraySize(arr);
    if (len > *cap) {
        size_t *b = realloc(*buf, len * sizeof *b);
        if (!b)
            return oom(r);
        *buf = b;
        *cap = len;
    }
    size_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, arr)
    {
        if (pp_json_index(v, (double)r->n_frames, &(*buf)[i]) != 0) {
            snprintf(r->err, r->errlen, "speedscope: profile '%s': sample %zu names a frame that is not one of the %zu "
                     "shared frames", name, at, r->n_frames);
            return -1;
        }
        i++;
    }
    *n = len;
    return 0;
}

static int read_sampled(reader *r, const cJSON *prof, const char *name, uint32_t vi, double scale,
                        const pp_label *label)
{
    const cJSON *samples = cJSON_GetObjectItemCaseSensitive(prof, "samples");
    const cJSON *weights = cJSON_GetObjectItemCaseSensitive(prof, "weights");
    if (!cJSON_IsArray(samples) || !cJSON_IsArray(weights) ||
        cJSON_GetArraySize(samples) != cJSON_GetArraySize(weights)) {
        snprintf(r->err, r->errlen, "speedscope: sampled profile '%s' needs 'samples' and 'weights' arrays of one "
                 "length", name);
        return -1;
    }
    size_t *frames = NULL, cap = 0, n = 0, at = 0;
    int rc = 0;
    const cJSON *s, *w = weights->child;
    cJSON_ArrayForEach(s, samples)
    {
        if (!cJSON_IsNumber(w) || !(w->valuedouble >= 0)) {
            snprintf(r->err, r->errlen, "speedscope: profile '%s': weight %zu is not a non-negative number", name, at);
            rc = -1;
            break;
        }
        if ((rc = read_stack(r, s, name, at, &frames, &cap, &n)) != 0)
            break;
        int64_t value = pp_json_int64(w->valuedouble * scale);
        if (value > 0 && (rc = add_sample(r, frames, n, vi, value, label, name, "sample", at)) != 0)
            break;
        w = w->next;
        at++;
    }
    free(frames);
    return rc;
}

/* Open/close events become one sample per interval between events, for
 * the stack open during it. */
static int read_evented(reader *r, const cJSON *prof, const char *name, uint32_t vi, double scale,
                        const pp_label *label)
{
    const cJSON *events = cJSON_GetObjectItemCaseSensitive(prof, "events");
    if (!cJSON_IsArray(events)) {
        snprintf(r->err, r->errlen, "speedscope: evented profile '%s' has no 'events' array", name);
        return -1;
    }
    size_t *open = NULL, n_open = 0, cap = 0, at = 0;
    double last = 0;
    int rc = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, events)
    {
        const char *type = pp_json_str(e, "type", "");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "at");
        size_t frame;
        if (!cJSON_IsNumber(t) || (strcmp(type, "O") != 0 && strcmp(type, "C") != 0) ||
            pp_json_index(cJSON_GetObjectItemCaseSensitive(e, "frame"), (double)r->n_frames, &frame) != 0) {
            snprintf(r->err, r->errlen, "speedscope: profile '%s': event %zu needs type \"O\" or \"C\", a number 'at' "
                     "and one of the %zu shared frames", name, at, r->n_frames);
            rc = -1;
            break;
        }
        if (at > 0 && t->valuedouble < last) {
            snprintf(r->err, r->errlen, "speedscope: profile '%s': event %zu goes back in time", name, at);
            rc = -1;
            break;
        }
        int64_t value = at > 0 ? pp_json_int64((t->valuedouble - last) * scale) : 0;
        if (n_open && value > 0 && (rc = add_sample(r, open, n_open, vi, value, label, name, "event", at)) != 0)
            break;
        last = t->valuedouble;
        if (*type == 'O') {
            if (n_open == cap) {
                size_t *o = realloc(open, (cap ? cap * 2 : 64) * sizeof *o);
                if (!o) {
                    rc = oom(r);
                    break;
                }
                open = o;
                cap = cap ? cap * 2 : 64;
            }
            open[n_open++] = frame;
        } else {
            /* Close the frame, and whatever was left open above it. */
            size_t k = n_open;
            while (k > 0 && open[k - 1] != frame)
                k--;
            if (k == 0) {
                snprintf(r->err, r->errlen, "speedscope: profile '%s': event %zu closes a frame that is not open",
                         name, at);
                rc = -1;
                break;
            }
            n_open = k - 1;
        }
        at++;
    }
    free(open);
    return rc;
}

pp_profile *pp_speedscope_read(const char *text, size_t len, char *err, size_t errlen)
{
    cJSON *root = pp_json_parse(text, len, "speedscope", err, errlen);
    if (!root)
        return NULL;
    reader r = {.err = err, .errlen = errlen};
    const cJSON *shared = cJSON_GetObjectItemCaseSensitive(root, "shared");
    const cJSON *profiles = cJSON_GetObjectItemCaseSensitive(root, "profiles");
    const cJSON *frames = cJSON_GetObjectItemCaseSensitive(shared, "frames");
    if (!cJSON_IsArray(frames) || !cJSON_IsArray(profiles)) {
        snprintf(err, errlen, "speedscope: no 'shared.frames' and 'profiles' arrays: not a speedscope file");
        cJSON_Delete(root);
        return NULL;
    }
    r.n_frames = (size_t)cJSON_GetArraySize(frames);
    r.p = pp_profile_new();
    r.frame_id = calloc(r.n_frames ? r.n_frames : 1, sizeof *r.frame_id);
    r.frames = calloc(r.n_frames ? r.n_frames : 1, sizeof *r.frames);
    if (r.frames) {
        size_t i = 0;
        const cJSON *f;
        cJSON_ArrayForEach(f, frames) r.frames[i++] = f;
    }
    int ours = strncmp(pp_json_str(root, "exporter", ""), EXPORTER, strlen(EXPORTER)) == 0;
    int threads = !ours && cJSON_GetArraySize(profiles) > 1;
    int rc = r.p && r.frame_id && r.frames ? 0 : oom(&r);
    const cJSON *prof;
    size_t index = 0;
    cJSON_ArrayForEach(prof, profiles)
    {
        if (rc != 0)
            break;
        const char *name = pp_json_str(prof, "name", "");
        const char *kind = pp_json_str(prof, "type", "");
        const char *type, *unit;
        double scale = unit_scale(pp_json_str(prof, "unit", "none"), &type, &unit);
        if (ours && *name) /* our profiles are named after their value type */
            type = name;
        uint32_t vi;
        if ((rc = value_slot(&r, type, unit, name, &vi)) != 0)
            break;
        pp_label label = {0}, *lp = NULL;
        if (threads) {
            char fallback[32];
            snprintf(fallback, sizeof fallback, "profile %zu", index);
            label.key = pp_profile_intern(r.p, "thread_name");
            label.str = pp_profile_intern(r.p, *name ? name : fallback);
            if (label.key == UINT32_MAX || label.str == UINT32_MAX) {
                rc = oom(&r);
                break;
            }
            lp = &label;
        }
        if (strcmp(kind, "sampled") == 0) {
            rc = read_sampled(&r, prof, name, vi, scale, lp);
        } else if (strcmp(kind, "evented") == 0) {
            rc = read_evented(&r, prof, name, vi, scale, lp);
        } else {
            snprintf(err, errlen, "speedscope: profile '%s' has type '%s' (expected \"sampled\" or \"evented\")", name,
                     kind);
            rc = -1;
        }
        index++;
    }
    if (rc == 0 && r.p->n_values == 0 && value_slot(&r, "samples", "count", "", &r.p->default_value) != 0)
        rc = -1;
    if (rc == 0) {
        /* The file's active profile is the default, as pprof's last value is. */
        const cJSON *active = cJSON_GetObjectItemCaseSensitive(root, "activeProfileIndex");
        size_t ai;
        r.p->default_value = r.p->n_values - 1;
        if (ours && pp_json_index(active, (double)r.p->n_values, &ai) == 0)
            r.p->default_value = (uint32_t)ai;
    }
    free(r.frame_id);
    free(r.frames);
    free(r.stack);
    cJSON_Delete(root);
    if (rc != 0) {
        pp_profile_free(r.p);
        return NULL;
    }
    return r.p;
}
