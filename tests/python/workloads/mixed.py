"""Python functions calling into native code: zlib and hashlib (OpenSSL)."""
import hashlib
import time
import zlib

import polyprof
from _common import emit, samples_json

DATA = bytes(range(256)) * 4096


def compress_it(seconds):
    start = time.thread_time()
    while time.thread_time() - start < seconds:
        zlib.compress(DATA, 9)


def hash_it(seconds):
    start = time.thread_time()
    while time.thread_time() - start < seconds:
        hashlib.sha256(DATA).digest()


polyprof.start(interval_ms=2)
compress_it(0.5)
hash_it(0.5)
prof = polyprof.stop()
prof.write("mixed.pb.gz")
prof.write("mixed.folded")
emit(samples=samples_json(prof))
