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
default bound (wall_threads=16: at most 16 threads signalled per tick); and
the same with wall_threads=65536, i.e. every thread every tick (what wall mode
did before the bound). Rounds interleave every configuration in a shuffled
order, each ratio is against the same round's unprofiled run, and medians over
rounds are reported, so a shared machine's drift mostly cancels.
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

# (name, interval_ms, options): the interval goes through interval_ms, which
# start() puts in front of the options string.
CONFIGS = [
    ("no profiler", 10, "none"),
    ("wall 10 ms", 10, "wall_threads=16"),
    ("wall 10 ms, every thread", 10, "wall_threads=65536"),
    ("wall 1 ms", 1, "wall_threads=16"),
    ("wall 1 ms, every thread", 1, "wall_threads=65536"),
]


def run_child(python, interval_ms, options, loops):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([python, "-c", CHILD % loops, str(interval_ms), options], capture_output=True, text=True,
                         check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--loops", type=int, default=60000, help="work units of the busy thread")
    ap.add_argument("--python", default=sys.executable)
    args = ap.parse_args()
    cpu = {c[0]: [] for c in CONFIGS}
    ratio = {c[0]: [] for c in CONFIGS}
    overhead = {c[0]: [] for c in CONFIGS}
    signals = {c[0]: [] for c in CONFIGS}
    for r in range(args.rounds):
        order = list(CONFIGS)
        random.shuffle(order)
        got = {}
        for name, interval_ms, options in order:
            t, meta = run_child(args.python, interval_ms, options, args.loops)
            got[name] = t
            cpu[name].append(t)
            if meta["overhead_pct"] is not None:
                overhead[name].append(float(meta["overhead_pct"]))
                signals[name].append(meta["samples_taken"])
        for name, _, _ in CONFIGS:
            ratio[name].append(got[name] / got["no profiler"])
        print("round %d: %s" % (r + 1, ", ".join("%s %.2fs" % (c[0], got[c[0]]) for c in CONFIGS)), file=sys.stderr)
    print("# %s, %s, Python %s, %d CPUs, load average %s; %d rounds" % (
        datetime.date.today(), platform.node(), platform.python_version(), os.cpu_count(),
        " ".join("%.2f" % v for v in os.getloadavg()), args.rounds))
    print("| configuration | CPU s, median (min-max) | × no profiler, median of per-round ratios (min-max) "
          "| overhead_pct, median | signals handled, median |")
    print("|---|---|---|---|---|")
    for name, _, _ in CONFIGS:
        oh = "%.1f" % statistics.median(overhead[name]) if overhead[name] else "-"
        sig = "%d" % statistics.median(signals[name]) if signals[name] else "-"
        print("| %s | %.2f (%.2f-%.2f) | %.2f (%.2f-%.2f) | %s | %s |" % (
            name, statistics.median(cpu[name]), min(cpu[name]), max(cpu[name]),
            statistics.median(ratio[name]), min(ratio[name]), max(ratio[name]), oh, sig))


if __name__ == "__main__":
    main()
