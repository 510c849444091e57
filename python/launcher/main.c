/* The `polyprof` command: record and run in C when their command line is one
 * cli.py reads without argparse, the Python command line for the rest. */
#include <string.h>

#include "launcher.h"

static void record(int argc, char **argv)
{
    char *args[8 + 1];
    int command;
    int n = pl_record_settings(argc, argv, args, &command);
    if (n < 0)
        return;
    args[n++] = "--";
    struct pl_command cmd;
    if (!pl_split_python_command(argv + command, argc - command, &cmd))
        return;
    pl_exec_program(&cmd, "_target", args, n, "polyprof record");
}

static void run(int argc, char **argv)
{
    /* `run -- program...`: argparse leaves the first "--" to cmd_run, which
     * drops it; any other form is argparse's. */
    if (argc < 3 || strcmp(argv[1], "--") != 0 || argv[2][0] == '-')
        return;
    struct pl_command cmd;
    if (!pl_split_python_command(argv + 2, argc - 2, &cmd))
        return;
    pl_exec_program(&cmd, "_run", NULL, 0, "polyprof run");
}

int main(int argc, char **argv)
{
    pl_set_argv0(argv[0]);
    if (argc >= 2 && strcmp(argv[1], "record") == 0)
        record(argc - 1, argv + 1);
    else if (argc >= 2 && strcmp(argv[1], "run") == 0)
        run(argc - 1, argv + 1);
    pl_fallback(argv);
}
