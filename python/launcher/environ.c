/* The program's environment: what cli.py's _program_env passes to execve,
 * dict(os.environ) with polyprof's directory put first on PYTHONPATH when the
 * program runs under the command line's own interpreter. */
#include <string.h>

#include "launcher.h"

extern char **environ;

static size_t name_len(const char *entry)
{
    const char *eq = strchr(entry, '=');
    return eq ? (size_t)(eq - entry) : 0;
}

char **pl_program_env(const char *pythonpath_first)
{
    size_t n = 0;
    while (environ[n])
        n++;
    /* os.environ drops entries without a name and keeps the first of two
     * with the same name, and execve refuses some of those: such an
     * environment is Python's to pass on (or refuse). */
    for (size_t i = 0; i < n; i++) {
        size_t len = name_len(environ[i]);
        if (len == 0)
            return NULL;
        for (size_t j = 0; j < i; j++)
            if (name_len(environ[j]) == len && strncmp(environ[i], environ[j], len) == 0)
                return NULL;
    }
    char **env = pl_alloc((n + 2) * sizeof(char *));
    memcpy(env, environ, n * sizeof(char *));
    env[n] = NULL;
    if (!pythonpath_first)
        return env;
    size_t i = 0;
    while (i < n && !(name_len(env[i]) == 10 && strncmp(env[i], "PYTHONPATH", 10) == 0))
        i++;
    const char *old = i < n ? env[i] + 11 : "";
    /* the variable keeps its place (dicts keep their order); a new one goes last */
    env[i] = *old ? pl_concat("PYTHONPATH=", pythonpath_first, ":", old, NULL)
                  : pl_concat("PYTHONPATH=", pythonpath_first, NULL);
    if (i == n)
        n++;
    env[n] = NULL;
    return env;
}
