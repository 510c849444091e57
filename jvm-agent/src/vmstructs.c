#include "vmstructs.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <string.h>

static int64_t published(const char *name, int *ok)
{
    const int64_t *p = dlsym(RTLD_DEFAULT, name);
    if (!p)
        *ok = 0;
    return p ? *p : 0;
}

/* gHotSpotVMStructs and gHotSpotVMTypes are arrays of entries whose layout
 * is itself published (the *Offset and *Stride symbols), ended by an entry
 * without a type name. */
typedef struct {
    const char *first;
    int64_t stride, type_off;
} entry_array;

static int open_array(const char *array, const char *stride, const char *type_name_off, entry_array *a)
{
    int ok = 1;
    char **entries = dlsym(RTLD_DEFAULT, array);
    a->stride = published(stride, &ok);
    a->type_off = published(type_name_off, &ok);
    a->first = entries ? *entries : NULL;
    return ok && a->first && a->stride > 0 ? 0 : -1;
}

static const char *type_of(const entry_array *a, const char *e)
{
    return *(const char *const *)(const void *)(e + a->type_off);
}

/* The gHotSpotVMStructs entry of type::field, or NULL; *value_off and
 * *address_off locate its offset and (for a static field) its address. */
static const char *find_entry(const char *type, const char *field, int64_t *value_off, int64_t *address_off)
{
    entry_array a;
    int ok = 1;
    int64_t field_off = published("gHotSpotVMStructEntryFieldNameOffset", &ok);
    *value_off = published("gHotSpotVMStructEntryOffsetOffset", &ok);
    *address_off = published("gHotSpotVMStructEntryAddressOffset", &ok);
    if (!ok || open_array("gHotSpotVMStructs", "gHotSpotVMStructEntryArrayStride",
                          "gHotSpotVMStructEntryTypeNameOffset", &a) != 0)
        return NULL;
    for (const char *e = a.first; type_of(&a, e); e += a.stride) {
        const char *f = *(const char *const *)(const void *)(e + field_off);
        if (f && !strcmp(type_of(&a, e), type) && !strcmp(f, field))
            return e;
    }
    return NULL;
}

intptr_t ppj_vmstructs_offset(const char *type, const char *field)
{
    int64_t value_off, address_off;
    const char *e = find_entry(type, field, &value_off, &address_off);
    return e ? (intptr_t) * (const uint64_t *)(const void *)(e + value_off) : -1;
}

void *ppj_vmstructs_static(const char *type, const char *field)
{
    int64_t value_off, address_off;
    const char *e = find_entry(type, field, &value_off, &address_off);
    return e ? *(void *const *)(const void *)(e + address_off) : NULL;
}

intptr_t ppj_vmstructs_type_size(const char *type)
{
    entry_array a;
    int ok = 1;
    int64_t size_off = published("gHotSpotVMTypeEntrySizeOffset", &ok);
    if (!ok || open_array("gHotSpotVMTypes", "gHotSpotVMTypeEntryArrayStride", "gHotSpotVMTypeEntryTypeNameOffset",
                          &a) != 0)
        return -1;
    for (const char *e = a.first; type_of(&a, e); e += a.stride)
        if (!strcmp(type_of(&a, e), type))
            return (intptr_t) * (const uint64_t *)(const void *)(e + size_off);
    return -1;
}

/* JVMFlag's origin bits (the low four of _flags): 0 is the default value. */
#define FLAG_ORIGIN_MASK 0xf

int ppj_vmstructs_set_default_flag(const char *name)
{
    char **flags = ppj_vmstructs_static("JVMFlag", "flags");
    size_t *count = ppj_vmstructs_static("JVMFlag", "numFlags");
    intptr_t size = ppj_vmstructs_type_size("JVMFlag");
    intptr_t name_off = ppj_vmstructs_offset("JVMFlag", "_name");
    intptr_t addr_off = ppj_vmstructs_offset("JVMFlag", "_addr");
    intptr_t origin_off = ppj_vmstructs_offset("JVMFlag", "_flags");
    if (!flags || !*flags || !count || size <= 0 || name_off < 0 || addr_off < 0 || origin_off < 0)
        return -1;
    for (size_t i = 0; i < *count; i++) {
        char *f = *flags + (size_t)size * i;
        const char *n = *(const char **)(void *)(f + name_off);
        bool *value = *(bool **)(void *)(f + addr_off);
        if (!n || !value || strcmp(n, name))
            continue;
        if (*value)
            return 0;
        if ((*(const int *)(const void *)(f + origin_off) & FLAG_ORIGIN_MASK) != 0)
            return -1; /* the user said false */
        *value = true;
        return 0;
    }
    return -1;
}
