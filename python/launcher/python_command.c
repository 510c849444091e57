/* The program's command line read as cli.py's _split_python_command reads
 * it: which interpreter, its options, then the program. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "launcher.h"

int pl_is_python_name(const char *name)
{
    /* python, python3, python3.12 */
    if (strncmp(name, "python", 6) != 0)
        return 0;
    const char *v = name + 6;
    if (!*v)
        return 1;
    const char *dot = strchr(v, '.');
    size_t major = dot ? (size_t)(dot - v) : strlen(v);
    if (major == 0 || strspn(v, "0123456789") != major)
        return 0;
    return !dot || (dot[1] && strspn(dot + 1, "0123456789") == strlen(dot + 1));
}

char *pl_which(const char *name)
{
    if (strchr(name, '/'))
        return pl_concat(name, NULL);
    const char *path = getenv("PATH");
    if (!path)
        path = "/bin:/usr/bin"; /* os.defpath */
    for (const char *p = path;; p++) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char *dir = pl_alloc(n + 2);
        memcpy(dir, p, n);
        dir[n] = '\0';
        char *candidate = pl_join(n ? dir : ".", name);
        if (pl_is_executable(candidate))
            return candidate;
        if (!end)
            return NULL;
        p = end;
    }
}

static int takes_value(const char *flag)
{
    return strcmp(flag, "-W") == 0 || strcmp(flag, "-X") == 0 || strcmp(flag, "--check-hash-based-pycs") == 0;
}

/* cli.py's messages (SystemExit: the text, exit status 1), when Python
 * would print them byte for byte as these (ASCII); else 0, and Python
 * prints them. */
static int say(const char *before, const char *detail, const char *after)
{
    if (!pl_is_ascii(detail))
        return 0;
    fputs(before, stderr);
    fputs(detail, stderr);
    fputs(after, stderr);
    fputc('\n', stderr);
    exit(1);
}

int pl_split_python_command(char **cmd, int ncmd, struct pl_command *out)
{
    if (ncmd == 0)
        return say("polyprof record: give the program after --, e.g. polyprof record -- python app.py", "", "");
    const char *first = cmd[0];
    size_t len = strlen(first);
    if (len >= 3 && strcmp(first + len - 3, ".py") == 0) {
        out->interp = pl_own_python();
        out->flags = cmd;
        out->nflags = 0;
        out->rest = cmd;
        out->nrest = ncmd;
        return 1;
    }
    const char *slash = strrchr(first, '/');
    if (!pl_is_python_name(slash ? slash + 1 : first)) {
        char *r = pl_py_repr(first);
        if (!r)
            return 0;
        return say("polyprof record: ", r,
                   " is not a Python interpreter or script; polyprof record runs Python programs (polyprof record "
                   "-- python app.py). Node.js and the JVM have their own entry points (see README.md).");
    }
    char *found = pl_which(first);
    out->interp = found ? found : first;
    int i = 1;
    while (i < ncmd && cmd[i][0] == '-' && strcmp(cmd[i], "-m") != 0 && strcmp(cmd[i], "-c") != 0 &&
           strcmp(cmd[i], "-") != 0)
        i += takes_value(cmd[i]) && i + 1 < ncmd ? 2 : 1;
    if (i >= ncmd) {
        size_t total = 1;
        for (int k = 0; k < ncmd; k++)
            total += strlen(cmd[k]) + 1;
        char *joined = pl_alloc(total), *p = joined;
        for (int k = 0; k < ncmd; k++)
            p += sprintf(p, k ? " %s" : "%s", cmd[k]);
        return say("polyprof record: no script to run after ", joined, "");
    }
    out->flags = cmd + 1;
    out->nflags = i - 1;
    out->rest = cmd + i;
    out->nrest = ncmd - i;
    return 1;
}
