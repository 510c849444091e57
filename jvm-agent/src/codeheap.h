/* The compiled Java method at a pc, read from HotSpot's code heaps the way
 * HotSpot finds a code blob (each heap's segment map leads from any pc to
 * the start of its block), through the offsets HotSpot publishes
 * (vmstructs.h). This replaces JVMTI's CompiledMethodLoad events, which
 * cost the JVM's Service Thread about 1% of a compile-heavy program's CPU
 * (HotSpot decodes every debug scope of each method for the event). */
#ifndef PPJ_CODEHEAP_H
#define PPJ_CODEHEAP_H

#include <jvmti.h>
#include <stdint.h>

/* Finds the offsets; 0 when every one needed is published (HotSpot 17 to
 * 25 as built by OpenJDK), -1 otherwise (then nothing here is used). */
int ppj_codeheap_init(void);
int ppj_codeheap_ready(void);
/* The method whose compiled code (an nmethod, or a native method's
 * wrapper) holds pc, or NULL. Async-signal-safe: plain reads of the VM's
 * memory, which the caller does inside the core's fault guard (a block
 * freed and reused meanwhile can give a wrong answer, never a crash). */
jmethodID ppj_codeheap_method_at(uintptr_t pc);

#endif
