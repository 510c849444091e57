// polyprof's Node addon: shared state and helpers of its two halves,
// addon.cc (module, Profile objects, options, formats: the core's face) and
// v8_cpu_profiler.cc (mode 'v8': V8's CpuProfiler into a core profile).
//
// Written against V8 and node.h, not Node-API: the CpuProfiler and a
// function's script position exist only in V8's API, and they need
// v8::Local handles that Node-API deliberately hides. Using V8 binds the addon
// to the ABI of the Node it was compiled for; the install script compiles it
// against that Node's own headers, and Node refuses a mismatched addon with
// an error naming both versions.
#ifndef POLYPROF_NODE_ADDON_H
#define POLYPROF_NODE_ADDON_H

#include <node.h>
#include <v8-profiler.h>
#include <v8.h>

#include <time.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "polyprof.h"
#include "v8_compat.h"

namespace polyprof_node {

struct ProfileHandle;
struct HeapSampler;
struct HeapBroker;

// One V8 CpuProfiler session started by v8Start.
struct V8Session {
  v8::ProfilerId id;
  int interval_us;
  int64_t wall_start_ns;  // CLOCK_REALTIME at start: the profile's time
  int64_t thread_id;      // OS thread id of the isolate's thread
};

// Per environment (main thread, each worker): the addon is context-aware,
// so every worker gets its own instance, profiler and profiles.
struct Addon {
  v8::Isolate* isolate = nullptr;
  v8::Global<v8::FunctionTemplate> profile_template;
  bool constructing = false;  // Profile objects are made here, never by `new` in JS
  std::unordered_set<ProfileHandle*> live;  // freed at environment teardown
  // mode 'v8'
  v8::CpuProfiler* profiler = nullptr;  // from register() to the environment's end
  int base_interval_us = 0;              // the profiler's sampling period
  std::vector<V8Session> sessions;
  // modes 'cpu' and 'wall'
  bool slot_registered = false;               // this isolate takes part in signal sampling
  std::unordered_set<pp_collector*> collectors;  // started here, not stopped yet
  std::unordered_set<void*> continuous;           // production.cc's running handles
  std::unordered_set<void*> captures;             // production.cc's timed captures
  std::unordered_set<void*> pushers;              // production.cc's Pyroscope pushers (allocation windows)
  // mode 'alloc': V8's sampling heap profiler and its collectors (heap_sampler.cc)
  HeapSampler* heap = nullptr;
  std::unordered_set<void*> endpoints;  // endpoint_server.cc's running endpoints
};

// The environment's state, bound to every function the module exports.
inline Addon* AddonOf(const v8::FunctionCallbackInfo<v8::Value>& args) {
  return static_cast<Addon*>(v8_compat::ExternalValue(args.Data()));
}

// CLOCK_REALTIME in ns: profiles' start times.
inline int64_t RealtimeNs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void ThrowError(v8::Isolate* isolate, const char* message);
void ThrowTypeError(v8::Isolate* isolate, const char* message);
v8::Local<v8::String> Str(v8::Isolate* isolate, const char* s);
// {key: value} -> options on top of the defaults, each key through
// pp_options_set; false with the core's message thrown.
bool OptionsFrom(v8::Isolate* isolate, v8::Local<v8::Value> v, pp_options* o);
// Wraps p in a new JS Profile object; takes ownership (frees p on failure).
// Throws and returns an empty handle when p is NULL (out of memory).
v8::MaybeLocal<v8::Object> WrapProfile(Addon* addon, pp_profile* p);
// The profile of a native Profile object; NULL with a TypeError thrown otherwise.
pp_profile* UnwrapProfile(Addon* addon, v8::Local<v8::Value> v);

// v8_cpu_profiler.cc
// The addon's load in this environment: V8's profiler starts following V8's code.
void V8Prepare(Addon* addon);
void V8Start(const v8::FunctionCallbackInfo<v8::Value>& args);
void V8Stop(const v8::FunctionCallbackInfo<v8::Value>& args);
void FunctionLocation(const v8::FunctionCallbackInfo<v8::Value>& args);
// Environment teardown: stops the sessions still running, drops the profiler.
void V8Teardown(Addon* addon);

// production.cc: envConfig, continuous*, store*
void RegisterProduction(v8::Local<v8::Context> context, v8::Local<v8::Object> exports, v8::Local<v8::External> data,
                        void (*set_method)(v8::Local<v8::Context>, v8::Local<v8::Object>, v8::Local<v8::External>,
                                           const char*, v8::FunctionCallback));
// Queues p for [start_ms, end_ms) (Unix ms) on the pusher `handle` (a
// pushOpen handle); false with an error thrown. p stays the caller's.
bool PushWindow(Addon* addon, v8::Local<v8::Value> handle, const pp_profile* p, double start_ms, double end_ms);
// Environment teardown: stops this environment's continuous profilers and
// pushers (these flush for push_flush at most).
void StopContinuous(Addon* addon);

// heap_sampler.cc: mode 'alloc'
void AllocStart(const v8::FunctionCallbackInfo<v8::Value>& args);
void AllocStop(const v8::FunctionCallbackInfo<v8::Value>& args);
void AllocRotate(const v8::FunctionCallbackInfo<v8::Value>& args);
void AllocStoreWindow(const v8::FunctionCallbackInfo<v8::Value>& args);
// Environment teardown: stops V8's sampling heap profiler, frees the collectors.
void AllocTeardown(Addon* addon);
// The endpoint's heap profiles (/debug/pprof/allocs, /heap), made on this
// environment's JavaScript thread on request from the endpoint's thread.
// Start on the JavaScript thread (a collector of its own since then; NULL
// with err); HeapBrokerProfile is pp_endpoint_hooks.memory_profile with ctx
// pointing at the shared_ptr; Close releases a waiting request (before
// pp_endpoint_stop), Stop frees the rest (after it).
std::shared_ptr<HeapBroker> HeapBrokerStart(Addon* addon, const pp_options& o, const std::string& thread_name,
                                            char* err, size_t errlen);
pp_profile* HeapBrokerProfile(void* ctx, pp_memory_kind kind, char* err, size_t errlen);
void HeapBrokerClose(const std::shared_ptr<HeapBroker>& b);
void HeapBrokerStop(const std::shared_ptr<HeapBroker>& b);

// endpoint_server.cc: the core's HTTP endpoint
void EndpointStart(const v8::FunctionCallbackInfo<v8::Value>& args);
void EndpointStop(const v8::FunctionCallbackInfo<v8::Value>& args);
// Environment teardown: stops this environment's endpoint.
void EndpointTeardown(Addon* addon);

// signal_sampler.cc
void Register(const v8::FunctionCallbackInfo<v8::Value>& args);
void CoreStart(const v8::FunctionCallbackInfo<v8::Value>& args);
void CoreStop(const v8::FunctionCallbackInfo<v8::Value>& args);
void CoreStats(const v8::FunctionCallbackInfo<v8::Value>& args);
// Environment teardown: stops what this environment started, leaves the sampler.
void UnregisterIsolate(Addon* addon);

}  // namespace polyprof_node

#endif
