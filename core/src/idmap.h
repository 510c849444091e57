/* Open-addressing map from a three-word key to a 32-bit id; drain thread only. */
#ifndef PP_IDMAP_H
#define PP_IDMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct pp_idmap_slot {
    uint64_t k[3];
    uint32_t id; /* UINT32_MAX = empty */
} pp_idmap_slot;

typedef struct pp_idmap {
    pp_idmap_slot *slots;
    size_t n_slots, count;
} pp_idmap;

void pp_idmap_init(pp_idmap *m);
void pp_idmap_free(pp_idmap *m);
/* UINT32_MAX when absent */
uint32_t pp_idmap_get(const pp_idmap *m, uint64_t a, uint64_t b, uint64_t c);
int pp_idmap_put(pp_idmap *m, uint64_t a, uint64_t b, uint64_t c, uint32_t id);
static inline size_t pp_idmap_bytes(const pp_idmap *m) { return m->n_slots * sizeof(pp_idmap_slot); }

#endif
