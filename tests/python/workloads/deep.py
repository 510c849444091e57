"""Recursion `depth` deep (default 400) in CPU mode; argv[2], when given, is
the profiler's options string (e.g. depth=64)."""
import sys

import polyprof
from _common import burn, emit, samples_json

sys.setrecursionlimit(5000)
DEPTH = int(sys.argv[1]) if len(sys.argv) > 1 else 400
OPTIONS = sys.argv[2] if len(sys.argv) > 2 else None


def deepest():
    return burn(0.5)


def down(n):
    if n == 0:
        return deepest()
    return down(n - 1)


def root_of_recursion():
    return down(DEPTH)


polyprof.start(interval_ms=2, options=OPTIONS)
root_of_recursion()
prof = polyprof.stop()
emit(samples=samples_json(prof), metadata=prof.metadata)
