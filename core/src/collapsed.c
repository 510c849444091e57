#include "collapsed.h"

#include "read_limits.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A sample without frames still carries value; it gets a name rather than
 * vanishing from the totals. */
#define NO_FRAMES "[no frames]"
#define UNNAMED "[unknown]"

/* ';' separates frames and '\n' lines: inside a name they would corrupt the
 * structure, so they are replaced the way stackcollapse-perf.pl does. */
static void append_sanitized(pp_buf *b, const char *s)
{
    for (; *s; s++) {
        char c = *s;
        pp_buf_append_byte(b, (uint8_t)(c == ';' ? ':' : (c == '\n' || c == '\r') ? ' ' : c));
    }
}

static void append_frame(pp_buf *b, const pp_profile *p, const pp_frame *f, unsigned flags)
{
    const char *name = pp_strtab_get(&p->strings, f->name);
    /* A name of only blanks would read back as an empty frame (the reader
     * trims blanks before the count). */
    append_sanitized(b, name[strspn(name, " \t\r\n")] ? name : UNNAMED);
    const char *file = pp_strtab_get(&p->strings, f->file);
    if ((flags & PP_COLLAPSED_LINES) && f->kind == PP_FRAME_INTERP && *file) {
        pp_buf_append_str(b, " (");
        append_sanitized(b, file);
        if (f->line > 0)
            pp_buf_printf(b, ":%" PRId64, f->line);
        pp_buf_append_byte(b, ')');
    }
}

typedef struct line_ref {
    size_t off, len; /* rendered stack in the scratch buffer */
    const uint8_t *text; /* set once the buffer stops moving */
    int64_t value;
} line_ref;

static int cmp_line(const void *a, const void *b)
{
    const line_ref *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->text, y->text, n);
    if (c)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

