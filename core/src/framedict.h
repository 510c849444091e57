/* The frame dictionary of a sampling session: turns raw frame keys (native
 * pcs, interpreter (code, offset) pairs, the profiler's own named frames) and
 * labels into small ids, naming each frame once. Collectors store ids; a
 * profile is exported by copying the frames its stacks use. Drain thread only. */
#ifndef PP_FRAMEDICT_H
#define PP_FRAMEDICT_H

#include <stdint.h>

#include "merge.h"
#include "polyprof.h"
#include "profile.h"

typedef struct pp_framedict pp_framedict;

pp_framedict *pp_framedict_new(void);
void pp_framedict_free(pp_framedict *d);
size_t pp_framedict_bytes(const pp_framedict *d);
/* New shared objects may have been loaded. */
void pp_framedict_refresh_symbols(pp_framedict *d);

uint32_t pp_framedict_special(pp_framedict *d, pp_special s);
/* leaf: pc is the interrupted instruction itself, not a return address */
uint32_t pp_framedict_native(pp_framedict *d, uintptr_t pc, int leaf);

/* Whether the native frame at pc is interpreter plumbing per the runtime
 * (its ranges and is_plumbing); memoized with the frame. */
int pp_framedict_native_is_plumbing(pp_framedict *d, uintptr_t pc, int leaf, const pp_runtime *rt);

/* Resolution of interpreter frames goes through the runtime; `session` tracks
 * whether resolve_begin was called for the current batch (the Python bridge
 * takes the GIL there), so a batch pays for it at most once. */
typedef struct pp_resolve_session {
    const pp_runtime *rt;
    int begun;   /* 1 begun, -1 refused */
} pp_resolve_session;
uint32_t pp_framedict_interp(pp_framedict *d, const pp_raw_frame *f, pp_resolve_session *rs);
/* Begins the session if needed; 1 when the runtime may be called now. */
int pp_resolve_session_ready(pp_resolve_session *rs);
void pp_resolve_session_end(pp_resolve_session *rs);

uint32_t pp_framedict_label_num(pp_framedict *d, const char *key, int64_t num);
uint32_t pp_framedict_label_str(pp_framedict *d, const char *key, const char *str);
/* The label's key, for filtering: string compare happens once per label id. */
int pp_framedict_label_matches(const pp_framedict *d, uint32_t label, const char *key, const char *str);

/* Export: maps dictionary ids into profile ids, memoized in `memo` (an array
 * the caller sizes with pp_framedict_count_* and fills with UINT32_MAX). */
uint32_t pp_framedict_count_frames(const pp_framedict *d);
uint32_t pp_framedict_count_labels(const pp_framedict *d);
uint32_t pp_framedict_export_frame(const pp_framedict *d, uint32_t id, pp_profile *p, uint32_t *memo,
                                   uint32_t *mapping_memo);
void pp_framedict_export_label(const pp_framedict *d, uint32_t id, pp_profile *p, pp_label *out);
uint32_t pp_framedict_count_mappings(const pp_framedict *d);
/* Exports the main executable's mapping, so it is the profile's first one
 * (pprof reads mapping 1 as the main binary). */
void pp_framedict_export_main_mapping(pp_framedict *d, pp_profile *p, uint32_t *mapping_memo);

#endif
