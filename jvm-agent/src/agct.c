/* AsyncGetCallTrace (AGCT), HotSpot's signal-safe stack walker, exported by
 * libjvm but declared nowhere: the declarations below follow its use by
 * profilers since JDK 6. It needs the interrupted thread's JNIEnv (kept per
 * thread from its ThreadStart, else found through JavaVM::GetEnv, a
 * thread-local read), jmethodIDs for every method
 * it may meet (materialized by methods.c on ClassPrepare) and ClassLoad
 * events enabled (without them it returns ticks_no_class_load). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* REG_RIP, REG_RSP */
#endif
#include "agct.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>

#include "agent.h"
#include "anchor.h"
#include "codeheap.h"
#include "compiled.h"
#include "stubs.h"

typedef struct {
    jint lineno; /* bci for Java frames, -3 for native methods */
    jmethodID method_id;
} ASGCT_CallFrame;

typedef struct {
    JNIEnv *env_id;
    jint num_frames;
    ASGCT_CallFrame *frames;
} ASGCT_CallTrace;

typedef void (*agct_fn)(ASGCT_CallTrace *, jint, void *);

static agct_fn agct;

/* Indexed by -num_frames; 0 is a frame without a jmethodID. */
#define N_ERRORS 11
static const char *const error_names[N_ERRORS] = {
    "[no_method_id]",      "[no_class_load]", "[gc_active]",      "[unknown_not_Java]",
    "[not_walkable_not_Java]", "[unknown_Java]", "[not_walkable_Java]", "[unknown_state]",
    "[thread_exit]",       "[deopt]",         "[safepoint]",
};
static _Atomic uint64_t error_counts[N_ERRORS];
/* Samples in a stub AGCT fails on: walked from its caller, or not. */
static _Atomic uint64_t stub_recovered, stub_unrecovered;
/* Samples in a compiled method's frame setup or tear-down, likewise. */
static _Atomic uint64_t compiled_recovered, compiled_unrecovered;
/* Samples in the VM called from a runtime stub, likewise. */
static _Atomic uint64_t anchor_recovered, anchor_unrecovered;
/* Samples in native code called from JIT code without a frame anchor (a
 * compiled method's leaf call into libjvm or libm, such as SharedRuntime::
 * drem and fmod), likewise. */
static _Atomic uint64_t native_call_recovered, native_call_unrecovered;

/* The frame anchor as it was while a walk runs with it changed, so that a
 * walk the fault guard cuts short still leaves it as HotSpot set it
 * (ppj_agct_capture_fault). One per thread: each thread changes only its
 * own anchor, in its own signal handler. */
typedef struct {
    volatile uintptr_t *sp_slot, *pc_slot, *fp_slot; /* NULL: nothing to put back */
    uintptr_t sp, pc, fp;
} anchor_patch;
static __thread anchor_patch patch __attribute__((tls_model("initial-exec")));

/* Async-signal-safe. */
static void anchor_restore(void)
{
    if (patch.pc_slot)
        *patch.pc_slot = patch.pc;
    if (patch.sp_slot)
        *patch.sp_slot = patch.sp;
    if (patch.fp_slot)
        *patch.fp_slot = patch.fp;
    patch.sp_slot = patch.pc_slot = patch.fp_slot = NULL;
}

void ppj_agct_capture_fault(void *ctx)
{
    (void)ctx;
    anchor_restore();
}

/* The thread's JNIEnv, kept from its ThreadStart (or VMInit) to its
 * ThreadEnd: JavaVM::GetEnv on every sample costs HotSpot's thread-local
 * lookup (__tls_get_addr) and the JNI entry's checks, each a cache miss or
 * more at 100 Hz. The JNIEnv lives inside the JavaThread, and HotSpot posts
 * ThreadEnd, on the ending thread itself, for every thread it posted
 * ThreadStart for (attached threads too, at DetachCurrentThread) before that
 * JavaThread is freed; only while the VM dies are threads freed without it,
 * so VMDeath stops every kept env from being used. A thread without one
 * (started before the agent, or hidden from JVMTI, as compiler threads are)
 * asks GetEnv as before. */
static __thread JNIEnv *kept_env __attribute__((tls_model("initial-exec")));
static atomic_int envs_kept_valid;

