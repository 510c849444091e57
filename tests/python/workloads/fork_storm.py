"""Many fork()s while sampling fast, in the thread that started profiling and
in a second thread: the first sample of a thread must never deadlock in
malloc while fork holds the allocator's locks."""
import os
import threading

import polyprof
from _common import burn, emit


def forker(n):
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        burn(0.002)


polyprof.start(interval_ms=0.5)
t = threading.Thread(target=forker, args=(40,))
t.start()
forker(40)
t.join()
prof = polyprof.stop()
emit(samples_taken=prof.metadata["samples_taken"])
