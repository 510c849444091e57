// The polyprof addon's module: Profile objects over the core's pp_profile,
// the core's option grammar and format table, pprof decoding. Policy stays
// in the core; this file converts arguments and turns the core's error
// strings into JavaScript exceptions.
#include "addon.h"

#include <node_buffer.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace polyprof_node {

namespace {

constexpr size_t kErrLen = 512;

std::string Utf8(v8::Isolate* isolate, v8::Local<v8::Value> v) {
  v8::String::Utf8Value s(isolate, v);
  return *s ? std::string(*s, static_cast<size_t>(s.length())) : std::string();
}

bool IsNullish(v8::Local<v8::Value> v) { return v->IsUndefined() || v->IsNull(); }

}  // namespace

void ThrowError(v8::Isolate* isolate, const char* message) {
  isolate->ThrowException(v8::Exception::Error(Str(isolate, message)));
}

void ThrowTypeError(v8::Isolate* isolate, const char* message) {
  isolate->ThrowException(v8::Exception::TypeError(Str(isolate, message)));
}

v8::Local<v8::String> Str(v8::Isolate* isolate, const char* s) {
  // Names come from scripts and files: invalid UTF-8 must not abort the process.
  v8::Local<v8::String> out;
  if (!v8::String::NewFromUtf8(isolate, s ? s : "").ToLocal(&out)) out = v8::String::Empty(isolate);
  return out;
}

// ------------------------------------------------------------------ Profile

// Owns one pp_profile for as long as its JS object lives.
struct ProfileHandle {
  Addon* addon;      // NULL once the environment is gone
  pp_profile* p;     // NULL once freed at environment teardown
  v8::Global<v8::Object> self;
};

