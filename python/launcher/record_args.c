/* `polyprof record [options] -- program...` read as cli.py's
 * _quick_record_args reads it, into cmd_record's KEY=VALUE settings. Any
 * form that function leaves to argparse (help, an unknown or abbreviated
 * option, a missing value) is left to the Python command line here too. */
#include <string.h>

#include "launcher.h"

enum { OUTPUT, INTERVAL, MODE, ALLOC_INTERVAL, DURATION, FORMAT, NATIVE, NKEYS };

static const struct {
    const char *name;
    int key;
    int flag_value; /* -1: takes a value */
} options[] = {
    {"-o", OUTPUT, -1},       {"--output", OUTPUT, -1},       {"--interval", INTERVAL, -1},
    {"--mode", MODE, -1},     {"--alloc-interval", ALLOC_INTERVAL, -1}, {"--duration", DURATION, -1},
    {"--format", FORMAT, -1}, {"--native", NATIVE, 1},        {"--no-native", NATIVE, 0},
};

int pl_record_settings(int argc, char **argv, char **settings, int *command)
{
    int end = 1;
    while (end < argc && strcmp(argv[end], "--") != 0)
        end++;
    if (argc < 2 || strcmp(argv[0], "record") != 0 || end == argc)
        return -1;
    const char *values[NKEYS] = {"profile.pb.gz", "10ms", "cpu", NULL, NULL, NULL, "1"};
    for (int i = 1; i < end;) {
        const char *eq = strchr(argv[i], '=');
        size_t name_len = eq ? (size_t)(eq - argv[i]) : strlen(argv[i]);
        int o = -1;
        for (size_t k = 0; k < sizeof options / sizeof options[0]; k++)
            if (strlen(options[k].name) == name_len && strncmp(options[k].name, argv[i], name_len) == 0)
                o = (int)k;
        if (o < 0 || (eq && options[o].key == OUTPUT && name_len == 2))
            return -1;
        if (options[o].flag_value >= 0) {
            if (eq)
                return -1;
            values[NATIVE] = options[o].flag_value ? "1" : "0";
            i++;
            continue;
        }
        const char *value;
        if (eq) {
            value = eq + 1;
            i++;
        } else if (i + 1 < end) {
            value = argv[i + 1];
            i += 2;
        } else {
            return -1;
        }
        if (value[0] == '-')
            return -1; /* argparse reads such a value as an option */
        values[options[o].key] = value;
    }
    const char *output = pl_abspath(values[OUTPUT]);
    if (!output)
        return -1;
    /* cli.py's RECORD_SETTINGS order; unset values are left out */
    static const struct {
        const char *key;
        int index;
    } order[] = {{"interval", INTERVAL},       {"mode", MODE},     {"native", NATIVE},     {"alloc_interval", ALLOC_INTERVAL},
                 {"output", OUTPUT},           {"format", FORMAT}, {"duration", DURATION}};
    values[OUTPUT] = output;
    int n = 0;
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++)
        if (values[order[k].index])
            settings[n++] = pl_concat(order[k].key, "=", values[order[k].index], NULL);
    *command = end + 1;
    return n;
}
