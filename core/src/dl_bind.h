/* Function pointers bound by name to a library loaded at run time (dlsym):
 * what the features that load their library only when used share
 * (libcrypto.h, libmicrohttpd.h). Internal to the core. */
#ifndef PP_DL_BIND_H
#define PP_DL_BIND_H

#include <stddef.h>

typedef struct pp_dl_symbol {
    void **slot;
    const char *name;
} pp_dl_symbol;

/* Sets each slot to its name's address in handle (a dlopen handle or
 * RTLD_DEFAULT): 0 when every name was found, -1 at the first one missing. */
int pp_dl_bind(void *handle, const pp_dl_symbol *syms, size_t n);

#endif
