/* polyprof._native: the thin CPython face of the core. Policy (options,
 * limits, formats) stays in the core; this file only converts arguments and
 * errors, and releases the GIL around calls that may wait for the drain
 * thread (which itself takes the GIL to name Python frames). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdlib.h>
#include <string.h>

#include "alloc_module.h"
#include "code_names.h"
#include "native_module.h"
#include "polyprof.h"
#include "py_frames.h"
#include "thread_state.h"

#define ERR_LEN 512

PyObject *PolyprofError; /* base of the package's errors */

/* ------------------------------------------------------------ Profile */

typedef struct {
    PyObject_HEAD pp_profile *profile;
} ProfileObject;

static PyTypeObject ProfileType;

PyObject *wrap_profile(pp_profile *p)
{
    if (!p)
        return PyErr_NoMemory();
    ProfileObject *o = PyObject_New(ProfileObject, &ProfileType);
    if (!o) {
        pp_profile_free(p);
        return NULL;
    }
    o->profile = p;
    return (PyObject *)o;
}

pp_profile *unwrap_profile(PyObject *o)
{
    if (!PyObject_TypeCheck(o, &ProfileType)) {
        PyErr_SetString(PyExc_TypeError, "expected a NativeProfile");
        return NULL;
    }
    return ((ProfileObject *)o)->profile;
}

static void profile_dealloc(ProfileObject *self)
{
    pp_profile_free(self->profile);
    PyObject_Free(self);
}

static int format_arg(PyObject *fmt, const char *path, pp_format *out)
{
    char err[ERR_LEN];
    if (fmt == NULL || fmt == Py_None) {
        if (!path) {
            *out = PP_FORMAT_PPROF;
            return 0;
        }
        if (pp_format_from_path(path, out, err, sizeof err) != 0) {
            PyErr_SetString(PyExc_ValueError, err);
            return -1;
        }
        return 0;
    }
    const char *name = PyUnicode_AsUTF8(fmt);
    if (!name)
        return -1;
    if (pp_format_from_name(name, out, err, sizeof err) != 0) {
        PyErr_SetString(PyExc_ValueError, err);
        return -1;
    }
    return 0;
}

static PyObject *profile_write(ProfileObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path", "format", NULL};
    PyObject *path_obj, *fmt = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|O:write", kwlist, PyUnicode_FSConverter, &path_obj, &fmt))
        return NULL;
    const char *path = PyBytes_AS_STRING(path_obj);
    pp_format f;
    if (format_arg(fmt, path, &f) != 0) {
        Py_DECREF(path_obj);
        return NULL;
    }
    char err[ERR_LEN];
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = pp_profile_write_file(self->profile, path, f, err, sizeof err);
    Py_END_ALLOW_THREADS Py_DECREF(path_obj);
    if (rc != 0) {
        PyErr_SetString(PyExc_OSError, err);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *profile_encode(ProfileObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"format", "top", NULL};
    PyObject *fmt = NULL;
    int top = 20;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|Oi:encode", kwlist, &fmt, &top))
        return NULL;
    pp_format f;
    if (format_arg(fmt, NULL, &f) != 0)
        return NULL;
    uint8_t *data = NULL;
    size_t len = 0;
    char err[ERR_LEN];
    if (pp_profile_encode(self->profile, f, top, &data, &len, err, sizeof err) != 0) {
        PyErr_SetString(PolyprofError, err);
        return NULL;
    }
    PyObject *b = PyBytes_FromStringAndSize((const char *)data, (Py_ssize_t)len);
    free(data);
    return b;
}

static PyObject *profile_report(ProfileObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"top", "value_index", NULL};
    int top = 20, value_index = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|ii:report", kwlist, &top, &value_index))
        return NULL;
    if (top <= 0) {
        PyErr_SetString(PyExc_ValueError, "report: top must be a positive number of functions");
        return NULL;
    }
    char *text = NULL;
    char err[ERR_LEN];
    if (pp_profile_report(self->profile, value_index, top, &text, err, sizeof err) != 0) {
        PyErr_SetString(PyExc_ValueError, err);
        return NULL;
    }
    PyObject *s = PyUnicode_DecodeUTF8(text, (Py_ssize_t)strlen(text), "replace");
    free(text);
    return s;
}

