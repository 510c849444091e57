/* Parsing of one ELF object for the symbolizer: program headers (load bias),
 * the function symbols (sorted index) and the GNU build id.
 *
 * Every offset read from the file is bounds-checked against the image: the
 * file comes from whatever /proc/self/maps names and may be truncated or not
 * an ELF object at all (CDS archives, fonts mapped executable, ...). */
#include "elf_symtab.h"

#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Native word size only: the profiler symbolizes its own process. */
#if defined(__LP64__)
#define PP_ELFCLASS ELFCLASS64
#define PP_ST_TYPE(i) ELF64_ST_TYPE(i)
#define PP_ST_BIND(i) ELF64_ST_BIND(i)
#else
#define PP_ELFCLASS ELFCLASS32
#define PP_ST_TYPE(i) ELF32_ST_TYPE(i)
#define PP_ST_BIND(i) ELF32_ST_BIND(i)
#endif
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define PP_ELFDATA ELFDATA2LSB
#else
#define PP_ELFDATA ELFDATA2MSB
#endif

/* [off, off + len) lies inside the image (no overflow). */
static int in_image(const pp_elf *e, uint64_t off, uint64_t len)
{
    return off <= e->size && len <= e->size - off;
}

static int aligned(const pp_elf *e, uint64_t off, size_t align)
{
    return ((uintptr_t)(e->image + off) & (align - 1)) == 0;
}

static const ElfW(Shdr) *section_headers(const pp_elf *e, size_t *count)
{
    const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)e->image;
    *count = 0;
    if (!eh->e_shoff || eh->e_shentsize != sizeof(ElfW(Shdr)))
        return NULL;
    if (!in_image(e, eh->e_shoff, sizeof(ElfW(Shdr))) || !aligned(e, eh->e_shoff, alignof(ElfW(Shdr))))
        return NULL;
    const ElfW(Shdr) *sh = (const ElfW(Shdr) *)(e->image + eh->e_shoff);
    /* Past 0xff00 sections the real count lives in section 0's sh_size. */
    uint64_t n = eh->e_shnum ? eh->e_shnum : sh[0].sh_size;
    if (n > (e->size - eh->e_shoff) / sizeof(ElfW(Shdr)))
        return NULL;
    *count = (size_t)n;
    return sh;
}

/* Picks .symtab (all functions, statics included) when the object was not
 * stripped, else .dynsym (exported ones only) unless symtab_only. Returns
 * the type of the table taken (SHT_SYMTAB, SHT_DYNSYM), 0 when none. */
static int find_symbols(pp_elf *e, int symtab_only)
{
    size_t nsh;
    const ElfW(Shdr) *sh = section_headers(e, &nsh);
    const ElfW(Shdr) *best = NULL;
    for (size_t i = 0; i < nsh; i++) {
        if (sh[i].sh_type == SHT_SYMTAB) {
            best = &sh[i];
            break;
        }
        if (sh[i].sh_type == SHT_DYNSYM && !best && !symtab_only)
            best = &sh[i];
    }
    if (!best || best->sh_entsize != sizeof(ElfW(Sym)) || best->sh_link >= nsh)
        return 0;
    const ElfW(Shdr) *str = &sh[best->sh_link];
    if (str->sh_type != SHT_STRTAB || !str->sh_size)
        return 0;
    if (!in_image(e, best->sh_offset, best->sh_size) || !aligned(e, best->sh_offset, alignof(ElfW(Sym))))
        return 0;
    if (!in_image(e, str->sh_offset, str->sh_size))
        return 0;
    const char *strs = (const char *)(e->image + str->sh_offset);
    /* One check here makes every st_name below a terminated string. */
    if (strs[str->sh_size - 1] != '\0')
        return 0;
    e->syms = e->image + best->sh_offset;
    e->nsyms = best->sh_size / sizeof(ElfW(Sym));
    e->strs = strs;
    e->strsz = str->sh_size;
    return (int)best->sh_type;
}

static char *hex(const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(2 * n + 1);
    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = digits[p[i] >> 4];
        s[2 * i + 1] = digits[p[i] & 15];
    }
    s[2 * n] = '\0';
    return s;
}