void ppj_agct_keep_thread_env(JNIEnv *env) { kept_env = env; }

void ppj_agct_forget_thread_envs(void) { atomic_store(&envs_kept_valid, 0); }

/* Async-signal-safe: a thread-local, or GetEnv (a thread-local read in
 * HotSpot). NULL on a thread that is not a Java thread. */
static JNIEnv *thread_env(void)
{
    JNIEnv *env = kept_env;
    if (env && atomic_load_explicit(&envs_kept_valid, memory_order_relaxed))
        return env;
    env = NULL;
    if ((*ppj.vm)->GetEnv(ppj.vm, (void **)&env, JNI_VERSION_1_6) != JNI_OK)
        return NULL;
    return env;
}

/* The stub this thread's last sample in a stub was in, when AGCT failed
 * there and the walk from the stub's caller worked: a thread in a stub is
 * often still (or again) in it at its next sample (a math or array-copy
 * intrinsic in a loop), and AGCT fails at every pc of most stubs (it finds
 * no frame it can trust there), so the next sample in that stub is walked
 * from its caller at once rather than after a failed walk. A sample whose
 * walk from the caller fails is walked as any other. One per thread, only
 * touched by its own signal handler. */
typedef struct {
    uintptr_t start, end;
    int index;
} failing_stub;
static __thread failing_stub last_failing_stub __attribute__((tls_model("initial-exec")));

/* Frames naming a stub (stubs.h): past every other check value. */
#define STUB_CHECK_BASE 0x10000

int ppj_agct_init(char *err, size_t errlen)
{
    agct = (agct_fn)dlsym(RTLD_DEFAULT, "AsyncGetCallTrace");
    if (!agct) {
        snprintf(err, errlen, "AsyncGetCallTrace not found in the JVM (HotSpot is required for event=cpu/wall)");
        return -1;
    }
    atomic_store(&envs_kept_valid, 1);
    return 0;
}

/* Past AGCT's codes, so no failure count is kept for it. */
#define TRUNCATED_CHECK 1000

pp_raw_frame ppj_truncated_frame(void) { return (pp_raw_frame){0, TRUNCATED_CHECK, 0, 0}; }

const char *ppj_agct_error_name(const pp_raw_frame *f)
{
    if (f->code != 0)
        return NULL;
    if (f->check == TRUNCATED_CHECK)
        return "[truncated]";
    if (f->check >= STUB_CHECK_BASE) {
        const char *name = ppj_stubs_name((int)(f->check - STUB_CHECK_BASE));
        return name ? name : "[stub]";
    }
    return f->check < N_ERRORS ? error_names[f->check] : "[unknown_agct_error]";
}

/* Async-signal-safe (as the capture below). AGCT's 16-byte frames land at
 * the start of `frames`; returns its frame count or failure code. */
static int walk(JNIEnv *env, void *ucontext, pp_raw_frame *frames, int max)
{
    ASGCT_CallTrace trace;
    trace.env_id = env;
    trace.num_frames = 0;
    trace.frames = (ASGCT_CallFrame *)(void *)frames;
    agct(&trace, max, ucontext);
    int n = trace.num_frames;
    uintptr_t sp, *pc_slot;
    if (n == -3 /* ticks_unknown_not_Java */ && ppj_anchor_get(env, &sp, &pc_slot) == 0) {
        if (!sp)
            return 0; /* no Java frame at all: a VM thread (compiler, service), native frames only */
        if (!*(volatile uintptr_t *)pc_slot) {
            /* Called into the VM from compiled code, anchor not made walkable
             * yet: do what HotSpot's make_walkable does on x86-64 (the return
             * address sits just below the last Java sp), ask again, and put
             * the anchor back as it was. The thread is this one, stopped in
             * its own signal handler. */
            uintptr_t ret = ((uintptr_t *)sp)[-1];
            patch = (anchor_patch){NULL, pc_slot, NULL, 0, 0, 0};
            *(volatile uintptr_t *)pc_slot = ret;
            trace.num_frames = 0;
            agct(&trace, max, ucontext);
            anchor_restore();
            n = trace.num_frames;
        }
    }
    return n;
}

