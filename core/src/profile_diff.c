#include "profile_diff.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flamegraph.h"
#include "idmap.h"
#include "polyprof.h"
#include "read_limits.h"

static int find_type(const pp_profile *p, const char *type, const char *unit)
{
    for (uint32_t i = 0; i < p->n_values; i++) {
        if (strcmp(pp_strtab_get(&p->strings, p->value_types[i].type), type) == 0 &&
            (!unit || strcmp(pp_strtab_get(&p->strings, p->value_types[i].unit), unit) == 0))
            return (int)i;
    }
    return -1;
}

/* "samples/count, cpu/nanoseconds" */
static void list_types(const pp_profile *p, char *out, size_t len)
{
    size_t at = 0;
    out[0] = 0;
    for (uint32_t i = 0; i < p->n_values && at < len; i++) {
        int n = snprintf(out + at, len - at, "%s%s/%s", i ? ", " : "",
                         pp_strtab_get(&p->strings, p->value_types[i].type),
                         pp_strtab_get(&p->strings, p->value_types[i].unit));
        if (n < 0)
            break;
        at += (size_t)n;
    }
}

int pp_diff_pick_values(const pp_profile *base, const pp_profile *cur, const char *sample_type, uint32_t *base_vi,
                        uint32_t *cur_vi, char *err, size_t errlen)
{
    char bt[256], ct[256];
    list_types(base, bt, sizeof bt);
    list_types(cur, ct, sizeof ct);
    int ci;
    if (sample_type && *sample_type) {
        ci = find_type(cur, sample_type, NULL);
        if (ci < 0) {
            snprintf(err, errlen, "diff: no sample type '%s' in the new profile (it has: %s)", sample_type, ct);
            return -1;
        }
    } else {
        if (cur->n_values == 0 || cur->default_value >= cur->n_values) {
            snprintf(err, errlen, "diff: the new profile has no values");
            return -1;
        }
        ci = (int)cur->default_value;
    }
    const char *type = pp_strtab_get(&cur->strings, cur->value_types[ci].type);
    const char *unit = pp_strtab_get(&cur->strings, cur->value_types[ci].unit);
    int bi = find_type(base, type, unit);
    if (bi < 0) {
        snprintf(err, errlen,
                 "diff: the profiles' sample types do not match: the new profile's %s/%s is not in the base profile "
                 "(base has: %s; new has: %s)%s",
                 type, unit, bt, ct, sample_type && *sample_type ? "" : "; choose a common one with --sample-index");
        return -1;
    }
    *base_vi = (uint32_t)bi;
    *cur_vi = (uint32_t)ci;
    return 0;
}

/* ------------------------------------------------------------------ report */

typedef struct fstat {
    uint32_t name, file;       /* ids in the report's own string table */
    int64_t self[2], cum[2];   /* [0] base, [1] new */
    size_t seen[2];            /* sample index + 1 that last added to cum */
    double d_self, d_cum;      /* change in points */
} fstat;

typedef struct diff {
    pp_strtab strings;
    pp_idmap index; /* (name, file) -> fstat */
    fstat *funcs;
    size_t n, cap;
} diff;

static uint32_t func_of(diff *d, const pp_profile *p, const pp_frame *f)
{
    uint32_t name = pp_strtab_intern(&d->strings, pp_strtab_get(&p->strings, f->name));
    uint32_t file = pp_strtab_intern(&d->strings, pp_strtab_get(&p->strings, f->file));
    if (name == UINT32_MAX || file == UINT32_MAX)
        return UINT32_MAX;
    uint32_t id = pp_idmap_get(&d->index, name, file, 0);
    if (id != UINT32_MAX)
        return id;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        fstat *g = realloc(d->funcs, cap * sizeof *g);
        if (!g)
            return UINT32_MAX;
        d->funcs = g;
        d->cap = cap;
    }
    memset(&d->funcs[d->n], 0, sizeof d->funcs[d->n]);
    d->funcs[d->n].name = name;
    d->funcs[d->n].file = file;
    if (pp_idmap_put(&d->index, name, file, 0, (uint32_t)d->n) != 0)
        return UINT32_MAX;
    return (uint32_t)d->n++;
}

/* Adds p's self and cumulative values per function into side (0 base, 1 new). */
static int add_profile(diff *d, const pp_profile *p, uint32_t vi, int side, int64_t *total)
{
    uint32_t *func = malloc((p->n_frames ? p->n_frames : 1) * sizeof *func); /* frame -> fstat + 1 */
    if (!func)
        return -1;
    memset(func, 0, (p->n_frames ? p->n_frames : 1) * sizeof *func);
    int rc = -1;
    *total = 0;
    for (size_t i = 0; i < p->n_samples; i++) {
        const pp_sample *s = &p->samples[i];
        int64_t v = s->values[vi];
        *total = pp_add_sat(*total, v);
        for (uint32_t k = 0; k < s->n_frames; k++) {
            uint32_t fr = p->stack[s->first_frame + k];
            if (!func[fr]) {
                uint32_t id = func_of(d, p, &p->frames[fr]);
                if (id == UINT32_MAX)
                    goto out;
                func[fr] = id + 1;
            }
            fstat *f = &d->funcs[func[fr] - 1];
            if (k == 0)
                f->self[side] = pp_add_sat(f->self[side], v);
            /* A recursive function is on the stack several times, but the
             * sample's value is spent under it once. */
            if (f->seen[side] != i + 1) {
                f->seen[side] = i + 1;
                f->cum[side] = pp_add_sat(f->cum[side], v);
            }
        }
    }
    rc = 0;
out:
    free(func);
    return rc;
}

