"""Sampled allocation profiling (mode="alloc"): shares of allocated and live
bytes by function, what go tool pprof reads, chaining with tracemalloc, the
command line and continuous windows. The hooks are process-wide but restored
by stop(), so these run in the test process; each test stops what it
started."""
import json
import os
import subprocess
import sys
import threading
import tracemalloc

import pytest

import polyprof
from polyprof import _native

from conftest import is_interpreter_function

BLOCK = 16 * 1024   # below glibc's mmap threshold: the allocator, not the kernel, is exercised


def total(prof, value, function=None):
    """Sum of `value` (a sample type name) over the stacks through `function` (None: all)."""
    index = [t for t, _ in prof.value_types].index(value)
    return sum(s.values[index] for s in prof.samples() if function is None or function in [f.name for f in s.frames])


def share(prof, function, value):
    """Share of `value` in stacks through `function`."""
    whole = total(prof, value)
    return total(prof, value, function) / whole if whole else 0.0


def allocate_three(n):
    for _ in range(n):
        b = bytearray(3 * BLOCK)
    return b


def allocate_one(n):
    for _ in range(n):
        b = bytearray(BLOCK)
    return b


kept = []


def leak(n):
    for _ in range(n):
        kept.append(bytearray(BLOCK))


def churn(n):
    for _ in range(n):
        b = bytearray(BLOCK)
        del b


def allocate_deep(n, blocks):
    if n == 0:
        return allocate_one(blocks)
    return allocate_deep(n - 1, blocks)


def deep_allocation_stacks(**start):
    """Allocations 400 calls deep; the stacks through them, as names."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 2000))
    try:
        polyprof.start(mode="alloc", alloc_interval="32k", **start)
        allocate_deep(400, 2000)
        prof = polyprof.stop()
    finally:
        sys.setrecursionlimit(limit)
    stacks = [s for s in prof.samples() if "allocate_one" in [f.name for f in s.frames]]
    # Most of what was allocated is in them (2000 blocks, ~1000 samples).
    assert total(prof, "alloc_space", "allocate_one") >= 0.5 * 2000 * BLOCK
    return prof, stacks



def stopped():
    yield
    if _native.alloc_running():
        _native.alloc_stop()
    if polyprof.is_running():
        polyprof.stop()
    kept.clear()


def test_alloc_space_follows_bytes_allocated():
    polyprof.start(mode="alloc", alloc_interval="64k")
    for _ in range(50):
        allocate_three(80)
        allocate_one(80)
    prof = polyprof.stop()
    assert [t for t, _ in prof.value_types] == ["inuse_objects", "inuse_space", "alloc_objects", "alloc_space"]
    three, one = share(prof, "allocate_three", "alloc_space"), share(prof, "allocate_one", "alloc_space")
    assert abs(three - 0.75) <= 0.10 and abs(one - 0.25) <= 0.10, (three, one)
    # Weighted samples estimate what was allocated: 50 * 80 * 4 blocks.
    allocated = total(prof, "alloc_space")
    assert 0.8 * 16000 * BLOCK <= allocated <= 1.3 * 16000 * BLOCK, allocated


def test_inuse_space_is_the_leak_and_alloc_space_both():
    polyprof.start(mode="alloc", alloc_interval="64k")
    for _ in range(30):
        leak(100)
        churn(100)
    prof = polyprof.stop()
    assert share(prof, "leak", "inuse_space") >= 0.9
    assert share(prof, "churn", "inuse_space") <= 0.05
    assert abs(share(prof, "churn", "alloc_space") - 0.5) <= 0.12
    live = total(prof, "inuse_space", "leak")
    assert 0.7 * 3000 * BLOCK <= live <= 1.4 * 3000 * BLOCK, live


SMALL_BLOCKS = """
import json, sys
import polyprof
kept = []
def leak_small(n):
    for _ in range(n):
        kept.append(bytearray(200))
def churn_small(n):
    for _ in range(n):
        b = bytearray(200)
        del b
polyprof.start(mode="alloc", alloc_interval="16k", native=False)
for _ in range(100):
    leak_small(300)
    churn_small(300)
prof = polyprof.stop()
index = [t for t, _ in prof.value_types].index("inuse_space")
def inuse(fn):
    return sum(s.values[index] for s in prof.samples() if fn is None or fn in [f.name for f in s.frames])
