/* CPython frames for the core: the capture hook (signal handler) that walks
 * the current thread's interpreter frames, and the resolver (drain thread,
 * with the GIL) that names them.
 *
 * Where CPython versions differ, they differ in the one table below, filled
 * from the running version's own headers at build time (the extension is
 * built per version), so no offset is copied by hand. From 3.13 on the
 * interpreter also publishes these offsets for profilers (_Py_DebugOffsets,
 * at the start of _PyRuntime): at load the table is checked against them,
 * so a patch release that moved a field is noticed instead of mislabelling
 * frames (choose_layout below). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#if PY_VERSION_HEX >= 0x030B0000
#define Py_BUILD_CORE 1
/* CPython's internal headers have inline helpers with parameters some
 * builds leave unused: their warnings are theirs, not ours. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#if PY_VERSION_HEX >= 0x030E0000
#include <internal/pycore_interpframe.h> /* the frame struct moved to pycore_interpframe_structs.h */
#else
#include <internal/pycore_frame.h>
#endif
#if PY_VERSION_HEX >= 0x030D0000
#include <internal/pycore_runtime.h> /* _PyRuntime, whose first member is its _Py_DebugOffsets */
#endif
#pragma GCC diagnostic pop
#undef Py_BUILD_CORE
#else
#include <frameobject.h>
#endif

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "polyprof.h"
#include "code_names.h"
#include "eval_loop.h"
#include "py_frames.h"
#include "signal_path.h"
#include "signal_mask.h"
#include "thread_state.h"
#include "utf8_encode.h"

typedef struct frame_layout {
    /* how to get from the thread state to the leaf frame */
    ptrdiff_t tstate_frame;   /* offset of the frame pointer in PyThreadState, or -1 */
    ptrdiff_t tstate_cframe;  /* 3.11/3.12: offset of the _PyCFrame pointer, or -1 */
    ptrdiff_t cframe_current; /* 3.11/3.12: offset of current_frame in _PyCFrame */
    /* one frame */
    ptrdiff_t back;           /* f_back / previous */
    ptrdiff_t code;           /* f_code / f_executable */
    uintptr_t code_tag_bits;  /* 3.14+: f_executable is a _PyStackRef, whose low bits are tags */
    ptrdiff_t instr;          /* f_lasti (int) or prev_instr / instr_ptr (pointer) */
    int instr_is_pointer;
    int lasti_in_code_units;  /* 3.10 counts code units in f_lasti */
    ptrdiff_t owner;          /* 3.12+: frames owned by the interpreter separate invocations; -1 */
    int owner_interpreter;    /* owner values from this one up: the interpreter's own frames (the eval
                               * loop's entry frame: FRAME_OWNED_BY_CSTACK to 3.13, _INTERPRETER from 3.14) */
    ptrdiff_t is_entry;       /* 3.11: frame is the first of its invocation; -1 */
    int every_frame_is_entry; /* <= 3.10: one eval-loop call per frame */
    ptrdiff_t code_units;     /* offset of the first code unit in PyCodeObject (3.11+), or -1 */
    int skip_code_flags;      /* code flags of the interpreter's own trampolines (3.13+'s __init__ cleanup) */
    uint64_t refcnt_bits;     /* the bits of an object's first word that count references (3.14+: not
                               * its top 16, ob_flags, set in immortal objects) */
    /* the code object's fields read without the C API (signal handler, naming without the GIL) */
    ptrdiff_t co_filename, co_name, co_qualname, co_firstlineno, co_flags;
} frame_layout;

#if PY_VERSION_HEX >= 0x030B0000
#define CODE_FIELDS                                                                                               \
    .co_filename = offsetof(PyCodeObject, co_filename), .co_name = offsetof(PyCodeObject, co_name),              \
    .co_qualname = offsetof(PyCodeObject, co_qualname), .co_firstlineno = offsetof(PyCodeObject, co_firstlineno), \
    .co_flags = offsetof(PyCodeObject, co_flags)
#else
#define CODE_FIELDS                                                                                            \
    .co_filename = offsetof(PyCodeObject, co_filename), .co_name = offsetof(PyCodeObject, co_name),           \
    .co_qualname = offsetof(PyCodeObject, co_name), .co_firstlineno = offsetof(PyCodeObject, co_firstlineno), \
    .co_flags = offsetof(PyCodeObject, co_flags)
#endif

/* The layout of the CPython this extension was compiled against. */
static const frame_layout built_layout = {
#if PY_VERSION_HEX >= 0x030E0000
    .tstate_frame = offsetof(PyThreadState, current_frame),
    .tstate_cframe = -1,
    .cframe_current = 0,
    .back = offsetof(_PyInterpreterFrame, previous),
    .code = offsetof(_PyInterpreterFrame, f_executable),
    .code_tag_bits = Py_TAG_BITS,
    .refcnt_bits = ((uint64_t)1 << 48) - 1,
    .instr = offsetof(_PyInterpreterFrame, instr_ptr),
    .instr_is_pointer = 1,
    .owner = offsetof(_PyInterpreterFrame, owner),
    .owner_interpreter = FRAME_OWNED_BY_INTERPRETER,
    .is_entry = -1,
    .code_units = offsetof(PyCodeObject, co_code_adaptive),
    .skip_code_flags = CO_NO_MONITORING_EVENTS,
#elif PY_VERSION_HEX >= 0x030D0000
    .tstate_frame = offsetof(PyThreadState, current_frame),
    .tstate_cframe = -1,
    .cframe_current = 0,
    .back = offsetof(_PyInterpreterFrame, previous),
    .code = offsetof(_PyInterpreterFrame, f_executable),
    .instr = offsetof(_PyInterpreterFrame, instr_ptr),
    .instr_is_pointer = 1,
    .owner = offsetof(_PyInterpreterFrame, owner),
    .owner_interpreter = FRAME_OWNED_BY_CSTACK,
    .is_entry = -1,
    .code_units = offsetof(PyCodeObject, co_code_adaptive),
    .skip_code_flags = CO_NO_MONITORING_EVENTS,
#elif PY_VERSION_HEX >= 0x030C0000
    .tstate_frame = -1,
    .tstate_cframe = offsetof(PyThreadState, cframe),
    .cframe_current = offsetof(_PyCFrame, current_frame),
    .back = offsetof(_PyInterpreterFrame, previous),
    .code = offsetof(_PyInterpreterFrame, f_code),
    .instr = offsetof(_PyInterpreterFrame, prev_instr),
    .instr_is_pointer = 1,
    .owner = offsetof(_PyInterpreterFrame, owner),
    .owner_interpreter = FRAME_OWNED_BY_CSTACK,
    .is_entry = -1,
    .code_units = offsetof(PyCodeObject, co_code_adaptive),
#elif PY_VERSION_HEX >= 0x030B0000
    .tstate_frame = -1,
    .tstate_cframe = offsetof(PyThreadState, cframe),
    .cframe_current = offsetof(_PyCFrame, current_frame),
    .back = offsetof(_PyInterpreterFrame, previous),
    .code = offsetof(_PyInterpreterFrame, f_code),
    .instr = offsetof(_PyInterpreterFrame, prev_instr),
    .instr_is_pointer = 1,
    .owner = -1,
    .is_entry = offsetof(_PyInterpreterFrame, is_entry),
    .code_units = offsetof(PyCodeObject, co_code_adaptive),
#else
    .tstate_frame = offsetof(PyThreadState, frame),
    .tstate_cframe = -1,
    .back = offsetof(PyFrameObject, f_back),
    .code = offsetof(PyFrameObject, f_code),
    .instr = offsetof(PyFrameObject, f_lasti),
    .instr_is_pointer = 0,
#if PY_VERSION_HEX >= 0x030A0000
    .lasti_in_code_units = 1,
#endif
    .owner = -1,
    .is_entry = -1,
    .every_frame_is_entry = 1,
    .code_units = -1,
#endif
    CODE_FIELDS,
#if PY_VERSION_HEX < 0x030E0000
    .refcnt_bits = ~(uint64_t)0,
#endif
};

