// V8's JavaScript frames read off the core's native walk; see v8_frames.h.
#include "v8_frames.h"

#include <v8.h>

#include "signal_path.h"

namespace polyprof_node {

namespace {

using v8::internal::Address;
using v8::internal::Internals;

// Below the frame pointer of every standard frame: the context, or for a
// typed frame its marker; in an interpreted frame, past the function and the
// argument count, the bytecode array and the offset into it (V8's
// StandardFrameConstants and InterpreterFrameConstants on x64).
constexpr uintptr_t kContextOrMarkerBelowFp = 8;
constexpr uintptr_t kBytecodeArrayBelowFp = 32;
constexpr uintptr_t kBytecodeOffsetBelowFp = 40;

// A frame pointer further above the interrupted stack pointer than this is
// taken for a corrupt one (the core's native walk bounds frames the same way).
constexpr uintptr_t kMaxStackBytes = 256u << 20;

PP_SIGNAL_PATH bool IsStrongHeapObject(uintptr_t word) {
  return (word & static_cast<uintptr_t>(v8::internal::kHeapObjectTagMask)) ==
         static_cast<uintptr_t>(v8::internal::kHeapObjectTag);
}

PP_SIGNAL_PATH bool IsSmi(uintptr_t word) {
  return (word & static_cast<uintptr_t>(v8::internal::kSmiTagMask)) ==
         static_cast<uintptr_t>(v8::internal::kSmiTag);
}

PP_SIGNAL_PATH uintptr_t ReadBelow(uintptr_t fp, uintptr_t bytes) {
  return *reinterpret_cast<const uintptr_t*>(fp - bytes);
}

}  // namespace

PP_SIGNAL_PATH bool CodeRuns::Has(uintptr_t pc) const {
  int lo = 0, hi = n;  // the first range whose end is above pc
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (ranges[mid].end <= pc)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < n && ranges[lo].Has(pc);
}

PP_SIGNAL_PATH bool V8CodeLayout::HasCode(uintptr_t pc) const {
  if (code.Has(pc) || builtins.Has(pc)) return true;
  for (int i = 0; i < n_copies; i++)
    if (copies[i].Has(pc)) return true;
  return false;
}

PP_SIGNAL_PATH JsFramesResult ReadJsFrames(const V8CodeLayout& layout, uintptr_t sp, const uintptr_t* native,
                                           const uintptr_t* native_fp, int n_native, uint64_t gen,
                                           pp_raw_frame* frames, int max, int* n_out, uint32_t* flags) {
  int n = 0;
  for (int i = 0; i < n_native; i++) {
    uintptr_t pc = native[i];
    if (!layout.HasCode(pc)) continue;
    uintptr_t fp = native_fp[i];
    if (fp < sp + kBytecodeOffsetBelowFp || fp - sp > kMaxStackBytes || (fp & 7)) return JsFramesResult::kNeedV8Walk;
    if (!IsStrongHeapObject(ReadBelow(fp, kContextOrMarkerBelowFp))) continue;  // a typed frame: not JavaScript
    if (n == max) {
      *flags |= PP_CAPTURE_TRUNCATED;
      break;
    }
    uintptr_t code = pc;
    if (i == 0 ? layout.interpreter.handlers.Has(pc) : layout.interpreter.all.Has(pc - 1)) {
      // As V8's stack sample: the array's tagged address plus the offset,
      // which counts from there, is the bytecode's own address, where the
      // code events put the function's bytecode.
      uintptr_t array = ReadBelow(fp, kBytecodeArrayBelowFp);
      uintptr_t offset = ReadBelow(fp, kBytecodeOffsetBelowFp);
      if (IsStrongHeapObject(array) && IsSmi(offset))
        code = array + static_cast<uintptr_t>(static_cast<intptr_t>(Internals::SmiValue(static_cast<Address>(offset))));
    }
    frames[n].code = code;
    frames[n].check = static_cast<uintptr_t>(gen);
    // Frame 0's pc is exact; a caller's is a return address (and a bytecode
    // address stays inside the function's bytecode one byte back).
    frames[n].offset = i == 0 ? 1 : 0;
    frames[n].flags = 0;
    n++;
  }
  *n_out = n;
  return JsFramesResult::kRead;
}

}  // namespace polyprof_node