#if defined(__x86_64__)
/* Asks AGCT again as if the code at the interrupted pc had already returned
 * to its caller: the return address is at ret_sp, and fp (when not 0) is
 * the caller's frame pointer. Async-signal-safe: the context is copied on
 * this stack, the stack read is under the core's fault guard. */
static int walk_from_caller(JNIEnv *env, const ucontext_t *uc, uintptr_t ret_sp, uintptr_t fp, pp_raw_frame *frames,
                            int max)
{
    /* Java code is called from Java code (compiled, or the interpreter and
     * the call stub, both stubs): anything else means the guess of where
     * the return address is was wrong; AGCT is not asked to walk from it. */
    uintptr_t ret = *(volatile uintptr_t *)ret_sp;
    if (ppj_stubs_find(ret) < 0 && !ppj_compiled_find(ret))
        return -5; /* ticks_unknown_Java, as the first walk said */
    ucontext_t caller = *uc;
    caller.uc_mcontext.gregs[REG_RIP] = (greg_t)ret;
    caller.uc_mcontext.gregs[REG_RSP] = (greg_t)(ret_sp + sizeof(uintptr_t));
    if (fp)
        caller.uc_mcontext.gregs[REG_RBP] = (greg_t)fp;
    return walk(env, &caller, frames, max);
}

static int bytes_are(const unsigned char *ip, const char *pattern, size_t n) { return !memcmp(ip, pattern, n); }

/* Where the return address is while the pc is in a compiled method's
 * frame setup or tear-down, the two places AGCT refuses (the frame is not
 * complete, or no longer is). HotSpot's x86-64 compilers build a frame one
 * of two ways: stack bang, push rbp, sub rsp,N; or sub rsp,N, then
 * mov [rsp+N-8],rbp. They tear it down with add rsp,N; pop rbp; a return
 * poll (cmp rsp,[r15+..]; ja ..); ret. Read from the instruction bytes
 * around the pc; 0 when the pc is in the method's body. *fp gets the
 * caller's frame pointer when rbp no longer holds it. Async-signal-safe,
 * reads under the fault guard. */
static uintptr_t frame_edge_return_slot(const unsigned char *ip, uintptr_t sp, uintptr_t *fp)
{
    *fp = 0;
    /* The inline cache check before the frame (JDK 17: mov r10d,[rsi+8],
     * cmp with the expected class; JDK 21+: mov r10d,[rsi+8], cmp
     * r10d,[rax+8], jne). */
    static const char ic_load[] = "\x44\x8b\x56\x08";
    if (bytes_are(ip, ic_load, 4) || bytes_are(ip - 4, ic_load, 4) ||
        (bytes_are(ip - 8, ic_load, 4) && bytes_are(ip - 4, "\x44\x3b\x50\x08", 4)))
        return sp;
    if (ip[0] == 0xc3 /* ret */ || ip[0] == 0x55 /* push rbp */ ||
        bytes_are(ip, "\x89\x84\x24", 3) /* mov [rsp-bang],eax */)
        return sp;
    int sub_rsp = bytes_are(ip, "\x48\x83\xec", 3) || bytes_are(ip, "\x48\x81\xec", 3);
    if (sub_rsp)
        return ip[-1] == 0x55 ? sp + 8 : sp; /* after push rbp, or the frame's first step */
    if (bytes_are(ip, "\x48\x89\x6c\x24", 4)) /* mov [rsp+d8],rbp: the frame is allocated */
        return sp + ip[4] + 8;
    if (ip[0] == 0x5d) { /* pop rbp: the caller's rbp is at the top */
        *fp = *(volatile uintptr_t *)sp;
        return sp + 8;
    }
    /* Past pop rbp: the return poll (cmp rsp,[r15+disp8 or disp32]), or
     * its conditional jump. */
    if (ip[-1] == 0x5d && (bytes_are(ip, "\x49\x3b\x67", 3) || bytes_are(ip, "\x49\x3b\xa7", 3)))
        return sp;
    if (bytes_are(ip, "\x0f\x87", 2) && ((ip[-5] == 0x5d && bytes_are(ip - 4, "\x49\x3b\x67", 3)) ||
                                          (ip[-8] == 0x5d && bytes_are(ip - 7, "\x49\x3b\xa7", 3))))
        return sp;
    return 0;
}