/* Scans one note area (file offset off, link-time address vaddr or 0 when
 * not loaded) for NT_GNU_BUILD_ID; 0 when found (e->build_id set, or left
 * NULL on allocation failure: the id is optional). */
static int scan_notes(pp_elf *e, uint64_t off, uint64_t len, uint64_t align, uint64_t vaddr)
{
    if (!in_image(e, off, len) || !aligned(e, off, 4))
        return -1;
    align = align == 8 ? 8 : 4;
    const uint8_t *p = e->image + off, *end = p + len;
    while ((size_t)(end - p) >= sizeof(ElfW(Nhdr))) {
        const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
        uint64_t name_sz = (n->n_namesz + align - 1) & ~(align - 1);
        uint64_t desc_sz = (n->n_descsz + align - 1) & ~(align - 1);
        const uint8_t *name = p + sizeof *n;
        if (name_sz > (uint64_t)(end - name) || desc_sz > (uint64_t)(end - name) - name_sz)
            return -1;
        if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && memcmp(name, "GNU", 4) == 0 && n->n_descsz) {
            const uint8_t *desc = name + name_sz;
            e->build_id = hex(desc, n->n_descsz);
            e->build_id_bytes = desc;
            e->build_id_len = n->n_descsz;
            e->build_id_vaddr = vaddr ? vaddr + (uint64_t)(desc - (e->image + off)) : 0;
            return 0;
        }
        p = name + name_sz + desc_sz;
    }
    return -1;
}

static void find_build_id(pp_elf *e, const ElfW(Phdr) *ph, size_t nph)
{
    for (size_t i = 0; i < nph; i++)
        if (ph[i].p_type == PT_NOTE &&
            scan_notes(e, ph[i].p_offset, ph[i].p_filesz, ph[i].p_align, ph[i].p_vaddr) == 0)
            return;
    /* Objects without program-header notes may still carry the section. */
    size_t nsh;
    const ElfW(Shdr) *sh = section_headers(e, &nsh);
    for (size_t i = 0; i < nsh; i++)
        if (sh[i].sh_type == SHT_NOTE &&
            scan_notes(e, sh[i].sh_offset, sh[i].sh_size, sh[i].sh_addralign,
                       (sh[i].sh_flags & SHF_ALLOC) ? sh[i].sh_addr : 0) == 0)
            return;
}

/* The ELF identification this process can read. */
static int native_ident(const pp_elf *e)
{
    if (e->size < sizeof(ElfW(Ehdr)) || !aligned(e, 0, alignof(ElfW(Ehdr))))
        return 0;
    const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)e->image;
    return memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 && eh->e_ident[EI_CLASS] == PP_ELFCLASS &&
           eh->e_ident[EI_DATA] == PP_ELFDATA;
}

static int parse(pp_elf *e)
{
    if (!native_ident(e))
        return -1;
    const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)e->image;
    if (eh->e_type != ET_EXEC && eh->e_type != ET_DYN)
        return -1;
    if (eh->e_phentsize != sizeof(ElfW(Phdr)) || !eh->e_phnum ||
        !in_image(e, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(ElfW(Phdr))) ||
        !aligned(e, eh->e_phoff, alignof(ElfW(Phdr))))
        return -1;
    const ElfW(Phdr) *ph = (const ElfW(Phdr) *)(e->image + eh->e_phoff);
    size_t nph = eh->e_phnum;
    e->loads = calloc(nph, sizeof *e->loads);
    if (!e->loads)
        return -1;
    for (size_t i = 0; i < nph; i++) {
        if (ph[i].p_type != PT_LOAD)
            continue;
        pp_elf_load *l = &e->loads[e->nloads++];
        l->vaddr = ph[i].p_vaddr;
        l->offset = ph[i].p_offset;
        l->filesz = ph[i].p_filesz;
        l->flags = ph[i].p_flags;
    }
    if (!e->nloads)
        return -1;
    find_symbols(e, 0);
    find_build_id(e, ph, nph);
    return 0;
}

