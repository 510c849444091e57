/* Mixed-mode merge: eval-loop frames are replaced by the interpreter frames
 * they ran; plumbing is dropped; natives under the leaf Python frame stay. */
#include <string.h>

#include "check.h"
#include "merge.h"

/* Address plan: eval loop at 0x1000-0x2000, the interpreter's library
 * 0x1000-0x9000 (plumbing at 0x3000-0x4000 by "name"), others elsewhere. */
static const pp_runtime *make_runtime(void)
{
    static pp_runtime rt;
    memset(&rt, 0, sizeof rt);
    rt.eval[0] = (pp_addr_range){0x1000, 0x2000};
    rt.n_eval = 1;
    return &rt;
}

static int plumbing(void *ctx, uintptr_t pc, int leaf)
{
    (void)ctx;
    uintptr_t a = leaf ? pc : pc - 1;
    return a >= 0x3000 && a < 0x4000;
}

static int classify_v8(void *ctx, uintptr_t pc)
{
    (void)ctx;
    if (pc >= 0xa000 && pc < 0xb000)
        return PP_NATIVE_EVAL;
    if (pc >= 0xb000 && pc < 0xc000)
        return PP_NATIVE_PLUMBING;
    if (pc >= 0x3000 && pc < 0x4000)
        return PP_NATIVE_KEEP;
    return PP_NATIVE_UNKNOWN;
}

/* As the sampler does: classify_native first, then the ranges. */
static int plumbing_v8(void *ctx, uintptr_t pc, int leaf)
{
    int kind = classify_v8(ctx, pc);
    if (kind != PP_NATIVE_UNKNOWN)
        return kind == PP_NATIVE_PLUMBING;
    return plumbing(ctx, pc, leaf);
}

/* Renders refs as "N<index>" / "I<index>" / "S<index>" joined by spaces. */
static const char *render(const pp_frame_ref *r, int n)
{
    static char buf[1024];
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        char item[16];
        snprintf(item, sizeof item, "%s%c%u", i ? " " : "", r[i].kind == PP_REF_NATIVE   ? 'N'
                                                          : r[i].kind == PP_REF_INTERP ? 'I'
                                                                                       : 'S',
                 r[i].index);
        strcat(buf, item);
    }
    return buf;
}

static uintptr_t sample_native[PP_DEPTH_MAX];
static pp_raw_frame sample_interp[PP_DEPTH_MAX];
static pp_raw_sample sample;

static void set_native(const uintptr_t *pcs, int n, uint32_t flags)
{
    memset(&sample, 0, sizeof sample);
    memset(sample_interp, 0, sizeof sample_interp);
    sample.native = sample_native;
    sample.interp = sample_interp;
    for (int i = 0; i < n; i++)
        sample.native[i] = pcs[i];
    sample.n_native = (uint32_t)n;
    sample.flags = flags;
}

static void set_interp(int n, const uint32_t *flags)
{
    for (int i = 0; i < n; i++) {
        sample.interp[i].code = 0x100 + (uintptr_t)i;
        sample.interp[i].flags = flags[i];
    }
    sample.n_interp = (uint32_t)n;
}