json.dump({"leak": inuse("leak_small"), "churn": inuse("churn_small"),
           "kept": sum(sys.getsizeof(b) for b in kept)}, sys.stdout)
"""


@pytest.mark.parametrize("allocator", ["", "malloc", "pymalloc_debug"])
def test_small_blocks_freed_leave_the_live_heap_whatever_the_allocator(allocator):
    # pymalloc's small blocks, nearly every allocation of a Python program:
    # those freed leave inuse_space, those kept stay, under CPython's
    # allocators and the debug hooks alike (PYTHONMALLOC).
    env = dict(os.environ, PYTHONMALLOC=allocator) if allocator else {
        k: v for k, v in os.environ.items() if k != "PYTHONMALLOC"}
    proc = subprocess.run([sys.executable, "-c", SMALL_BLOCKS], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = __import__("json").loads(proc.stdout)
    assert got["churn"] <= 0.05 * got["leak"], got
    # Weighted samples estimate the live bytes: the kept bytearrays (object
    # and buffer, both small blocks).
    assert 0.6 * got["kept"] <= got["leak"] <= 1.6 * got["kept"], got


def test_threads_and_frames_named_as_in_cpu_profiles():
    polyprof.start(mode="alloc", alloc_interval="32k")

    def worker():
        allocate_one(2000)
    t = threading.Thread(target=worker)
    t.start()
    t.join()
    prof = polyprof.stop()
    stacks = [[f.name for f in s.frames] for s in prof.samples()]
    hit = [st for st in stacks if "allocate_one" in st]
    assert hit, stacks[:5]
    # Leaf first, caller after: the worker's own function is rootward.
    st = hit[0]
    assert st.index("allocate_one") < st.index("test_threads_and_frames_named_as_in_cpu_profiles.<locals>.worker"
                                               if sys.version_info >= (3, 11) else "worker")
    frame = next(f for s in prof.samples() for f in s.frames if f.name == "allocate_one")
    assert frame.file.endswith("test_alloc.py") and frame.kind == "python"


def test_allocation_stacks_400_calls_deep_are_whole_at_default_depth():
    # depth= defaults to 1024 frames, as for CPU stacks: the allocating
    # function, all 401 calls of the recursion and the test that started it.
    prof, stacks = deep_allocation_stacks()
    for s in stacks:
        names = [f.name for f in s.frames]
        assert names.count("allocate_deep") == 401, names.count("allocate_deep")
        assert "test_allocation_stacks_400_calls_deep_are_whole_at_default_depth" in names
        assert "[truncated]" not in names
    assert prof.metadata["truncated"] == 0


def test_allocation_stacks_deeper_than_depth_keep_the_leaf_side():
    prof, stacks = deep_allocation_stacks(options="depth=64")
    for s in stacks:
        names = [f.name for f in s.frames]
        # The allocating function is kept, the callers past 64 frames are
        # one named frame at the root, as in CPU profiles.
        assert names.index("allocate_one") < names.index("allocate_deep")
        assert names[-1] == "[truncated]" and s.frames[-1].kind == "special", names[-3:]
        assert "test_allocation_stacks_deeper_than_depth_keep_the_leaf_side" not in names
        assert len(names) <= 64 + 1, len(names)
    assert prof.metadata["truncated"] >= len(stacks)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="alloc_interval"):
        polyprof.start(mode="alloc", alloc_interval=0)
    with pytest.raises(ValueError, match="alloc_interval"):
        polyprof.start(mode="alloc", alloc_interval="lots")
    with pytest.raises(ValueError, match="mode"):
        polyprof.start(mode="alloc+alloc")
    with pytest.raises(ValueError, match="mode"):
        polyprof.start(mode="cpu+wall")
    polyprof.start(mode="alloc")
    with pytest.raises(polyprof.PolyprofError, match="already running"):
        with polyprof.profile(mode="alloc"):
            pass
    polyprof.stop()
    assert _native.alloc_hooks() == {"raw": "none", "mem": "none", "object": "none"}


def test_chains_to_tracemalloc_started_before():
    tracemalloc.start()
    try:
        polyprof.start(mode="alloc", alloc_interval="64k")
        assert _native.alloc_hooks() == {"raw": "top", "mem": "top", "object": "top"}
        allocate_one(2000)
        prof = polyprof.stop()
        assert share(prof, "allocate_one", "alloc_space") > 0.8
        # tracemalloc's hooks are back on top and still trace.
        assert _native.alloc_hooks() == {"raw": "none", "mem": "none", "object": "none"}
        before = tracemalloc.get_traced_memory()[0]
        block = bytearray(1 << 20)
        assert tracemalloc.get_traced_memory()[0] - before >= 1 << 20
        del block
    finally:
        tracemalloc.stop()


def test_tracemalloc_started_after_keeps_working():
    polyprof.start(mode="alloc", alloc_interval="64k")
    tracemalloc.start()
    try:
        allocate_one(2000)
        prof = polyprof.stop()
        assert share(prof, "allocate_one", "alloc_space") > 0.8
        # Ours stay in tracemalloc's chain, idle; tracemalloc still traces.
        assert set(_native.alloc_hooks().values()) == {"chained"}
        before = tracemalloc.get_traced_memory()[0]
        block = bytearray(1 << 20)
        assert tracemalloc.get_traced_memory()[0] - before >= 1 << 20
        del block
    finally:
        tracemalloc.stop()
    # The next profile reuses the idle hooks and its stop takes them out.
    polyprof.start(mode="alloc")
    polyprof.stop()
    assert _native.alloc_hooks() == {"raw": "none", "mem": "none", "object": "none"}


def test_fork_while_sampling():
    polyprof.start(mode="alloc", alloc_interval="4k")
    pid = os.fork()
    if pid == 0:
        try:
            allocate_one(500)
            leak(100)
            kept.clear()
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    allocate_one(200)
    prof = polyprof.stop()
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert share(prof, "allocate_one", "alloc_space") > 0.5


FREED_WITHOUT_THE_GIL = r"""
import ctypes, gc, json
import polyprof
# ctypes.CDLL releases the GIL around each call, as C code does around a
# blocking call that allocates (os.getcwd's buffer, for one).
libc = ctypes.CDLL(None)
libc.PyMem_RawMalloc.restype = ctypes.c_void_p
libc.PyMem_RawMalloc.argtypes = [ctypes.c_size_t]
libc.PyMem_RawFree.argtypes = [ctypes.c_void_p]
BODY = "for _ in range(20):\n    libc.PyMem_RawFree(libc.PyMem_RawMalloc(64 << 20))\n"
polyprof.start(mode="alloc")
code = compile(BODY, "freed_body.py", "exec")
exec(code, {"libc": libc})
del code
gc.collect()
# Other code objects of the same shape take the freed one's memory.
kept = [compile(BODY.replace("20", str(i)), "other_body.py", "exec") for i in range(3000)]
prof = polyprof.stop()
space = [t for t, _ in prof.value_types].index("alloc_space")
print(json.dumps({"samples": [[[[f.name, f.file] for f in s.frames], s.values[space]] for s in prof.samples()],
                  "named_after_free": int(prof.metadata["freed_code_frames_named"])}))
