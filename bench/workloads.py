"""Workloads for bench/python_overhead.py, and the child-side runner.

Run as a script, this executes one workload (optionally under an in-process
profiler) and writes a JSON record of what happened to --out:

    python bench/workloads.py --workload mixed --scale 400 --out r.json
    python bench/workloads.py --workload mixed --scale 400 --out r.json \\
        --profiler polyprof --interval-ms 10 --native 1

Out-of-process / command-line profilers (py-spy, cProfile) wrap the plain
invocation instead; the JSON then only carries the timings and the checksum.

The "mixed" workload is deterministic: the same --scale always does the
same work and returns the same checksum, which the harness compares
across configurations (a profiler must not change the program's result).
The deep-* workloads run for a CPU-time budget instead (--seconds).
"""
import argparse
import json
import os
import sys
import time

# ----------------------------------------------------------------- workloads
#
# "mixed": a CPU-bound pure-Python unit of work (~3 ms on the reference
# machine with CPython 3.11, so --scale 1300 is ~4 s) repeated `scale` times. It mixes plain function calls,
# method calls, dict/list work, sorting with a Python key and recursion, so
# stacks are 5-25 Python frames deep and change often (a worst-ish case for
# a profiler's stack table, unlike one hot loop).


class Node:
    __slots__ = ("key", "left", "right")

    def __init__(self, key, left=None, right=None):
        self.key = key
        self.left = left
        self.right = right


def build_tree(lo, hi):
    """Balanced binary tree over [lo, hi): recursion + allocation."""
    if lo >= hi:
        return None
    mid = (lo + hi) // 2
    return Node(mid, build_tree(lo, mid), build_tree(mid + 1, hi))


def tree_sum(node, depth=0):
    if node is None:
        return 0
    return node.key * (depth + 1) + tree_sum(node.left, depth + 1) + tree_sum(node.right, depth + 1)


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def word_counts(seed, n):
    """Dict work over pseudo-random 'words' (an LCG keeps it deterministic)."""
    counts = {}
    x = seed
    for _ in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        word = "w%d" % (x % 257)
        counts[word] = counts.get(word, 0) + 1
    return counts


class Vec:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x = x
        self.y = y

    def add(self, other):
        return Vec(self.x + other.x, self.y + other.y)

    def dot(self, other):
        return self.x * other.x + self.y * other.y


def vec_work(n):
    acc = Vec(0, 0)
    total = 0
    for i in range(n):
        v = Vec(i % 7, i % 11)
        acc = acc.add(v)
        total += acc.dot(v) & 0xFFFF
    return total


def list_work(seed, n):
    xs = [(seed * 31 + i * 17) % 1009 for i in range(n)]
    ys = sorted(xs, key=lambda v: (v % 13, -v))
    evens = [v for v in ys if v % 2 == 0]
    return sum(evens[::3]) + len(set(xs))


def mixed_unit(i):
    tree = build_tree(0, 600)
    s = tree_sum(tree)
    s += fib(15)
    wc = word_counts(i, 3000)
    s += sum(v * len(k) for k, v in sorted(wc.items()))
    s += vec_work(2500)
    s += list_work(i, 2000)
    return s & 0xFFFFFFFF


def mixed(scale):
    checksum = 0
    for i in range(scale):
        checksum = (checksum * 31 + mixed_unit(i)) & 0xFFFFFFFF
    return checksum


# "deep-json": samples whose stacks are mostly ~64 *native* frames. The C
# JSON encoder recurses once per nesting level (encoder_listencode_obj; on
# 3.11 the list encoder is inlined into it), so a list nested `levels` deep
# around a leaf with a few hundred scalars spends most of its time with
# levels+few native frames on the stack, below a handful of Python frames.

DEEP_JSON_LEVELS = 58  # ~64 native frames per sample on CPython 3.11 (reported, not assumed)


def deep_json(seconds, levels=DEEP_JSON_LEVELS):
    leaf = [[i, "s%d" % i, i * 0.5, None, True] for i in range(200)]
    obj = leaf
    for _ in range(levels):
        obj = [obj]
    enc = json.JSONEncoder(check_circular=False)
    end = time.thread_time() + seconds
    n = 0
    while time.thread_time() < end:
        n += len(enc.encode(obj))
    return n & 0xFFFFFFFF  # depends on the time budget: not compared


# "deep-sorted": Python and C interleaved. Each level calls sorted() (C) with
# a Python key function that itself recurses into sorted(), so the native
# stack alternates eval-loop frames and list_sort frames: this exercises the
# mixed-mode merge, not just the unwinder.

DEEP_SORTED_LEVELS = 5  # ~64 raw native frames at the leaf on CPython 3.11 (reported, not assumed)


def _sorted_level(level, items):
    if level == 0:
        # Leaf: plain Python work, so most samples land at full depth.
        total = 0
        for j in range(400):
            total += (items * 7 + j) % 13
        return total
    # Two items: the key function runs twice per level (2^levels leaves).
    return sum(sorted((items, items + 1), key=lambda v: _sorted_level(level - 1, v)))


def deep_sorted(seconds, levels=DEEP_SORTED_LEVELS):
    end = time.thread_time() + seconds
    n = 0
    while time.thread_time() < end:
        n += _sorted_level(levels, 1)
    return n & 0xFFFFFFFF