/* A stub that builds a frame the C way (push rbp; mov rbp,rsp: the
 * compilers' runtime stubs, such as the G1 barrier and subtype check slow
 * paths) has its return address above the saved rbp once the frame is
 * built, and at the top of the stack before and after. 0 for a stub built
 * otherwise. Async-signal-safe, reads under the fault guard. */
static int builds_rbp_frame(const unsigned char *entry)
{
    return entry[0] == 0x55 && (bytes_are(entry + 1, "\x48\x8b\xec", 3) || bytes_are(entry + 1, "\x48\x89\xe5", 3));
}

static uintptr_t rbp_stub_return_slot(const unsigned char *entry, const unsigned char *ip, const ucontext_t *uc,
                                      uintptr_t *fp)
{
    uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    uintptr_t rbp = (uintptr_t)uc->uc_mcontext.gregs[REG_RBP];
    *fp = 0;
    if (!builds_rbp_frame(entry))
        return 0;
    if (ip == entry || ip[0] == 0xc3 /* ret, after leave */)
        return sp;
    if (ip == entry + 1 || ip[0] == 0x5d /* pop rbp */) {
        *fp = *(volatile uintptr_t *)sp;
        return sp + 8;
    }
    *fp = *(volatile uintptr_t *)rbp;
    return rbp + 8;
}

/* AGCT failed on a thread interrupted in native code that generated code
 * called without making its frame anchor walkable (a compiled method's leaf
 * call: SharedRuntime::drem, then libm's fmod, for a double %): HotSpot
 * sees a thread in Java with its pc outside the code cache. The native
 * walk stopped at the first frame in the code cache and knows its
 * registers: AGCT walks from there. The native frames stay in the sample
 * as the leaf. Async-signal-safe. */
static int walk_from_native_stop(JNIEnv *env, const ucontext_t *uc, const pp_native_stack *native, int failure,
                                 pp_raw_frame *frames, int max)
{
    /* One frame: the pc itself is in generated code (the walk's stop). */
    if (!native || native->n < 2 || !native->stop_sp)
        return failure;
    uintptr_t pc = native->pc[native->n - 1], fp = native->fp[native->n - 1];
    int n = failure;
    if (ppj_stubs_find(pc) >= 0 || ppj_compiled_find(pc)) {
        ucontext_t from = *uc;
        from.uc_mcontext.gregs[REG_RIP] = (greg_t)pc;
        from.uc_mcontext.gregs[REG_RSP] = (greg_t)native->stop_sp;
        if (fp)
            from.uc_mcontext.gregs[REG_RBP] = (greg_t)fp;
        n = walk(env, &from, frames, max);
    }
    atomic_fetch_add_explicit(n > 0 ? &native_call_recovered : &native_call_unrecovered, 1, memory_order_relaxed);
    return n;
}

/* A sample in a native leaf call from JIT code, known before AGCT is asked:
 * the thread has no frame anchor (it runs Java code, or native code that
 * code called without a transition: a thread in the VM or in a JNI method
 * has one), and the native walk went from a pc outside generated code to a
 * frame in it. AGCT walks from that frame at once, rather than after it
 * failed on the interrupted pc (~3 us a sample where such calls are hot,
 * as fmod under a double % on JDK 17). Its frame count, or 0 when this is
 * no such sample or the walk fails: the sample is then walked as any
 * other, and *native becomes NULL once it was tried, so that the recovery
 * does not try it again. Async-signal-safe, reads under the fault guard. */
static int walk_leaf_call_at_once(JNIEnv *env, const ucontext_t *uc, const pp_native_stack **native,
                                  pp_raw_frame *frames, int max)
{
    uintptr_t anchor_sp, *pc_slot;
    const pp_native_stack *walked = *native;
    if (!walked || walked->n < 2 || !walked->stop_sp || ppj_anchor_get(env, &anchor_sp, &pc_slot) != 0 || anchor_sp)
        return 0;
    *native = NULL;
    int n = walk_from_native_stop(env, uc, walked, 0, frames, max);
    return n > 0 ? n : 0;
}

/* The walk from the caller of a sample in stub (see recover): its answer,
 * or failure when the return address cannot be found. *lead is the stub's
 * frame. Async-signal-safe. */
