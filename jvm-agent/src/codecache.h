/* Where the JVM's generated code lives: the interpreter, stubs and JIT code
 * all sit in the code cache, one anonymous executable reservation, not an
 * ELF object, so libunwind has no tables for it. Native frames in it are the
 * "eval" frames the Java frames replace in mixed mode. */
#ifndef PPJ_CODECACHE_H
#define PPJ_CODECACHE_H

#include "polyprof.h"

/* Reads /proc/self/maps (the code cache is reserved whole at VM start, so
 * its extent does not change later): writes up to max ranges, returns how
 * many. */
int ppj_codecache_ranges(pp_addr_range *out, int max);

#endif
