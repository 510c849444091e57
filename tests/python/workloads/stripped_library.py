"""Native code in a library loaded with ctypes: argv[1] is the library,
whose exported spin_entry calls the static spin_in_static_helper (argv[2]
"library") or whose call_through_plt calls an exported function through
the library's PLT ("plt"); "memcpy" copies large buffers instead (libc's
memcpy variants, local symbols of libc)."""
import ctypes
import sys
import time

import polyprof
from _common import emit, samples_json

polyprof.start(interval_ms=2)
start = time.thread_time()
if sys.argv[2] == "memcpy":
    big = bytearray(8 << 20)
    while time.thread_time() - start < 0.6:
        bytes(big)
elif sys.argv[2] == "plt":
    lib = ctypes.CDLL(sys.argv[1])
    lib.call_through_plt.argtypes = [ctypes.c_long]
    lib.call_through_plt.restype = ctypes.c_long
    while time.thread_time() - start < 0.6:
        lib.call_through_plt(2000000)
else:
    lib = ctypes.CDLL(sys.argv[1])
    lib.spin_entry.argtypes = [ctypes.c_long]
    lib.spin_entry.restype = ctypes.c_double
    while time.thread_time() - start < 0.6:
        lib.spin_entry(2000000)
prof = polyprof.stop()
emit(samples=samples_json(prof))
