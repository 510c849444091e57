/* Native symbolizer: functions of the test binary itself (.symtab), of libc
 * and libz (.dynsym only, stripped), pcs inside functions and in the gaps
 * between exported ones, the PP_API range lookups, refresh after dlopen and
 * dlclose, JIT-like anonymous code, a deleted library, C++ demangling and
 * the vDSO. Expected values come from the dynamic loader (dladdr, link_map,
 * dl_iterate_phdr), not from the code under test. */
#include "check.h"
#include "polyprof.h"
#include "symbols.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

static volatile int sink;

/* No inlining and no IPA clones ("static_function.constprop.0"): the pcs
 * must land in the functions the test names. */
#if defined(__GNUC__) && !defined(__clang__)
#define KEEP __attribute__((noinline, noipa))
#else
#define KEEP __attribute__((noinline))
#endif

static KEEP uintptr_t return_address(void)
{
    return (uintptr_t)__builtin_return_address(0);
}

/* The volatile stores keep the calls from becoming tail calls, so the
 * return address lands inside these functions. */
static KEEP uintptr_t static_function(int x)
{
    sink = x;
    uintptr_t ra = return_address();
    sink = x + 1;
    return ra;
}

uintptr_t pp_test_global_function(int x);
KEEP uintptr_t pp_test_global_function(int x)
{
    sink = x;
    uintptr_t ra = return_address();
    sink = x + 2;
    return ra;
}

/* Local symbols named the way GCC names split-off parts, to check
 * with_parts without depending on the optimizer. */
static __attribute__((noinline, used)) void split_main(void) __asm__("pp_test_split");
static __attribute__((noinline, used)) void split_cold(void) __asm__("pp_test_split.cold");
static __attribute__((noinline, used)) void split_part(void) __asm__("pp_test_split.part.0");
static __attribute__((noinline, used)) void split_decoy(void) __asm__("pp_test_splitter");
static void split_main(void) { sink = 1; }
static void split_cold(void) { sink = 2; }
static void split_part(void) { sink = 3; }
static void split_decoy(void) { sink = 4; }

static uintptr_t fn_addr(void (*f)(void))
{
    return (uintptr_t)f;
}

static uintptr_t load_bias_of(const void *addr)
{
    Dl_info info;
    struct link_map *lm = NULL;
    if (!dladdr1(addr, &info, (void **)&lm, RTLD_DL_LINKMAP) || !lm)
        return 0;
    return (uintptr_t)lm->l_addr;
}

static int range_has(const pp_addr_range *r, int n, uintptr_t addr)
{
    for (int i = 0; i < n; i++)
        if (r[i].start <= addr && addr < r[i].end)
            return 1;
    return 0;
}

/* Build id and segment span of a loaded object, read by the test through
 * dl_iterate_phdr from memory. */
typedef struct phdr_probe {
    uintptr_t bias;
    int found;
    char build_id[128];
    uintptr_t lo, hi_file, hi_mem;
    uint64_t exec_offset; /* page-aligned file offset of the code segment */
} phdr_probe;

static int probe_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    phdr_probe *p = arg;
    if (info->dlpi_addr != p->bias)
        return 0;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    p->lo = UINTPTR_MAX;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD) {
            uintptr_t s = info->dlpi_addr + ph->p_vaddr;
            if ((s & ~(page - 1)) < p->lo)
                p->lo = s & ~(page - 1);
            if (s + ph->p_filesz > p->hi_file)
                p->hi_file = s + ph->p_filesz;
            if (s + ph->p_memsz > p->hi_mem)
                p->hi_mem = s + ph->p_memsz;
            if (ph->p_flags & PF_X)
                p->exec_offset = ph->p_offset & ~(uint64_t)(page - 1);
        }
        if (ph->p_type != PT_NOTE)
            continue;
        const uint8_t *n = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr), *end = n + ph->p_memsz;
        while (n + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *h = (const ElfW(Nhdr) *)n;
            size_t a = ph->p_align == 8 ? 8 : 4;
            size_t nsz = (h->n_namesz + a - 1) & ~(a - 1), dsz = (h->n_descsz + a - 1) & ~(a - 1);
            const uint8_t *desc = n + sizeof *h + nsz;
            if (h->n_type == NT_GNU_BUILD_ID && h->n_namesz == 4 && memcmp(n + sizeof *h, "GNU", 4) == 0 &&
                h->n_descsz * 2 < sizeof p->build_id) {
                for (size_t k = 0; k < h->n_descsz; k++)
                    sprintf(p->build_id + 2 * k, "%02x", desc[k]);
            }
            n = desc + dsz;
        }
    }
    p->found = 1;
    return 1;
}

