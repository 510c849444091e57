import threading
import time

import polyprof
from _common import burn, emit, samples_json


def nap(seconds):
    time.sleep(seconds)


polyprof.start(interval_ms=5, mode="wall")
t = threading.Thread(target=nap, args=(1.0,), name="sleeper")
t.start()
burn(1.0)
t.join()
prof = polyprof.stop()
emit(samples=samples_json(prof))
