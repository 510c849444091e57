/* One ELF object's function symbols, for the native symbolizer (symbols.c).
 *
 * The object is mapped read-only and never copied: symbol names and the raw
 * tables point into that image, so they stay valid until pp_elf_close. Only
 * the sorted lookup index is allocated, and it can be dropped on its own
 * (pp_elf_drop_index) while names handed out earlier remain valid.
 *
 * Not async-signal-safe (allocates, opens files): drain thread only. */
#ifndef PP_ELF_SYMTAB_H
#define PP_ELF_SYMTAB_H

#include <stddef.h>
#include <stdint.h>

/* One function of the lookup index. 24 bytes: libpython has ~12k of them. */
typedef struct pp_elf_func {
    uint64_t start;   /* link-time address (st_value); runtime = start + load bias */
    uint32_t size;    /* st_size, never 0 */
    int32_t parent;   /* nearest earlier entry whose range holds `start`, -1 if none:
                         lets a lookup fall back from a nested symbol to its container */
    const char *name; /* into the image */
} pp_elf_func;

/* A PT_LOAD program header: what the loader mapped, to compute the load bias. */
typedef struct pp_elf_load {
    uint64_t vaddr, offset, filesz;
    uint32_t flags; /* PF_X, PF_W, PF_R */
} pp_elf_load;

typedef struct pp_elf {
    const uint8_t *image;
    size_t size;
    int mapped;          /* image is our own mmap of the file: munmap on close */
    pp_elf_load *loads;
    size_t nloads;
    const void *syms;    /* the raw table used: .symtab when present, else .dynsym */
    size_t nsyms;
    const char *strs;    /* its string table, NUL-terminated at strs[strsz - 1] */
    size_t strsz;
    char *build_id;      /* lowercase hex, NULL when the object has none */
    const uint8_t *build_id_bytes; /* the raw id in the image ... */
    size_t build_id_len;
    uint64_t build_id_vaddr; /* ... and its link-time address, 0 when not loaded:
                                to check the file against the code in memory */
    const uint8_t *debug_image; /* a separate debug file whose .symtab is used (a
                                   stripped object's), mapped until pp_elf_close; NULL if none */
    size_t debug_size;
    pp_elf_func *plt;    /* "<function>@plt" for the PLT stubs (x86-64), built
                            with the first index, kept until pp_elf_close */
    size_t nplt;
    char *plt_names;     /* their names */
    pp_elf_func *funcs;  /* sorted lookup index, NULL until pp_elf_index */
    size_t nfuncs;
} pp_elf;

/* Maps `path` read-only and parses its headers. Returns 0, or -1 when the
 * file is missing, not a regular file, unreadable, not a native ELF object
 * or malformed (e is then zeroed and needs no close). Whether it is the file
 * that was loaded is the caller's question (build_id_vaddr).
 * An object stripped to .dynsym (a distribution's libc, libpython) names
 * only its exported functions; when its separate debug file is installed
 * (Debian's -dbg/-dbgsym packages, Fedora's debuginfo), that file's .symtab
 * is used instead, as gdb finds it: /usr/lib/debug/.build-id/xx/yyyy.debug
 * by the object's build id, else by its .gnu_debuglink name in the object's
 * directory, its .debug/ subdirectory or under /usr/lib/debug (checked
 * against the link's CRC). */
int pp_elf_open_file(pp_elf *e, const char *path);
/* Same over an image already in memory (the vDSO); the memory is not owned. */
int pp_elf_open_memory(pp_elf *e, const void *image, size_t size);
void pp_elf_close(pp_elf *e);

/* Builds the sorted function index (idempotent). 0, or -1 out of memory. */
int pp_elf_index(pp_elf *e);
/* Frees the index only; names stay valid. */
void pp_elf_drop_index(pp_elf *e);

/* Load bias (runtime address - link-time address) of the object, given one
 * of its mappings: start address, file offset and whether it is executable
 * (to pick the right segment when two share a file page). -1 when the
 * mapping matches no PT_LOAD segment. */
int pp_elf_bias(const pp_elf *e, uint64_t map_start, uint64_t map_offset, int exec, uint64_t *bias);

/* The function whose [start, start + size) holds the link-time address addr,
 * innermost first; NULL when none does (never the nearest preceding symbol
 * beyond its size). Needs pp_elf_index. */
const pp_elf_func *pp_elf_find(const pp_elf *e, uint64_t addr);

/* Without the index: the smallest function symbol whose range holds the
 * link-time address addr, by one pass over the raw table that reads no
 * name. 0 with *start and *size set, or -1 when none holds it. */
int pp_elf_func_holding(const pp_elf *e, uint64_t addr, uint64_t *start, uint64_t *size);

/* Calls cb for every function symbol of the raw table (aliases included,
 * unlike the index, which keeps one name per address); stops early and
 * returns cb's value when it is nonzero. */
typedef int (*pp_elf_func_cb)(void *arg, const char *name, uint64_t start, uint64_t size);
int pp_elf_each_func(const pp_elf *e, pp_elf_func_cb cb, void *arg);

#endif