int main(void)
{
    const pp_runtime *rt = make_runtime();
    pp_frame_ref out[PP_MERGED_MAX];
    int n;

    /* Python <= 3.10 shape: leaf natives (deflate 0x7000, zlib_compress 0x6000),
     * plumbing 0x3500, eval, plumbing, eval, entry plumbing 0x5000, _start 0x8000.
     * Two Python frames, each its own invocation. */
    {
        uintptr_t pcs[] = {0x7000, 0x6001, 0x3501, 0x1101, 0x3501, 0x1201, 0x5001, 0x8001};
        uint32_t fl[] = {PP_RAW_ENTRY, PP_RAW_ENTRY};
        set_native(pcs, 8, PP_SAMPLE_NATIVE_COMPLETE);
        set_interp(2, fl);
        n = pp_merge_stack(&sample, rt, plumbing, NULL, out);
        CHECK_STR(render(out, n), "N0 N1 I0 I1");
    }
    /* 3.11+ shape: one eval invocation running three frames, entered from a
     * C extension (0x6000) called by a Python frame in an outer invocation. */
    {
        uintptr_t pcs[] = {0x1100, 0x6001, 0x3501, 0x1201, 0x5001};
        uint32_t fl[] = {0, 0, PP_RAW_ENTRY, PP_RAW_ENTRY};
        set_native(pcs, 5, PP_SAMPLE_NATIVE_COMPLETE);
        set_interp(4, fl);
        n = pp_merge_stack(&sample, rt, plumbing, NULL, out);
        CHECK_STR(render(out, n), "I0 I1 I2 N1 I3");
    }
    /* An eval frame entered whose first interpreter frame is not pushed yet:
     * root alignment pairs the outer frames, the extra leaf eval is dropped. */
    {
        uintptr_t pcs[] = {0x1100, 0x6001, 0x1201, 0x5001};
        uint32_t fl[] = {PP_RAW_ENTRY};
        set_native(pcs, 4, PP_SAMPLE_NATIVE_COMPLETE);
        set_interp(1, fl);
        n = pp_merge_stack(&sample, rt, plumbing, NULL, out);
        CHECK_STR(render(out, n), "N1 I0");
    }
    /* An unwind cut short before the outer eval frame: leaf alignment, the
     * unreached group goes to the root end. */
    {
        uintptr_t pcs[] = {0x7000, 0x1101, 0x6001};
        uint32_t fl[] = {PP_RAW_ENTRY, PP_RAW_ENTRY};
        set_native(pcs, 3, PP_SAMPLE_NATIVE_FAILED);
        set_interp(2, fl);
        n = pp_merge_stack(&sample, rt, plumbing, NULL, out);
        CHECK_STR(render(out, n), "N0 I0 N2 I1");
    }
    /* Python-only (no native frames) and native-only (no interpreter). */
    {
        uint32_t fl[] = {PP_RAW_ENTRY, PP_RAW_ENTRY};
        set_native(NULL, 0, 0);
        set_interp(2, fl);
        n = pp_merge_stack(&sample, rt, plumbing, NULL, out);
        CHECK_STR(render(out, n), "I0 I1");
        uintptr_t pcs[] = {0x7000, 0x6001};
        set_native(pcs, 2, PP_SAMPLE_NATIVE_COMPLETE);
        n = pp_merge_stack(&sample, rt, plumbing, NULL, out);
        CHECK_STR(render(out, n), "N0 N1");
    }
    /* Losses are named: truncation and a failed unwind with nothing else. */
    {
        uintptr_t pcs[] = {0x7000, 0x6001};
        set_native(pcs, 2, PP_SAMPLE_NATIVE_TRUNCATED);
        n = pp_merge_stack(&sample, rt, plumbing, NULL, out);
        CHECK_STR(render(out, n), "N0 N1 S0");
        set_native(pcs, 1, PP_SAMPLE_NATIVE_FAILED);
        n = pp_merge_stack(&sample, rt, plumbing, NULL, out);
        CHECK_STR(render(out, n), "N0 S1");
    }
    /* pair_from_leaf (the JVM): the native unwind went on past JIT code
     * (0x1100) through guessed frames (0x1801: more code cache, 0x6001,
     * 0x8001) to the root; the Java frames replace everything from the
     * leafmost code-cache frame, and the JNI/libz natives under them stay. */
    {
        static pp_runtime jvm;
        jvm = *rt;
        jvm.pair_from_leaf = 1;
        uintptr_t pcs[] = {0x7000, 0x6001, 0x1101, 0x6001, 0x1801, 0x8001};
        uint32_t fl[] = {0, 0, 0};
        set_native(pcs, 6, PP_SAMPLE_NATIVE_COMPLETE);
        set_interp(3, fl);
        n = pp_merge_stack(&sample, &jvm, plumbing, NULL, out);
        CHECK_STR(render(out, n), "N0 N1 I0 I1 I2");
        /* Natives cut short past the splice: no [truncated] marker. */
        set_native(pcs, 6, PP_SAMPLE_NATIVE_TRUNCATED);
        set_interp(3, fl);
        n = pp_merge_stack(&sample, &jvm, plumbing, NULL, out);
        CHECK_STR(render(out, n), "N0 N1 I0 I1 I2");
        /* The same complete sample without the flag pairs at the root. */
        set_native(pcs, 6, PP_SAMPLE_NATIVE_COMPLETE);
        set_interp(3, fl);
        n = pp_merge_stack(&sample, rt, plumbing, NULL, out);
        CHECK_STR(render(out, n), "N0 N1 N3 I0 I1 I2");
    }
    /* classify_native (V8): generated code has no fixed range. 0xa000 is a
     * JavaScript entry stub (eval), 0xb000 JIT code (plumbing), 0xc000 an
     * ordinary native frame the ranges would call plumbing (keep). Two
     * entries, groups marked by the bridge; an omitted frame disappears. */
    {
        static pp_runtime v8;
        memset(&v8, 0, sizeof v8);
        v8.classify_native = classify_v8;
        uintptr_t pcs[] = {0x7000, 0xb001, 0xa001, 0x3001, 0xb001, 0xa001, 0x8001};
        uint32_t fl[] = {PP_RAW_OMIT, 0, PP_RAW_ENTRY, 0, 0};
        set_native(pcs, 7, PP_SAMPLE_NATIVE_COMPLETE);
        set_interp(5, fl);
        n = pp_merge_stack(&sample, &v8, plumbing_v8, NULL, out);
        /* N0 (C code the leaf JavaScript called), the inner entry's frames
         * I1 I2 (I0 omitted), N3 between the entries, the outer's I3 I4. */
        CHECK_STR(render(out, n), "N0 I1 I2 N3 I3 I4");
        /* Without JavaScript frames the classification still holds, and
         * nothing is dropped (no interpreter frames to stand for it). */
        set_native(pcs, 7, PP_SAMPLE_NATIVE_COMPLETE);
        n = pp_merge_stack(&sample, &v8, plumbing_v8, NULL, out);
        CHECK_STR(render(out, n), "N0 N1 N2 N3 N4 N5 N6");
    }
    /* depth: a stack deeper than it keeps its leaf side and says it was
     * cut; one that fits is whole. */
    {
        uintptr_t pcs[] = {0x7000, 0x6001, 0x5001};
        uint32_t fl[10] = {0};
        set_native(pcs, 3, PP_SAMPLE_NATIVE_COMPLETE);
        set_interp(10, fl);
        n = pp_merge_stack_depth(&sample, 5, rt, plumbing, NULL, out);
        CHECK_STR(render(out, n), "N0 N1 N2 I0 I1 S0");
        n = pp_merge_stack_depth(&sample, 13, rt, plumbing, NULL, out);
        CHECK_STR(render(out, n), "N0 N1 N2 I0 I1 I2 I3 I4 I5 I6 I7 I8 I9");
    }
    TEST_MAIN_END();
}
