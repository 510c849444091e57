// The core's production controls for Node: the environment's configuration
// (pp_env_config_read), continuous profiling windows (pp_continuous_*), the
// allocation windows' Pyroscope pushers (pp_push_*) and
// the local store (pp_store_*). Policy stays in the core: this file converts
// arguments, and carries each finished window from the core's thread to the
// JavaScript exporter on the event loop (a uv_async handle that does not
// keep the program alive).
#include <uv.h>

#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "addon.h"

namespace polyprof_node {

namespace {

constexpr size_t kErrLen = 512;

const char* RealGetenv(const char* name) { return getenv(name); }

bool SetStr(v8::Local<v8::Context> ctx, v8::Local<v8::Object> o, const char* k, const std::string& v) {
  v8::Isolate* isolate = v8_compat::IsolateOf(ctx);
  return o->Set(ctx, Str(isolate, k), Str(isolate, v.c_str())).IsJust();
}

bool SetNum(v8::Local<v8::Context> ctx, v8::Local<v8::Object> o, const char* k, double v) {
  v8::Isolate* isolate = v8_compat::IsolateOf(ctx);
  return o->Set(ctx, Str(isolate, k), v8::Number::New(isolate, v)).IsJust();
}

// The options as {key: value} in the core's grammar (ns and bytes).
v8::Local<v8::Object> OptionsObject(v8::Local<v8::Context> ctx, const pp_options& o) {
  v8::Local<v8::Object> out = v8::Object::New(v8_compat::IsolateOf(ctx));
  auto ns = [](uint64_t v) { return std::to_string(v) + "ns"; };
  SetStr(ctx, out, "event", o.mode == PP_MODE_WALL ? "wall" : o.mode == PP_MODE_ALLOC ? "alloc" : "cpu");
  SetStr(ctx, out, "alloc_interval", std::to_string(o.alloc_interval));
  SetStr(ctx, out, "interval", ns(o.interval_ns));
  SetStr(ctx, out, "duration", ns(o.duration_ns));
  SetStr(ctx, out, "native", o.native ? "true" : "false");
  SetStr(ctx, out, "signal", std::to_string(o.signo));
  SetStr(ctx, out, "memory", std::to_string(o.max_memory));
  SetStr(ctx, out, "window", ns(o.window_ns));
  SetStr(ctx, out, "store", o.store);
  SetStr(ctx, out, "store_max_age", ns(o.store_max_age_ns));
  SetStr(ctx, out, "store_max_bytes", std::to_string(o.store_max_bytes));
  if (o.service[0]) SetStr(ctx, out, "service", o.service);
  if (o.endpoint[0]) SetStr(ctx, out, "endpoint", o.endpoint);
  if (o.endpoint_remote) SetStr(ctx, out, "endpoint_remote", "true");
  if (o.endpoint_token_file[0]) SetStr(ctx, out, "endpoint_token_file", o.endpoint_token_file);
  if (o.store_key_file[0]) SetStr(ctx, out, "store_key_file", o.store_key_file);
  struct PushKeys {
    v8::Local<v8::Context> ctx;
    v8::Local<v8::Object> out;
  } push{ctx, out};
  pp_options_each_push_key(
      &o, [](void* p, const char* k, const char* v) {
        auto* pk = static_cast<PushKeys*>(p);
        SetStr(pk->ctx, pk->out, k, v);
      },
      &push);
  return out;
}

// envConfig() -> {enabled, options, warnings}; throws naming the variable.
void EnvConfig(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  v8::Local<v8::Context> ctx = isolate->GetCurrentContext();
  pp_env_config c;
  char err[kErrLen];
  if (pp_env_config_read(&c, RealGetenv, err, sizeof err) != 0) return ThrowError(isolate, err);
  v8::Local<v8::Object> out = v8::Object::New(isolate);
  v8::Local<v8::Array> warnings = v8::Array::New(isolate, c.n_warnings);
  for (int i = 0; i < c.n_warnings; i++)
    if (warnings->Set(ctx, i, Str(isolate, c.warnings[i])).IsNothing()) return;
  if (out->Set(ctx, Str(isolate, "enabled"), v8::Boolean::New(isolate, c.enabled)).IsNothing() ||
      out->Set(ctx, Str(isolate, "options"), OptionsObject(ctx, c.options)).IsNothing() ||
      out->Set(ctx, Str(isolate, "warnings"), warnings).IsNothing())
    return;
  args.GetReturnValue().Set(out);
}

// ------------------------------------------------------------------ continuous

struct Window {
  pp_profile* profile;
  pp_window_info info;
};

struct ContinuousHandle {
  Addon* addon;
  pp_continuous* continuous = nullptr;
  v8::Global<v8::Function> exporter;  // empty: windows go to the store
  v8::Global<v8::Context> context;    // where the exporter runs
  uv_async_t async;
  std::mutex lock;
  std::deque<Window> pending;  // finished windows not handed to JavaScript yet
  bool closed = false;
};

// Push counters as the core reports them (stop() returns the last ones, so
// that pushStats() still answers after stop()).
struct PushFinal {
  int pushed = -1;  // 0: it pushed, -1: no push
  pp_push_stats stats{};
};

// The core's continuous thread: queue the window for the event loop.
int QueueWindow(void* ctx, pp_profile* window, const pp_window_info* info) {
  auto* h = static_cast<ContinuousHandle*>(ctx);
  {
    std::lock_guard<std::mutex> g(h->lock);
    h->pending.push_back(Window{window, *info});
  }
  uv_async_send(&h->async);
  return 0;
}

// Event loop: hand queued windows to the exporter (the JavaScript side
// wraps it so that its errors are reported and never reach the program).
void Deliver(ContinuousHandle* h) {
  v8::Isolate* isolate = h->addon->isolate;
  v8::HandleScope scope(isolate);
  if (h->context.IsEmpty() || h->exporter.IsEmpty()) return;
  v8::Local<v8::Context> ctx = h->context.Get(isolate);
  v8::Context::Scope context_scope(ctx);
  for (;;) {
    Window w;
    {
      std::lock_guard<std::mutex> g(h->lock);
      if (h->pending.empty()) return;
      w = h->pending.front();
      h->pending.pop_front();
    }
    v8::Local<v8::Object> prof;
    if (!WrapProfile(h->addon, w.profile).ToLocal(&prof)) continue;
    v8::Local<v8::Object> md = v8::Object::New(isolate);
    SetStr(ctx, md, "trigger", "continuous");
    SetNum(ctx, md, "window", static_cast<double>(w.info.index));
    SetNum(ctx, md, "start", static_cast<double>(w.info.start_unix_ns) / 1e9);
    SetNum(ctx, md, "end", static_cast<double>(w.info.end_unix_ns) / 1e9);
    v8::Local<v8::Value> argv[] = {prof, md};
    // A callback scope, as for any callback from native code: promises the
    // exporter starts run their microtasks.
    node::CallbackScope cb(isolate, v8::Object::New(isolate), node::async_context{0, 0});
    v8::TryCatch tc(isolate);
    v8::Local<v8::Value> ignored;
    if (!h->exporter.Get(isolate)->Call(ctx, v8::Undefined(isolate), 2, argv).ToLocal(&ignored)) continue;
  }
}

void OnAsync(uv_async_t* a) {
  auto* h = static_cast<ContinuousHandle*>(a->data);
  if (!h->closed) Deliver(h);
}

void OnClosed(uv_handle_t* a) { delete static_cast<ContinuousHandle*>(a->data); }

// Stops the core's windows (the last one is queued), hands what is queued
// to the exporter now, and releases the handle.
// wait_for_push false: windows queued for Pyroscope go out in the
// background (final then holds the counters as stop began).
void StopHandle(ContinuousHandle* h, bool deliver, PushFinal* final = nullptr, bool wait_for_push = true) {
  if (h->continuous) {
    PushFinal f;
    if (wait_for_push) {
      f.pushed = pp_continuous_finish(h->continuous, &f.stats);
    } else {
      f.pushed = pp_continuous_push_stats(h->continuous, &f.stats);
      pp_continuous_stop_nowait(h->continuous);
    }
    if (final) *final = f;
    h->continuous = nullptr;
  }
  if (deliver && !h->exporter.IsEmpty()) Deliver(h);
  {
    std::lock_guard<std::mutex> g(h->lock);
    for (Window& w : h->pending) pp_profile_free(w.profile);
    h->pending.clear();
  }
  h->closed = true;
  h->exporter.Reset();
  h->context.Reset();
  h->addon->continuous.erase(h);
  uv_close(reinterpret_cast<uv_handle_t*>(&h->async), OnClosed);
}

ContinuousHandle* HandleOf(const v8::FunctionCallbackInfo<v8::Value>& args) {
  if (!args[0]->IsExternal()) {
    ThrowTypeError(args.GetIsolate(), "not a continuous profiling handle");
    return nullptr;
  }
  auto* h = static_cast<ContinuousHandle*>(v8_compat::ExternalValue(args[0]));
  if (!AddonOf(args)->continuous.count(h)) {
    ThrowError(args.GetIsolate(), "this continuous profiler was already stopped");
    return nullptr;
  }
  return h;
}

// continuousStart(options, exporter?) -> handle
void ContinuousStart(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  Addon* addon = AddonOf(args);
  pp_options o;
  if (!OptionsFrom(isolate, args[0], &o)) return;
  if (!args[1]->IsUndefined() && !args[1]->IsNull() && !args[1]->IsFunction())
    return ThrowTypeError(isolate, "exporter must be a function (profile, metadata) => {}, or undefined");
  auto* h = new ContinuousHandle();
  h->addon = addon;
  if (args[1]->IsFunction()) {
    h->exporter.Reset(isolate, args[1].As<v8::Function>());
    h->context.Reset(isolate, isolate->GetCurrentContext());
  }
  uv_loop_t* loop = node::GetCurrentEventLoop(isolate);
  if (!loop || uv_async_init(loop, &h->async, OnAsync) != 0) {
    delete h;
    return ThrowError(isolate, "cannot attach continuous profiling to the event loop");
  }
  h->async.data = h;
  uv_unref(reinterpret_cast<uv_handle_t*>(&h->async));  // never keeps the program alive
  char err[kErrLen] = "";
  h->continuous = pp_continuous_start(&o, h->exporter.IsEmpty() ? nullptr : QueueWindow, h, err, sizeof err);
  addon->continuous.insert(h);
  if (!h->continuous) {
    StopHandle(h, false);
    return ThrowError(isolate, err[0] ? err : "cannot start continuous profiling");
  }
  args.GetReturnValue().Set(v8_compat::NewExternal(isolate, h));
}

v8::Local<v8::Value> PushStatsObject(v8::Isolate* isolate, const PushFinal& f) {
  if (f.pushed != 0) return v8::Null(isolate);
  v8::Local<v8::Context> ctx = isolate->GetCurrentContext();
  v8::Local<v8::Object> o = v8::Object::New(isolate);
  SetNum(ctx, o, "pushed", static_cast<double>(f.stats.pushed));
  SetNum(ctx, o, "failedAttempts", static_cast<double>(f.stats.failed_attempts));
  SetNum(ctx, o, "droppedQueueFull", static_cast<double>(f.stats.dropped_queue_full));
  SetNum(ctx, o, "droppedRejected", static_cast<double>(f.stats.dropped_rejected));
  SetNum(ctx, o, "queued", static_cast<double>(f.stats.queued));
  return o;
}

// continuousStop(handle, waitForPush = true) -> the push counters after the
// last flush (without waiting: as stop began), or null without push. The
// last window goes to the exporter before it returns.
void ContinuousStop(const v8::FunctionCallbackInfo<v8::Value>& args) {
  ContinuousHandle* h = HandleOf(args);
  if (!h) return;
  PushFinal f;
  StopHandle(h, true, &f, !args[1]->IsFalse());
  args.GetReturnValue().Set(PushStatsObject(args.GetIsolate(), f));
}

// continuousPushStats(handle) -> the push counters now, or null without push.
void ContinuousPushStats(const v8::FunctionCallbackInfo<v8::Value>& args) {
  ContinuousHandle* h = HandleOf(args);
  if (!h) return;
  PushFinal f;
  f.pushed = pp_continuous_push_stats(h->continuous, &f.stats);
  args.GetReturnValue().Set(PushStatsObject(args.GetIsolate(), f));
}

// ------------------------------------------------------------------ pushers

// The allocation windows' own Pyroscope pusher (pp_push_open): they are cut
// on the event loop, not by the core's continuous thread, so they are queued
// here, with the same queue, uploader thread, credentials and counters as a
// continuous profile's push.
struct PushHandle {
  pp_push* push;
};

PushHandle* PushHandleOf(Addon* addon, v8::Isolate* isolate, v8::Local<v8::Value> v) {
  if (!v->IsExternal()) {
    ThrowTypeError(isolate, "not a push handle");
    return nullptr;
  }
  auto* h = static_cast<PushHandle*>(v8_compat::ExternalValue(v));
  if (!addon->pushers.count(h)) {
    ThrowError(isolate, "this pusher was already stopped");
    return nullptr;
  }
  return h;
}

// Frees the handle; the pusher sends what is queued for push_flush at most,
// before it returns (wait) or on a thread of its own.
void StopPusher(Addon* addon, PushHandle* h, bool wait, pp_push_stats* final) {
  addon->pushers.erase(h);
  pp_push* p = h->push;
  delete h;
  if (wait) return pp_push_stop(p, final);
  if (final) pp_push_get_stats(p, final);
  std::thread([p] { pp_push_stop(p, nullptr); }).detach();
}

// pushOpen(options with push=URL and the push_* keys) -> handle
void PushOpen(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  pp_options o;
  if (!OptionsFrom(isolate, args[0], &o)) return;
  if (!o.push_url[0]) return ThrowError(isolate, "pushOpen: the options have no push URL");
  char err[kErrLen] = "";
  pp_push* p = pp_push_open(&o, err, sizeof err);
  if (!p) return ThrowError(isolate, err[0] ? err : "cannot start pushing to Pyroscope");
  auto* h = new PushHandle{p};
  AddonOf(args)->pushers.insert(h);
  args.GetReturnValue().Set(v8_compat::NewExternal(isolate, h));
}

// pushProfile(handle, profile, startMs, endMs): queues the window (never
// waits for the network).
void PushProfile(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  Addon* addon = AddonOf(args);
  if (!args[2]->IsNumber() || !args[3]->IsNumber())
    return ThrowTypeError(isolate, "pushProfile(handle, profile, startMs, endMs)");
  pp_profile* p = UnwrapProfile(addon, args[1]);
  if (!p) return;
  PushWindow(addon, args[0], p, args[2].As<v8::Number>()->Value(), args[3].As<v8::Number>()->Value());
}

// pushStats(handle) -> the counters now
void PushStats(const v8::FunctionCallbackInfo<v8::Value>& args) {
  PushHandle* h = PushHandleOf(AddonOf(args), args.GetIsolate(), args[0]);
  if (!h) return;
  PushFinal f;
  f.pushed = 0;
  pp_push_get_stats(h->push, &f.stats);
  args.GetReturnValue().Set(PushStatsObject(args.GetIsolate(), f));
}

// pushStop(handle, wait = true) -> the counters after the last flush (push_flush
// at most); without waiting, as stop began, the uploads going on in the background.
void PushStop(const v8::FunctionCallbackInfo<v8::Value>& args) {
  Addon* addon = AddonOf(args);
  PushHandle* h = PushHandleOf(addon, args.GetIsolate(), args[0]);
  if (!h) return;
  PushFinal f;
  f.pushed = 0;
  StopPusher(addon, h, !args[1]->IsFalse(), &f.stats);
  args.GetReturnValue().Set(PushStatsObject(args.GetIsolate(), f));
}

// continuousWindows(handle) -> windows exported so far
void ContinuousWindows(const v8::FunctionCallbackInfo<v8::Value>& args) {
  ContinuousHandle* h = HandleOf(args);
  if (h)
    args.GetReturnValue().Set(v8::Number::New(args.GetIsolate(), static_cast<double>(pp_continuous_windows(h->continuous))));
}

// ------------------------------------------------------------------ latency policies

// A JavaScript object that owns a core object: freed when it is collected.
struct Owned {
  void* ptr;
  void (*free_fn)(void*);
  v8::Global<v8::Object> self;
};

void OnOwnedCollected(const v8::WeakCallbackInfo<Owned>& info) {
  Owned* o = info.GetParameter();
  o->free_fn(o->ptr);
  o->self.Reset();
  delete o;
}

v8::Local<v8::Object> MakeOwned(v8::Isolate* isolate, void* ptr, void (*free_fn)(void*)) {
  v8::Local<v8::Object> obj = v8::Object::New(isolate);
  auto* o = new Owned{ptr, free_fn, v8::Global<v8::Object>(isolate, obj)};
  if (obj->Set(isolate->GetCurrentContext(), Str(isolate, "ptr"), v8_compat::NewExternal(isolate, ptr)).IsNothing()) {
    // Only with an exception pending; the caller's return reports it.
  }
  o->self.SetWeak(o, OnOwnedCollected, v8::WeakCallbackType::kParameter);
  return obj;
}

void* OwnedPtr(v8::Isolate* isolate, v8::Local<v8::Value> v) {
  if (!v->IsObject()) return nullptr;
  v8::Local<v8::Value> p;
  if (!v.As<v8::Object>()->Get(isolate->GetCurrentContext(), Str(isolate, "ptr")).ToLocal(&p) || !p->IsExternal())
    return nullptr;
  return v8_compat::ExternalValue(p);
}

double Num(v8::Local<v8::Value> v, double fallback) { return v->IsNumber() ? v.As<v8::Number>()->Value() : fallback; }

uint64_t NowArg(v8::Local<v8::Value> v) {
  double d = Num(v, 0);
  return d > 0 ? static_cast<uint64_t>(d) : 0;
}

void FreeBreaker(void* p) { pp_breaker_free(static_cast<pp_breaker*>(p)); }
void FreeTrigger(void* p) { pp_trigger_free(static_cast<pp_trigger*>(p)); }

// breakerNew(maxIncreasePct, violationThreshold, cooldownSeconds)
void BreakerNew(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  double cooldown = Num(args[2], -1);
  if (!args[0]->IsNumber() || !args[1]->IsNumber() || cooldown < 0)
    return ThrowTypeError(isolate, "breakerNew(maxLatencyIncreasePct, violationThreshold, cooldownSeconds >= 0)");
  char err[kErrLen];
  pp_breaker* b = pp_breaker_new(Num(args[0], 0), static_cast<int>(Num(args[1], 0)),
                                 static_cast<uint64_t>(cooldown * 1e9), err, sizeof err);
  if (!b) return ThrowError(isolate, err);
  args.GetReturnValue().Set(MakeOwned(isolate, b, FreeBreaker));
}

// breakerRecord(b, currentMs, baselineMs (-1: learned), profiling, nowNs) -> tripped
void BreakerRecord(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  auto* b = static_cast<pp_breaker*>(OwnedPtr(isolate, args[0]));
  if (!b) return ThrowTypeError(isolate, "not a breaker");
  int tripped = pp_breaker_record(b, Num(args[1], -1), Num(args[2], -1), args[3]->BooleanValue(isolate), NowArg(args[4]));
  args.GetReturnValue().Set(v8::Boolean::New(isolate, tripped));
}

// breakerState(b, nowNs) -> {open, trips, lastTripNs, violations, baselineMs}
void BreakerState(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  v8::Local<v8::Context> ctx = isolate->GetCurrentContext();
  auto* b = static_cast<pp_breaker*>(OwnedPtr(isolate, args[0]));
  if (!b) return ThrowTypeError(isolate, "not a breaker");
  pp_breaker_state st;
  pp_breaker_get_state(b, NowArg(args[1]), &st);
  v8::Local<v8::Object> out = v8::Object::New(isolate);
  if (out->Set(ctx, Str(isolate, "open"), v8::Boolean::New(isolate, st.open)).IsNothing()) return;
  SetNum(ctx, out, "trips", static_cast<double>(st.trips));
  SetNum(ctx, out, "lastTripNs", static_cast<double>(st.last_trip_ns));
  SetNum(ctx, out, "violations", st.violations);
  SetNum(ctx, out, "baselineMs", st.baseline_ms);
  args.GetReturnValue().Set(out);
}

// rateLimit(maxCaptures, windowSeconds)
void RateLimit(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  double n = Num(args[0], 0), w = Num(args[1], 0);
  char err[kErrLen];
  if (!(w > 0) || n < 1 || pp_rate_limit_configure(static_cast<uint32_t>(n), static_cast<uint64_t>(w * 1e9), err, sizeof err) != 0)
    return ThrowError(isolate, !(w > 0) ? "rate limit window must be positive" : (n < 1 ? "rate limit: expected at least 1 capture per window" : err));
}

// triggerNew(thresholdMs, cooldownSeconds)
void TriggerNew(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  double cooldown = Num(args[1], -1);
  if (!args[0]->IsNumber() || cooldown < 0) return ThrowTypeError(isolate, "triggerNew(thresholdMs, cooldownSeconds >= 0)");
  char err[kErrLen];
  pp_trigger* t = pp_trigger_new(Num(args[0], 0), static_cast<uint64_t>(cooldown * 1e9), err, sizeof err);
  if (!t) return ThrowError(isolate, err);
  args.GetReturnValue().Set(MakeOwned(isolate, t, FreeTrigger));
}

// triggerRecord(t, ms, nowNs) -> [fire, p95 | null]
void TriggerRecord(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  auto* t = static_cast<pp_trigger*>(OwnedPtr(isolate, args[0]));
  if (!t) return ThrowTypeError(isolate, "not a trigger");
  double p95;
  int fire = pp_trigger_record(t, Num(args[1], -1), NowArg(args[2]), &p95);
  v8::Local<v8::Value> pair[2] = {v8::Boolean::New(isolate, fire),
                                  p95 < 0 ? v8::Local<v8::Value>(v8::Null(isolate)) : v8::Local<v8::Value>(v8::Number::New(isolate, p95))};
  args.GetReturnValue().Set(v8::Array::New(isolate, pair, 2));
}

// triggerManual(t, nowNs) -> allowed
void TriggerManual(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  auto* t = static_cast<pp_trigger*>(OwnedPtr(isolate, args[0]));
  if (!t) return ThrowTypeError(isolate, "not a trigger");
  args.GetReturnValue().Set(v8::Boolean::New(isolate, pp_trigger_manual(t, NowArg(args[1]))));
}

// ------------------------------------------------------------------ timed captures

struct CaptureHandle {
  Addon* addon;
  pp_capture* capture = nullptr;
  v8::Global<v8::Function> on_done;  // (profile, start, end)
  v8::Global<v8::Context> context;
  uv_async_t async;
  std::mutex lock;
  pp_profile* result = nullptr;
  pp_capture_info info{};
  bool delivered = false;
};

int CaptureDone(void* ctx, pp_profile* p, const pp_capture_info* info) {
  auto* h = static_cast<CaptureHandle*>(ctx);
  {
    std::lock_guard<std::mutex> g(h->lock);
    h->result = p;
    h->info = *info;
  }
  uv_async_send(&h->async);
  return 0;
}

void DeliverCapture(CaptureHandle* h) {
  pp_profile* p;
  pp_capture_info info;
  {
    std::lock_guard<std::mutex> g(h->lock);
    p = h->result;
    info = h->info;
    h->result = nullptr;
  }
  if (!p || h->delivered) {
    pp_profile_free(p);
    return;
  }
  h->delivered = true;
  v8::Isolate* isolate = h->addon->isolate;
  v8::HandleScope scope(isolate);
  v8::Local<v8::Context> ctx = h->context.Get(isolate);
  v8::Context::Scope context_scope(ctx);
  v8::Local<v8::Object> prof;
  if (!WrapProfile(h->addon, p).ToLocal(&prof)) return;
  v8::Local<v8::Value> argv[] = {prof, v8::Number::New(isolate, static_cast<double>(info.start_unix_ns) / 1e9),
                                 v8::Number::New(isolate, static_cast<double>(info.end_unix_ns) / 1e9)};
  node::CallbackScope cb(isolate, v8::Object::New(isolate), node::async_context{0, 0});
  v8::TryCatch tc(isolate);
  v8::Local<v8::Value> ignored;
  if (!h->on_done.Get(isolate)->Call(ctx, v8::Undefined(isolate), 3, argv).ToLocal(&ignored)) return;
}

void OnCaptureClosed(uv_handle_t* a) { delete static_cast<CaptureHandle*>(a->data); }

void FinishCapture(CaptureHandle* h, bool deliver) {
  if (h->capture) {
    pp_capture_finish(h->capture);  // the profile is queued before it returns
    h->capture = nullptr;
  }
  if (deliver) DeliverCapture(h);
  {
    std::lock_guard<std::mutex> g(h->lock);
    pp_profile_free(h->result);
    h->result = nullptr;
  }
  h->on_done.Reset();
  h->context.Reset();
  h->addon->captures.erase(h);
  uv_close(reinterpret_cast<uv_handle_t*>(&h->async), OnCaptureClosed);
}

void OnCaptureAsync(uv_async_t* a) {
  auto* h = static_cast<CaptureHandle*>(a->data);
  DeliverCapture(h);
  if (h->delivered) FinishCapture(h, false);  // the capture thread is done: join it, release the handle
}


// captureStart(options, onDone) -> handle; onDone(profile, start, end) on the event loop
void CaptureStart(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  Addon* addon = AddonOf(args);
  pp_options o;
  if (!OptionsFrom(isolate, args[0], &o)) return;
  if (!args[1]->IsFunction()) return ThrowTypeError(isolate, "captureStart(options, onDone): onDone must be a function");
  auto* h = new CaptureHandle();
  h->addon = addon;
  h->on_done.Reset(isolate, args[1].As<v8::Function>());
  h->context.Reset(isolate, isolate->GetCurrentContext());
  uv_loop_t* loop = node::GetCurrentEventLoop(isolate);
  if (!loop || uv_async_init(loop, &h->async, OnCaptureAsync) != 0) {
    delete h;
    return ThrowError(isolate, "cannot attach the capture to the event loop");
  }
  h->async.data = h;
  uv_unref(reinterpret_cast<uv_handle_t*>(&h->async));
  addon->captures.insert(h);
  char err[kErrLen] = "";
  h->capture = pp_capture_start(&o, CaptureDone, h, err, sizeof err);
  if (!h->capture) {
    FinishCapture(h, false);
    return ThrowError(isolate, err[0] ? err : "cannot start the capture");
  }
  args.GetReturnValue().Set(v8_compat::NewExternal(isolate, h));
}

CaptureHandle* CaptureOf(const v8::FunctionCallbackInfo<v8::Value>& args) {
  if (!args[0]->IsExternal()) return nullptr;
  auto* h = static_cast<CaptureHandle*>(v8_compat::ExternalValue(args[0]));
  return AddonOf(args)->captures.count(h) ? h : nullptr;
}

// captureFinish(handle): ends it now; onDone runs before this returns.
void CaptureFinish(const v8::FunctionCallbackInfo<v8::Value>& args) {
  CaptureHandle* h = CaptureOf(args);
  if (h) FinishCapture(h, true);
}

// captureDone(handle) -> whether it ended and was delivered
void CaptureDoneJs(const v8::FunctionCallbackInfo<v8::Value>& args) {
  CaptureHandle* h = CaptureOf(args);
  args.GetReturnValue().Set(v8::Boolean::New(args.GetIsolate(), !h || h->delivered));
}

// ------------------------------------------------------------------ store

// storeList(dir) -> [{file, service, type, trigger, start, bytes}] oldest first
void StoreList(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  v8::Local<v8::Context> ctx = isolate->GetCurrentContext();
  if (!args[0]->IsString()) return ThrowTypeError(isolate, "storeList(dir): dir must be a string");
  v8::String::Utf8Value dir(isolate, args[0]);
  char err[kErrLen];
  pp_store* s = pp_store_open(*dir, 0, 0, err, sizeof err);
  if (!s) return ThrowError(isolate, err);
  pp_store_entry* v = nullptr;
  int n = pp_store_list(s, &v, err, sizeof err);
  pp_store_close(s);
  if (n < 0) return ThrowError(isolate, err);
  v8::Local<v8::Array> out = v8::Array::New(isolate, n);
  for (int i = 0; i < n; i++) {
    v8::Local<v8::Object> e = v8::Object::New(isolate);
    SetStr(ctx, e, "file", v[i].file);
    SetStr(ctx, e, "service", v[i].service);
    SetStr(ctx, e, "type", v[i].type);
    SetStr(ctx, e, "trigger", v[i].trigger);
    SetNum(ctx, e, "start", static_cast<double>(v[i].start_unix_ns) / 1e9);
    SetNum(ctx, e, "bytes", static_cast<double>(v[i].bytes));
    if (e->Set(ctx, Str(isolate, "encrypted"), v8::Boolean::New(isolate, v[i].encrypted != 0)).IsNothing()) break;
    if (out->Set(ctx, i, e).IsNothing()) break;
  }
  free(v);
  args.GetReturnValue().Set(out);
}

// The optional key file argument: a string, or undefined/null for none
// ($POLYPROF_STORE_KEY then applies). False after throwing.
bool KeyFileArg(v8::Isolate* isolate, v8::Local<v8::Value> v, std::string* out) {
  if (v->IsUndefined() || v->IsNull()) return true;
  if (!v->IsString()) {
    ThrowTypeError(isolate, "keyFile must be a path (string)");
    return false;
  }
  *out = *v8::String::Utf8Value(isolate, v);
  return true;
}

// storeKeyCheck(keyFile?) -> whether a store key is configured; throws for a bad one
void StoreKeyCheck(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  std::string key_file;
  if (!KeyFileArg(isolate, args[0], &key_file)) return;
  char err[kErrLen];
  int rc = pp_store_key_check(key_file.c_str(), err, sizeof err);
  if (rc < 0) return ThrowError(isolate, err);
  args.GetReturnValue().Set(v8::Boolean::New(isolate, rc == 1));
}

// storeRead(dir, file, keyFile?) -> profile, decrypted when encrypted
void StoreRead(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  if (!args[0]->IsString() || !args[1]->IsString()) return ThrowTypeError(isolate, "storeRead(dir, file, keyFile?)");
  std::string key_file;
  if (!KeyFileArg(isolate, args[2], &key_file)) return;
  v8::String::Utf8Value dir(isolate, args[0]), file(isolate, args[1]);
  char err[kErrLen];
  pp_store* s = pp_store_open_keyed(*dir, 0, 0, key_file.c_str(), err, sizeof err);
  if (!s) return ThrowError(isolate, err);
  pp_profile* p = pp_store_read(s, *file, err, sizeof err);
  pp_store_close(s);
  if (!p) return ThrowError(isolate, err);
  v8::Local<v8::Object> obj;
  if (WrapProfile(AddonOf(args), p).ToLocal(&obj)) args.GetReturnValue().Set(obj);
}

// storePut(dir, profile, service, type, trigger, startSeconds, keyFile?) -> path
void StorePut(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  if (!args[0]->IsString() || !args[2]->IsString() || !args[3]->IsString() || !args[4]->IsString() ||
      !args[5]->IsNumber())
    return ThrowTypeError(isolate, "storePut(dir, profile, service, type, trigger, startSeconds, keyFile?)");
  std::string key_file;
  if (!KeyFileArg(isolate, args[6], &key_file)) return;
  pp_profile* p = UnwrapProfile(AddonOf(args), args[1]);
  if (!p) return;
  v8::String::Utf8Value dir(isolate, args[0]), service(isolate, args[2]), type(isolate, args[3]),
      trigger(isolate, args[4]);
  char err[kErrLen], path[PP_PATH_MAX + 256];
  pp_store* s = pp_store_open_keyed(*dir, 0, 0, key_file.c_str(), err, sizeof err);
  if (!s) return ThrowError(isolate, err);
  int rc = pp_store_put(s, p, *service, *type, *trigger,
                        static_cast<int64_t>(args[5].As<v8::Number>()->Value() * 1e9), path, sizeof path, err, sizeof err);
  pp_store_close(s);
  if (rc != 0) return ThrowError(isolate, err);
  args.GetReturnValue().Set(Str(isolate, path));
}

// storePrune(dir, maxAgeSeconds, maxBytes, nowSeconds?) -> files removed
void StorePrune(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  if (!args[0]->IsString() || !args[1]->IsNumber() || !args[2]->IsNumber())
    return ThrowTypeError(isolate, "storePrune(dir, maxAgeSeconds, maxBytes, now?)");
  v8::String::Utf8Value dir(isolate, args[0]);
  double age = args[1].As<v8::Number>()->Value(), bytes = args[2].As<v8::Number>()->Value();
  if (age < 0 || bytes < 0) return ThrowError(isolate, "storePrune: limits must not be negative");
  double now;
  if (args[3]->IsNumber()) {
    now = args[3].As<v8::Number>()->Value();
  } else {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    now = static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
  }
  char err[kErrLen];
  pp_store* s = pp_store_open(*dir, static_cast<uint64_t>(age * 1e9), static_cast<uint64_t>(bytes), err, sizeof err);
  if (!s) return ThrowError(isolate, err);
  int removed = pp_store_prune(s, static_cast<int64_t>(now * 1e9));
  pp_store_close(s);
  args.GetReturnValue().Set(v8::Number::New(isolate, removed));
}

}  // namespace

// {key: value} -> options, each key through pp_options_set.
bool OptionsFrom(v8::Isolate* isolate, v8::Local<v8::Value> v, pp_options* o) {
  pp_options_default(o);
  if (v->IsUndefined() || v->IsNull()) return true;
  if (!v->IsObject()) {
    ThrowTypeError(isolate, "options must be an object {key: value}");
    return false;
  }
  v8::Local<v8::Context> ctx = isolate->GetCurrentContext();
  v8::Local<v8::Object> obj = v.As<v8::Object>();
  v8::Local<v8::Array> keys;
  if (!obj->GetOwnPropertyNames(ctx).ToLocal(&keys)) return false;
  char err[kErrLen];
  for (uint32_t i = 0; i < keys->Length(); i++) {
    v8::Local<v8::Value> k, val;
    if (!keys->Get(ctx, i).ToLocal(&k) || !obj->Get(ctx, k).ToLocal(&val)) return false;
    v8::String::Utf8Value ks(isolate, k), vs(isolate, val);
    if (pp_options_set(o, *ks ? *ks : "", *vs ? *vs : "", err, sizeof err) != 0) {
      ThrowError(isolate, err);
      return false;
    }
  }
  return true;
}

void RegisterProduction(v8::Local<v8::Context> context, v8::Local<v8::Object> exports, v8::Local<v8::External> data,
                        void (*set_method)(v8::Local<v8::Context>, v8::Local<v8::Object>, v8::Local<v8::External>,
                                           const char*, v8::FunctionCallback)) {
  set_method(context, exports, data, "envConfig", EnvConfig);
  set_method(context, exports, data, "continuousStart", ContinuousStart);
  set_method(context, exports, data, "continuousStop", ContinuousStop);
  set_method(context, exports, data, "continuousWindows", ContinuousWindows);
  set_method(context, exports, data, "continuousPushStats", ContinuousPushStats);
  set_method(context, exports, data, "pushOpen", PushOpen);
  set_method(context, exports, data, "pushProfile", PushProfile);
  set_method(context, exports, data, "pushStats", PushStats);
  set_method(context, exports, data, "pushStop", PushStop);
  set_method(context, exports, data, "storeList", StoreList);
  set_method(context, exports, data, "storePut", StorePut);
  set_method(context, exports, data, "breakerNew", BreakerNew);
  set_method(context, exports, data, "breakerRecord", BreakerRecord);
  set_method(context, exports, data, "breakerState", BreakerState);
  set_method(context, exports, data, "rateLimit", RateLimit);
  set_method(context, exports, data, "triggerNew", TriggerNew);
  set_method(context, exports, data, "triggerRecord", TriggerRecord);
  set_method(context, exports, data, "triggerManual", TriggerManual);
  set_method(context, exports, data, "captureStart", CaptureStart);
  set_method(context, exports, data, "captureFinish", CaptureFinish);
  set_method(context, exports, data, "captureDone", CaptureDoneJs);
  set_method(context, exports, data, "storePrune", StorePrune);
  set_method(context, exports, data, "storeRead", StoreRead);
  set_method(context, exports, data, "storeKeyCheck", StoreKeyCheck);
}

bool PushWindow(Addon* addon, v8::Local<v8::Value> handle, const pp_profile* p, double start_ms, double end_ms) {
  PushHandle* h = PushHandleOf(addon, addon->isolate, handle);
  if (!h) return false;
  char err[kErrLen] = "";
  if (pp_push_profile(h->push, p, static_cast<int64_t>(start_ms * 1e6), static_cast<int64_t>(end_ms * 1e6), err,
                      sizeof err) != 0) {
    ThrowError(addon->isolate, err[0] ? err : "cannot encode the window for Pyroscope");
    return false;
  }
  return true;
}

void StopContinuous(Addon* addon) {
  while (!addon->continuous.empty()) StopHandle(static_cast<ContinuousHandle*>(*addon->continuous.begin()), false);
  while (!addon->captures.empty()) FinishCapture(static_cast<CaptureHandle*>(*addon->captures.begin()), false);
  while (!addon->pushers.empty()) StopPusher(addon, static_cast<PushHandle*>(*addon->pushers.begin()), true, nullptr);
}

}  // namespace polyprof_node
