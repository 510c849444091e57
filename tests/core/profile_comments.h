/* A profile's numeric metadata ("key=value" comments), as the tests read it. */
#ifndef PP_TEST_PROFILE_COMMENTS_H
#define PP_TEST_PROFILE_COMMENTS_H

#include <stdlib.h>
#include <string.h>

#include "polyprof.h"

/* The value of key, or -1 when the profile has no such line. */
static inline double comment_value(pp_profile *p, const char *key)
{
    size_t n = strlen(key);
    for (uint32_t i = 0; i < pp_profile_num_comments(p); i++) {
        const char *c = pp_profile_comment(p, i);
        if (!strncmp(c, key, n) && c[n] == '=')
            return atof(c + n + 1);
    }
    return -1;
}

#endif
