/* The stack table: interns (stack, label set) keys with their counts and
 * values, under a hard memory cap. Past the cap, samples are added to one
 * overflow record and counted, so the profile shows how much it lost.
 * Drain thread only; not signal-safe. */
#ifndef PP_STACKS_H
#define PP_STACKS_H

#include <stddef.h>
#include <stdint.h>

typedef struct pp_stack_table pp_stack_table;

typedef struct pp_stack_entry {
    const uint32_t *frames; /* frame ids, leaf first */
    uint32_t n_frames;
    const uint32_t *labels; /* label ids */
    uint32_t n_labels;
    uint64_t count;
    uint64_t value;
} pp_stack_entry;

pp_stack_table *pp_stack_table_new(size_t max_bytes);
void pp_stack_table_free(pp_stack_table *t);

/* Returns 0 when recorded under its own key, 1 when it went to overflow. */
int pp_stack_table_add(pp_stack_table *t, const uint32_t *frames, uint32_t n_frames, const uint32_t *labels,
                       uint32_t n_labels, uint64_t count, uint64_t value);

size_t pp_stack_table_size(const pp_stack_table *t);  /* distinct keys */
size_t pp_stack_table_bytes(const pp_stack_table *t); /* memory held */
void pp_stack_table_overflow(const pp_stack_table *t, uint64_t *count, uint64_t *value);
/* Entry i in insertion order, 0 <= i < size. */
void pp_stack_table_get(const pp_stack_table *t, size_t i, pp_stack_entry *out);

#endif
