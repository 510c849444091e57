"""Wall mode: a thread blocked for exactly as long as the main thread burns
CPU, so both live through the same wall-clock window."""
import threading

import polyprof
from _common import burn, emit, samples_json

done = threading.Event()


def nap():
    done.wait()


polyprof.start(interval_ms=5, mode="wall")
t = threading.Thread(target=nap, name="sleeper")
t.start()
burn(1.0)
done.set()
t.join()
prof = polyprof.stop()
emit(samples=samples_json(prof))
