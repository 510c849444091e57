/* HotSpot's own description of its data structures, published for
 * debuggers (gHotSpotVMStructs, gHotSpotVMTypes): where a field sits in a
 * type, where a static field lives, how large a type is. Read once at
 * start, off the signal path. */
#ifndef PPJ_VMSTRUCTS_H
#define PPJ_VMSTRUCTS_H

#include <stddef.h>
#include <stdint.h>

/* The offset of type::field, or -1 when HotSpot does not publish it. */
intptr_t ppj_vmstructs_offset(const char *type, const char *field);
/* The address of the static type::field, or NULL. */
void *ppj_vmstructs_static(const char *type, const char *field);
/* sizeof(type), or -1. */
intptr_t ppj_vmstructs_type_size(const char *type);
/* Sets a boolean -XX flag that the command line left at its default
 * (HotSpot reads some only when it uses them, e.g. the compilers at each
 * compilation). 0 when it is now true (also when it was already), -1 when
 * it cannot be found or was set on the command line. */
int ppj_vmstructs_set_default_flag(const char *name);

#endif
