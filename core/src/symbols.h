/* Native symbolizer: turns PCs of this process into function names through
 * the ELF symbol tables of the mapped objects, off the signal path.
 *
 * A pp_symbolizer keeps a snapshot of /proc/self/maps and a cache of parsed
 * objects; it is not thread-safe and is meant to be owned by the drain
 * thread. Never call any of this from a signal handler: it allocates, opens
 * files and takes the dynamic loader's lock (dlsym).
 *
 * The PP_API functions pp_symbols_function_ranges / pp_symbols_object_range
 * (polyprof.h) go through a private process-wide symbolizer guarded by a
 * mutex, whose maps are read again when the dynamic loader has loaded or
 * unloaded an object since it last read them. */
#ifndef PP_SYMBOLS_H
#define PP_SYMBOLS_H

#include <stdint.h>

typedef struct pp_symbolizer pp_symbolizer;

/* Reads the mappings once; NULL only when out of memory. Without a readable
 * /proc/self/maps the symbolizer is empty and every lookup fails. */
pp_symbolizer *pp_symbolizer_new(void);
void pp_symbolizer_free(pp_symbolizer *s);

/* Re-reads /proc/self/maps. Objects still mapped keep their parsed tables;
 * when the maps text is unchanged this costs one read and one compare.
 * Lookups only see mappings as of the last refresh: call it before
 * symbolizing a batch of samples. 0, or -1 (maps unreadable or out of
 * memory; the previous snapshot stays in use). */
int pp_symbolizer_refresh(pp_symbolizer *s);

typedef struct pp_symbol_info {
    const char *name;        /* demangled when C++, NULL when no symbol covers pc */
    const char *raw_name;    /* symbol as in the object (mangled), or NULL */
    const char *object;      /* path of the mapped object, or a pseudo name:
                                [vdso], [heap], [anon:0x7f...] (no name),
                                "/path (deleted)" */
    const char *object_base; /* basename of object, for "libz.so.1+0x1234" names */
    uint64_t offset_in_object; /* pc - load bias: the link-time address that
                                  addr2line / objdump take; for objects not
                                  parsed, the file offset (pc - map_start +
                                  map_offset); for anonymous memory, pc - map_start */
    uint64_t map_start, map_limit, map_offset; /* the mapping holding pc */
    const char *build_id;    /* lowercase hex, or NULL */
    uint64_t sym_start;      /* runtime address where the symbol starts, 0 when name is NULL */
} pp_symbol_info;

/* 0 when pc lies in a known mapping (name may still be NULL: stripped static
 * function, JIT code, deleted or unreadable file), -1 when it is not mapped
 * at all (out is then zeroed). Returned strings live as long as the
 * symbolizer, across refreshes. */
int pp_symbolizer_lookup(pp_symbolizer *s, uintptr_t pc, pp_symbol_info *out);

/* How many times the dynamic loader has loaded or unloaded an object: when
 * it has not changed, neither have the objects it mapped. */
unsigned long long pp_loaded_objects_changes(void);

/* Frees the process-wide symbolizer behind the PP_API functions (leak
 * checkers, library unload); the next call rebuilds it. */
void pp_symbols_global_release(void);

#endif
