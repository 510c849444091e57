/* Event profiles: samples a runtime reports from its own callbacks rather
 * than from the core's signal (the JVM's sampled allocations), each a raw
 * interpreter stack with caller-given values. Stacks are aggregated by
 * content under one mutex with a memory cap, and named only at export,
 * through the same runtime resolver the sampler uses, so a frame is named
 * once however often it was recorded. Not async-signal-safe: it allocates. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events.h"
#include "idmap.h"
#include "merge.h"
#include "polyprof.h"
#include "symbols.h"

#define EV_NAME_MAX 256

typedef struct ev_frame {
    pp_raw_frame raw;
    char *name; /* named frame (e.g. an allocated class), NULL for raw frames */
} ev_frame;

typedef struct ev_stack {
    uint32_t first, n; /* into stack_frames */
    int64_t values[4];
} ev_stack;

struct pp_events {
    pthread_mutex_t lock;
    uint32_t n_values;
    char types[4][32], units[4][32];
    char period_type[32], period_unit[32];
    int64_t period;
    size_t max_memory, bytes;
    int64_t start_wall_ns;
    uint64_t start_ns;

    ev_frame *frames;
    uint32_t n_frames, cap_frames;
    pp_idmap frame_keys;

    uint32_t *stack_frames;
    size_t n_stack_frames, cap_stack_frames;
    ev_stack *stacks;
    uint32_t n_stacks, cap_stacks;
    pp_idmap stack_keys;

    uint64_t recorded, dropped;
    int64_t overflow[4];
    /* One sample's frame ids, under the lock: 16 KiB is too much for the
     * stack of an allocating thread. */
    uint32_t ids[PP_MAX_EVENT_FRAMES + 1];
};

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static void copy_name(char *dst, size_t len, const char *src) { snprintf(dst, len, "%s", src ? src : ""); }

pp_events *pp_events_new(const char *const *types, const char *const *units, uint32_t n_values,
                         const char *period_type, const char *period_unit, int64_t period, size_t max_memory)
{
    if (n_values == 0 || n_values > 4)
        return NULL;
    pp_events *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    pthread_mutex_init(&e->lock, NULL);
    e->n_values = n_values;
    for (uint32_t i = 0; i < n_values; i++) {
        copy_name(e->types[i], sizeof e->types[i], types[i]);
        copy_name(e->units[i], sizeof e->units[i], units[i]);
    }
    copy_name(e->period_type, sizeof e->period_type, period_type);
    copy_name(e->period_unit, sizeof e->period_unit, period_unit);
    e->period = period;
    e->max_memory = max_memory ? max_memory : (64u << 20);
    pp_idmap_init(&e->frame_keys);
    pp_idmap_init(&e->stack_keys);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    e->start_wall_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    e->start_ns = pp_now_ns();
    return e;
}

