// Mode 'alloc': V8's sampling heap profiler on this environment's isolate,
// turned into core profiles with Go's heap profile values: alloc_objects and
// alloc_space (everything sampled since the collector started or was last
// rotated) and inuse_objects and inuse_space (sampled objects still alive).
//
// How both come out of one V8 profiler. V8 samples one allocation per
// alloc_interval bytes on average (a Poisson process) and keeps a weak handle
// per sample. Started without the kSamplingIncludeObjectsCollected* flags,
// its profile lists the samples still alive; with them it would keep every
// sample forever (memory growing without bound, and no way to tell which are
// alive). So it runs without them, and the addon reads the profile in a GC
// prologue callback: every sampled object dies in some GC, and that GC's
// prologue runs after it was sampled, so no sample is missed. Sample ids
// grow with time: those above the highest id seen so far are new
// allocations, added to every collector's alloc_* totals; the profile read at
// export is the live set (inuse_*).
//
// Each sample stands for 1 / (1 - e^(-size/interval)) objects of its size:
// the probability that a Poisson process with mean `interval` bytes lands in
// an allocation of `size` bytes is 1 - e^(-size/interval). V8's own scaling
// (ScaleSample) rounds that count to a whole number per sample, which reads
// a sample of an object as large as the interval as one object instead of
// 1.58; the addon scales in floating point instead, as the JVM agent does.
//
// Everything here runs on the isolate's own thread (JavaScript calls, GC
// callbacks, interrupts), so the sampler needs no lock; the one exception is
// the endpoint's hook (HeapBrokerProfile, at the end), which only hands a
// request to that thread under the broker's own lock.
#include <time.h>

#include <uv.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "addon.h"

extern "C" {
#include "service_name.h"  // the core's, internal: C linkage
}

