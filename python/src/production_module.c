/* The production controls of the core, bound to CPython: the environment's
 * configuration (pp_env_config_read), continuous profiling windows
 * (pp_continuous_*) and the local store (pp_store_*). Policy stays in the
 * core; this file converts arguments and calls the Python exporter. */
#include "native_module.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ERR_LEN 512

/* ------------------------------------------------------------ env_config */

static const char *real_getenv(const char *name) { return getenv(name); }

static int set_item(PyObject *d, const char *key, PyObject *v)
{
    if (!v)
        return -1;
    int rc = PyDict_SetItemString(d, key, v);
    Py_DECREF(v);
    return rc;
}

static void add_push_key(void *ctx, const char *key, const char *value)
{
    int *ok = ((void **)ctx)[1];
    *ok &= set_item(((void **)ctx)[0], key, PyUnicode_FromString(value)) == 0;
}

/* The options as {key: value} that options_from_dict turns back into them. */
static PyObject *options_dict(const pp_options *o)
{
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    char buf[64];
    int ok = 1;
    const char *event = o->mode == PP_MODE_WALL ? "wall" : o->mode == PP_MODE_ALLOC ? "alloc" : "cpu";
    ok &= set_item(d, "event", PyUnicode_FromString(event)) == 0;
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)o->alloc_interval);
    ok &= set_item(d, "alloc_interval", PyUnicode_FromString(buf)) == 0;
    snprintf(buf, sizeof buf, "%lluns", (unsigned long long)o->interval_ns);
    ok &= set_item(d, "interval", PyUnicode_FromString(buf)) == 0;
    snprintf(buf, sizeof buf, "%lluns", (unsigned long long)o->duration_ns);
    ok &= set_item(d, "duration", PyUnicode_FromString(buf)) == 0;
    ok &= set_item(d, "native", PyUnicode_FromString(o->native ? "true" : "false")) == 0;
    snprintf(buf, sizeof buf, "%d", o->signo);
    ok &= set_item(d, "signal", PyUnicode_FromString(buf)) == 0;
    snprintf(buf, sizeof buf, "%zu", o->max_memory);
    ok &= set_item(d, "memory", PyUnicode_FromString(buf)) == 0;
    snprintf(buf, sizeof buf, "%lluns", (unsigned long long)o->window_ns);
    ok &= set_item(d, "window", PyUnicode_FromString(buf)) == 0;
    ok &= set_item(d, "store", PyUnicode_FromString(o->store)) == 0;
    snprintf(buf, sizeof buf, "%lluns", (unsigned long long)o->store_max_age_ns);
    ok &= set_item(d, "store_max_age", PyUnicode_FromString(buf)) == 0;
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)o->store_max_bytes);
    ok &= set_item(d, "store_max_bytes", PyUnicode_FromString(buf)) == 0;
    if (o->service[0])
        ok &= set_item(d, "service", PyUnicode_FromString(o->service)) == 0;
    if (o->store_key_file[0])
        ok &= set_item(d, "store_key_file", PyUnicode_FromString(o->store_key_file)) == 0;
    void *push_ctx[2] = {d, &ok};
    pp_options_each_push_key(o, add_push_key, push_ctx);
    if (o->endpoint[0])
        ok &= set_item(d, "endpoint", PyUnicode_FromString(o->endpoint)) == 0;
    if (o->endpoint_remote)
        ok &= set_item(d, "endpoint_remote", PyUnicode_FromString("true")) == 0;
    if (o->endpoint_token_file[0])
        ok &= set_item(d, "endpoint_token_file", PyUnicode_FromString(o->endpoint_token_file)) == 0;
    if (!ok) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

/* env_config() -> {"enabled": bool, "options": {...}, "warnings": [...]};
 * ValueError naming the variable for a bad configuration. */