static phdr_probe probe(uintptr_t bias)
{
    phdr_probe p;
    memset(&p, 0, sizeof p);
    p.bias = bias;
    dl_iterate_phdr(probe_cb, &p);
    return p;
}

static void test_own_binary(pp_symbolizer *s)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK(n > 0);
    exe[n > 0 ? n : 0] = '\0';
    const char *exe_base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
    uintptr_t bias = load_bias_of((const void *)&pp_test_global_function);
    phdr_probe own = probe(bias);

    pp_symbol_info info;
    uintptr_t addr = (uintptr_t)&static_function;
    CHECK_EQ_INT(pp_symbolizer_lookup(s, addr, &info), 0);
    CHECK_STR(info.name, "static_function");
    CHECK_STR(info.raw_name, "static_function");
    CHECK_EQ_INT(info.sym_start, addr);
    CHECK_STR(info.object, exe);
    CHECK_STR(info.object_base, exe_base);
    CHECK_EQ_INT(info.offset_in_object, addr - bias);
    CHECK(info.map_start <= addr && addr < info.map_limit);
    /* with -z separate-code (the default) the code is not at file offset 0 */
    CHECK_EQ_INT(info.map_offset, own.exec_offset);
    if (own.build_id[0])
        CHECK_STR(info.build_id, own.build_id);

    /* the mapping alone (naming the main mapping): the same object, offset
     * and build id, no function name */
    pp_symbol_info where;
    CHECK_EQ_INT(pp_symbolizer_lookup_mapping(s, addr, &where), 0);
    CHECK(where.name == NULL && where.raw_name == NULL && where.sym_start == 0);
    CHECK_STR(where.object, exe);
    CHECK_EQ_INT(where.offset_in_object, addr - bias);
    CHECK_EQ_INT(where.map_start, info.map_start);
    CHECK_EQ_INT(where.map_offset, info.map_offset);
    if (own.build_id[0])
        CHECK_STR(where.build_id, own.build_id);

    addr = (uintptr_t)&pp_test_global_function;
    CHECK_EQ_INT(pp_symbolizer_lookup(s, addr, &info), 0);
    CHECK_STR(info.name, "pp_test_global_function");
    CHECK_EQ_INT(info.sym_start, addr);
    CHECK_EQ_INT(info.offset_in_object, addr - bias);

    /* return addresses: pcs in the middle of a function */
    uintptr_t ra = static_function(1);
    CHECK(ra > (uintptr_t)&static_function);
    CHECK_EQ_INT(pp_symbolizer_lookup(s, ra, &info), 0);
    CHECK_STR(info.name, "static_function");
    CHECK_EQ_INT(info.sym_start, (uintptr_t)&static_function);
    ra = pp_test_global_function(1);
    CHECK_EQ_INT(pp_symbolizer_lookup(s, ra, &info), 0);
    CHECK_STR(info.name, "pp_test_global_function");

    /* the .plt and similar stubs carry no sized symbol */
    CHECK_EQ_INT(pp_symbolizer_lookup(s, addr, &info), 0);
    uintptr_t gap = 0;
    for (uintptr_t pc = (uintptr_t)info.map_start; pc < info.map_limit && !gap; pc += 4) {
        pp_symbol_info g;
        if (pp_symbolizer_lookup(s, pc, &g) == 0 && !g.name)
            gap = pc;
    }
    CHECK(gap != 0);
    CHECK_EQ_INT(pp_symbolizer_lookup(s, gap, &info), 0);
    CHECK(info.name == NULL && info.raw_name == NULL && info.sym_start == 0);
    CHECK_STR(info.object_base, exe_base);
    CHECK_EQ_INT(info.offset_in_object, gap - bias);

    /* with_parts: the ".cold" / ".part.N" locals, never "pp_test_splitter" */
    pp_addr_range r[8];
    int nr = pp_symbols_function_ranges("pp_test_split", 0, r, 8);
    CHECK_EQ_INT(nr, 1);
    CHECK(range_has(r, nr, fn_addr(split_main)));
    nr = pp_symbols_function_ranges("pp_test_split", 1, r, 8);
    CHECK_EQ_INT(nr, 3);
    CHECK(range_has(r, nr, fn_addr(split_main)));
    CHECK(range_has(r, nr, fn_addr(split_cold)));
    CHECK(range_has(r, nr, fn_addr(split_part)));
    CHECK(!range_has(r, nr, fn_addr(split_decoy)));
    /* Asked again (each collector start does), the same answer: from the
     * per-object cache, not a new scan. */
    pp_addr_range again[8];
    CHECK_EQ_INT(pp_symbols_function_ranges("pp_test_split", 1, again, 8), 3);
    CHECK(memcmp(again, r, 3 * sizeof *r) == 0);
    CHECK_EQ_INT(pp_symbols_function_ranges("pp_test_split", 0, again, 8), 1);
    CHECK(range_has(again, 1, fn_addr(split_main)));
    CHECK_EQ_INT(pp_symbols_function_ranges("pp_test_split", 1, r, 2), 2); /* truncates at max */
    CHECK_EQ_INT(pp_symbols_function_ranges("pp_test_no_such_function", 1, r, 8), 0);
    CHECK_EQ_INT(pp_symbolizer_lookup(s, fn_addr(split_cold), &info), 0);
    CHECK_STR(info.name, "pp_test_split.cold");
}

