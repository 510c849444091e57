/* Process-wide side of the native symbolizer: the snapshot of
 * /proc/self/maps, the cache of parsed objects (elf_symtab.c does one
 * object), C++ demangling, and the two PP_API lookups of polyprof.h.
 *
 * Memory stays bounded by what the process maps executable: an object is
 * parsed on the first lookup that lands in it, its symbol names point into
 * its read-only file mapping, and only a 24-byte index entry per function is
 * allocated. Strings handed out must outlive refreshes, so an object that
 * gets unmapped keeps its file mapping (address space, not memory) but drops
 * its index; every other returned string is interned in `names`. */
#include "symbols.h"

#include "elf_symtab.h"
#include "polyprof.h"
#include "strtab.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/uio.h>
#include <unistd.h>

#define NONE UINT32_MAX
/* Unnamed anonymous mappings get "[anon:0x<start>]"; JIT runtimes churn
 * through many, so past this many distinct ones they are all "[anon]". */
#define MAX_ANON_NAMES 4096

enum { OBJ_UNTRIED = 0, OBJ_OK, OBJ_FAILED };

/* pp_symbols_function_ranges' answers for one object, link-time addresses:
 * every collector start asks for the same few names (the unwinder's roots,
 * the eval loop), and scanning every function of every object for each one
 * is most of what starting costs. An object scanned once for a name is not
 * scanned again while it stays mapped, in this session or a later one. */
#define NAME_CACHE_SLOTS 16
#define NAME_CACHE_NAME 48
#define NAME_CACHE_RANGES 8
/* A search for a name the object certainly lacks (most objects lack most
 * names: the unwinder's roots live in libc and the executable) costs one bit
 * test instead of a scan of its functions, once the object's bits are set
 * by one scan. A shared bit costs a scan, nothing worse. */
#define NAME_BITS (1u << 15)
typedef struct name_ranges {
    char name[NAME_CACHE_NAME]; /* "" for a free slot */
    uint8_t with_parts;
    uint8_t n;
    uint64_t start[NAME_CACHE_RANGES], size[NAME_CACHE_RANGES];
} name_ranges;

/* One object file (or the vDSO), shared by every loaded instance of it. */
typedef struct pp_object {
    uint64_t dev, ino;
    uint32_t path_id; /* interned: the object name handed out */
    int vdso;
    int state;        /* OBJ_* */
    int indexed;      /* pp_elf_index done since the last (re)activation */
    int live;         /* mapped in the current snapshot */
    pp_elf elf;
    name_ranges *names; /* NAME_CACHE_SLOTS, allocated on the first search */
    uint32_t names_next; /* slot to fill next (round robin past the last) */
    uint64_t *name_bits; /* NAME_BITS: which name_key()s its functions have */
    int searched;        /* a name was searched for by a scan: the next search builds name_bits */
} pp_object;

/* Consecutive mappings of one file: one loaded instance of an object. */
typedef struct pp_group {
    uint32_t first, count;
    pp_object *obj;  /* NULL unless executable and parseable (regular file, vDSO) */
    int8_t verified; /* the file is the one loaded here: 0 not checked, 1 yes, -1 no */
} pp_group;

typedef struct pp_mapping {
    uint64_t start, end, offset, dev, ino;
    uint64_t bias;
    uint32_t name_off, name_len; /* into the maps text ("" for anonymous) */
    uint32_t group;              /* NONE: standalone (anonymous, [heap], ...) */
    uint32_t name_id;            /* interned object name, NONE until first needed */
    int8_t bias_state;           /* 0 not computed, 1 known, -1 impossible */
    uint8_t exec;
} pp_mapping;

typedef char *(*pp_demangle_fn)(const char *mangled, char *buf, size_t *len, int *status);

