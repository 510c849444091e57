/* The directory polyprof's package is imported from by the launcher's
 * CPython, spelled as there: cli.py puts it first on the program's PYTHONPATH
 * when the program runs under the command line's own interpreter. The
 * launcher walks the places CPython's site module puts on sys.path, in its
 * order (PYTHONPATH, the user's site-packages, the environment's), and
 * answers only where what it models settles the answer: any doubt (a
 * polyprof on PYTHONPATH, a .pth file that may add one before the
 * installation, an editable install, a distribution's own layout) returns
 * NULL, and the Python command line answers instead. Not modelled: code that
 * rewrites sys.path at start (sitecustomize, a .pth file's import lines). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launcher.h"

#define STR2(x) #x
#define STR(x) STR2(x)
#define PYDIR "python3." STR(PP_LAUNCHER_PYTHON_MINOR)

enum found { ABSENT, FOUND, UNSURE };

static int has_pth(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int found = 0;
    for (struct dirent *e; !found && (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        found = n > 4 && strcmp(e->d_name + n - 4, ".pth") == 0;
    }
    closedir(d);
    return found;
}

/* site: a site directory, whose .pth files add entries right after it */
static enum found look_in(const char *dir, int site)
{
    struct stat st;
    char *package = pl_join(dir, "polyprof");
    if (stat(package, &st) == 0) {
        /* a directory without __init__.py is a namespace portion: later entries decide */
        return S_ISDIR(st.st_mode) && pl_is_file(pl_join(package, "__init__.py")) ? FOUND : UNSURE;
    }
    if (errno != ENOENT && errno != ENOTDIR)
        return UNSURE;
    if (pl_exists(pl_join(dir, "polyprof.py")) || (site && has_pth(dir)))
        return UNSURE;
    return ABSENT;
}

/* pyvenv.cfg's include-system-site-packages as site.py reads it: 1 unless "false" and the like */
static int system_site(const char *cfg)
{
    FILE *f = fopen(cfg, "r");
    if (!f)
        return -1;
    char line[4096];
    int value = 1;
    while (fgets(line, sizeof line, f)) {
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        char *k = line, *v = eq + 1, *kend = eq, *vend = v + strlen(v);
        while (*k == ' ' || *k == '\t')
            k++;
        while (kend > k && (kend[-1] == ' ' || kend[-1] == '\t'))
            kend--;
        while (*v == ' ' || *v == '\t')
            v++;
        while (vend > v && strchr(" \t\r\n", vend[-1]))
            vend--;
        if ((size_t)(kend - k) == 28 && strncasecmp(k, "include-system-site-packages", 28) == 0)
            value = (size_t)(vend - v) == 4 && strncasecmp(v, "true", 4) == 0;
    }
    fclose(f);
    return value;
}

static const char *user_site(void)
{
    const char *base = getenv("PYTHONUSERBASE");
    char *b;
    if (base && *base) {
        b = pl_concat(base, NULL);
    } else {
        const char *home = getenv("HOME");
        if (!home || !*home)
            return NULL; /* Python asks the password database: not modelled */
        b = pl_concat(home, NULL);
        size_t n = strlen(b);
        while (n > 1 && b[n - 1] == '/')
            b[--n] = '\0';
        b = pl_concat(b, "/.local", NULL);
    }
    return pl_abspath(pl_concat(b, "/lib/" PYDIR "/site-packages", NULL));
}

const char *pl_package_parent(const char *python)
{
    const char *pythonpath = getenv("PYTHONPATH");
    if (pythonpath && *pythonpath) {
        for (const char *p = pythonpath;;) {
            const char *end = strchr(p, ':');
            size_t n = end ? (size_t)(end - p) : strlen(p);
            char *entry = pl_alloc(n + 1);
            memcpy(entry, p, n);
            entry[n] = '\0';
            struct stat st;
            if (n == 0 || (stat(entry, &st) == 0 && !S_ISDIR(st.st_mode)) || look_in(entry, 0) != ABSENT)
                return NULL;
            if (!end)
                break;
            p = end + 1;
        }
    }
    char *exe_dir = pl_dirname(python), *prefix = pl_dirname(exe_dir);
    char *cfg = pl_join(prefix, "pyvenv.cfg");
    if (!pl_is_file(cfg))
        cfg = pl_join(exe_dir, "pyvenv.cfg");
    int venv = pl_is_file(cfg);
    int system = venv ? system_site(cfg) : 1;
    if (system < 0)
        return NULL;
    const char *no_user = getenv("PYTHONNOUSERSITE");
    if (system && !(no_user && *no_user) && getuid() == geteuid() && getgid() == getegid()) {
        const char *user = user_site();
        if (!user)
            return NULL;
        enum found f = look_in(user, 1);
        if (f != ABSENT)
            return f == FOUND ? user : NULL;
    }
    char *real = pl_realpath(python);
    if (!real)
        return NULL;
    char *base = pl_dirname(pl_dirname(real));
    if (!venv) {
        /* the prefix getpath finds from the executable's real place, by its landmark */
        prefix = base;
        if (!pl_is_file(pl_concat(pl_join(prefix, "lib/" PYDIR), "/os.py", NULL)))
            return NULL;
        if (strcmp(prefix, "/usr") == 0) {
            /* Debian's site.py; other distributions patch it their own ways */
            if (!pl_is_dir("/usr/lib/python3/dist-packages"))
                return NULL;
            const char *debian[] = {"/usr/local/lib/" PYDIR "/dist-packages", "/usr/lib/python3/dist-packages",
                                    "/usr/lib/" PYDIR "/dist-packages"};
            for (size_t i = 0; i < sizeof debian / sizeof debian[0]; i++) {
                enum found f = look_in(debian[i], 1);
                if (f != ABSENT)
                    return f == FOUND ? debian[i] : NULL;
            }
            return NULL;
        }
    }
    /* sys.platlibdir, which only the build knows: lib64 where the standard
     * library's extension modules live there (Fedora, SUSE) */
    const char *libdirs[2] = {"lib", NULL};
    if (pl_is_dir(pl_concat(pl_join(base, "lib64/" PYDIR), "/lib-dynload", NULL))) {
        libdirs[0] = "lib64";
        libdirs[1] = "lib";
    }
    for (int i = 0; i < 2 && libdirs[i]; i++) {
        char *dir = pl_concat(pl_join(prefix, libdirs[i]), "/" PYDIR "/site-packages", NULL);
        enum found f = look_in(dir, 1);
        if (f != ABSENT)
            return f == FOUND ? dir : NULL;
    }
    return NULL;
}