namespace polyprof_node {

namespace {

constexpr size_t kErrLen = 512;

uint64_t ThreadCpuNs() {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

std::string Utf8(v8::Isolate* isolate, v8::Local<v8::String> s) {
  if (s.IsEmpty()) return std::string();
  v8::String::Utf8Value u(isolate, s);
  return *u ? std::string(*u, static_cast<size_t>(u.length())) : std::string();
}

}  // namespace

// One function frame as V8's allocation profile names it.
struct HeapFrame {
  std::string name, file;
  int line = 0;
  int kind = 1;  // pp_frame_spec.kind: 1 JavaScript, 2 named by V8 ("(V8 API)", "(GC)", ...)
};

struct AllocTotals {
  double objects = 0, bytes = 0;
};

// One consumer of the isolate's heap sampler: a start()ed session, a
// continuous profiler's windows. Its alloc_* cover the samples taken since
// it started (or was last rotated); its inuse_* the live samples taken since
// it started.
struct AllocCollector {
  uint64_t first_sample_id;  // samples with a higher id are its own
  int64_t start_wall_ns;     // the collector's start
  int64_t period_wall_ns;    // start of what the next profile covers
  uint64_t period_samples = 0;
  std::unordered_map<uint32_t, AllocTotals> alloc;  // stack index -> totals
  std::string spec;
  std::string thread_name;  // "main", "worker <threadId>": every sample's label
  uint64_t period_truncated = 0;  // of period_samples, those whose stack was cut at the depth
};

// Per environment: V8's one sampling heap profiler of this isolate, shared
// by every collector started here.
struct HeapSampler {
  uint64_t interval = 0;        // bytes, while running
  // Frames kept per stack (depth=, while running). V8 records the leafmost
  // frames of a sample up to the depth it was started with, and drops the
  // rest without a word; it is asked for one more, and a stack that has it
  // was deeper than the depth: that frame becomes "[truncated]".
  uint32_t stack_depth = 0;
  uint64_t max_sample_id = 0;   // highest sample id absorbed
  int depth = 0;                // nested reads (a read can allocate, and so run a GC)
  uint64_t reads = 0, read_cpu_ns = 0;
  uint64_t reads_skipped = 0;  // GC prologues near the heap limit (see OnGcPrologue)
  std::vector<HeapFrame> frames;
  std::unordered_map<std::string, uint32_t> frame_index;  // script id, position, name -> frame
  std::vector<std::vector<uint32_t>> stacks;              // frames, leaf first
  std::vector<bool> stack_cut;                            // per stack: cut at the depth
  std::unordered_map<std::string, uint32_t> stack_index;
  std::unordered_map<uint32_t, uint32_t> node_stack;      // V8 node id (never reused) -> stack
  size_t node_stack_limit = 4096;  // past it, ids of nodes V8 has dropped are forgotten
  std::unordered_set<AllocCollector*> collectors;
};

namespace {

double ScaledObjects(uint64_t size, uint64_t interval) {
  double p = 1.0 - std::exp(-static_cast<double>(size) / static_cast<double>(interval));
  return p > 0 ? 1.0 / p : 1.0;
}

// V8 names functions without a name ""; reports and `go tool pprof -top`
// show names only, so the name carries where the function starts, as the
// CPU profiles do: "(anonymous app.js:12)".
std::string AnonymousName(const std::string& file, int line) {
  size_t slash = file.rfind('/');
  std::string base = slash == std::string::npos ? file : file.substr(slash + 1);
  if (base.empty()) return "(anonymous)";
  return line > 0 ? "(anonymous " + base + ":" + std::to_string(line) + ")" : "(anonymous " + base + ")";
}

uint32_t InternFrame(HeapSampler* hs, v8::Isolate* isolate, const v8::AllocationProfile::Node* n) {
  std::string name = Utf8(isolate, n->name);
  std::string key = std::to_string(n->script_id) + ":" + std::to_string(n->start_position) + ":" + name;
  auto it = hs->frame_index.find(key);
  if (it != hs->frame_index.end()) return it->second;
  HeapFrame f;
  f.file = Utf8(isolate, n->script_name);
  f.line = n->line_number > 0 ? n->line_number : 0;
  // V8's own nodes ("(V8 API)", "(GC)", "(deopt)"...) belong to no script.
  f.kind = n->script_id == v8::UnboundScript::kNoScriptId && !name.empty() && name[0] == '(' ? 2 : 1;
  f.name = name.empty() ? AnonymousName(f.file, f.line) : name;
  auto idx = static_cast<uint32_t>(hs->frames.size());
  hs->frames.push_back(std::move(f));
  hs->frame_index.emplace(std::move(key), idx);
  return idx;
}

uint32_t TruncatedFrame(HeapSampler* hs) {
  static const std::string key("\0[truncated]", 12);  // no script's key starts with a NUL
  auto it = hs->frame_index.find(key);
  if (it != hs->frame_index.end()) return it->second;
  auto idx = static_cast<uint32_t>(hs->frames.size());
  hs->frames.push_back(HeapFrame{"[truncated]", "", 0, 2});
  hs->frame_index.emplace(key, idx);
  return idx;
}

struct NodeRef {
  const v8::AllocationProfile::Node* node;
  uint32_t parent;  // node id; the root's is its own
};

// The stack of V8 node `id`, interned (node ids are never reused, so the
// mapping holds for good).
uint32_t StackOf(HeapSampler* hs, v8::Isolate* isolate, const std::unordered_map<uint32_t, NodeRef>& nodes,
                 uint32_t root_id, uint32_t id) {
  auto cached = hs->node_stack.find(id);
  if (cached != hs->node_stack.end()) return cached->second;
  std::vector<uint32_t> frames;
  for (uint32_t cur = id; cur != root_id;) {
    auto it = nodes.find(cur);
    if (it == nodes.end()) break;
    frames.push_back(InternFrame(hs, isolate, it->second.node));
    cur = it->second.parent;
  }
  bool cut = frames.size() > hs->stack_depth;
  if (cut) {
    frames.resize(hs->stack_depth);
    frames.push_back(TruncatedFrame(hs));
  }
  std::string key(reinterpret_cast<const char*>(frames.data()), frames.size() * sizeof(uint32_t));
  auto [slot, fresh] = hs->stack_index.try_emplace(std::move(key), static_cast<uint32_t>(hs->stacks.size()));
  if (fresh) {
    hs->stacks.push_back(std::move(frames));
    hs->stack_cut.push_back(cut);
  }
  hs->node_stack.emplace(id, slot->second);
  return slot->second;
}

// Node id -> node and parent, for the nodes of one V8 profile.
void IndexNodes(const v8::AllocationProfile::Node* root, std::unordered_map<uint32_t, NodeRef>* out) {
  std::vector<const v8::AllocationProfile::Node*> todo{root};
  out->emplace(root->node_id, NodeRef{root, root->node_id});
  while (!todo.empty()) {
    const v8::AllocationProfile::Node* n = todo.back();
    todo.pop_back();
    for (const v8::AllocationProfile::Node* c : n->children) {
      out->emplace(c->node_id, NodeRef{c, n->node_id});
      todo.push_back(c);
    }
  }
}

// Reads V8's profile (the live samples), adds the samples not seen before to
// every collector's alloc_* totals, and returns it (the caller deletes it),
// or NULL when V8's profiler is not running.
v8::AllocationProfile* Read(Addon* addon) {
  HeapSampler* hs = addon->heap;
  if (!hs || hs->interval == 0 || hs->depth > 1) return nullptr;
  v8::Isolate* isolate = addon->isolate;
  v8::HandleScope scope(isolate);
  uint64_t cpu0 = ThreadCpuNs();
  hs->depth++;
  // Translating the tree allocates strings on the heap, which may run a GC
  // and this very function from its prologue: the inner read absorbs what
  // that GC frees, the outer one then finds those ids already seen.
  v8::AllocationProfile* prof = isolate->GetHeapProfiler()->GetAllocationProfile();
  hs->depth--;
  if (!prof) return nullptr;
  std::unordered_map<uint32_t, NodeRef> nodes;
  uint64_t max_id = hs->max_sample_id;
  const v8::AllocationProfile::Node* root = prof->GetRootNode();
  for (const v8::AllocationProfile::Sample& s : prof->GetSamples()) {
    if (s.sample_id <= hs->max_sample_id) continue;
    if (nodes.empty()) IndexNodes(root, &nodes);
    uint32_t stack = StackOf(hs, isolate, nodes, root->node_id, s.node_id);
    double objects = ScaledObjects(s.size, hs->interval);
    for (AllocCollector* c : hs->collectors) {
      if (s.sample_id <= c->first_sample_id) continue;
      AllocTotals& t = c->alloc[stack];
      t.objects += objects;
      t.bytes += objects * static_cast<double>(s.size);
      c->period_samples++;
      if (hs->stack_cut[stack]) c->period_truncated++;
    }
    if (s.sample_id > max_id) max_id = s.sample_id;
  }
  hs->max_sample_id = max_id;
  // V8 drops a node once its samples died and makes a new one (a new id)
  // when that stack allocates again: forget the dropped ones, so that the
  // map stays the size of V8's tree however long the profile runs.
  if (hs->node_stack.size() > hs->node_stack_limit) {
    if (nodes.empty()) IndexNodes(root, &nodes);
    for (auto it = hs->node_stack.begin(); it != hs->node_stack.end();)
      it = nodes.count(it->first) ? std::next(it) : hs->node_stack.erase(it);
    hs->node_stack_limit = std::max<size_t>(4096, 2 * hs->node_stack.size());
  }
  hs->reads++;
  hs->read_cpu_ns += ThreadCpuNs() - cpu0;
  return prof;
}

// A read allocates (V8 builds its profile on the heap): near the heap
// limit, or in V8's last-resort collection, those allocations could be the
// ones that exhaust it. The read is skipped then, and counted
// (heap_reads_skipped): samples that GC frees are missing from alloc_*.
bool NearHeapLimit(v8::Isolate* isolate, v8::GCCallbackFlags flags) {
  if (flags & v8::kGCCallbackFlagCollectAllAvailableGarbage) return true;
  v8::HeapStatistics st;
  isolate->GetHeapStatistics(&st);
  return st.used_heap_size() > st.heap_size_limit() / 10 * 9;
}

void OnGcPrologue(v8::Isolate* isolate, v8::GCType, v8::GCCallbackFlags flags, void* data) {
  auto* addon = static_cast<Addon*>(data);
  if (NearHeapLimit(isolate, flags)) {
    if (addon->heap) addon->heap->reads_skipped++;
    return;
  }
  delete Read(addon);
}

constexpr v8::GCType kCollectingGcs =
    static_cast<v8::GCType>(v8::kGCTypeScavenge | v8_compat::kGCTypeMinor | v8::kGCTypeMarkSweepCompact);

void StopSampler(Addon* addon) {
  HeapSampler* hs = addon->heap;
  if (!hs || hs->interval == 0) return;
  addon->isolate->RemoveGCPrologueCallback(OnGcPrologue, addon);
  addon->isolate->GetHeapProfiler()->StopSamplingHeapProfiler();
  // Sample and node ids start afresh with V8's next profiler.
  *hs = HeapSampler();
}

void AddMetadata(pp_profile* p, const std::string& line) { pp_profile_add_metadata(p, line.c_str()); }

// The collector's profile: alloc_* since its period began, inuse_* from a
// fresh read. Restarts its period when `rotate`. The last value is the one
// reports and pprof rank by: alloc_space when `alloc_default`, as for
// Python's and the JVM agent's allocation profiles (stop(), record,
// continuous windows) and Go's /debug/pprof/allocs; inuse_space otherwise,
// for the endpoint's /debug/pprof/heap.
pp_profile* Export(Addon* addon, AllocCollector* c, bool rotate, bool alloc_default) {
  HeapSampler* hs = addon->heap;
  v8::Isolate* isolate = addon->isolate;
  v8::HandleScope scope(isolate);
  std::unique_ptr<v8::AllocationProfile> live(Read(addon));
  static const char* const heap_types[] = {"alloc_objects", "alloc_space", "inuse_objects", "inuse_space"};
  static const char* const alloc_types[] = {"inuse_objects", "inuse_space", "alloc_objects", "alloc_space"};
  static const char* const units[] = {"count", "bytes", "count", "bytes"};
  pp_profile* p = pp_profile_create(alloc_default ? alloc_types : heap_types, units, 4, "space", "bytes",
                                    static_cast<int64_t>(hs->interval));
  if (!p) return nullptr;
  // Per stack: the four values (alloc from the collector, inuse from the read).
  std::unordered_map<uint32_t, AllocTotals> inuse;
  uint64_t live_samples = 0;
  if (live) {
    std::unordered_map<uint32_t, NodeRef> nodes;
    const v8::AllocationProfile::Node* root = live->GetRootNode();
    IndexNodes(root, &nodes);
    for (const v8::AllocationProfile::Sample& s : live->GetSamples()) {
      if (s.sample_id <= c->first_sample_id) continue;
      uint32_t stack = StackOf(hs, isolate, nodes, root->node_id, s.node_id);
      double objects = ScaledObjects(s.size, hs->interval);
      AllocTotals& t = inuse[stack];
      t.objects += objects;
      t.bytes += objects * static_cast<double>(s.size);
      live_samples++;
    }
  }
  std::unordered_map<uint32_t, std::pair<AllocTotals, AllocTotals>> rows;
  for (const auto& [stack, t] : c->alloc) rows[stack].first = t;
  for (const auto& [stack, t] : inuse) rows[stack].second = t;
  std::vector<pp_frame_spec> frames;
  pp_label_view label = {"thread_name", c->thread_name.c_str(), 0};
  bool ok = true;
  for (const auto& [stack, v] : rows) {
    frames.clear();
    for (uint32_t fi : hs->stacks[stack]) {
      const HeapFrame& f = hs->frames[fi];
      frames.push_back(pp_frame_spec{f.name.c_str(), f.file.c_str(), f.line, f.line, f.kind});
    }
    const AllocTotals& first = alloc_default ? v.second : v.first;
    const AllocTotals& second = alloc_default ? v.first : v.second;
    int64_t values[4] = {std::llround(first.objects), std::llround(first.bytes), std::llround(second.objects),
                         std::llround(second.bytes)};
    if (!values[0] && !values[1] && !values[2] && !values[3]) continue;
    if (pp_profile_append(p, frames.data(), static_cast<uint32_t>(frames.size()), &label, 1, values) != 0) {
      ok = false;
      break;
    }
  }
  if (!ok) {
    pp_profile_free(p);
    return nullptr;
  }
  int64_t now = RealtimeNs();
  pp_profile_set_times(p, c->period_wall_ns, now - c->period_wall_ns);
  AddMetadata(p, "samples_taken=" + std::to_string(c->period_samples));
  AddMetadata(p, "live_samples=" + std::to_string(live_samples));
  AddMetadata(p, "truncated=" + std::to_string(c->period_truncated));
  AddMetadata(p, "sampler=v8-sampling-heap-profiler");
  AddMetadata(p, "heap_reads=" + std::to_string(hs->reads));
  AddMetadata(p, "heap_read_cpu_ns=" + std::to_string(hs->read_cpu_ns));
  AddMetadata(p, "heap_reads_skipped=" + std::to_string(hs->reads_skipped));
  AddMetadata(p, "options=" + c->spec);
  if (rotate) {
    c->alloc.clear();
    c->period_samples = 0;
    c->period_truncated = 0;
    c->period_wall_ns = now;
  }
  return p;
}

AllocCollector* CollectorOf(const v8::FunctionCallbackInfo<v8::Value>& args) {
  Addon* addon = AddonOf(args);
  if (args[0]->IsExternal()) {
    auto* c = static_cast<AllocCollector*>(v8_compat::ExternalValue(args[0]));
    if (addon->heap && addon->heap->collectors.count(c)) return c;
  }
  ThrowError(args.GetIsolate(), "this allocation profile is not running (already stopped?)");
  return nullptr;
}

void FreeCollector(Addon* addon, AllocCollector* c) {
  addon->heap->collectors.erase(c);
  delete c;
  if (addon->heap->collectors.empty()) StopSampler(addon);
}

// A new collector on this isolate's heap sampler, which starts V8's profiler
// unless another collector runs it already (then alloc_interval must match).
// NULL with a message naming the problem.
AllocCollector* NewCollector(Addon* addon, const pp_options& o, const std::string& thread_name, char* err,
                             size_t errlen) {
  v8::Isolate* isolate = addon->isolate;
  if (!addon->heap) addon->heap = new HeapSampler();
  HeapSampler* hs = addon->heap;
  if (hs->interval == 0) {
    if (!isolate->GetHeapProfiler()->StartSamplingHeapProfiler(o.alloc_interval, static_cast<int>(o.depth) + 1,
                                                               v8::HeapProfiler::kSamplingNoFlags)) {
      snprintf(err, errlen,
               "V8's sampling heap profiler is already running in this thread (the inspector's "
               "HeapProfiler.startSampling?): stop it first");
      return nullptr;
    }
    hs->interval = o.alloc_interval;
    hs->stack_depth = o.depth;
    isolate->AddGCPrologueCallback(OnGcPrologue, addon, kCollectingGcs);
  } else if (hs->interval != o.alloc_interval) {
    snprintf(err, errlen,
             "option 'alloc_interval': %llu bytes asked, but an allocation profile samples this thread every %llu "
             "bytes already; ask for the same interval or stop it first",
             static_cast<unsigned long long>(o.alloc_interval), static_cast<unsigned long long>(hs->interval));
    return nullptr;
  } else if (hs->stack_depth != o.depth) {
    snprintf(err, errlen,
             "option 'depth': %u frames asked, but an allocation profile of this thread keeps %u already; ask for "
             "the same depth or stop it first",
             o.depth, hs->stack_depth);
    return nullptr;
  }
  // Samples taken before now belong to the collectors already running.
  delete Read(addon);
  char spec[PP_PATH_MAX + 256];
  pp_options_format(&o, spec, sizeof spec);
  int64_t now = RealtimeNs();
  auto* c = new AllocCollector{hs->max_sample_id, now, now, 0, {}, spec, thread_name};
  hs->collectors.insert(c);
  return c;
}

}  // namespace

// allocStart(options {key: value}, threadName) -> handle. Starts V8's sampling heap
// profiler on this isolate unless another collector runs it already (then
// alloc_interval must match).
void AllocStart(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  Addon* addon = AddonOf(args);
  pp_options o;
  if (!OptionsFrom(isolate, args[0], &o)) return;
  char err[kErrLen];
  v8::String::Utf8Value name(isolate, args[1]);
  AllocCollector* c = NewCollector(addon, o, *name ? *name : "main", err, sizeof err);
  if (!c) return ThrowError(isolate, err);
  args.GetReturnValue().Set(v8_compat::NewExternal(isolate, c));
}

// allocStop(handle) -> Profile; V8's profiler stops with its last collector.
void AllocStop(const v8::FunctionCallbackInfo<v8::Value>& args) {
  Addon* addon = AddonOf(args);
  AllocCollector* c = CollectorOf(args);
  if (!c) return;
  pp_profile* p = Export(addon, c, false, true);
  FreeCollector(addon, c);
  v8::Local<v8::Object> obj;
  if (WrapProfile(addon, p).ToLocal(&obj)) args.GetReturnValue().Set(obj);
}

// allocRotate(handle) -> Profile of the period that ends now; a new one begins.
void AllocRotate(const v8::FunctionCallbackInfo<v8::Value>& args) {
  Addon* addon = AddonOf(args);
  AllocCollector* c = CollectorOf(args);
  if (!c) return;
  v8::Local<v8::Object> obj;
  if (WrapProfile(addon, Export(addon, c, true, true)).ToLocal(&obj)) args.GetReturnValue().Set(obj);
}

// allocStoreWindow(handle, options, pusher?, startMs?, endMs?) -> path: the
// period that ends now goes to the local store (options.store, its retention)
// as <service>_alloc_<UTC start>_continuous.pb.gz, and with a pusher (a
// pushOpen handle) is queued for Pyroscope as [startMs, endMs); a new period
// begins. Stored even when it cannot be pushed (then the push's error is
// thrown after the store, marked pushError: true).
void AllocStoreWindow(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  Addon* addon = AddonOf(args);
  AllocCollector* c = CollectorOf(args);
  if (!c) return;
  pp_options o;
  if (!OptionsFrom(isolate, args[1], &o)) return;
  bool push = !args[2]->IsUndefined() && !args[2]->IsNull();
  if (push && (!args[3]->IsNumber() || !args[4]->IsNumber()))
    return ThrowTypeError(isolate, "allocStoreWindow(handle, options, pusher, startMs, endMs)");
  char err[kErrLen], service[128], path[PP_PATH_MAX + 256];
  int64_t start = c->period_wall_ns;
  pp_profile* p = Export(addon, c, true, true);
  if (!p) return ThrowError(isolate, "polyprof: out of memory");
  v8::Local<v8::Value> push_error;
  if (push) {
    v8::TryCatch tc(isolate);
    if (!PushWindow(addon, args[2], p, args[3].As<v8::Number>()->Value(), args[4].As<v8::Number>()->Value()))
      push_error = tc.Exception();
  }
  pp_service_name(&o, service, sizeof service);
  pp_store* store =
      pp_store_open_keyed(o.store, o.store_max_age_ns, o.store_max_bytes, o.store_key_file, err, sizeof err);
  int rc = store ? pp_store_put(store, p, service, "alloc", "continuous", start, path, sizeof path, err, sizeof err) : -1;
  pp_store_close(store);
  pp_profile_free(p);
  if (rc != 0) return ThrowError(isolate, err);
  if (!push_error.IsEmpty()) {
    // Marked, so that the caller reports "not pushed" (the window is stored).
    if (push_error->IsObject() &&
        push_error.As<v8::Object>()
            ->Set(isolate->GetCurrentContext(), Str(isolate, "pushError"), v8::True(isolate))
            .IsNothing())
      return;
    isolate->ThrowException(push_error);
    return;
  }
  args.GetReturnValue().Set(Str(isolate, path));
}

// ------------------------------------------------------------------ the endpoint's memory hook

// /debug/pprof/allocs and /heap are asked for on a thread of the core's
// endpoint, but V8's heap profiler answers on the JavaScript thread only.
// The request wakes that thread twice over: a uv_async for an idle event
// loop, and an isolate interrupt for JavaScript that keeps the loop busy
// (V8 runs it at the next stack check). Whichever runs first builds the
// profile from the endpoint's own collector; the endpoint's thread waits at
// most kBrokerTimeout, then answers 404 naming the busy thread, so a wedged
// event loop never holds a request forever.
constexpr auto kBrokerTimeout = std::chrono::seconds(10);

struct HeapBroker {
  Addon* addon;
  AllocCollector* collector;
  uv_async_t async;
  std::mutex serial;  // one request at a time
  std::mutex lock;    // guards what follows
  std::condition_variable done;
  bool closing = false;
  bool pending = false;
  pp_memory_kind kind = PP_MEMORY_HEAP;
  uint64_t asked = 0, answered = 0;
  pp_profile* result = nullptr;
};

namespace {

// The JavaScript thread: answers the request waiting, if any.
void Answer(HeapBroker* b) {
  pp_memory_kind kind;
  uint64_t seq;
  {
    std::lock_guard<std::mutex> g(b->lock);
    if (!b->pending || b->closing) return;
    b->pending = false;
    kind = b->kind;
    seq = b->asked;
  }
  pp_profile* p = Export(b->addon, b->collector, false, kind == PP_MEMORY_ALLOCS);
  if (p) pp_profile_add_metadata(p, "trigger=endpoint");
  std::lock_guard<std::mutex> g(b->lock);
  if (seq != b->asked || b->closing) {
    pp_profile_free(p);  // the request timed out meanwhile
    return;
  }
  b->result = p;
  b->answered = seq;
  b->done.notify_all();
}

void OnBrokerAsync(uv_async_t* a) { Answer(static_cast<HeapBroker*>(a->data)); }

// What an interrupt carries: the broker may be gone before V8 runs it.
struct BrokerTicket {
  std::weak_ptr<HeapBroker> broker;
};

void OnBrokerClosed(uv_handle_t* h) { delete static_cast<std::shared_ptr<HeapBroker>*>(h->data); }

void OnBrokerInterrupt(v8::Isolate*, void* data) {
  auto* t = static_cast<BrokerTicket*>(data);
  if (std::shared_ptr<HeapBroker> b = t->broker.lock()) Answer(b.get());
  delete t;
}

}  // namespace

std::shared_ptr<HeapBroker> HeapBrokerStart(Addon* addon, const pp_options& o, const std::string& thread_name,
                                            char* err, size_t errlen) {
  AllocCollector* c = NewCollector(addon, o, thread_name, err, errlen);
  if (!c) return nullptr;
  auto b = std::make_shared<HeapBroker>();
  b->addon = addon;
  b->collector = c;
  uv_loop_t* loop = node::GetCurrentEventLoop(addon->isolate);
  if (!loop || uv_async_init(loop, &b->async, OnBrokerAsync) != 0) {
    FreeCollector(addon, c);
    snprintf(err, errlen, "cannot attach the endpoint's heap profiles to the event loop");
    return nullptr;
  }
  b->async.data = b.get();
  uv_unref(reinterpret_cast<uv_handle_t*>(&b->async));  // never keeps the program alive
  return b;
}

// Endpoint thread (pp_endpoint_hooks.memory_profile); ctx is the broker's
// shared_ptr, which outlives the endpoint.
pp_profile* HeapBrokerProfile(void* ctx, pp_memory_kind kind, char* err, size_t errlen) {
  const std::shared_ptr<HeapBroker>& b = *static_cast<std::shared_ptr<HeapBroker>*>(ctx);
  std::lock_guard<std::mutex> one(b->serial);
  std::unique_lock<std::mutex> g(b->lock);
  if (b->closing) {
    snprintf(err, errlen, "the JavaScript environment is shutting down");
    return nullptr;
  }
  uint64_t seq = ++b->asked;
  b->pending = true;
  b->kind = kind;
  // Under the lock: HeapBrokerStop sets closing under it before the isolate
  // and the async handle go away.
  uv_async_send(&b->async);
  b->addon->isolate->RequestInterrupt(OnBrokerInterrupt, new BrokerTicket{b});
  bool ok = b->done.wait_for(g, kBrokerTimeout, [&] { return b->answered == seq || b->closing; });
  if (!ok || b->answered != seq) {
    b->pending = false;
    snprintf(err, errlen,
             b->closing ? "the JavaScript environment is shutting down"
                        : "the JavaScript thread did not answer within 10 s (event loop and JavaScript busy?)");
    return nullptr;
  }
  pp_profile* p = b->result;
  b->result = nullptr;
  return p;
}

// JavaScript thread, before the endpoint stops: releases a waiting request.
void HeapBrokerClose(const std::shared_ptr<HeapBroker>& b) {
  std::lock_guard<std::mutex> g(b->lock);
  b->closing = true;
  b->done.notify_all();
}

// JavaScript thread, after the endpoint stopped (no request can come).
void HeapBrokerStop(const std::shared_ptr<HeapBroker>& b) {
  HeapBrokerClose(b);
  pp_profile_free(b->result);
  b->result = nullptr;
  if (b->addon->heap && b->addon->heap->collectors.count(b->collector)) FreeCollector(b->addon, b->collector);
  b->collector = nullptr;
  // The handle closes on the loop; its data keeps the broker alive until then.
  b->async.data = new std::shared_ptr<HeapBroker>(b);
  uv_close(reinterpret_cast<uv_handle_t*>(&b->async), OnBrokerClosed);
}

void AllocTeardown(Addon* addon) {
  if (!addon->heap) return;
  while (!addon->heap->collectors.empty()) FreeCollector(addon, *addon->heap->collectors.begin());
  StopSampler(addon);
  delete addon->heap;
  addon->heap = nullptr;
}

}  // namespace polyprof_node
