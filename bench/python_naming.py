"""What naming Python frames costs: 3000 distinct functions, most of them
first seen by the drain while sampled, at 1 ms cpu sampling. Prints one JSON
line: the process's CPU time (every thread: the program, the sampler's drain,
the Python bridge's GIL thread) for the work and for stop(), and how many
distinct generated functions the profile names.

    python bench/python_naming.py            # one run; alternate builds for an A/B
"""
import json
import time

import polyprof

N_FUNCTIONS = 3000
src = "\n".join("def f%d(n):\n    t = 0\n    for i in range(n):\n        t += i\n    return t\n" % i
                for i in range(N_FUNCTIONS))
namespace = {}
exec(compile(src, "generated.py", "exec"), namespace)
functions = [namespace["f%d" % i] for i in range(N_FUNCTIONS)]

polyprof.start(interval_ms=1)
c0 = time.process_time()
for f in functions:
    f(10000)
c1 = time.process_time()
profile = polyprof.stop()
c2 = time.process_time()
named = {fr.name for s in profile.samples() for fr in s.frames if fr.file == "generated.py"}
print(json.dumps({"work_cpu_s": round(c1 - c0, 4), "stop_cpu_s": round(c2 - c1, 5), "total_cpu_s": round(c2 - c0, 4),
                  "functions_named": len(named)}))
