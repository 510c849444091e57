"""Native frames sit directly under the Python frame that called them, with
no interpreter eval-loop frames in between."""
import os

from conftest import INTERPRETER_NAMED, is_interpreter_function, run_workload

EVAL_LOOP_NAMES = ("_PyEval_EvalFrameDefault", "PyEval_EvalCode", "_PyEval_Vector", "PyObject_Vectorcall")


def native_children(samples, python_function):
    """The frame just leafward of python_function in each stack containing it."""
    children = {}
    for s in samples:
        frames = s["frames"]   # leaf first: [name, file, line, kind, object]
        for i, f in enumerate(frames):
            if f[0] == python_function and f[3] == "python" and i > 0:
                child = frames[i - 1]
                children[(child[0], child[3])] = children.get((child[0], child[3]), 0) + s["values"][0]
    return children


def test_zlib_and_hashlib_frames_under_their_python_callers(tmp_path):
    data, _ = run_workload_in(tmp_path)
    samples = data["samples"]
    zchildren = native_children(samples, "compress_it")
    zlib = [k for k in zchildren if k[1] == "native" and is_interpreter_function(k[0], "zlib_compress")]
    if INTERPRETER_NAMED:
        assert zlib == [("zlib_compress", "native")], zchildren
    # Most of compress_it's time is under zlib_compress, and deflate is right below it.
    assert sum(zchildren[k] for k in zlib) >= 0.8 * sum(zchildren.values()), zchildren
    zlib_names = {name for name, _ in zlib}
    right_above_deflate = [s["frames"][s["frames"].index(f) + 1][0] for s in samples for f in s["frames"]
                           if f[0] == "deflate" and "compress_it" in [g[0] for g in s["frames"]]]
    assert right_above_deflate and set(right_above_deflate) <= zlib_names, (right_above_deflate, zchildren)
    hchildren = native_children(samples, "hash_it")
    hashing = sum(v for (name, kind), v in hchildren.items()
                  if kind == "native" and ("hash" in name.lower() or "sha" in name.lower()))
    assert hashing >= 0.8 * sum(hchildren.values()), hchildren
    for s in samples:
        names = [f[0] for f in s["frames"]]
        assert not any(n.startswith(EVAL_LOOP_NAMES) for n in names), names
        # Roots are Python's, not libc's or the interpreter's entry points.
        if "compress_it" in names:
            assert names[-1] == "<module>", names


def test_python_frames_carry_file_and_line(tmp_path):
    data, _ = run_workload_in(tmp_path)
    for s in data["samples"]:
        for name, file, line, kind, obj in s["frames"]:
            if name in ("compress_it", "hash_it"):
                assert file.endswith("mixed.py") and line > 0


def run_workload_in(tmp_path):
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        return run_workload("mixed")
    finally:
        os.chdir(cwd)


def test_no_interpreter_trampoline_frames():
    """3.13 runs __init__ through an internal cleanup trampoline; it is the
    interpreter's plumbing, not a frame of the program."""
    import time
    import polyprof

    class Foo:
        def __init__(self):
            t = time.thread_time()
            while time.thread_time() - t < 0.2:
                pass

    polyprof.start(interval_ms=1)
    Foo()
    prof = polyprof.stop()
    seen = 0
    for s in prof.samples():
        python = [f for f in s.frames if f.kind == "python"]
        names = [f.name for f in python]
        i = next((k for k, n in enumerate(names) if n.endswith("__init__")), None)
        if i is None:
            continue
        seen += 1
        assert names[i + 1].endswith("test_no_interpreter_trampoline_frames"), names
        assert all(f.file != "__init__" for f in python), names
    assert seen > 0