struct pp_symbolizer {
    char *text;      /* maps text the snapshot was parsed from */
    size_t text_len, text_cap;
    char *scratch;   /* next read, compared against text */
    size_t scratch_len, scratch_cap;
    pp_mapping *maps;
    size_t nmaps;
    pp_group *groups;
    size_t ngroups;
    pp_object **objs; /* live and retired objects */
    size_t nobjs, objs_cap;
    pp_strtab names;  /* every string handed out that is not in an image */
    uint32_t anon_names;
    /* demangling cache: raw name pointer (stable: images stay mapped) ->
     * interned demangled id, 0 when the name does not demangle */
    const char **dm_keys;
    uint32_t *dm_vals;
    size_t dm_count, dm_cap;
    pp_demangle_fn demangle;
    void *demangle_pin; /* dlopen handle keeping the demangler's object loaded */
    int demangle_tried; /* since the last change of the maps */
};

/* ------------------------------------------------------------ maps text */

static int read_maps(pp_symbolizer *s)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = 0;
    for (;;) {
        if (s->scratch_cap - len < 4096) {
            size_t cap = s->scratch_cap ? s->scratch_cap * 2 : 64 * 1024;
            char *p = realloc(s->scratch, cap);
            if (!p) {
                close(fd);
                return -1;
            }
            s->scratch = p;
            s->scratch_cap = cap;
        }
        ssize_t r = read(fd, s->scratch + len, s->scratch_cap - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    s->scratch[len] = '\0';
    s->scratch_len = len;
    return 0;
}

static const char *parse_hex(const char *p, uint64_t *v)
{
    uint64_t x = 0;
    const char *start = p;
    for (;; p++) {
        int d;
        if (*p >= '0' && *p <= '9')
            d = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            d = *p - 'a' + 10;
        else if (*p >= 'A' && *p <= 'F')
            d = *p - 'A' + 10;
        else
            break;
        x = x * 16 + (uint64_t)d;
    }
    *v = x;
    return p == start ? NULL : p;
}

static const char *expect(const char *p, char c)
{
    return p && *p == c ? p + 1 : NULL;
}

/* "start-end perms offset major:minor inode   path" */
static int parse_line(const char *text, const char *p, const char *eol, pp_mapping *m)
{
    uint64_t major, minor;
    memset(m, 0, sizeof *m);
    p = expect(parse_hex(p, &m->start), '-');
    p = p ? expect(parse_hex(p, &m->end), ' ') : NULL;
    if (!p || eol - p < 5)
        return -1;
    m->exec = p[2] == 'x';
    p = expect(p + 4, ' ');
    p = p ? expect(parse_hex(p, &m->offset), ' ') : NULL;
    p = p ? expect(parse_hex(p, &major), ':') : NULL;
    p = p ? expect(parse_hex(p, &minor), ' ') : NULL;
    if (!p)
        return -1;
    m->dev = major << 32 | minor;
    for (; *p >= '0' && *p <= '9'; p++)
        m->ino = m->ino * 10 + (uint64_t)(*p - '0');
    while (p < eol && *p == ' ')
        p++;
    m->name_off = (uint32_t)(p - text);
    m->name_len = (uint32_t)(eol - p);
    m->group = NONE;
    m->name_id = NONE;
    return m->end > m->start ? 0 : -1;
}

static int ends_with(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/* ------------------------------------------------------------ objects */

static int is_file(const char *text, const pp_mapping *m)
{
    return m->ino && m->name_len && text[m->name_off] == '/';
}

static int is_vdso(const char *text, const pp_mapping *m)
{
    return m->name_len == 6 && memcmp(text + m->name_off, "[vdso]", 6) == 0;
}

static pp_object *find_or_add_object(pp_symbolizer *s, const char *text, const pp_mapping *m, int vdso)
{
    const char *name = text + m->name_off;
    for (size_t i = 0; i < s->nobjs; i++) {
        pp_object *o = s->objs[i];
        const char *path = pp_strtab_get(&s->names, o->path_id);
        if (o->dev == m->dev && o->ino == m->ino && o->vdso == vdso && strlen(path) == m->name_len &&
            memcmp(path, name, m->name_len) == 0)
            return o;
    }
    if (s->nobjs == s->objs_cap) {
        size_t cap = s->objs_cap ? s->objs_cap * 2 : 64;
        pp_object **p = realloc(s->objs, cap * sizeof *p);
        if (!p)
            return NULL;
        s->objs = p;
        s->objs_cap = cap;
    }
    pp_object *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->dev = m->dev;
    o->ino = m->ino;
    o->vdso = vdso;
    o->path_id = pp_strtab_intern_len(&s->names, name, m->name_len);
    if (o->path_id == UINT32_MAX) {
        free(o);
        return NULL;
    }
    s->objs[s->nobjs++] = o;
    return o;
}

/* Unmapped objects: never-parsed and failed ones go; parsed ones keep their
 * image (names handed out point into it) but not their index. */
static void retire_objects(pp_symbolizer *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nobjs; i++) {
        pp_object *o = s->objs[i];
        if (o->live || o->state == OBJ_OK) {
            if (!o->live && o->indexed) {
                pp_elf_drop_index(&o->elf);
                o->indexed = 0;
            }
            s->objs[n++] = o;
        } else {
            pp_elf_close(&o->elf);
            free(o->names);
            free(o->name_bits);
            free(o);
        }
    }
    s->nobjs = n;
}

/* Groups consecutive mappings of one file (any anonymous mappings between
 * them, such as alignment holes, do not break a group) and attaches an
 * object to each group that has executable code. */
static int build_groups(pp_symbolizer *s, const char *text, pp_mapping *maps, size_t n, pp_group **out,
                        size_t *nout)
{
    pp_group *g = malloc((n ? n : 1) * sizeof *g);
    if (!g)
        return -1;
    size_t ng = 0;
    uint32_t last_file = NONE; /* last file-backed mapping, in the current group */
    for (size_t i = 0; i < n; i++) {
        pp_mapping *m = &maps[i];
        int vdso = is_vdso(text, m);
        if (!vdso && !is_file(text, m))
            continue; /* standalone; does not end the current group */
        const pp_mapping *prev = last_file == NONE ? NULL : &maps[last_file];
        if (!vdso && prev && prev->group != NONE && prev->dev == m->dev && prev->ino == m->ino &&
            prev->name_len == m->name_len &&
            memcmp(text + prev->name_off, text + m->name_off, m->name_len) == 0) {
            m->group = prev->group;
            g[m->group].count = (uint32_t)(i - g[m->group].first + 1);
        } else {
            g[ng].first = (uint32_t)i;
            g[ng].count = 1;
            g[ng].obj = NULL;
            g[ng].verified = 0;
            m->group = (uint32_t)ng++;
        }
        last_file = vdso ? NONE : (uint32_t)i;
    }
    for (size_t k = 0; k < ng; k++) {
        pp_mapping *first = &maps[g[k].first];
        int exec = 0;
        for (uint32_t j = 0; j < g[k].count; j++) {
            const pp_mapping *m = &maps[g[k].first + j];
            exec |= m->group == k && m->exec;
        }
        int vdso = is_vdso(text, first);
        /* A file replaced since it was loaded shows as "(deleted)": its
         * symbols are gone, and the new file's would be wrong. */
        if (!exec || (!vdso && ends_with(text + first->name_off, first->name_len, " (deleted)")))
            continue;
        g[k].obj = find_or_add_object(s, text, first, vdso);
        if (!g[k].obj) {
            free(g);
            return -1;
        }
        g[k].obj->live = 1;
    }
    *out = g;
    *nout = ng;
    return 0;
}

int pp_symbolizer_refresh(pp_symbolizer *s)
{
    if (read_maps(s) != 0)
        return -1;
    if (s->maps && s->scratch_len == s->text_len && memcmp(s->scratch, s->text, s->text_len) == 0)
        return 0;
    const char *text = s->scratch;
    size_t lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    pp_mapping *maps = malloc((lines + 1) * sizeof *maps);
    if (!maps)
        return -1;
    size_t n = 0;
    for (const char *p = text; *p;) {
        const char *eol = strchr(p, '\n');
        if (!eol)
            eol = p + strlen(p);
        if (parse_line(text, p, eol, &maps[n]) == 0 && (!n || maps[n].start >= maps[n - 1].end))
            n++;
        p = *eol ? eol + 1 : eol;
    }
    for (size_t i = 0; i < s->nobjs; i++)
        s->objs[i]->live = 0;
    pp_group *groups;
    size_t ngroups;
    if (build_groups(s, text, maps, n, &groups, &ngroups) != 0) {
        /* keep the old snapshot; its objects are still the live ones */
        for (size_t i = 0; i < s->ngroups; i++)
            if (s->groups[i].obj)
                s->groups[i].obj->live = 1;
        retire_objects(s);
        free(maps);
        return -1;
    }
    retire_objects(s);
    free(s->maps);
    free(s->groups);
    s->maps = maps;
    s->nmaps = n;
    s->groups = groups;
    s->ngroups = ngroups;
    /* the parsed text becomes the reference; names point into it */
    char *t = s->text;
    size_t cap = s->text_cap;
    s->text = s->scratch;
    s->text_len = s->scratch_len;
    s->text_cap = s->scratch_cap;
    s->scratch = t;
    s->scratch_cap = cap;
    s->scratch_len = 0;
    s->demangle_tried = 0; /* a library loaded since may bring the demangler */
    return 0;
}

pp_symbolizer *pp_symbolizer_new(void)
{
    pp_symbolizer *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (pp_strtab_init(&s->names) != 0) {
        free(s);
        return NULL;
    }
    (void)pp_symbolizer_refresh(s); /* no maps: empty, lookups say so */
    return s;
}

void pp_symbolizer_free(pp_symbolizer *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nobjs; i++) {
        pp_elf_close(&s->objs[i]->elf);
        free(s->objs[i]->names);
        free(s->objs[i]->name_bits);
        free(s->objs[i]);
    }
    free(s->objs);
    free(s->maps);
    free(s->groups);
    free(s->text);
    free(s->scratch);
    free(s->dm_keys);
    free(s->dm_vals);
    pp_strtab_free(&s->names);
    if (s->demangle_pin)
        dlclose(s->demangle_pin);
    free(s);
}