static PyObject *frame_tuple(const pp_frame_view *v)
{
    static const char *kinds[] = {"native", "python", "special"};
    return Py_BuildValue("(ssLss)", v->name, v->file, (long long)v->line, kinds[v->kind < 3 ? v->kind : 2],
                         v->mapping ? v->mapping : "");
}

/* [(frames root-last, values, labels)]: frames leaf first as
 * (name, file, line, kind, object). For tests and for users who want data. */
static PyObject *profile_samples(ProfileObject *self, PyObject *unused)
{
    (void)unused;
    pp_profile *p = self->profile;
    size_t n = pp_profile_num_samples(p);
    uint32_t nv = pp_profile_num_values(p);
    PyObject *list = PyList_New((Py_ssize_t)n);
    if (!list)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        uint32_t depth = pp_profile_sample_depth(p, i);
        PyObject *frames = PyList_New(depth);
        PyObject *values = PyTuple_New(nv);
        PyObject *labels = PyDict_New();
        if (!frames || !values || !labels)
            goto fail_item;
        for (uint32_t d = 0; d < depth; d++) {
            pp_frame_view v;
            pp_profile_sample_frame(p, i, d, &v);
            PyObject *t = frame_tuple(&v);
            if (!t)
                goto fail_item;
            PyList_SET_ITEM(frames, d, t);
        }
        for (uint32_t k = 0; k < nv; k++) {
            PyObject *num = PyLong_FromLongLong(pp_profile_value(p, i, k));
            if (!num)
                goto fail_item;
            PyTuple_SET_ITEM(values, k, num);
        }
        for (uint32_t l = 0; l < pp_profile_sample_num_labels(p, i); l++) {
            pp_label_view lv;
            pp_profile_sample_label(p, i, l, &lv);
            PyObject *val = lv.str ? PyUnicode_FromString(lv.str) : PyLong_FromLongLong(lv.num);
            if (!val || PyDict_SetItemString(labels, lv.key, val) != 0) {
                Py_XDECREF(val);
                goto fail_item;
            }
            Py_DECREF(val);
        }
        PyObject *item = PyTuple_Pack(3, frames, values, labels);
        Py_DECREF(frames);
        Py_DECREF(values);
        Py_DECREF(labels);
        if (!item) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);
        continue;
    fail_item:
        Py_XDECREF(frames);
        Py_XDECREF(values);
        Py_XDECREF(labels);
        Py_DECREF(list);
        return NULL;
    }
    return list;
}

static PyObject *profile_value_types(ProfileObject *self, PyObject *unused)
{
    (void)unused;
    uint32_t nv = pp_profile_num_values(self->profile);
    PyObject *list = PyList_New(nv);
    if (!list)
        return NULL;
    for (uint32_t i = 0; i < nv; i++) {
        const char *type, *unit;
        pp_profile_value_type(self->profile, i, &type, &unit);
        PyObject *t = Py_BuildValue("(ss)", type, unit);
        if (!t) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, t);
    }
    return list;
}

static PyObject *profile_comments(ProfileObject *self, PyObject *unused)
{
    (void)unused;
    uint32_t n = pp_profile_num_comments(self->profile);
    PyObject *list = PyList_New(n);
    if (!list)
        return NULL;
    for (uint32_t i = 0; i < n; i++) {
        PyObject *s = PyUnicode_FromString(pp_profile_comment(self->profile, i));
        if (!s) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, s);
    }
    return list;
}

static PyObject *profile_filter_label(ProfileObject *self, PyObject *args)
{
    const char *key, *value;
    if (!PyArg_ParseTuple(args, "ss:filter_label", &key, &value))
        return NULL;
    return wrap_profile(pp_profile_filter_label(self->profile, key, value));
}

