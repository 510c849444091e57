"""SIGSEGV handlers installed while profiling: faulthandler.enable() and a
native library's sigaction() mid-profile. Stacks must stay whole; with
`crash`, a real fault afterwards must still reach faulthandler."""
import ctypes
import faulthandler
import sys

import polyprof
from _common import burn, emit, samples_json

SIGSEGV = 11


class Sigaction(ctypes.Structure):
    # glibc x86-64 struct sigaction
    _fields_ = [("handler", ctypes.c_void_p), ("mask", ctypes.c_ulong * 16),
                ("flags", ctypes.c_int), ("restorer", ctypes.c_void_p)]


def native_library_installs_handler():
    """What a native crash reporter does at load: its own SIGSEGV handler
    (here libc's abort, never run unless something faults)."""
    libc = ctypes.CDLL(None, use_errno=True)
    sa = Sigaction()
    sa.handler = ctypes.cast(libc.abort, ctypes.c_void_p).value
    sa.flags = 0x08000000  # SA_ONSTACK
    if libc.sigaction(SIGSEGV, ctypes.byref(sa), None) != 0:
        raise OSError(ctypes.get_errno(), "sigaction")


def phase_plain():
    burn(0.4)


def phase_after_faulthandler():
    burn(0.4)


def phase_after_native_handler():
    burn(0.4)


polyprof.start(interval_ms=5)
phase_plain()
faulthandler.enable()
phase_after_faulthandler()
if "crash" in sys.argv:
    sys.stdout.flush()
    ctypes.string_at(0)  # a real SIGSEGV that is not the profiler's
    raise SystemExit("still alive after a fault")
native_library_installs_handler()
phase_after_native_handler()
prof = polyprof.stop()
emit(samples=samples_json(prof), metadata=prof.metadata)
