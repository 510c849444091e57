/* The endpoint's CPU captures run on the core's threads: the sampler's
 * AsyncGetCallTrace hook records jmethodIDs in the signal handler, and the
 * thread that aggregates them (the drain thread, or the capture's own
 * thread at its end) names them through JVMTI after attaching itself to the
 * VM as a daemon (ppj_resolve_begin), so nothing waits for a Java thread and
 * it answers while the application's threads are wedged. */
#include "serve.h"

#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "alloc.h"

static pp_endpoint *endpoint;
static const pp_runtime *runtime;

/* An endpoint thread: everything sampled since the agent started
 * (cumulative, as Go's allocs). Naming attaches this thread to the VM. */
static pp_profile *memory_profile(void *ctx, pp_memory_kind kind, char *err, size_t errlen)
{
    (void)ctx;
    if (kind == PP_MEMORY_HEAP) {
        snprintf(err, errlen, "the JVM agent samples allocations, not the live heap: see /debug/pprof/allocs");
        return NULL;
    }
    pp_profile *p = ppj_alloc_snapshot(runtime);
    if (!p)
        snprintf(err, errlen, "allocation profiling is not running in this JVM (start the agent with event=alloc)");
    return p;
}

int ppj_serve_start(const pp_options *o, const pp_runtime *rt, char *err, size_t errlen)
{
    pp_endpoint_hooks hooks;
    memset(&hooks, 0, sizeof hooks);
    hooks.runtime = "jvm";
    hooks.memory_profile = memory_profile;
    runtime = rt;
    pp_options eo = *o;
    /* The endpoint's captures are CPU profiles whatever the agent's own
     * profile is; a one-shot file is not theirs to write. */
    eo.mode = PP_MODE_CPU;
    eo.file[0] = '\0';
    endpoint = pp_endpoint_start(&eo, &hooks, err, errlen);
    if (!endpoint)
        return -1;
    char addr[160];
    pp_endpoint_address(endpoint, addr, sizeof addr);
    ppj_log("serving profiles on %s (/debug/pprof/, /polyprof/status)", addr);
    return 0;
}

void ppj_serve_stop(void)
{
    pp_endpoint *e = endpoint;
    endpoint = NULL;
    pp_endpoint_stop(e);
}