/* Whether the symbols in use are a .symtab (statics included). */
static int has_symtab(const pp_elf *e)
{
    size_t nsh;
    const ElfW(Shdr) *sh = section_headers(e, &nsh);
    for (size_t i = 0; i < nsh && e->syms; i++)
        if (sh[i].sh_type == SHT_SYMTAB && e->image + sh[i].sh_offset == e->syms)
            return 1;
    return 0;
}

/* Maps a regular file read-only: 0, or -1. */
static int map_file(const char *path, const uint8_t **image, size_t *size)
{
    struct stat st;
    /* Only regular files: opening a device node that some driver mapped
     * executable could block or have side effects. */
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(ElfW(Ehdr)) ||
        (uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return -1;
    }
    /* A private read-only mapping costs address space, not memory: pages come
     * from the page cache, mostly the ones the loader already touched. */
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return -1;
    *image = p;
    *size = (size_t)st.st_size;
    return 0;
}

/* Where distributions install separate debug files (gdb's default). */
#define DEBUG_ROOT "/usr/lib/debug"

/* The .gnu_debuglink section: the debug file's name and the CRC-32 of its
 * contents. 0 when present and well formed. */
static int debuglink(const pp_elf *e, const char **name, uint32_t *crc)
{
    const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)e->image;
    size_t nsh;
    const ElfW(Shdr) *sh = section_headers(e, &nsh);
    if (!sh || eh->e_shstrndx >= nsh)
        return -1;
    const ElfW(Shdr) *names = &sh[eh->e_shstrndx];
    if (!in_image(e, names->sh_offset, names->sh_size) || !names->sh_size)
        return -1;
    const char *shstr = (const char *)(e->image + names->sh_offset);
    for (size_t i = 0; i < nsh; i++) {
        if (sh[i].sh_type != SHT_PROGBITS || sh[i].sh_name >= names->sh_size ||
            strncmp(shstr + sh[i].sh_name, ".gnu_debuglink", names->sh_size - sh[i].sh_name) != 0)
            continue;
        if (!in_image(e, sh[i].sh_offset, sh[i].sh_size) || sh[i].sh_size < 8)
            return -1;
        const char *s = (const char *)(e->image + sh[i].sh_offset);
        size_t len = strnlen(s, sh[i].sh_size);
        /* The name, NUL, padding to 4, then the CRC (the object's byte order). */
        size_t crc_at = (len + 4) & ~(size_t)3;
        if (!len || crc_at + 4 > sh[i].sh_size)
            return -1;
        memcpy(crc, s + crc_at, 4);
        *name = s;
        return 0;
    }
    return -1;
}

/* Whether the debug file at path belongs to e: its build id is e's (when
 * both have one), and, when want_crc, its contents have that CRC-32. On
 * success e takes its .symtab and keeps it mapped. */
static int try_debug_file(pp_elf *e, const char *path, int want_crc, uint32_t crc)
{
    pp_elf d;
    memset(&d, 0, sizeof d);
    if (map_file(path, &d.image, &d.size) != 0)
        return -1;
    int ok = native_ident(&d) && find_symbols(&d, 1) == SHT_SYMTAB;
    if (ok) {
        find_build_id(&d, NULL, 0);
        if (e->build_id_len || d.build_id_len)
            ok = d.build_id_len == e->build_id_len && memcmp(d.build_id_bytes, e->build_id_bytes, d.build_id_len) == 0;
        else
            ok = want_crc; /* no ids to compare: only the CRC can tell */
    }
    if (ok && want_crc) {
        /* zlib's crc32 takes at most UINT_MAX bytes per call. */
        uLong c = crc32(0L, Z_NULL, 0);
        for (size_t off = 0; off < d.size;) {
            size_t n = d.size - off > UINT_MAX ? UINT_MAX : d.size - off;
            c = crc32(c, d.image + off, (uInt)n);
            off += n;
        }
        ok = (uint32_t)c == crc;
    }
    free(d.build_id);
    if (!ok) {
        munmap((void *)d.image, d.size);
        return -1;
    }
    e->debug_image = d.image;
    e->debug_size = d.size;
    e->syms = d.syms;
    e->nsyms = d.nsyms;
    e->strs = d.strs;
    e->strsz = d.strsz;
    return 0;
}

