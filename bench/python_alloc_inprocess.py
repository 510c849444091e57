#!/usr/bin/env python3
"""Where the allocation profiler's cost goes, in one process: the
allocation-heavy workload of python_alloc_overhead.py with no profiler,
with polyprof's hooks installed but (almost) never sampling (alloc_interval
1g), and at the default 512k, Python frames only. Each round runs the three
in a shuffled order (a fixed order would give each configuration the same
neighbour every round: the heap and caches the one before it left); each
ratio is against the same round's unprofiled run (CPU time of this
process). Printed: the median ratio, with a 90 % bootstrap interval of that
median. Many short rounds resolve small ratios better than few long ones on
a shared machine: its speed drifts over minutes, and a round's three runs
are seconds apart.

    python bench/python_alloc_inprocess.py [rounds=15] [scale=600] [seed=1]
"""
import os
import random
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
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    runs = {name: [] for name in CONFIGS}
    for _ in range(rounds):
        order = list(CONFIGS.items())
        rng.shuffle(order)
        for name, interval in order:
            runs[name].append(once(interval, scale))
    base = runs["none"]
    for name in CONFIGS:
        ratios = [x / y for x, y in zip(runs[name], base)]
        low, high = bootstrap_median_interval(ratios, rng)
        print(
            "%-16s %.3f s CPU (median)   ratio %.3f  [90%%: %.3f-%.3f]"
            % (name, statistics.median(runs[name]), statistics.median(ratios), low, high)
        )


def bootstrap_median_interval(values, rng, resamples=2000):
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(resamples))
    return medians[int(0.05 * resamples)], medians[int(0.95 * resamples) - 1]


if __name__ == "__main__":
    main()
