#!/usr/bin/env python3
"""Overhead of polyprof's allocation profiling (mode="alloc") on an
allocation-heavy Python program, next to tracemalloc and memray.

    python bench/python_alloc_overhead.py              # 7 rounds, ~1 s workload
    python bench/python_alloc_overhead.py --quick      # smoke run
    python bench/python_alloc_overhead.py --workload mixed   # a CPU-bound program instead
    python bench/python_alloc_overhead.py --rounds 11 --json results.json

Run it with an interpreter that has polyprof and memray (pip install memray);
configurations whose tool is missing are reported as skipped. Every run is a
fresh subprocess of that interpreter executing this file with --child, which
starts the profiler in-process, runs the workload, stops the profiler and
writes its output (polyprof: the pprof file; tracemalloc: a snapshot's
statistics by traceback; memray: its capture file), then prints a JSON line.

Measured per run: the child's user+sys CPU (RUSAGE_CHILDREN delta: every
thread of the child, including memray's background writer), wall time from
spawn to exit, and the workload's own CPU between start and stop. Rounds run
every configuration once in a shuffled order; each ratio is against the
unprofiled run of the same round; medians over rounds are reported, with a
second unprofiled run per round as the noise floor.

No pass/fail: the script reports.
"""
import argparse
import datetime
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time

# ------------------------------------------------------------------ workload
# Allocation-heavy and deterministic: many small objects (dicts, tuples,
# strings, lists) built and dropped, some kept (a growing cache), bytes and
# bytearray buffers of a few kB, json round trips. Pure Python: every object
# goes through the object or mem allocator domain.


def make_records(seed, n):
    out = []
    for i in range(n):
        k = (seed * 31 + i) % 977
        out.append({"id": i, "name": "item-%d-%d" % (seed, k), "tags": [str(k), str(k * 7)], "pos": (k, i, seed)})
    return out


def summarize(records):
    by_tag = {}
    for r in records:
        for t in r["tags"]:
            by_tag.setdefault(t, []).append(r["id"])
    return sum(len(v) for v in by_tag.values())


def buffers(seed, n):
    total = 0
    for i in range(n):
        b = bytearray(2048 + (seed + i) % 4096)
        b[0] = i & 0xFF
        s = bytes(b[:512]).hex()
        total += len(s) + b[0]
    return total


def round_trip(records):
    import json as _json
    return len(_json.loads(_json.dumps(records[:50])))


def unit(seed, cache):
    records = make_records(seed, 300)
    total = summarize(records) + buffers(seed, 40) + round_trip(records)
    if seed % 10 == 0:
        cache.append(records[:20])   # the part that stays live
    return total


def workload(scale):
    cache, checksum = [], 0
    for seed in range(scale):
        checksum = (checksum * 31 + unit(seed, cache)) % 1000000007
    return checksum, len(cache)


def run_workload(name, scale):
    """(checksum, blocks kept) of the allocation-heavy workload above, or of
    bench/workloads.py's CPU-bound "mixed" one (less allocation per second)."""
    if name == "mixed":
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from workloads import mixed
        return mixed(scale), 0
    return workload(scale)


# ------------------------------------------------------------------ child


def child(args):
    out = args.out
    t_start = time.process_time()
    tracker = None
    if args.profiler == "polyprof":
        import polyprof
        polyprof.start(mode="alloc", alloc_interval=args.alloc_interval, native=bool(args.native))
    elif args.profiler == "tracemalloc":
        import tracemalloc
        tracemalloc.start(args.frames)
    elif args.profiler == "memray":
        import memray
        tracker = memray.Tracker(out + ".bin", native_traces=False)
        tracker.__enter__()
    w0 = time.process_time()
    checksum, kept = run_workload(args.workload, args.scale)
    w1 = time.process_time()
    record = {"checksum": checksum, "kept": kept, "work_cpu_s": w1 - w0}
    if args.profiler == "polyprof":
        prof = polyprof.stop()
        prof.write(out + ".pb.gz")
        record["samples"] = prof.metadata.get("events_recorded")
    elif args.profiler == "tracemalloc":
        snap = tracemalloc.take_snapshot()
        tracemalloc.stop()
        record["samples"] = len(snap.statistics("traceback"))
    elif args.profiler == "memray":
        tracker.__exit__(None, None, None)
    record["section_cpu_s"] = time.process_time() - t_start
    print(json.dumps(record))


# ------------------------------------------------------------------ harness

CONFIGS = [
    ("none", "no profiler"),
    ("none2", "no profiler, repeat (noise floor)"),
    ("polyprof", "polyprof alloc, defaults (512k, native frames)"),
    ("polyprof_py", "polyprof alloc, 512k, Python frames only"),
    ("polyprof64k", "polyprof alloc, 64k, Python frames only"),
    ("tracemalloc", "tracemalloc (1 frame, its default)"),
    ("memray", "memray Tracker (Python frames)"),
]


def child_argv(key, python, workload_name, scale, out):
    argv = [python, os.path.abspath(__file__), "--child", "--workload", workload_name, "--scale", str(scale),
            "--out", out]
    if key.startswith("polyprof"):
        argv += ["--profiler", "polyprof", "--alloc-interval", "64k" if key == "polyprof64k" else "512k",
                 "--native", "1" if key == "polyprof" else "0"]
    elif key == "tracemalloc":
        argv += ["--profiler", "tracemalloc", "--frames", "1"]
    elif key == "memray":
        argv += ["--profiler", "memray"]
    return argv