/* Parses the group's object on first use. */
static pp_object *group_object(const pp_symbolizer *s, const pp_group *g, int want_index)
{
    pp_object *o = g->obj;
    if (!o)
        return NULL;
    if (o->state == OBJ_UNTRIED) {
        int rc;
        if (o->vdso) {
            /* the kernel's image, in memory: no file to open */
            const pp_mapping *m = &s->maps[g->first];
            uintptr_t ehdr = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
            rc = ehdr && ehdr == m->start ? pp_elf_open_memory(&o->elf, (const void *)ehdr, m->end - m->start) : -1;
        } else {
            rc = pp_elf_open_file(&o->elf, pp_strtab_get(&s->names, o->path_id));
        }
        o->state = rc == 0 ? OBJ_OK : OBJ_FAILED;
    }
    if (o->state != OBJ_OK)
        return NULL;
    if (want_index && !o->indexed) {
        if (pp_elf_index(&o->elf) != 0)
            return NULL; /* out of memory: retried on the next lookup */
        o->indexed = 1;
    }
    return o;
}

/* Load bias for mapping mi: from the mapping itself when it matches a
 * PT_LOAD, else from a sibling (holes, bss tails), executable ones first. */
static int mapping_bias(pp_symbolizer *s, size_t mi, const pp_object *o, uint64_t *bias)
{
    pp_mapping *m = &s->maps[mi];
    if (m->bias_state == 0) {
        m->bias_state = pp_elf_bias(&o->elf, m->start, m->offset, m->exec, &m->bias) == 0 ? 1 : -1;
        const pp_group *g = &s->groups[m->group];
        for (int want_exec = 1; want_exec >= 0 && m->bias_state < 0; want_exec--)
            for (uint32_t j = 0; j < g->count && m->bias_state < 0; j++) {
                const pp_mapping *sib = &s->maps[g->first + j];
                if (sib->group == m->group && sib->exec == want_exec &&
                    pp_elf_bias(&o->elf, sib->start, sib->offset, sib->exec, &m->bias) == 0)
                    m->bias_state = 1;
            }
    }
    *bias = m->bias;
    return m->bias_state > 0 ? 0 : -1;
}

