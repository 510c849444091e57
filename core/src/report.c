#include "report.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct func_stat {
    uint32_t name, file;           /* string ids: the function's identity */
    const char *name_s, *file_s;   /* resolved, so the comparator needs no context */
    int64_t start_line;
    int64_t flat, cum;
    size_t last_sample;            /* sample index + 1 that last added to cum */
} func_stat;

typedef struct report {
    const pp_profile *p;
    func_stat *funcs;
    size_t n_funcs;
    uint32_t *frame_func; /* frame id -> index into funcs */
    uint32_t *slots;      /* hash of (name, file): funcs index + 1, 0 = empty */
    size_t nslots;
} report;

static size_t slot_of(const report *r, uint32_t name, uint32_t file)
{
    uint64_t h = ((uint64_t)name * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)file * 0xc2b2ae3d27d4eb4fULL);
    size_t s = (size_t)(h ^ (h >> 31)) & (r->nslots - 1);
    while (r->slots[s]) {
        const func_stat *f = &r->funcs[r->slots[s] - 1];
        if (f->name == name && f->file == file)
            break;
        s = (s + 1) & (r->nslots - 1);
    }
    return s;
}

static int index_functions(report *r)
{
    const pp_profile *p = r->p;
    r->nslots = 64;
    while (r->nslots < (size_t)p->n_frames * 2)
        r->nslots *= 2;
    r->slots = calloc(r->nslots, sizeof *r->slots);
    r->funcs = calloc(p->n_frames ? p->n_frames : 1, sizeof *r->funcs);
    r->frame_func = calloc(p->n_frames ? p->n_frames : 1, sizeof *r->frame_func);
    if (!r->slots || !r->funcs || !r->frame_func)
        return -1;
    for (uint32_t i = 0; i < p->n_frames; i++) {
        const pp_frame *fr = &p->frames[i];
        size_t s = slot_of(r, fr->name, fr->file);
        if (!r->slots[s]) {
            func_stat *f = &r->funcs[r->n_funcs++];
            f->name = fr->name;
            f->file = fr->file;
            f->name_s = pp_strtab_get(&p->strings, fr->name);
            f->file_s = pp_strtab_get(&p->strings, fr->file);
            r->slots[s] = (uint32_t)r->n_funcs;
        }
        func_stat *f = &r->funcs[r->slots[s] - 1];
        if (!f->start_line)
            f->start_line = fr->start_line;
        r->frame_func[i] = r->slots[s] - 1;
    }
    return 0;
}

static int cmp_func(const void *a, const void *b)
{
    const func_stat *x = a, *y = b;
    if (x->cum != y->cum)
        return x->cum > y->cum ? -1 : 1;
    int c = strcmp(x->name_s, y->name_s);
    return c ? c : strcmp(x->file_s, y->file_s);
}

/* Nanoseconds read better scaled; every other unit prints as a plain count. */
static void format_value(char *out, size_t len, int64_t v, int is_ns)
{
    uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    const char *sign = v < 0 ? "-" : "";
    if (!is_ns || v == 0)
        snprintf(out, len, "%" PRId64, v);
    else if (mag >= 1000000000u)
        snprintf(out, len, "%s%.2fs", sign, (double)mag / 1e9);
    else if (mag >= 1000000u)
        snprintf(out, len, "%s%.2fms", sign, (double)mag / 1e6);
    else if (mag >= 1000u)
        snprintf(out, len, "%s%.2fus", sign, (double)mag / 1e3);
    else
        snprintf(out, len, "%s%" PRIu64 "ns", sign, mag);
}

static double percent(int64_t v, int64_t total) { return total ? 100.0 * (double)v / (double)total : 0.0; }

static void write_rows(const report *r, size_t n, int64_t total, int is_ns, pp_buf *out)
{
    char flat[32], cum[32];
    for (size_t i = 0; i < n; i++) {
        const func_stat *f = &r->funcs[i];
        format_value(flat, sizeof flat, f->flat, is_ns);
        format_value(cum, sizeof cum, f->cum, is_ns);
        pp_buf_printf(out, "%10s %6.2f%% %10s %6.2f%%  %s", flat, percent(f->flat, total), cum,
                      percent(f->cum, total), *f->name_s ? f->name_s : "[unknown]");
        if (*f->file_s && f->start_line > 0)
            pp_buf_printf(out, "  %s:%" PRId64, f->file_s, f->start_line);
        else if (*f->file_s)
            pp_buf_printf(out, "  %s", f->file_s);
        pp_buf_append_byte(out, '\n');
    }
}

int pp_report_write(const pp_profile *p, int value_index, int top_n, pp_buf *out, char *err, size_t errlen)
{
    uint32_t vi;
    if (pp_profile_pick_value(p, value_index, "report", &vi, err, errlen) != 0)
        return -1;
    report r = {.p = p};
    int rc = -1;
    if (index_functions(&r) != 0) {
        snprintf(err, errlen, "report: out of memory");
        goto out;
    }
    int64_t total = 0;
    for (size_t i = 0; i < p->n_samples; i++) {
        const pp_sample *s = &p->samples[i];
        int64_t v = s->values[vi];
        total = pp_add_sat(total, v);
        if (s->n_frames == 0)
            continue;
        func_stat *leaf = &r.funcs[r.frame_func[p->stack[s->first_frame]]];
        leaf->flat = pp_add_sat(leaf->flat, v);
        for (uint32_t d = 0; d < s->n_frames; d++) {
            func_stat *f = &r.funcs[r.frame_func[p->stack[s->first_frame + d]]];
            /* A recursive function appears several times in one stack, but
             * the sample's value is spent under it once. */
            if (f->last_sample == i + 1)
                continue;
            f->last_sample = i + 1;
            f->cum = pp_add_sat(f->cum, v);
        }
    }
    size_t n = 0; /* functions with nothing to show are left out */
    for (size_t i = 0; i < r.n_funcs; i++)
        if (r.funcs[i].cum || r.funcs[i].flat)
            r.funcs[n++] = r.funcs[i];
    if (n > 1)
        qsort(r.funcs, n, sizeof *r.funcs, cmp_func);
    size_t shown = top_n > 0 && (size_t)top_n < n ? (size_t)top_n : n;

    const char *type = pp_strtab_get(&p->strings, p->value_types[vi].type);
    const char *unit = pp_strtab_get(&p->strings, p->value_types[vi].unit);
    int is_ns = strcmp(unit, "nanoseconds") == 0;
    char tot[32];
    format_value(tot, sizeof tot, total, is_ns);
    pp_buf_printf(out, "Total: %s %s (%s); top %zu of %zu functions by cumulative value\n", tot, type, unit, shown,
                  n);
    pp_buf_printf(out, "%10s %7s %10s %7s  %s\n", "flat", "flat%", "cum", "cum%", "function");
    write_rows(&r, shown, total, is_ns, out);
    if (out->failed)
        snprintf(err, errlen, "report: out of memory");
    else
        rc = 0;
out:
    free(r.slots);
    free(r.funcs);
    free(r.frame_func);
    return rc;
}
