#include "framedict.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include "idmap.h"
#include "strtab.h"
#include "symbols.h"

/* Key tags keep the three kinds of raw key apart in one map. */
enum { KEY_NATIVE = 1, KEY_INTERP = 2, KEY_SPECIAL = 3, KEY_CONTENT = 4, KEY_LABEL_NUM = 5, KEY_LABEL_STR = 6,
       KEY_MAPPING = 7 };

typedef struct dict_label {
    uint32_t key, str;
    int64_t num;
} dict_label;

struct pp_framedict {
    pp_strtab strings;
    pp_frame *frames;
    uint32_t n_frames, cap_frames;
    pp_mapping *mappings;
    uint32_t n_mappings, cap_mappings;
    dict_label *labels;
    uint32_t n_labels, cap_labels;
    pp_idmap keys;
    pp_symbolizer *symbolizer;
    uint64_t last_refresh_ns;
    unsigned long long refreshed_at_loads; /* pp_loaded_objects_changes() when the mappings were last read */
    uint8_t *plumbing; /* per frame id: 0 unknown, 1 no, 2 yes */
    uint32_t cap_plumbing;
};

pp_framedict *pp_framedict_new(void)
{
    pp_framedict *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    if (pp_strtab_init(&d->strings) != 0) {
        free(d);
        return NULL;
    }
    pp_idmap_init(&d->keys);
    d->symbolizer = pp_symbolizer_new();
    return d;
}

void pp_framedict_free(pp_framedict *d)
{
    if (!d)
        return;
    pp_strtab_free(&d->strings);
    free(d->frames);
    free(d->mappings);
    free(d->labels);
    pp_idmap_free(&d->keys);
    free(d->plumbing);
    if (d->symbolizer)
        pp_symbolizer_free(d->symbolizer);
    free(d);
}

size_t pp_framedict_bytes(const pp_framedict *d)
{
    return sizeof *d + d->strings.bytes + d->cap_frames * sizeof(pp_frame) + d->cap_mappings * sizeof(pp_mapping) +
           d->cap_labels * sizeof(dict_label) + pp_idmap_bytes(&d->keys);
}

void pp_framedict_refresh_symbols(pp_framedict *d)
{
    if (d->symbolizer)
        pp_symbolizer_refresh(d->symbolizer);
}

static uint32_t add_frame(pp_framedict *d, const pp_frame *f)
{
    if (d->n_frames == d->cap_frames) {
        uint32_t cap = d->cap_frames ? d->cap_frames * 2 : 256;
        pp_frame *p = realloc(d->frames, cap * sizeof *p);
        if (!p)
            return UINT32_MAX;
        d->frames = p;
        d->cap_frames = cap;
    }
    d->frames[d->n_frames] = *f;
    return d->n_frames++;
}

/* Frames with the same content share an id, so a function resolved through
 * several raw keys (e.g. uncacheable interpreter frames) aggregates as one. */
static uint32_t intern_frame(pp_framedict *d, const pp_frame *f)
{
    uint64_t a = ((uint64_t)f->kind << 56) ^ ((uint64_t)f->name << 28) ^ f->file;
    uint64_t b = ((uint64_t)f->line << 32) ^ (uint64_t)f->start_line;
    uint64_t c = f->address ^ ((uint64_t)f->mapping << 48) ^ ((uint64_t)KEY_CONTENT << 60);
    uint32_t id = pp_idmap_get(&d->keys, a, b, c);
    if (id != UINT32_MAX && d->frames[id].name == f->name && d->frames[id].file == f->file &&
        d->frames[id].line == f->line && d->frames[id].address == f->address)
        return id;
    id = add_frame(d, f);
    if (id != UINT32_MAX)
        pp_idmap_put(&d->keys, a, b, c, id);
    return id;
}

uint32_t pp_framedict_special(pp_framedict *d, pp_special s)
{
    uint32_t id = pp_idmap_get(&d->keys, KEY_SPECIAL, s, 0);
    if (id != UINT32_MAX)
        return id;
    pp_frame f = {0};
    f.kind = PP_FRAME_SPECIAL;
    f.name = pp_strtab_intern(&d->strings, pp_special_name(s));
    id = add_frame(d, &f);
    if (id != UINT32_MAX)
        pp_idmap_put(&d->keys, KEY_SPECIAL, s, 0, id);
    return id;
}

