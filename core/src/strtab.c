#include "strtab.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

int pp_strtab_init(pp_strtab *t)
{
    memset(t, 0, sizeof *t);
    return pp_strtab_intern(t, "") == 0 ? 0 : -1;
}

void pp_strtab_free(pp_strtab *t)
{
    for (uint32_t i = 0; i < t->count; i++)
        free(t->strs[i]);
    free(t->strs);
    free(t->lens);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

static int grow_slots(pp_strtab *t)
{
    uint32_t n = t->nslots ? t->nslots * 2 : 64;
    uint32_t *slots = calloc(n, sizeof *slots);
    if (!slots)
        return -1;
    for (uint32_t id = 0; id < t->count; id++) {
        uint64_t h = hash_bytes(t->strs[id], t->lens[id]);
        uint32_t i = (uint32_t)h & (n - 1);
        while (slots[i])
            i = (i + 1) & (n - 1);
        slots[i] = id + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->bytes += (size_t)(n - t->nslots) * sizeof *slots;
    t->nslots = n;
    return 0;
}

static uint32_t lookup(const pp_strtab *t, const char *s, size_t len, uint32_t *slot_out)
{
    if (!t->nslots) {
        *slot_out = 0;
        return UINT32_MAX;
    }
    uint32_t i = (uint32_t)hash_bytes(s, len) & (t->nslots - 1);
    while (t->slots[i]) {
        uint32_t id = t->slots[i] - 1;
        if (t->lens[id] == len && memcmp(t->strs[id], s, len) == 0)
            return id;
        i = (i + 1) & (t->nslots - 1);
    }
    *slot_out = i;
    return UINT32_MAX;
}

uint32_t pp_strtab_find(const pp_strtab *t, const char *s)
{
    uint32_t slot;
    return lookup(t, s, strlen(s), &slot);
}

uint32_t pp_strtab_intern_len(pp_strtab *t, const char *s, size_t len)
{
    uint32_t slot;
    uint32_t id = lookup(t, s, len, &slot);
    if (id != UINT32_MAX)
        return id;
    if ((t->count + 1) * 2 > t->nslots) {
        if (grow_slots(t) != 0)
            return UINT32_MAX;
        lookup(t, s, len, &slot);
    }
    if (t->count == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 64;
        char **strs = realloc(t->strs, cap * sizeof *strs);
        if (!strs)
            return UINT32_MAX;
        t->strs = strs;
        size_t *lens = realloc(t->lens, cap * sizeof *lens);
        if (!lens)
            return UINT32_MAX;
        t->lens = lens;
        t->bytes += (size_t)(cap - t->cap) * (sizeof *strs + sizeof *lens);
        t->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return UINT32_MAX;
    memcpy(copy, s, len);
    copy[len] = '\0';
    t->bytes += len + 1;
    id = t->count++;
    t->strs[id] = copy;
    t->lens[id] = len;
    t->slots[slot] = id + 1;
    return id;
}

uint32_t pp_strtab_intern(pp_strtab *t, const char *s) { return pp_strtab_intern_len(t, s, strlen(s)); }
