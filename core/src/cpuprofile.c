#include "cpuprofile.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idmap.h"

typedef struct node {
    uint32_t frame;    /* profile frame id; UINT32_MAX for the root */
    uint32_t parent;   /* node index */
    uint64_t hits;
    uint32_t first_child, next_sibling; /* node index + 1, 0 = none */
} node;

static void json_string(pp_buf *b, const char *s)
{
    pp_buf_append_byte(b, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            pp_buf_append_byte(b, '\\');
            pp_buf_append_byte(b, c);
        } else if (c < 0x20) {
            pp_buf_printf(b, "\\u%04x", c);
        } else {
            pp_buf_append_byte(b, c);
        }
    }
    pp_buf_append_byte(b, '"');
}

static int value_index(const pp_profile *p, const char *unit, const char *type)
{
    for (uint32_t i = 0; i < p->n_values; i++) {
        if (strcmp(pp_strtab_get(&p->strings, p->value_types[i].unit), unit) != 0)
            continue;
        if (!type || strcmp(pp_strtab_get(&p->strings, p->value_types[i].type), type) == 0)
            return (int)i;
    }
    return -1;
}

int pp_cpuprofile_write(const pp_profile *p, pp_buf *out, char *err, size_t errlen)
{
    int count_i = value_index(p, "count", "samples"), time_i = value_index(p, "nanoseconds", NULL);
    size_t cap = 64, n = 1;
    node *nodes = calloc(cap, sizeof *nodes);
    pp_idmap children; /* (parent node, frame) -> node index */
    pp_idmap_init(&children);
    uint32_t *leaf_of = calloc(p->n_samples + 1, sizeof *leaf_of);
    if (!nodes || !leaf_of)
        goto oom;
    nodes[0].frame = UINT32_MAX;
    for (size_t i = 0; i < p->n_samples; i++) {
        const pp_sample *s = &p->samples[i];
        uint32_t cur = 0;
        for (uint32_t d = s->n_frames; d-- > 0;) { /* root first */
            uint32_t frame = p->stack[s->first_frame + d];
            uint32_t child = pp_idmap_get(&children, cur, frame, 0);
            if (child == UINT32_MAX) {
                if (n == cap) {
                    node *grown = realloc(nodes, cap * 2 * sizeof *nodes);
                    if (!grown)
                        goto oom;
                    nodes = grown;
                    cap *= 2;
                }
                child = (uint32_t)n++;
                memset(&nodes[child], 0, sizeof nodes[child]);
                nodes[child].frame = frame;
                nodes[child].parent = cur;
                /* Prepend, then children are written in reverse: fine for
                 * DevTools, which orders nothing by child position. */
                nodes[child].next_sibling = nodes[cur].first_child;
                nodes[cur].first_child = child + 1;
                if (pp_idmap_put(&children, cur, frame, 0, child) != 0)
                    goto oom;
            }
            cur = child;
        }
        nodes[cur].hits += count_i >= 0 ? (uint64_t)s->values[count_i] : 1;
        leaf_of[i] = cur;
    }

    pp_buf_append_str(out, "{\"nodes\":[");
    for (size_t i = 0; i < n; i++) {
        const node *nd = &nodes[i];
        const char *name = "(root)", *url = "";
        int64_t line = 0;
        if (nd->frame != UINT32_MAX) {
            const pp_frame *f = &p->frames[nd->frame];
            name = pp_strtab_get(&p->strings, f->name);
            url = pp_strtab_get(&p->strings, f->file);
            line = f->line;
        }
        pp_buf_printf(out, "%s{\"id\":%zu,\"callFrame\":{\"functionName\":", i ? "," : "", i + 1);
        json_string(out, name);
        /* DevTools wants a script id per url; the url's string id serves. */
        pp_buf_printf(out, ",\"scriptId\":\"%u\",\"url\":", *url ? pp_strtab_find(&p->strings, url) : 0);
        json_string(out, url);
        /* DevTools counts lines and columns from 0; -1 is unknown. */
        pp_buf_printf(out, ",\"lineNumber\":%" PRId64 ",\"columnNumber\":%d},\"hitCount\":%" PRIu64 ",\"children\":[",
                      line > 0 ? line - 1 : (int64_t)-1, line > 0 ? 0 : -1, nd->hits);
        int first = 1;
        for (uint32_t c = nd->first_child; c; c = nodes[c - 1].next_sibling) {
            pp_buf_printf(out, "%s%u", first ? "" : ",", c);
            first = 0;
        }
        pp_buf_append_str(out, "]}");
    }
    int64_t start_us = p->time_nanos / 1000, total_us = 0;
    pp_buf_append_str(out, "],\"samples\":[");
    int first = 1;
    for (size_t i = 0; i < p->n_samples; i++) {
        int64_t count = count_i >= 0 ? p->samples[i].values[count_i] : 1;
        for (int64_t k = 0; k < count; k++) {
            pp_buf_printf(out, "%s%u", first ? "" : ",", leaf_of[i] + 1);
            first = 0;
        }
    }
    pp_buf_append_str(out, "],\"timeDeltas\":[");
    first = 1;
    for (size_t i = 0; i < p->n_samples; i++) {
        int64_t count = count_i >= 0 ? p->samples[i].values[count_i] : 1;
        if (count <= 0)
            continue;
        int64_t us = time_i >= 0 ? (p->samples[i].values[time_i] + 500) / 1000 : 0;
        int64_t base = us / count, extra = us - base * count; /* spread so the sum is exact */
        for (int64_t k = 0; k < count; k++) {
            int64_t delta = base + (k < extra ? 1 : 0);
            pp_buf_printf(out, "%s%" PRId64, first ? "" : ",", delta);
            total_us += delta;
            first = 0;
        }
    }
    pp_buf_printf(out, "],\"startTime\":%" PRId64 ",\"endTime\":%" PRId64 "}", start_us, start_us + total_us);
    free(nodes);
    free(leaf_of);
    pp_idmap_free(&children);
    if (out->failed)
        goto oom_nofree;
    return 0;
oom:
    free(nodes);
    free(leaf_of);
    pp_idmap_free(&children);
oom_nofree:
    snprintf(err, errlen, "cpuprofile: out of memory");
    return -1;
}