static uint32_t mapping_for(pp_framedict *d, const pp_symbol_info *si)
{
    uint32_t id = pp_idmap_get(&d->keys, KEY_MAPPING, si->map_start, si->map_limit);
    if (id != UINT32_MAX) {
        /* The range was an anonymous reservation when first seen and is a
         * file now (the loader maps a library over its reservation): the
         * mapping takes the file's name, for the frames named before too. */
        pp_mapping *m = &d->mappings[id - 1];
        const char *was = pp_strtab_get(&d->strings, m->file);
        if (si->object && strncmp(si->object, "[anon", 5) != 0 && was && !strncmp(was, "[anon", 5)) {
            m->offset = si->map_offset;
            m->file = pp_strtab_intern(&d->strings, si->object);
            m->build_id = si->build_id ? pp_strtab_intern(&d->strings, si->build_id) : 0;
        }
        return id;
    }
    if (d->n_mappings == d->cap_mappings) {
        uint32_t cap = d->cap_mappings ? d->cap_mappings * 2 : 32;
        pp_mapping *p = realloc(d->mappings, cap * sizeof *p);
        if (!p)
            return 0;
        d->mappings = p;
        d->cap_mappings = cap;
    }
    pp_mapping *m = &d->mappings[d->n_mappings++];
    m->start = si->map_start;
    m->limit = si->map_limit;
    m->offset = si->map_offset;
    m->file = pp_strtab_intern(&d->strings, si->object ? si->object : "");
    m->build_id = si->build_id ? pp_strtab_intern(&d->strings, si->build_id) : 0;
    pp_idmap_put(&d->keys, KEY_MAPPING, si->map_start, si->map_limit, d->n_mappings);
    return d->n_mappings; /* 1-based */
}

uint32_t pp_framedict_native(pp_framedict *d, uintptr_t pc, int leaf)
{
    /* A return address points after the call; pc - 1 is inside the calling
     * instruction, which is what names the caller's line correctly. */
    uint64_t addr = leaf ? pc : pc - 1;
    uint32_t id = pp_idmap_get(&d->keys, KEY_NATIVE, addr, 0);
    if (id != UINT32_MAX)
        return id;
    pp_frame f = {0};
    f.kind = PP_FRAME_NATIVE;
    f.address = addr;
    pp_symbol_info si;
    char fallback[320];
    int found = d->symbolizer && pp_symbolizer_lookup(d->symbolizer, addr, &si) == 0;
    /* An address in an unnamed mapping may be a library the loader was
     * mapping when the mappings were read (it reserves the range anonymously
     * first): read them again once the loader has loaded or unloaded an
     * object since, so its frames are not named [anon:0x...] for good. */
    if (found && d->symbolizer && si.object && !strncmp(si.object, "[anon", 5)) {
        unsigned long long loads = pp_loaded_objects_changes();
        if (loads != d->refreshed_at_loads) {
            d->refreshed_at_loads = loads;
            d->last_refresh_ns = pp_now_ns();
            pp_symbolizer_refresh(d->symbolizer);
            found = pp_symbolizer_lookup(d->symbolizer, addr, &si) == 0;
        }
    }
    if (!found && d->symbolizer) {
        /* A library loaded since the last look at the mappings. Re-reading
         * /proc/self/maps costs ~0.1 ms, so at most every 50 ms. */
        uint64_t now = pp_now_ns();
        if (now - d->last_refresh_ns > 50000000ULL) {
            d->last_refresh_ns = now;
            pp_symbolizer_refresh(d->symbolizer);
            found = pp_symbolizer_lookup(d->symbolizer, addr, &si) == 0;
        }
    }
    if (found) {
        f.mapping = mapping_for(d, &si);
        if (si.name) {
            f.name = pp_strtab_intern(&d->strings, si.name);
            if (si.raw_name && strcmp(si.raw_name, si.name) != 0)
                f.system_name = pp_strtab_intern(&d->strings, si.raw_name);
        } else {
            snprintf(fallback, sizeof fallback, "%s+0x%" PRIx64, si.object_base ? si.object_base : "?",
                     (uint64_t)si.offset_in_object);
            f.name = pp_strtab_intern(&d->strings, fallback);
        }
    } else {
        /* Not cached by pc: a later refresh may still find the library. */
        snprintf(fallback, sizeof fallback, "[unknown]+0x%" PRIx64, addr);
        f.name = pp_strtab_intern(&d->strings, fallback);
        return intern_frame(d, &f);
    }
    id = add_frame(d, &f);
    if (id != UINT32_MAX)
        pp_idmap_put(&d->keys, KEY_NATIVE, addr, 0, id);
    return id;
}

