/* Output format names and file suffixes: the one table both the option
 * parser and the file writer consult. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "polyprof.h"

static const struct {
    const char *suffix;
    pp_format format;
} suffixes[] = {
    {".pb.gz", PP_FORMAT_PPROF},      {".pprof", PP_FORMAT_PPROF}, {".pb", PP_FORMAT_PPROF},
    {".folded", PP_FORMAT_COLLAPSED}, {".collapsed", PP_FORMAT_COLLAPSED}, {".txt", PP_FORMAT_COLLAPSED},
    {".top", PP_FORMAT_TEXT},         {".cpuprofile", PP_FORMAT_CPUPROFILE}, {".html", PP_FORMAT_HTML},
    {".htm", PP_FORMAT_HTML},         {".speedscope.json", PP_FORMAT_SPEEDSCOPE},
};

static const struct {
    const char *name;
    pp_format format;
} names[] = {
    {"pprof", PP_FORMAT_PPROF}, {"collapsed", PP_FORMAT_COLLAPSED}, {"folded", PP_FORMAT_COLLAPSED},
    {"text", PP_FORMAT_TEXT},   {"top", PP_FORMAT_TEXT},         {"cpuprofile", PP_FORMAT_CPUPROFILE},
    {"html", PP_FORMAT_HTML},   {"flamegraph", PP_FORMAT_HTML},  {"speedscope", PP_FORMAT_SPEEDSCOPE},
};

#define SUPPORTED_SUFFIXES \
    ".pb.gz, .pprof, .pb, .folded, .collapsed, .txt, .top, .cpuprofile, .html, .speedscope.json"

int pp_format_from_path(const char *path, pp_format *out, char *err, size_t errlen)
{
    size_t len = strlen(path);
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        size_t n = strlen(suffixes[i].suffix);
        if (len > n && strcasecmp(path + len - n, suffixes[i].suffix) == 0) {
            *out = suffixes[i].format;
            return 0;
        }
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    if (dot && dot != base)
        snprintf(err, errlen, "file suffix '%s' of '%s' is not supported (use " SUPPORTED_SUFFIXES ")", dot, path);
    else
        snprintf(err, errlen, "file '%s' has no suffix to choose a format by (use " SUPPORTED_SUFFIXES ")", path);
    return -1;
}

int pp_format_from_name(const char *name, pp_format *out, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(name, names[i].name) == 0) {
            *out = names[i].format;
            return 0;
        }
    }
    snprintf(err, errlen, "unknown format '%s' (use pprof, collapsed, folded, text, top, cpuprofile, html or speedscope)", name);
    return -1;
}

const char *pp_format_name(pp_format f)
{
    switch (f) {
    case PP_FORMAT_PPROF: return "pprof";
    case PP_FORMAT_COLLAPSED: return "collapsed";
    case PP_FORMAT_TEXT: return "text";
    case PP_FORMAT_CPUPROFILE: return "cpuprofile";
    case PP_FORMAT_HTML: return "html";
    case PP_FORMAT_SPEEDSCOPE: return "speedscope";
    case PP_FORMAT_AUTO: break;
    }
    return "auto";
}
