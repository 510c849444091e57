// Modes 'cpu' and 'wall': the core's signal-driven sampler with V8's
// JavaScript frames merged into the native stacks.
//
// In the core's signal handler, capture() asks V8 for the interrupted
// isolate's JavaScript stack (Isolate::GetStackSample with the signal's
// registers: V8's own sampler does the same from its SIGPROF handler) and
// records the raw code addresses. On the core's drain thread, js_code_map
// names them, and mark_entries / classify_native tell the core's merge where
// V8's frames go among the native ones libunwind found: each JavaScript
// entry (JSEntry stub) stands for the JavaScript frames it runs, V8's
// generated code and call glue are dropped, and C++ reached from JavaScript
// (node::crypto, zlib, the GC) stays where it was called.
//
// Isolates take part once this addon is loaded in them (the main thread, and
// each worker that requires polyprof); threads without a registered isolate
// (libuv's pool, V8's platform threads) are sampled with native frames only.
#include <signal.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "addon.h"
#include "js_code_map.h"
#include "raw_sample.h"
#include "signal_path.h"
#include "v8_frames.h"

namespace polyprof_node {

namespace {

constexpr int kMaxIsolates = 256;
constexpr int kMaxJsFrames = 4096;      // at least the core's deepest depth= (4096)
constexpr int kMaxNativeFrames = 4096;  // likewise
constexpr size_t kErrLen = 512;

using Range = CodeRange;

// One registered isolate. The signal handler finds its slot by thread id and
// reads `isolate` and `code_events` (atomics); everything else is read on
// the drain thread under g_slots_lock.
struct IsolateSlot {
  std::atomic<v8::Isolate*> isolate{nullptr};
  std::atomic<bool> code_events{false};  // JIT code events on: frames can be named
  std::atomic<int> tid{0};
  // The JavaScript frames are read off the native walk (v8_frames.h): set
  // once the interpreter's code is known, while code events are on.
  std::atomic<bool> frames_from_native{false};
  std::atomic<int> in_gc{0};  // between V8's GC prologue and epilogue callbacks
  Range entries[3];  // JSEntry, JSConstructEntry, JSRunMicrotasksEntry
  V8CodeLayout layout;
};

IsolateSlot g_slots[kMaxIsolates];
// Slots ever registered: the handler scans these only. A thread without an
// isolate (libuv's pool, V8's platform threads) would otherwise read all
// 256 slots, 24 KiB, on each of its samples. Only grows.
std::atomic<int> g_slots_used{0};
std::mutex g_slots_lock;
struct KnownThread {
  std::string name;      // "main", "worker 3"
  uint64_t exited_ns;    // 0 while the isolate lives
};
// Under g_slots_lock. A worker's samples are named after it exits too (they
// wait up to a drain period in the ring); its thread id may then be reused,
// so the name is forgotten a while later.
std::unordered_map<int, KnownThread> g_thread_names;
constexpr uint64_t kKeepExitedNameNs = 1000000000ULL;
bool g_runtime_set = false;                            // under g_slots_lock
bool g_js_frames_by_v8 = false;                        // likewise; POLYPROF_NODE_JS_FRAMES=v8
Range g_node_executable;                               // likewise; its embedded builtins included

// A code address no code has: stands for "V8 was collecting garbage".
constexpr uintptr_t kGarbageCollectorMarker = 1;

// Cached per thread by the core: no system call in the signal handler.
int GetTid() { return pp_thread_id(); }

// Copies of the embedded builtins: V8 may run a copy mapped next to its JIT
// code (short builtin calls; one per isolate). V8 up to Node 22's names the
// builtins in its code events at their place in the node binary; Node 24's
// names them where the copy is (and its GetEmbeddedCodeRange gives the
// binary's). Each address is looked up where the code events put it.
struct BuiltinsCopy {
  uintptr_t start, end, original;
};
std::vector<BuiltinsCopy> g_builtins_copies;  // under g_slots_lock

// Finds the mappings of the file that holds [blob, blob + len) which map the
// same file pages elsewhere, from /proc/self/maps. Not for the signal handler.
std::vector<BuiltinsCopy> FindBuiltinsCopies(uintptr_t blob, size_t len) {
  std::vector<BuiltinsCopy> out;
  FILE* f = fopen("/proc/self/maps", "re");
  if (!f) return out;
  struct Map {
    uintptr_t start, end, offset;
    std::string path;
  };
  std::vector<Map> maps;
  char line[4096];
  while (fgets(line, sizeof line, f)) {
    unsigned long start, end, offset;
    char perms[8], path[4096] = "";
    if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %4095[^\n]", &start, &end, perms, &offset, path) >= 4 && path[0] == '/')
      maps.push_back(Map{start, end, offset, path});
  }
  fclose(f);
  const Map* home = nullptr;
  for (const Map& m : maps)
    if (blob >= m.start && blob < m.end) home = &m;
  if (!home) return out;
  uintptr_t blob_off = home->offset + (blob - home->start);
  for (const Map& m : maps) {
    if (&m == home || m.path != home->path) continue;
    if (blob_off < m.offset || blob_off >= m.offset + (m.end - m.start)) continue;
    uintptr_t copy = m.start + (blob_off - m.offset);
    out.push_back(BuiltinsCopy{copy, copy + len, blob});
  }
  return out;
}

// The address V8's code events use for pc. Caller holds g_slots_lock.
uintptr_t CodeEventAddressLocked(uintptr_t pc) {
  for (const BuiltinsCopy& c : g_builtins_copies)
    if (pc >= c.start && pc < c.end) {
      // The copy's first builtin, named there or not (one lookup: the
      // builtins are reported once, when code events start, and live on).
      bool named_at_copy = CodeMapKindAt(c.start) != CodeKind::kNone;
      return named_at_copy ? pc : pc - c.start + c.original;
    }
  return pc;
}

// Caller holds g_slots_lock.
bool InBuiltinsCopyLocked(uintptr_t pc) {
  for (const BuiltinsCopy& c : g_builtins_copies)
    if (pc >= c.start && pc < c.end) return true;
  return false;
}

Range ToRange(const void* start, size_t len) {
  Range r;
  r.start = reinterpret_cast<uintptr_t>(start);
  r.end = r.start + len;
  return r;
}

// ---------------------------------------------------------- signal handler

// Async-signal-safe: atomic loads and a scan of a fixed array. The slot of
// the isolate running on this thread, and the isolate when its frames can be
// named (code events on); null when there is none.
PP_SIGNAL_PATH v8::Isolate* ThisThreadsIsolate(const IsolateSlot** found) {
  int tid = GetTid();
  *found = nullptr;
  int used = g_slots_used.load(std::memory_order_acquire);
  for (int i = 0; i < used; i++) {
    const IsolateSlot& slot = g_slots[i];
    if (slot.tid.load(std::memory_order_relaxed) == tid) {
      *found = &slot;
      return slot.code_events.load(std::memory_order_acquire) ? slot.isolate.load(std::memory_order_acquire) : nullptr;
    }
  }
  return nullptr;
}

// Async-signal-safe: writes the marker frame that stands for V8's GC.
PP_SIGNAL_PATH int GarbageCollectorFrame(pp_raw_frame* frames) {
  frames[0].code = kGarbageCollectorMarker;
  frames[0].check = 0;
  frames[0].offset = 1;
  frames[0].flags = 0;
  return 1;
}

// Samples whose JavaScript frames V8's walk had to give although the native
// walk ran (a V8 frame without a frame pointer the walk could vouch for).
std::atomic<uint64_t> g_v8_walks_after_native{0};

// Async-signal-safe: ThisThreadsIsolate, and V8's GetStackSample, which V8
// documents for use on an interrupted thread and calls from its own SIGPROF
// handler (no allocation, no locks, stack reads bounded by the thread's
// stack). Runs under the core's fault guard.
PP_SIGNAL_PATH int Capture(void*, void* ucontext, pp_raw_frame* frames, int max, uint32_t* flags) {
  const IsolateSlot* found;
  v8::Isolate* isolate = ThisThreadsIsolate(&found);
  if (!isolate) return 0;
  auto* uc = static_cast<ucontext_t*>(ucontext);
  v8::RegisterState state;
  state.pc = reinterpret_cast<void*>(uc->uc_mcontext.gregs[REG_RIP]);
  state.sp = reinterpret_cast<void*>(uc->uc_mcontext.gregs[REG_RSP]);
  state.fp = reinterpret_cast<void*>(uc->uc_mcontext.gregs[REG_RBP]);
  // V8 writes its pcs into the start of the core's frame array (8 bytes a pc,
  // 24 a frame), widened in place below: no stack buffer as deep as the
  // deepest stack on a signal stack.
  void** pcs = reinterpret_cast<void**>(frames);
  if (max > kMaxJsFrames) max = kMaxJsFrames;
  // V8's stack sample starts at the interrupted frame's caller when that
  // frame runs machine code (V8's profiler names the leaf from the pc, its
  // "top of stack"): so does this, for pcs in V8's code range. mark_entries
  // omits it later when it is not a JavaScript function's code.
  int tos = 0;
  auto pc = reinterpret_cast<uintptr_t>(state.pc);
  if (found->layout.code.Has(pc) && max > 1) {
    pcs[0] = state.pc;
    tos = 1;
  }
  v8::SampleInfo info;
  info.frames_count = 0;
  isolate->GetStackSample(state, pcs + tos, static_cast<size_t>(max - tos), &info);
  uint64_t gen = CodeMapGeneration();
  int n = static_cast<int>(info.frames_count);
  if (n > max - tos) n = max - tos;
  // V8 does not walk the stack during GC; say where the time went, as
  // V8's own profiler does, instead of showing V8's raw frames.
  if (n == 0 && info.vm_state == v8::GC) return GarbageCollectorFrame(frames);
  n += tos;
  // From the last: frame i (bytes 24i..24i+23) only covers pcs i..3i+2,
  // of which pc i is read first and the others were widened already.
  for (int i = n - 1; i >= 0; i--) {
    uintptr_t pc_i;  // memcpy: the bytes are read as another type than written
    memcpy(&pc_i, reinterpret_cast<const char*>(frames) + static_cast<size_t>(i) * sizeof(void*), sizeof pc_i);
    frames[i].code = pc_i;
    frames[i].check = static_cast<uintptr_t>(gen);
    // The top of stack is an exact pc; callers' are return addresses (and
    // bytecode frames' are exact bytecode addresses: -1 stays inside).
    frames[i].offset = (i == 0 && tos) ? 1 : 0;
    frames[i].flags = 0;
  }
  if (n == max) *flags |= PP_CAPTURE_TRUNCATED;
  return n;
}

// Async-signal-safe: ThisThreadsIsolate, ReadJsFrames (stack reads under the
// core's fault guard), or Capture where the native walk cannot serve.
PP_SIGNAL_PATH int CaptureFromNative(void* ctx, void* ucontext, const pp_native_stack* native, pp_raw_frame* frames,
                                     int max, uint32_t* flags) {
  const IsolateSlot* found;
  v8::Isolate* isolate = ThisThreadsIsolate(&found);
  if (!isolate) return 0;
  // A native walk that failed or was skipped may have stopped short of
  // frames V8's walk, which starts from the isolate's own records, reaches.
  if (!found->frames_from_native.load(std::memory_order_acquire) ||
      (native->flags & (PP_SAMPLE_NATIVE_FAILED | PP_SAMPLE_NATIVE_SKIPPED)))
    return Capture(ctx, ucontext, frames, max, flags);
  if (found->in_gc.load(std::memory_order_relaxed) > 0) return GarbageCollectorFrame(frames);
  if (max > kMaxJsFrames) max = kMaxJsFrames;
  auto sp = static_cast<uintptr_t>(static_cast<ucontext_t*>(ucontext)->uc_mcontext.gregs[REG_RSP]);
  int n = 0;
  if (ReadJsFrames(found->layout, sp, native->pc, native->fp, native->n, CodeMapGeneration(), frames, max, &n, flags) ==
      JsFramesResult::kNeedV8Walk) {
    g_v8_walks_after_native.fetch_add(1, std::memory_order_relaxed);
    return Capture(ctx, ucontext, frames, max, flags);
  }
  return n;
}

// ---------------------------------------------------------- drain thread

int ResolveBegin(void*) { return 0; }
void ResolveEnd(void*) {}

int Resolve(void*, const pp_raw_frame* f, pp_resolved_frame* out) {
  if (f->code == kGarbageCollectorMarker) {
    snprintf(out->name, sizeof out->name, "(garbage collector)");
    out->file[0] = '\0';
    out->line = out->start_line = 0;
    return 0;
  }
  uintptr_t code;
  {
    std::lock_guard<std::mutex> g(g_slots_lock);
    code = CodeEventAddressLocked(f->code);
  }
  // A return address points after the call instruction.
  uintptr_t addr = f->offset ? code : code - 1;
  CodeInfo info;
  if (!CodeMapLookup(addr, static_cast<uint64_t>(f->check), &info) || info.kind != CodeKind::kFunction) {
    if (!CodeMapLookup(code, static_cast<uint64_t>(f->check), &info)) return -1;
  }
  snprintf(out->name, sizeof out->name, "%s", info.name.c_str());
  snprintf(out->file, sizeof out->file, "%s", info.file.c_str());
  out->line = info.line;
  out->start_line = info.line;
  return 0;
}

int ThreadName(void*, int tid, char* out, size_t len) {
  std::lock_guard<std::mutex> g(g_slots_lock);
  auto it = g_thread_names.find(tid);
  if (it == g_thread_names.end()) return -1;
  if (it->second.exited_ns && pp_now_ns() - it->second.exited_ns > kKeepExitedNameNs) {
    g_thread_names.erase(it);
    return -1;
  }
  snprintf(out, len, "%s", it->second.name.c_str());
  return 0;
}

enum class NativeKind { kOther, kEntry, kJsLike, kV8 };

// Caller holds g_slots_lock: whether pc is in code V8 generated or its builtins.
bool InV8Locked(uintptr_t pc) {
  if (InBuiltinsCopyLocked(pc)) return true;
  int used = g_slots_used.load(std::memory_order_relaxed);
  for (int i = 0; i < used; i++) {
    const IsolateSlot& slot = g_slots[i];
    if (slot.isolate.load(std::memory_order_relaxed) && slot.layout.HasCode(pc)) return true;
  }
  return false;
}

// Caller holds g_slots_lock.
NativeKind KindOfLocked(uintptr_t pc) {
  bool in_v8 = false;
  int used = g_slots_used.load(std::memory_order_relaxed);
  for (int i = 0; i < used; i++) {
    const IsolateSlot& slot = g_slots[i];
    if (!slot.isolate.load(std::memory_order_relaxed)) continue;
    for (const Range& r : slot.entries)
      if (r.Has(pc) || r.Has(pc - 1)) return NativeKind::kEntry;
    in_v8 |= slot.layout.HasCode(pc);
  }
  // node's own C++ (most of a mixed stack's native frames) holds no code V8
  // reports: no lookup in the code map, whose lock the code events share.
  if (!in_v8 && g_node_executable.Has(pc)) return NativeKind::kOther;
  uintptr_t named = CodeEventAddressLocked(pc);
  if (InBuiltinsCopyLocked(pc)) in_v8 = true;
  CodeKind k = CodeMapKindAt(named - 1);
  if (k == CodeKind::kFunction || k == CodeKind::kInterpreter) return NativeKind::kJsLike;
  if (k != CodeKind::kNone || in_v8) return NativeKind::kV8;
  return NativeKind::kOther;
}

int ClassifyNative(void*, uintptr_t pc) {
  std::lock_guard<std::mutex> g(g_slots_lock);
  switch (KindOfLocked(pc)) {
    case NativeKind::kEntry:
      return PP_NATIVE_EVAL;
    case NativeKind::kJsLike:
    case NativeKind::kV8:
      return PP_NATIVE_PLUMBING;
    default:
      return PP_NATIVE_UNKNOWN;
  }
}

// GetStackSample lists the JavaScript frames of every entry into JavaScript
// as one run, leaf first. The native stack has one JSEntry frame per entry,
// and per JavaScript frame about one frame of V8 code (the function's
// machine code, or the interpreter's handler for bytecode). Each entry's
// share is counted from the root, where stacks are stable; the leafmost
// entry takes what is left (a frameless builtin at the leaf hides its
// caller's frame from the native unwind).
void MarkEntries(void*, const uintptr_t* native, int n_native, pp_raw_frame* interp, int n_interp) {
  int per_entry[kMaxNativeFrames];
  int n_entries = 0, js_like = 0;
  int kept[kMaxJsFrames];  // indexes of the frames that stay, leaf first
  int n_kept = 0;
  {
    std::lock_guard<std::mutex> g(g_slots_lock);
    for (int j = 0; j < n_native && n_entries < kMaxNativeFrames; j++) {
      NativeKind k = KindOfLocked(native[j]);
      if (k == NativeKind::kJsLike) js_like++;
      if (k == NativeKind::kEntry) {
        per_entry[n_entries++] = js_like > 0 ? js_like : 1;  // an entry runs at least one function
        js_like = 0;
      }
    }
    for (int i = 0; i < n_interp && i < kMaxJsFrames; i++) {
      interp[i].flags &= ~(PP_RAW_ENTRY | PP_RAW_OMIT);
      if (interp[i].code == kGarbageCollectorMarker) {
        kept[n_kept++] = i;
        continue;
      }
      uintptr_t code = CodeEventAddressLocked(interp[i].code);
      CodeKind kind = CodeMapKindIn(code, static_cast<uint64_t>(interp[i].check));
      bool known = kind != CodeKind::kNone;
      bool omit;
      if (i == 0 && interp[i].offset == 1) {
        // A top of stack in a builtin or stub: its caller, the JavaScript
        // frame that follows, is where the time goes. Code V8 never reported
        // stays, as "[unresolved frame]": it may be the function that ran
        // (V8 does not report on-stack-replacement code compiled before the
        // addon was loaded), and handing its time to the caller would be
        // wrong without saying so.
        omit = known && kind != CodeKind::kFunction && kind != CodeKind::kRegExp;
      } else {
        // V8 lists the C++ function of an API callback (node::crypto's,
        // RunInContext) among the JavaScript frames; the native stack has
        // it already. Unknown code inside V8's ranges stays, to be counted
        // as "[unresolved frame]".
        omit = !known && !InV8Locked(interp[i].code);
      }
      if (omit)
        interp[i].flags |= PP_RAW_OMIT;
      else
        kept[n_kept++] = i;
    }
  }
  if (n_entries <= 1) return;  // one group: nothing to split
  int end = n_kept;            // exclusive end, in kept[], of the frames not yet given out
  for (int e = n_entries - 1; e >= 1 && end > 0; e--) {
    int start = end - per_entry[e];
    if (start < 1) start = 1;  // the leafmost entry keeps at least one frame
    if (start >= end) break;
    interp[kept[start - 1]].flags |= PP_RAW_ENTRY;  // closes the group leafward of this entry's
    end = start;
  }
}

// Matched anywhere in the demangled name: a template's name starts with
// its return type ("v8::internal::MaybeHandle<...> v8::internal::...").
const char* const kPlumbingNames[] = {
    // V8's C++ between a JavaScript call and the C++ function it calls
    // (API callbacks such as node::crypto's), and between C++ and JavaScript.
    "v8::internal::Builtin_HandleApiCall(",
    "::HandleApiCallHelper<",
    "v8::internal::FunctionCallbackArguments::Call(",
    "v8::internal::Builtins::InvokeApiFunction(",
    "v8::internal::Execution::Call(",
    "v8::internal::Execution::CallScript(",
    "v8::internal::Execution::TryCall(",
    "v8::internal::(anonymous namespace)::Invoke(",
    "v8::internal::(anonymous namespace)::InvokeWithTryCatch(",
    "v8::Function::Call(",
    "v8::Script::Run(",
    "v8::internal::MicrotaskQueue::RunMicrotasks(",
    "v8::internal::MicrotaskQueue::PerformCheckpoint",
    "v8::MicrotasksScope::PerformCheckpoint(",
};

int IsPlumbing(void*, const char* symbol) {
  if (!symbol) return 0;
  for (const char* p : kPlumbingNames)
    if (strstr(symbol, p)) return 1;
  return 0;
}

// Once per process, on the first isolate: the core calls us back.
bool SetRuntimeLocked(char* err, size_t errlen) {
  if (g_runtime_set) return true;
  pp_runtime rt;
  memset(&rt, 0, sizeof rt);
  rt.name = "node";
  rt.capture = Capture;
  // POLYPROF_NODE_JS_FRAMES=v8: every sample's JavaScript frames from V8's
  // own walk (GetStackSample), as before they were read off the native walk;
  // for comparing the two, or should a Node's frame layout ever differ.
  const char* js_frames = getenv("POLYPROF_NODE_JS_FRAMES");
  g_js_frames_by_v8 = js_frames && strcmp(js_frames, "v8") == 0;
  if (!g_js_frames_by_v8) rt.capture_native = CaptureFromNative;
  rt.resolve_begin = ResolveBegin;
  rt.resolve = Resolve;
  rt.resolve_end = ResolveEnd;
  rt.resolve_fast = Resolve;
  rt.thread_name = ThreadName;
  rt.classify_native = ClassifyNative;
  rt.mark_entries = MarkEntries;
  rt.is_plumbing = IsPlumbing;
  // V8's C++ glue lives in the node executable.
  pp_addr_range exe;
  if (pp_symbols_object_range(reinterpret_cast<uintptr_t>(&v8::Isolate::TryGetCurrent), &exe) == 0) {
    rt.plumbing[0] = exe;
    rt.n_plumbing = 1;
    g_node_executable = Range{exe.start, exe.end};
  }
  if (pp_sampler_set_runtime(&rt, err, errlen) != 0) return false;
  g_runtime_set = true;
  return true;
}

// Bytecode handlers and trampolines are laid out one after another, aligned:
// entries closer than this belong to one run.
constexpr uintptr_t kInterpreterRunGap = 64;

// Caller holds g_slots_lock: into out, the code `keep` keeps where this
// isolate runs it: where the code events name it, and in each copy of the
// builtins (named there or at the original). False when there is none or it
// does not fit.
bool FindRunsLocked(const IsolateSlot& slot, bool (*keep)(const CodeInfo&), CodeRuns* out) {
  std::vector<std::pair<uintptr_t, uintptr_t>> runs = CodeMapRuns(keep, kInterpreterRunGap);
  if (runs.empty()) return false;
  size_t named = runs.size();
  for (int c = 0; c < slot.layout.n_copies; c++) {
    const Range& copy = slot.layout.copies[c];
    uintptr_t original = slot.layout.builtins.start, len = copy.end - copy.start;
    for (size_t i = 0; i < named; i++) {
      auto [start, end] = runs[i];
      if (start >= original && end <= original + len)
        runs.emplace_back(start - original + copy.start, end - original + copy.start);
      else if (copy.Has(start) && end <= copy.end)
        runs.emplace_back(start - copy.start + original, end - copy.start + original);
    }
  }
  std::sort(runs.begin(), runs.end());
  out->n = 0;
  for (auto [start, end] : runs) {
    if (out->n > 0 && start <= out->ranges[out->n - 1].end) {
      if (end > out->ranges[out->n - 1].end) out->ranges[out->n - 1].end = end;
      continue;
    }
    if (out->n == CodeRuns::kMax) return false;
    out->ranges[out->n++] = Range{start, end};
  }
  return true;
}

// Caller holds g_slots_lock; the code events have named the builtins.
bool FindInterpreterLocked(IsolateSlot& slot) {
  auto interpreter = [](const CodeInfo& c) { return c.kind == CodeKind::kInterpreter; };
  auto handler = [](const CodeInfo& c) { return c.kind == CodeKind::kInterpreter && c.bytecode_handler; };
  return FindRunsLocked(slot, interpreter, &slot.layout.interpreter.all) &&
         FindRunsLocked(slot, handler, &slot.layout.interpreter.handlers);
}

// Between V8's GC prologue and epilogue callbacks the handler says the
// time is GC's, as V8's own stack sample does from its VM state. Not for
// incremental marking's steps or weak callbacks, which V8 counts as the
// running code's.
constexpr v8::GCType kGcTypesCounted = static_cast<v8::GCType>(
    v8::kGCTypeAll & ~(v8::kGCTypeIncrementalMarking | v8::kGCTypeProcessWeakCallbacks));

void OnGcPrologue(v8::Isolate*, v8::GCType, v8::GCCallbackFlags, void* data) {
  static_cast<IsolateSlot*>(data)->in_gc.fetch_add(1, std::memory_order_relaxed);
}

void OnGcEpilogue(v8::Isolate*, v8::GCType, v8::GCCallbackFlags, void* data) {
  auto& in_gc = static_cast<IsolateSlot*>(data)->in_gc;
  if (in_gc.load(std::memory_order_relaxed) > 0) in_gc.fetch_sub(1, std::memory_order_relaxed);
}

void EnableCodeEvents(v8::Isolate* isolate) {
  std::lock_guard<std::mutex> g(g_slots_lock);
  for (auto& slot : g_slots) {
    if (slot.isolate.load(std::memory_order_relaxed) == isolate) {
      if (!slot.code_events.load(std::memory_order_relaxed)) {
        // Enumerates the code that exists now, then reports changes.
        isolate->SetJitCodeEventHandler(v8::kJitCodeEventEnumExisting, OnJitCodeEvent);
        isolate->AddGCPrologueCallback(OnGcPrologue, &slot, kGcTypesCounted);
        isolate->AddGCEpilogueCallback(OnGcEpilogue, &slot, kGcTypesCounted);
        slot.code_events.store(true, std::memory_order_release);
        slot.frames_from_native.store(!g_js_frames_by_v8 && FindInterpreterLocked(slot), std::memory_order_release);
      }
      return;
    }
  }
}

void DisableCodeEvents(v8::Isolate* isolate) {
  bool was_on = false;
  {
    std::lock_guard<std::mutex> g(g_slots_lock);
    for (auto& slot : g_slots) {
      if (slot.isolate.load(std::memory_order_relaxed) == isolate) {
        slot.frames_from_native.store(false, std::memory_order_release);
        was_on = slot.code_events.exchange(false, std::memory_order_acq_rel);
        if (was_on) {
          isolate->RemoveGCPrologueCallback(OnGcPrologue, &slot);
          isolate->RemoveGCEpilogueCallback(OnGcEpilogue, &slot);
        }
        break;
      }
    }
  }
  if (was_on) {
    isolate->SetJitCodeEventHandler(v8::kJitCodeEventDefault, nullptr);
    CodeMapForgetIsolate(isolate);
  }
}

}  // namespace

static bool RegisterIsolate(Addon* addon, const char* thread_name, char* err, size_t errlen) {
  v8::Isolate* isolate = addon->isolate;
  std::lock_guard<std::mutex> g(g_slots_lock);
  if (!SetRuntimeLocked(err, errlen)) return false;
  for (int i = 0; i < kMaxIsolates; i++) {
    IsolateSlot& slot = g_slots[i];
    if (slot.isolate.load(std::memory_order_relaxed)) continue;
    v8::JSEntryStubs stubs = isolate->GetJSEntryStubs();
    slot.entries[0] = ToRange(stubs.js_entry_stub.code.start, stubs.js_entry_stub.code.length_in_bytes);
    slot.entries[1] =
        ToRange(stubs.js_construct_entry_stub.code.start, stubs.js_construct_entry_stub.code.length_in_bytes);
    slot.entries[2] =
        ToRange(stubs.js_run_microtasks_entry_stub.code.start, stubs.js_run_microtasks_entry_stub.code.length_in_bytes);
    void* code_start = nullptr;
    size_t code_len = 0;
    isolate->GetCodeRange(&code_start, &code_len);
    slot.layout.code = ToRange(code_start, code_len);
    const void* emb_start = nullptr;
    size_t emb_len = 0;
    isolate->GetEmbeddedCodeRange(&emb_start, &emb_len);
    slot.layout.builtins = ToRange(emb_start, emb_len);
    slot.layout.n_copies = 0;
    for (const BuiltinsCopy& c : FindBuiltinsCopies(slot.layout.builtins.start, emb_len)) {
      bool known = false;
      for (const BuiltinsCopy& k : g_builtins_copies) known |= k.start == c.start;
      if (!known) g_builtins_copies.push_back(c);
      if (slot.layout.n_copies < static_cast<int>(sizeof slot.layout.copies / sizeof slot.layout.copies[0]))
        slot.layout.copies[slot.layout.n_copies++] = Range{c.start, c.end};
    }
    slot.frames_from_native.store(false, std::memory_order_relaxed);
    slot.in_gc.store(0, std::memory_order_relaxed);
    slot.code_events.store(false, std::memory_order_relaxed);
    int tid = GetTid();
    g_thread_names[tid] = KnownThread{thread_name, 0};
    slot.tid.store(tid, std::memory_order_relaxed);
    slot.isolate.store(isolate, std::memory_order_release);
    if (g_slots_used.load(std::memory_order_relaxed) <= i) g_slots_used.store(i + 1, std::memory_order_release);
    addon->slot_registered = true;
    pp_sampler_thread_names_changed();  // samples taken while the worker booted got the OS's name; tids are reused
    return true;
  }
  snprintf(err, errlen, "more than %d isolates (main thread and workers) loaded polyprof at once", kMaxIsolates);
  return false;
}

void UnregisterIsolate(Addon* addon) {
  // Sessions this environment started and never stopped: nobody can ask
  // for their profiles any more.
  for (pp_collector* c : addon->collectors) pp_profile_free(pp_collector_stop(c));
  addon->collectors.clear();
  if (!addon->slot_registered) return;
  DisableCodeEvents(addon->isolate);
  std::lock_guard<std::mutex> g(g_slots_lock);
  for (auto& slot : g_slots) {
    if (slot.isolate.load(std::memory_order_relaxed) == addon->isolate) {
      // The handler stops using the slot before anything else changes.
      auto name = g_thread_names.find(slot.tid.load(std::memory_order_relaxed));
      if (name != g_thread_names.end()) name->second.exited_ns = pp_now_ns();
      slot.tid.store(0, std::memory_order_release);
      slot.isolate.store(nullptr, std::memory_order_release);
      break;
    }
  }
  addon->slot_registered = false;
}

// register(threadName): called once by the JavaScript side as it loads.
void Register(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  Addon* addon = AddonOf(args);
  if (!args[0]->IsString()) return ThrowTypeError(isolate, "register(threadName): threadName must be a string");
  if (addon->slot_registered) return;
  v8::String::Utf8Value name(isolate, args[0]);
  char err[kErrLen];
  if (!RegisterIsolate(addon, *name ? *name : "", err, sizeof err)) return ThrowError(isolate, err);
  // From now until the environment ends, not only while a session runs:
  // V8 names code that existed before by enumerating it (EnableCodeEvents'
  // kJitCodeEventEnumExisting, as V8's own CpuProfiler does at its start),
  // and that enumeration misses code V8 holds only in a feedback
  // vector: on-stack-replacement code, which is where a hot loop that was
  // already running spends its time (Node 22 and later OSR such loops early,
  // so a burner warmed up before start() lost all its samples to its
  // caller). Code compiled while the handler is installed is reported as it
  // is made, whatever tier or path made it.
  EnableCodeEvents(isolate);
  V8Prepare(addon);
}

// coreStart(spec, filterKey?, filterValue?) -> collector handle (External)
void CoreStart(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  Addon* addon = AddonOf(args);
  if (!args[0]->IsString()) return ThrowTypeError(isolate, "coreStart(spec): spec must be a string");
  if (!addon->slot_registered)
    return ThrowError(isolate, "this thread's isolate could not be registered with the sampler");
  v8::String::Utf8Value spec(isolate, args[0]);
  char err[kErrLen];
  pp_options o;
  pp_options_default(&o);
  if (pp_options_parse(&o, *spec ? *spec : "", err, sizeof err) != 0) return ThrowError(isolate, err);
  pp_collector* c = pp_collector_start(&o, nullptr, nullptr, err, sizeof err);
  if (!c) return ThrowError(isolate, err);
  addon->collectors.insert(c);
  args.GetReturnValue().Set(v8_compat::NewExternal(isolate, c));
}

// coreStop(handle) -> Profile
void CoreStop(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  Addon* addon = AddonOf(args);
  if (!args[0]->IsExternal()) return ThrowTypeError(isolate, "coreStop(handle): not a collector handle");
  auto* c = static_cast<pp_collector*>(v8_compat::ExternalValue(args[0]));
  // Each handle stops once, and only in the thread that started it.
  if (!addon->collectors.erase(c)) return ThrowError(isolate, "this profiling session was already stopped");
  pp_profile* p = pp_collector_stop(c);
  v8::Local<v8::Object> obj;
  if (WrapProfile(AddonOf(args), p).ToLocal(&obj)) args.GetReturnValue().Set(obj);
}

// coreStats() -> {codeMapEntries, ...}: for tests and diagnostics.
void CoreStats(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  v8::Local<v8::Context> ctx = isolate->GetCurrentContext();
  pp_sampler_stats st;
  pp_sampler_get_stats(&st);
  bool frames_from_native = false;
  {
    std::lock_guard<std::mutex> g(g_slots_lock);
    for (const auto& slot : g_slots)
      if (slot.isolate.load(std::memory_order_relaxed) == isolate)
        frames_from_native = slot.frames_from_native.load(std::memory_order_relaxed);
  }
  v8::Local<v8::Object> out = v8::Object::New(isolate);
  struct {
    const char* key;
    double value;
  } fields[] = {
      {"samples", static_cast<double>(st.samples)},
      {"droppedRing", static_cast<double>(st.dropped_ring)},
      {"droppedMemory", static_cast<double>(st.dropped_memory)},
      {"unwindFailed", static_cast<double>(st.unwind_failed)},
      {"threads", static_cast<double>(st.threads)},
      {"handlerNs", static_cast<double>(st.handler_ns)},
      {"codeMapEntries", static_cast<double>(CodeMapSize())},
      // This isolate's JavaScript frames are read off the native walk.
      {"jsFramesFromNative", frames_from_native ? 1.0 : 0.0},
      {"v8WalksAfterNative", static_cast<double>(g_v8_walks_after_native.load(std::memory_order_relaxed))},
      {"overheadPct", st.overhead_pct},
      {"intervalNs", static_cast<double>(st.interval_ns)},
      {"budgetStopped", st.budget_stopped ? 1.0 : 0.0},
      {"running", pp_sampler_running() ? 1.0 : 0.0},
  };
  for (const auto& f : fields)
    if (out->Set(ctx, Str(isolate, f.key), v8::Number::New(isolate, f.value)).IsNothing()) return;
  args.GetReturnValue().Set(out);
}

}  // namespace polyprof_node

