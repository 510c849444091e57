#include "cpuprofile.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idmap.h"
#include "json.h"
#include "read_limits.h"

typedef struct node {
    uint32_t frame;    /* profile frame id; UINT32_MAX for the root */
    uint32_t parent;   /* node index */
    uint64_t hits;
    uint32_t first_child, next_sibling; /* node index + 1, 0 = none */
} node;

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

/* Nanoseconds to whole microseconds, rounded; negative times count as 0. */
static int64_t round_to_micros(int64_t ns)
{
    return ns <= 0 ? 0 : ns / 1000 + (ns % 1000 >= 500);
}

/* DevTools reads time from one `samples`/`timeDeltas` entry per tick. A
 * sample's count decides its ticks, up to PP_CPUPROFILE_MAX_TICKS per
 * sample: a count of billions (a merged or hand-made profile) would otherwise
 * write billions of entries. The sample's whole time is spread over the ticks
 * written, and its node's hitCount keeps the whole count. */
static int64_t sample_ticks(const pp_profile *p, size_t i, int count_i)
{
    int64_t count = count_i >= 0 ? p->samples[i].values[count_i] : 1;
    if (count <= 0)
        return 0;
    return count < PP_CPUPROFILE_MAX_TICKS ? count : PP_CPUPROFILE_MAX_TICKS;
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
        int64_t count = count_i >= 0 ? s->values[count_i] : 1;
        nodes[cur].hits = (uint64_t)pp_add_sat((int64_t)nodes[cur].hits, count > 0 ? count : 0);
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
        pp_json_string(out, name);
        /* DevTools wants a script id per url; the url's string id serves. */
        pp_buf_printf(out, ",\"scriptId\":\"%u\",\"url\":", *url ? pp_strtab_find(&p->strings, url) : 0);
        pp_json_string(out, url);
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
        int64_t ticks = sample_ticks(p, i, count_i);
        for (int64_t k = 0; k < ticks; k++) {
            pp_buf_printf(out, "%s%u", first ? "" : ",", leaf_of[i] + 1);
            first = 0;
        }
    }
    pp_buf_append_str(out, "],\"timeDeltas\":[");
    first = 1;
    for (size_t i = 0; i < p->n_samples; i++) {
        int64_t ticks = sample_ticks(p, i, count_i);
        if (ticks == 0)
            continue;
        int64_t us = time_i >= 0 ? round_to_micros(p->samples[i].values[time_i]) : 0;
        int64_t base = us / ticks, extra = us - base * ticks; /* spread so the sum is exact */
        for (int64_t k = 0; k < ticks; k++) {
            int64_t delta = base + (k < extra ? 1 : 0);
            pp_buf_printf(out, "%s%" PRId64, first ? "" : ",", delta);
            total_us = pp_add_sat(total_us, delta);
            first = 0;
        }
    }
    pp_buf_printf(out, "],\"startTime\":%" PRId64 ",\"endTime\":%" PRId64 "}", start_us,
                  pp_add_sat(start_us, total_us));
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

/* ------------------------------------------------------------------ reader */

typedef struct rnode {
    const cJSON *json;
    uint32_t parent;    /* node index + 1, 0 = none */
    uint32_t frame;     /* profile frame id + 1, 0 = not made yet */
    int64_t hits, ns;
    int64_t hit_count;  /* the node's own hitCount */
} rnode;

static int node_index(const pp_idmap *ids, const cJSON *id, uint32_t *out)
{
    if (!cJSON_IsNumber(id))
        return -1;
    uint32_t i = pp_idmap_get(ids, (uint64_t)pp_json_int64(id->valuedouble), 0, 0);
    if (i == UINT32_MAX)
        return -1;
    *out = i;
    return 0;
}

static uint32_t node_frame(pp_profile *p, rnode *nd)
{
    if (nd->frame)
        return nd->frame - 1;
    const cJSON *cf = cJSON_GetObjectItemCaseSensitive(nd->json, "callFrame");
    const char *name = pp_json_str(cf, "functionName", "");
    const cJSON *line = cJSON_GetObjectItemCaseSensitive(cf, "lineNumber");
    /* DevTools counts lines from 0 (-1: unknown). */
    pp_frame f = {.name = pp_profile_intern(p, *name ? name : "(anonymous)"),
                  .file = pp_profile_intern(p, pp_json_str(cf, "url", "")),
                  .line = cJSON_IsNumber(line) && line->valuedouble >= 0 ? pp_json_int64(line->valuedouble) + 1 : 0,
                  .kind = PP_FRAME_INTERP};
    if (f.name == UINT32_MAX || f.file == UINT32_MAX)
        return UINT32_MAX;
    uint32_t id = pp_profile_add_frame(p, &f);
    if (id != UINT32_MAX)
        nd->frame = id + 1;
    return id;
}

static int is_root(const rnode *nd)
{
    const cJSON *cf = cJSON_GetObjectItemCaseSensitive(nd->json, "callFrame");
    return !nd->parent && strcmp(pp_json_str(cf, "functionName", ""), "(root)") == 0;
}