static int recover_stub(JNIEnv *env, const ucontext_t *uc, int stub, int failure, pp_raw_frame *frames, int max,
                        pp_raw_frame *lead)
{
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    *lead = (pp_raw_frame){0, STUB_CHECK_BASE + (uintptr_t)stub, 0, 0};
    uintptr_t fp = 0, ret_sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    if (!ppj_stubs_frameless(stub))
        ret_sp = rbp_stub_return_slot((const unsigned char *)ppj_stubs_start(stub), (const unsigned char *)pc, uc, &fp);
    return ret_sp ? walk_from_caller(env, uc, ret_sp, fp, frames, max) : failure;
}

/* AGCT failed with the pc in generated code. Two cases it cannot walk and
 * this can: a frameless dispatch stub (vtable/itable: the caller's return
 * address is at the top of the stack), and a compiled method's frame setup
 * or tear-down. The code at the pc becomes frames[0] (*lead = the stub's or
 * the method's frame) and the walk restarts from its caller into
 * frames[1...]. With the pc in native code, the walk restarts where the
 * native walk reached generated code (walk_from_native_stop). Returns
 * AGCT's answer, or the first failure when no case applies.
 * Async-signal-safe. */
static int recover(JNIEnv *env, const ucontext_t *uc, const pp_native_stack *native, int failure, pp_raw_frame *frames,
                   int max, pp_raw_frame *lead)
{
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    int stub = ppj_stubs_find(pc);
    if (stub >= 0) {
        int n = recover_stub(env, uc, stub, failure, frames, max, lead);
        atomic_fetch_add_explicit(n > 0 ? &stub_recovered : &stub_unrecovered, 1, memory_order_relaxed);
        /* Not the interpreter, where AGCT walks from most pcs. */
        if (n > 0 && strcmp(ppj_stubs_name(stub), "Interpreter") != 0)
            last_failing_stub = (failing_stub){ppj_stubs_start(stub), ppj_stubs_end(stub), stub};
        return n;
    }
    jmethodID m = ppj_compiled_find(pc);
    if (!m)
        return walk_from_native_stop(env, uc, native, failure, frames, max);
    /* bci 0: the method's first line, where its frame is built. */
    *lead = (pp_raw_frame){(uintptr_t)m, *(volatile uintptr_t *)(void *)m, 0, 0};
    uintptr_t fp, ret_sp = frame_edge_return_slot((const unsigned char *)pc, sp, &fp);
    int n = ret_sp ? walk_from_caller(env, uc, ret_sp, fp, frames, max) : failure;
    atomic_fetch_add_explicit(n > 0 ? &compiled_recovered : &compiled_unrecovered, 1, memory_order_relaxed);
    return n;
}

/* The walk from the caller, at once, of a sample in the stub where this
 * thread's last stub sample needed it (last_failing_stub): its frame count
 * (> 0) with *lead the stub's frame, or 0 with *lead cleared, and the
 * sample is walked as any other. Async-signal-safe, reads under the fault
 * guard. */
static int walk_from_failing_stub(JNIEnv *env, const ucontext_t *uc, pp_raw_frame *frames, int max,
                                  pp_raw_frame *lead)
{
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    failing_stub fs = last_failing_stub;
    if (pc - fs.start >= fs.end - fs.start)
        return 0;
    int n = recover_stub(env, uc, fs.index, 0, frames, max, lead);
    if (n > 0) {
        atomic_fetch_add_explicit(&stub_recovered, 1, memory_order_relaxed);
        return n;
    }
    last_failing_stub = (failing_stub){0, 0, 0};
    *lead = (pp_raw_frame){0, 0, 0, 0};
    return 0;
}

/* AGCT failed on a thread in the VM whose last Java frame is a compiler's
 * runtime stub (C1's counter_overflow, exception lookups): HotSpot marks
 * those frames never walkable, though they are plain rbp frames. The stub
 * becomes frames[0] (*lead) and the anchor is pointed at the stub's caller
 * while AGCT walks, then put back as it was (also when the walk faults:
 * ppj_agct_capture_fault): the thread is this one, stopped in its own
 * signal handler, and in the VM, so no safepoint operation reads its
 * anchor meanwhile (the first walk's fix of a missing pc does the same). Async-signal-safe, reads under the fault guard. */
