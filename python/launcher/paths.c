/* Paths spelled as Python's os.path spells them (posixpath): the launcher's
 * command lines and PYTHONPATH must be byte for byte those of cli.py. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launcher.h"

char *pl_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return pl_concat("", NULL);
    size_t len = (size_t)(slash - path) + 1;
    size_t all_slashes = 1;
    for (size_t i = 0; i < len; i++)
        all_slashes &= path[i] == '/';
    /* os.path.dirname strips the trailing slashes of the head unless it is only slashes */
    if (!all_slashes)
        while (len > 0 && path[len - 1] == '/')
            len--;
    char *out = pl_alloc(len + 1);
    memcpy(out, path, len);
    out[len] = '\0';
    return out;
}

char *pl_join(const char *dir, const char *name)
{
    size_t n = strlen(dir);
    if (n == 0 || dir[n - 1] == '/')
        return pl_concat(dir, name, NULL);
    return pl_concat(dir, "/", name, NULL);
}

char *pl_normpath(const char *path)
{
    if (!*path)
        return pl_concat(".", NULL);
    /* POSIX leaves the meaning of exactly two leading slashes to the system: kept */
    int initial = path[0] == '/' ? (path[1] == '/' && path[2] != '/' ? 2 : 1) : 0;
    size_t len = strlen(path);
    char *out = pl_alloc(len + 3);
    size_t *starts = pl_alloc((len / 2 + 2) * sizeof(size_t)); /* where each kept component begins */
    size_t ncomps = 0, o = (size_t)initial;
    memset(out, '/', (size_t)initial);
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        const char *end = p;
        while (*end && *end != '/')
            end++;
        size_t n = (size_t)(end - p);
        if (n == 0 || (n == 1 && p[0] == '.')) {
            p = end;
            continue;
        }
        int dotdot = n == 2 && p[0] == '.' && p[1] == '.';
        int last_is_dotdot = ncomps > 0 && o - starts[ncomps - 1] == 2 && out[starts[ncomps - 1]] == '.' &&
                             out[starts[ncomps - 1] + 1] == '.';
        if (!dotdot || (!initial && ncomps == 0) || last_is_dotdot) {
            if (ncomps > 0)
                out[o++] = '/';
            starts[ncomps++] = o;
            memcpy(out + o, p, n);
            o += n;
        } else if (ncomps > 0) {
            ncomps--;
            o = starts[ncomps] > (size_t)initial ? starts[ncomps] - 1 : starts[ncomps];
        }
        p = end;
    }
    out[o] = '\0';
    free(starts);
    if (o == 0)
        return pl_concat(".", NULL);
    return out;
}

char *pl_abspath(const char *path)
{
    if (path[0] == '/')
        return pl_normpath(path);
    char *cwd = getcwd(NULL, 0);
    if (!cwd)
        return NULL; /* Python raises here: its traceback is cli.py's to print */
    return pl_normpath(pl_join(cwd, path));
}

char *pl_realpath(const char *path)
{
    return realpath(path, NULL);
}

int pl_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int pl_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int pl_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int pl_is_executable(const char *path)
{
    return pl_is_file(path) && access(path, X_OK) == 0;
}