"""


def test_code_freed_before_export_names_samples_taken_without_the_gil():
    """A raw allocation made without the GIL (C code that released it) in
    code freed before the profile is exported: a module body, an exec'd
    string. Its sample cannot keep the code object alive, so the name kept
    when the code died names it, as in CPU profiles: never [unresolved
    frame], nor another code object's name."""
    proc = subprocess.run([sys.executable, "-c", FREED_WITHOUT_THE_GIL], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    # The raw allocations' samples: any that name the freed code, or that
    # lost its name.
    raw = [(names, space) for names, space in data["samples"]
           if any(file in ("freed_body.py", "other_body.py") or name == "[unresolved frame]" for name, file in names)]
    assert sum(space for _, space in raw) >= 10 * (64 << 20), data["samples"]
    for names, _ in raw:
        assert ["<module>", "freed_body.py"] in names, names
        assert "[unresolved frame]" not in [name for name, _ in names], names
        assert not any(file == "other_body.py" for _, file in names), names
    assert data["named_after_free"] > 0


SCRIPT = """
import atexit, gc
# A collection at exit, before the profile is written: the program's
# module-level data must still be live then, as under plain `python`.
atexit.register(gc.collect)
keep = []
def grow():
    for _ in range(2000):
        keep.append(bytearray(16384))
def spin():
    for _ in range(6000):
        bytearray(16384)
grow()
spin()
"""


def test_record_alloc_read_by_go_tool_pprof(tmp_path, go_tool):
    script = tmp_path / "app.py"
    script.write_text(SCRIPT)
    out = tmp_path / "out.pb.gz"
    subprocess.run([sys.executable, "-m", "polyprof", "record", "--mode", "cpu+alloc", "--alloc-interval", "64k",
                    "-o", str(out), "--", sys.executable, str(script)], check=True, timeout=120, cwd=str(tmp_path))
    alloc = tmp_path / "out.alloc.pb.gz"
    assert out.exists() and alloc.exists()
    tops = {}
    for index in ("alloc_space", "inuse_space"):
        proc = subprocess.run([go_tool, "tool", "pprof", "-sample_index=" + index, "-top", str(alloc)],
                              capture_output=True, text=True, timeout=120, check=True)
        tops[index] = proc.stdout
    assert "grow" in tops["alloc_space"] and "spin" in tops["alloc_space"], tops["alloc_space"]
    flat_rows = [l.split() for l in tops["inuse_space"].splitlines() if l.strip().endswith(("grow", "spin"))]
    assert flat_rows and flat_rows[0][-1] == "grow", tops["inuse_space"]


THREE_TO_ONE = """
def big_three(n):
    for _ in range(n):
        b = bytearray(3 * 16384)

def big_one(n):
    for _ in range(n):
        b = bytearray(16384)

def small_three(n):          # 423-byte objects: pymalloc's small-object path
    for _ in range(n):
        b = bytes(390)

def small_one(n):            # 141 bytes
    for _ in range(n):
        b = bytes(108)

big_three(6000)
big_one(6000)
small_three(700000)
small_one(700000)
"""


def test_record_alloc_at_the_default_interval(tmp_path, go_tool):
    """record --mode alloc alone, at the default 512 KiB: 3:1 by bytes holds
    for large blocks and for pymalloc's small objects (about 750
    samples a pair), and alloc_space is the profile's default value."""
    script = tmp_path / "three_to_one.py"
    script.write_text(THREE_TO_ONE)
    out = tmp_path / "heap.pb.gz"
    subprocess.run([sys.executable, "-m", "polyprof", "record", "--mode", "alloc", "-o", str(out), "--",
                    sys.executable, str(script)], check=True, timeout=120, cwd=str(tmp_path))
    assert not (tmp_path / "heap.alloc.pb.gz").exists()
    prof = polyprof.load(str(out))
    assert [t for t, _ in prof.value_types][-1] == "alloc_space"
    for three, one in (("big_three", "big_one"), ("small_three", "small_one")):
        a, b = total(prof, "alloc_space", three), total(prof, "alloc_space", one)
        assert a > 0 and b > 0, (three, a, one, b)
        assert abs(a / (a + b) - 0.75) <= 0.10, (three, a, one, b)
    # The script's <module> code is gone by the export at exit: still named.
    assert all("<module>" in [f.name for f in s.frames] for s in prof.samples()
               if {"big_three", "big_one", "small_three", "small_one"} & {f.name for f in s.frames})
    assert not [s for s in prof.samples() if "[unresolved frame]" in [f.name for f in s.frames]]
    top = subprocess.run([go_tool, "tool", "pprof", "-top", "-cum", str(out)], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert "Type: alloc_space" in top, top
    ranked = [l.split()[-1] for l in top.splitlines() if l.strip().endswith(("big_three", "big_one"))]
    assert ranked[:2] == ["big_three", "big_one"], top


def test_continuous_alloc_windows_go_to_the_store(tmp_path):
    store = tmp_path / "store"
    cp = polyprof.ContinuousProfiler(mode="alloc", window_s=1, store=str(store), service="svc",
                                     alloc_interval="64k")
    cp.start()
    try:
        for _ in range(12):
            allocate_one(300)
            threading.Event().wait(0.1)
    finally:
        cp.stop()
    entries = polyprof.Store(str(store)).list()
    assert entries and all(e["type"] == "alloc" and e["service"] == "svc" for e in entries)
    assert all("_alloc_" in e["file"] for e in entries)
    assert len(entries) >= 2


def test_endpoint_serves_allocs_and_heap():
    import urllib.error
    import urllib.request
    polyprof.start(mode="alloc", alloc_interval="64k", endpoint="127.0.0.1:0")
    try:
        from polyprof._local_endpoint import _serving
        url = _serving.url
        leak(500)
        churn(500)
        got = {}
        # heap first: the decoded allocs profile would otherwise be live
        # memory of this test in the heap profile.
        for route in ("heap", "allocs"):
            with urllib.request.urlopen(url + "/debug/pprof/" + route, timeout=30) as r:
                got[route] = polyprof.Profile(_native.decode_pprof(r.read()))
    finally:
        polyprof.stop()
    # Go's conventions: the same four values, the default (last) differs.
    assert got["allocs"].value_types[-1] == ("alloc_space", "bytes")
    assert got["heap"].value_types[-1] == ("inuse_space", "bytes")
    assert share(got["heap"], "leak", "inuse_space") >= 0.9
    assert share(got["heap"], "churn", "inuse_space") <= 0.05
    assert share(got["allocs"], "churn", "alloc_space") >= 0.3
    # Without allocation profiling the routes say how to get one.
    polyprof.start(mode="cpu", endpoint="127.0.0.1:0")
    try:
        from polyprof._local_endpoint import _serving
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(_serving.url + "/debug/pprof/heap", timeout=30)
        assert e.value.code == 404 and b"mode=alloc" in e.value.read()
    finally:
        polyprof.stop()


@pytest.mark.parametrize("native", [True, False])
def test_native_frames_leafward_of_python(native):
    polyprof.start(mode="alloc", alloc_interval="64k", native=native)
    allocate_one(2000)
    prof = polyprof.stop()
    index = [t for t, _ in prof.value_types].index("alloc_space")
    stacks = [s for s in prof.samples() if "allocate_one" in [f.name for f in s.frames]]
    assert stacks
    with_native = 0
    for s in stacks:
        leafward = s.frames[:[f.name for f in s.frames].index("allocate_one")]
        # The C code that asked for the memory, not the allocator itself.
        assert all(f.kind == "native" for f in leafward), s.frames
        assert not any(f.name.startswith(("PyMem_", "PyObject_Malloc", "_PyObject_Malloc")) for f in leafward)
        with_native += s.values[index] if leafward else 0
    if native:
        assert with_native >= 0.9 * total(prof, "alloc_space", "allocate_one")
    else:
        assert with_native == 0
    stacks = [s.frames for s in stacks]
    if native:
        names = {f.name for frames in stacks for f in frames}
        assert any(is_interpreter_function(n.lower(), "bytearray") for n in names), names


def test_production_configuration_event_alloc(tmp_path):
    """ENABLE_PROFILING with POLYPROF_OPTIONS=event=alloc: polyprof.auto stores allocation windows."""
    store = tmp_path / "profiles"
    code = ("import polyprof.auto, time\n"
            "keep = []\n"
            "for _ in range(25):\n"
            "    keep.append(bytearray(1 << 20)); time.sleep(0.06)\n")
    env = dict(os.environ, ENABLE_PROFILING="true", POLYPROF_STORE=str(store),
               POLYPROF_OPTIONS="event=alloc,window=1s,alloc_interval=64k,service=svc")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    entries = polyprof.Store(str(store)).list()
    assert entries and {e["type"] for e in entries} == {"alloc"}, entries
    last = polyprof.load(os.path.join(str(store), entries[-1]["file"]))
    assert total(last, "inuse_space", "<module>") >= 10 << 20


def test_cpu_and_alloc_together_from_threads():
    """The CPU sampler's signal lands on threads that are capturing allocation stacks."""
    polyprof.start(mode="cpu+alloc", interval_ms=1, alloc_interval="4k")
    threads = [threading.Thread(target=allocate_one, args=(6000,)) for _ in range(2)]
    for t in threads:
        t.start()
    allocate_three(3000)
    for t in threads:
        t.join()
    profiles = polyprof.stop()
    assert set(profiles) == {"cpu", "alloc"}
    assert share(profiles["alloc"], "allocate_one", "alloc_space") > 0.3
    assert share(profiles["alloc"], "allocate_three", "alloc_space") > 0.3
    assert any("allocate_one" in [f.name for f in s.frames] for s in profiles["cpu"].samples())