static PyObject *profile_show_from(ProfileObject *self, PyObject *args)
{
    const char *name, *file = NULL;
    int keep_unmatched = 0;
    if (!PyArg_ParseTuple(args, "s|zp:show_from", &name, &file, &keep_unmatched))
        return NULL;
    return wrap_profile(pp_profile_show_from(self->profile, name, file, keep_unmatched));
}

static PyObject *profile_name_threads(ProfileObject *self, PyObject *arg)
{
    if (!PyDict_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "name_threads expects a dict {thread id: name}");
        return NULL;
    }
    Py_ssize_t n = PyDict_Size(arg), pos = 0, i = 0;
    int64_t *tids = calloc((size_t)n + 1, sizeof *tids);
    const char **names = calloc((size_t)n + 1, sizeof *names);
    PyObject *key, *value;
    int ok = tids && names;
    while (ok && PyDict_Next(arg, &pos, &key, &value)) {
        tids[i] = PyLong_AsLongLong(key);
        names[i] = PyUnicode_AsUTF8(value);
        if ((tids[i] == -1 && PyErr_Occurred()) || !names[i])
            ok = 0;
        i++;
    }
    if (ok)
        pp_profile_name_threads(self->profile, tids, names, (size_t)n);
    free(tids);
    free(names);
    if (!ok) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *profile_get_duration(ProfileObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromLongLong(pp_profile_duration_nanos(self->profile));
}

