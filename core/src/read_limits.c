#include "read_limits.h"

#include <stdio.h>

int pp_read_check_stack(const pp_profile *p, size_t depth, const char *what, const char *where, char *err,
                        size_t errlen)
{
    if (depth > PP_READ_MAX_DEPTH) {
        snprintf(err, errlen, "%s: %s: a stack of %zu frames exceeds the limit of %d frames per stack", what, where,
                 depth, PP_READ_MAX_DEPTH);
        return -1;
    }
    if (p->n_stack + depth > PP_READ_MAX_FRAME_REFS) {
        snprintf(err, errlen, "%s: %s: the samples' stacks exceed the limit of %zu frames in all", what, where,
                 PP_READ_MAX_FRAME_REFS);
        return -1;
    }
    return 0;
}