/* The layout in use: built_layout, or the running interpreter's own
 * offsets where they differ (choose_layout). Written only while no sampler
 * runs (at import, or by the test hook), read by the signal handler. */
static frame_layout layout;
/* 0: Python frames are not captured (the layout could not be trusted). */
static int layout_usable;
/* 1: the layout in use is built_layout, whose offsets the signal handler's
 * walk then has as constants (pp_py_capture_thread). */
static int layout_is_built;
/* The profile metadata line that says which layout is in use. */
static char layout_note[384];

/* Bytes of a code object read at once without the GIL: every field of
 * CODE_FIELDS must lie within (checked when a layout is chosen). */
#define CODE_HEAD_BYTES 512
/* The bytes that hold them in the layout in use. */
static size_t code_head_bytes;

#define FIELD(base, off, type) (*(type *)((char *)(base) + (off)))

/* The data stack below the leaf frame that the capture asks for ahead of its
 * walk: ~25 frames of typical functions. */
#define FRAME_PREFETCH_BYTES 4096

/* The identity word stored with each frame: if the code object at this
 * address is freed and another takes its place before the frame is named,
 * the words differ and the frame is reported unresolved instead of being
 * given the newcomer's name. `co` is the object or a copy of its head. */
static inline uintptr_t code_check_in(const frame_layout *l, const void *co)
{
    return FIELD(co, l->co_filename, uintptr_t) ^ (FIELD(co, l->co_name, uintptr_t) << 1) ^
           (uintptr_t)FIELD(co, l->co_firstlineno, int);
}

static uintptr_t code_check(const void *co) { return code_check_in(&layout, co); }

/* ------------------------------------------------------------ choosing the layout */

/* The fields of frame_layout that CPython 3.13+ publishes in _Py_DebugOffsets
 * (section, field), with the bytes each read takes (0: an array's start). */
#define PUBLISHED_FIELDS(X)                                      \
    X(thread_state, current_frame, tstate_frame, 8)              \
    X(interpreter_frame, previous, back, 8)                      \
    X(interpreter_frame, executable, code, 8)                    \
    X(interpreter_frame, instr_ptr, instr, 8)                    \
    X(interpreter_frame, owner, owner, 1)                        \
    X(code_object, filename, co_filename, 8)                     \
    X(code_object, name, co_name, 8)                             \
    X(code_object, qualname, co_qualname, 8)                     \
    X(code_object, firstlineno, co_firstlineno, 4)               \
    X(code_object, co_code_adaptive, code_units, 0)

#define FIELD_NAMES(section, field, ours, width) #section "." #field,
static const char *const published_names[] = {PUBLISHED_FIELDS(FIELD_NAMES)};
#define N_PUBLISHED (sizeof published_names / sizeof published_names[0])

static ptrdiff_t *layout_field(frame_layout *l, size_t i)
{
    ptrdiff_t *fields[] = {
#define OUR_FIELD(section, field, ours, width) &l->ours,
        PUBLISHED_FIELDS(OUR_FIELD)
    };
    return fields[i];
}

static size_t code_fields_end(const frame_layout *l)
{
    ptrdiff_t offs[] = {l->co_filename, l->co_name, l->co_qualname, l->co_firstlineno, l->co_flags};
    size_t end = 0;
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++)
        if ((size_t)offs[i] + 8 > end)
            end = (size_t)offs[i] + 8;
    return end;
}

typedef enum { LAYOUT_COMPILED, LAYOUT_VERIFIED, LAYOUT_FROM_RUNTIME, LAYOUT_REFUSED } layout_verdict;

#if PY_VERSION_HEX >= 0x030D0000
static uint64_t *published_field(_Py_DebugOffsets *d, size_t i)
{
    uint64_t *fields[] = {
#define THEIR_FIELD(section, field, ours, width) &d->section.field,
        PUBLISHED_FIELDS(THEIR_FIELD)
    };
    return fields[i];
}

static uint64_t published_section_size(const _Py_DebugOffsets *d, size_t i)
{
    const uint64_t sizes[] = {
#define SECTION_SIZE(section, field, ours, width) d->section.size,
        PUBLISHED_FIELDS(SECTION_SIZE)
    };
    return sizes[i];
}

static const unsigned published_widths[] = {
#define FIELD_WIDTH(section, field, ours, width) width,
    PUBLISHED_FIELDS(FIELD_WIDTH)
};

