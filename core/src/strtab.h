/* String interning: each distinct string gets a small dense id, id 0 is "".
 * pprof's string_table is exactly this list, so writers emit it in id order.
 * Not async-signal-safe (allocates). */
#ifndef PP_STRTAB_H
#define PP_STRTAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct pp_strtab {
    char **strs;      /* id -> owned NUL-terminated string */
    size_t *lens;     /* id -> its length in bytes: a name may hold a NUL (a
                       * file from elsewhere), so strlen would not tell */
    uint32_t count;
    uint32_t cap;
    uint32_t *slots;  /* open-addressing hash: id + 1, 0 = empty */
    uint32_t nslots;
    size_t bytes;     /* memory held, for the memory cap */
} pp_strtab;

int pp_strtab_init(pp_strtab *t);
void pp_strtab_free(pp_strtab *t);
/* Returns the id, or UINT32_MAX when out of memory. */
uint32_t pp_strtab_intern(pp_strtab *t, const char *s);
uint32_t pp_strtab_intern_len(pp_strtab *t, const char *s, size_t len);
/* Returns UINT32_MAX when absent. */
uint32_t pp_strtab_find(const pp_strtab *t, const char *s);
static inline const char *pp_strtab_get(const pp_strtab *t, uint32_t id)
{
    return id < t->count ? t->strs[id] : "";
}

#endif
