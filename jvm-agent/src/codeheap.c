#include "codeheap.h"

#include <string.h>

#include "vmstructs.h"

#define MAX_HEAPS 8
/* HotSpot marks a segment outside every block with this in the map. */
#define FREE_SEGMENT 0xff

static int ready;
static uintptr_t *low_bound, *high_bound; /* CodeCache::_low_bound, _high_bound */
static char **heaps;                      /* CodeCache::_heaps: GrowableArray<CodeHeap*>* */
static intptr_t array_len, array_data;
static intptr_t heap_memory, heap_segmap, heap_log2_segment; /* in CodeHeap */
static intptr_t vs_low, vs_high;                             /* in VirtualSpace */
static intptr_t block_used, block_size;                      /* HeapBlock's header, and its size */
static intptr_t blob_name, nmethod_method;
static intptr_t method_const, const_constants, const_idnum, pool_holder, jmethod_ids;

int ppj_codeheap_init(void)
{
    low_bound = ppj_vmstructs_static("CodeCache", "_low_bound");
    high_bound = ppj_vmstructs_static("CodeCache", "_high_bound");
    heaps = ppj_vmstructs_static("CodeCache", "_heaps");
    /* At Agent_OnLoad the code cache does not exist yet: its statics are
     * read at each lookup. */
    if (!low_bound || !high_bound || !heaps)
        return -1;
    const struct {
        intptr_t *offset;
        const char *type, *field;
    } fields[] = {
        {&array_len, "GrowableArrayBase", "_len"},
        {&array_data, "GrowableArray<int>", "_data"},
        {&heap_memory, "CodeHeap", "_memory"},
        {&heap_segmap, "CodeHeap", "_segmap"},
        {&heap_log2_segment, "CodeHeap", "_log2_segment_size"},
        {&vs_low, "VirtualSpace", "_low"},
        {&vs_high, "VirtualSpace", "_high"},
        {&block_used, "HeapBlock::Header", "_used"},
        {&blob_name, "CodeBlob", "_name"},
        {&method_const, "Method", "_constMethod"},
        {&const_constants, "ConstMethod", "_constants"},
        {&const_idnum, "ConstMethod", "_method_idnum"},
        {&pool_holder, "ConstantPool", "_pool_holder"},
        {&jmethod_ids, "InstanceKlass", "_methods_jmethod_ids"},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if ((*fields[i].offset = ppj_vmstructs_offset(fields[i].type, fields[i].field)) < 0)
            return -1;
    /* JDK 23 folded CompiledMethod into nmethod. */
    nmethod_method = ppj_vmstructs_offset("nmethod", "_method");
    if (nmethod_method < 0)
        nmethod_method = ppj_vmstructs_offset("CompiledMethod", "_method");
    block_size = ppj_vmstructs_type_size("HeapBlock");
    if (nmethod_method < 0 || block_size <= 0)
        return -1;
    ready = 1;
    return 0;
}

int ppj_codeheap_ready(void) { return ready; }

static int is_compiled_method(const char *blob)
{
    const char *name = *(const char *const *)(const void *)(blob + blob_name);
    return name && (!strcmp(name, "nmethod") || !strcmp(name, "native nmethod"));
}

/* The block of heap holding pc, or NULL: the segment map gives, for each
 * segment of a block, how far back (in segments, up to 0xfe a hop) the
 * block starts. */
static const char *block_at(const char *heap, uintptr_t pc)
{
    uintptr_t low = *(const uintptr_t *)(const void *)(heap + heap_memory + vs_low);
    uintptr_t high = *(const uintptr_t *)(const void *)(heap + heap_memory + vs_high);
    if (pc < low || pc >= high)
        return NULL;
    const unsigned char *map = *(const unsigned char *const *)(const void *)(heap + heap_segmap + vs_low);
    int shift = *(const int *)(const void *)(heap + heap_log2_segment);
    if (!map || shift < 0 || shift > 16)
        return NULL;
    uintptr_t i = (pc - low) >> shift;
    if (map[i] == FREE_SEGMENT)
        return NULL;
    while (map[i] > 0 && map[i] <= i) /* each hop moves back: the walk ends */
        i -= map[i];
    if (map[i] != 0)
        return NULL;
    const char *block = (const char *)(low + (i << shift));
    return *(const volatile unsigned char *)(block + block_used) ? block : NULL;
}

jmethodID ppj_codeheap_method_at(uintptr_t pc)
{
    if (!ready || pc < *(volatile uintptr_t *)low_bound || pc >= *(volatile uintptr_t *)high_bound)
        return NULL;
    const char *array = *(char *const volatile *)heaps;
    if (!array)
        return NULL;
    int n = *(const int *)(const void *)(array + array_len);
    const char *const *list = *(const char *const *const *)(const void *)(array + array_data);
    for (int h = 0; h < n && h < MAX_HEAPS; h++) {
        const char *block = block_at(list[h], pc);
        if (!block)
            continue;
        const char *blob = block + block_size;
        if (!is_compiled_method(blob))
            return NULL;
        const char *method = *(const char *const *)(const void *)(blob + nmethod_method);
        const char *cm = method ? *(const char *const *)(const void *)(method + method_const) : NULL;
        const char *cp = cm ? *(const char *const *)(const void *)(cm + const_constants) : NULL;
        const char *klass = cp ? *(const char *const *)(const void *)(cp + pool_holder) : NULL;
        /* jmethodIDs of the class's methods by idnum, after their count;
         * made when the agent asked for the class's methods (methods.c). */
        const jmethodID *ids = klass ? *(const jmethodID *const volatile *)(const void *)(klass + jmethod_ids) : NULL;
        if (!ids)
            return NULL;
        uintptr_t idnum = *(const uint16_t *)(const void *)(cm + const_idnum);
        return idnum < (uintptr_t)ids[0] ? ids[idnum + 1] : NULL;
    }
    return NULL;
}