/* The running interpreter's offsets against the ones this extension was
 * built with. They agree unless a patch release moved a field: then the
 * runtime's are used where they cover everything read (frames and thread
 * state), and Python frames are refused where they do not (a code object
 * whose published fields moved may have moved co_flags too, which is not
 * published). Not published, so not checked: the _PyStackRef tag bits and
 * the frame owner values, which no patch release has changed. */
static layout_verdict layout_against_runtime(const frame_layout *built, _Py_DebugOffsets *rt, frame_layout *out,
                                             char *why, size_t len)
{
    *out = *built;
    if (memcmp(rt->cookie, _Py_Debug_Cookie, sizeof rt->cookie) != 0) {
        snprintf(why, len, "the interpreter's _Py_DebugOffsets are missing (no '%s' cookie at _PyRuntime)",
                 _Py_Debug_Cookie);
        return LAYOUT_REFUSED;
    }
    if (rt->version >> 16 != (uint64_t)PY_VERSION_HEX >> 16) {
        snprintf(why, len, "the interpreter is CPython %u.%u, this polyprof was built for %u.%u",
                 (unsigned)(rt->version >> 24) & 0xff, (unsigned)(rt->version >> 16) & 0xff,
                 (unsigned)PY_MAJOR_VERSION, (unsigned)PY_MINOR_VERSION);
        return LAYOUT_REFUSED;
    }
    if (rt->free_threaded) {
        snprintf(why, len, "the interpreter is a free-threaded build, which polyprof does not support");
        return LAYOUT_REFUSED;
    }
    for (size_t i = 0; i < N_PUBLISHED; i++) {
        uint64_t off = *published_field(rt, i), size = published_section_size(rt, i);
        unsigned width = published_widths[i];
        if (size == 0 || size > (1u << 16) || off + width > size || (width == 8 && off % 8 != 0)) {
            snprintf(why, len, "the interpreter's _Py_DebugOffsets are not plausible (%s at %llu in %llu bytes)",
                     published_names[i], (unsigned long long)off, (unsigned long long)size);
            return LAYOUT_REFUSED;
        }
    }
    /* The frame's fields must not overlap one another. */
    for (size_t i = 1; i <= 4; i++)
        for (size_t j = i + 1; j <= 4; j++) {
            uint64_t a = *published_field(rt, i), b = *published_field(rt, j);
            if (a < b + published_widths[j] && b < a + published_widths[i]) {
                snprintf(why, len, "the interpreter's _Py_DebugOffsets are not plausible (%s and %s overlap)",
                         published_names[i], published_names[j]);
                return LAYOUT_REFUSED;
            }
        }
    size_t n = 0;
    int code_moved = 0;
    why[0] = '\0';
    for (size_t i = 0; i < N_PUBLISHED; i++) {
        uint64_t theirs = *published_field(rt, i);
        if ((uint64_t)*layout_field((frame_layout *)built, i) == theirs)
            continue;
        if (strncmp(published_names[i], "code_object.", 12) == 0)
            code_moved = 1;
        n += (size_t)snprintf(why + (n < len ? n : len), n < len ? len - n : 0, "%s%s at %llu, built with %lld",
                              n ? "; " : "", published_names[i], (unsigned long long)theirs,
                              (long long)*layout_field((frame_layout *)built, i));
        *layout_field(out, i) = (ptrdiff_t)theirs;
    }
    if (!why[0])
        return LAYOUT_VERIFIED;
    if (code_moved) {
        size_t used = strlen(why);
        snprintf(why + used, len - used, " (code objects changed, and co_flags, which polyprof reads, is not published)");
        return LAYOUT_REFUSED;
    }
    if (code_fields_end(out) > CODE_HEAD_BYTES) {
        snprintf(why, len, "the interpreter's code objects are larger than polyprof reads");
        return LAYOUT_REFUSED;
    }
    return LAYOUT_FROM_RUNTIME;
}
#endif

/* Chooses the layout from `built` and, where the version publishes one, the
 * runtime's `rt` (NULL: _PyRuntime's own); installs it when `install`.
 * Writes the metadata line that says what was chosen. Not while a sampler
 * runs. */
static layout_verdict choose_layout(const frame_layout *built, void *rt, int install, char *note, size_t len)
{
    frame_layout chosen = *built;
    char why[300] = "";
    layout_verdict v = LAYOUT_COMPILED;
#if PY_VERSION_HEX >= 0x030D0000
    _Py_DebugOffsets own;
    if (!rt) {
        memcpy(&own, &_PyRuntime.debug_offsets, sizeof own);
        rt = &own;
    }
    v = layout_against_runtime(built, rt, &chosen, why, sizeof why);
#else
    (void)rt;
#endif
    switch (v) {
    case LAYOUT_COMPILED:
        snprintf(note, len, "python_frame_layout=compiled");
        break;
    case LAYOUT_VERIFIED:
        snprintf(note, len, "python_frame_layout=verified against the interpreter's _Py_DebugOffsets");
        break;
    case LAYOUT_FROM_RUNTIME:
        snprintf(note, len, "python_frame_layout=the interpreter's _Py_DebugOffsets (%s)", why);
        break;
    case LAYOUT_REFUSED:
        snprintf(note, len, "python_frame_layout=refused: Python frames are not captured: %s", why);
        break;
    }
    if (install) {
        layout = chosen;
        layout_usable = v != LAYOUT_REFUSED;
        layout_is_built = built == &built_layout && (v == LAYOUT_COMPILED || v == LAYOUT_VERIFIED);
        code_head_bytes = code_fields_end(&chosen);
        snprintf(layout_note, sizeof layout_note, "%s", note);
    }
    return v;
}

const char *pp_py_layout_note(void) { return layout_note; }

int pp_py_frames_usable(void) { return layout_usable; }

/* Tests: `changes` maps _Py_DebugOffsets names ("interpreter_frame.owner")
 * to values; "cookie", "version" and "free_threaded" change the runtime's
 * header. Applied to a copy. */
