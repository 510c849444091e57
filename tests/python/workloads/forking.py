"""fork() while profiling: the child starts with the profiler off (and may
start its own), the parent keeps profiling."""
import os
import sys

import polyprof
from _common import burn, emit, samples_json


def before_fork():
    burn(0.2)


def after_fork():
    burn(0.3)


def child_work():
    burn(0.2)


polyprof.start(interval_ms=2)
before_fork()
pid = os.fork()
if pid == 0:
    try:
        ok = not polyprof._native.running() and not polyprof.is_running()
        child_work()
        # The child can profile itself from scratch.
        polyprof.start(interval_ms=2)
        child_work()
        prof = polyprof.stop()
        ok = ok and any("child_work" in [f.name for f in s.frames] for s in prof.samples())
        os._exit(0 if ok else 3)
    except BaseException:
        import traceback
        traceback.print_exc()
        os._exit(4)
after_fork()
_, status = os.waitpid(pid, 0)
prof = polyprof.stop()
emit(child_status=status, samples=samples_json(prof))