/* For an object without .symtab: the first separate debug file that
 * belongs to it, in gdb's order. */
static void use_debug_file(pp_elf *e, const char *path)
{
    char candidate[PATH_MAX];
    if (e->build_id && strlen(e->build_id) > 2) {
        snprintf(candidate, sizeof candidate, DEBUG_ROOT "/.build-id/%.2s/%s.debug", e->build_id, e->build_id + 2);
        if (try_debug_file(e, candidate, 0, 0) == 0)
            return;
    }
    const char *name;
    uint32_t crc;
    if (debuglink(e, &name, &crc) != 0 || strchr(name, '/'))
        return;
    const char *slash = strrchr(path, '/');
    int dir_len = slash ? (int)(slash - path) : 0;
    if (!slash || path[0] != '/')
        return;
    static const char *const layouts[] = {"%.*s/%s", "%.*s/.debug/%s", DEBUG_ROOT "%.*s/%s"};
    for (size_t i = 0; i < sizeof layouts / sizeof *layouts; i++) {
        int n = snprintf(candidate, sizeof candidate, layouts[i], dir_len, path, name);
        if (n <= 0 || (size_t)n >= sizeof candidate || strcmp(candidate, path) == 0)
            continue;
        if (try_debug_file(e, candidate, 1, crc) == 0)
            return;
    }
}

int pp_elf_open_memory(pp_elf *e, const void *image, size_t size)
{
    memset(e, 0, sizeof *e);
    e->image = image;
    e->size = size;
    if (parse(e) != 0) {
        pp_elf_close(e);
        return -1;
    }
    return 0;
}

int pp_elf_open_file(pp_elf *e, const char *path)
{
    memset(e, 0, sizeof *e);
    if (map_file(path, &e->image, &e->size) != 0)
        return -1;
    e->mapped = 1;
    if (parse(e) != 0) {
        pp_elf_close(e);
        return -1;
    }
    if (!has_symtab(e))
        use_debug_file(e, path);
    return 0;
}

void pp_elf_close(pp_elf *e)
{
    pp_elf_drop_index(e);
    free(e->loads);
    free(e->build_id);
    free(e->plt);
    free(e->plt_names);
    if (e->mapped)
        munmap((void *)e->image, e->size);
    if (e->debug_image)
        munmap((void *)e->debug_image, e->debug_size);
    memset(e, 0, sizeof *e);
}

void pp_elf_drop_index(pp_elf *e)
{
    free(e->funcs);
    e->funcs = NULL;
    e->nfuncs = 0;
}

static int is_function(const ElfW(Sym) *s, size_t strsz)
{
    int type = PP_ST_TYPE(s->st_info);
    return (type == STT_FUNC || type == STT_GNU_IFUNC) && s->st_size && s->st_shndx != SHN_UNDEF &&
           s->st_name && s->st_name < strsz;
}

/* Which of several names at one address to show: the fewest leading
 * underscores ("write" over "__write"), then global over weak over local,
 * then the shortest. Packed into one int so the sort needs no context. */
static uint32_t bind_class(const ElfW(Sym) *s)
{
    int bind = PP_ST_BIND(s->st_info);
    return bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : bind == STB_LOCAL ? 2 : 3;
}

/* The rank of a name given its binding's class (bind_class). */
static int32_t alias_rank(uint32_t bind, const char *name)
{
    uint32_t under = 0;
    while (name[under] == '_' && under < 7)
        under++;
    size_t len = strlen(name);
    if (len > 0xfffff)
        len = 0xfffff;
    return (int32_t)((under << 24) | (bind << 20) | (uint32_t)len);
}

/* The name of section sh (from the section name table), NULL if unreadable. */
static const char *section_name(const pp_elf *e, const ElfW(Shdr) *sh, size_t nsh, const ElfW(Shdr) *which)
{
    const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)e->image;
    if (eh->e_shstrndx >= nsh)
        return NULL;
    const ElfW(Shdr) *names = &sh[eh->e_shstrndx];
    if (!names->sh_size || !in_image(e, names->sh_offset, names->sh_size) || which->sh_name >= names->sh_size)
        return NULL;
    const char *s = (const char *)(e->image + names->sh_offset);
    return memchr(s + which->sh_name, '\0', names->sh_size - which->sh_name) ? s + which->sh_name : NULL;
}

