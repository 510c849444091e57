#!/usr/bin/env python3
"""Where the allocation profiler's cost goes, in one process: the
allocation-heavy workload of python_alloc_overhead.py with no profiler,
with polyprof's hooks installed but (almost) never sampling (alloc_interval
1g), and at the default 512k, Python frames only. Rounds alternate the
three; each ratio is against the same round's unprofiled run (CPU time of
this process), and the medians are printed.

    python bench/python_alloc_inprocess.py [rounds=15] [scale=600]
"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import python_alloc_overhead as bench  # noqa: E402

import polyprof  # noqa: E402

CONFIGS = {"none": None, "hooks only (1g)": "1g", "default (512k)": "512k"}


def once(interval, scale):
    if interval:
        polyprof.start(mode="alloc", alloc_interval=interval, native=False)
    t = time.process_time()
    bench.run_workload("alloc", scale)
    spent = time.process_time() - t
    if interval:
        polyprof.stop()
    return spent


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    scale = int(sys.argv[2]) if len(sys.argv) > 2 else 600
    runs = {name: [] for name in CONFIGS}
    for _ in range(rounds):
        for name, interval in CONFIGS.items():
            runs[name].append(once(interval, scale))
    base = runs["none"]
    for name in CONFIGS:
        ratio = statistics.median(x / y for x, y in zip(runs[name], base))
        print("%-16s %.3f s CPU (median)   ratio %.3f" % (name, statistics.median(runs[name]), ratio))


if __name__ == "__main__":
    main()