static void test_libc_write(pp_symbolizer *s)
{
    /* libc's own write: &write may be a sanitizer's interceptor */
    void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    CHECK(libc != NULL);
    uintptr_t addr = libc ? (uintptr_t)dlsym(libc, "write") : 0;
    CHECK(addr != 0);
    pp_symbol_info info;
    CHECK_EQ_INT(pp_symbolizer_lookup(s, addr, &info), 0);
    CHECK_STR(info.name, "write"); /* over its alias __write */
    CHECK_STR(info.object_base, "libc.so.6");
    CHECK_EQ_INT(info.sym_start, addr);
    CHECK_EQ_INT(info.offset_in_object, addr - load_bias_of((void *)addr));
    CHECK_EQ_INT(pp_symbolizer_lookup(s, addr + 3, &info), 0);
    CHECK_STR(info.name, "write");

    pp_addr_range r[8];
    int nr = pp_symbols_function_ranges("write", 0, r, 8);
    CHECK(nr >= 1);
    CHECK(range_has(r, nr, addr));
    CHECK(range_has(r, nr, (uintptr_t)&write));
    if (libc)
        dlclose(libc);

    /* searched in libc's object alone, and in another object: not there */
    CHECK(range_has(r, pp_symbols_function_ranges_in(addr, "write", 0, r, 8), addr));
    CHECK_EQ_INT(pp_symbols_function_ranges_in((uintptr_t)&static_function, "write", 0, r, 8), 0);
    /* the function at an address, with no name asked: write's own range,
     * from inside it too */
    pp_addr_range at;
    CHECK_EQ_INT(pp_symbols_function_at(addr + 3, &at), 0);
    CHECK_EQ_INT(at.start, addr);
    CHECK(at.end > addr + 3);
    CHECK_EQ_INT(pp_symbols_function_at(0, &at), -1);
}