static PyMethodDef profile_methods[] = {
    {"write", (PyCFunction)(void (*)(void))profile_write, METH_VARARGS | METH_KEYWORDS,
     "write(path, format=None): write the profile; the format follows the suffix."},
    {"encode", (PyCFunction)(void (*)(void))profile_encode, METH_VARARGS | METH_KEYWORDS,
     "encode(format='pprof', top=20) -> bytes"},
    {"report", (PyCFunction)(void (*)(void))profile_report, METH_VARARGS | METH_KEYWORDS,
     "report(top=20, value_index=-1) -> str: top functions by cumulative value."},
    {"samples", (PyCFunction)profile_samples, METH_NOARGS,
     "samples() -> [(frames leaf first, values, labels)]"},
    {"value_types", (PyCFunction)profile_value_types, METH_NOARGS, "[(type, unit)] of each value"},
    {"comments", (PyCFunction)profile_comments, METH_NOARGS, "metadata lines 'key=value'"},
    {"filter_label", (PyCFunction)profile_filter_label, METH_VARARGS,
     "filter_label(key, value) -> Profile of the samples carrying that label"},
    {"name_threads", (PyCFunction)profile_name_threads, METH_O, "name_threads({tid: name})"},
    {"show_from", (PyCFunction)profile_show_from, METH_VARARGS,
     "show_from(name, file=None, keep_unmatched=False) -> Profile rooted at that function"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef profile_getset[] = {
    {"duration_ns", (getter)profile_get_duration, NULL, "profiled time in nanoseconds", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ProfileType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "polyprof._native.NativeProfile",
    .tp_basicsize = sizeof(ProfileObject),
    .tp_dealloc = (destructor)profile_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "An aggregated profile held by the core.",
    .tp_methods = profile_methods,
    .tp_getset = profile_getset,
};

/* ------------------------------------------------------------ Collector */

typedef struct {
    PyObject_HEAD pp_collector *collector;
} CollectorObject;

static PyTypeObject CollectorType;

static void collector_dealloc(CollectorObject *self)
{
    if (self->collector) {
        pp_collector *c = self->collector;
        self->collector = NULL;
        pp_profile *p;
        Py_BEGIN_ALLOW_THREADS p = pp_collector_stop(c);
        Py_END_ALLOW_THREADS pp_profile_free(p);
    }
    PyObject_Free(self);
}

static PyObject *collector_stop(CollectorObject *self, PyObject *unused)
{
    (void)unused;
    if (!self->collector) {
        PyErr_SetString(PolyprofError, "this profile was already stopped");
        return NULL;
    }
    pp_collector *c = self->collector;
    self->collector = NULL;
    pp_profile *p;
    Py_BEGIN_ALLOW_THREADS p = pp_collector_stop(c);
    Py_END_ALLOW_THREADS if (!p)
    {
        PyErr_SetString(PolyprofError, "the profiler was reset (fork?) and this profile is gone");
        return NULL;
    }
    pp_code_names_add_metadata(p);
    return wrap_profile(p);
}

static PyObject *collector_snapshot(CollectorObject *self, PyObject *unused)
{
    (void)unused;
    if (!self->collector) {
        PyErr_SetString(PolyprofError, "this profile was already stopped");
        return NULL;
    }
    pp_profile *p;
    Py_BEGIN_ALLOW_THREADS p = pp_collector_snapshot(self->collector);
    Py_END_ALLOW_THREADS if (!p)
    {
        PyErr_SetString(PolyprofError, "the profiler was reset (fork?) and this profile is gone");
        return NULL;
    }
    return wrap_profile(p);
}

static PyObject *collector_get_deadline(CollectorObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromUnsignedLongLong(self->collector ? pp_collector_deadline(self->collector) : 0);
}

static PyObject *collector_get_active(CollectorObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->collector != NULL);
}

static PyMethodDef collector_methods[] = {
    {"stop", (PyCFunction)collector_stop, METH_NOARGS, "stop() -> NativeProfile"},
    {"snapshot", (PyCFunction)collector_snapshot, METH_NOARGS, "snapshot() -> NativeProfile so far"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef collector_getset[] = {
    {"deadline_ns", (getter)collector_get_deadline, NULL, "monotonic deadline from the duration, 0 if none", NULL},
    {"active", (getter)collector_get_active, NULL, "whether it still collects", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject CollectorType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "polyprof._native.Collector",
    .tp_basicsize = sizeof(CollectorObject),
    .tp_dealloc = (destructor)collector_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A running collection of samples.",
    .tp_methods = collector_methods,
    .tp_getset = collector_getset,
};

/* ------------------------------------------------------------ module */

/* Options travel as a {key: str} dict in the core's grammar, one
 * pp_options_set per key, so values never need escaping. */
int options_from_dict(PyObject *dict, pp_options *o)
{
    pp_options_default(o);
    if (!dict || dict == Py_None)
        return 0;
    if (!PyDict_Check(dict)) {
        PyErr_SetString(PyExc_TypeError, "options must be a dict");
        return -1;
    }
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    char err[ERR_LEN];
    while (PyDict_Next(dict, &pos, &key, &value)) {
        const char *k = PyUnicode_AsUTF8(key);
        PyObject *vs = PyObject_Str(value);
        const char *v = vs ? PyUnicode_AsUTF8(vs) : NULL;
        if (!k || !v) {
            Py_XDECREF(vs);
            return -1;
        }
        int rc = pp_options_set(o, k, v, err, sizeof err);
        Py_DECREF(vs);
        if (rc != 0) {
            PyErr_SetString(PyExc_ValueError, err);
            return -1;
        }
    }
    return 0;
}

static PyObject *mod_parse_options(PyObject *m, PyObject *args)
{
    (void)m;
    const char *spec;
    if (!PyArg_ParseTuple(args, "s:parse_options", &spec))
        return NULL;
    pp_options o;
    pp_options_default(&o);
    char err[ERR_LEN];
    if (pp_options_parse(&o, spec, err, sizeof err) != 0) {
        PyErr_SetString(PyExc_ValueError, err);
        return NULL;
    }
    char out[PP_PATH_MAX + 256];
    pp_options_format(&o, out, sizeof out);
    return PyUnicode_FromString(out);
}

static PyObject *mod_start(PyObject *m, PyObject *args, PyObject *kw)
{
    (void)m;
    static char *kwlist[] = {"options", "filter_key", "filter_value", NULL};
    PyObject *opts = NULL;
    const char *fkey = NULL, *fvalue = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|Ozz:start", kwlist, &opts, &fkey, &fvalue))
        return NULL;
    pp_options o;
    if (options_from_dict(opts, &o) != 0)
        return NULL;
    char err[ERR_LEN] = "";
    pp_collector *c;
    Py_BEGIN_ALLOW_THREADS c = pp_collector_start(&o, fkey, fvalue, err, sizeof err);
    Py_END_ALLOW_THREADS if (!c)
    {
        PyErr_SetString(PolyprofError, err[0] ? err : "cannot start the profiler");
        return NULL;
    }
    CollectorObject *co = PyObject_New(CollectorObject, &CollectorType);
    if (!co) {
        pp_profile *p;
        Py_BEGIN_ALLOW_THREADS p = pp_collector_stop(c);
        Py_END_ALLOW_THREADS pp_profile_free(p);
        return NULL;
    }
    co->collector = c;
    return (PyObject *)co;
}

static PyObject *mod_format_for_path(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *path_obj;
    if (!PyArg_ParseTuple(args, "O&:format_for_path", PyUnicode_FSConverter, &path_obj))
        return NULL;
    pp_format f;
    char err[ERR_LEN];
    int rc = pp_format_from_path(PyBytes_AS_STRING(path_obj), &f, err, sizeof err);
    Py_DECREF(path_obj);
    if (rc != 0) {
        PyErr_SetString(PyExc_ValueError, err);
        return NULL;
    }
    return PyUnicode_FromString(pp_format_name(f));
}

/* decode(data, format) -> NativeProfile: any format the core reads. */
static PyObject *mod_decode(PyObject *m, PyObject *args)
{
    (void)m;
    Py_buffer view;
    PyObject *fmt;
    if (!PyArg_ParseTuple(args, "y*O:decode", &view, &fmt))
        return NULL;
    pp_format f;
    if (format_arg(fmt, NULL, &f) != 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    char err[ERR_LEN];
    pp_profile *p;
    Py_BEGIN_ALLOW_THREADS p = pp_profile_decode(view.buf, (size_t)view.len, f, err, sizeof err);
    Py_END_ALLOW_THREADS PyBuffer_Release(&view);
    if (!p) {
        PyErr_SetString(PyExc_ValueError, err);
        return NULL;
    }
    return wrap_profile(p);
}

/* diff(base, new, format, sample_type, top) -> bytes: the core's differential page or report. */
static PyObject *mod_diff(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *base_obj, *cur_obj, *fmt;
    const char *sample_type = NULL;
    int top = 20;
    if (!PyArg_ParseTuple(args, "OOO|zi:diff", &base_obj, &cur_obj, &fmt, &sample_type, &top))
        return NULL;
    pp_profile *base = unwrap_profile(base_obj), *cur = base ? unwrap_profile(cur_obj) : NULL;
    pp_format f;
    if (!cur || format_arg(fmt, NULL, &f) != 0)
        return NULL;
    uint8_t *data = NULL;
    size_t len = 0;
    char err[ERR_LEN];
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = pp_profile_diff(base, cur, sample_type, f, top, &data, &len, err, sizeof err);
    Py_END_ALLOW_THREADS if (rc != 0)
    {
        PyErr_SetString(PyExc_ValueError, err);
        return NULL;
    }
    PyObject *b = PyBytes_FromStringAndSize((const char *)data, (Py_ssize_t)len);
    free(data);
    return b;
}

static PyObject *mod_decode_pprof(PyObject *m, PyObject *arg)
{
    (void)m;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) != 0)
        return NULL;
    char err[ERR_LEN];
    pp_profile *p = pp_profile_decode_pprof(view.buf, (size_t)view.len, err, sizeof err);
    PyBuffer_Release(&view);
    if (!p) {
        PyErr_SetString(PyExc_ValueError, err);
        return NULL;
    }
    return wrap_profile(p);
}

/* merge_profiles([NativeProfile], label_key=None, label_values=None) -> NativeProfile */
static PyObject *mod_merge_profiles(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *seq, *values = Py_None;
    const char *key = NULL;
    if (!PyArg_ParseTuple(args, "O|zO:merge_profiles", &seq, &key, &values))
        return NULL;
    PyObject *profiles = PySequence_Fast(seq, "merge_profiles expects a list of profiles");
    if (!profiles)
        return NULL;
    PyObject *labels = values == Py_None ? NULL : PySequence_Fast(values, "label values must be a list of str");
    Py_ssize_t n = PySequence_Fast_GET_SIZE(profiles);
    const pp_profile **ps = calloc((size_t)n + 1, sizeof *ps);
    const char **vs = calloc((size_t)n + 1, sizeof *vs);
    PyObject *result = NULL;
    if (!ps || !vs) {
        PyErr_NoMemory();
        goto out;
    }
    if (values != Py_None && (!labels || PySequence_Fast_GET_SIZE(labels) != n)) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "merge_profiles: one label value per profile");
        goto out;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!(ps[i] = unwrap_profile(PySequence_Fast_GET_ITEM(profiles, i))))
            goto out;
        if (labels && !(vs[i] = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(labels, i))))
            goto out;
    }
    char err[ERR_LEN];
    pp_profile *merged = pp_profile_merge(ps, labels ? vs : NULL, (size_t)n, key, err, sizeof err);
    if (!merged)
        PyErr_SetString(PyExc_ValueError, err);
    else
        result = wrap_profile(merged);
out:
    free(ps);
    free(vs);
    Py_DECREF(profiles);
    Py_XDECREF(labels);
    return result;
}