static double pct(int64_t v, int64_t total) { return total ? 100.0 * (double)v / (double)total : 0.0; }

static int by_cum_desc(const void *a, const void *b)
{
    double x = ((const fstat *)a)->d_cum, y = ((const fstat *)b)->d_cum;
    return x < y ? 1 : x > y ? -1 : 0;
}

static int by_self_desc(const void *a, const void *b)
{
    double x = ((const fstat *)a)->d_self, y = ((const fstat *)b)->d_self;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void write_row(const diff *d, const fstat *f, int cum, int64_t bt, int64_t nt, pp_buf *out)
{
    int64_t b = cum ? f->cum[0] : f->self[0], n = cum ? f->cum[1] : f->self[1];
    const char *name = pp_strtab_get(&d->strings, f->name), *file = pp_strtab_get(&d->strings, f->file);
    pp_buf_printf(out, "%7.2f%% %7.2f%% %+8.2f  %s", pct(b, bt), pct(n, nt), cum ? f->d_cum : f->d_self,
                  *name ? name : "[unknown]");
    if (*file)
        pp_buf_printf(out, "  %s", file);
    pp_buf_append_byte(out, '\n');
}

/* Sorted by change, largest growth first: the top_n that grew, then the
 * top_n that shrank (most first). */
static void write_section(diff *d, int cum, int top_n, int64_t bt, int64_t nt, pp_buf *out)
{
    const char *what = cum ? "cumulative" : "self";
    if (d->n > 1) /* an empty profile has no array: qsort must not see NULL */
        qsort(d->funcs, d->n, sizeof *d->funcs, cum ? by_cum_desc : by_self_desc);
    size_t grew = 0, shrank = 0;
    for (size_t i = 0; i < d->n; i++) {
        double x = cum ? d->funcs[i].d_cum : d->funcs[i].d_self;
        grew += x > 0.005;
        shrank += x < -0.005;
    }
    size_t lim = top_n > 0 ? (size_t)top_n : d->n;
    pp_buf_printf(out, "\nGrew most by %s share (%zu of %zu functions that grew)\n", what, grew < lim ? grew : lim,
                  grew);
    pp_buf_printf(out, "%8s %8s %8s  %s\n", "base", "new", "delta", "function");
    for (size_t i = 0; i < grew && i < lim; i++)
        write_row(d, &d->funcs[i], cum, bt, nt, out);
    pp_buf_printf(out, "\nShrank most by %s share (%zu of %zu functions that shrank)\n", what,
                  shrank < lim ? shrank : lim, shrank);
    pp_buf_printf(out, "%8s %8s %8s  %s\n", "base", "new", "delta", "function");
    for (size_t i = 0; i < shrank && i < lim; i++)
        write_row(d, &d->funcs[d->n - 1 - i], cum, bt, nt, out);
}

int pp_diff_report_write(const pp_profile *base, uint32_t base_vi, const pp_profile *cur, uint32_t cur_vi, int top_n,
                         pp_buf *out, char *err, size_t errlen)
{
    diff d = {0};
    pp_idmap_init(&d.index);
    int64_t bt = 0, nt = 0;
    int rc = pp_strtab_init(&d.strings) == 0 && add_profile(&d, base, base_vi, 0, &bt) == 0 &&
                     add_profile(&d, cur, cur_vi, 1, &nt) == 0
                 ? 0
                 : -1;
    if (rc == 0) {
        for (size_t i = 0; i < d.n; i++) {
            fstat *f = &d.funcs[i];
            f->d_self = pct(f->self[1], nt) - pct(f->self[0], bt);
            f->d_cum = pct(f->cum[1], nt) - pct(f->cum[0], bt);
        }
        const char *type = pp_strtab_get(&cur->strings, cur->value_types[cur_vi].type);
        const char *unit = pp_strtab_get(&cur->strings, cur->value_types[cur_vi].unit);
        pp_buf_printf(out,
                      "Differential report: %s (%s), each function's share of its own profile's total\n"
                      "base total %" PRId64 ", new total %" PRId64 "; delta in percentage points (new - base)\n",
                      type, unit, bt, nt);
        write_section(&d, 1, top_n, bt, nt, out);
        write_section(&d, 0, top_n, bt, nt, out);
        if (out->failed)
            rc = -1;
    }
    if (rc != 0)
        snprintf(err, errlen, "diff: out of memory");
    free(d.funcs);
    pp_idmap_free(&d.index);
    pp_strtab_free(&d.strings);
    return rc;
}

int pp_profile_diff(const pp_profile *base, const pp_profile *cur, const char *sample_type, pp_format f, int top_n,
                    uint8_t **out, size_t *outlen, char *err, size_t errlen)
{
    uint32_t bvi, cvi;
    if (!base || !cur) {
        snprintf(err, errlen, "diff: two profiles are needed");
        return -1;
    }
    if (pp_diff_pick_values(base, cur, sample_type, &bvi, &cvi, err, errlen) != 0)
        return -1;
    pp_buf b;
    pp_buf_init(&b);
    b.limit = PP_WRITE_MAX_BYTES;
    int rc;
    if (f == PP_FORMAT_HTML) {
        rc = pp_flamegraph_write_diff(base, bvi, cur, cvi, &b, err, errlen);
    } else if (f == PP_FORMAT_TEXT) {
        rc = pp_diff_report_write(base, bvi, cur, cvi, top_n, &b, err, errlen);
    } else {
        snprintf(err, errlen, "diff: cannot write a differential profile as %s (use html or text)",
                 pp_format_name(f));
        rc = -1;
    }
    return pp_text_finish(&b, rc, "diff", out, outlen, err, errlen);
}
