/* The local HTTP endpoint in the JVM (endpoint=127.0.0.1:6060 in the agent
 * string): the core's pp_endpoint, with Java frames in its CPU captures and
 * the agent's sampled allocations behind /debug/pprof/allocs. */
#ifndef PPJ_SERVE_H
#define PPJ_SERVE_H

#include <stddef.h>

#include "polyprof.h"

/* VMInit, after the runtime is registered with the core (rt stays valid
 * until ppj_serve_stop). Logs the bound address on stderr:
 * "polyprof: serving profiles on 127.0.0.1:43817 (...)". */
int ppj_serve_start(const pp_options *o, const pp_runtime *rt, char *err, size_t errlen);
/* VMDeath, before anything it reads goes: a running capture ends (its
 * client gets what was sampled) and serving stops. */
void ppj_serve_stop(void);

#endif