static void test_libz(pp_symbolizer *s)
{
    uintptr_t addr = (uintptr_t)&deflate;
    uintptr_t bias = load_bias_of((void *)addr);
    phdr_probe z = probe(bias);
    CHECK(z.found);
    pp_symbol_info info;
    CHECK_EQ_INT(pp_symbolizer_lookup(s, addr, &info), 0);
    CHECK_STR(info.name, "deflate");
    CHECK(info.object_base && strncmp(info.object_base, "libz.so.1", 9) == 0); /* the file: libz.so.1.2.13 */
    CHECK(info.object && info.object[0] == '/');
    CHECK_EQ_INT(info.offset_in_object, addr - bias);
    CHECK_EQ_INT(info.sym_start, addr);
    if (z.build_id[0])
        CHECK_STR(info.build_id, z.build_id);
    CHECK_EQ_INT(pp_symbolizer_lookup(s, addr + 17, &info), 0);
    CHECK_STR(info.name, "deflate");
    CHECK_EQ_INT(info.offset_in_object, addr + 17 - bias);

    /* libz is stripped: its static functions (deflate_stored, fill_window,
     * longest_match...) lie between exported ones and must come out as
     * "libz.so.1+0x...", not as the exported function before them. */
    uintptr_t gap = 0, named = 0;
    for (uintptr_t pc = (uintptr_t)info.map_start; pc < info.map_limit && !gap; pc += 4) {
        pp_symbol_info g;
        if (pp_symbolizer_lookup(s, pc, &g) != 0)
            break;
        if (g.name)
            named = pc;
        else if (named)
            gap = pc;
    }
    CHECK(gap != 0);
    CHECK_EQ_INT(pp_symbolizer_lookup(s, gap, &info), 0);
    CHECK(info.name == NULL && info.raw_name == NULL);
    CHECK(info.object_base && strncmp(info.object_base, "libz.so.1", 9) == 0); /* the file: libz.so.1.2.13 */
    CHECK_EQ_INT(info.offset_in_object, gap - bias);

    pp_addr_range r[8];
    int nr = pp_symbols_function_ranges("deflate", 1, r, 8);
    CHECK(nr >= 1);
    CHECK(range_has(r, nr, addr));
    CHECK(!range_has(r, nr, (uintptr_t)&deflateEnd));
    /* Searched in libz's object alone: the same function; in libc's, none. */
    pp_addr_range in_z[8];
    int nz = pp_symbols_function_ranges_in((uintptr_t)&inflate, "deflate", 1, in_z, 8);
    CHECK(nz >= 1);
    CHECK(range_has(in_z, nz, addr));
    CHECK_EQ_INT(pp_symbols_function_ranges_in((uintptr_t)&abort, "deflate", 1, in_z, 8), 0);
    CHECK_EQ_INT(pp_symbols_function_ranges_in(0, "deflate", 1, in_z, 8), 0);

    pp_addr_range obj;
    CHECK_EQ_INT(pp_symbols_object_range(addr, &obj), 0);
    CHECK_EQ_INT(obj.start, z.lo);
    CHECK(obj.end >= z.hi_file && obj.end <= ((z.hi_mem + 0xffff) & ~(uintptr_t)0xffff));
    CHECK(obj.start <= (uintptr_t)&inflate && (uintptr_t)&inflate < obj.end);
    CHECK_EQ_INT(pp_symbols_object_range(0, &obj), -1);
}

/* A library the process had not mapped: invisible until refresh, named
 * after it, unmapped again after dlclose. */
static void test_dlopen_refresh(pp_symbolizer *s)
{
    static const char *const cands[][2] = {
        {"libbz2.so.1.0", "BZ2_bzlibVersion"},
        {"libexpat.so.1", "XML_ExpatVersion"},
        {"libm.so.6", "cbrt"},
        {"liblzma.so.5", "lzma_version_string"},
    };
    /* a name handed out earlier must survive refreshes */
    pp_symbol_info before;
    CHECK_EQ_INT(pp_symbolizer_lookup(s, (uintptr_t)&deflate, &before), 0);

    void *h = NULL;
    size_t i;
    pp_addr_range fr[8];
    int absent_before = 0;
    for (i = 0; i < sizeof cands / sizeof cands[0]; i++) {
        void *loaded = dlopen(cands[i][0], RTLD_LAZY | RTLD_NOLOAD);
        if (loaded) {
            dlclose(loaded);
            continue;
        }
        /* asked before the load: the process-wide search sees no such function */
        absent_before = pp_symbols_function_ranges(cands[i][1], 0, fr, 8) == 0;
        if ((h = dlopen(cands[i][0], RTLD_NOW | RTLD_LOCAL)) != NULL)
            break;
    }
    if (!h) {
        fprintf(stderr, "test_symbols: no unloaded candidate library; refresh-after-dlopen not run\n");
        CHECK(0);
        return;
    }
    uintptr_t addr = (uintptr_t)dlsym(h, cands[i][1]);
    CHECK(addr != 0);
    /* ... and finds it once the loader has loaded the library */
    CHECK(absent_before);
    CHECK(range_has(fr, pp_symbols_function_ranges(cands[i][1], 0, fr, 8), addr));
    pp_symbol_info info;
    CHECK_EQ_INT(pp_symbolizer_lookup(s, addr, &info), -1);
    CHECK_EQ_INT(pp_symbolizer_refresh(s), 0);
    CHECK_EQ_INT(pp_symbolizer_refresh(s), 0); /* nothing changed */
    CHECK_EQ_INT(pp_symbolizer_lookup(s, addr, &info), 0);
    CHECK_STR(info.name, cands[i][1]);
    size_t stem = strcspn(cands[i][0], ".");
    CHECK(info.object_base && strncmp(info.object_base, cands[i][0], stem) == 0);
    CHECK_EQ_INT(info.offset_in_object, addr - load_bias_of((void *)addr));
    const char *name = info.name;
    pp_addr_range obj;
    CHECK_EQ_INT(pp_symbols_object_range(addr, &obj), 0);
    CHECK(obj.start <= addr && addr < obj.end);

    dlclose(h);
    CHECK_EQ_INT(pp_symbolizer_refresh(s), 0);
    if (!dlopen(cands[i][0], RTLD_LAZY | RTLD_NOLOAD)) { /* really unloaded */
        CHECK_EQ_INT(pp_symbolizer_lookup(s, addr, &info), -1);
        CHECK_EQ_INT(pp_symbols_function_ranges(cands[i][1], 0, fr, 8), 0);
    }
    CHECK_STR(name, cands[i][1]);
    CHECK_STR(before.name, "deflate");
    CHECK_EQ_INT(pp_symbolizer_lookup(s, (uintptr_t)&deflate, &info), 0);
    CHECK_STR(info.name, "deflate");
}

