#include "merge.h"

static const char *const special_names[PP_SPECIAL_COUNT] = {
    "[truncated]", "[unwind failed]", "[interpreter frames unreadable]",
    "[overflow: profiler memory cap reached]", "[unresolved frame]",
};

const char *pp_special_name(pp_special s) { return s < PP_SPECIAL_COUNT ? special_names[s] : "[unknown]"; }

static int in_ranges(const pp_addr_range *r, size_t n, uintptr_t pc)
{
    for (size_t i = 0; i < n; i++)
        if (pc >= r[i].start && pc < r[i].end)
            return 1;
    return 0;
}

static int is_eval_frame(const pp_runtime *rt, uintptr_t pc)
{
    if (rt->classify_native) {
        int kind = rt->classify_native(rt->ctx, pc);
        if (kind != PP_NATIVE_UNKNOWN)
            return kind == PP_NATIVE_EVAL;
    }
    return in_ranges(rt->eval, rt->n_eval, pc);
}

typedef struct emitter {
    pp_frame_ref *out;
    int n;
    int limit;                  /* frames kept, leaf first */
    int cut;                    /* a frame did not fit */
    const pp_raw_frame *frames; /* the sample's interpreter frames */
} emitter;

static void emit(emitter *e, uint8_t kind, uint32_t index)
{
    if (e->n < e->limit) {
        e->out[e->n].kind = kind;
        e->out[e->n].index = index;
        e->n++;
    } else {
        e->cut = 1;
    }
}

/* Markers go after the frames, past the limit (PP_MERGED_MAX has room). */
static void emit_marker(emitter *e, pp_special which)
{
    e->out[e->n].kind = PP_REF_SPECIAL;
    e->out[e->n].index = which;
    e->n++;
}

/* Interpreter frames come leaf first; a frame flagged PP_RAW_ENTRY closes the
 * group of frames one eval-loop invocation runs. */
static int split_groups(const pp_raw_sample *s, int *group_start)
{
    if (s->n_interp == 0)
        return 0;
    int g = 0;
    group_start[g++] = 0;
    for (int i = 0; i + 1 < (int)s->n_interp; i++)
        if (s->interp[i].flags & PP_RAW_ENTRY)
            group_start[g++] = i + 1;
    group_start[g] = s->n_interp;
    return g;
}

static void emit_group(emitter *e, const int *group_start, int g)
{
    for (int i = group_start[g]; i < group_start[g + 1]; i++)
        if (!(e->frames[i].flags & PP_RAW_OMIT))
            emit(e, PP_REF_INTERP, (uint32_t)i);
}

static void emit_markers_for(emitter *e, uint32_t flags, int n_interp)
{
    if (flags & PP_SAMPLE_INTERP_FAULT)
        emit_marker(e, PP_SPECIAL_INTERP_FAULT);
    if ((flags & (PP_SAMPLE_NATIVE_TRUNCATED | PP_SAMPLE_INTERP_TRUNCATED)) || e->cut)
        emit_marker(e, PP_SPECIAL_TRUNCATED);
    else if ((flags & PP_SAMPLE_NATIVE_FAILED) && n_interp == 0)
        emit_marker(e, PP_SPECIAL_UNWIND_FAILED);
}

static void emit_markers(emitter *e, const pp_raw_sample *s) { emit_markers_for(e, s->flags, s->n_interp); }

/* Every frame was left out (the runtime's own code and glue, interpreter
 * frames it omits): the interrupted native frame stays, so the sample
 * shows where it was rather than nothing at all. */
static void keep_leaf_if_empty(emitter *e, const pp_raw_sample *s)
{
    if (e->n == 0 && s->n_native > 0)
        emit(e, PP_REF_NATIVE, 0);
}

/* Natives then interpreter frames, nothing paired: for samples where the
 * eval loop was not found among the native frames. The runtime's plumbing
 * goes when there are interpreter frames to stand for it. */
static int emit_unspliced(emitter *e, const pp_raw_sample *s, const int *group_start, int n_groups,
                          pp_plumbing_fn is_plumbing, void *ctx)
{
    for (int j = 0; j < (int)s->n_native; j++)
        if (!n_groups || !is_plumbing || !is_plumbing(ctx, s->native[j], j == 0))
            emit(e, PP_REF_NATIVE, (uint32_t)j);
    for (int g = 0; g < n_groups; g++)
        emit_group(e, group_start, g);
    keep_leaf_if_empty(e, s);
    emit_markers(e, s);
    return e->n;
}

int pp_merge_stack(const pp_raw_sample *s, const pp_runtime *rt, pp_plumbing_fn is_plumbing, void *ctx,
                   pp_frame_ref *out)
{
    return pp_merge_stack_depth(s, PP_DEPTH_MAX, rt, is_plumbing, ctx, out);
}

