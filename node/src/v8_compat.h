// The V8 API as the addon uses it, on every V8 that Node >= 20 ships
// (V8 11.3 in Node 20 to V8 14.x in Node 26). Every difference between those
// versions is settled here, once, so the rest of the addon reads as plain V8.
//
// Where an API changed shape, the newer form is chosen by whether it
// compiles (overloads that drop out of resolution when the expression is
// ill-formed), not by version numbers: a Node between the ones tested gets
// whichever form its headers have.
#ifndef POLYPROF_NODE_V8_COMPAT_H
#define POLYPROF_NODE_V8_COMPAT_H

#include <v8-profiler.h>
#include <v8.h>

#include <cstdint>
#include <utility>

namespace polyprof_node {
namespace v8_compat {

namespace detail {

// Overload ranks: the more specific form (Prefer) is tried first.
struct Fallback {};
struct Prefer : Fallback {};

// V8 14 tags every External and aligned internal-field pointer with a type
// tag and deprecates the untagged forms; earlier V8s have untagged forms
// only. The addon stores one C++ type per External's use site and checks
// kinds itself, so it uses V8's default tag (0) throughout.
constexpr uint16_t kDefaultTag = 0;

template <typename E = v8::External>
auto NewExternal(Prefer, v8::Isolate* isolate, void* value) -> decltype(E::New(isolate, value, kDefaultTag)) {
  return E::New(isolate, value, kDefaultTag);
}
template <typename E = v8::External>
v8::Local<v8::External> NewExternal(Fallback, v8::Isolate* isolate, void* value) {
  return E::New(isolate, value);
}

template <typename E>
auto ExternalValue(Prefer, const E* e) -> decltype(e->Value(kDefaultTag)) {
  return e->Value(kDefaultTag);
}
template <typename E>
void* ExternalValue(Fallback, const E* e) {
  return e->Value();
}

template <typename O>
auto GetPointer(Prefer, O* o, int index) -> decltype(o->GetAlignedPointerFromInternalField(index, kDefaultTag)) {
  return o->GetAlignedPointerFromInternalField(index, kDefaultTag);
}
template <typename O>
void* GetPointer(Fallback, O* o, int index) {
  return o->GetAlignedPointerFromInternalField(index);
}

template <typename O>
auto SetPointer(Prefer, O* o, int index, void* value)
    -> decltype(o->SetAlignedPointerInInternalField(index, value, kDefaultTag)) {
  o->SetAlignedPointerInInternalField(index, value, kDefaultTag);
}
template <typename O>
void SetPointer(Fallback, O* o, int index, void* value) {
  o->SetAlignedPointerInInternalField(index, value);
}

// V8 14 removed Context::GetIsolate; a context is only ever used on its
// isolate's thread, where that isolate is the current one.
template <typename C>
auto IsolateOf(Prefer, C* context) -> decltype(context->GetIsolate()) {
  return context->GetIsolate();
}
template <typename C>
v8::Isolate* IsolateOf(Fallback, C*) {
  return v8::Isolate::GetCurrent();
}

}  // namespace detail

inline v8::Local<v8::External> NewExternal(v8::Isolate* isolate, void* value) {
  return detail::NewExternal(detail::Prefer{}, isolate, value);
}

// The pointer in an External (the caller knows it is one).
inline void* ExternalValue(v8::Local<v8::Value> v) {
  return detail::ExternalValue(detail::Prefer{}, *v.As<v8::External>());
}

inline void* InternalPointer(v8::Local<v8::Object> o, int index) {
  return detail::GetPointer(detail::Prefer{}, *o, index);
}

inline void SetInternalPointer(v8::Local<v8::Object> o, int index, void* value) {
  detail::SetPointer(detail::Prefer{}, *o, index, value);
}

inline v8::Isolate* IsolateOf(v8::Local<v8::Context> context) { return detail::IsolateOf(detail::Prefer{}, *context); }

namespace detail {
// The minor (young generation) GC: "MinorMarkCompact" until V8 11, renamed
// "MinorMarkSweep" in V8 12 (the old name deprecated, then removed in 13).
// The bit has not moved.
template <typename T = v8::GCType>
constexpr auto MinorGc(Prefer) -> decltype(T::kGCTypeMinorMarkSweep) {
  return T::kGCTypeMinorMarkSweep;
}
template <typename T = v8::GCType>
constexpr T MinorGc(Fallback) {
  return T::kGCTypeMinorMarkCompact;
}
}  // namespace detail

constexpr v8::GCType kGCTypeMinor = detail::MinorGc(detail::Prefer{});

}  // namespace v8_compat
}  // namespace polyprof_node

#endif