static int in_ranges(const pp_addr_range *r, size_t n, uint64_t pc)
{
    for (size_t i = 0; i < n; i++)
        if (pc >= r[i].start && pc < r[i].end)
            return 1;
    return 0;
}

int pp_framedict_native_is_plumbing(pp_framedict *d, uintptr_t pc, int leaf, const pp_runtime *rt)
{
    if (!rt || !rt->is_plumbing || !in_ranges(rt->plumbing, rt->n_plumbing, leaf ? pc : pc - 1))
        return 0;
    uint32_t id = pp_framedict_native(d, pc, leaf);
    if (id == UINT32_MAX)
        return 0;
    if (id >= d->cap_plumbing) {
        uint32_t cap = d->cap_plumbing ? d->cap_plumbing : 256;
        while (cap <= id)
            cap *= 2;
        uint8_t *p = realloc(d->plumbing, cap);
        if (!p)
            return 0;
        memset(p + d->cap_plumbing, 0, cap - d->cap_plumbing);
        d->plumbing = p;
        d->cap_plumbing = cap;
    }
    if (!d->plumbing[id])
        d->plumbing[id] = rt->is_plumbing(rt->ctx, pp_strtab_get(&d->strings, d->frames[id].name)) ? 2 : 1;
    return d->plumbing[id] == 2;
}

uint32_t pp_framedict_interp(pp_framedict *d, const pp_raw_frame *raw, pp_resolve_session *rs)
{
    uint64_t b = ((uint64_t)raw->offset << 8) | KEY_INTERP;
    uint32_t id = pp_idmap_get(&d->keys, raw->code, b, raw->check);
    if (id != UINT32_MAX)
        return id;
    pp_resolved_frame r;
    memset(&r, 0, sizeof r);
    int rc = -1;
    if (rs->rt && rs->rt->resolve_fast)
        rc = rs->rt->resolve_fast(rs->rt->ctx, raw, &r);
    if (rc != 0) {
        if (!rs->rt || !rs->rt->resolve || !pp_resolve_session_ready(rs))
            return pp_framedict_special(d, PP_SPECIAL_UNRESOLVED);
        memset(&r, 0, sizeof r);
        rc = rs->rt->resolve(rs->rt->ctx, raw, &r);
    }
    if (rc < 0)
        return pp_framedict_special(d, PP_SPECIAL_UNRESOLVED);
    pp_frame f = {0};
    f.kind = PP_FRAME_INTERP;
    r.name[sizeof r.name - 1] = '\0';
    r.file[sizeof r.file - 1] = '\0';
    f.name = pp_strtab_intern(&d->strings, r.name);
    f.file = pp_strtab_intern(&d->strings, r.file);
    f.line = r.line;
    f.start_line = r.start_line;
    id = intern_frame(d, &f);
    if (id != UINT32_MAX && rc == 0)
        pp_idmap_put(&d->keys, raw->code, b, raw->check, id);
    return id;
}

int pp_resolve_session_ready(pp_resolve_session *rs)
{
    if (!rs->rt)
        return 0;
    if (rs->begun == 0)
        rs->begun = (rs->rt->resolve_begin && rs->rt->resolve_begin(rs->rt->ctx) != 0) ? -1 : 1;
    return rs->begun > 0;
}

void pp_resolve_session_end(pp_resolve_session *rs)
{
    if (rs->begun > 0 && rs->rt->resolve_end)
        rs->rt->resolve_end(rs->rt->ctx);
    rs->begun = 0;
}

