// V8's JavaScript frames read off the core's native walk.
//
// V8's generated code keeps frame pointers, and the core's unwinder steps
// through it by them: the native stack of a sample already holds one frame
// per JavaScript frame, with the frame pointer it had. What V8's own stack
// sample (Isolate::GetStackSample) would add is read here from two fixed
// slots below each such frame pointer, instead of V8 walking the stack a
// second time from the isolate's state (which costs more than the walk
// itself: cold isolate fields, the native context of the top frame).
//
// The layout used has held from Node 20 (V8 11.3) to Node 26 (V8 14): below
// fp, a context (a tagged heap object) or a frame-type marker (an integer
// with the Smi tag: typed frames, such as entry, exit and stub frames, which
// are not JavaScript's); in an interpreted frame, the bytecode array and the
// bytecode offset (a Smi counted from the array's tagged address) further
// down. Each value is checked for the tag it must have before it is used;
// a sample whose frames do not check out is taken with GetStackSample.
#ifndef POLYPROF_NODE_V8_FRAMES_H
#define POLYPROF_NODE_V8_FRAMES_H

#include <cstddef>
#include <cstdint>

#include "polyprof.h"

namespace polyprof_node {

struct CodeRange {
  uintptr_t start = 0, end = 0;
  bool Has(uintptr_t pc) const { return pc >= start && pc < end; }
};

// Code ranges merged into runs and sorted.
struct CodeRuns {
  static constexpr int kMax = 128;
  CodeRange ranges[kMax];
  int n = 0;
  // Signal-safe: a binary search of the array.
  bool Has(uintptr_t pc) const;
};

// The interpreter's code. A caller's frame whose return address is in any of
// it is an interpreted frame; the interrupted frame only where its pc is in
// a bytecode handler, which runs in a frame already built: in a trampoline
// the frame may be half built, its bytecode slots still holding old stack.
struct InterpreterRanges {
  CodeRuns all;
  CodeRuns handlers;
};

// Where V8's code is, for one isolate. Read in the signal handler.
struct V8CodeLayout {
  CodeRange code;         // JIT code (and remapped builtins)
  CodeRange builtins;     // embedded builtins in the node binary
  CodeRange copies[4];    // copies of the embedded builtins V8 runs
  int n_copies = 0;
  InterpreterRanges interpreter;
  bool HasCode(uintptr_t pc) const;
};

enum class JsFramesResult { kRead, kNeedV8Walk };

// Async-signal-safe: reads the stack slots below the frame pointers the
// native walk recorded (inside the core's fault guard) and writes frames.
// Writes, leaf first, one raw frame per JavaScript frame among the native
// frames in V8's code: the bytecode address for an interpreted frame, the
// pc otherwise (frame 0's exact, the others return addresses), each with
// generation gen. kNeedV8Walk when a frame in V8's code has no recorded
// frame pointer or one outside the stack: the caller then asks V8.
JsFramesResult ReadJsFrames(const V8CodeLayout& layout, uintptr_t sp, const uintptr_t* native,
                            const uintptr_t* native_fp, int n_native, uint64_t gen, pp_raw_frame* frames, int max,
                            int* n_out, uint32_t* flags);

}  // namespace polyprof_node

#endif
