#include "dl_bind.h"

#include <dlfcn.h>

int pp_dl_bind(void *handle, const pp_dl_symbol *syms, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(*syms[i].slot = dlsym(handle, syms[i].name)))
            return -1;
    return 0;
}
