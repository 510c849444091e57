/* The JVM's generated code that is not a Java method: dispatch stubs
 * (vtable/itable), interpreter/compiled adapters, runtime stubs, the
 * interpreter. HotSpot reports each piece with its name through JVMTI's
 * DynamicCodeGenerated; this table keeps them so the signal handler can
 * tell where an interrupted pc is when AsyncGetCallTrace cannot. */
#ifndef PPJ_STUBS_H
#define PPJ_STUBS_H

#include <jvmti.h>
#include <stdint.h>

/* JVMTI DynamicCodeGenerated callback: records the stub (copies its name). */
void JNICALL ppj_stubs_on_generated(jvmtiEnv *jvmti, const char *name, const void *address, jint length);
/* The index of the stub holding pc, or -1. Async-signal-safe: reads an
 * append-only table published with release/acquire. */
int ppj_stubs_find(uintptr_t pc);
/* Whether the stub at index is entered by a call and keeps no frame of its
 * own (the vtable/itable dispatch stubs): its caller's return address is at
 * the top of the stack wherever in it the pc is. Async-signal-safe. */
int ppj_stubs_frameless(int index);
/* Where the stub's code starts. Async-signal-safe. */
uintptr_t ppj_stubs_start(int index);
/* Where it ends (exclusive). Async-signal-safe. */
uintptr_t ppj_stubs_end(int index);
/* The stub's name as HotSpot gave it ("vtable stub", "I2C/C2I adapters"...),
 * NULL for a bad index. */
const char *ppj_stubs_name(int index);

#endif