/* Reads our own memory without risking a fault: the mapping may be gone
 * since the snapshot (a dlclose on another thread). */
static int read_self(void *dst, uint64_t addr, size_t len)
{
    struct iovec local = {dst, len}, remote = {(void *)(uintptr_t)addr, len};
    if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)len)
        return 0;
    /* seccomp profiles may refuse process_vm_readv; the mem file is ours */
    int fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t r = pread(fd, dst, len, (off_t)addr);
    close(fd);
    return r == (ssize_t)len ? 0 : -1;
}

/* The file at the mapped path must be the one that was loaded, or its
 * symbols would name the wrong code: the path may resolve to another file
 * by now (a bind mount, another mount namespace, an overwritten hard link).
 * Comparing inode numbers is not reliable (overlayfs reports other ones
 * through stat than through /proc/self/maps), the build id in memory is.
 * Objects without one, or memory that cannot be read, are trusted. */
static int8_t same_object(const pp_object *o, uint64_t bias)
{
    const pp_elf *e = &o->elf;
    uint8_t mem[64];
    if (o->vdso || !e->build_id_vaddr || !e->build_id_len || e->build_id_len > sizeof mem)
        return 1;
    if (read_self(mem, bias + e->build_id_vaddr, e->build_id_len) != 0)
        return 1;
    return memcmp(mem, e->build_id_bytes, e->build_id_len) == 0 ? 1 : -1;
}

