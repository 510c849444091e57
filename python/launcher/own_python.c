/* The CPython whose polyprof this launcher starts. Wheels and source builds
 * are made per CPython 3.X, and pip puts the launcher in the scripts
 * directory of the environment it installs into:
 *   - a venv, pyenv, conda or a python.org build: bin/ holds python3.X too;
 *   - Debian's pip into the system (/usr/local/bin): the interpreter is
 *     /usr/bin/python3.X;
 *   - pip install --user (~/.local/bin): any python3.X reads ~/.local's
 *     site-packages, the one on PATH will do.
 * The launcher's real path counts (a symlink to venv/bin/polyprof is that
 * venv's). The path is absolute and normalized, as sys.executable will be in
 * the Python command line the launcher may start. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "launcher.h"

#define STR2(x) #x
#define STR(x) STR2(x)
#define VERSION "3." STR(PP_LAUNCHER_PYTHON_MINOR)

static const char *argv0 = "polyprof";

void pl_set_argv0(const char *a)
{
    argv0 = a;
}

static char *own_dir(void)
{
    char *self = pl_realpath("/proc/self/exe");
    if (!self) {
        /* no /proc (a bare chroot): where the shell found us */
        char *found = strchr(argv0, '/') ? pl_concat(argv0, NULL) : pl_which(argv0);
        self = found ? pl_realpath(found) : NULL;
    }
    return self ? pl_dirname(self) : NULL;
}

static const char *find(const char *dir)
{
    const char *name = "python" VERSION;
    if (dir) {
        char *candidate = pl_join(dir, name);
        if (pl_is_executable(candidate))
            return candidate;
        /* python3 when it is that version (its target is named python3.X) */
        candidate = pl_join(dir, "python3");
        char *target = pl_is_executable(candidate) ? pl_realpath(candidate) : NULL;
        const char *base = target ? strrchr(target, '/') + 1 : "";
        if (strcmp(base, name) == 0)
            return candidate;
        if (strcmp(dir, "/usr/local/bin") == 0 && pl_is_executable("/usr/bin/python" VERSION))
            return "/usr/bin/python" VERSION;
    }
    char *on_path = pl_which(name);
    return on_path ? pl_abspath(on_path) : NULL;
}

const char *pl_own_python(void)
{
    static const char *python;
    if (python)
        return python;
    char *dir = own_dir();
    python = find(dir);
    if (!python) {
        fprintf(stderr,
                "polyprof: no python" VERSION " (the CPython this polyprof was installed for) next to %s or on "
                "PATH\n",
                dir ? dir : argv0);
        exit(2);
    }
    return python;
}
