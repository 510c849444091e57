"""Two functions burning CPU 3:1, truth measured by the workload itself."""
import sys

import polyprof
from _common import burn, emit, samples_json


def heavy(seconds):
    return burn(seconds)


def light(seconds):
    return burn(seconds)


mode = sys.argv[1] if len(sys.argv) > 1 else "cpu"
native = (sys.argv[2] if len(sys.argv) > 2 else "native") == "native"
polyprof.start(interval_ms=1, mode=mode, native=native)
truth = {"heavy": 0.0, "light": 0.0}
for _ in range(6):   # interleaved, so drift in the machine's load hits both
    truth["heavy"] += heavy(0.15)
    truth["light"] += light(0.05)
prof = polyprof.stop()
emit(truth=truth, samples=samples_json(prof), metadata=prof.metadata)