static int apply_changes(PyObject *changes, frame_layout *built, void *runtime)
{
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    if (!changes || changes == Py_None)
        return 0;
    if (!PyDict_Check(changes)) {
        PyErr_SetString(PyExc_TypeError, "layout changes must be a dict of field name -> int");
        return -1;
    }
    while (PyDict_Next(changes, &pos, &key, &value)) {
        const char *name = PyUnicode_Check(key) ? PyUnicode_AsUTF8(key) : NULL;
        long long v = PyLong_AsLongLong(value);
        if (!name || (v == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            PyErr_SetString(PyExc_TypeError, "layout changes must be a dict of field name -> int");
            return -1;
        }
        int found = 0;
#if PY_VERSION_HEX >= 0x030D0000
        _Py_DebugOffsets *d = runtime;
        if (d && strcmp(name, "cookie") == 0) {
            memset(d->cookie, 0, sizeof d->cookie);
            found = 1;
        } else if (d && strcmp(name, "version") == 0) {
            d->version = (uint64_t)v;
            found = 1;
        } else if (d && strcmp(name, "free_threaded") == 0) {
            d->free_threaded = (uint64_t)v;
            found = 1;
        }
#else
        (void)runtime;
#endif
        for (size_t i = 0; !found && i < N_PUBLISHED; i++) {
            if (strcmp(name, published_names[i]) != 0)
                continue;
            found = 1;
            if (built)
                *layout_field(built, i) = (ptrdiff_t)v;
#if PY_VERSION_HEX >= 0x030D0000
            if (d)
                *published_field(d, i) = (uint64_t)v;
#endif
        }
        if (!found) {
            PyErr_Format(PyExc_ValueError, "unknown frame layout field '%s'", name);
            return -1;
        }
    }
    return 0;
}

PyObject *pp_py_layout_test(PyObject *built_changes, PyObject *runtime_changes, int install)
{
    if (install && pp_sampler_running()) {
        PyErr_SetString(PyExc_RuntimeError, "the frame layout cannot change while the sampler runs");
        return NULL;
    }
    frame_layout built = built_layout;
    void *rt = NULL;
#if PY_VERSION_HEX >= 0x030D0000
    _Py_DebugOffsets copy;
    memcpy(&copy, &_PyRuntime.debug_offsets, sizeof copy);
    rt = &copy;
#endif
    if (apply_changes(built_changes, &built, NULL) != 0 || apply_changes(runtime_changes, NULL, rt) != 0)
        return NULL;
    char note[sizeof layout_note];
    choose_layout(&built, rt, install, note, sizeof note);
    return PyUnicode_FromString(note);
}

uintptr_t pp_py_code_check(PyCodeObject *co) { return code_check(co); }

/* Signal handler; async-signal-safe. Runs inside the core's fault guard, so a
 * stale pointer costs this sample, not the process. Only the sampled thread's
 * own frames are read: while it runs they cannot change under us, and while
 * it is blocked they do not change at all. */
PP_SIGNAL_PATH static int capture(void *ctx, void *ucontext, pp_raw_frame *out, int max, uint32_t *flags)
{
    (void)ctx;
    (void)ucontext;
    /* The thread's own state from its TSS slot (pthread_getspecific, a plain
     * read): unlike the "current" thread state it is set even while the
     * thread has released the GIL, e.g. inside zlib or a sleep. */
    PyThreadState *ts = pp_py_this_thread_state();
    if (!ts)
        return 0;
    return pp_py_capture_thread(ts, out, max, flags);
}

/* The walk, for a layout `l`. Inlined twice below: once with the layout in
 * use read from memory, once with built_layout, whose offsets and switches
 * the compiler then folds into the loop (the fields it reads, the branches
 * other versions need), so that each frame costs a few instructions fewer. */
static inline __attribute__((always_inline)) int capture_frames(const frame_layout *l, PyThreadState *ts,
                                                                 pp_raw_frame *out, int max, uint32_t *flags)
{
    void *frame;
    if (l->tstate_cframe >= 0) {
        void *cframe = FIELD(ts, l->tstate_cframe, void *);
        if (!cframe)
            return 0;
        frame = FIELD(cframe, l->cframe_current, void *);
    } else {
        frame = FIELD(ts, l->tstate_frame, void *);
    }
#if PY_VERSION_HEX >= 0x030B0000
    /* A thread's frames are pushed upward on its data stack, one after the
     * other, so its callers' frames lie in the few KiB below the leaf's. The
     * walk below reads them one after another, each read waiting for the
     * last (the program has pushed them out of the caches since the previous
     * sample): asked for all at once here, they arrive together. Prefetches
     * never fault, wherever the window ends. */
    for (uintptr_t a = (uintptr_t)frame & ~(uintptr_t)63, end = a - FRAME_PREFETCH_BYTES; a > end; a -= 64)
        __builtin_prefetch((const void *)a);
#endif
    int n = 0;
    for (int guard = 0; frame && guard < 4096; guard++, frame = FIELD(frame, l->back, void *)) {
        if (l->owner >= 0 && FIELD(frame, l->owner, char) >= l->owner_interpreter) {
            /* The eval loop's entry frame: the frames before it ran in one
             * eval-loop call. */
            if (n > 0)
                out[n - 1].flags |= PP_RAW_ENTRY;
            continue;
        }
        PyObject *code = (PyObject *)(FIELD(frame, l->code, uintptr_t) & ~l->code_tag_bits);
        if (!code || Py_TYPE(code) != &PyCode_Type) {
            *flags |= PP_CAPTURE_FAULT;
            continue;
        }
        if (n == max) {
            *flags |= PP_CAPTURE_TRUNCATED;
            break;
        }
        if (l->skip_code_flags && (FIELD(code, l->co_flags, int) & l->skip_code_flags))
            continue;
        long offset;
        if (l->instr_is_pointer) {
            char *ip = FIELD(frame, l->instr, char *);
            offset = ip - ((char *)code + l->code_units);
        } else {
            int lasti = FIELD(frame, l->instr, int);
            offset = l->lasti_in_code_units ? (long)lasti * 2 : lasti;
        }
        out[n].code = (uintptr_t)code;
        out[n].check = code_check_in(l, code);
        out[n].offset = offset < 0 ? 0 : (uint32_t)offset;
        out[n].flags = l->every_frame_is_entry ? PP_RAW_ENTRY : 0;
        if (l->is_entry >= 0 && FIELD(frame, l->is_entry, char))
            out[n].flags |= PP_RAW_ENTRY;
        n++;
    }
    if (frame) /* the walk's own bound ended it: frames were left out */
        *flags |= PP_CAPTURE_TRUNCATED;
    return n;
}

PP_SIGNAL_PATH int pp_py_capture_thread(PyThreadState *ts, pp_raw_frame *out, int max, uint32_t *flags)
{
    if (!layout_usable)
        return 0;
    if (layout_is_built)
        return capture_frames(&built_layout, ts, out, max, flags);
    return capture_frames(&layout, ts, out, max, flags);
}

/* ------------------------------------------------------------ resolution */

/* Code objects named once are kept alive, so their address cannot be reused
 * by another code object while the core caches the name under it. Bounded:
 * past the limit frames are still named, just not cached. */
#define MAX_PINNED 200000

/* A pinned code object: its name and file (UTF-8 buffers owned by the
 * pinned strings, valid while pinned) and nothing that can change, so later
 * offsets in it are named without the GIL. Drain side only (serialized by
 * the core's drain lock). */
typedef struct known_code {
    uintptr_t code;
    uintptr_t check;
    const char *name;
    const char *file;
    int firstlineno;
} known_code;

/* How this batch names frames: with the GIL on the calling thread (it is
 * a Python thread that already has it), through the GIL thread (which took
 * it for us), or without the GIL (it could not be had in time). */
typedef enum { NAME_DIRECT, NAME_VIA_GIL_THREAD, NAME_WITHOUT_GIL } naming_mode;

typedef struct resolver {
    PyGILState_STATE gil;
    naming_mode mode;
    PyObject *pinned; /* set of code objects */
    known_code *known;
    size_t n_known, cap_known; /* open addressing, code == 0 empty */
} resolver;

static resolver the_resolver;      /* the sampler's (its drain thread) */
static resolver events_resolver;   /* event profiles' (allocations): exported on other threads */

static size_t known_slot(uintptr_t code, size_t cap) { return (size_t)((code >> 4) * 0x9e3779b97f4a7c15ULL) & (cap - 1); }

static known_code *known_find(resolver *r, uintptr_t code)
{
    if (!r->cap_known)
        return NULL;
    for (size_t i = known_slot(code, r->cap_known);; i = (i + 1) & (r->cap_known - 1)) {
        if (r->known[i].code == code)
            return &r->known[i];
        if (!r->known[i].code)
            return NULL;
    }
}

static void known_add(resolver *r, const known_code *k)
{
    if ((r->n_known + 1) * 2 > r->cap_known) {
        size_t cap = r->cap_known ? r->cap_known * 2 : 1024;
        known_code *t = calloc(cap, sizeof *t);
        if (!t)
            return;
        for (size_t i = 0; i < r->cap_known; i++) {
            if (!r->known[i].code)
                continue;
            size_t j = known_slot(r->known[i].code, cap);
            while (t[j].code)
                j = (j + 1) & (cap - 1);
            t[j] = r->known[i];
        }
        free(r->known);
        r->known = t;
        r->cap_known = cap;
    }
    size_t j = known_slot(k->code, r->cap_known);
    while (r->known[j].code)
        j = (j + 1) & (r->cap_known - 1);
    r->known[j] = *k;
    r->n_known++;
}

/* Bytes of bytecode, to keep a sampled offset inside the line table. */
static int code_bytes(PyCodeObject *co)
{
#if PY_VERSION_HEX >= 0x030B0000
    return (int)(Py_SIZE(co) * (Py_ssize_t)sizeof(_Py_CODEUNIT));
#else
    return (int)PyBytes_GET_SIZE(co->co_code);
#endif
}

static int line_of(PyCodeObject *co, uint32_t offset)
{
    int nbytes = code_bytes(co);
    int addr = (int)offset < nbytes ? (int)offset : nbytes - 2;
    int line = PyCode_Addr2Line(co, addr < 0 ? 0 : addr);
    return line > 0 ? line : FIELD(co, layout.co_firstlineno, int);
}

/* Without the GIL: a pinned code object is alive and immutable, and its line
 * table is a read-only bytes object, so PyCode_Addr2Line only reads. */
static int resolve_fast(void *ctx, const pp_raw_frame *f, pp_resolved_frame *out)
{
    resolver *r = ctx;
    known_code *k = known_find(r, f->code);
    if (!k || k->check != f->check)
        return -1;
    snprintf(out->name, sizeof out->name, "%s", k->name);
    snprintf(out->file, sizeof out->file, "%s", k->file);
    out->start_line = k->firstlineno;
    out->line = line_of((PyCodeObject *)k->code, f->offset);
    return 0;
}

static int is_finalizing(void)
{
#if PY_VERSION_HEX >= 0x030D0000
    return Py_IsFinalizing();
#else
    return _Py_IsFinalizing();
#endif
}

int pp_py_finalizing(void) { return is_finalizing(); }

/* ------------------------------------------------------------ the GIL, with a bound */

/* The drain thread must never wait for the GIL without a bound: a thread
 * stuck in a long C call holding it (a catastrophic regular expression, a
 * blocking call that does not release it) would stop the drain, and with it
 * every capture's export, the local endpoint's included. CPython has no
 * timed acquire, so a thread of ours (the GIL thread) takes the GIL for the
 * drain and runs the calls that need it, while the drain waits for it at
 * most GIL_WAIT_NS; past that, frames are named without the GIL (below).
 * The GIL thread may stay blocked in PyGILState_Ensure; once it gets the GIL
 * and nobody wants it any more, it gives it back. */
#define GIL_WAIT_NS 200000000ULL

static struct gil_thread {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int started;
    int want;               /* the drain asks for the GIL */
    int held;               /* the GIL thread holds it for the drain */
    int acquiring;          /* the GIL thread is inside PyGILState_Ensure */
    uint64_t acquiring_since;
    int (*call)(void *arg); /* one call at a time, run while held */
    void *arg;
    int call_rc, call_pending;
} gt = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, NULL, NULL, 0, 0};