static int recover_from_anchor(JNIEnv *env, void *uc, int failure, pp_raw_frame *frames, int max, pp_raw_frame *lead)
{
    uintptr_t *sp_slot, *pc_slot, *fp_slot;
    if (ppj_anchor_slots(env, &sp_slot, &pc_slot, &fp_slot) != 0)
        return failure;
    volatile uintptr_t *sp_v = sp_slot, *pc_v = pc_slot, *fp_v = fp_slot;
    uintptr_t sp = *sp_v, pc = *pc_v, fp = *fp_v;
    int stub = sp && pc && fp ? ppj_stubs_find(pc) : -1;
    if (stub < 0)
        return failure;
    *lead = (pp_raw_frame){0, STUB_CHECK_BASE + (uintptr_t)stub, 0, 0};
    uintptr_t ret = ((volatile uintptr_t *)fp)[1], caller_fp = ((volatile uintptr_t *)fp)[0];
    if (!builds_rbp_frame((const unsigned char *)ppj_stubs_start(stub)) ||
        (ppj_stubs_find(ret) < 0 && !ppj_compiled_find(ret))) {
        atomic_fetch_add_explicit(&anchor_unrecovered, 1, memory_order_relaxed);
        return failure;
    }
    patch = (anchor_patch){sp_v, pc_v, fp_v, sp, pc, fp};
    *sp_v = fp + 2 * sizeof(uintptr_t);
    *pc_v = ret;
    *fp_v = caller_fp;
    int n = walk(env, uc, frames, max);
    anchor_restore();
    atomic_fetch_add_explicit(n > 0 ? &anchor_recovered : &anchor_unrecovered, 1, memory_order_relaxed);
    return n;
}
#endif

/* A thread without Java frames interrupted in a stub (a compiler thread
 * in flush_icache_stub after it installed code): the native walk stops at
 * the stub, so its name is the sample's one frame rather than an anonymous
 * address. 0 frames when the pc is in no stub. Async-signal-safe. */
static int stub_at_pc(const void *ucontext, pp_raw_frame *frames)
{
#if defined(__x86_64__)
    int stub = ppj_stubs_find((uintptr_t)((const ucontext_t *)ucontext)->uc_mcontext.gregs[REG_RIP]);
#else
    int stub = -1;
    (void)ucontext;
#endif
    if (stub < 0)
        return 0;
    pp_raw_frame f = {0, STUB_CHECK_BASE + (uintptr_t)stub, 0, 0};
    memcpy(&frames[0], &f, sizeof f);
    return 1;
}

/* Async-signal-safe: thread_env is a thread-local read, AGCT is written for
 * signal handlers, the rest is plain memory. Runs inside the core's fault
 * guard, so the read of a method id's slot cannot crash.
 * native: the sample's native walk, NULL when there was none. */