namespace {

void FreeHandle(ProfileHandle* h) {
  if (h->addon) h->addon->live.erase(h);
  pp_profile_free(h->p);
  h->self.Reset();
  delete h;
}

void OnProfileCollected(const v8::WeakCallbackInfo<ProfileHandle>& info) { FreeHandle(info.GetParameter()); }

// The receiver's profile, or NULL with an exception thrown. The methods'
// signature already guarantees the receiver is a Profile object.
pp_profile* ProfileOf(const v8::FunctionCallbackInfo<v8::Value>& args) {
  auto* h = static_cast<ProfileHandle*>(v8_compat::InternalPointer(args.This(), 0));
  if (!h || !h->p) {
    ThrowError(args.GetIsolate(), "this profile belongs to a Node environment that has shut down");
    return nullptr;
  }
  return h->p;
}

// format argument: a name ("pprof", "collapsed", "text"...), or undefined
// to pick by the path's suffix (or pprof when there is no path).
bool FormatArg(v8::Isolate* isolate, v8::Local<v8::Value> fmt, const char* path, pp_format* out) {
  char err[kErrLen];
  if (IsNullish(fmt)) {
    if (!path) {
      *out = PP_FORMAT_PPROF;
      return true;
    }
    if (pp_format_from_path(path, out, err, sizeof err) != 0) {
      ThrowError(isolate, err);
      return false;
    }
    return true;
  }
  if (!fmt->IsString()) {
    ThrowTypeError(isolate, "format must be a string such as 'pprof', 'collapsed' or 'text'");
    return false;
  }
  if (pp_format_from_name(Utf8(isolate, fmt).c_str(), out, err, sizeof err) != 0) {
    ThrowError(isolate, err);
    return false;
  }
  return true;
}

// write(path, format?)
void ProfileWrite(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  pp_profile* p = ProfileOf(args);
  if (!p) return;
  if (!args[0]->IsString()) return ThrowTypeError(isolate, "write: path must be a string");
  std::string path = Utf8(isolate, args[0]);
  pp_format f;
  if (!FormatArg(isolate, args[1], path.c_str(), &f)) return;
  char err[kErrLen];
  if (pp_profile_write_file(p, path.c_str(), f, err, sizeof err) != 0) ThrowError(isolate, err);
}

// encode(format?, top?) -> Buffer
void ProfileEncode(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  pp_profile* p = ProfileOf(args);
  if (!p) return;
  pp_format f;
  if (!FormatArg(isolate, args[0], nullptr, &f)) return;
  int top = args[1]->IsNumber() ? args[1].As<v8::Number>()->Value() : 20;
  uint8_t* data = nullptr;
  size_t len = 0;
  char err[kErrLen];
  if (pp_profile_encode(p, f, top, &data, &len, err, sizeof err) != 0) return ThrowError(isolate, err);
  v8::Local<v8::Object> buf;
  if (node::Buffer::Copy(isolate, reinterpret_cast<const char*>(data), len).ToLocal(&buf))
    args.GetReturnValue().Set(buf);
  free(data);
}

// report(top, valueIndex) -> string
void ProfileReport(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  pp_profile* p = ProfileOf(args);
  if (!p) return;
  if (!args[0]->IsInt32() || args[0].As<v8::Int32>()->Value() <= 0)
    return ThrowError(isolate, "report: top must be a positive whole number of functions");
  int top = args[0].As<v8::Int32>()->Value();
  int value_index = args[1]->IsInt32() ? args[1].As<v8::Int32>()->Value() : -1;
  char* text = nullptr;
  char err[kErrLen];
  if (pp_profile_report(p, value_index, top, &text, err, sizeof err) != 0) return ThrowError(isolate, err);
  args.GetReturnValue().Set(Str(isolate, text));
  free(text);
}

// samples() -> [{frames: [{name, file, line, kind}] leaf first, values, labels}]
void ProfileSamples(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  v8::Local<v8::Context> ctx = isolate->GetCurrentContext();
  pp_profile* p = ProfileOf(args);
  if (!p) return;
  static const char* const kinds[] = {"native", "js", "special"};
  v8::Local<v8::String> k_frames = Str(isolate, "frames"), k_values = Str(isolate, "values"),
                        k_labels = Str(isolate, "labels"), k_name = Str(isolate, "name"),
                        k_file = Str(isolate, "file"), k_line = Str(isolate, "line"), k_kind = Str(isolate, "kind");
  size_t n = pp_profile_num_samples(p);
  uint32_t nv = pp_profile_num_values(p);
  v8::Local<v8::Array> out = v8::Array::New(isolate, static_cast<int>(n));
  for (size_t i = 0; i < n; i++) {
    uint32_t depth = pp_profile_sample_depth(p, i);
    v8::Local<v8::Array> frames = v8::Array::New(isolate, static_cast<int>(depth));
    for (uint32_t d = 0; d < depth; d++) {
      pp_frame_view v;
      pp_profile_sample_frame(p, i, d, &v);
      v8::Local<v8::Object> fr = v8::Object::New(isolate);
      if (fr->Set(ctx, k_name, Str(isolate, v.name)).IsNothing() ||
          fr->Set(ctx, k_file, Str(isolate, v.file)).IsNothing() ||
          fr->Set(ctx, k_line, v8::Number::New(isolate, static_cast<double>(v.line))).IsNothing() ||
          fr->Set(ctx, k_kind, Str(isolate, kinds[v.kind >= 0 && v.kind < 3 ? v.kind : 2])).IsNothing() ||
          frames->Set(ctx, d, fr).IsNothing())
        return;
    }
    v8::Local<v8::Array> values = v8::Array::New(isolate, static_cast<int>(nv));
    for (uint32_t k = 0; k < nv; k++)
      if (values->Set(ctx, k, v8::Number::New(isolate, static_cast<double>(pp_profile_value(p, i, k)))).IsNothing())
        return;
    v8::Local<v8::Object> labels = v8::Object::New(isolate);
    for (uint32_t l = 0; l < pp_profile_sample_num_labels(p, i); l++) {
      pp_label_view lv;
      pp_profile_sample_label(p, i, l, &lv);
      v8::Local<v8::Value> val = lv.str ? v8::Local<v8::Value>(Str(isolate, lv.str))
                                        : v8::Local<v8::Value>(v8::Number::New(isolate, static_cast<double>(lv.num)));
      if (labels->Set(ctx, Str(isolate, lv.key), val).IsNothing()) return;
    }
    v8::Local<v8::Object> s = v8::Object::New(isolate);
    if (s->Set(ctx, k_frames, frames).IsNothing() || s->Set(ctx, k_values, values).IsNothing() ||
        s->Set(ctx, k_labels, labels).IsNothing() || out->Set(ctx, static_cast<uint32_t>(i), s).IsNothing())
      return;
  }
  args.GetReturnValue().Set(out);
}

// valueTypes() -> [[type, unit], ...]
void ProfileValueTypes(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  v8::Local<v8::Context> ctx = isolate->GetCurrentContext();
  pp_profile* p = ProfileOf(args);
  if (!p) return;
  uint32_t nv = pp_profile_num_values(p);
  v8::Local<v8::Array> out = v8::Array::New(isolate, static_cast<int>(nv));
  for (uint32_t i = 0; i < nv; i++) {
    const char *type, *unit;
    pp_profile_value_type(p, i, &type, &unit);
    v8::Local<v8::Value> pair[2] = {Str(isolate, type), Str(isolate, unit)};
    if (out->Set(ctx, i, v8::Array::New(isolate, pair, 2)).IsNothing()) return;
  }
  args.GetReturnValue().Set(out);
}

// comments() -> ["key=value", ...]
void ProfileComments(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  v8::Local<v8::Context> ctx = isolate->GetCurrentContext();
  pp_profile* p = ProfileOf(args);
  if (!p) return;
  uint32_t n = pp_profile_num_comments(p);
  v8::Local<v8::Array> out = v8::Array::New(isolate, static_cast<int>(n));
  for (uint32_t i = 0; i < n; i++)
    if (out->Set(ctx, i, Str(isolate, pp_profile_comment(p, i))).IsNothing()) return;
  args.GetReturnValue().Set(out);
}

void ProfileDurationNanos(const v8::FunctionCallbackInfo<v8::Value>& args) {
  pp_profile* p = ProfileOf(args);
  if (!p) return;
  args.GetReturnValue().Set(v8::Number::New(args.GetIsolate(), static_cast<double>(pp_profile_duration_nanos(p))));
}

// filterLabel(key, value) -> Profile
void ProfileFilterLabel(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  pp_profile* p = ProfileOf(args);
  if (!p) return;
  if (!args[0]->IsString() || !args[1]->IsString())
    return ThrowTypeError(isolate, "filterLabel: key and value must be strings");
  v8::Local<v8::Object> obj;
  if (WrapProfile(AddonOf(args),
                  pp_profile_filter_label(p, Utf8(isolate, args[0]).c_str(), Utf8(isolate, args[1]).c_str()))
          .ToLocal(&obj))
    args.GetReturnValue().Set(obj);
}

// showFrom(name, file?, keepUnmatched?) -> Profile
void ProfileShowFrom(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  pp_profile* p = ProfileOf(args);
  if (!p) return;
  if (!args[0]->IsString()) return ThrowTypeError(isolate, "showFrom: function name must be a string");
  if (!IsNullish(args[1]) && !args[1]->IsString())
    return ThrowTypeError(isolate, "showFrom: file must be a string or undefined");
  std::string name = Utf8(isolate, args[0]);
  std::string file = IsNullish(args[1]) ? std::string() : Utf8(isolate, args[1]);
  bool keep = args[2]->BooleanValue(isolate);
  v8::Local<v8::Object> obj;
  if (WrapProfile(AddonOf(args), pp_profile_show_from(p, name.c_str(), file.c_str(), keep)).ToLocal(&obj))
    args.GetReturnValue().Set(obj);
}

void ProfileConstruct(const v8::FunctionCallbackInfo<v8::Value>& args) {
  if (!AddonOf(args)->constructing)
    ThrowTypeError(args.GetIsolate(), "Profile objects come from stop(), profile() or load(), not from new");
}

// ------------------------------------------------------------------ module functions

// parseOptions({key: value, ...}) -> {spec, intervalNs, durationNs, native, windowNs}:
// every key through pp_options_set, so values never need escaping and a bad
// one fails with the core's message naming the key.
void ParseOptions(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  v8::Local<v8::Context> ctx = isolate->GetCurrentContext();
  if (!args[0]->IsObject()) return ThrowTypeError(isolate, "parseOptions expects an object {key: value}");
  v8::Local<v8::Object> obj = args[0].As<v8::Object>();
  v8::Local<v8::Array> keys;
  if (!obj->GetOwnPropertyNames(ctx).ToLocal(&keys)) return;
  pp_options o;
  pp_options_default(&o);
  char err[kErrLen];
  for (uint32_t i = 0; i < keys->Length(); i++) {
    v8::Local<v8::Value> k, v;
    if (!keys->Get(ctx, i).ToLocal(&k) || !obj->Get(ctx, k).ToLocal(&v)) return;
    std::string key = Utf8(isolate, k), value = Utf8(isolate, v);
    if (pp_options_set(&o, key.c_str(), value.c_str(), err, sizeof err) != 0) return ThrowError(isolate, err);
  }
  char spec[PP_PATH_MAX + 256];
  pp_options_format(&o, spec, sizeof spec);
  v8::Local<v8::Object> out = v8::Object::New(isolate);
  if (out->Set(ctx, Str(isolate, "spec"), Str(isolate, spec)).IsNothing() ||
      out->Set(ctx, Str(isolate, "intervalNs"), v8::Number::New(isolate, static_cast<double>(o.interval_ns)))
          .IsNothing() ||
      out->Set(ctx, Str(isolate, "durationNs"), v8::Number::New(isolate, static_cast<double>(o.duration_ns)))
          .IsNothing() ||
      out->Set(ctx, Str(isolate, "native"), v8::Boolean::New(isolate, o.native != 0)).IsNothing() ||
      out->Set(ctx, Str(isolate, "windowNs"), v8::Number::New(isolate, static_cast<double>(o.window_ns))).IsNothing())
    return;
  args.GetReturnValue().Set(out);
}

// formatForPath(path) -> "pprof" | "collapsed" | "text", by the core's suffix table.
void FormatForPath(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  if (!args[0]->IsString()) return ThrowTypeError(isolate, "path must be a string");
  pp_format f;
  char err[kErrLen];
  if (pp_format_from_path(Utf8(isolate, args[0]).c_str(), &f, err, sizeof err) != 0)
    return ThrowError(isolate, err);
  args.GetReturnValue().Set(Str(isolate, pp_format_name(f)));
}

// decode(buffer, format) -> Profile: any format the core reads.
void Decode(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  if (!node::Buffer::HasInstance(args[0])) return ThrowTypeError(isolate, "decode expects a Buffer");
  pp_format f;
  if (!FormatArg(isolate, args[1], nullptr, &f)) return;
  char err[kErrLen];
  pp_profile* p = pp_profile_decode(reinterpret_cast<const uint8_t*>(node::Buffer::Data(args[0])),
                                    node::Buffer::Length(args[0]), f, err, sizeof err);
  if (!p) return ThrowError(isolate, err);
  v8::Local<v8::Object> obj;
  if (WrapProfile(AddonOf(args), p).ToLocal(&obj)) args.GetReturnValue().Set(obj);
}

// diff(base, new, format, sampleType?, top?) -> Buffer: the core's differential page or report.
void Diff(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  Addon* addon = AddonOf(args);
  pp_profile* base = UnwrapProfile(addon, args[0]);
  if (!base) return;
  pp_profile* cur = UnwrapProfile(addon, args[1]);
  if (!cur) return;
  pp_format f;
  if (!FormatArg(isolate, args[2], nullptr, &f)) return;
  std::string type = IsNullish(args[3]) ? std::string() : Utf8(isolate, args[3]);
  int top = args[4]->IsInt32() ? args[4].As<v8::Int32>()->Value() : 20;
  uint8_t* data = nullptr;
  size_t len = 0;
  char err[kErrLen];
  if (pp_profile_diff(base, cur, type.c_str(), f, top, &data, &len, err, sizeof err) != 0)
    return ThrowError(isolate, err);
  v8::Local<v8::Object> buf;
  if (node::Buffer::Copy(isolate, reinterpret_cast<const char*>(data), len).ToLocal(&buf))
    args.GetReturnValue().Set(buf);
  free(data);
}

// decodePprof(buffer) -> Profile
void DecodePprof(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  if (!node::Buffer::HasInstance(args[0])) return ThrowTypeError(isolate, "decodePprof expects a Buffer");
  char err[kErrLen];
  pp_profile* p = pp_profile_decode_pprof(reinterpret_cast<const uint8_t*>(node::Buffer::Data(args[0])),
                                          node::Buffer::Length(args[0]), err, sizeof err);
  if (!p) return ThrowError(isolate, err);
  v8::Local<v8::Object> obj;
  if (WrapProfile(AddonOf(args), p).ToLocal(&obj)) args.GetReturnValue().Set(obj);
}

void Teardown(void* arg) {
  auto* addon = static_cast<Addon*>(arg);
  V8Teardown(addon);
  EndpointTeardown(addon);  // before the heap profiles it serves
  AllocTeardown(addon);
  StopContinuous(addon);
  UnregisterIsolate(addon);
  // Weak callbacks do not run once the environment is gone: free what the
  // remaining Profile objects hold, and leave their handles inert.
  for (ProfileHandle* h : addon->live) {
    pp_profile_free(h->p);
    h->p = nullptr;
    h->addon = nullptr;
  }
  addon->live.clear();
  addon->profile_template.Reset();
  delete addon;
}

void SetMethod(v8::Local<v8::Context> ctx, v8::Local<v8::Object> target, v8::Local<v8::External> data,
               const char* name, v8::FunctionCallback cb) {
  v8::Isolate* isolate = v8_compat::IsolateOf(ctx);
  v8::Local<v8::Function> fn;
  if (v8::Function::New(ctx, cb, data).ToLocal(&fn)) {
    fn->SetName(Str(isolate, name));
    // Set fails only with an exception pending, which module loading reports.
    if (target->Set(ctx, Str(isolate, name), fn).IsNothing()) return;
  }
}

}  // namespace

