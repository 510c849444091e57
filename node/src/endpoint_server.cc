// The core's local HTTP endpoint (pp_endpoint_*) from Node: Go's
// /debug/pprof/profile from the shared sampler, and /debug/pprof/allocs and
// /heap from this environment's heap through the broker in heap_sampler.cc.
// The server runs on the core's own threads; nothing here runs on them but
// the broker's hook and the status line. A CPU capture is the core's signal
// sampler, whose JavaScript frames are named on the core's threads from the
// JIT code map (js_code_map.cc): V8's code events, which only the isolate's
// own thread can turn on, stay on while the endpoint serves, so a capture
// asked for while the event loop is stuck still names the stuck function.
#include <cstdio>
#include <memory>
#include <string>

#include "addon.h"
#include "js_code_map.h"

namespace polyprof_node {

struct EndpointHandle {
  Addon* addon;
  pp_endpoint* endpoint = nullptr;
  std::shared_ptr<HeapBroker> broker;  // empty: no heap profiles (404)
};

namespace {

constexpr size_t kErrLen = 512;

void StopEndpoint(EndpointHandle* h) {
  if (h->broker) HeapBrokerClose(h->broker);  // a request waiting on this thread gives up
  pp_endpoint_stop(h->endpoint);              // joins the endpoint's threads
  if (h->broker) HeapBrokerStop(h->broker);
  h->addon->endpoints.erase(h);
  delete h;
}

EndpointHandle* HandleOf(const v8::FunctionCallbackInfo<v8::Value>& args) {
  if (args[0]->IsExternal()) {
    auto* h = static_cast<EndpointHandle*>(v8_compat::ExternalValue(args[0]));
    if (AddonOf(args)->endpoints.count(h)) return h;
  }
  ThrowError(args.GetIsolate(), "this endpoint was already stopped");
  return nullptr;
}

// An endpoint thread: what /polyprof/status adds for Node.
int StatusJson(void*, char* out, size_t len) {
  snprintf(out, len, "\"js_code_map_entries\": %zu", CodeMapSize());
  return 0;
}

}  // namespace

// endpointStart(options {key: value}, heap: boolean, threadName) -> [handle, address]
void EndpointStart(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  Addon* addon = AddonOf(args);
  pp_options o;
  if (!OptionsFrom(isolate, args[0], &o)) return;
  char err[kErrLen] = "";
  auto* h = new EndpointHandle();
  h->addon = addon;
  if (args[1]->BooleanValue(isolate)) {
    v8::String::Utf8Value name(isolate, args[2]);
    h->broker = HeapBrokerStart(addon, o, *name ? *name : "main", err, sizeof err);
    if (!h->broker) {
      delete h;
      return ThrowError(isolate, err);
    }
  }
  pp_endpoint_hooks hooks = {};
  hooks.runtime = "node";
  hooks.status_json = StatusJson;
  if (h->broker) {
    hooks.ctx = &h->broker;
    hooks.memory_profile = HeapBrokerProfile;
  }
  h->endpoint = pp_endpoint_start(&o, &hooks, err, sizeof err);
  addon->endpoints.insert(h);
  if (!h->endpoint) {
    StopEndpoint(h);
    return ThrowError(isolate, err[0] ? err : "cannot start the endpoint");
  }
  char address[256];
  pp_endpoint_address(h->endpoint, address, sizeof address);
  v8::Local<v8::Value> out[2] = {v8_compat::NewExternal(isolate, h), Str(isolate, address)};
  args.GetReturnValue().Set(v8::Array::New(isolate, out, 2));
}

// endpointStop(handle)
void EndpointStop(const v8::FunctionCallbackInfo<v8::Value>& args) {
  if (EndpointHandle* h = HandleOf(args)) StopEndpoint(h);
}

void EndpointTeardown(Addon* addon) {
  while (!addon->endpoints.empty()) StopEndpoint(static_cast<EndpointHandle*>(*addon->endpoints.begin()));
}

}  // namespace polyprof_node