static PyObject *mod_add_code_label(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *code;
    const char *key, *value;
    if (!PyArg_ParseTuple(args, "O!ss:add_code_label", &PyCode_Type, &code, &key, &value))
        return NULL;
    if (pp_sampler_add_code_label((uintptr_t)code, key, value) != 0) {
        PyErr_SetString(PolyprofError, "too many labelled functions at once (at most 64)");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *mod_remove_code_label(PyObject *m, PyObject *arg)
{
    (void)m;
    if (!PyCode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "remove_code_label expects a code object");
        return NULL;
    }
    pp_sampler_remove_code_label((uintptr_t)arg);
    Py_RETURN_NONE;
}

static PyObject *mod_stats(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    pp_sampler_stats s;
    pp_sampler_get_stats(&s);
    return Py_BuildValue("{sKsKsKsKsKsKsKsOsdsKsO}", "samples", (unsigned long long)s.samples, "dropped_ring",
                         (unsigned long long)s.dropped_ring, "dropped_memory", (unsigned long long)s.dropped_memory,
                         "unwind_failed", (unsigned long long)s.unwind_failed, "truncated",
                         (unsigned long long)s.truncated, "handler_ns", (unsigned long long)s.handler_ns,
                         "drain_cpu_ns", (unsigned long long)s.drain_cpu_ns, "running",
                         pp_sampler_running() ? Py_True : Py_False, "overhead_pct", s.overhead_pct, "interval_ns",
                         (unsigned long long)s.interval_ns, "budget_stopped", s.budget_stopped ? Py_True : Py_False);
}

static PyObject *mod_now_ns(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    return PyLong_FromUnsignedLongLong(pp_now_ns());
}

static PyObject *mod_add_current_thread(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    pp_sampler_add_current_thread();
    Py_RETURN_NONE;
}

static PyObject *mod_running(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    return PyBool_FromLong(pp_sampler_running());
}

/* The one message when Python frames cannot be read: profiles still work,
 * without them, and each says so in its metadata. */
static int warn_if_frames_refused(void)
{
    if (pp_py_frames_usable())
        return 0;
    return PyErr_WarnFormat(PyExc_RuntimeWarning, 1, "polyprof: %s", pp_py_layout_note());
}

static PyObject *mod_frame_layout(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    return PyUnicode_FromString(pp_py_layout_note());
}

static PyObject *mod_frame_layout_test(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *built, *runtime;
    int install = 0;
    if (!PyArg_ParseTuple(args, "OO|p:_frame_layout_test", &built, &runtime, &install))
        return NULL;
    PyObject *note = pp_py_layout_test(built, runtime, install);
    if (note && install && warn_if_frames_refused() != 0)
        Py_CLEAR(note);
    return note;
}

/* Tests: whether the signal handler's own lookup of the calling thread's
 * thread state (the runtime's fields, not CPython's function) finds what
 * CPython's function does, and what the handler then uses does too. */
static PyObject *mod_thread_state_test(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    int agrees = pp_py_thread_state_check();
    PyThreadState *used = pp_py_this_thread_state();
    return PyBool_FromLong(agrees && used && used == PyGILState_GetThisThreadState());
}

static PyMethodDef module_methods[] = {
    {"start", (PyCFunction)(void (*)(void))mod_start, METH_VARARGS | METH_KEYWORDS,
     "start(options={}, filter_key=None, filter_value=None) -> Collector"},
    {"parse_options", mod_parse_options, METH_VARARGS, "parse_options(spec) -> normalized spec; ValueError"},
    {"format_for_path", mod_format_for_path, METH_VARARGS, "format_for_path(path) -> format name; ValueError"},
    {"decode_pprof", mod_decode_pprof, METH_O, "decode_pprof(bytes) -> NativeProfile"},
    {"merge_profiles", mod_merge_profiles, METH_VARARGS,
     "merge_profiles(profiles, label_key=None, label_values=None) -> NativeProfile; ValueError"},
    {"decode", mod_decode, METH_VARARGS, "decode(bytes, format) -> NativeProfile; ValueError"},
    {"diff", mod_diff, METH_VARARGS, "diff(base, new, format, sample_type=None, top=20) -> bytes; ValueError"},
    {"add_code_label", mod_add_code_label, METH_VARARGS, "add_code_label(code, key, value)"},
    {"remove_code_label", mod_remove_code_label, METH_O, "remove_code_label(code)"},
    {"stats", mod_stats, METH_NOARGS, "sampler counters"},
    {"now_ns", mod_now_ns, METH_NOARGS, "the core's monotonic clock"},
    {"running", mod_running, METH_NOARGS, "whether the sampler runs"},
    {"add_current_thread", mod_add_current_thread, METH_NOARGS, "cover the calling thread now"},
    {"frame_layout", mod_frame_layout, METH_NOARGS, "how Python frames are read: the profiles' metadata line"},
    {"_frame_layout_test", mod_frame_layout_test, METH_VARARGS,
     "_frame_layout_test(built_changes, runtime_changes, install=False) -> metadata line (tests only)"},
    {"_thread_state_test", mod_thread_state_test, METH_NOARGS,
     "_thread_state_test() -> whether the signal handler finds this thread's state as CPython does (tests only)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "polyprof._native", "polyprof's C core, bound to CPython.", -1, module_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void)
{
    if (PyType_Ready(&ProfileType) < 0 || PyType_Ready(&CollectorType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (!m)
        return NULL;
    PolyprofError = PyErr_NewException("polyprof._native.PolyprofError", PyExc_RuntimeError, NULL);
    Py_XINCREF(PolyprofError);
    if (!PolyprofError || PyModule_AddObject(m, "PolyprofError", PolyprofError) != 0)
        goto fail;
    Py_INCREF(&ProfileType);
    Py_INCREF(&CollectorType);
    PyModule_AddObject(m, "NativeProfile", (PyObject *)&ProfileType);
    PyModule_AddObject(m, "Collector", (PyObject *)&CollectorType);
    char err[ERR_LEN];
    if (pp_py_register_runtime(err, sizeof err) != 0) {
        PyErr_SetString(PolyprofError, err);
        goto fail;
    }
    if (pp_code_names_enable() != 0)
        goto fail;
    PyModule_AddIntConstant(m, "MIXED_MODE", pp_py_mixed_mode_available());
    if (warn_if_frames_refused() != 0)
        goto fail;
    if (add_production(m) != 0 || add_alloc(m) != 0)
        goto fail;
    if (add_endpoint(m) != 0)
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