def raw_native_depth(workload):
    """Native frames on the stack at the deep workload's leaf, as glibc's
    backtrace() (the same .eh_frame unwinding libunwind does) counts them,
    from a Python callback placed at the leaf. Includes the ~5 frames of the
    ctypes call itself. This is the depth the signal handler has to walk;
    polyprof's output shows fewer native frames, since the mixed-mode merge
    replaces eval-loop frames and drops call plumbing."""
    import ctypes

    libc = ctypes.CDLL(None)
    buf = (ctypes.c_void_p * 1024)()
    seen = []

    def probe():
        seen.append(libc.backtrace(buf, len(buf)))

    if workload == "deep-json":
        class Leaf:
            pass

        def default(o):
            probe()
            return 0

        obj = Leaf()
        for _ in range(DEEP_JSON_LEVELS):
            obj = [obj]
        json.dumps(obj, default=default, check_circular=False)
    else:
        def level(n, items):
            if n == 0:
                probe()
                return 0
            return sum(sorted((items, items + 1), key=lambda v: level(n - 1, v)))

        level(DEEP_SORTED_LEVELS, 1)
    return seen[0] if seen else None


# ------------------------------------------------------------ profiler hooks


def native_depths(samples):
    """(native, python) frame counts of each sample, expanded by sample count."""
    out = []
    for s in samples:
        nat = sum(1 for f in s.frames if f.kind == "native")
        py = sum(1 for f in s.frames if f.kind == "python")
        out.extend([(nat, py)] * int(s.values[0]))
    return out


def run_under(profiler, args, fn):
    """Run fn() under the named in-process profiler; returns (result, extra
    fields for the JSON record). Each profiler ends by producing its normal
    output (a file or a report), as a user would."""
    extra = {}
    if profiler == "none":
        return fn(), extra

    if profiler == "polyprof":
        import polyprof
        from polyprof import _native  # private: only for the drain-thread CPU counter

        polyprof.start(interval_ms=args.interval_ms, mode="cpu", native=bool(args.native))
        result = fn()
        p = polyprof.stop()
        p.write(args.out + ".pb.gz")
        os.unlink(args.out + ".pb.gz")
        md = p.metadata
        extra["polyprof"] = {k: v for k, v in md.items()}
        extra["polyprof"]["drain_cpu_ns"] = _native.stats().get("drain_cpu_ns")
        if args.depths:
            extra["depths"] = native_depths(p.samples())
        return result, extra

    if profiler == "pyinstrument":
        from pyinstrument import Profiler

        prof = Profiler(interval=args.interval_ms / 1000.0)
        prof.start()
        result = fn()
        session = prof.stop()
        prof.output_text()  # render the report, as `python -m pyinstrument` would
        extra["pyinstrument_samples"] = len(getattr(session, "frame_records", []) or [])
        return result, extra

    if profiler == "yappi":
        import yappi

        yappi.set_clock_type("cpu")
        yappi.start()
        result = fn()
        yappi.stop()
        yappi.get_func_stats().save(os.devnull, type="pstat")
        return result, extra

    raise SystemExit("unknown --profiler %r" % profiler)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", choices=["mixed", "deep-json", "deep-sorted"], default="mixed")
    ap.add_argument("--scale", type=int, default=400, help="mixed: number of work units")
    ap.add_argument("--seconds", type=float, default=3.0, help="deep-*: CPU seconds to run")
    ap.add_argument("--out", required=True, help="JSON record to write")
    ap.add_argument("--profiler", default="none", choices=["none", "polyprof", "pyinstrument", "yappi"])
    ap.add_argument("--interval-ms", type=float, default=10.0)
    ap.add_argument("--native", type=int, default=1)
    ap.add_argument("--depths", action="store_true", help="polyprof: record per-sample frame depths")
    args = ap.parse_args(argv)
    raw_depth = raw_native_depth(args.workload) if args.workload != "mixed" and args.depths else None

    if args.workload == "mixed":
        fn = lambda: mixed(args.scale)  # noqa: E731
    elif args.workload == "deep-json":
        fn = lambda: deep_json(args.seconds)  # noqa: E731
    else:
        fn = lambda: deep_sorted(args.seconds)  # noqa: E731

    # "work": just the workload, between the profiler's start and stop, on the
    # main thread: what the profiler costs in line (signal handler, hooks, and
    # their cache disturbance), without import/start/stop/output costs and
    # without the profiler's own threads.
    work = {}

    def timed():
        t, w = time.thread_time(), time.perf_counter()
        r = fn()
        work["work_thread_cpu_s"] = time.thread_time() - t
        work["work_wall_s"] = time.perf_counter() - w
        return r

    # "section": the workload plus the profiler's import, start, stop and
    # output. Process CPU (all threads, so it includes a profiler's own
    # threads), main-thread CPU (what a per-thread CPU timer samples), wall.
    c0, t0, w0 = time.process_time(), time.thread_time(), time.perf_counter()
    result, extra = run_under(args.profiler, args, timed)
    c1, t1, w1 = time.process_time(), time.thread_time(), time.perf_counter()
    record = {"checksum": result, "section_cpu_s": c1 - c0, "section_thread_cpu_s": t1 - t0,
              "section_wall_s": w1 - w0, "python": sys.version.split()[0]}
    record.update(work)
    if raw_depth is not None:
        record["raw_native_depth"] = raw_depth
    record.update(extra)
    with open(args.out, "w") as f:
        json.dump(record, f)


if __name__ == "__main__":
    main()
