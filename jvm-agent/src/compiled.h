/* Where each JIT-compiled method's code is: kept from JVMTI's
 * CompiledMethodLoad/Unload when HotSpot's code heap cannot be read
 * (codeheap.h), so the signal handler can name the method an
 * interrupted pc is in when AsyncGetCallTrace cannot (a pc in the method's
 * prologue or epilogue, before its frame is complete or after it is torn
 * down). */
#ifndef PPJ_COMPILED_H
#define PPJ_COMPILED_H

#include <jvmti.h>
#include <stdint.h>

void ppj_compiled_on_load(jmethodID method, const void *code, jint size);
void ppj_compiled_on_unload(jmethodID method, const void *code);
/* The method whose compiled code holds pc, or NULL: from the code heap
 * itself when codeheap.h is ready (then no events are asked for and the
 * table stays empty), else from the events' table. Async-signal-safe:
 * lock-free reads of a fixed table, or codeheap.h's reads. */
jmethodID ppj_compiled_find(uintptr_t pc);

#endif