/* Object and bias for mapping mi, once its file is known to be the loaded one. */
static pp_object *mapping_object(pp_symbolizer *s, size_t mi, int want_index, uint64_t *bias)
{
    pp_mapping *m = &s->maps[mi];
    if (m->group == NONE)
        return NULL;
    pp_group *g = &s->groups[m->group];
    pp_object *o = group_object(s, g, want_index);
    if (!o || mapping_bias(s, mi, o, bias) != 0)
        return NULL;
    if (!g->verified)
        g->verified = same_object(o, *bias);
    return g->verified > 0 ? o : NULL;
}

/* ------------------------------------------------------------ names */

static const char *mapping_name(pp_symbolizer *s, pp_mapping *m)
{
    if (m->group != NONE && s->groups[m->group].obj)
        return pp_strtab_get(&s->names, s->groups[m->group].obj->path_id);
    if (m->name_id == NONE) {
        if (m->name_len) {
            m->name_id = pp_strtab_intern_len(&s->names, s->text + m->name_off, m->name_len);
        } else {
            char buf[40];
            int len = snprintf(buf, sizeof buf, "[anon:0x%" PRIx64 "]", m->start);
            uint32_t before = s->names.count;
            if (s->anon_names >= MAX_ANON_NAMES)
                m->name_id = pp_strtab_intern(&s->names, "[anon]");
            else
                m->name_id = pp_strtab_intern_len(&s->names, buf, (size_t)len);
            s->anon_names += s->names.count != before;
        }
    }
    return m->name_id == UINT32_MAX ? NULL : pp_strtab_get(&s->names, m->name_id);
}

static const char *base_name(const char *path)
{
    if (!path || path[0] != '/')
        return path;
    const char *slash = strrchr(path, '/');
    return slash[1] ? slash + 1 : path;
}

static void find_demangler(pp_symbolizer *s)
{
    s->demangle_tried = 1;
    /* Found at run time: a process with C++ frames has libstdc++ loaded,
     * and the core must not drag it into one that has not. RTLD_DEFAULT
     * misses a libstdc++ dlopen'ed RTLD_LOCAL (by a Node addon, say). */
    void *sym = dlsym(RTLD_DEFAULT, "__cxa_demangle");
    void *h = NULL;
    if (!sym) {
        h = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_NOLOAD);
        sym = h ? dlsym(h, "__cxa_demangle") : NULL;
    } else {
        /* pin its object so a dlclose elsewhere cannot pull it away */
        Dl_info info;
        if (dladdr(sym, &info) && info.dli_fname)
            h = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    }
    if (!sym) {
        if (h)
            dlclose(h);
        return;
    }
    memcpy(&s->demangle, &sym, sizeof sym); /* ISO C has no void* -> function cast */
    s->demangle_pin = h;
}