/* JIT code: anonymous executable memory has no symbols and no error. */
static void test_anonymous(pp_symbolizer *s)
{
    size_t len = 2 * (size_t)sysconf(_SC_PAGESIZE);
    uint8_t *code = mmap(NULL, len, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(code != MAP_FAILED);
    if (code == MAP_FAILED)
        return;
    CHECK_EQ_INT(pp_symbolizer_refresh(s), 0);
    pp_symbol_info info;
    CHECK_EQ_INT(pp_symbolizer_lookup(s, (uintptr_t)code + 100, &info), 0);
    CHECK(info.name == NULL);
    char want[64];
    snprintf(want, sizeof want, "[anon:0x%lx]", (unsigned long)info.map_start);
    CHECK_STR(info.object, want);
    CHECK(info.map_start <= (uintptr_t)code && (uintptr_t)code + len <= info.map_limit);
    CHECK_EQ_INT(info.offset_in_object, (uintptr_t)code + 100 - info.map_start);
    munmap(code, len);
}

/* Copies `from` to a new temporary file; its path goes to path. */
static int copy_to_temp(const char *from, char *path)
{
    int out = mkstemp(path);
    int in = open(from, O_RDONLY);
    int ok = out >= 0 && in >= 0;
    char buf[65536];
    ssize_t n;
    while (ok && (n = read(in, buf, sizeof buf)) > 0)
        ok = write(out, buf, (size_t)n) == n;
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return ok ? 0 : -1;
}

/* A library whose file is gone: named by its path, no symbols, no error. */
static void test_deleted(pp_symbolizer *s)
{
    Dl_info dl;
    CHECK(dladdr((void *)&deflate, &dl) && dl.dli_fname);
    char path[] = "/tmp/pp_test_symbols_XXXXXX";
    CHECK_EQ_INT(copy_to_temp(dl.dli_fname, path), 0);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    unlink(path);
    CHECK(h != NULL);
    if (!h)
        return;
    uintptr_t addr = (uintptr_t)dlsym(h, "deflate");
    CHECK(addr != 0 && addr != (uintptr_t)&deflate);
    CHECK_EQ_INT(pp_symbolizer_refresh(s), 0);
    pp_symbol_info info;
    CHECK_EQ_INT(pp_symbolizer_lookup(s, addr, &info), 0);
    CHECK(info.name == NULL);
    CHECK(info.object && strstr(info.object, path) == info.object && strstr(info.object, "(deleted)"));
    dlclose(h);
}

/* The path in /proc/self/maps names another file than the one loaded (here
 * a bind mount over it, in a private mount namespace of a child process):
 * its symbols must not be used. */
static void test_other_file_at_path(pp_symbolizer *parent)
{
    Dl_info dl;
    CHECK(dladdr((void *)&deflate, &dl) && dl.dli_fname);
    char lib[] = "/tmp/pp_test_symbols_lib_XXXXXX", other[] = "/tmp/pp_test_symbols_other_XXXXXX";
    CHECK_EQ_INT(copy_to_temp(dl.dli_fname, lib), 0);
    CHECK_EQ_INT(copy_to_temp("/proc/self/exe", other), 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        pp_symbolizer_free(parent); /* the child's copy: leak checkers follow forks */
        if (unshare(CLONE_NEWNS) != 0 && unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
            _exit(77);
        if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0)
            _exit(77);
        void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
        uintptr_t addr = h ? (uintptr_t)dlsym(h, "deflate") : 0;
        if (!addr)
            _exit(1);
        pp_symbolizer *s = pp_symbolizer_new();
        pp_symbol_info info;
        int ok = s && pp_symbolizer_lookup(s, addr, &info) == 0 && info.name && strcmp(info.name, "deflate") == 0;
        pp_symbolizer_free(s);
        if (mount(other, lib, "none", MS_BIND, NULL) != 0)
            _exit(77);
        s = pp_symbolizer_new();
        ok = ok && s && pp_symbolizer_lookup(s, addr, &info) == 0 && info.name == NULL && info.build_id == NULL &&
             info.object && strcmp(info.object, lib) == 0;
        pp_addr_range r[8];
        ok = ok && !range_has(r, pp_symbols_function_ranges("deflate", 0, r, 8), addr);
        pp_symbolizer_free(s);
        pp_symbols_global_release();
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
        fprintf(stderr, "test_symbols: no private mount namespace; replaced-file check skipped\n");
    else
        CHECK_EQ_INT(WEXITSTATUS(status), 0);
    unlink(lib);
    unlink(other);
}

static void test_cxx(pp_symbolizer *s)
{
    void *h = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "test_symbols: libstdc++.so.6 not found, C++ check skipped\n");
        return;
    }
    const char *mangled = "_ZNSt6chrono3_V212system_clock3nowEv"; /* std::chrono::_V2::system_clock::now() */
    uintptr_t addr = (uintptr_t)dlsym(h, mangled);
    CHECK(addr != 0);
    CHECK_EQ_INT(pp_symbolizer_refresh(s), 0);
    pp_symbol_info info;
    CHECK_EQ_INT(pp_symbolizer_lookup(s, addr, &info), 0);
    CHECK(info.raw_name && strncmp(info.raw_name, "_Z", 2) == 0);
    CHECK(info.name && strstr(info.name, "::") && strstr(info.name, "system_clock"));
    CHECK(info.object_base && strncmp(info.object_base, "libstdc++.so.6", 14) == 0);
    /* cached: same string again */
    const char *first = info.name;
    CHECK_EQ_INT(pp_symbolizer_lookup(s, addr + 1, &info), 0);
    CHECK(info.name == first);
    dlclose(h);
}