static PyObject *mod_env_config(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    pp_env_config c;
    char err[ERR_LEN];
    if (pp_env_config_read(&c, real_getenv, err, sizeof err) != 0) {
        PyErr_SetString(PyExc_ValueError, err);
        return NULL;
    }
    PyObject *out = PyDict_New();
    PyObject *warnings = PyList_New(0);
    if (!out || !warnings)
        goto fail;
    for (int i = 0; i < c.n_warnings; i++) {
        PyObject *w = PyUnicode_FromString(c.warnings[i]);
        if (!w || PyList_Append(warnings, w) != 0) {
            Py_XDECREF(w);
            goto fail;
        }
        Py_DECREF(w);
    }
    if (set_item(out, "enabled", PyBool_FromLong(c.enabled)) != 0 || set_item(out, "options", options_dict(&c.options)) != 0 ||
        PyDict_SetItemString(out, "warnings", warnings) != 0)
        goto fail;
    Py_DECREF(warnings);
    return out;
fail:
    Py_XDECREF(out);
    Py_XDECREF(warnings);
    return NULL;
}

/* ------------------------------------------------------------ Continuous */

typedef struct {
    PyObject_HEAD pp_continuous *continuous;
    PyObject *exporter; /* callable(profile, metadata) or NULL: the store */
    pp_push_stats push_final; /* the push counters after stop's flush */
    int pushed;               /* 0: it pushes (or pushed), -1: no push */
} ContinuousObject;

static PyTypeObject ContinuousType;

/* The core's continuous thread (or stop()'s caller, GIL released): hands a
 * window to the Python exporter. An exporter that raises is reported as
 * unraisable and counted; the windows go on. */
static int call_exporter(void *ctx, pp_profile *window, const pp_window_info *info)
{
    ContinuousObject *self = ctx;
    PyGILState_STATE g = PyGILState_Ensure();
    int rc = -1;
    PyObject *prof = wrap_profile(window);
    PyObject *md = prof ? Py_BuildValue("{s:s,s:K,s:d,s:d}", "trigger", "continuous", "window",
                                        (unsigned long long)info->index, "start", info->start_unix_ns / 1e9, "end",
                                        info->end_unix_ns / 1e9)
                        : NULL;
    if (md) {
        PyObject *r = PyObject_CallFunctionObjArgs(self->exporter, prof, md, NULL);
        if (r) {
            rc = 0;
            Py_DECREF(r);
        }
    }
    if (rc != 0)
        PyErr_WriteUnraisable(self->exporter);
    Py_XDECREF(md);
    Py_XDECREF(prof);
    PyGILState_Release(g);
    return rc;
}

/* wait_for_push 0: windows queued for Pyroscope go out in the background. */
static void continuous_stop_now(ContinuousObject *self, int wait_for_push)
{
    pp_continuous *c = self->continuous;
    self->continuous = NULL;
    if (c) {
        /* The exporter takes the GIL on the core's thread. */
        if (wait_for_push) {
            Py_BEGIN_ALLOW_THREADS self->pushed = pp_continuous_finish(c, &self->push_final);
            Py_END_ALLOW_THREADS
        } else {
            self->pushed = pp_continuous_push_stats(c, &self->push_final);
            Py_BEGIN_ALLOW_THREADS pp_continuous_stop_nowait(c);
            Py_END_ALLOW_THREADS
        }
    }
}

static void continuous_dealloc(ContinuousObject *self)
{
    continuous_stop_now(self, 1);
    Py_XDECREF(self->exporter);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* stop(wait_for_push=True) */
static PyObject *continuous_stop(ContinuousObject *self, PyObject *args)
{
    int wait_for_push = 1;
    if (!PyArg_ParseTuple(args, "|p:stop", &wait_for_push))
        return NULL;
    continuous_stop_now(self, wait_for_push);
    Py_RETURN_NONE;
}

static PyObject *continuous_get_windows(ContinuousObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromUnsignedLongLong(self->continuous ? pp_continuous_windows(self->continuous) : 0);
}

static PyObject *continuous_get_running(ContinuousObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->continuous != NULL);
}