static _Atomic unsigned long long batches_without_gil;

static void *gil_thread_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&gt.lock);
    for (;;) {
        while (!gt.want)
            pthread_cond_wait(&gt.wake, &gt.lock);
        gt.acquiring = 1;
        gt.acquiring_since = pp_now_ns();
        pthread_mutex_unlock(&gt.lock);
        PyGILState_STATE g = PyGILState_Ensure();
        pthread_mutex_lock(&gt.lock);
        gt.acquiring = 0;
        gt.held = 1;
        pthread_cond_broadcast(&gt.wake);
        while (gt.want) {
            if (gt.call_pending) {
                pthread_mutex_unlock(&gt.lock);
                int rc = gt.call(gt.arg);
                pthread_mutex_lock(&gt.lock);
                gt.call_rc = rc;
                gt.call_pending = 0;
                pthread_cond_broadcast(&gt.wake);
            } else {
                pthread_cond_wait(&gt.wake, &gt.lock);
            }
        }
        gt.held = 0;
        pthread_mutex_unlock(&gt.lock);
        PyGILState_Release(g);
        pthread_mutex_lock(&gt.lock);
    }
    return NULL;
}

/* The child of a fork has no GIL thread. */
static void gil_thread_forget(void)
{
    pthread_mutex_init(&gt.lock, NULL);
    pthread_cond_init(&gt.wake, NULL);
    gt.started = gt.want = gt.held = gt.acquiring = gt.call_pending = 0;
}

