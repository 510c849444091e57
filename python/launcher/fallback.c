/* Whatever the launcher does not answer itself goes to the Python command
 * line, in the CPython this polyprof belongs to, with the arguments as
 * given: other commands, --help, options only argparse reads, messages only
 * Python can spell. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launcher.h"

/* As a console script: sys.path does not start with the working directory
 * (python -m would put it there, and a ./polyprof directory would be
 * imported instead of the installation). */
static const char code[] = "import sys\n"
                           "if sys.path and sys.path[0] == '':\n"
                           "    del sys.path[0]\n"
                           "from polyprof.cli import main\n"
                           "sys.exit(main())\n";

_Noreturn void pl_fallback(char **argv)
{
    const char *python = pl_own_python();
    int argc = 0;
    while (argv[argc])
        argc++;
    char **args = pl_alloc((size_t)(argc + 3) * sizeof(char *));
    args[0] = (char *)python;
    args[1] = "-c";
    args[2] = (char *)code;
    memcpy(args + 3, argv + 1, (size_t)argc * sizeof(char *)); /* with argv's NULL */
    execv(python, args);
    fprintf(stderr, "polyprof: cannot run %s: %s\n", python, strerror(errno));
    exit(2);
}