static int dm_grow(pp_symbolizer *s)
{
    size_t cap = s->dm_cap ? s->dm_cap * 2 : 256;
    const char **keys = calloc(cap, sizeof *keys);
    uint32_t *vals = calloc(cap, sizeof *vals);
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return -1;
    }
    for (size_t i = 0; i < s->dm_cap; i++) {
        if (!s->dm_keys[i])
            continue;
        size_t j = ((uintptr_t)s->dm_keys[i] * 0x9E3779B97F4A7C15ULL >> 17) & (cap - 1);
        while (keys[j])
            j = (j + 1) & (cap - 1);
        keys[j] = s->dm_keys[i];
        vals[j] = s->dm_vals[i];
    }
    free(s->dm_keys);
    free(s->dm_vals);
    s->dm_keys = keys;
    s->dm_vals = vals;
    s->dm_cap = cap;
    return 0;
}

/* Demangled form of an "_Z" name, or raw itself. */
static const char *demangled(pp_symbolizer *s, const char *raw)
{
    if (raw[0] != '_' || raw[1] != 'Z')
        return raw;
    size_t j = 0;
    if (s->dm_cap) {
        j = ((uintptr_t)raw * 0x9E3779B97F4A7C15ULL >> 17) & (s->dm_cap - 1);
        for (; s->dm_keys[j]; j = (j + 1) & (s->dm_cap - 1))
            if (s->dm_keys[j] == raw)
                return s->dm_vals[j] ? pp_strtab_get(&s->names, s->dm_vals[j]) : raw;
    }
    if (!s->demangle && !s->demangle_tried)
        find_demangler(s);
    if (!s->demangle)
        return raw; /* not cached: libstdc++ may show up later */
    int status = -1;
    char *d = s->demangle(raw, NULL, NULL, &status);
    uint32_t id = d && status == 0 ? pp_strtab_intern(&s->names, d) : 0;
    free(d);
    if (id == UINT32_MAX)
        return raw;
    if ((s->dm_count + 1) * 2 > s->dm_cap) {
        if (dm_grow(s) != 0)
            return id ? pp_strtab_get(&s->names, id) : raw;
    }
    j = ((uintptr_t)raw * 0x9E3779B97F4A7C15ULL >> 17) & (s->dm_cap - 1);
    while (s->dm_keys[j])
        j = (j + 1) & (s->dm_cap - 1);
    s->dm_keys[j] = raw;
    s->dm_vals[j] = id;
    s->dm_count++;
    return id ? pp_strtab_get(&s->names, id) : raw;
}

/* ------------------------------------------------------------ lookups */

static size_t find_mapping(const pp_symbolizer *s, uint64_t addr)
{
    size_t lo = 0, hi = s->nmaps;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->maps[mid].end <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->nmaps && s->maps[lo].start <= addr ? lo : NONE;
}

int pp_symbolizer_lookup(pp_symbolizer *s, uintptr_t pc, pp_symbol_info *out)
{
    memset(out, 0, sizeof *out);
    size_t mi = find_mapping(s, pc);
    if (mi == NONE)
        return -1;
    pp_mapping *m = &s->maps[mi];
    out->map_start = m->start;
    out->map_limit = m->end;
    out->map_offset = m->offset;
    out->object = mapping_name(s, m);
    out->object_base = base_name(out->object);
    int file_backed = m->group != NONE || (m->ino && m->name_len);
    out->offset_in_object = pc - m->start + (file_backed ? m->offset : 0);
    uint64_t bias;
    pp_object *o = mapping_object(s, mi, 1, &bias);
    if (!o)
        return 0;
    out->offset_in_object = pc - bias;
    out->build_id = o->elf.build_id;
    const pp_elf_func *f = pp_elf_find(&o->elf, pc - bias);
    if (f) {
        out->raw_name = f->name;
        out->name = demangled(s, f->name);
        out->sym_start = f->start + bias;
    }
    return 0;
}

/* ------------------------------------------------------------ PP_API */

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pp_symbolizer *g_sym;
static unsigned long long g_sym_loads; /* pp_loaded_objects_changes() when g_sym last read the maps */

static int count_loader_changes(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    *(unsigned long long *)data = info->dlpi_adds + info->dlpi_subs;
    return 1; /* the counters are the same in every entry: one is enough */
}

unsigned long long pp_loaded_objects_changes(void)
{
    unsigned long long n = 0;
    dl_iterate_phdr(count_loader_changes, &n);
    return n;
}