static uint32_t add_label(pp_framedict *d, uint32_t key, uint32_t str, int64_t num, uint64_t tag)
{
    uint32_t id = pp_idmap_get(&d->keys, tag, key, tag == KEY_LABEL_STR ? str : (uint64_t)num);
    if (id != UINT32_MAX)
        return id;
    if (d->n_labels == d->cap_labels) {
        uint32_t cap = d->cap_labels ? d->cap_labels * 2 : 64;
        dict_label *p = realloc(d->labels, cap * sizeof *p);
        if (!p)
            return UINT32_MAX;
        d->labels = p;
        d->cap_labels = cap;
    }
    d->labels[d->n_labels] = (dict_label){key, str, num};
    id = d->n_labels++;
    pp_idmap_put(&d->keys, tag, key, tag == KEY_LABEL_STR ? str : (uint64_t)num, id);
    return id;
}

uint32_t pp_framedict_label_num(pp_framedict *d, const char *key, int64_t num)
{
    return add_label(d, pp_strtab_intern(&d->strings, key), 0, num, KEY_LABEL_NUM);
}

uint32_t pp_framedict_label_str(pp_framedict *d, const char *key, const char *str)
{
    return add_label(d, pp_strtab_intern(&d->strings, key), pp_strtab_intern(&d->strings, str), 0, KEY_LABEL_STR);
}

int pp_framedict_label_matches(const pp_framedict *d, uint32_t label, const char *key, const char *str)
{
    if (label >= d->n_labels)
        return 0;
    const dict_label *l = &d->labels[label];
    return l->str && !strcmp(pp_strtab_get(&d->strings, l->key), key) &&
           !strcmp(pp_strtab_get(&d->strings, l->str), str);
}

static void export_mapping(const pp_framedict *d, uint32_t mi, pp_profile *p, uint32_t *mapping_memo);

uint32_t pp_framedict_count_frames(const pp_framedict *d) { return d->n_frames; }
uint32_t pp_framedict_count_labels(const pp_framedict *d) { return d->n_labels; }
uint32_t pp_framedict_count_mappings(const pp_framedict *d) { return d->n_mappings; }

uint32_t pp_framedict_export_frame(const pp_framedict *d, uint32_t id, pp_profile *p, uint32_t *memo,
                                   uint32_t *mapping_memo)
{
    if (memo[id] != UINT32_MAX)
        return memo[id];
    const pp_frame *src = &d->frames[id];
    pp_frame f = *src;
    f.name = pp_profile_intern(p, pp_strtab_get(&d->strings, src->name));
    f.system_name = src->system_name ? pp_profile_intern(p, pp_strtab_get(&d->strings, src->system_name)) : 0;
    f.file = src->file ? pp_profile_intern(p, pp_strtab_get(&d->strings, src->file)) : 0;
    f.mapping = 0;
    if (src->mapping) {
        uint32_t mi = src->mapping - 1;
        export_mapping(d, mi, p, mapping_memo);
        f.mapping = mapping_memo[mi] == UINT32_MAX ? 0 : mapping_memo[mi];
    }
    memo[id] = pp_profile_add_frame(p, &f);
    return memo[id];
}

static void export_mapping(const pp_framedict *d, uint32_t mi, pp_profile *p, uint32_t *mapping_memo)
{
    if (mapping_memo[mi] != UINT32_MAX)
        return;
    pp_mapping m = d->mappings[mi];
    m.file = pp_profile_intern(p, pp_strtab_get(&d->strings, m.file));
    m.build_id = m.build_id ? pp_profile_intern(p, pp_strtab_get(&d->strings, m.build_id)) : 0;
    mapping_memo[mi] = pp_profile_add_mapping(p, &m);
}

void pp_framedict_export_main_mapping(pp_framedict *d, pp_profile *p, uint32_t *mapping_memo)
{
    pp_symbol_info si;
    uintptr_t entry = (uintptr_t)getauxval(AT_ENTRY); /* the executable's entry point */
    if (!entry || !d->symbolizer || pp_symbolizer_lookup(d->symbolizer, entry, &si) != 0)
        return;
    uint32_t m = mapping_for(d, &si);
    if (m)
        export_mapping(d, m - 1, p, mapping_memo);
}

void pp_framedict_export_label(const pp_framedict *d, uint32_t id, pp_profile *p, pp_label *out)
{
    const dict_label *l = &d->labels[id];
    memset(out, 0, sizeof *out);
    out->key = pp_profile_intern(p, pp_strtab_get(&d->strings, l->key));
    if (l->str)
        out->str = pp_profile_intern(p, pp_strtab_get(&d->strings, l->str));
    else
        out->num = l->num;
}
