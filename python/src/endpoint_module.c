/* The local endpoint (pp_endpoint_*), bound to CPython: endpoint_start()
 * returns an Endpoint with its address, port and stop(). The server runs on
 * the core's own threads; nothing here runs on them but the status hook,
 * which reads counters only (never the GIL). */
#include "native_module.h"

#include "alloc_module.h"
#include "py_frames.h"

#define ERR_LEN 512

typedef struct {
    PyObject_HEAD pp_endpoint *endpoint;
    char address[160];
    int port;
} EndpointObject;

static char python_version[32];

/* The endpoint's thread: counters only, no Python API. */
static int python_status(void *ctx, char *out, size_t len)
{
    (void)ctx;
    snprintf(out, len, "\"python_version\": \"%s\", \"batches_named_without_gil\": %llu", python_version,
             pp_py_batches_without_gil());
    return 0;
}

/* The endpoint's thread: /debug/pprof/allocs and /heap from the running
 * allocation profile (mode="alloc"), without waiting for the GIL. */
static pp_profile *python_memory_profile(void *ctx, pp_memory_kind kind, char *err, size_t errlen)
{
    (void)ctx;
    return pp_py_alloc_profile(kind == PP_MEMORY_HEAP, err, errlen);
}

static void endpoint_stop_now(EndpointObject *self)
{
    pp_endpoint *e = self->endpoint;
    self->endpoint = NULL;
    if (e) {
        /* A running capture's export names frames: never hold the GIL here. */
        Py_BEGIN_ALLOW_THREADS pp_endpoint_stop(e);
        Py_END_ALLOW_THREADS
    }
}

static void endpoint_dealloc(EndpointObject *self)
{
    endpoint_stop_now(self);
    PyObject_Free(self);
}

static PyObject *endpoint_stop(EndpointObject *self, PyObject *unused)
{
    (void)unused;
    endpoint_stop_now(self);
    Py_RETURN_NONE;
}

static PyObject *endpoint_get_address(EndpointObject *self, void *closure)
{
    (void)closure;
    return PyUnicode_FromString(self->address);
}

static PyObject *endpoint_get_port(EndpointObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromLong(self->port);
}

static PyObject *endpoint_get_running(EndpointObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->endpoint != NULL);
}

static PyMethodDef endpoint_methods[] = {
    {"stop", (PyCFunction)endpoint_stop, METH_NOARGS, "stop(): ends a running capture and stops serving"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef endpoint_getset[] = {
    {"address", (getter)endpoint_get_address, NULL, "the bound address: 127.0.0.1:PORT or unix:PATH", NULL},
    {"port", (getter)endpoint_get_port, NULL, "the bound port (0 for a unix socket)", NULL},
    {"running", (getter)endpoint_get_running, NULL, "whether it serves", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject EndpointType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "polyprof._native.Endpoint",
    .tp_basicsize = sizeof(EndpointObject),
    .tp_dealloc = (destructor)endpoint_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The local HTTP endpoint; made by endpoint_start().",
    .tp_methods = endpoint_methods,
    .tp_getset = endpoint_getset,
};

/* endpoint_start(options) -> Endpoint; ValueError for bad options,
 * PolyprofError when it cannot serve (naming the option). */
static PyObject *mod_endpoint_start(PyObject *m, PyObject *opts)
{
    (void)m;
    pp_options o;
    if (options_from_dict(opts, &o) != 0)
        return NULL;
    EndpointObject *self = PyObject_New(EndpointObject, &EndpointType);
    if (!self)
        return NULL;
    self->endpoint = NULL;
    pp_endpoint_hooks hooks = {.runtime = "python", .status_json = python_status,
                               .memory_profile = python_memory_profile};
    char err[ERR_LEN] = "";
    pp_endpoint *e;
    Py_BEGIN_ALLOW_THREADS e = pp_endpoint_start(&o, &hooks, err, sizeof err);
    Py_END_ALLOW_THREADS if (!e)
    {
        Py_DECREF(self);
        PyErr_SetString(PolyprofError, err[0] ? err : "cannot start the endpoint");
        return NULL;
    }
    self->endpoint = e;
    pp_endpoint_address(e, self->address, sizeof self->address);
    self->port = pp_endpoint_port(e);
    return (PyObject *)self;
}

static PyMethodDef endpoint_module_methods[] = {
    {"endpoint_start", mod_endpoint_start, METH_O, "endpoint_start(options) -> Endpoint"},
    {NULL, NULL, 0, NULL},
};

int add_endpoint(PyObject *m)
{
    snprintf(python_version, sizeof python_version, "%d.%d.%d", PY_MAJOR_VERSION, PY_MINOR_VERSION,
             PY_MICRO_VERSION);
    if (PyType_Ready(&EndpointType) < 0)
        return -1;
    Py_INCREF(&EndpointType);
    if (PyModule_AddObject(m, "Endpoint", (PyObject *)&EndpointType) != 0)
        return -1;
    for (PyMethodDef *d = endpoint_module_methods; d->ml_name; d++) {
        PyObject *f = PyCFunction_New(d, NULL);
        if (!f || PyModule_AddObject(m, d->ml_name, f) != 0)
            return -1;
    }
    return 0;
}
