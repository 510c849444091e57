"""An import-heavy program: 120 generated modules, each doing work in its
module body (as configuration, registries and plugin loading do), imported
while profiled. Each module's code object is freed as soon as its body has
run, before the samples taken in it are named."""
import importlib
import os
import sys
import tempfile

import polyprof
from _common import emit, samples_json

N_MODULES = 120
MODULE = '''
import time
table = {}
_t0 = time.thread_time()
while time.thread_time() - _t0 < %(seconds)r:
    for _k in range(300):
        table[_k] = _k * _k %% 7
def helper_%(i)d():
    return sum(table.values())
helper_%(i)d()
'''

pkg_dir = tempfile.mkdtemp(prefix="polyprof-imports-")
for i in range(N_MODULES):
    with open(os.path.join(pkg_dir, "gen_mod_%03d.py" % i), "w") as f:
        f.write(MODULE % {"i": i, "seconds": 0.01})
sys.path.insert(0, pkg_dir)
sys.dont_write_bytecode = True

polyprof.start(interval_ms=float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)
for i in range(N_MODULES):
    importlib.import_module("gen_mod_%03d" % i)
    # The module object keeps no reference to its body's code: drop the
    # module too, as a plugin loader that imports and discards would.
    del sys.modules["gen_mod_%03d" % i]
prof = polyprof.stop()
emit(samples=samples_json(prof), metadata=prof.metadata, pkg_dir=pkg_dir)
