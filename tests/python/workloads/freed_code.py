"""Code objects created and freed continuously while sampled at a high rate:
the process must not crash and no frame may carry another function's name."""
import polyprof
from _common import emit, samples_json

polyprof.start(interval_ms=0.2)
for i in range(3000):
    # Every function has its own name, file and first line, and its code
    # object dies right after it runs, so addresses get reused.
    src = "\n" * (i % 50) + "def gen_%d(n):\n    t = 0\n    for k in range(n):\n        t += k * %d\n    return t\n" % (i, i)
    namespace = {}
    exec(compile(src, "<gen-%d>" % i, "exec"), namespace)
    namespace["gen_%d" % i](20000)
    del namespace
prof = polyprof.stop()
emit(samples=samples_json(prof), metadata=prof.metadata)