void pp_events_free(pp_events *e)
{
    if (!e)
        return;
    for (uint32_t i = 0; i < e->n_frames; i++)
        free(e->frames[i].name);
    free(e->frames);
    free(e->stack_frames);
    free(e->stacks);
    pp_idmap_free(&e->frame_keys);
    pp_idmap_free(&e->stack_keys);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

/* Caller holds the lock. UINT32_MAX when out of memory or past the cap. */
static uint32_t intern_frame(pp_events *e, const pp_raw_frame *raw, const char *name)
{
    uint64_t a, b, c;
    if (name) {
        a = fnv(14695981039346656037ULL, name, strlen(name));
        b = strlen(name);
        c = 2;
    } else {
        a = raw->code;
        b = raw->check;
        c = ((uint64_t)raw->offset << 8) | 1 | ((raw->flags & PP_RAW_NATIVE_PC) ? 4 : 0) |
            ((raw->flags & PP_RAW_TRUNCATED) ? 8 : 0);
    }
    /* Named frames are keyed by a hash: confirm the text (probing on). */
    for (uint64_t salt = 0;; salt++) {
        uint32_t id = pp_idmap_get(&e->frame_keys, a, b, c + (salt << 40));
        if (id == UINT32_MAX) {
            c += salt << 40;
            break;
        }
        if (!name || (e->frames[id].name && !strcmp(e->frames[id].name, name)))
            return id;
    }
    if (e->bytes + sizeof(ev_frame) + (name ? strlen(name) + 1 : 0) > e->max_memory)
        return UINT32_MAX;
    if (e->n_frames == e->cap_frames) {
        uint32_t cap = e->cap_frames ? e->cap_frames * 2 : 256;
        ev_frame *p = realloc(e->frames, cap * sizeof *p);
        if (!p)
            return UINT32_MAX;
        e->frames = p;
        e->bytes += (cap - e->cap_frames) * sizeof *p;
        e->cap_frames = cap;
    }
    ev_frame *f = &e->frames[e->n_frames];
    memset(f, 0, sizeof *f);
    if (name) {
        f->name = strdup(name);
        if (!f->name)
            return UINT32_MAX;
        e->bytes += strlen(name) + 1;
    } else {
        f->raw = *raw;
        f->raw.flags = raw->flags & (PP_RAW_NATIVE_PC | PP_RAW_TRUNCATED);
    }
    if (pp_idmap_put(&e->frame_keys, a, b, c, e->n_frames) != 0) {
        free(f->name);
        return UINT32_MAX;
    }
    return e->n_frames++;
}

static int add_values(pp_events *e, int64_t *dst, const int64_t *values)
{
    for (uint32_t i = 0; i < e->n_values; i++)
        dst[i] += values[i];
    return 0;
}

/* Caller holds the lock. */
static int add_stack(pp_events *e, const uint32_t *ids, uint32_t n, const int64_t *values, uint32_t *stack)
{
    uint64_t h = fnv(14695981039346656037ULL, ids, n * sizeof *ids);
    for (uint64_t salt = 0;; salt++) {
        uint32_t id = pp_idmap_get(&e->stack_keys, h, n, salt);
        if (id == UINT32_MAX) {
            if (e->n_stacks == e->cap_stacks) {
                uint32_t cap = e->cap_stacks ? e->cap_stacks * 2 : 256;
                size_t grow = (cap - e->cap_stacks) * sizeof(ev_stack);
                if (e->bytes + grow > e->max_memory)
                    return -1;
                ev_stack *p = realloc(e->stacks, cap * sizeof *p);
                if (!p)
                    return -1;
                e->stacks = p;
                e->bytes += grow;
                e->cap_stacks = cap;
            }
            if (e->n_stack_frames + n > e->cap_stack_frames) {
                size_t cap = e->cap_stack_frames ? e->cap_stack_frames * 2 : 4096;
                while (cap < e->n_stack_frames + n)
                    cap *= 2;
                size_t grow = (cap - e->cap_stack_frames) * sizeof(uint32_t);
                if (e->bytes + grow > e->max_memory)
                    return -1;
                uint32_t *p = realloc(e->stack_frames, cap * sizeof *p);
                if (!p)
                    return -1;
                e->stack_frames = p;
                e->bytes += grow;
                e->cap_stack_frames = cap;
            }
            ev_stack *s = &e->stacks[e->n_stacks];
            memset(s, 0, sizeof *s);
            s->first = (uint32_t)e->n_stack_frames;
            s->n = n;
            memcpy(e->stack_frames + e->n_stack_frames, ids, n * sizeof *ids);
            if (pp_idmap_put(&e->stack_keys, h, n, salt, e->n_stacks) != 0)
                return -1;
            e->n_stack_frames += n;
            add_values(e, s->values, values);
            *stack = e->n_stacks++;
            return 0;
        }
        ev_stack *s = &e->stacks[id];
        if (s->n == n && !memcmp(e->stack_frames + s->first, ids, n * sizeof *ids)) {
            *stack = id;
            return add_values(e, s->values, values);
        }
    }
}

int pp_events_record(pp_events *e, const char *leaf_name, const pp_raw_frame *frames, uint32_t n_frames,
                     const int64_t *values)
{
    return pp_events_record_stack(e, leaf_name, frames, n_frames, values, NULL);
}

int pp_events_record_stack(pp_events *e, const char *leaf_name, const pp_raw_frame *frames, uint32_t n_frames,
                           const int64_t *values, uint32_t *stack_out)
{
    if (n_frames > PP_MAX_EVENT_FRAMES)
        n_frames = PP_MAX_EVENT_FRAMES;
    pthread_mutex_lock(&e->lock);
    uint32_t *ids = e->ids;
    e->recorded++;
    uint32_t n = 0;
    int ok = 1;
    if (leaf_name && *leaf_name) {
        ids[n] = intern_frame(e, NULL, leaf_name);
        ok = ids[n++] != UINT32_MAX;
    }
    for (uint32_t i = 0; ok && i < n_frames; i++) {
        ids[n] = intern_frame(e, &frames[i], NULL);
        ok = ids[n++] != UINT32_MAX;
    }
    uint32_t stack = PP_EVENTS_OVERFLOW;
    if (ok && add_stack(e, ids, n, values, &stack) != 0)
        ok = 0;
    if (stack_out)
        *stack_out = ok ? stack : PP_EVENTS_OVERFLOW;
    if (!ok) {
        /* Past the cap (or out of memory): counted in one overflow stack. */
        e->dropped++;
        add_values(e, e->overflow, values);
    }
    int dropped = !ok;
    pthread_mutex_unlock(&e->lock);
    return dropped ? -1 : 0;
}

void pp_events_add(pp_events *e, uint32_t stack, const int64_t *values)
{
    pthread_mutex_lock(&e->lock);
    if (stack < e->n_stacks)
        add_values(e, e->stacks[stack].values, values);
    else
        add_values(e, e->overflow, values);
    pthread_mutex_unlock(&e->lock);
}

void pp_events_new_window(pp_events *e, uint32_t clear_mask)
{
    pthread_mutex_lock(&e->lock);
    for (uint32_t i = 0; i < e->n_values; i++) {
        if (!(clear_mask & (1u << i)))
            continue;
        for (uint32_t s = 0; s < e->n_stacks; s++)
            e->stacks[s].values[i] = 0;
        e->overflow[i] = 0;
    }
    e->recorded = 0;
    e->dropped = 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    e->start_wall_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    e->start_ns = pp_now_ns();
    pthread_mutex_unlock(&e->lock);
}

typedef struct named {
    char name[EV_NAME_MAX];
    char file[512];
    int64_t line, start_line;
    int kind;
    int omit; /* runtime plumbing: left out of stacks */
} named;

/* A native return address: its function (or object+offset), through the
 * ELF symbol tables; the caller's call site is pc - 1. */
static void name_native(pp_symbolizer **sym, const pp_runtime *rt, uintptr_t pc, named *n)
{
    if (!*sym)
        *sym = pp_symbolizer_new();
    pp_symbol_info si;
    n->kind = 0;
    if (*sym && pp_symbolizer_lookup(*sym, pc - 1, &si) == 0) {
        if (si.name)
            copy_name(n->name, sizeof n->name, si.name);
        else
            snprintf(n->name, sizeof n->name, "%s+0x%llx", si.object_base ? si.object_base : "?",
                     (unsigned long long)si.offset_in_object);
        copy_name(n->file, sizeof n->file, si.object);
        n->omit = si.name && rt && rt->is_plumbing && rt->is_plumbing(rt->ctx, si.name);
    } else {
        snprintf(n->name, sizeof n->name, "[unknown]+0x%llx", (unsigned long long)pc);
    }
}

/* Names every frame once; frames that cannot be named become
 * "[unresolved frame]", as in sampled profiles. */
static void name_frames(pp_events *e, const pp_runtime *rt, named *out)
{
    int begun = 0;
    pp_symbolizer *sym = NULL;
    for (uint32_t i = 0; i < e->n_frames; i++) {
        named *n = &out[i];
        memset(n, 0, sizeof *n);
        if (e->frames[i].name) {
            copy_name(n->name, sizeof n->name, e->frames[i].name);
            n->kind = 1;
            continue;
        }
        if (e->frames[i].raw.flags & PP_RAW_TRUNCATED) {
            copy_name(n->name, sizeof n->name, pp_special_name(PP_SPECIAL_TRUNCATED));
            n->kind = 2;
            continue;
        }
        if (e->frames[i].raw.flags & PP_RAW_NATIVE_PC) {
            name_native(&sym, rt, e->frames[i].raw.code, n);
            continue;
        }
        pp_resolved_frame r;
        memset(&r, 0, sizeof r);
        int rc = -1;
        if (rt && rt->resolve_fast)
            rc = rt->resolve_fast(rt->ctx, &e->frames[i].raw, &r);
        if (rc != 0 && rt && rt->resolve) {
            if (!begun)
                begun = (rt->resolve_begin && rt->resolve_begin(rt->ctx) != 0) ? -1 : 1;
            if (begun > 0) {
                memset(&r, 0, sizeof r);
                rc = rt->resolve(rt->ctx, &e->frames[i].raw, &r);
            }
        }
        if (rc < 0) {
            copy_name(n->name, sizeof n->name, pp_special_name(PP_SPECIAL_UNRESOLVED));
            n->kind = 2;
            continue;
        }
        r.name[sizeof r.name - 1] = '\0';
        r.file[sizeof r.file - 1] = '\0';
        copy_name(n->name, sizeof n->name, r.name);
        copy_name(n->file, sizeof n->file, r.file);
        n->line = r.line;
        n->start_line = r.start_line;
        n->kind = 1;
    }
    if (begun > 0 && rt->resolve_end)
        rt->resolve_end(rt->ctx);
    pp_symbolizer_free(sym);
}

static void add_count(pp_profile *p, const char *key, unsigned long long v)
{
    char line[96];
    snprintf(line, sizeof line, "%s=%llu", key, v);
    pp_profile_add_metadata(p, line);
}

pp_profile *pp_events_export(pp_events *e, const pp_runtime *rt) { return pp_events_export_ordered(e, rt, NULL); }

static int all_zero(const int64_t *v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (v[i])
            return 0;
    return 1;
}

pp_profile *pp_events_export_ordered(pp_events *e, const pp_runtime *rt, const uint32_t *order)
{
    const char *types[4], *units[4];
    uint32_t ord[4];
    for (uint32_t i = 0; i < e->n_values; i++) {
        ord[i] = order && order[i] < e->n_values ? order[i] : i;
        types[i] = e->types[ord[i]];
        units[i] = e->units[ord[i]];
    }
    pp_profile *p = pp_profile_create(types, units, e->n_values, e->period_type, e->period_unit, e->period);
    if (!p)
        return NULL;
    pthread_mutex_lock(&e->lock);
    named *names = calloc(e->n_frames + 1, sizeof *names);
    pp_frame_spec *specs = calloc(PP_MAX_EVENT_FRAMES + 1, sizeof *specs);
    int rc = names && specs ? 0 : -1;
    if (rc == 0)
        name_frames(e, rt, names);
    for (uint32_t s = 0; rc == 0 && s < e->n_stacks; s++) {
        const ev_stack *st = &e->stacks[s];
        int64_t v[4];
        for (uint32_t i = 0; i < e->n_values; i++)
            v[i] = st->values[ord[i]];
        /* Nothing left in this window (an event profile whose live values
         * went back to zero, or a new window): not worth a sample. */
        if (all_zero(v, e->n_values))
            continue;
        uint32_t depth = 0;
        for (uint32_t i = 0; i < st->n; i++) {
            const named *n = &names[e->stack_frames[st->first + i]];
            if (!n->omit)
                specs[depth++] = (pp_frame_spec){n->name, n->file, n->line, n->start_line, n->kind};
        }
        rc = pp_profile_append(p, specs, depth, NULL, 0, v);
    }
    if (rc == 0 && !all_zero(e->overflow, e->n_values)) {
        int64_t v[4];
        for (uint32_t i = 0; i < e->n_values; i++)
            v[i] = e->overflow[ord[i]];
        specs[0] = (pp_frame_spec){pp_special_name(PP_SPECIAL_OVERFLOW), "", 0, 0, 2};
        rc = pp_profile_append(p, specs, 1, NULL, 0, v);
    }
    add_count(p, "events_recorded", e->recorded);
    add_count(p, "dropped_memory_cap", e->dropped);
    add_count(p, "table_bytes", e->bytes);
    if (rt && rt->note && rt->note[0])
        pp_profile_add_metadata(p, rt->note);
    pthread_mutex_unlock(&e->lock);
    pp_profile_set_times(p, e->start_wall_ns, (int64_t)(pp_now_ns() - e->start_ns));
    free(names);
    free(specs);
    if (rc != 0) {
        pp_profile_free(p);
        return NULL;
    }
    return p;
}