static int capture(void *ucontext, const pp_native_stack *native, pp_raw_frame *frames, int max, uint32_t *flags)
{
    JNIEnv *env = thread_env();
    if (!env)
        return stub_at_pc(ucontext, frames); /* not a Java thread (GC workers, the VM thread): native frames only */
    /* AGCT writes its 16-byte frames into the ring slot's own frame array
     * (24 bytes a frame), so no stack buffer is needed; the frames are then
     * widened in place from the last, which never overwrites a frame not yet
     * read (frame i lands at byte 24(i + lead), at or past where frame i
     * was, for lead 0 or 1). */
    int n;
    int lead = 0; /* 1: frames[0] is lead_frame, the code the thread was in */
    pp_raw_frame lead_frame = {0, 0, 0, 0};
#if defined(__x86_64__)
    if (max > 1 && (n = walk_from_failing_stub(env, ucontext, frames, max - 1, &lead_frame)) > 0) {
        lead = 1;
    } else if ((n = walk_leaf_call_at_once(env, ucontext, &native, frames, max)) > 0) {
        /* the Java frames under the native leaf */
    } else if (((n = walk(env, ucontext, frames, max)) == -5 /* ticks_unknown_Java */ ||
                n == -6 /* ticks_not_walkable_Java */) &&
               max > 1) {
        n = recover(env, ucontext, native, n, frames, max - 1, &lead_frame);
        lead = lead_frame.code || lead_frame.check;
    } else if (n == -4 /* ticks_not_walkable_not_Java */ && max > 1) {
        n = recover_from_anchor(env, ucontext, n, frames, max - 1, &lead_frame);
        lead = lead_frame.code || lead_frame.check;
    }
#else
    n = walk(env, ucontext, frames, max);
#endif
    if (n == 0 && !lead)
        return stub_at_pc(ucontext, frames); /* a Java thread with no Java frame yet (or a compiler thread) */
    if (n == 0) {
        /* The code at the pc was called from the VM (the launcher's call
         * of main, a JNI call): it is the whole Java stack. */
        memcpy(&frames[0], &lead_frame, sizeof lead_frame);
        return 1;
    }
    if (n <= 0) {
        uint32_t code = (uint32_t)-n;
        if (code < N_ERRORS)
            atomic_fetch_add_explicit(&error_counts[code], 1, memory_order_relaxed);
        pp_raw_frame f = {0, code, 0, 0};
        if (lead)
            memcpy(&frames[0], &lead_frame, sizeof lead_frame);
        memcpy(&frames[lead], &f, sizeof f);
        return lead + 1;
    }
    if (n > max - lead)
        n = max - lead;
    if (n == max - lead)
        *flags |= PP_CAPTURE_TRUNCATED;
    for (int i = n - 1; i >= 0; i--) {
        ASGCT_CallFrame cf;
        memcpy(&cf, (char *)frames + (size_t)i * sizeof cf, sizeof cf);
        pp_raw_frame f;
        f.code = (uintptr_t)cf.method_id;
        /* A jmethodID points at a slot holding the Method*; the slot is
         * reused when a class is unloaded, so the Method* tells the two
         * apart. */
        f.check = cf.method_id ? *(volatile uintptr_t *)(void *)cf.method_id : 0;
        f.offset = (uint32_t)cf.lineno;
        f.flags = 0;
        if (!cf.method_id)
            atomic_fetch_add_explicit(&error_counts[0], 1, memory_order_relaxed);
        memcpy(&frames[i + lead], &f, sizeof f);
    }
    if (lead)
        memcpy(&frames[0], &lead_frame, sizeof lead_frame);
    return n + lead;
}

int ppj_agct_capture(void *ctx, void *ucontext, pp_raw_frame *frames, int max, uint32_t *flags)
{
    (void)ctx;
    return capture(ucontext, NULL, frames, max, flags);
}

int ppj_agct_capture_native(void *ctx, void *ucontext, const pp_native_stack *native, pp_raw_frame *frames, int max,
                            uint32_t *flags)
{
    (void)ctx;
    return capture(ucontext, native, frames, max, flags);
}

void ppj_agct_add_metadata(pp_profile *p)
{
    /* Where the compiled methods named by the edge recovery came from. */
    pp_profile_add_metadata(p, ppj_codeheap_ready() ? "compiled_methods=code_heap" : "compiled_methods=jvmti_events");
    for (int i = 0; i < N_ERRORS; i++) {
        uint64_t n = atomic_load(&error_counts[i]);
        if (!n)
            continue;
        char name[48], line[96];
        snprintf(name, sizeof name, "%s", error_names[i] + 1);
        name[strlen(name) - 1] = '\0';
        snprintf(line, sizeof line, "agct_%s=%llu", name, (unsigned long long)n);
        pp_profile_add_metadata(p, line);
    }
    struct {
        const char *key;
        _Atomic uint64_t *count;
    } recovery[] = {{"agct_recovered_stub", &stub_recovered},
                    {"agct_unrecovered_stub", &stub_unrecovered},
                    {"agct_recovered_compiled", &compiled_recovered},
                    {"agct_unrecovered_compiled", &compiled_unrecovered},
                    {"agct_recovered_vm_call", &anchor_recovered},
                    {"agct_unrecovered_vm_call", &anchor_unrecovered},
                    {"agct_recovered_native_call", &native_call_recovered},
                    {"agct_unrecovered_native_call", &native_call_unrecovered}};
    for (size_t i = 0; i < sizeof recovery / sizeof recovery[0]; i++) {
        char line[96];
        snprintf(line, sizeof line, "%s=%llu", recovery[i].key, (unsigned long long)atomic_load(recovery[i].count));
        pp_profile_add_metadata(p, line);
    }
}
