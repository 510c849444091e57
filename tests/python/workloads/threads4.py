"""Four busy threads with different amounts of CPU work, two started before
polyprof.start() and two after. zlib and hashlib release the GIL, so the
threads really run in parallel; each measures its own CPU time."""
import hashlib
import threading
import time
import zlib

import polyprof
from _common import emit, samples_json

DATA = bytes(range(256)) * 2048
truth = {}
go = threading.Event()


def worker(name, seconds, use_zlib):
    go.wait()
    start = time.thread_time()
    while time.thread_time() - start < seconds:
        if use_zlib:
            zlib.compress(DATA, 6)
        else:
            hashlib.sha256(DATA).digest()
    truth[name] = time.thread_time() - start


plan = [("w1", 0.4, True), ("w2", 0.8, False), ("w3", 0.6, True), ("w4", 1.2, False)]
threads = [threading.Thread(target=worker, args=p, name=p[0]) for p in plan]
threads[0].start()
threads[1].start()
polyprof.start(interval_ms=2)
threads[2].start()
threads[3].start()
time.sleep(0.05)
go.set()
for t in threads:
    t.join()
prof = polyprof.stop()
emit(truth=truth, samples=samples_json(prof))
