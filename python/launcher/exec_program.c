/* cli.py's _exec_program: the program's interpreter replaces the launcher,
 * running polyprof's runner (`runner`) through the bootstrap, so no
 * launcher process stays behind, the program gets ^C and other signals
 * itself, and its exit status is the command's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launcher.h"

void pl_exec_program(const struct pl_command *cmd, const char *runner, char **args, int nargs, const char *who)
{
    const char *own = pl_own_python();
    char *bootstrap = pl_bootstrap(runner, who, cmd->interp, own);
    if (!bootstrap)
        return;
    /* Under the command line's own interpreter, cli.py puts the directory its
     * polyprof came from first on PYTHONPATH (_program_env). */
    char *interp_real = pl_realpath(cmd->interp), *own_real = pl_realpath(own);
    const char *package_parent = NULL;
    if (interp_real && own_real && strcmp(interp_real, own_real) == 0) {
        package_parent = pl_package_parent(own);
        if (!package_parent)
            return;
    }
    char **env = pl_program_env(package_parent);
    if (!env)
        return;
    char **argv = pl_alloc((size_t)(1 + cmd->nflags + 2 + nargs + cmd->nrest + 1) * sizeof(char *));
    int n = 0;
    argv[n++] = (char *)cmd->interp;
    for (int i = 0; i < cmd->nflags; i++)
        argv[n++] = cmd->flags[i];
    argv[n++] = "-c";
    argv[n++] = bootstrap;
    for (int i = 0; i < nargs; i++)
        argv[n++] = args[i];
    for (int i = 0; i < cmd->nrest; i++)
        argv[n++] = cmd->rest[i];
    argv[n] = NULL;
    execve(cmd->interp, argv, env);
    int error = errno;
    if (!pl_is_ascii(cmd->interp))
        return;
    fprintf(stderr, "%s: cannot run %s: %s\n", who, cmd->interp, strerror(error));
    exit(1);
}
