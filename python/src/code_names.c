/* Names of freed code objects, kept for the samples taken while they ran.
 *
 * The drain thread names a sample's frames some milliseconds after it was
 * taken, and an allocation profile names its samples' frames when it is
 * exported; by then a module body, an exec'd string or a generated function
 * can have been freed, and its frames would read [unresolved frame]. (An
 * allocation sample taken with the GIL keeps its code objects alive; one
 * taken without it, in a raw allocation of C code that released the GIL,
 * cannot, and relies on the names kept here.) So the name is taken as the
 * code object dies: a code watcher (PyCode_AddWatcher, 3.12+) or, before
 * 3.12, a wrapper around the code type's deallocator, as
 * cloud-profiler-python does. Only names are kept, not the code objects.
 *
 * Watching starts when polyprof is imported (a capture can also be started
 * by the core's own threads, from the local endpoint) and costs two checks
 * per freed code object while nothing is sampled.
 *
 * Memory is bounded: a FIFO of NAMES_CAP entries, each with its strings
 * (truncated to what a resolved frame holds). A CPU sample's name is needed
 * only until the samples taken before its code object died are drained, a
 * fraction of a second; names pushed out sooner than that are counted. An
 * allocation sample's is needed until the next export, and is lost only if
 * NAMES_CAP code objects died in between. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "code_names.h"
#include "alloc_module.h"
#include "py_frames.h"
#include "utf8_encode.h"

#define NAMES_CAP 16384
#define YOUNG_NS 1000000000LL

typedef struct kept_name {
    uintptr_t code; /* 0: empty */
    uintptr_t check;
    int firstlineno;
    int64_t kept_at_ns;
    char *name;
    char *file;
} kept_name;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static kept_name *fifo;        /* NAMES_CAP entries, allocated on enable */
static size_t next_slot;       /* the oldest entry, overwritten next */
static pp_code_names_stats stats;
static int enabled;

/* A str's text as UTF-8, without allocating or raising: this runs inside a
 * deallocator, where an exception may be in flight and must stay as it is. */
static char *utf8_copy(PyObject *s)
{
    if (!s || !PyUnicode_Check(s))
        return strdup("?");
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(s) != 0)
        return strdup("?");
#endif
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    size_t cap = sizeof ((pp_resolved_frame *)0)->file;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    size_t len = 0;
    if (PyUnicode_IS_ASCII(s)) {
        len = (size_t)n < cap - 1 ? (size_t)n : cap - 1;
        memcpy(out, PyUnicode_DATA(s), len);
    } else {
        int kind = PyUnicode_KIND(s);
        const void *data = PyUnicode_DATA(s);
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_UCS4 cp = PyUnicode_READ(kind, data, i);
            char enc[4];
            size_t k = pp_utf8_encode(cp, enc);
            if (!k)
                break;
            if (len + k >= cap)
                break;
            memcpy(out + len, enc, k);
            len += k;
        }
    }
    out[len] = '\0';
    char *shrunk = realloc(out, len + 1);
    return shrunk ? shrunk : out;
}

static void keep(PyCodeObject *co)
{
    /* no samples, no frames to name later (the lock-free check first:
     * pp_sampler_running takes the sampler's lock) */
    if (!pp_py_alloc_running() && !pp_sampler_running())
        return;
#if PY_VERSION_HEX >= 0x030B0000
    PyObject *name = co->co_qualname;
#else
    PyObject *name = co->co_name;
#endif
    kept_name k = {
        .code = (uintptr_t)co,
        .check = pp_py_code_check(co),
        .firstlineno = co->co_firstlineno,
        .kept_at_ns = (int64_t)pp_now_ns(),
        .name = utf8_copy(name),
        .file = utf8_copy(co->co_filename),
    };
    if (!k.name || !k.file) {
        free(k.name);
        free(k.file);
        return;
    }
    pthread_mutex_lock(&lock);
    kept_name *slot = &fifo[next_slot];
    if (slot->code && k.kept_at_ns - slot->kept_at_ns < YOUNG_NS)
        stats.evicted_young++;
    free(slot->name);
    free(slot->file);
    *slot = k;
    next_slot = (next_slot + 1) % NAMES_CAP;
    stats.kept++;
    pthread_mutex_unlock(&lock);
}

#if PY_VERSION_HEX >= 0x030C0000
static int on_code_event(PyCodeEvent event, PyCodeObject *co)
{
    if (event == PY_CODE_EVENT_DESTROY)
        keep(co);
    return 0;
}
#else
static destructor original_code_dealloc;

static void code_dealloc_keeping_name(PyObject *o)
{
    keep((PyCodeObject *)o);
    original_code_dealloc(o);
}
#endif

int pp_code_names_enable(void)
{
    if (enabled)
        return 0;
    fifo = calloc(NAMES_CAP, sizeof *fifo);
    if (!fifo) {
        PyErr_NoMemory();
        return -1;
    }
#if PY_VERSION_HEX >= 0x030C0000
    if (PyCode_AddWatcher(on_code_event) < 0) {
        free(fifo);
        fifo = NULL;
        return -1;
    }
#else
    /* The code type is static and its deallocator is read on every
     * deallocation, so wrapping it takes effect at once. Never undone: a
     * code object being freed may be inside the wrapper. */
    original_code_dealloc = PyCode_Type.tp_dealloc;
    PyCode_Type.tp_dealloc = code_dealloc_keeping_name;
#endif
    enabled = 1;
    return 0;
}

int pp_code_names_find(uintptr_t code, uintptr_t check, pp_resolved_frame *out)
{
    int rc = -1;
    pthread_mutex_lock(&lock);
    if (fifo) {
        /* newest first: the code object a stale frame points at died last */
        for (size_t n = 0; n < NAMES_CAP; n++) {
            kept_name *k = &fifo[(next_slot + NAMES_CAP - 1 - n) % NAMES_CAP];
            if (!k->code)
                break;
            if (k->code == code && k->check == check) {
                snprintf(out->name, sizeof out->name, "%s", k->name);
                snprintf(out->file, sizeof out->file, "%s", k->file);
                out->start_line = k->firstlineno;
                out->line = k->firstlineno;
                stats.found++;
                rc = 0;
                break;
            }
        }
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

void pp_code_names_get_stats(pp_code_names_stats *out)
{
    pthread_mutex_lock(&lock);
    *out = stats;
    pthread_mutex_unlock(&lock);
}

void pp_code_names_add_metadata(pp_profile *p)
{
    pp_code_names_stats st;
    pp_code_names_get_stats(&st);
    const struct {
        const char *key;
        unsigned long long value;
    } lines[] = {{"freed_code_names_kept", st.kept},
                 {"freed_code_frames_named", st.found},
                 {"freed_code_names_evicted_young", st.evicted_young}};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        char line[96];
        snprintf(line, sizeof line, "%s=%llu", lines[i].key, lines[i].value);
        pp_profile_add_metadata(p, line);
    }
}