pp_profile* UnwrapProfile(Addon* addon, v8::Local<v8::Value> v) {
  v8::Isolate* isolate = addon->isolate;
  if (!v->IsObject() || !addon->profile_template.Get(isolate)->HasInstance(v)) {
    ThrowTypeError(isolate, "expected a profile (the native object behind a Profile)");
    return nullptr;
  }
  auto* h = static_cast<ProfileHandle*>(v8_compat::InternalPointer(v.As<v8::Object>(), 0));
  if (!h || !h->p) {
    ThrowError(isolate, "this profile belongs to a Node environment that has shut down");
    return nullptr;
  }
  return h->p;
}

v8::MaybeLocal<v8::Object> WrapProfile(Addon* addon, pp_profile* p) {
  v8::Isolate* isolate = addon->isolate;
  if (!p) {
    ThrowError(isolate, "polyprof: out of memory");
    return {};
  }
  v8::Local<v8::Context> ctx = isolate->GetCurrentContext();
  v8::Local<v8::Function> ctor;
  v8::Local<v8::Object> obj;
  addon->constructing = true;
  bool ok = addon->profile_template.Get(isolate)->GetFunction(ctx).ToLocal(&ctor) &&
            ctor->NewInstance(ctx).ToLocal(&obj);
  addon->constructing = false;
  if (!ok) {
    pp_profile_free(p);
    return {};
  }
  auto* h = new ProfileHandle{addon, p, v8::Global<v8::Object>(isolate, obj)};
  v8_compat::SetInternalPointer(obj, 0, h);
  h->self.SetWeak(h, OnProfileCollected, v8::WeakCallbackType::kParameter);
  addon->live.insert(h);
  return obj;
}

}  // namespace polyprof_node

