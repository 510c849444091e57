#include "stacks.h"

#include <stdlib.h>
#include <string.h>

typedef struct entry {
    uint64_t hash;
    uint64_t count, value;
    uint32_t offset; /* into words: frames then labels */
    uint16_t n_frames, n_labels;
} entry;

struct pp_stack_table {
    size_t max_bytes;
    entry *entries;
    size_t n_entries, cap_entries;
    uint32_t *words;
    size_t n_words, cap_words;
    uint32_t *slots; /* entry index + 1, 0 empty */
    size_t n_slots;
    uint64_t overflow_count, overflow_value;
};

static uint64_t hash_key(const uint32_t *frames, uint32_t nf, const uint32_t *labels, uint32_t nl)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)nf << 32 | nl);
    for (uint32_t i = 0; i < nf; i++)
        h = (h ^ frames[i]) * 0xff51afd7ed558ccdULL;
    for (uint32_t i = 0; i < nl; i++)
        h = (h ^ labels[i]) * 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 29);
}

static size_t bytes_for(size_t cap_entries, size_t cap_words, size_t n_slots)
{
    return sizeof(pp_stack_table) + cap_entries * sizeof(entry) + cap_words * sizeof(uint32_t) +
           n_slots * sizeof(uint32_t);
}

pp_stack_table *pp_stack_table_new(size_t max_bytes)
{
    pp_stack_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->max_bytes = max_bytes;
    return t;
}

void pp_stack_table_free(pp_stack_table *t)
{
    if (!t)
        return;
    free(t->entries);
    free(t->words);
    free(t->slots);
    free(t);
}

size_t pp_stack_table_size(const pp_stack_table *t) { return t->n_entries; }

size_t pp_stack_table_bytes(const pp_stack_table *t) { return bytes_for(t->cap_entries, t->cap_words, t->n_slots); }

void pp_stack_table_overflow(const pp_stack_table *t, uint64_t *count, uint64_t *value)
{
    *count = t->overflow_count;
    *value = t->overflow_value;
}

static int key_equals(const pp_stack_table *t, const entry *en, uint64_t h, const uint32_t *frames, uint32_t nf,
                      const uint32_t *labels, uint32_t nl)
{
    if (en->hash != h || en->n_frames != nf || en->n_labels != nl)
        return 0;
    const uint32_t *w = t->words + en->offset;
    return (nf == 0 || memcmp(w, frames, nf * sizeof *frames) == 0) &&
           (nl == 0 || memcmp(w + nf, labels, nl * sizeof *labels) == 0);
}

/* Grows the three arrays so one more key of `words` words fits, unless that
 * would pass the cap. Doubling is bounded: the last step is clamped so the
 * table can fill the cap rather than stop at the previous power of two. */
static int make_room(pp_stack_table *t, size_t words)
{
    size_t cap_e = t->cap_entries, cap_w = t->cap_words, n_s = t->n_slots;
    if (t->n_entries + 1 > cap_e)
        cap_e = cap_e ? cap_e * 2 : 256;
    while (t->n_words + words > cap_w)
        cap_w = cap_w ? cap_w * 2 : 4096;
    while ((t->n_entries + 1) * 2 > n_s)
        n_s = n_s ? n_s * 2 : 512;
    if (bytes_for(cap_e, cap_w, n_s) > t->max_bytes) {
        /* Try the smallest growth that still fits. */
        cap_e = t->n_entries + 1 > t->cap_entries ? t->n_entries + 1 + t->n_entries / 8 : t->cap_entries;
        cap_w = t->n_words + words > t->cap_words ? t->n_words + words + t->n_words / 8 : t->cap_words;
        if (n_s != t->n_slots || bytes_for(cap_e, cap_w, n_s) > t->max_bytes)
            return -1;
    }
    if (cap_e != t->cap_entries) {
        entry *p = realloc(t->entries, cap_e * sizeof *p);
        if (!p)
            return -1;
        t->entries = p;
        t->cap_entries = cap_e;
    }
    if (cap_w != t->cap_words) {
        uint32_t *p = realloc(t->words, cap_w * sizeof *p);
        if (!p)
            return -1;
        t->words = p;
        t->cap_words = cap_w;
    }
    if (n_s != t->n_slots) {
        uint32_t *slots = calloc(n_s, sizeof *slots);
        if (!slots)
            return -1;
        for (size_t i = 0; i < t->n_entries; i++) {
            size_t s = t->entries[i].hash & (n_s - 1);
            while (slots[s])
                s = (s + 1) & (n_s - 1);
            slots[s] = (uint32_t)i + 1;
        }
        free(t->slots);
        t->slots = slots;
        t->n_slots = n_s;
    }
    return 0;
}

int pp_stack_table_add(pp_stack_table *t, const uint32_t *frames, uint32_t n_frames, const uint32_t *labels,
                       uint32_t n_labels, uint64_t count, uint64_t value)
{
    if (n_frames > UINT16_MAX || n_labels > UINT16_MAX)
        goto overflow;
    uint64_t h = hash_key(frames, n_frames, labels, n_labels);
    if (t->n_slots) {
        size_t s = h & (t->n_slots - 1);
        while (t->slots[s]) {
            entry *en = &t->entries[t->slots[s] - 1];
            if (key_equals(t, en, h, frames, n_frames, labels, n_labels)) {
                en->count += count;
                en->value += value;
                return 0;
            }
            s = (s + 1) & (t->n_slots - 1);
        }
    }
    if (make_room(t, (size_t)n_frames + n_labels) != 0)
        goto overflow;
    entry *en = &t->entries[t->n_entries];
    en->hash = h;
    en->count = count;
    en->value = value;
    en->offset = (uint32_t)t->n_words;
    en->n_frames = (uint16_t)n_frames;
    en->n_labels = (uint16_t)n_labels;
    if (n_frames)
        memcpy(t->words + t->n_words, frames, n_frames * sizeof *frames);
    if (n_labels)
        memcpy(t->words + t->n_words + n_frames, labels, n_labels * sizeof *labels);
    t->n_words += (size_t)n_frames + n_labels;
    size_t s = h & (t->n_slots - 1);
    while (t->slots[s])
        s = (s + 1) & (t->n_slots - 1);
    t->slots[s] = (uint32_t)t->n_entries + 1;
    t->n_entries++;
    return 0;
overflow:
    t->overflow_count += count;
    t->overflow_value += value;
    return 1;
}

void pp_stack_table_get(const pp_stack_table *t, size_t i, pp_stack_entry *out)
{
    const entry *en = &t->entries[i];
    out->frames = t->words + en->offset;
    out->n_frames = en->n_frames;
    out->labels = t->words + en->offset + en->n_frames;
    out->n_labels = en->n_labels;
    out->count = en->count;
    out->value = en->value;
}
