// What V8 code lives where: a map from code addresses (machine code of
// compiled functions and builtins, and the bytecode of interpreted ones) to
// the JavaScript function they belong to, fed by V8's JIT code events.
//
// The signal handler records raw addresses only; they are named here later,
// on the core's drain thread. Code moves and dies in between (GC compacts,
// functions are re-optimized), so every sample carries the map's generation
// at capture time, every move or removal starts a new generation, and code
// that died is kept for a while with the generation it died in: an address
// is named by what was there when the sample was taken.
#ifndef POLYPROF_NODE_JS_CODE_MAP_H
#define POLYPROF_NODE_JS_CODE_MAP_H

#include <v8.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace polyprof_node {

enum class CodeKind : uint8_t {
  kNone,         // no V8 code known at that address
  kFunction,     // a JavaScript function: bytecode or compiled code
  kInterpreter,  // the interpreter's trampolines and bytecode handlers
  kBuiltin,      // other builtins and stubs
  kRegExp,       // compiled regular expressions
};

struct CodeInfo {
  CodeKind kind = CodeKind::kNone;
  std::string name;  // function name; builtins by their V8 name
  std::string file;  // script URL, empty for builtins
  int line = 0;      // 1-based line where the function starts
  // kInterpreter: a bytecode handler, which runs inside an interpreted frame
  // already built (the trampolines build it).
  bool bytecode_handler = false;
};

// Signal-safe: the generation a sample is taken in.
uint64_t CodeMapGeneration();

// V8's JitCodeEventHandler; install with Isolate::SetJitCodeEventHandler.
void OnJitCodeEvent(const v8::JitCodeEvent* event);

// Names addr as it was in generation gen. Drain thread (takes the map's lock).
bool CodeMapLookup(uintptr_t addr, uint64_t gen, CodeInfo* out);

// The kind of the code that named addr in generation gen, kNone when no code
// did: CodeMapLookup without copying the names. Drain thread (takes the
// map's lock); remembered per address, so asking again is cheap.
CodeKind CodeMapKindIn(uintptr_t addr, uint64_t gen);

// The kind of code at addr now (drain thread): for classifying native frames.
// Remembered per address as CodeMapKindIn.
CodeKind CodeMapKindAt(uintptr_t addr);

// The live code `keep` keeps, as [start, end) runs sorted by address:
// entries kept separated by less than `gap` bytes and no other entry make one
// run. Drain or isolate thread (takes the map's lock).
std::vector<std::pair<uintptr_t, uintptr_t>> CodeMapRuns(bool (*keep)(const CodeInfo&), uintptr_t gap);

// The isolate is going away: its code dies now.
void CodeMapForgetIsolate(v8::Isolate* isolate);

// Entries held (live and recently dead), for stats and tests.
size_t CodeMapSize();

}  // namespace polyprof_node

#endif