/* Not reentrant-light on the stack: three int arrays of PP_DEPTH_MAX (48 KiB);
 * the drain thread's stack has room. */
int pp_merge_stack_depth(const pp_raw_sample *s, uint32_t depth, const pp_runtime *rt, pp_plumbing_fn is_plumbing,
                         void *ctx, pp_frame_ref *out)
{
    emitter e = {out, 0, (int)(depth > PP_DEPTH_MAX ? PP_DEPTH_MAX : depth), 0, s->interp};
    int group_start[PP_DEPTH_MAX + 1];
    int n_groups = split_groups(s, group_start);
    int n_native = s->n_native > PP_DEPTH_MAX ? PP_DEPTH_MAX : (int)s->n_native;

    int eval_pos[PP_DEPTH_MAX];
    int n_eval = 0;
    if (rt && n_groups)
        for (int j = 0; j < n_native; j++)
            if (is_eval_frame(rt, s->native[j]))
                eval_pos[n_eval++] = j;

    if (n_groups == 0 || n_eval == 0) {
        /* Nothing to splice: a thread with no interpreter frames, native
         * capture off, or an unwind that never reached the eval loop. */
        return emit_unspliced(&e, s, group_start, n_groups, is_plumbing, ctx);
    }

    /* Pair eval frames with groups. A complete unwind is aligned at the root,
     * which is stable: the leaf is where a call may be half set up (an eval
     * frame entered before its first interpreter frame exists). A cut-short
     * unwind is aligned at the leaf, and the groups it never reached go to
     * the root end. */
    /* A truncated interpreter capture lost its root-side groups: pair from
     * the leaf then too. */
    /* pair_from_leaf: the runtime trusts no native frame rootward of the
     * leafmost eval frame, so the sample is paired as if cut short there. */
    int complete = (s->flags & PP_SAMPLE_NATIVE_COMPLETE) && !(s->flags & PP_SAMPLE_INTERP_TRUNCATED) &&
                   !rt->pair_from_leaf;
    int offset = complete ? n_eval - n_groups : 0;
    int pair[PP_DEPTH_MAX];
    int first_paired = -1, last_paired = -1;
    for (int k = 0; k < n_eval; k++) {
        int g = k - offset;
        pair[k] = (g >= 0 && g < n_groups) ? g : -1;
        if (pair[k] >= 0) {
            if (first_paired < 0)
                first_paired = k;
            last_paired = k;
        }
    }
    int leaf_unpaired = (complete && offset < 0) ? -offset : 0;
    int root_unpaired_from = complete ? n_groups : (n_eval < n_groups ? n_eval : n_groups);
    if (first_paired < 0) {
        return emit_unspliced(&e, s, group_start, n_groups, is_plumbing, ctx);
    }
    int leafmost = eval_pos[first_paired], rootmost = eval_pos[last_paired];

    int k = 0;
    for (int j = 0; j < n_native; j++) {
        while (k < n_eval && eval_pos[k] < j)
            k++;
        int is_eval = k < n_eval && eval_pos[k] == j;
        int plumbing = !is_eval && is_plumbing && is_plumbing(ctx, s->native[j], j == 0);
        if (j < leafmost) {
            /* An eval frame with no interpreter frames of its own (a call
             * being set up) says nothing; other natives here are the leaf's. */
            if (!plumbing && !is_eval)
                emit(&e, PP_REF_NATIVE, (uint32_t)j);
        } else if (is_eval) {
            if (k == first_paired)
                for (int g = 0; g < leaf_unpaired; g++)
                    emit_group(&e, group_start, g);
            if (pair[k] >= 0)
                emit_group(&e, group_start, pair[k]);
        } else if (j > rootmost) {
            /* Above the rootmost interpreter frame: process and thread entry
             * plumbing (_start, Py_BytesMain, start_thread, ...). Keep it only
             * when the unwind was cut short and more groups follow. */
            if (!complete && root_unpaired_from < n_groups && !plumbing)
                emit(&e, PP_REF_NATIVE, (uint32_t)j);
        } else if (!plumbing) {
            emit(&e, PP_REF_NATIVE, (uint32_t)j);
        }
    }
    for (int g = root_unpaired_from; g < n_groups; g++)
        emit_group(&e, group_start, g);
    /* Dropped natives past the splice cannot make the stack truncated. */
    uint32_t flags = s->flags;
    if (rt->pair_from_leaf)
        flags &= ~(uint32_t)PP_SAMPLE_NATIVE_TRUNCATED;
    keep_leaf_if_empty(&e, s);
    emit_markers_for(&e, flags, s->n_interp);
    return e.n;
}
