// Mode 'v8': V8's own CpuProfiler samples the isolate's thread, and its
// CpuProfile becomes a core profile (pp_profile_create / pp_profile_append),
// written by the core's writers like any other.
//
// What V8's sampler measures: a sampler thread wakes every interval of wall
// time and interrupts the JavaScript thread to record its stack, whether that
// thread is running JavaScript, in native code, or waiting in the event loop
// (then the sample is "(program)" or "(idle)"). So the time value is labelled
// "wall": it is wall time of this one thread, not CPU time. Only JavaScript
// frames are recorded, never native ones.
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstring>
#include <string>
#include <unordered_map>

#include "addon.h"

namespace polyprof_node {

namespace {

// V8's nodes for where time went outside any JavaScript function; "(root)"
// is the tree's root and never becomes a frame.
bool IsSpecial(const v8::CpuProfileNode* n, const char* name) {
  if (n->GetScriptId() != 0) return false;
  return !strcmp(name, "(program)") || !strcmp(name, "(idle)") || !strcmp(name, "(garbage collector)");
}

// A function's identity as V8's profiler reports it in kLeafNodeLineNumbers
// mode: script id and the 1-based line and column where the function starts.
struct FunctionId {
  int script_id = 0, line = 0, column = 0;
  bool Matches(const v8::CpuProfileNode* n) const {
    return n->GetScriptId() == script_id && n->GetLineNumber() == line && n->GetColumnNumber() == column;
  }
};

bool GetInt(v8::Local<v8::Context> ctx, v8::Local<v8::Object> o, const char* key, int64_t* out) {
  v8::Local<v8::Value> v;
  if (!o->Get(ctx, Str(v8_compat::IsolateOf(ctx), key)).ToLocal(&v) || !v->IsNumber()) return false;
  *out = static_cast<int64_t>(v.As<v8::Number>()->Value());
  return true;
}

std::string GetString(v8::Local<v8::Context> ctx, v8::Local<v8::Object> o, const char* key) {
  v8::Local<v8::Value> v;
  if (!o->Get(ctx, Str(v8_compat::IsolateOf(ctx), key)).ToLocal(&v) || !v->IsString()) return std::string();
  v8::String::Utf8Value s(v8_compat::IsolateOf(ctx), v);
  return std::string(*s, static_cast<size_t>(s.length()));
}

void AddMetadata(pp_profile* p, const char* key, const std::string& value) {
  std::string line = std::string(key) + "=" + value;
  pp_profile_add_metadata(p, line.c_str());
}

pp_profile* NewProfile(const V8Session& s) {
  // Last value type is what reports rank by: wall time of the JS thread.
  static const char* const types[] = {"samples", "wall"};
  static const char* const units[] = {"count", "nanoseconds"};
  return pp_profile_create(types, units, 2, "wall", "nanoseconds", static_cast<int64_t>(s.interval_us) * 1000);
}

// V8 names functions without a name "(anonymous)". Reports and `go tool
// pprof -top` show function names only, so every anonymous function of a
// file (callbacks, the module's own top level) would read the same: the name
// carries where the function starts, e.g. "(anonymous app.js:12)".
const char* AnonymousName(std::unordered_map<const v8::CpuProfileNode*, std::string>& cache,
                          const v8::CpuProfileNode* n, const char* file, int line) {
  auto [it, fresh] = cache.try_emplace(n);
  if (fresh) {
    const char* base = file ? strrchr(file, '/') : nullptr;
    base = base ? base + 1 : file;
    if (!base || !*base)
      it->second = "(anonymous)";
    else if (line > 0)
      it->second = std::string("(anonymous ") + base + ":" + std::to_string(line) + ")";
    else
      it->second = std::string("(anonymous ") + base + ")";
  }
  return it->second.c_str();  // node-based map: the string stays put
}

}  // namespace

// The profiler exists from the addon's load to the environment's end, with
// eager logging: its code map follows V8's code from now on. Created at the
// first v8Start instead, it would name what existed before by V8's
// enumeration of existing code, which misses on-stack-replacement code (held
// only in feedback vectors): a loop warmed up before the start showed as its
// caller, or not at all (Node 22 and later). Sampling runs only while a
// session does.
void V8Prepare(Addon* addon) {
  if (addon->profiler) return;
  addon->profiler = v8::CpuProfiler::New(addon->isolate, v8::kDebugNaming, v8::kEagerLogging);
}

// v8Start(intervalUs) -> [session id, interval V8 samples it at]. Starts a V8 CpuProfiler session on this
// environment's isolate (the calling thread). Sessions run side by side
// (start() next to profile() or an endpoint window); V8 samples them at
// multiples of the first one's interval.
void V8Start(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  Addon* addon = AddonOf(args);
  if (!args[0]->IsInt32() || args[0].As<v8::Int32>()->Value() <= 0)
    return ThrowTypeError(isolate, "v8Start: interval must be a positive number of microseconds");
  int interval_us = args[0].As<v8::Int32>()->Value();
  V8Prepare(addon);
  if (!addon->profiler) return ThrowError(isolate, "V8 could not create a CPU profiler");
  if (addon->sessions.empty()) {
    // Must be set while no profile records: the sampler's base period.
    addon->profiler->SetSamplingInterval(interval_us);
    addon->base_interval_us = interval_us;
  }
  // kLeafNodeLineNumbers: a node is one function (its first line and column),
  // the identity profileEndpoint matches on. In kCallerLineNumbers mode the
  // API reports the current line instead and the function's first line is lost.
  v8::CpuProfilingOptions opts(v8::kLeafNodeLineNumbers, v8::CpuProfilingOptions::kNoSampleLimit, interval_us);
  v8::CpuProfilingResult r = addon->profiler->Start(std::move(opts));
  if (r.status != v8::CpuProfilingStatus::kStarted) {
    return ThrowError(isolate, r.status == v8::CpuProfilingStatus::kErrorTooManyProfilers
                                   ? "V8 refused to start another CPU profile: too many running at once"
                                   : "V8 could not start a CPU profile");
  }
  // What V8 will use: the per-profile interval snapped down to a multiple of
  // the base one, and never below it.
  int base = addon->base_interval_us;
  int effective = interval_us <= base ? base : interval_us / base * base;
  addon->sessions.push_back(V8Session{r.id, effective, RealtimeNs(), static_cast<int64_t>(syscall(SYS_gettid))});
  v8::Local<v8::Value> out[2] = {v8::Number::New(isolate, r.id), v8::Integer::New(isolate, effective)};
  args.GetReturnValue().Set(v8::Array::New(isolate, out, 2));
}

// v8Stop(id, {threadName, durationUs, spec, endpoint?: {scriptId, line,
// column, value}}) -> Profile, or {profile, inside} with an endpoint.
//
// Each distinct V8 node (a call path) becomes one sample: values are its
// sample count and the wall time its samples stand for, labels thread_id and
// thread_name. Every sample stands for an equal share of the profile's wall
// time (elapsed / samples), not for the gap to the next sample as DevTools
// counts it: what the thread did in that gap was not observed, and one stall
// of V8's sampler thread on a busy machine would hand its whole gap to
// whichever stack was sampled before it (seen: a 3:1 split read as 83:17).
// Samples past durationUs are not kept.
// With an endpoint, only samples whose stack holds that function are kept,
// labelled endpoint=<value>; `inside` has the same samples cut so that the
// rootmost frame of that function is their root (pprof's show_from, matched
// by V8's exact function identity, not by name: anonymous handlers abound).
void V8Stop(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  v8::Local<v8::Context> ctx = isolate->GetCurrentContext();
  Addon* addon = AddonOf(args);
  if (!args[0]->IsNumber() || !args[1]->IsObject())
    return ThrowTypeError(isolate, "v8Stop(id, settings): bad arguments");
  auto id = static_cast<v8::ProfilerId>(args[0].As<v8::Number>()->Value());
  auto it = std::find_if(addon->sessions.begin(), addon->sessions.end(),
                         [id](const V8Session& s) { return s.id == id; });
  if (it == addon->sessions.end() || !addon->profiler)
    return ThrowError(isolate, "this V8 profile is not running (already stopped?)");
  V8Session session = *it;
  addon->sessions.erase(it);

  v8::Local<v8::Object> settings = args[1].As<v8::Object>();
  std::string thread_name = GetString(ctx, settings, "threadName");
  std::string spec = GetString(ctx, settings, "spec");
  int64_t duration_us = 0;
  GetInt(ctx, settings, "durationUs", &duration_us);
  bool with_endpoint = false;
  FunctionId endpoint;
  std::string endpoint_value;
  v8::Local<v8::Value> ev;
  if (settings->Get(ctx, Str(isolate, "endpoint")).ToLocal(&ev) && ev->IsObject()) {
    v8::Local<v8::Object> e = ev.As<v8::Object>();
    int64_t sid = 0, line = 0, col = 0;
    GetInt(ctx, e, "scriptId", &sid);
    GetInt(ctx, e, "line", &line);
    GetInt(ctx, e, "column", &col);
    endpoint.script_id = static_cast<int>(sid);
    endpoint.line = static_cast<int>(line);
    endpoint.column = static_cast<int>(col);
    endpoint_value = GetString(ctx, e, "value");
    with_endpoint = true;
  }

  v8::CpuProfile* cpu = addon->profiler->Stop(session.id);
  if (!cpu) {
    return ThrowError(isolate, "V8 returned no profile for this session");
  }

  const int64_t start = cpu->GetStartTime();
  const int64_t deadline = duration_us > 0 ? start + duration_us : INT64_MAX;
  const int64_t end = std::min(cpu->GetEndTime(), deadline);
  struct Agg {
    const v8::CpuProfileNode* node;
    int64_t count;
  };
  std::vector<Agg> aggs;
  std::unordered_map<const v8::CpuProfileNode*, size_t> index;
  const int n = cpu->GetSamplesCount();
  int64_t kept = 0;
  for (int i = 0; i < n; i++) {
    int64_t ts = cpu->GetSampleTimestamp(i);
    if (ts > deadline) break;  // timestamps only grow
    const v8::CpuProfileNode* node = cpu->GetSample(i);
    auto [slot, fresh] = index.try_emplace(node, aggs.size());
    if (fresh) aggs.push_back(Agg{node, 0});
    aggs[slot->second].count++;
    kept++;
  }
  const int64_t duration_ns = std::max<int64_t>(0, end - start) * 1000;
  // Wall time per stack in proportion to its samples, from a running sum so
  // that the parts add up to the elapsed time exactly (128-bit: ns x samples
  // overflows 64 bits after a few hours).
  int64_t counted = 0, assigned_ns = 0;

  pp_profile* full = NewProfile(session);
  pp_profile* inside = with_endpoint ? NewProfile(session) : nullptr;
  bool ok = full && (!with_endpoint || inside);
  std::vector<pp_frame_spec> frames;
  std::unordered_map<const v8::CpuProfileNode*, std::string> anonymous_names;
  pp_label_view labels[3] = {
      {"thread_id", nullptr, session.thread_id},
      {"thread_name", thread_name.c_str(), 0},
      {"endpoint", endpoint_value.c_str(), 0},
  };
  for (size_t a = 0; ok && a < aggs.size(); a++) {
    frames.clear();
    int cut = -1;  // index of the rootmost endpoint frame
    // Leaf first, up to but not including V8's "(root)" (the one node without a parent).
    for (const v8::CpuProfileNode* nd = aggs[a].node; nd && nd->GetParent(); nd = nd->GetParent()) {
      const char* name = nd->GetFunctionNameStr();
      pp_frame_spec f;
      f.kind = IsSpecial(nd, name) ? 2 : 1;
      f.file = nd->GetScriptResourceNameStr();
      // The function's first line: V8 records no current line per sample in
      // this mode (see V8Start), so line and start_line are both that.
      int line = nd->GetLineNumber();
      f.line = f.start_line = line > 0 ? line : 0;
      f.name = name && *name ? name : AnonymousName(anonymous_names, nd, f.file, line);
      if (with_endpoint && endpoint.Matches(nd)) cut = static_cast<int>(frames.size());
      frames.push_back(f);
    }
    if (with_endpoint && cut < 0) continue;
    counted += aggs[a].count;
    int64_t upto_ns = static_cast<int64_t>(static_cast<__int128>(duration_ns) * counted / kept);
    int64_t values[2] = {aggs[a].count, upto_ns - assigned_ns};
    assigned_ns = upto_ns;
    uint32_t n_labels = with_endpoint ? 3 : 2;
    if (pp_profile_append(full, frames.data(), static_cast<uint32_t>(frames.size()), labels, n_labels, values) != 0)
      ok = false;
    else if (with_endpoint &&
             pp_profile_append(inside, frames.data(), static_cast<uint32_t>(cut + 1), labels, n_labels, values) != 0)
      ok = false;
  }
  cpu->Delete();

  for (pp_profile* p : {full, inside}) {
    if (!ok || !p) continue;
    pp_profile_set_times(p, session.wall_start_ns, duration_ns);
    AddMetadata(p, "samples_taken", std::to_string(kept));
    AddMetadata(p, "sampler", "v8-cpu-profiler");
    AddMetadata(p, "options", spec);
  }
  if (!ok) {
    pp_profile_free(full);
    pp_profile_free(inside);
    return ThrowError(isolate, "polyprof: out of memory while converting the V8 profile");
  }
  v8::Local<v8::Object> full_obj, inside_obj;
  if (!WrapProfile(addon, full).ToLocal(&full_obj)) {
    pp_profile_free(inside);
    return;
  }
  if (!with_endpoint) return args.GetReturnValue().Set(full_obj);
  if (!WrapProfile(addon, inside).ToLocal(&inside_obj)) return;
  v8::Local<v8::Object> out = v8::Object::New(isolate);
  if (out->Set(ctx, Str(isolate, "profile"), full_obj).IsNothing() ||
      out->Set(ctx, Str(isolate, "inside"), inside_obj).IsNothing())
    return;
  args.GetReturnValue().Set(out);
}

// functionLocation(fn) -> {name, file, scriptId, line, column}: the identity
// V8's profiler gives fn's frames (1-based line and column of its start).
// Bound functions stand for their target.
void FunctionLocation(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  v8::Local<v8::Context> ctx = isolate->GetCurrentContext();
  if (!args[0]->IsFunction()) return ThrowTypeError(isolate, "expected a function");
  v8::Local<v8::Function> fn = args[0].As<v8::Function>();
  for (int hops = 0; hops < 16; hops++) {
    v8::Local<v8::Value> target = fn->GetBoundFunction();
    if (!target->IsFunction()) break;
    fn = target.As<v8::Function>();
  }
  if (fn->ScriptId() == v8::UnboundScript::kNoScriptId) {
    args.GetReturnValue().Set(v8::Null(isolate));  // native or builtin: no JavaScript frame to find
    return;
  }
  v8::Local<v8::Value> name = fn->GetDebugName();
  v8::Local<v8::Value> file = fn->GetScriptOrigin().ResourceName();
  if (!name->IsString()) name = v8::String::Empty(isolate);
  if (!file->IsString()) file = v8::String::Empty(isolate);
  v8::Local<v8::Object> out = v8::Object::New(isolate);
  if (out->Set(ctx, Str(isolate, "name"), name).IsNothing() ||
      out->Set(ctx, Str(isolate, "file"), file).IsNothing() ||
      out->Set(ctx, Str(isolate, "scriptId"), v8::Integer::New(isolate, fn->ScriptId())).IsNothing() ||
      out->Set(ctx, Str(isolate, "line"), v8::Integer::New(isolate, fn->GetScriptLineNumber() + 1)).IsNothing() ||
      out->Set(ctx, Str(isolate, "column"), v8::Integer::New(isolate, fn->GetScriptColumnNumber() + 1)).IsNothing())
    return;
  args.GetReturnValue().Set(out);
}

void V8Teardown(Addon* addon) {
  if (!addon->profiler) return;
  for (const V8Session& s : addon->sessions) {
    if (v8::CpuProfile* p = addon->profiler->Stop(s.id)) p->Delete();
  }
  addon->sessions.clear();
  addon->profiler->Dispose();
  addon->profiler = nullptr;
}

}  // namespace polyprof_node
