"""What encryption at rest costs one store write and one read.

A real profile (a short capture of a workload with many stacks) is put to a
plain store and to an encrypted one, alternating rounds; each round times N
puts (then N reads) with the process's CPU clock. Prints per-operation
medians over the rounds and the encrypted/plain ratio.

    PYTHONPATH=python python bench/store_crypto.py [rounds] [n]
"""
import os
import random
import statistics
import sys
import tempfile
import time

import polyprof


def workload():
    """Random walks through ten functions, so that most samples have a stack
    of their own (a window of a real service has thousands)."""
    rng = random.Random(1)

    def step(depth):
        if depth == 0:
            return sum(range(200))
        return FUNCS[rng.randrange(10)](depth - 1)

    FUNCS = []
    for i in range(10):
        exec("def f%d(d, step=step): return step(d)" % i, None, ns := {"step": step})
        FUNCS.append(ns["f%d" % i])
    t = time.time()
    while time.time() - t < 1.0:
        step(12)


def timed(fn, n):
    t = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - t) / n


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 9
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    polyprof.start(interval_ms=1, mode="wall")   # samples even on a loaded machine
    workload()
    prof = polyprof.stop()
    with tempfile.TemporaryDirectory() as d:
        key = os.path.join(d, "key")
        with open(key, "wb") as f:
            f.write(os.urandom(32))
        stores = {
            "plain": polyprof.Store(os.path.join(d, "plain"), max_age_s=0, max_bytes=0),
            "encrypted": polyprof.Store(os.path.join(d, "enc"), max_age_s=0, max_bytes=0, key_file=key),
        }
        results = {(k, op): [] for k in stores for op in ("put", "read")}
        sizes = {}
        for r in range(rounds):
            order = list(stores) if r % 2 == 0 else list(reversed(list(stores)))
            for name in order:
                s = stores[name]
                path = s.put(prof, "bench", "cpu", "continuous", start=1_764_000_000 + r)
                sizes[name] = os.path.getsize(path)
                results[(name, "put")].append(timed(lambda: s.put(prof, "bench", "cpu", "continuous",
                                                                  start=1_764_000_000 + r), n))
                results[(name, "read")].append(timed(lambda: s.read(path), n))
                for e in s.list():   # keep the directories the same size
                    os.unlink(s.path(e))
    print("profile: %d samples, %d distinct stacks; file %d bytes plain, %d encrypted" % (
        len(prof.samples()), len({tuple(s.frames) for s in prof.samples()}), sizes["plain"], sizes["encrypted"]))
    for op in ("put", "read"):
        p = statistics.median(results[("plain", op)])
        e = statistics.median(results[("encrypted", op)])
        print("%-4s  plain %7.1f us  encrypted %7.1f us  ratio %.3f  (CPU per operation, median of %d rounds of %d)"
              % (op, p * 1e6, e * 1e6, e / p, rounds, n))


if __name__ == "__main__":
    main()
