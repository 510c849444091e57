#!/usr/bin/env python3
"""CPU cost of wall mode in a process with a pool of idle threads.

    python bench/python_wall_threads.py               # 7 rounds
    python bench/python_wall_threads.py --rounds 3    # quicker

Run it with an interpreter that has polyprof installed. Each run is a fresh
child process: 48 threads blocked on an event (an idle thread pool) and the
main thread doing a fixed amount of pure-Python work (about 1.5 s of CPU).
Measured: the child's user+sys CPU (getrusage(RUSAGE_CHILDREN) deltas: every
thread, the profiler's included), polyprof's own overhead_pct (its signal
handler's time plus its thread's CPU, against the process's CPU) and the
signals it handled (samples_taken): what the cost per tick scales with.

Configurations: no profiler; wall mode at 10 ms (100 Hz) and at 1 ms with the
default bound (wall_threads=16: at most 16 threads visited per tick); and
the same with wall_threads=65536, i.e. every thread every tick. With --before
PYTHON, the same two default configurations under another build of polyprof
(a venv of an earlier commit); with --py-spy PATH, `py-spy record --idle` at
100 and 1000 Hz as a peer. Rounds interleave every configuration in a
shuffled order, each ratio is against the same round's unprofiled run, and
medians over rounds are reported, so a shared machine's drift mostly cancels.

    python bench/python_wall_threads.py --rounds 11 --before old-venv/bin/python --py-spy venv/bin/py-spy
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

CHILD = r'''
import json, sys, threading
interval_ms, options = float(sys.argv[1]), sys.argv[2]
done = threading.Event()
ready = threading.Barrier(49)
def idle():
    ready.wait()
    done.wait()
pool = [threading.Thread(target=idle) for _ in range(48)]
for t in pool:
    t.start()
ready.wait()
if options != "none":
    import polyprof
    polyprof.start(mode="wall", interval_ms=interval_ms, options=options)
x = 0
for i in range(%d):
    for j in range(200):
        x += j * j
meta = {}
if options != "none":
    meta = polyprof.stop().metadata
done.set()
for t in pool:
    t.join()
print(json.dumps({"overhead_pct": meta.get("overhead_pct"), "samples_taken": meta.get("samples_taken")}))
'''

# (name, interval_ms, options, who): the interval goes through interval_ms,
# which start() puts in front of the options string; who runs it: "this"
# (--python), "before" (--before: another build of polyprof, measured in the
# same rounds) or "py-spy" (--py-spy: `py-spy record --idle` at the same rate
# runs the child, unprofiled by polyprof; its own CPU counts, as it is a
# child too).
CONFIGS = [
    ("no profiler", 10, "none", "this"),
    ("wall 10 ms", 10, "wall_threads=16", "this"),
    ("wall 10 ms, every thread", 10, "wall_threads=65536", "this"),
    ("wall 1 ms", 1, "wall_threads=16", "this"),
    ("wall 1 ms, every thread", 1, "wall_threads=65536", "this"),
]
BEFORE = [
    ("before: wall 10 ms", 10, "wall_threads=16", "before"),
    ("before: wall 1 ms", 1, "wall_threads=16", "before"),
]
PY_SPY = [
    ("py-spy --idle 100 Hz", 10, "none", "py-spy"),
    ("py-spy --idle 1000 Hz", 1, "none", "py-spy"),
]


def child_command(args, interval_ms, options, who, loops):
    python = args.before if who == "before" else args.python
    cmd = [python, "-c", CHILD % loops, str(interval_ms), options]
    if who == "py-spy":
        cmd = [args.py_spy, "record", "--idle", "--rate", str(int(1000 / interval_ms)), "--format", "raw",
               "--output", os.devnull, "--"] + cmd
    return cmd


def run_child(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = [ln for ln in out.stdout.strip().splitlines() if ln.startswith("{")]
    return cpu, json.loads(lines[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--loops", type=int, default=60000, help="work units of the busy thread")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--before", help="an interpreter with another build of polyprof, measured alongside")
    ap.add_argument("--py-spy", help="the py-spy executable, measured alongside")
    ap.add_argument("--only-10ms", action="store_true", help="leave out the 1 ms configurations")
    args = ap.parse_args()
    configs = CONFIGS + (BEFORE if args.before else []) + (PY_SPY if args.py_spy else [])
    if args.only_10ms:
        configs = [c for c in configs if c[1] == 10]
    cpu = {c[0]: [] for c in configs}
    ratio = {c[0]: [] for c in configs}
    overhead = {c[0]: [] for c in configs}
    signals = {c[0]: [] for c in configs}
    for r in range(args.rounds):
        order = list(configs)
        random.shuffle(order)
        got = {}
        for name, interval_ms, options, who in order:
            t, meta = run_child(child_command(args, interval_ms, options, who, args.loops))
            got[name] = t
            cpu[name].append(t)
            if meta["overhead_pct"] is not None:
                overhead[name].append(float(meta["overhead_pct"]))
                signals[name].append(meta["samples_taken"])
        for name, _, _, _ in configs:
            ratio[name].append(got[name] / got["no profiler"])
        print("round %d: %s" % (r + 1, ", ".join("%s %.2fs" % (c[0], got[c[0]]) for c in configs)), file=sys.stderr,
              flush=True)
    print("# %s, %s, Python %s, %d CPUs, load average %s; %d rounds" % (
        datetime.date.today(), platform.node(), platform.python_version(), os.cpu_count(),
        " ".join("%.2f" % v for v in os.getloadavg()), args.rounds))
    print("| configuration | CPU s, median (min-max) | × no profiler, median of per-round ratios (min-max) "
          "| overhead_pct, median | signals handled, median |")
    print("|---|---|---|---|---|")
    for name, _, _, _ in configs:
        oh = "%.1f" % statistics.median(overhead[name]) if overhead[name] else "-"
        sig = "%d" % statistics.median(signals[name]) if signals[name] else "-"
        print("| %s | %.2f (%.2f-%.2f) | %.2f (%.2f-%.2f) | %s | %s |" % (
            name, statistics.median(cpu[name]), min(cpu[name]), max(cpu[name]),
            statistics.median(ratio[name]), min(ratio[name]), max(ratio[name]), oh, sig))


if __name__ == "__main__":
    main()
