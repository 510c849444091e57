"""Wall mode with a pool of threads that move from one wait to another: 48
threads wait in first_wait, are released halfway through the capture and go
straight on to wait in second_wait (a few microseconds of work in between),
and the main thread is busy. Each thread's wall time belongs to first_wait
before the release and to second_wait after it. argv: interval in ms,
capture seconds."""
import sys
import threading
import time

import polyprof
from _common import emit, samples_json

interval_ms = float(sys.argv[1])
seconds = float(sys.argv[2])

first, second = threading.Event(), threading.Event()
ready = threading.Barrier(49)


def first_wait():
    first.wait()


def second_wait():
    second.wait()


def pooled():
    ready.wait()
    first_wait()
    second_wait()


def busy_until(deadline):
    x = 0
    while time.monotonic() < deadline:
        for i in range(200):
            x += i * i


pool = [threading.Thread(target=pooled, name="pooled%02d" % i) for i in range(48)]
for t in pool:
    t.start()
ready.wait()
time.sleep(0.2)  # every thread is in first_wait

polyprof.start(interval_ms=interval_ms, mode="wall")
t0 = time.monotonic()
busy_until(t0 + seconds / 2)
t_moved = time.monotonic()
first.set()
busy_until(t0 + seconds)
t1 = time.monotonic()
prof = polyprof.stop()
second.set()
for t in pool:
    t.join()
emit(samples=samples_json(prof), metadata=prof.metadata, captured_s=t1 - t0, first_s=t_moved - t0)