def run(argv):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    w0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True)
    wall = time.perf_counter() - w0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip()[-600:]}
    rec = json.loads(proc.stdout.strip().splitlines()[-1])
    rec["cpu_s"] = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    rec["wall_s"] = wall
    return rec


def available(python, module):
    return subprocess.run([python, "-c", "import " + module], capture_output=True).returncode == 0


def version(python, dist):
    out = subprocess.run([python, "-c", "from importlib import metadata; print(metadata.version(%r))" % dist],
                         capture_output=True, text=True)
    return out.stdout.strip() or "not installed"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--profiler", default="none", help=argparse.SUPPRESS)
    ap.add_argument("--alloc-interval", default="512k", help=argparse.SUPPRESS)
    ap.add_argument("--frames", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--native", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--workload", choices=["alloc", "mixed"], default="alloc",
                    help="alloc: allocation-heavy (default); mixed: bench/workloads.py's CPU-bound mix")
    ap.add_argument("--out", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--scale", type=int, default=None,
                    help="workload units (alloc: default 1500, ~1 s, --quick 300; mixed: 250 and 60)")
    ap.add_argument("--rounds", type=int, default=None, help="rounds (default 7; --quick 2)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", default=None, help="also write every raw measurement here")
    args = ap.parse_args()
    if args.child:
        return child(args)
    if args.workload == "mixed":
        args.scale = args.scale or (60 if args.quick else 250)
    else:
        args.scale = args.scale or (300 if args.quick else 1500)
    args.rounds = args.rounds or (2 if args.quick else 7)
    python = args.python
    cfgs = [c for c in CONFIGS if c[0] != "memray" or available(python, "memray")]
    skipped = [c[1] for c in CONFIGS if c not in cfgs]
    cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print("polyprof allocation-profiling overhead, %s workload (scale %d)   %s"
          % (args.workload, args.scale, datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")))
    print("  cpu %s, %d CPUs; %s; Python %s; memray %s; load %s"
          % (cpu_model, os.cpu_count(), " ".join(platform.uname()[i] for i in (0, 2)),
             subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True,
                            text=True).stdout.strip(), version(python, "memray"),
             " ".join(open("/proc/loadavg").read().split()[:3])))
    if skipped:
        print("  skipped (not installed): %s" % ", ".join(skipped))
    runs = {k: [] for k, _ in cfgs}
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="polyprof-alloc-bench-") as tmp:
        for r in range(args.rounds):
            order = cfgs[:]
            rng.shuffle(order)
            for key, label in order:
                out = os.path.join(tmp, "%s-%d" % (key, r))
                rec = run(child_argv(key, python, args.workload, args.scale, out))
                runs[key].append(rec)
                if "error" in rec:
                    print("  round %d %s: ERROR %s" % (r + 1, label, rec["error"]))
            print("  round %d/%d: no profiler %.2fs CPU, load %s"
                  % (r + 1, args.rounds, runs["none"][r].get("cpu_s", float("nan")),
                     " ".join(open("/proc/loadavg").read().split()[:3])))
    sums = {rec.get("checksum") for recs in runs.values() for rec in recs if "error" not in rec}
    if len(sums) > 1:
        print("WARNING: checksums differ between configurations: %r" % sums)
    print()
    print("| configuration | CPU ratio, median (min-max) | work-only CPU ratio | wall ratio | samples / stacks | runs |")
    print("|---|---|---|---|---|---|")
    summary = {}
    for key, label in cfgs:
        cpu, work, wall, samples = [], [], [], []
        for r, rec in enumerate(runs[key]):
            base = runs["none"][r]
            if "error" in rec or "error" in base:
                continue
            cpu.append(rec["cpu_s"] / base["cpu_s"])
            work.append(rec["work_cpu_s"] / base["work_cpu_s"])
            wall.append(rec["wall_s"] / base["wall_s"])
            if rec.get("samples") is not None:
                samples.append(rec["samples"])
        if not cpu:
            print("| %s | failed | | | | 0/%d |" % (label, len(runs[key])))
            continue
        summary[key] = statistics.median(cpu)
        print("| %s | %.3f (%.3f-%.3f) | %.3f | %.3f | %s | %d/%d |"
              % (label, statistics.median(cpu), min(cpu), max(cpu), statistics.median(work),
                 statistics.median(wall), "%.0f" % statistics.median(samples) if samples else "-", len(cpu),
                 len(runs[key])))
    base = [rec["cpu_s"] for rec in runs["none"] if "error" not in rec]
    print("\nno profiler: median %.3f CPU-s per run (min %.3f, max %.3f)" % (statistics.median(base), min(base), max(base)))
    print("CPU ratio: the child's user+sys CPU (startup, profiling, output) vs the same round's unprofiled run;\n"
          "work-only: CPU of the workload between start and stop; samples: polyprof's allocation samples,\n"
          "tracemalloc's distinct tracebacks in its final snapshot.")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": runs, "summary": summary, "argv": sys.argv}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
