"""Wall mode with a pool of idle threads: 48 threads blocked on an event
(what an idle thread pool looks like) and the main thread busy, all alive
through the whole capture. argv: interval in ms, capture seconds, extra
options."""
import sys
import threading
import time

import polyprof
from _common import emit, samples_json

interval_ms = float(sys.argv[1])
seconds = float(sys.argv[2])
options = sys.argv[3] if len(sys.argv) > 3 else None

done = threading.Event()
ready = threading.Barrier(49)


def idle():
    ready.wait()
    done.wait()


pool = [threading.Thread(target=idle, name="idle%02d" % i) for i in range(48)]
for t in pool:
    t.start()
ready.wait()

polyprof.start(interval_ms=interval_ms, mode="wall", options=options)
t0 = time.monotonic()
end = t0 + seconds
x = 0
while time.monotonic() < end:   # busy for `seconds` of wall time
    for i in range(200):
        x += i * i
t1 = time.monotonic()
prof = polyprof.stop()
done.set()
for t in pool:
    t.join()
emit(samples=samples_json(prof), metadata=prof.metadata, captured_s=t1 - t0)
