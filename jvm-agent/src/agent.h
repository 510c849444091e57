/* State the agent's parts share: the VM, the JVMTI environment, and the
 * options it was started with. Set once in Agent_OnLoad, read-only after. */
#ifndef PPJ_AGENT_H
#define PPJ_AGENT_H

#include <jni.h>
#include <jvmti.h>

#include "polyprof.h"

typedef struct ppj_agent {
    JavaVM *vm;
    jvmtiEnv *jvmti;
    pp_options options;
} ppj_agent;

extern ppj_agent ppj;

/* One line to stderr, prefixed "polyprof: ". */
void ppj_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
