"""Blocking calls under a fast wall-clock sampler: each must complete as if
no signal had arrived (no InterruptedError, full duration)."""
import os
import select
import socket
import subprocess
import sys
import threading
import time

import polyprof
from _common import emit

results = {}
polyprof.start(interval_ms=1, mode="wall")


def timed(name, fn, expected):
    t0 = time.monotonic()
    fn()
    elapsed = time.monotonic() - t0
    results[name] = [elapsed, expected]


timed("sleep", lambda: time.sleep(0.3), 0.3)
r, w = os.pipe()
timed("select", lambda: select.select([r], [], [], 0.3), 0.3)
timed("poll", lambda: select.poll().poll(300), 0.3)

a, b = socket.socketpair()
threading.Timer(0.3, lambda: b.send(b"x" * 10)).start()
timed("recv", lambda: a.recv(10), 0.3)
threading.Timer(0.3, lambda: os.write(w, b"y")).start()
timed("read", lambda: os.read(r, 1), 0.3)
timed("subprocess", lambda: subprocess.run([sys.executable, "-c", "import time; time.sleep(0.3)"], check=True),
      0.3)
lock = threading.Lock()
lock.acquire()
threading.Timer(0.3, lock.release).start()
timed("lock", lambda: lock.acquire(), 0.3)
ev = threading.Event()
timed("event_wait", lambda: ev.wait(0.3), 0.3)
prof = polyprof.stop()
emit(results=results, samples_taken=prof.metadata["samples_taken"])
