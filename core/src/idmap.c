#include "idmap.h"

#include <stdlib.h>
#include <string.h>

static size_t slot_of(uint64_t a, uint64_t b, uint64_t c, size_t n)
{
    uint64_t h = a * 0x9e3779b97f4a7c15ULL;
    h = (h ^ (h >> 31) ^ b) * 0xff51afd7ed558ccdULL;
    h = (h ^ (h >> 29) ^ c) * 0xc4ceb9fe1a85ec53ULL;
    return (size_t)(h ^ (h >> 32)) & (n - 1);
}

void pp_idmap_init(pp_idmap *m) { memset(m, 0, sizeof *m); }

void pp_idmap_free(pp_idmap *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

uint32_t pp_idmap_get(const pp_idmap *m, uint64_t a, uint64_t b, uint64_t c)
{
    if (!m->n_slots)
        return UINT32_MAX;
    for (size_t s = slot_of(a, b, c, m->n_slots);; s = (s + 1) & (m->n_slots - 1)) {
        const pp_idmap_slot *sl = &m->slots[s];
        if (sl->id == UINT32_MAX)
            return UINT32_MAX;
        if (sl->k[0] == a && sl->k[1] == b && sl->k[2] == c)
            return sl->id;
    }
}

static void insert(pp_idmap_slot *slots, size_t n, const uint64_t *k, uint32_t id)
{
    size_t s = slot_of(k[0], k[1], k[2], n);
    while (slots[s].id != UINT32_MAX)
        s = (s + 1) & (n - 1);
    memcpy(slots[s].k, k, sizeof slots[s].k);
    slots[s].id = id;
}

int pp_idmap_put(pp_idmap *m, uint64_t a, uint64_t b, uint64_t c, uint32_t id)
{
    if ((m->count + 1) * 2 > m->n_slots) {
        size_t n = m->n_slots ? m->n_slots * 2 : 256;
        pp_idmap_slot *slots = malloc(n * sizeof *slots);
        if (!slots)
            return -1;
        for (size_t i = 0; i < n; i++)
            slots[i].id = UINT32_MAX;
        for (size_t i = 0; i < m->n_slots; i++)
            if (m->slots[i].id != UINT32_MAX)
                insert(slots, n, m->slots[i].k, m->slots[i].id);
        free(m->slots);
        m->slots = slots;
        m->n_slots = n;
    }
    uint64_t k[3] = {a, b, c};
    insert(m->slots, m->n_slots, k, id);
    m->count++;
    return 0;
}