pp_profile *pp_cpuprofile_read(const char *text, size_t len, char *err, size_t errlen)
{
    cJSON *root = pp_json_parse(text, len, "cpuprofile", err, errlen);
    if (!root)
        return NULL;
    const cJSON *jnodes = cJSON_GetObjectItemCaseSensitive(root, "nodes");
    const cJSON *samples = cJSON_GetObjectItemCaseSensitive(root, "samples");
    const cJSON *deltas = cJSON_GetObjectItemCaseSensitive(root, "timeDeltas");
    if (!cJSON_IsArray(jnodes)) {
        snprintf(err, errlen, "cpuprofile: no 'nodes' array: not a Chrome CPU profile");
        cJSON_Delete(root);
        return NULL;
    }
    size_t n = (size_t)cJSON_GetArraySize(jnodes);
    rnode *nodes = calloc(n ? n : 1, sizeof *nodes);
    uint32_t *stack = calloc(n ? n : 1, sizeof *stack);
    pp_idmap ids; /* node id -> index */
    pp_idmap_init(&ids);
    pp_profile *p = pp_profile_new();
    const char *problem = NULL;
    if (!nodes || !stack || !p || pp_profile_set_value_type(p, 0, "samples", "count") != 0 ||
        pp_profile_set_value_type(p, 1, "wall", "nanoseconds") != 0)
        goto oom;
    p->default_value = 1;
    size_t i = 0;
    const cJSON *jn;
    cJSON_ArrayForEach(jn, jnodes)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(jn, "id");
        if (!cJSON_IsNumber(id) || pp_idmap_get(&ids, (uint64_t)pp_json_int64(id->valuedouble), 0, 0) != UINT32_MAX) {
            problem = "a node without a unique numeric 'id'";
            goto bad;
        }
        if (pp_idmap_put(&ids, (uint64_t)pp_json_int64(id->valuedouble), 0, 0, (uint32_t)i) != 0)
            goto oom;
        nodes[i].json = jn;
        const cJSON *hc = cJSON_GetObjectItemCaseSensitive(jn, "hitCount");
        if (cJSON_IsNumber(hc) && hc->valuedouble > 0)
            nodes[i].hit_count = pp_json_int64(hc->valuedouble);
        if (!cJSON_IsArray(samples))
            nodes[i].hits = nodes[i].hit_count;
        i++;
    }
    for (i = 0; i < n; i++) { /* parents from children (or from 'parent', which some writers give) */
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(nodes[i].json, "children"))
        {
            uint32_t k;
            if (node_index(&ids, c, &k) != 0 || nodes[k].parent || k == i) {
                problem = "a child id that names no node, or a node with two parents";
                goto bad;
            }
            nodes[k].parent = (uint32_t)i + 1;
        }
        uint32_t k;
        const cJSON *par = cJSON_GetObjectItemCaseSensitive(nodes[i].json, "parent");
        if (par && !nodes[i].parent && node_index(&ids, par, &k) == 0 && k != i)
            nodes[i].parent = k + 1;
    }
    if (cJSON_IsArray(samples)) {
        const cJSON *s, *d = cJSON_IsArray(deltas) ? deltas->child : NULL;
        cJSON_ArrayForEach(s, samples)
        {
            uint32_t k;
            if (node_index(&ids, s, &k) != 0) {
                problem = "a sample that names no node";
                goto bad;
            }
            nodes[k].hits++;
            if (cJSON_IsNumber(d) && d->valuedouble > 0)
                pp_json_add(&nodes[k].ns, pp_json_int64(d->valuedouble * 1000.0));
            d = d ? d->next : NULL;
        }
        for (i = 0; i < n; i++)
            if (nodes[i].hit_count > nodes[i].hits)
                nodes[i].hits = nodes[i].hit_count;
    }
    for (i = 0; i < n; i++) {
        if (!nodes[i].hits && !nodes[i].ns)
            continue;
        uint32_t depth = 0;
        for (uint32_t k = (uint32_t)i + 1; k && !is_root(&nodes[k - 1]); k = nodes[k - 1].parent) {
            if (depth == n) {
                problem = "a cycle of parents";
                goto bad;
            }
            if (depth == PP_READ_MAX_DEPTH) {
                snprintf(err, errlen, "cpuprofile: node %zu: its stack exceeds the limit of %d frames per stack", i,
                         PP_READ_MAX_DEPTH);
                goto fail;
            }
            uint32_t f = node_frame(p, &nodes[k - 1]);
            if (f == UINT32_MAX)
                goto oom;
            stack[depth++] = f;
        }
        char where[40];
        snprintf(where, sizeof where, "node %zu", i);
        if (pp_read_check_stack(p, depth, "cpuprofile", where, err, errlen) != 0)
            goto fail;
        int64_t values[PP_MAX_VALUES] = {nodes[i].hits, nodes[i].ns};
        if (pp_profile_add_sample(p, stack, depth, NULL, 0, values) != 0)
            goto oom;
    }
    /* Without times (all deltas 0), the counts are what the profile says. */
    if (pp_profile_total(p, 1) == 0)
        p->default_value = 0;
    const cJSON *start = cJSON_GetObjectItemCaseSensitive(root, "startTime");
    const cJSON *end = cJSON_GetObjectItemCaseSensitive(root, "endTime");
    if (cJSON_IsNumber(start) && cJSON_IsNumber(end) && end->valuedouble >= start->valuedouble) {
        p->time_nanos = pp_json_int64(start->valuedouble) * 1000;
        p->duration_nanos = pp_json_int64(end->valuedouble - start->valuedouble) * 1000;
    }
    goto done;
bad:
    snprintf(err, errlen, "cpuprofile: %s", problem);
    goto fail;
oom:
    snprintf(err, errlen, "cpuprofile: out of memory");
fail:
    pp_profile_free(p);
    p = NULL;
done:
    free(nodes);
    free(stack);
    pp_idmap_free(&ids);
    cJSON_Delete(root);
    return p;
}
