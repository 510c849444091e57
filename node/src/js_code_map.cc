// V8's JIT code events -> address map; see js_code_map.h.
//
// V8 calls the handler on the isolate's own thread (and, for some events,
// during GC); the core's drain thread reads the map. One mutex guards it:
// neither side runs in a signal handler. The generation counter is the only
// thing the signal handler touches, with a lock-free atomic load.
#include "js_code_map.h"

#include <time.h>

#include <atomic>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>

namespace polyprof_node {

namespace {

struct Entry {
  uintptr_t end;
  uint64_t born;  // generation the code appeared in
  v8::Isolate* isolate;
  CodeInfo info;
};

struct DeadEntry {
  Entry entry;
  uint64_t died;  // first generation it is no longer there
  uint64_t died_ns;
};

std::atomic<uint64_t> g_generation{1};
static_assert(std::atomic<uint64_t>::is_always_lock_free, "the signal handler reads the generation");

std::mutex g_lock;
std::map<uintptr_t, Entry> g_live;  // by start address
// Entries added to g_live, ever (under g_lock): code appearing where there
// was none starts no generation, but changes what a lookup finds.
uint64_t g_adds = 1;
// Code that died, by start address (a worker's exit kills thousands of
// entries at once: lookups must not scan them all), and the same entries
// in the order they died, for pruning.
std::multimap<uintptr_t, DeadEntry> g_dead;
std::deque<std::multimap<uintptr_t, DeadEntry>::iterator> g_dead_order;
// No V8 code object is larger than this: a lookup looks back no further.
constexpr uintptr_t kMaxCodeBytes = 16u << 20;

// Samples wait in the core's ring for one drain period (20 ms) before they are
// named; code that died stays nameable far longer than that.
constexpr uint64_t kKeepDeadNs = 2000000000ULL;
constexpr size_t kMaxDead = 200000;

uint64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

void PruneDead(uint64_t now) {
  while (!g_dead_order.empty() &&
         (now - g_dead_order.front()->second.died_ns > kKeepDeadNs || g_dead_order.size() > kMaxDead)) {
    g_dead.erase(g_dead_order.front());
    g_dead_order.pop_front();
  }
}

// Caller holds g_lock. Moves the entry at it to the dead list.
std::map<uintptr_t, Entry>::iterator Kill(std::map<uintptr_t, Entry>::iterator it, uint64_t gen, uint64_t now) {
  g_dead_order.push_back(g_dead.emplace(it->first, DeadEntry{std::move(it->second), gen, now}));
  return g_live.erase(it);
}

// Caller holds g_lock. Kills whatever overlaps [start, end): V8 reports new
// code over the place of code it freed without a removal event. Returns
// whether anything died (the caller then starts a new generation).
bool KillOverlapping(uintptr_t start, uintptr_t end, uint64_t gen, uint64_t now) {
  bool killed = false;
  auto it = g_live.upper_bound(start);
  if (it != g_live.begin()) {
    auto prev = std::prev(it);
    if (prev->second.end > start) it = prev;
  }
  while (it != g_live.end() && it->first < end) {
    it = Kill(it, gen, now);
    killed = true;
  }
  return killed;
}

bool IsInterpreterEntry(const std::string& name) {
  return name.rfind("Interpreter", 0) == 0 || name.rfind("Baseline", 0) == 0;
}

bool IsInterpreterBuiltin(const std::string& name) {
  return IsInterpreterEntry(name) || (name.size() > 7 && name.compare(name.size() - 7, 7, "Handler") == 0);
}

bool AllDigits(const std::string& s, size_t from, size_t to) {
  if (from >= to) return false;
  for (size_t i = from; i < to; i++)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

// The tier marker V8 puts before a function's name: ~ interpreted,
// ^ baseline, + maglev, * turbofan; V8 14 adds "o" before it for
// on-stack-replacement code ("o*burn") and may put ' after it for
// context-specialized code. Its length, 0 when there is none.
size_t MarkerLength(const std::string& s) {
  auto tier = [&](size_t i) { return i < s.size() && s[i] != '\0' && strchr("~^+*", s[i]) != nullptr; };
  size_t i = (s.size() >= 2 && s[0] == 'o' && tier(1)) ? 1 : 0;
  if (!tier(i)) return 0;
  i++;
  if (i < s.size() && s[i] == '\'') i++;
  return i;
}

// V8's code event names: "<Tag>:<marker><function> <script>:<line>:<column>"
// for functions, "<Tag>:<name>" for builtins, handlers and stubs.
CodeInfo Describe(const v8::JitCodeEvent* ev) {
  CodeInfo info;
  std::string s(ev->name.str ? ev->name.str : "", ev->name.str ? ev->name.len : 0);
  std::string tag;
  size_t colon = s.find(':');
  size_t space = s.find(' ');
  if (colon != std::string::npos && (space == std::string::npos || colon < space)) {
    tag = s.substr(0, colon);
    s.erase(0, colon + 1);
  }
  std::string script;
  if (!ev->script.IsEmpty()) {
    v8::Local<v8::Value> n = ev->script->GetScriptName();
    if (!n.IsEmpty() && n->IsString()) {
      v8::String::Utf8Value u(ev->isolate, n);
      if (*u) script.assign(*u, static_cast<size_t>(u.length()));
    }
  }
  bool is_js = ev->code_type == v8::JitCodeEvent::BYTE_CODE || !ev->script.IsEmpty() || tag == "JS" ||
               tag == "Function" || tag == "LazyCompile" || tag == "Script" || tag == "Eval";
  if (tag == "RegExp") {
    info.kind = CodeKind::kRegExp;
    info.name = "RegExp: " + s;
    return info;
  }
  if (!is_js) {
    info.name = s;
    info.kind = (tag == "BytecodeHandler" || IsInterpreterBuiltin(s)) ? CodeKind::kInterpreter : CodeKind::kBuiltin;
    info.bytecode_handler = info.kind == CodeKind::kInterpreter && !IsInterpreterEntry(s);
    return info;
  }
  info.kind = CodeKind::kFunction;
  s.erase(0, MarkerLength(s));
  // Trailing ":<line>:<column>".
  size_t c2 = s.rfind(':');
  if (c2 != std::string::npos && AllDigits(s, c2 + 1, s.size())) {
    size_t c1 = s.rfind(':', c2 - 1);
    if (c1 != std::string::npos && AllDigits(s, c1 + 1, c2)) {
      info.line = atoi(s.c_str() + c1 + 1);
      s.erase(c1);
    }
  }
  // Then " <script>": the script's name when V8 gave the script, else the
  // last word.
  std::string fn;
  if (!script.empty() && s.size() >= script.size() &&
      s.compare(s.size() - script.size(), script.size(), script) == 0) {
    fn = s.substr(0, s.size() - script.size());
  } else {
    size_t sp = s.rfind(' ');
    if (sp != std::string::npos) {
      if (script.empty()) script = s.substr(sp + 1);
      fn = s.substr(0, sp + 1);
    } else {
      fn = s;
    }
  }
  while (!fn.empty() && fn.back() == ' ') fn.pop_back();
  info.file = script;
  if (fn.empty()) {
    // V8 says "(anonymous)"; reports show names only, so the name carries
    // where the function starts, as in mode 'v8'.
    const char* base = strrchr(script.c_str(), '/');
    base = base ? base + 1 : script.c_str();
    if (!*base)
      fn = "(anonymous)";
    else if (info.line > 0)
      fn = std::string("(anonymous ") + base + ":" + std::to_string(info.line) + ")";
    else
      fn = std::string("(anonymous ") + base + ")";
  }
  info.name = fn;
  return info;
}

}  // namespace

uint64_t CodeMapGeneration() { return g_generation.load(std::memory_order_acquire); }

void OnJitCodeEvent(const v8::JitCodeEvent* ev) {
  if (!ev) return;
  switch (ev->type) {
    case v8::JitCodeEvent::CODE_ADDED: {
      if (!ev->code_start || ev->code_len == 0) return;
      CodeInfo info = Describe(ev);
      auto start = reinterpret_cast<uintptr_t>(ev->code_start);
      // The embedded builtins are one copy for every isolate (V8 names them
      // at their place in the node binary): shared, never an isolate's.
      bool shared = info.kind == CodeKind::kBuiltin || info.kind == CodeKind::kInterpreter;
      uint64_t now = NowNs();
      std::lock_guard<std::mutex> g(g_lock);
      auto same = g_live.find(start);
      if (same != g_live.end() && same->second.end == start + ev->code_len && same->second.info.name == info.name &&
          same->second.info.kind == info.kind)
        return;  // another isolate reporting the same shared code
      uint64_t gen = g_generation.load(std::memory_order_relaxed);
      if (KillOverlapping(start, start + ev->code_len, gen + 1, now)) {
        gen++;
        g_generation.store(gen, std::memory_order_release);
      }
      g_live[start] = Entry{start + ev->code_len, gen, shared ? nullptr : ev->isolate, std::move(info)};
      g_adds++;
      PruneDead(now);
      return;
    }
    case v8::JitCodeEvent::CODE_MOVED: {
      auto from = reinterpret_cast<uintptr_t>(ev->code_start);
      auto to = reinterpret_cast<uintptr_t>(ev->new_code_start);
      uint64_t now = NowNs();
      std::lock_guard<std::mutex> g(g_lock);
      auto it = g_live.find(from);
      if (it == g_live.end()) return;
      uint64_t gen = g_generation.load(std::memory_order_relaxed) + 1;
      Entry moved = it->second;
      uintptr_t len = moved.end - from;
      Kill(it, gen, now);
      KillOverlapping(to, to + len, gen, now);
      moved.end = to + len;
      moved.born = gen;
      g_live[to] = std::move(moved);
      g_adds++;
      g_generation.store(gen, std::memory_order_release);
      return;
    }
    case v8::JitCodeEvent::CODE_REMOVED: {
      auto start = reinterpret_cast<uintptr_t>(ev->code_start);
      uint64_t now = NowNs();
      std::lock_guard<std::mutex> g(g_lock);
      auto it = g_live.find(start);
      if (it == g_live.end()) return;
      uint64_t gen = g_generation.load(std::memory_order_relaxed) + 1;
      Kill(it, gen, now);
      g_generation.store(gen, std::memory_order_release);
      return;
    }
    default:
      // Line information and event types added after this was written.
      return;
  }
}

namespace {

// Caller holds g_lock. The entry that named addr in generation gen: live
// code born by then, else code that was there then and has died since.
const Entry* FindLocked(uintptr_t addr, uint64_t gen) {
  auto it = g_live.upper_bound(addr);
  if (it != g_live.begin()) {
    --it;
    if (addr < it->second.end && it->second.born <= gen) return &it->second;
  }
  // Code that was at addr in that generation and has died since: entries
  // starting at most kMaxCodeBytes below addr.
  int budget = 256; // bounded: a miss must stay cheap on the drain thread
  for (auto d = g_dead.upper_bound(addr); d != g_dead.begin() && budget-- > 0;) {
    --d;
    if (addr - d->first > kMaxCodeBytes) break;
    if (addr < d->second.entry.end && d->second.entry.born <= gen && gen < d->second.died) return &d->second.entry;
  }
  return nullptr;
}

// Caller holds g_lock. The live entry holding addr, or null.
const Entry* LiveAtLocked(uintptr_t addr) {
  auto it = g_live.upper_bound(addr);
  if (it == g_live.begin()) return nullptr;
  --it;
  return addr < it->second.end ? &it->second : nullptr;
}

// The kinds the drain thread asks for, per native frame and JavaScript
// frame of every sample, remembered per address: the map is a tree of tens
// of thousands of entries whose walk misses the cache at every level, and a
// profile asks about the same few hundred addresses again and again.
// An answer stays true until the map changes where it looked:
//   - code found in a generation stays found for that generation (code
//     that dies is kept with the generation it died in);
//   - live code found now stays there until it dies, which starts a new
//     generation;
//   - an address no code held gains some only when code is added (g_adds).
// Under g_lock.
constexpr uint64_t kNow = UINT64_MAX;  // "as the map is now": no generation gets this far
struct KindMemo {
  uintptr_t addr = 0;
  uint64_t gen = 0;    // the generation asked about, or kNow
  uint64_t stamp = 0;  // kNow: the generation when found; not found: g_adds then
  CodeKind kind = CodeKind::kNone;
};
constexpr size_t kKindMemoSlots = 4096;
KindMemo g_kind_memo[kKindMemoSlots];

CodeKind KindLocked(uintptr_t addr, uint64_t gen) {
  KindMemo& m = g_kind_memo[(addr ^ (addr >> 12) ^ gen) % kKindMemoSlots];
  if (m.addr == addr && m.gen == gen && m.stamp != 0) {
    bool still = m.kind == CodeKind::kNone ? m.stamp == g_adds
                                           : gen != kNow || m.stamp == g_generation.load(std::memory_order_relaxed);
    if (still) return m.kind;
  }
  const Entry* e = gen == kNow ? LiveAtLocked(addr) : FindLocked(addr, gen);
  m.addr = addr;
  m.gen = gen;
  m.kind = e ? e->info.kind : CodeKind::kNone;
  m.stamp = !e ? g_adds : gen == kNow ? g_generation.load(std::memory_order_relaxed) : 1;
  return m.kind;
}

}  // namespace

bool CodeMapLookup(uintptr_t addr, uint64_t gen, CodeInfo* out) {
  std::lock_guard<std::mutex> g(g_lock);
  const Entry* e = FindLocked(addr, gen);
  if (e) *out = e->info;
  return e != nullptr;
}

CodeKind CodeMapKindIn(uintptr_t addr, uint64_t gen) {
  std::lock_guard<std::mutex> g(g_lock);
  return KindLocked(addr, gen);
}

CodeKind CodeMapKindAt(uintptr_t addr) {
  std::lock_guard<std::mutex> g(g_lock);
  return KindLocked(addr, kNow);
}

std::vector<std::pair<uintptr_t, uintptr_t>> CodeMapRuns(bool (*keep)(const CodeInfo&), uintptr_t gap) {
  std::vector<std::pair<uintptr_t, uintptr_t>> runs;
  std::lock_guard<std::mutex> g(g_lock);
  bool open = false;  // the last entry seen was kept: a run may go on
  for (const auto& [start, entry] : g_live) {
    if (!keep(entry.info)) {
      open = false;
      continue;
    }
    if (open && start - runs.back().second < gap)
      runs.back().second = entry.end > runs.back().second ? entry.end : runs.back().second;
    else
      runs.emplace_back(start, entry.end);
    open = true;
  }
  return runs;
}

void CodeMapForgetIsolate(v8::Isolate* isolate) {
  uint64_t now = NowNs();
  std::lock_guard<std::mutex> g(g_lock);
  uint64_t gen = g_generation.load(std::memory_order_relaxed) + 1;
  bool killed = false;
  for (auto it = g_live.begin(); it != g_live.end();) {
    if (it->second.isolate == isolate) {
      it = Kill(it, gen, now);
      killed = true;
    } else {
      ++it;
    }
  }
  if (killed) g_generation.store(gen, std::memory_order_release);
  PruneDead(now);
}

size_t CodeMapSize() {
  std::lock_guard<std::mutex> g(g_lock);
  return g_live.size() + g_dead.size();
}

}  // namespace polyprof_node