static PyObject *push_stats_dict(const pp_push_stats *st)
{
    return Py_BuildValue("{s:K,s:K,s:K,s:K,s:K}", "pushed", (unsigned long long)st->pushed, "failed_attempts",
                         (unsigned long long)st->failed_attempts, "dropped_queue_full",
                         (unsigned long long)st->dropped_queue_full, "dropped_rejected",
                         (unsigned long long)st->dropped_rejected, "queued", (unsigned long long)st->queued);
}

/* push_stats() -> dict of the push counters, or None without push. */
static PyObject *continuous_push_stats(ContinuousObject *self, PyObject *unused)
{
    (void)unused;
    pp_push_stats st = self->push_final;
    if (self->continuous)
        self->pushed = pp_continuous_push_stats(self->continuous, &st);
    if (self->pushed != 0)
        Py_RETURN_NONE;
    return push_stats_dict(&st);
}

static PyMethodDef continuous_methods[] = {
    {"stop", (PyCFunction)continuous_stop, METH_VARARGS,
     "stop(wait_for_push=True): exports the last window and stops; pushes to Pyroscope finish first unless "
     "wait_for_push is false"},
    {"push_stats", (PyCFunction)continuous_push_stats, METH_NOARGS,
     "push_stats(): the push counters (after stop: as the last flush left them), or None without push"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef continuous_getset[] = {
    {"windows", (getter)continuous_get_windows, NULL, "windows exported so far", NULL},
    {"running", (getter)continuous_get_running, NULL, "whether it runs", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ContinuousType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "polyprof._native.Continuous",
    .tp_basicsize = sizeof(ContinuousObject),
    .tp_dealloc = (destructor)continuous_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Continuous profiling windows; made by continuous_start().",
    .tp_methods = continuous_methods,
    .tp_getset = continuous_getset,
};

/* continuous_start(options, exporter=None) -> Continuous */
static PyObject *mod_continuous_start(PyObject *m, PyObject *args, PyObject *kw)
{
    (void)m;
    static char *kwlist[] = {"options", "exporter", NULL};
    PyObject *opts = NULL, *exporter = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OO:continuous_start", kwlist, &opts, &exporter))
        return NULL;
    if (exporter != Py_None && !PyCallable_Check(exporter)) {
        PyErr_SetString(PyExc_TypeError, "exporter must be callable as exporter(profile, metadata), or None");
        return NULL;
    }
    pp_options o;
    if (options_from_dict(opts, &o) != 0)
        return NULL;
    ContinuousObject *self = PyObject_New(ContinuousObject, &ContinuousType);
    if (!self)
        return NULL;
    self->continuous = NULL;
    self->exporter = NULL;
    memset(&self->push_final, 0, sizeof self->push_final);
    self->pushed = -1;
    if (exporter != Py_None) {
        Py_INCREF(exporter);
        self->exporter = exporter;
    }
    char err[ERR_LEN] = "";
    pp_continuous *c;
    Py_BEGIN_ALLOW_THREADS c = pp_continuous_start(&o, self->exporter ? call_exporter : NULL, self, err, sizeof err);
    Py_END_ALLOW_THREADS if (!c)
    {
        Py_DECREF(self);
        PyErr_SetString(PolyprofError, err[0] ? err : "cannot start continuous profiling");
        return NULL;
    }
    self->continuous = c;
    return (PyObject *)self;
}

/* ------------------------------------------------------------ Pusher */

/* The allocation windows' own Pyroscope pusher (pp_push_open): the windows
 * are cut by the bridge, not by the core's continuous thread. */
typedef struct {
    PyObject_HEAD pp_push *push;
    pp_push_stats final; /* the counters after stop's flush */
} PusherObject;

static PyTypeObject PusherType;

static void pusher_stop_now(PusherObject *self)
{
    pp_push *p = self->push;
    self->push = NULL;
    if (p) {
        Py_BEGIN_ALLOW_THREADS pp_push_stop(p, &self->final);
        Py_END_ALLOW_THREADS
    }
}

static void pusher_dealloc(PusherObject *self)
{
    pusher_stop_now(self);
    PyObject_Free(self);
}

/* push(profile, start, end): queues the window; start and end in Unix seconds. */
static PyObject *pusher_push(PusherObject *self, PyObject *args)
{
    PyObject *prof;
    double start, end;
    if (!PyArg_ParseTuple(args, "Odd:push", &prof, &start, &end))
        return NULL;
    pp_profile *p = unwrap_profile(prof);
    if (!p)
        return NULL;
    if (!self->push) {
        PyErr_SetString(PolyprofError, "this pusher is stopped");
        return NULL;
    }
    char err[ERR_LEN];
    if (pp_push_profile(self->push, p, (int64_t)(start * 1e9), (int64_t)(end * 1e9), err, sizeof err) != 0) {
        PyErr_SetString(PolyprofError, err);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *pusher_stats(PusherObject *self, PyObject *unused)
{
    (void)unused;
    pp_push_stats st = self->final;
    if (self->push)
        pp_push_get_stats(self->push, &st);
    return push_stats_dict(&st);
}

/* stop() -> the counters after the last flush (push_flush at most). */
static PyObject *pusher_stop(PusherObject *self, PyObject *unused)
{
    pusher_stop_now(self);
    return pusher_stats(self, unused);
}

static PyMethodDef pusher_methods[] = {
    {"push", (PyCFunction)pusher_push, METH_VARARGS, "push(profile, start, end): queues one window"},
    {"stats", (PyCFunction)pusher_stats, METH_NOARGS, "stats() -> the push counters"},
    {"stop", (PyCFunction)pusher_stop, METH_NOARGS, "stop() -> the counters after the last flush"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject PusherType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "polyprof._native.Pusher",
    .tp_basicsize = sizeof(PusherObject),
    .tp_dealloc = (destructor)pusher_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Pushes profiles to a Pyroscope server; made by push_open().",
    .tp_methods = pusher_methods,
};

/* push_open(options) -> Pusher: options with push=URL and the push_* keys. */
static PyObject *mod_push_open(PyObject *m, PyObject *opts)
{
    (void)m;
    pp_options o;
    if (options_from_dict(opts, &o) != 0)
        return NULL;
    if (!o.push_url[0]) {
        PyErr_SetString(PyExc_ValueError, "push_open: the options have no push URL");
        return NULL;
    }
    char err[ERR_LEN] = "";
    pp_push *p;
    Py_BEGIN_ALLOW_THREADS p = pp_push_open(&o, err, sizeof err);
    Py_END_ALLOW_THREADS if (!p)
    {
        PyErr_SetString(PolyprofError, err[0] ? err : "cannot start pushing to Pyroscope");
        return NULL;
    }
    PusherObject *self = PyObject_New(PusherObject, &PusherType);
    if (!self) {
        pp_push_stop(p, NULL);
        return NULL;
    }
    self->push = p;
    memset(&self->final, 0, sizeof self->final);
    return (PyObject *)self;
}

/* ------------------------------------------------------------ Store */

typedef struct {
    PyObject_HEAD pp_store *store;
} StoreObject;

static PyTypeObject StoreType;

static void store_dealloc(StoreObject *self)
{
    pp_store_close(self->store);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *store_list(StoreObject *self, PyObject *unused)
{
    (void)unused;
    pp_store_entry *v = NULL;
    char err[ERR_LEN];
    int n = pp_store_list(self->store, &v, err, sizeof err);
    if (n < 0) {
        PyErr_SetString(PolyprofError, err);
        return NULL;
    }
    PyObject *out = PyList_New(n);
    for (int i = 0; out && i < n; i++) {
        PyObject *e = Py_BuildValue("{s:s,s:s,s:s,s:s,s:d,s:K,s:O}", "file", v[i].file, "service", v[i].service,
                                    "type", v[i].type, "trigger", v[i].trigger, "start", v[i].start_unix_ns / 1e9,
                                    "bytes", (unsigned long long)v[i].bytes, "encrypted",
                                    v[i].encrypted ? Py_True : Py_False);
        if (!e) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, i, e);
    }
    free(v);
    return out;
}

static PyObject *store_prune(StoreObject *self, PyObject *args)
{
    double now = -1;
    if (!PyArg_ParseTuple(args, "|d:prune", &now))
        return NULL;
    if (now < 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        now = (double)ts.tv_sec + ts.tv_nsec / 1e9;
    }
    return PyLong_FromLong(pp_store_prune(self->store, (int64_t)(now * 1e9)));
}

static PyObject *store_put(StoreObject *self, PyObject *args)
{
    PyObject *prof;
    const char *service, *type, *trigger;
    double start;
    if (!PyArg_ParseTuple(args, "Osssd:put", &prof, &service, &type, &trigger, &start))
        return NULL;
    pp_profile *p = unwrap_profile(prof);
    if (!p)
        return NULL;
    char path[PP_PATH_MAX + 256], err[ERR_LEN];
    if (pp_store_put(self->store, p, service, type, trigger, (int64_t)(start * 1e9), path, sizeof path, err,
                     sizeof err) != 0) {
        PyErr_SetString(PolyprofError, err);
        return NULL;
    }
    return PyUnicode_FromString(path);
}

/* read(file) -> Profile: a name from list() or a path; decrypted with the
 * store's key when encrypted. */
static PyObject *store_read(StoreObject *self, PyObject *args)
{
    const char *file;
    if (!PyArg_ParseTuple(args, "s:read", &file))
        return NULL;
    char err[ERR_LEN];
    pp_profile *p;
    Py_BEGIN_ALLOW_THREADS p = pp_store_read(self->store, file, err, sizeof err);
    Py_END_ALLOW_THREADS if (!p)
    {
        PyErr_SetString(PolyprofError, err);
        return NULL;
    }
    return wrap_profile(p);
}

static PyMethodDef store_methods[] = {
    {"list", (PyCFunction)store_list, METH_NOARGS,
     "list() -> [{file, service, type, trigger, start, bytes, encrypted}] oldest first"},
    {"read", (PyCFunction)store_read, METH_VARARGS, "read(file) -> Profile, decrypted when encrypted"},
    {"prune", (PyCFunction)store_prune, METH_VARARGS, "prune(now=None) -> files removed by retention"},
    {"put", (PyCFunction)store_put, METH_VARARGS, "put(profile, service, type, trigger, start) -> path"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject StoreType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "polyprof._native.Store",
    .tp_basicsize = sizeof(StoreObject),
    .tp_dealloc = (destructor)store_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The local profile store; made by store_open().",
    .tp_methods = store_methods,
};

/* store_open(dir, max_age_s=0, max_bytes=0, key_file=None) -> Store (0: no
 * limit). Encrypts with the key of key_file, else of $POLYPROF_STORE_KEY. */
static PyObject *mod_store_open(PyObject *m, PyObject *args)
{
    (void)m;
    const char *dir;
    double max_age = 0;
    unsigned long long max_bytes = 0;
    const char *key_file = NULL;
    if (!PyArg_ParseTuple(args, "s|dKz:store_open", &dir, &max_age, &max_bytes, &key_file))
        return NULL;
    if (max_age < 0) {
        PyErr_SetString(PyExc_ValueError, "store_open: max_age_s must not be negative");
        return NULL;
    }
    char err[ERR_LEN];
    pp_store *s = pp_store_open_keyed(dir, (uint64_t)(max_age * 1e9), max_bytes, key_file, err, sizeof err);
    if (!s) {
        PyErr_SetString(PolyprofError, err);
        return NULL;
    }
    StoreObject *o = PyObject_New(StoreObject, &StoreType);
    if (!o) {
        pp_store_close(s);
        return NULL;
    }
    o->store = s;
    return (PyObject *)o;
}

/* store_key_check(key_file=None) -> whether a store key is configured
 * (key_file, else $POLYPROF_STORE_KEY); PolyprofError naming the source of a
 * bad one. */
static PyObject *mod_store_key_check(PyObject *m, PyObject *args)
{
    (void)m;
    const char *key_file = NULL;
    if (!PyArg_ParseTuple(args, "|z:store_key_check", &key_file))
        return NULL;
    char err[ERR_LEN];
    int rc = pp_store_key_check(key_file, err, sizeof err);
    if (rc < 0) {
        PyErr_SetString(PolyprofError, err);
        return NULL;
    }
    return PyBool_FromLong(rc);
}

/* options_values(spec) -> {key: value} after the core's parsing and
 * defaults: durations in ns ("123ns"), sizes in bytes. ValueError. */
static PyObject *mod_options_values(PyObject *m, PyObject *args)
{
    (void)m;
    const char *spec;
    if (!PyArg_ParseTuple(args, "s:options_values", &spec))
        return NULL;
    pp_options o;
    pp_options_default(&o);
    char err[ERR_LEN];
    if (pp_options_parse(&o, spec, err, sizeof err) != 0) {
        PyErr_SetString(PyExc_ValueError, err);
        return NULL;
    }
    return options_dict(&o);
}

/* ------------------------------------------------------------ latency policies
 * Capsules over the core's objects; polyprof/_policies.py gives them their
 * Python shape (CircuitBreaker, TriggeredProfiler). Times are the caller's
 * clock in ns, so tests can drive them. */

static void breaker_destroy(PyObject *cap) { pp_breaker_free(PyCapsule_GetPointer(cap, "pp_breaker")); }
static void trigger_destroy(PyObject *cap) { pp_trigger_free(PyCapsule_GetPointer(cap, "pp_trigger")); }

static PyObject *mod_breaker_new(PyObject *m, PyObject *args)
{
    (void)m;
    double pct, cooldown_s;
    int threshold;
    if (!PyArg_ParseTuple(args, "did:breaker_new", &pct, &threshold, &cooldown_s))
        return NULL;
    if (cooldown_s < 0) {
        PyErr_SetString(PyExc_ValueError, "cooldown_s must not be negative");
        return NULL;
    }
    char err[ERR_LEN];
    pp_breaker *b = pp_breaker_new(pct, threshold, (uint64_t)(cooldown_s * 1e9), err, sizeof err);
    if (!b) {
        PyErr_SetString(PyExc_ValueError, err);
        return NULL;
    }
    return PyCapsule_New(b, "pp_breaker", breaker_destroy);
}

static PyObject *mod_breaker_record(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *cap;
    double current, baseline;
    int profiling;
    unsigned long long now;
    if (!PyArg_ParseTuple(args, "OddpK:breaker_record", &cap, &current, &baseline, &profiling, &now))
        return NULL;
    pp_breaker *b = PyCapsule_GetPointer(cap, "pp_breaker");
    if (!b)
        return NULL;
    return PyBool_FromLong(pp_breaker_record(b, current, baseline, profiling, now));
}

static PyObject *mod_breaker_state(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *cap;
    unsigned long long now;
    if (!PyArg_ParseTuple(args, "OK:breaker_state", &cap, &now))
        return NULL;
    pp_breaker *b = PyCapsule_GetPointer(cap, "pp_breaker");
    if (!b)
        return NULL;
    pp_breaker_state st;
    pp_breaker_get_state(b, now, &st);
    return Py_BuildValue("{s:O,s:K,s:K,s:i,s:d}", "open", st.open ? Py_True : Py_False, "trips",
                         (unsigned long long)st.trips, "last_trip_ns", (unsigned long long)st.last_trip_ns,
                         "violations", st.violations, "baseline_ms", st.baseline_ms);
}

static PyObject *mod_rate_limit(PyObject *m, PyObject *args)
{
    (void)m;
    unsigned int n;
    double window_s;
    if (!PyArg_ParseTuple(args, "Id:rate_limit", &n, &window_s))
        return NULL;
    char err[ERR_LEN];
    if (window_s <= 0 || pp_rate_limit_configure(n, (uint64_t)(window_s * 1e9), err, sizeof err) != 0) {
        PyErr_SetString(PyExc_ValueError, window_s <= 0 ? "rate limit window must be positive" : err);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *mod_trigger_new(PyObject *m, PyObject *args)
{
    (void)m;
    double threshold, cooldown_s;
    if (!PyArg_ParseTuple(args, "dd:trigger_new", &threshold, &cooldown_s))
        return NULL;
    if (cooldown_s < 0) {
        PyErr_SetString(PyExc_ValueError, "cooldown_s must not be negative");
        return NULL;
    }
    char err[ERR_LEN];
    pp_trigger *t = pp_trigger_new(threshold, (uint64_t)(cooldown_s * 1e9), err, sizeof err);
    if (!t) {
        PyErr_SetString(PyExc_ValueError, err);
        return NULL;
    }
    return PyCapsule_New(t, "pp_trigger", trigger_destroy);
}

/* trigger_record(t, ms, now_ns) -> (fire, p95 or None) */
static PyObject *mod_trigger_record(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *cap;
    double ms;
    unsigned long long now;
    if (!PyArg_ParseTuple(args, "OdK:trigger_record", &cap, &ms, &now))
        return NULL;
    pp_trigger *t = PyCapsule_GetPointer(cap, "pp_trigger");
    if (!t)
        return NULL;
    double p95;
    int fire = pp_trigger_record(t, ms, now, &p95);
    if (p95 < 0)
        return Py_BuildValue("(OO)", fire ? Py_True : Py_False, Py_None);
    return Py_BuildValue("(Od)", fire ? Py_True : Py_False, p95);
}

static PyObject *mod_trigger_manual(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *cap;
    unsigned long long now;
    if (!PyArg_ParseTuple(args, "OK:trigger_manual", &cap, &now))
        return NULL;
    pp_trigger *t = PyCapsule_GetPointer(cap, "pp_trigger");
    if (!t)
        return NULL;
    return PyBool_FromLong(pp_trigger_manual(t, now));
}

/* ------------------------------------------------------------ timed captures */

typedef struct {
    pp_capture *capture;
    PyObject *on_done; /* callable(profile, start, end) */
} CaptureBox;

static int capture_done_cb(void *ctx, pp_profile *p, const pp_capture_info *info)
{
    CaptureBox *box = ctx;
    PyGILState_STATE g = PyGILState_Ensure();
    int rc = -1;
    PyObject *prof = wrap_profile(p);
    if (prof) {
        PyObject *r = PyObject_CallFunction(box->on_done, "Odd", prof, info->start_unix_ns / 1e9,
                                            info->end_unix_ns / 1e9);
        if (r) {
            rc = 0;
            Py_DECREF(r);
        }
        Py_DECREF(prof);
    }
    if (rc != 0)
        PyErr_WriteUnraisable(box->on_done);
    PyGILState_Release(g);
    return rc;
}

static void capture_box_finish(CaptureBox *box)
{
    pp_capture *c = box->capture;
    box->capture = NULL;
    if (c) {
        Py_BEGIN_ALLOW_THREADS pp_capture_finish(c);
        Py_END_ALLOW_THREADS
    }
}

static void capture_destroy(PyObject *cap)
{
    CaptureBox *box = PyCapsule_GetPointer(cap, "pp_capture");
    if (!box)
        return;
    capture_box_finish(box);
    Py_XDECREF(box->on_done);
    free(box);
}

/* capture_start(options, on_done) -> capture; on_done(profile, start, end)
 * runs on the core's thread when the duration ends. */
static PyObject *mod_capture_start(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *opts, *on_done;
    if (!PyArg_ParseTuple(args, "OO:capture_start", &opts, &on_done))
        return NULL;
    if (!PyCallable_Check(on_done)) {
        PyErr_SetString(PyExc_TypeError, "capture_start: on_done must be callable");
        return NULL;
    }
    pp_options o;
    if (options_from_dict(opts, &o) != 0)
        return NULL;
    CaptureBox *box = calloc(1, sizeof *box);
    if (!box)
        return PyErr_NoMemory();
    Py_INCREF(on_done);
    box->on_done = on_done;
    PyObject *cap = PyCapsule_New(box, "pp_capture", capture_destroy);
    if (!cap) {
        Py_DECREF(on_done);
        free(box);
        return NULL;
    }
    char err[ERR_LEN] = "";
    pp_capture *c;
    Py_BEGIN_ALLOW_THREADS c = pp_capture_start(&o, capture_done_cb, box, err, sizeof err);
    Py_END_ALLOW_THREADS if (!c)
    {
        Py_DECREF(cap);
        PyErr_SetString(PolyprofError, err[0] ? err : "cannot start the capture");
        return NULL;
    }
    box->capture = c;
    return cap;
}

static PyObject *mod_capture_done(PyObject *m, PyObject *cap)
{
    (void)m;
    CaptureBox *box = PyCapsule_GetPointer(cap, "pp_capture");
    if (!box)
        return NULL;
    return PyBool_FromLong(!box->capture || pp_capture_done(box->capture));
}

static PyObject *mod_capture_finish(PyObject *m, PyObject *cap)
{
    (void)m;
    CaptureBox *box = PyCapsule_GetPointer(cap, "pp_capture");
    if (!box)
        return NULL;
    capture_box_finish(box);
    Py_RETURN_NONE;
}

static PyMethodDef production_methods[] = {
    {"breaker_new", mod_breaker_new, METH_VARARGS, "breaker_new(max_increase_pct, violation_threshold, cooldown_s)"},
    {"breaker_record", mod_breaker_record, METH_VARARGS, "breaker_record(b, current_ms, baseline_ms, profiling, now_ns) -> tripped"},
    {"breaker_state", mod_breaker_state, METH_VARARGS, "breaker_state(b, now_ns) -> dict"},
    {"rate_limit", mod_rate_limit, METH_VARARGS, "rate_limit(max_captures, window_s): the process-wide limiter"},
    {"trigger_new", mod_trigger_new, METH_VARARGS, "trigger_new(threshold_ms, cooldown_s)"},
    {"trigger_record", mod_trigger_record, METH_VARARGS, "trigger_record(t, ms, now_ns) -> (fire, p95)"},
    {"trigger_manual", mod_trigger_manual, METH_VARARGS, "trigger_manual(t, now_ns) -> allowed"},
    {"capture_start", mod_capture_start, METH_VARARGS, "capture_start(options, on_done) -> capture"},
    {"capture_done", mod_capture_done, METH_O, "capture_done(capture) -> bool"},
    {"capture_finish", mod_capture_finish, METH_O, "capture_finish(capture): end now, wait for on_done"},
    {"options_values", mod_options_values, METH_VARARGS, "options_values(spec) -> {key: value}; ValueError"},
    {"env_config", mod_env_config, METH_NOARGS, "env_config() -> {enabled, options, warnings}; ValueError"},
    {"continuous_start", (PyCFunction)(void (*)(void))mod_continuous_start, METH_VARARGS | METH_KEYWORDS,
     "continuous_start(options, exporter=None) -> Continuous"},
    {"push_open", mod_push_open, METH_O, "push_open(options) -> Pusher: the push=URL and push_* keys"},
    {"store_open", mod_store_open, METH_VARARGS, "store_open(dir, max_age_s=0, max_bytes=0, key_file=None) -> Store"},
    {"store_key_check", mod_store_key_check, METH_VARARGS,
     "store_key_check(key_file=None) -> bool: a store key is configured; PolyprofError for a bad one"},
    {NULL, NULL, 0, NULL},
};

int add_production(PyObject *m)
{
    if (PyType_Ready(&ContinuousType) < 0 || PyType_Ready(&StoreType) < 0 || PyType_Ready(&PusherType) < 0)
        return -1;
    for (PyMethodDef *d = production_methods; d->ml_name; d++) {
        PyObject *f = PyCFunction_New(d, NULL);
        if (!f || PyModule_AddObject(m, d->ml_name, f) != 0) {
            Py_XDECREF(f);
            return -1;
        }
    }
    return 0;
}