static void test_vdso(pp_symbolizer *s)
{
    uintptr_t vdso = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
    if (!vdso) /* valgrind hides it */
        return;
    pp_addr_range r[8];
    int nr = pp_symbols_function_ranges("__vdso_clock_gettime", 0, r, 8);
    CHECK_EQ_INT(nr, 1);
    if (nr != 1)
        return;
    pp_symbol_info info;
    CHECK_EQ_INT(pp_symbolizer_lookup(s, r[0].start + 1, &info), 0);
    CHECK_STR(info.object, "[vdso]");
    CHECK_STR(info.object_base, "[vdso]");
    CHECK(info.name && strstr(info.name, "clock_gettime"));
    CHECK_EQ_INT(info.sym_start, r[0].start);
    pp_addr_range obj;
    CHECK_EQ_INT(pp_symbols_object_range(r[0].start, &obj), 0);
    CHECK_EQ_INT(obj.start, vdso);
}

int main(void)
{
    pp_symbolizer *s = pp_symbolizer_new();
    CHECK(s != NULL);
    if (!s)
        return 1;
    pp_symbol_info info;
    CHECK_EQ_INT(pp_symbolizer_lookup(s, 0, &info), -1);
    CHECK(info.object == NULL && info.name == NULL);

    test_own_binary(s);
    test_libc_write(s);
    test_libz(s);
    test_dlopen_refresh(s);
    test_anonymous(s);
    test_deleted(s);
    test_other_file_at_path(s);
    test_cxx(s);
    test_vdso(s);

    pp_symbolizer_free(s);
    pp_symbols_global_release();
    TEST_MAIN_END();
}
