/* Python source text the launcher hands the program's interpreter: the
 * bootstrap of cli.py's _exec_program, with repr() of the paths in it. */
#include <stdio.h>
#include <string.h>

#include "launcher.h"

char *pl_py_repr(const char *s)
{
    /* CPython's str repr: single quotes unless the text has ' and no ". Bytes
     * above ASCII would need Unicode's printable table (or undo
     * surrogateescape): those are left to Python. */
    if (!pl_is_ascii(s))
        return NULL;
    char quote = strchr(s, '\'') && !strchr(s, '"') ? '"' : '\'';
    char *out = pl_alloc(strlen(s) * 4 + 3), *o = out;
    *o++ = quote;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == (unsigned char)quote || *p == '\\') {
            *o++ = '\\';
            *o++ = (char)*p;
        } else if (*p == '\t' || *p == '\n' || *p == '\r') {
            *o++ = '\\';
            *o++ = *p == '\t' ? 't' : *p == '\n' ? 'n' : 'r';
        } else if (*p < 0x20 || *p == 0x7f) {
            o += sprintf(o, "\\x%02x", *p);
        } else {
            *o++ = (char)*p;
        }
    }
    *o++ = quote;
    *o = '\0';
    return out;
}

char *pl_bootstrap(const char *runner, const char *who, const char *interp, const char *own_python)
{
    /* cli.py's _BOOTSTRAP % (runner, who, interp, interp, sys.executable);
     * tests/python/test_launcher.py compares the two. */
    char *interp_r = pl_py_repr(interp), *own_r = pl_py_repr(own_python);
    if (!interp_r || !own_r)
        return NULL;
    return pl_concat("import sys\n"
                     "try:\n"
                     "    from polyprof.", runner, " import main\n"
                     "except ImportError as e:\n"
                     "    sys.exit(\"", who, ": polyprof is not installed for %s (%s); install it there \"\n"
                     "             \"(%s -m pip install polyprof) or run the program with %s\" % (",
                     interp_r, ", e, ", interp_r, ", ", own_r, "))\n"
                     "main()\n", NULL);
}