using namespace polyprof_node;

NODE_MODULE_INIT(/* exports, module, context */) {
  v8::Isolate* isolate = v8_compat::IsolateOf(context);
  auto* addon = new Addon();
  addon->isolate = isolate;
  v8::Local<v8::External> data = v8_compat::NewExternal(isolate, addon);

  v8::Local<v8::FunctionTemplate> tmpl = v8::FunctionTemplate::New(isolate, ProfileConstruct, data);
  tmpl->SetClassName(Str(isolate, "NativeProfile"));
  tmpl->InstanceTemplate()->SetInternalFieldCount(1);
  // The signature makes V8 reject calls whose receiver is not a Profile.
  v8::Local<v8::Signature> sig = v8::Signature::New(isolate, tmpl);
  struct {
    const char* name;
    v8::FunctionCallback cb;
  } methods[] = {
      {"write", ProfileWrite},           {"encode", ProfileEncode},
      {"report", ProfileReport},         {"samples", ProfileSamples},
      {"valueTypes", ProfileValueTypes}, {"comments", ProfileComments},
      {"durationNanos", ProfileDurationNanos}, {"filterLabel", ProfileFilterLabel},
      {"showFrom", ProfileShowFrom},
  };
  for (const auto& m : methods)
    tmpl->PrototypeTemplate()->Set(isolate, m.name, v8::FunctionTemplate::New(isolate, m.cb, data, sig));
  addon->profile_template.Reset(isolate, tmpl);

  SetMethod(context, exports, data, "parseOptions", ParseOptions);
  SetMethod(context, exports, data, "formatForPath", FormatForPath);
  SetMethod(context, exports, data, "decodePprof", DecodePprof);
  SetMethod(context, exports, data, "decode", Decode);
  SetMethod(context, exports, data, "diff", Diff);
  SetMethod(context, exports, data, "v8Start", V8Start);
  SetMethod(context, exports, data, "v8Stop", V8Stop);
  SetMethod(context, exports, data, "functionLocation", FunctionLocation);
  SetMethod(context, exports, data, "allocStart", AllocStart);
  SetMethod(context, exports, data, "allocStop", AllocStop);
  SetMethod(context, exports, data, "allocRotate", AllocRotate);
  SetMethod(context, exports, data, "allocStoreWindow", AllocStoreWindow);
  SetMethod(context, exports, data, "endpointStart", EndpointStart);
  SetMethod(context, exports, data, "endpointStop", EndpointStop);
  SetMethod(context, exports, data, "register", Register);
  SetMethod(context, exports, data, "coreStart", CoreStart);
  SetMethod(context, exports, data, "coreStop", CoreStop);
  SetMethod(context, exports, data, "coreStats", CoreStats);
  RegisterProduction(context, exports, data, SetMethod);

  node::AddEnvironmentCleanupHook(isolate, Teardown, addon);
}
