"""Many distinct deep stacks: threads recurse through randomly chosen
functions, so nearly every sample has a stack of its own (for the memory
cap). Prints the profile's metadata and whether the overflow frame showed."""
import json
import random
import sys
import threading
import time

import polyprof

NAMES = ["f%d" % i for i in range(64)]
ns = {}
for name in NAMES:
    exec("def %s(depth, rng):\n    return step(depth, rng)\n" % name, ns)


def step(depth, rng):
    if depth == 0:
        t = time.time()
        while time.time() - t < 0.0005:   # short: the stack changes often, even on a busy machine
            pass
        return 0
    return ns[NAMES[rng.randrange(len(NAMES))]](depth - 1, rng)


ns["step"] = step


def worker(seed, until):
    rng = random.Random(seed)
    while time.time() < until:
        step(rng.randrange(80, 200), rng)


polyprof.start(interval_ms=1, mode="wall", native=False, options=sys.argv[1])
until = time.time() + float(sys.argv[2])
threads = [threading.Thread(target=worker, args=(i, until)) for i in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
prof = polyprof.stop()
overflow = sum(s.values[0] for s in prof.samples()
               if any(f.name == "[overflow: profiler memory cap reached]" for f in s.frames))
print(json.dumps({"metadata": prof.metadata, "overflow_samples": overflow,
                  "samples": sum(s.values[0] for s in prof.samples())}))
