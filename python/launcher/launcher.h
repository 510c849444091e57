/* polyprof's native launcher: the installed `polyprof` command.
 *
 * `polyprof record [options] -- python ...` (and `polyprof run -- python
 * ...`) only build a command line and exec the program's interpreter; the
 * Python command line (python/polyprof/cli.py) spends an interpreter start on
 * that. The launcher builds the same argv and environment in C and execs the
 * program's interpreter itself. Everything else, and every case it cannot
 * answer exactly as cli.py would, goes to the Python command line in the
 * CPython this polyprof was built for (fallback.c), so behaviour stays
 * cli.py's. The launcher never returns to a caller: it execs or exits. */
#ifndef PP_LAUNCHER_H
#define PP_LAUNCHER_H

#include <stddef.h>

#ifndef PP_LAUNCHER_PYTHON_MINOR
#error "build with -DPP_LAUNCHER_PYTHON_MINOR=X: the CPython 3.X whose polyprof this launcher starts"
#endif

/* text.c: strings that live until exec (nothing is freed). */
void *pl_alloc(size_t size);
char *pl_concat(const char *first, ...); /* the arguments up to a NULL, joined */
int pl_is_ascii(const char *s);          /* bytes below 0x80 only */

/* paths.c: os.path's spelling of paths, and stat checks. */
char *pl_dirname(const char *path);             /* os.path.dirname */
char *pl_join(const char *dir, const char *name); /* os.path.join with a relative name */
char *pl_normpath(const char *path);            /* os.path.normpath */
char *pl_abspath(const char *path);             /* os.path.abspath; NULL when the cwd is gone */
char *pl_realpath(const char *path);            /* NULL when it does not resolve */
int pl_is_file(const char *path);
int pl_is_dir(const char *path);
int pl_exists(const char *path);
int pl_is_executable(const char *path);         /* a regular file access(X_OK) allows */

/* fallback.c: the Python command line with the launcher's arguments. */
_Noreturn void pl_fallback(char **argv);

/* own_python.c: the CPython 3.X this polyprof belongs to (absolute path;
 * exits 2 with one line when there is none). */
void pl_set_argv0(const char *argv0);
const char *pl_own_python(void);

/* package_dir.c: the directory `python` imports polyprof from, spelled as
 * Python spells it; NULL when the launcher cannot be sure. */
const char *pl_package_parent(const char *python);

/* py_text.c: Python source text. */
char *pl_py_repr(const char *s); /* repr() of ASCII text; NULL for other bytes */
char *pl_bootstrap(const char *runner, const char *who, const char *interp, const char *own_python);

/* python_command.c: cli.py's _split_python_command. */
struct pl_command {
    const char *interp; /* as execve gets it */
    char **flags;       /* the interpreter's options before the program */
    int nflags;
    char **rest;        /* -m mod / -c text / script, and their arguments */
    int nrest;
};
int pl_is_python_name(const char *name);
char *pl_which(const char *name);
/* 1: split; 0: cli.py must answer (the caller falls back). Exits 1 with
 * cli.py's message when the command cannot be a Python program. */
int pl_split_python_command(char **cmd, int ncmd, struct pl_command *out);

/* record_args.c: cli.py's _quick_record_args and cmd_record's settings. */
/* argv from "record" on. Returns the number of KEY=VALUE settings written to
 * settings (at most 7) and sets *command to the first word after "--", or
 * returns -1 when argparse must read the options (the caller falls back). */
int pl_record_settings(int argc, char **argv, char **settings, int *command);

/* environ.c: the program's environment (cli.py's _program_env): the
 * launcher's, with pythonpath_first put first on PYTHONPATH when not NULL;
 * NULL when the environment has entries os.environ would not pass on as
 * they are. */
char **pl_program_env(const char *pythonpath_first);

/* exec_program.c: cli.py's _exec_program. Returns only when cli.py must answer. */
void pl_exec_program(const struct pl_command *cmd, const char *runner, char **args, int nargs, const char *who);

#endif