/* Caller holds gt.lock. */
static int gil_thread_start_locked(void)
{
    if (gt.started)
        return 0;
    /* Created with every asynchronous signal blocked (it inherits our
     * mask): it must never take the sampler's signal. */
    sigset_t old;
    pp_block_async_signals(&old);
    pthread_t t;
    int rc = pthread_create(&t, NULL, gil_thread_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return -1;
    pthread_detach(t);
    gt.started = 1;
    return 0;
}

/* Whether the GIL thread holds the GIL for us; waits at most GIL_WAIT_NS,
 * and not at all when it has been waiting since an earlier batch (the GIL is
 * wedged: each drain round would otherwise stall). */
static int gil_thread_acquire(void)
{
    pthread_mutex_lock(&gt.lock);
    if (gil_thread_start_locked() != 0) {
        pthread_mutex_unlock(&gt.lock);
        return 0;
    }
    uint64_t now = pp_now_ns();
    uint64_t wait = gt.acquiring && now - gt.acquiring_since >= GIL_WAIT_NS ? 0 : GIL_WAIT_NS;
    gt.want = 1;
    pthread_cond_broadcast(&gt.wake);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    uint64_t ns = (uint64_t)deadline.tv_nsec + wait;
    deadline.tv_sec += (time_t)(ns / 1000000000ULL);
    deadline.tv_nsec = (long)(ns % 1000000000ULL);
    int rc = 0;
    while (!gt.held && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&gt.wake, &gt.lock, &deadline);
    int held = gt.held;
    if (!held)
        gt.want = 0; /* it gives the GIL back as soon as it gets it */
    pthread_mutex_unlock(&gt.lock);
    return held;
}

/* Runs fn(arg) on the GIL thread, which holds the GIL. */
static int gil_thread_call(int (*fn)(void *), void *arg)
{
    pthread_mutex_lock(&gt.lock);
    gt.call = fn;
    gt.arg = arg;
    gt.call_pending = 1;
    pthread_cond_broadcast(&gt.wake);
    while (gt.call_pending)
        pthread_cond_wait(&gt.wake, &gt.lock);
    int rc = gt.call_rc;
    pthread_mutex_unlock(&gt.lock);
    return rc;
}

static void gil_thread_release(void)
{
    pthread_mutex_lock(&gt.lock);
    gt.want = 0;
    pthread_cond_broadcast(&gt.wake);
    pthread_mutex_unlock(&gt.lock);
}

unsigned long long pp_py_batches_without_gil(void) { return atomic_load(&batches_without_gil); }

/* Names with the GIL this thread holds, when it is a Python thread that
 * has it (an export called from Python): 1 when so. (PyGILState_Check alone
 * says yes everywhere once a subinterpreter exists; the core's threads have
 * no thread state.) */
static int begin_direct(resolver *r)
{
    if (!PyGILState_GetThisThreadState() || !PyGILState_Check())
        return 0;
    r->mode = NAME_DIRECT;
    r->gil = PyGILState_Ensure();
    return 1;
}

static int resolve_begin(void *ctx)
{
    resolver *r = ctx;
    if (is_finalizing())
        return 1;
    if (begin_direct(r))
        return 0;
    if (gil_thread_acquire()) {
        r->mode = NAME_VIA_GIL_THREAD;
    } else {
        r->mode = NAME_WITHOUT_GIL;
        atomic_fetch_add(&batches_without_gil, 1);
    }
    return 0;
}

static void resolve_end(void *ctx)
{
    resolver *r = ctx;
    if (r->mode == NAME_DIRECT)
        PyGILState_Release(r->gil);
    else if (r->mode == NAME_VIA_GIL_THREAD)
        gil_thread_release();
}

static const char *utf8_of(PyObject *s)
{
    const char *u = s && PyUnicode_Check(s) ? PyUnicode_AsUTF8(s) : NULL;
    if (!u)
        PyErr_Clear();
    return u ? u : "?";
}

static void copy_utf8(PyObject *s, char *out, size_t len) { snprintf(out, len, "%s", utf8_of(s)); }

/* Whether the object at `o` is a live object of `type`, read without trusting
 * the pointer. A freed block keeps its type word when pymalloc frees it, but
 * its first word then holds a free-list link (a heap address) or NULL, never
 * a plausible reference count; glibc's free overwrites both words. Immortal
 * objects have a count of 2^32 - 1 (3.12, 3.13) or 3 * 2^30 (3.14+), below
 * the bound. */
static int object_alive(const void *o, PyTypeObject *type)
{
    struct {
        uint64_t refcnt;
        PyTypeObject *type;
    } head;
    if (!o || pp_safe_read(&head, o, sizeof head) != 0)
        return 0;
    uint64_t count = head.refcnt & layout.refcnt_bits;
    return head.type == type && count >= 1 && count <= ((uint64_t)1 << 33);
}

static int resolve_with_gil(resolver *r, const pp_raw_frame *f, pp_resolved_frame *out)
{
    PyCodeObject *co = (PyCodeObject *)f->code;
    if (!object_alive(co, &PyCode_Type) || code_check(co) != f->check)
        return -1;
    PyObject *file = FIELD(co, layout.co_filename, PyObject *), *name = FIELD(co, layout.co_qualname, PyObject *);
    int firstlineno = FIELD(co, layout.co_firstlineno, int);
    if (!object_alive(file, &PyUnicode_Type) || !object_alive(name, &PyUnicode_Type))
        return -1;
    copy_utf8(name, out->name, sizeof out->name);
    copy_utf8(file, out->file, sizeof out->file);
    out->start_line = firstlineno;
    out->line = line_of(co, f->offset);

    if (!r->pinned) {
        r->pinned = PySet_New(NULL);
        if (!r->pinned) {
            PyErr_Clear();
            return 1;
        }
    }
    if (PySet_GET_SIZE(r->pinned) >= MAX_PINNED)
        return 1;
    if (PySet_Add(r->pinned, (PyObject *)co) != 0) {
        PyErr_Clear();
        return 1;
    }
    if (!known_find(r, f->code)) {
        known_code k = {f->code, f->check, utf8_of(name), utf8_of(file), firstlineno};
        known_add(r, &k);
    }
    return 0;
}

/* ------------------------------------------------------------ naming without the GIL */

/* A str object's text as UTF-8, read without the GIL and without trusting
 * the pointer: the object must be a live, compact str (every str CPython
 * makes for code objects is); its characters are read with fault-safe
 * reads and encoded here. -1 when anything does not check out. */
static int read_str(const void *o, char *out, size_t len)
{
    if (!object_alive(o, &PyUnicode_Type))
        return -1;
    PyCompactUnicodeObject head;
    if (pp_safe_read(&head, o, sizeof head) != 0 || !head._base.state.compact)
        return -1;
    int ascii = head._base.state.ascii;
    unsigned kind = head._base.state.kind;
    if (kind != 1 && kind != 2 && kind != 4)
        return -1;
    Py_ssize_t n = head._base.length;
    if (n < 0)
        return -1;
    if ((size_t)n > len)
        n = (Py_ssize_t)len; /* at most one code point per output byte is kept anyway */
    const char *data = (const char *)o + (ascii ? sizeof(PyASCIIObject) : sizeof(PyCompactUnicodeObject));
    unsigned char raw[1024];
    size_t want = (size_t)n * kind;
    if (want > sizeof raw)
        want = sizeof raw - sizeof raw % 4;
    if (pp_safe_read(raw, data, want) != 0)
        return -1;
    size_t o_len = 0;
    for (size_t i = 0; i + kind <= want; i += kind) {
        uint32_t cp = kind == 1 ? raw[i] : kind == 2 ? (uint32_t)raw[i] | (uint32_t)raw[i + 1] << 8
                                                     : (uint32_t)raw[i] | (uint32_t)raw[i + 1] << 8 |
                                                           (uint32_t)raw[i + 2] << 16 | (uint32_t)raw[i + 3] << 24;
        char enc[4];
        size_t k = pp_utf8_encode(cp, enc);
        if (!k)
            return -1;
        if (o_len + k >= len)
            break;
        memcpy(out + o_len, enc, k);
        o_len += k;
    }
    out[o_len] = '\0';
    return 0;
}

/* While another thread holds the GIL in a long C call, no Python code runs
 * and code objects are not freed under us, but nothing is guaranteed: every
 * read is fault-safe and checked against the word taken at sample time. The
 * line is the function's first line (the line table is not read without
 * the GIL). Valid for this sample only: the name is not cached, so a later
 * batch with the GIL pins the code object and names it fully. */
static int resolve_without_gil(const pp_raw_frame *f, pp_resolved_frame *out)
{
    const char *co = (const char *)f->code;
    if (!object_alive(co, &PyCode_Type))
        return -1;
    _Alignas(8) char head[CODE_HEAD_BYTES];
    if (pp_safe_read(head, co, code_head_bytes) != 0 || code_check(head) != f->check)
        return -1;
    const void *name = FIELD(head, layout.co_qualname, void *), *file = FIELD(head, layout.co_filename, void *);
    if (read_str(name, out->name, sizeof out->name) != 0 || read_str(file, out->file, sizeof out->file))
        return -1;
    out->start_line = FIELD(head, layout.co_firstlineno, int);
    out->line = out->start_line;
    return 1;
}

typedef struct resolve_call {
    resolver *r;
    const pp_raw_frame *f;
    pp_resolved_frame *out;
} resolve_call;

static int resolve_call_main(void *arg)
{
    resolve_call *c = arg;
    return resolve_with_gil(c->r, c->f, c->out);
}

static int resolve_live(resolver *r, const pp_raw_frame *f, pp_resolved_frame *out)
{
    switch (r->mode) {
    case NAME_DIRECT:
        return resolve_with_gil(r, f, out);
    case NAME_VIA_GIL_THREAD: {
        resolve_call c = {r, f, out};
        return gil_thread_call(resolve_call_main, &c);
    }
    default:
        return resolve_without_gil(f, out);
    }
}

/* A code object freed since the sample is named from what was kept when it
 * died (code_names.c). */
static int resolve(void *ctx, const pp_raw_frame *f, pp_resolved_frame *out)
{
    int rc = resolve_live(ctx, f, out);
    if (rc < 0) {
        memset(out, 0, sizeof *out);
        rc = pp_code_names_find(f->code, f->check, out);
    }
    return rc;
}

/* threading's name for the thread with this native id, looked up in
 * threading._active (ident -> Thread) when the core first sees the thread. */
static int thread_name_with_gil(int tid, char *out, size_t len)
{
    int rc = -1;
    PyObject *modules = PyImport_GetModuleDict();
    PyObject *mod = modules ? PyDict_GetItemString(modules, "threading") : NULL;
    PyObject *active = mod ? PyObject_GetAttrString(mod, "_active") : NULL;
    if (active && PyDict_Check(active)) {
        PyObject *key, *thread;
        Py_ssize_t pos = 0;
        while (rc != 0 && PyDict_Next(active, &pos, &key, &thread)) {
            PyObject *native_id = PyObject_GetAttrString(thread, "native_id");
            if (native_id && PyLong_Check(native_id) && PyLong_AsLong(native_id) == tid) {
                PyObject *name = PyObject_GetAttrString(thread, "name");
                if (name && PyUnicode_Check(name)) {
                    copy_utf8(name, out, len);
                    rc = 0;
                }
                Py_XDECREF(name);
            }
            Py_XDECREF(native_id);
        }
    }
    Py_XDECREF(active);
    PyErr_Clear();
    return rc;
}

typedef struct thread_name_call {
    int tid;
    char *out;
    size_t len;
} thread_name_call;

static int thread_name_call_main(void *arg)
{
    thread_name_call *c = arg;
    return thread_name_with_gil(c->tid, c->out, c->len);
}

static int thread_name(void *ctx, int tid, char *out, size_t len)
{
    resolver *r = ctx;
    if (r->mode == NAME_DIRECT)
        return thread_name_with_gil(tid, out, len);
    if (r->mode == NAME_VIA_GIL_THREAD) {
        thread_name_call c = {tid, out, len};
        return gil_thread_call(thread_name_call_main, &c);
    }
    return -1; /* the OS's name for now */
}

/* ------------------------------------------------------------ plumbing */

/* libpython functions that only pass a call along (vectorcall trampolines,
 * slot dispatch): they say nothing about where time goes, and py-spy drops
 * them too. libpython functions that do work (time_sleep, list_sort,
 * builtin_sorted...) are kept. */
static const char *const plumbing_prefixes[] = {
    "_PyEval_", "PyEval_", "_PyObject_Call", "PyObject_Call", "_PyObject_Vectorcall", "PyObject_Vectorcall",
    "_PyObject_MakeTpCall", "_PyObject_FastCall", "_PyFunction_Vectorcall", "_PyFunction_FastCall",
    "PyVectorcall_", "_PyVectorcall_", "cfunction_vectorcall", "cfunction_call", "method_vectorcall",
    "vectorcall_method", "vectorcall_unbound", "_PyCFunction_", "PyCFunction_Call", "slot_tp_call",
    "slot_tp_init", "type_call", "call_function", "do_call_core", "function_code_fastcall",
    "_PyMethodDef_RawFastCall", "object_vacall", "_Py_CheckFunctionResult", "method_call", "_PyEval_Vector",
    /* 3.15: the eval loop's calls through _PyStackRef arrays */
    "_Py_BuiltinCallFast", "_Py_CallBuiltinClass_StackRef", "_PyCallMethodDescriptorFast", "_Py_VectorCall",
};

static int is_plumbing(void *ctx, const char *symbol)
{
    (void)ctx;
    for (size_t i = 0; i < sizeof plumbing_prefixes / sizeof plumbing_prefixes[0]; i++)
        if (strncmp(symbol, plumbing_prefixes[i], strlen(plumbing_prefixes[i])) == 0)
            return 1;
    return 0;
}

/* ------------------------------------------------------------ registration */

/* The eval loop's ranges, found at registration. */
static pp_addr_range eval_ranges[PP_MAX_RANGES];
static int n_eval_ranges;

int pp_py_register_runtime(char *err, size_t errlen)
{
#ifdef Py_GIL_DISABLED
    /* Free-threaded frames keep their bytecode per thread (tlbc_index) and
     * run without the GIL the naming relies on. */
    snprintf(err, errlen, "polyprof does not support free-threaded CPython (%s); use the regular (GIL) build",
             Py_GetVersion());
    return -1;
#endif
    char note[sizeof layout_note];
    choose_layout(&built_layout, NULL, 1, note, sizeof note);
    pp_py_thread_state_check();
    pthread_atfork(NULL, NULL, gil_thread_forget);
    pp_runtime rt;
    memset(&rt, 0, sizeof rt);
    rt.name = "python";
    rt.ctx = &the_resolver;
    rt.capture = capture;
    rt.resolve_begin = resolve_begin;
    rt.resolve = resolve;
    rt.resolve_end = resolve_end;
    rt.resolve_fast = resolve_fast;
    rt.is_plumbing = is_plumbing;
    rt.thread_name = thread_name;
    rt.note = layout_note;
    n_eval_ranges = pp_py_eval_ranges(eval_ranges, PP_MAX_RANGES);
    memcpy(rt.eval, eval_ranges, sizeof eval_ranges);
    rt.n_eval = (size_t)n_eval_ranges;
    /* libpython's own code (or the executable's, in a static build). */
    if (pp_symbols_object_range((uintptr_t)&PyEval_EvalCode, &rt.plumbing[0]) == 0)
        rt.n_plumbing = 1;
    return pp_sampler_set_runtime(&rt, err, errlen);
}

/* Event profiles are exported by a Python thread holding the GIL (stop(),
 * snapshots), or by a native thread that must not wait (the local
 * endpoint): the latter names frames without the GIL, never through the
 * GIL thread, which serves the sampler's drain one call at a time. */
static int events_resolve_begin(void *ctx)
{
    resolver *r = ctx;
    if (is_finalizing())
        return 1;
    if (!begin_direct(r))
        r->mode = NAME_WITHOUT_GIL;
    return 0;
}

/* Allocation stacks' native frames: the allocator's own functions (and a
 * tracer's chained hooks) say nothing about who allocated. */
static const char *const allocator_prefixes[] = {
    "PyMem_", "_PyMem_", "PyObject_Malloc", "PyObject_Calloc", "PyObject_Realloc", "_PyObject_Malloc",
    "_PyObject_Calloc", "_PyObject_Realloc", "pymalloc_", "_PyObject_GC_", "PyObject_GC_", "gc_alloc",
    "_PyObject_New", "PyType_GenericAlloc", "_PyType_AllocNoTrack", "tracemalloc_",
};

static int events_is_plumbing(void *ctx, const char *symbol)
{
    for (size_t i = 0; i < sizeof allocator_prefixes / sizeof allocator_prefixes[0]; i++)
        if (strncmp(symbol, allocator_prefixes[i], strlen(allocator_prefixes[i])) == 0)
            return 1;
    return is_plumbing(ctx, symbol);
}

void pp_py_events_runtime(pp_runtime *rt)
{
    memset(rt, 0, sizeof *rt);
    rt->name = "python";
    rt->ctx = &events_resolver;
    rt->resolve_fast = resolve_fast;
    rt->resolve_begin = events_resolve_begin;
    rt->resolve = resolve;
    rt->resolve_end = resolve_end;
    rt->is_plumbing = events_is_plumbing;
    rt->note = layout_note;
}

int pp_py_mixed_mode_available(void) { return n_eval_ranges > 0; }

int pp_py_eval_loop(pp_addr_range *out, int max)
{
    int n = n_eval_ranges < max ? n_eval_ranges : max;
    memcpy(out, eval_ranges, (size_t)n * sizeof *out);
    return n;
}
