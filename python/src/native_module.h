/* Shared by the files of polyprof._native: the module's error type, Profile
 * objects and option conversion (native_module.c), and the production
 * controls (production_module.c). */
#ifndef POLYPROF_PY_NATIVE_MODULE_H
#define POLYPROF_PY_NATIVE_MODULE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "polyprof.h"

extern PyObject *PolyprofError;
/* Wraps p in a NativeProfile; takes ownership (frees p on failure). */
PyObject *wrap_profile(pp_profile *p);
/* The profile of a NativeProfile; NULL with TypeError for anything else. */
pp_profile *unwrap_profile(PyObject *o);
/* {key: value} -> options through pp_options_set; ValueError naming the key. */
int options_from_dict(PyObject *dict, pp_options *o);
/* Adds env_config(), Continuous and Store to the module. */
int add_production(PyObject *m);
/* Adds endpoint_start() and Endpoint (the local HTTP endpoint). */
int add_endpoint(PyObject *m);

#endif