/* The process-wide symbolizer, current for what the loader has loaded:
 * these lookups name functions and objects the loader mapped, so the maps
 * are read again only once it has loaded or unloaded an object since.
 * Reading /proc/self/maps costs the kernel ~0.1 ms, and a collector start
 * asks about ten of these questions. The count is taken before the read: a
 * load racing with it makes the next call read again. Called with g_lock
 * held. */
static pp_symbolizer *global_symbolizer(void)
{
    unsigned long long loads = pp_loaded_objects_changes();
    if (!g_sym) {
        g_sym = pp_symbolizer_new();
        g_sym_loads = loads;
    } else if (loads != g_sym_loads && pp_symbolizer_refresh(g_sym) == 0) {
        g_sym_loads = loads;
    }
    return g_sym;
}

void pp_symbols_global_release(void)
{
    pthread_mutex_lock(&g_lock);
    pp_symbolizer_free(g_sym);
    g_sym = NULL;
    pthread_mutex_unlock(&g_lock);
}

typedef struct range_search {
    const char *name;
    size_t len;
    int with_parts;
    name_ranges *found; /* this object's matches, link-time addresses */
    int overflow;       /* more than NAME_CACHE_RANGES of them */
} range_search;

static int range_cb(void *arg, const char *name, uint64_t start, uint64_t size)
{
    range_search *r = arg;
    /* Two compares reject nearly every symbol before the string compare
     * (one would not: every mangled C++ name starts with "_Z"). name[1]
     * exists: name[0] matched a non-NUL character. */
    if (name[0] != r->name[0] || (r->len > 1 && name[1] != r->name[1]) || strncmp(name, r->name, r->len) != 0)
        return 0;
    /* exact, or a compiler-split part: "<name>.cold", "<name>.part.0",
     * "<name>.isra.0", ... */
    if (name[r->len] != '\0' && !(r->with_parts && name[r->len] == '.'))
        return 0;
    name_ranges *f = r->found;
    for (int i = 0; i < f->n; i++)
        if (f->start[i] == start && f->size[i] == size)
            return 0; /* aliases */
    if (f->n == NAME_CACHE_RANGES) {
        r->overflow = 1;
        return 1;
    }
    f->start[f->n] = start;
    f->size[f->n] = size;
    f->n++;
    return 0;
}

/* Hash of a name's first 8 characters before any '.': "<name>.cold" and
 * "<name>" have the same key, as a with_parts search needs. Short on
 * purpose: it runs once for every function of the object. */
static uint32_t name_key(const char *name)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int i = 0; i < 8 && name[i] && name[i] != '.'; i++)
        h = (h ^ (uint8_t)name[i]) * 0x100000001b3ULL;
    return (uint32_t)(h >> 40) & (NAME_BITS - 1);
}

static int set_name_bit(void *arg, const char *name, uint64_t start, uint64_t size)
{
    (void)start;
    (void)size;
    uint64_t *bits = arg;
    uint32_t k = name_key(name);
    bits[k >> 6] |= 1ULL << (k & 63);
    return 0;
}

/* 0 when the object has no function of that name (or its parts). The bits
 * cost a scan of the functions: an object searched once (libpython for its
 * eval loop) is better scanned for the name itself, so they are built at
 * its second search. */
static int may_have_name(pp_object *o, const char *name)
{
    if (!o->name_bits && !o->searched) {
        o->searched = 1;
        return 1;
    }
    if (!o->name_bits) {
        o->name_bits = calloc(NAME_BITS / 64, sizeof *o->name_bits);
        if (!o->name_bits)
            return 1;
        pp_elf_each_func(&o->elf, set_name_bit, o->name_bits);
    }
    uint32_t k = name_key(name);
    return (int)(o->name_bits[k >> 6] >> (k & 63) & 1);
}

/* The object's matches for the search: cached, else scanned (and cached
 * unless there are too many or the name too long to keep). */
