"""Recursion deeper than the capture limit (128 interpreter frames)."""
import sys

import polyprof
from _common import burn, emit, samples_json

sys.setrecursionlimit(2000)


def down(n):
    if n == 0:
        return burn(0.3)
    return down(n - 1)


polyprof.start(interval_ms=2)
down(300)
prof = polyprof.stop()
emit(samples=samples_json(prof), metadata=prof.metadata)