#if defined(__x86_64__)
typedef struct got_slot {
    uint64_t addr;    /* the GOT entry a stub jumps through */
    const char *name; /* the function the dynamic linker puts there */
} got_slot;

static int cmp_slot(const void *a, const void *b)
{
    const got_slot *x = a, *y = b;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* GOT entries the dynamic linker fills with a function's address
 * (R_X86_64_JUMP_SLOT, R_X86_64_GLOB_DAT), sorted by address. */
static got_slot *got_slots(const pp_elf *e, const ElfW(Shdr) *sh, size_t nsh, size_t *count)
{
    size_t n = 0, cap = 0;
    got_slot *out = NULL;
    for (size_t i = 0; i < nsh; i++) {
        const ElfW(Shdr) *rel = &sh[i];
        if (rel->sh_type != SHT_RELA || rel->sh_entsize != sizeof(ElfW(Rela)) || rel->sh_link >= nsh)
            continue;
        const ElfW(Shdr) *sym = &sh[rel->sh_link];
        if (sym->sh_type != SHT_DYNSYM || sym->sh_entsize != sizeof(ElfW(Sym)) || sym->sh_link >= nsh)
            continue;
        const ElfW(Shdr) *str = &sh[sym->sh_link];
        if (!in_image(e, rel->sh_offset, rel->sh_size) || !aligned(e, rel->sh_offset, alignof(ElfW(Rela))) ||
            !in_image(e, sym->sh_offset, sym->sh_size) || !aligned(e, sym->sh_offset, alignof(ElfW(Sym))) ||
            !in_image(e, str->sh_offset, str->sh_size) || !str->sh_size ||
            e->image[str->sh_offset + str->sh_size - 1] != '\0')
            continue;
        const ElfW(Rela) *r = (const ElfW(Rela) *)(e->image + rel->sh_offset);
        const ElfW(Sym) *syms = (const ElfW(Sym) *)(e->image + sym->sh_offset);
        size_t nr = rel->sh_size / sizeof *r, ns = sym->sh_size / sizeof *syms;
        for (size_t k = 0; k < nr; k++) {
            uint32_t type = (uint32_t)ELF64_R_TYPE(r[k].r_info);
            uint64_t si = ELF64_R_SYM(r[k].r_info);
            if ((type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT) || !si || si >= ns ||
                !syms[si].st_name || syms[si].st_name >= str->sh_size)
                continue;
            if (n == cap) {
                size_t c = cap ? 2 * cap : 256;
                got_slot *p = realloc(out, c * sizeof *p);
                if (!p)
                    break;
                out = p;
                cap = c;
            }
            out[n++] = (got_slot){r[k].r_offset, (const char *)e->image + str->sh_offset + syms[si].st_name};
        }
    }
    if (n)
        qsort(out, n, sizeof *out, cmp_slot);
    *count = n;
    return out;
}

/* The GOT entry a PLT stub jumps through: its `jmp *disp32(%rip)` (ff 25),
 * after an endbr64 and a bnd prefix when the stub has them. 0 if none. */
static uint64_t stub_target(const uint8_t *code, size_t len, uint64_t vaddr)
{
    for (size_t at = 0; at + 6 <= len && at <= 8; at++) {
        if (code[at] != 0xff || code[at + 1] != 0x25)
            continue;
        int32_t disp;
        memcpy(&disp, code + at + 2, 4);
        return vaddr + at + 6 + (uint64_t)(int64_t)disp;
    }
    return 0;
}

/* Names the PLT stubs after the function each jumps to ("memcpy@plt", as
 * perf and gdb do): a sample caught in a stub is a call on its way. */
static void index_plt(pp_elf *e)
{
    size_t nsh;
    const ElfW(Shdr) *sh = section_headers(e, &nsh);
    size_t nslots = 0;
    got_slot *slots = sh ? got_slots(e, sh, nsh, &nslots) : NULL;
    if (!nslots) {
        free(slots);
        return;
    }
    /* Two passes: count the stubs and their names' bytes, then fill. */
    for (int pass = 0; pass < 2; pass++) {
        size_t stubs = 0, bytes = 0;
        for (size_t i = 0; i < nsh; i++) {
            const char *name = section_name(e, sh, nsh, &sh[i]);
            if (!name || sh[i].sh_type != SHT_PROGBITS || !(sh[i].sh_flags & SHF_EXECINSTR) ||
                (strcmp(name, ".plt") && strcmp(name, ".plt.sec") && strcmp(name, ".plt.got")) ||
                !in_image(e, sh[i].sh_offset, sh[i].sh_size))
                continue;
            uint64_t size = sh[i].sh_entsize == 8 || sh[i].sh_entsize == 16 ? sh[i].sh_entsize : 16;
            for (uint64_t off = 0; off + size <= sh[i].sh_size; off += size) {
                uint64_t slot = stub_target(e->image + sh[i].sh_offset + off, size, sh[i].sh_addr + off);
                got_slot key = {slot, NULL};
                const got_slot *hit = slot ? bsearch(&key, slots, nslots, sizeof *slots, cmp_slot) : NULL;
                if (!hit)
                    continue;
                size_t len = strlen(hit->name) + sizeof "@plt";
                if (pass == 1) {
                    char *dst = e->plt_names + bytes;
                    memcpy(dst, hit->name, len - sizeof "@plt");
                    memcpy(dst + len - sizeof "@plt", "@plt", sizeof "@plt");
                    e->plt[stubs] = (pp_elf_func){sh[i].sh_addr + off, (uint32_t)size, INT32_MAX, dst};
                }
                stubs++;
                bytes += len;
            }
        }
        if (pass == 0) {
            e->plt = stubs ? malloc(stubs * sizeof *e->plt) : NULL;
            e->plt_names = stubs ? malloc(bytes) : NULL;
            if (!e->plt || !e->plt_names) {
                free(e->plt);
                free(e->plt_names);
                e->plt = NULL;
                e->plt_names = NULL;
                break;
            }
        } else {
            e->nplt = stubs;
        }
    }
    free(slots);
}
#else
static void index_plt(pp_elf *e) { (void)e; }
#endif

/* One function of the index being built, as sorted: 16 bytes, so that the
 * radix sort's scatter stays closer to the cache (node's 86k function
 * symbols: 1.4 MB against 2.1 MB of index entries) and the sorted pass reads no
 * symbol back from the raw table, which in that order it would visit at
 * random, a cache and TLB miss per function. */
typedef struct sort_rec {
    uint32_t start; /* link-time address less the lowest one (objects spanning < 4 GiB) */
    uint32_t size;  /* st_size, clamped as in pp_elf_func */
    uint32_t name;  /* st_name; unused for a PLT stub */
    uint32_t index; /* into the raw table, or nsyms + i for PLT stub i */
} sort_rec;

static uint64_t rec_start(const pp_elf *e, const sort_rec *r, uint64_t lo, int packed)
{
    if (packed)
        return lo + r->start;
    return r->index >= e->nsyms ? e->plt[r->index - e->nsyms].start : ((const ElfW(Sym) *)e->syms)[r->index].st_value;
}

static const char *rec_name(const pp_elf *e, const sort_rec *r)
{
    return r->index >= e->nsyms ? e->plt[r->index - e->nsyms].name : e->strs + r->name;
}

/* Which alias names an address: see alias_rank; a PLT stub's name is the
 * last choice. */
static int32_t rec_rank(const pp_elf *e, const sort_rec *r)
{
    return r->index >= e->nsyms ? INT32_MAX
                                : alias_rank(bind_class(&((const ElfW(Sym) *)e->syms)[r->index]), rec_name(e, r));
}

#define RADIX_BITS 11

/* Sorts by start, stably, with a radix sort over the bits in which the
 * starts differ. -1 out of memory. */
static int radix_sort(sort_rec *recs, size_t n, uint32_t span)
{
    sort_rec *tmp = malloc(n * sizeof *tmp);
    if (!tmp)
        return -1;
    sort_rec *src = recs, *dst = tmp;
    for (unsigned shift = 0; shift < 32 && span >> shift; shift += RADIX_BITS) {
        size_t at[1u << RADIX_BITS] = {0};
        for (size_t i = 0; i < n; i++)
            at[src[i].start >> shift & ((1u << RADIX_BITS) - 1)]++;
        size_t sum = 0;
        for (size_t d = 0; d < (1u << RADIX_BITS); d++) {
            size_t c = at[d];
            at[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[at[src[i].start >> shift & ((1u << RADIX_BITS) - 1)]++] = src[i];
        sort_rec *t = src;
        src = dst;
        dst = t;
    }
    if (src != recs)
        memcpy(recs, src, n * sizeof *recs);
    free(tmp);
    return 0;
}

/* For the rare object spanning 4 GiB or more: by start read back from the
 * table, then by table order (qsort_r's context is the object). */
static int cmp_wide(const void *a, const void *b, void *arg)
{
    const pp_elf *e = arg;
    const sort_rec *x = a, *y = b;
    uint64_t sx = rec_start(e, x, 0, 0), sy = rec_start(e, y, 0, 0);
    if (sx != sy)
        return sx < sy ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

int pp_elf_index(pp_elf *e)
{
    if (e->funcs || !e->nsyms)
        return 0;
    if (!e->plt)
        index_plt(e);
    if (e->nsyms + e->nplt > UINT32_MAX)
        return -1;
    sort_rec *recs = malloc((e->nsyms + e->nplt) * sizeof *recs);
    if (!recs)
        return -1;
    /* One pass over the raw table, reading no name. */
    const ElfW(Sym) *syms = e->syms;
    size_t n = 0;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t i = 0; i < e->nsyms + e->nplt; i++) {
        uint64_t start, size;
        uint32_t name = 0;
        if (i < e->nsyms) {
            if (!is_function(&syms[i], e->strsz))
                continue;
            start = syms[i].st_value;
            size = syms[i].st_size;
            name = syms[i].st_name;
        } else {
            start = e->plt[i - e->nsyms].start;
            size = e->plt[i - e->nsyms].size;
        }
        lo = start < lo ? start : lo;
        hi = start > hi ? start : hi;
        recs[n++] = (sort_rec){(uint32_t)start, size > UINT32_MAX ? UINT32_MAX : (uint32_t)size, name, (uint32_t)i};
    }
    if (!n) {
        free(recs);
        return 0;
    }
    int packed = hi - lo <= UINT32_MAX;
    if (packed)
        for (size_t i = 0; i < n; i++)
            recs[i].start -= (uint32_t)lo;
    if (!packed || radix_sort(recs, n, (uint32_t)(hi - lo)) != 0) {
        packed = 0;
        qsort_r(recs, n, sizeof *recs, cmp_wide, e);
    }
    /* One entry per address: the preferred alias, with the largest size.
     * Names are ranked only where aliases share an address: ranking reads
     * every name (strlen), which in node is 7 MB for the few thousand
     * addresses that have more than one. */
    pp_elf_func *f = malloc(n * sizeof *f);
    int32_t *stack = malloc(n * sizeof *stack);
    if (!f || !stack) {
        free(f);
        free(stack);
        free(recs);
        return -1;
    }
    size_t m = 0, depth = 0;
    for (size_t i = 0; i < n;) {
        uint64_t start = rec_start(e, &recs[i], lo, packed);
        const sort_rec *best = &recs[i];
        uint32_t size = best->size;
        size_t j = i + 1;
        if (j < n && rec_start(e, &recs[j], lo, packed) == start) {
            int32_t best_rank = rec_rank(e, best);
            for (; j < n && rec_start(e, &recs[j], lo, packed) == start; j++) {
                int32_t rank = rec_rank(e, &recs[j]);
                size = recs[j].size > size ? recs[j].size : size;
                if (rank < best_rank || (rank == best_rank && strcmp(rec_name(e, &recs[j]), rec_name(e, best)) < 0)) {
                    best = &recs[j];
                    best_rank = rank;
                }
            }
        }
        /* The parent link, over the nesting of ranges (a stack of open
         * ranges), so a lookup that lands past the end of a small symbol
         * nested in a bigger one still finds the bigger one. */
        while (depth && f[stack[depth - 1]].start + f[stack[depth - 1]].size <= start)
            depth--;
        f[m] = (pp_elf_func){start, size, depth ? stack[depth - 1] : -1, rec_name(e, best)};
        stack[depth++] = (int32_t)m++;
        i = j;
    }
    free(recs);
    free(stack);
    pp_elf_func *shrunk = m < n ? realloc(f, m * sizeof *f) : NULL;
    e->funcs = shrunk ? shrunk : f;
    e->nfuncs = m;
    return 0;
}

const pp_elf_func *pp_elf_find(const pp_elf *e, uint64_t addr)
{
    size_t lo = 0, hi = e->nfuncs;
    while (lo < hi) { /* first entry with start > addr */
        size_t mid = lo + (hi - lo) / 2;
        if (e->funcs[mid].start <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    int64_t i = (int64_t)lo - 1;
    while (i >= 0) {
        const pp_elf_func *f = &e->funcs[i];
        if (addr - f->start < f->size)
            return f;
        i = f->parent;
    }
    return NULL;
}

int pp_elf_bias(const pp_elf *e, uint64_t map_start, uint64_t map_offset, int exec, uint64_t *bias)
{
    long ps = sysconf(_SC_PAGESIZE);
    uint64_t page = ps > 0 ? (uint64_t)ps : 4096;
    /* The loader maps each PT_LOAD from its page-aligned file offset; later
     * mprotects (RELRO) may split one segment into several mappings, so a
     * mapping may start anywhere inside a segment's file range. Two
     * segments can share a file page: the permissions tell them apart. */
    const pp_elf_load *hit = NULL;
    for (size_t i = 0; i < e->nloads; i++) {
        const pp_elf_load *l = &e->loads[i];
        if (!l->filesz || map_offset < (l->offset & ~(page - 1)) || map_offset >= l->offset + l->filesz)
            continue;
        if (!hit || (!!(l->flags & PF_X) == !!exec && !!(hit->flags & PF_X) != !!exec))
            hit = l;
    }
    if (!hit)
        return -1;
    /* file offset o sits at link-time address vaddr - offset + o */
    *bias = map_start - (hit->vaddr - hit->offset + map_offset);
    return 0;
}

/* How many symbols ahead pp_elf_each_func asks for a name's cache line. */
#define NAME_PREFETCH 16

int pp_elf_each_func(const pp_elf *e, pp_elf_func_cb cb, void *arg)
{
    const ElfW(Sym) *syms = e->syms;
    for (size_t i = 0; i < e->nsyms; i++) {
        /* Callbacks read each name, and names lie scattered over the string
         * table (node's: 7 MB), so a scan waits on a cache miss per symbol
         * unless the next names are on their way. */
        if (i + NAME_PREFETCH < e->nsyms && syms[i + NAME_PREFETCH].st_name < e->strsz)
            __builtin_prefetch(e->strs + syms[i + NAME_PREFETCH].st_name);
        if (!is_function(&syms[i], e->strsz))
            continue;
        int r = cb(arg, e->strs + syms[i].st_name, syms[i].st_value, syms[i].st_size);
        if (r)
            return r;
    }
    return 0;
}

int pp_elf_func_holding(const pp_elf *e, uint64_t addr, uint64_t *start, uint64_t *size)
{
    const ElfW(Sym) *syms = e->syms;
    int found = 0;
    for (size_t i = 0; i < e->nsyms; i++) {
        const ElfW(Sym) *y = &syms[i];
        if (addr - y->st_value < y->st_size && is_function(y, e->strsz) && (!found || y->st_size < *size)) {
            *start = y->st_value;
            *size = y->st_size;
            found = 1;
        }
    }
    return found ? 0 : -1;
}