int pp_collapsed_write(const pp_profile *p, int value_index, unsigned flags, pp_buf *out, char *err, size_t errlen)
{
    uint32_t vi;
    if (pp_profile_pick_value(p, value_index, "collapsed", &vi, err, errlen) != 0)
        return -1;
    pp_buf text;
    pp_buf_init(&text);
    text.limit = out->limit; /* the lines before merging: as large as the output, or larger */
    line_ref *lines = malloc((p->n_samples ? p->n_samples : 1) * sizeof *lines);
    if (!lines) {
        snprintf(err, errlen, "collapsed: out of memory");
        return -1;
    }
    for (size_t i = 0; i < p->n_samples; i++) {
        const pp_sample *s = &p->samples[i];
        lines[i].off = text.len;
        lines[i].value = s->values[vi];
        if (s->n_frames == 0)
            pp_buf_append_str(&text, NO_FRAMES);
        for (uint32_t d = s->n_frames; d-- > 0;) {
            append_frame(&text, p, &p->frames[p->stack[s->first_frame + d]], flags);
            if (d)
                pp_buf_append_byte(&text, ';');
        }
        lines[i].len = text.len - lines[i].off;
    }
    if (text.failed) {
        int over_limit = text.over_limit;
        free(lines);
        pp_buf_free(&text);
        if (over_limit)
            snprintf(err, errlen, "collapsed: the output exceeds the limit of %zu MiB", out->limit >> 20);
        else
            snprintf(err, errlen, "collapsed: out of memory");
        return -1;
    }
    /* Sorting brings identical stacks together (merged below) and makes the
     * output independent of sample order. */
    for (size_t i = 0; i < p->n_samples; i++)
        lines[i].text = text.data + lines[i].off;
    qsort(lines, p->n_samples, sizeof *lines, cmp_line);
    for (size_t i = 0; i < p->n_samples;) {
        int64_t total = 0;
        size_t j = i;
        for (; j < p->n_samples && cmp_line(&lines[i], &lines[j]) == 0; j++)
            total += lines[j].value;
        if (total != 0) {
            pp_buf_append(out, lines[i].text, lines[i].len);
            pp_buf_printf(out, " %" PRId64 "\n", total);
        }
        i = j;
    }
    free(lines);
    pp_buf_free(&text);
    if (out->failed) {
        snprintf(err, errlen, "collapsed: out of memory");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ reader */

typedef struct reader {
    pp_profile *p;
    uint32_t *frame_of; /* string id -> frame id + 1, 0 = none yet */
    size_t cap_frame_of;
    uint32_t *stack;
    size_t cap_stack;
} reader;

static uint32_t frame_for(reader *r, const char *name, size_t len)
{
    uint32_t sid = pp_strtab_intern_len(&r->p->strings, name, len);
    if (sid == UINT32_MAX)
        return UINT32_MAX;
    if (sid >= r->cap_frame_of) {
        size_t cap = r->cap_frame_of ? r->cap_frame_of : 64;
        while (cap <= sid)
            cap *= 2;
        uint32_t *v = realloc(r->frame_of, cap * sizeof *v);
        if (!v)
            return UINT32_MAX;
        memset(v + r->cap_frame_of, 0, (cap - r->cap_frame_of) * sizeof *v);
        r->frame_of = v;
        r->cap_frame_of = cap;
    }
    if (!r->frame_of[sid]) {
        pp_frame f = {.name = sid, .kind = PP_FRAME_INTERP};
        uint32_t id = pp_profile_add_frame(r->p, &f);
        if (id == UINT32_MAX)
            return UINT32_MAX;
        r->frame_of[sid] = id + 1;
    }
    return r->frame_of[sid] - 1;
}

static int parse_count(const char *s, size_t len, int64_t *out)
{
    if (len == 0)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (INT64_MAX - (s[i] - '0')) / 10)
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Returns 0, or -1 with err set; `lineno` is 1-based for the message. */
static int read_line(reader *r, const char *s, size_t len, size_t lineno, char *err, size_t errlen)
{
    while (len && (s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len == 0)
        return 0;
    size_t sp = len;
    while (sp > 0 && s[sp - 1] != ' ')
        sp--;
    int64_t count;
    if (sp == 0) {
        snprintf(err, errlen, "collapsed: line %zu: missing count after the stack", lineno);
        return -1;
    }
    if (parse_count(s + sp, len - sp, &count) != 0) {
        snprintf(err, errlen, "collapsed: line %zu: count '%.*s' is not a non-negative integer", lineno,
                 (int)(len - sp), s + sp);
        return -1;
    }
    size_t stack_len = sp - 1;
    while (stack_len && s[stack_len - 1] == ' ')
        stack_len--;
    /* Frames arrive root first; pp_profile stacks are leaf first, so the
     * line is split from its end. The writer's name for an empty stack
     * reads back as one, so that round trips keep it. */
    size_t n = 0;
    int no_frames = stack_len == strlen(NO_FRAMES) && !memcmp(s, NO_FRAMES, stack_len);
    for (size_t end = stack_len; !no_frames;) {
        size_t start = end;
        while (start > 0 && s[start - 1] != ';')
            start--;
        if (start == end) {
            snprintf(err, errlen, "collapsed: line %zu: empty frame name", lineno);
            return -1;
        }
        if (n + 1 > r->cap_stack) {
            size_t cap = r->cap_stack ? r->cap_stack * 2 : 64;
            uint32_t *v = realloc(r->stack, cap * sizeof *v);
            if (!v)
                goto oom;
            r->stack = v;
            r->cap_stack = cap;
        }
        uint32_t id = frame_for(r, s + start, end - start);
        if (id == UINT32_MAX)
            goto oom;
        r->stack[n++] = id;
        if (start == 0)
            break;
        end = start - 1;
    }
    char where[40];
    snprintf(where, sizeof where, "line %zu", lineno);
    if (pp_read_check_stack(r->p, n, "collapsed", where, err, errlen) != 0)
        return -1;
    int64_t values[PP_MAX_VALUES] = {count};
    if (pp_profile_add_sample(r->p, r->stack, (uint32_t)n, NULL, 0, values) != 0)
        goto oom;
    return 0;
oom:
    snprintf(err, errlen, "collapsed: out of memory at line %zu", lineno);
    return -1;
}

pp_profile *pp_collapsed_read(const char *text, size_t len, char *err, size_t errlen)
{
    reader r = {0};
    r.p = pp_profile_new();
    if (!r.p || pp_profile_set_value_type(r.p, 0, "samples", "count") != 0) {
        pp_profile_free(r.p);
        snprintf(err, errlen, "collapsed: out of memory");
        return NULL;
    }
    size_t lineno = 0;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        if (read_line(&r, text + pos, end - pos, ++lineno, err, errlen) != 0) {
            pp_profile_free(r.p);
            r.p = NULL;
            break;
        }
        pos = end + 1;
    }
    free(r.frame_of);
    free(r.stack);
    return r.p;
}