static const name_ranges *object_ranges(pp_object *o, range_search *r, name_ranges *scratch)
{
    int cacheable = r->len < NAME_CACHE_NAME;
    if (cacheable && o->names)
        for (int i = 0; i < NAME_CACHE_SLOTS; i++) {
            const name_ranges *c = &o->names[i];
            if (c->with_parts == r->with_parts && strcmp(c->name, r->name) == 0)
                return c;
        }
    memset(scratch, 0, sizeof *scratch);
    if (!may_have_name(o, r->name))
        return scratch;
    r->found = scratch;
    r->overflow = 0;
    pp_elf_each_func(&o->elf, range_cb, r);
    if (r->overflow) {
        /* Too many to keep: the caller gets the first ones, as it would
         * from a scan stopped when its output is full. */
        return scratch;
    }
    if (cacheable && (o->names || (o->names = calloc(NAME_CACHE_SLOTS, sizeof *o->names)))) {
        name_ranges *slot = &o->names[o->names_next++ % NAME_CACHE_SLOTS];
        *slot = *scratch;
        memcpy(slot->name, r->name, r->len + 1);
        slot->with_parts = (uint8_t)r->with_parts;
        return slot;
    }
    return scratch;
}

/* Adds group k's matches for r to out[*n..max); its object is opened and
 * scanned (once, then cached) if it may have the name. */
static void group_ranges(pp_symbolizer *s, size_t k, range_search *r, pp_addr_range *out, int *n, int max)
{
    const pp_group *g = &s->groups[k];
    if (!g->obj)
        return;
    name_ranges scratch;
    /* any executable mapping of the group gives the object's bias */
    for (uint32_t j = 0; j < g->count; j++) {
        size_t mi = g->first + j;
        pp_object *o;
        uint64_t bias;
        if (s->maps[mi].group == k && s->maps[mi].exec && (o = mapping_object(s, mi, 0, &bias))) {
            const name_ranges *f = object_ranges(o, r, &scratch);
            for (int i = 0; i < f->n && *n < max; i++) {
                pp_addr_range x = {(uintptr_t)(f->start[i] + bias), (uintptr_t)(f->start[i] + bias + f->size[i])};
                int seen = 0;
                for (int m = 0; m < *n && !seen; m++)
                    seen = out[m].start == x.start && out[m].end == x.end;
                if (!seen)
                    out[(*n)++] = x; /* an object loaded twice gives each instance */
            }
            return;
        }
    }
}

/* Every object's matches, or (in_object set) those of the one object
 * holding *in_object. */
static int function_ranges(const uintptr_t *in_object, const char *name, int with_parts, pp_addr_range *out, int max)
{
    if (!name || !*name || !out || max <= 0)
        return 0;
    range_search r = {name, strlen(name), with_parts, NULL, 0};
    int n = 0;
    pthread_mutex_lock(&g_lock);
    pp_symbolizer *s = global_symbolizer();
    if (s && !in_object) {
        for (size_t k = 0; k < s->ngroups && n < max; k++)
            group_ranges(s, k, &r, out, &n, max);
    } else if (s) {
        size_t mi = find_mapping(s, *in_object);
        if (mi != NONE && s->maps[mi].group != NONE)
            group_ranges(s, s->maps[mi].group, &r, out, &n, max);
    }
    pthread_mutex_unlock(&g_lock);
    return n;
}

PP_API int pp_symbols_function_ranges(const char *name, int with_parts, pp_addr_range *out, int max)
{
    return function_ranges(NULL, name, with_parts, out, max);
}

PP_API int pp_symbols_function_ranges_in(uintptr_t in_object, const char *name, int with_parts, pp_addr_range *out,
                                         int max)
{
    return function_ranges(&in_object, name, with_parts, out, max);
}

PP_API int pp_symbols_object_range(uintptr_t addr, pp_addr_range *out)
{
    int rc = -1;
    pthread_mutex_lock(&g_lock);
    pp_symbolizer *s = global_symbolizer();
    size_t mi = s ? find_mapping(s, addr) : NONE;
    if (mi != NONE) {
        const pp_mapping *m = &s->maps[mi];
        if (m->group != NONE) {
            const pp_group *g = &s->groups[m->group];
            out->start = (uintptr_t)s->maps[g->first].start;
            out->end = (uintptr_t)s->maps[g->first + g->count - 1].end;
        } else {
            out->start = (uintptr_t)m->start;
            out->end = (uintptr_t)m->end;
        }
        rc = 0;
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}
