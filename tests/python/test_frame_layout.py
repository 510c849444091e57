"""How Python frames are read: the compiled frame layout, checked from 3.13 on
against the one the interpreter publishes (_Py_DebugOffsets). A patch release
that moved a field must not make polyprof mislabel frames: it reads the
interpreter's offsets where they cover what it reads, and refuses Python
frames, saying so, where they do not."""
import os
import subprocess
import sys
import textwrap

import pytest

from polyprof import _native

from conftest import REPO

PUBLISHES_LAYOUT = sys.version_info >= (3, 13)
needs_debug_offsets = pytest.mark.skipif(not PUBLISHES_LAYOUT, reason="_Py_DebugOffsets exist from CPython 3.13")

VERIFIED = "python_frame_layout=verified against the interpreter's _Py_DebugOffsets"
REFUSED = "python_frame_layout=refused: Python frames are not captured: "


def test_every_profile_says_how_python_frames_were_read():
    import polyprof
    polyprof.start(interval_ms=5)
    sum(i * i for i in range(200000))
    prof = polyprof.stop()
    expected = VERIFIED if PUBLISHES_LAYOUT else "python_frame_layout=compiled"
    assert expected in prof.comments
    assert _native.frame_layout() == expected


@needs_debug_offsets
def test_the_check_notices_each_kind_of_disagreement():
    check = _native._frame_layout_test
    assert check({}, {}) == VERIFIED

    def real(field):   # the interpreter's offset, as the note of a disagreement gives it
        return int(check({field: 1}, {}).split(" at ")[1].split(",")[0])
    # A frame field the build placed elsewhere: the interpreter's offset is used.
    real_owner = real("interpreter_frame.owner")
    moved = check({"interpreter_frame.owner": real_owner + 1}, {})
    assert moved == ("python_frame_layout=the interpreter's _Py_DebugOffsets (interpreter_frame.owner at %d, "
                     "built with %d)" % (real_owner, real_owner + 1)), moved
    # A moved code object: co_flags, which is read too, is not published.
    elsewhere = real("code_object.filename") + 8
    refused = check({}, {"code_object.filename": elsewhere})
    assert refused.startswith(REFUSED) and "code_object.filename at %d" % elsewhere in refused, refused
    assert "co_flags" in refused
    for change, why in [({"cookie": 0}, "_Py_DebugOffsets are missing"),
                        ({"version": 0x03050000}, "the interpreter is CPython 3.5, this polyprof was built for %d.%d"
                         % sys.version_info[:2]),
                        ({"free_threaded": 1}, "free-threaded"),
                        ({"interpreter_frame.previous": 1 << 20}, "not plausible (interpreter_frame.previous"),
                        ({"interpreter_frame.instr_ptr": real("interpreter_frame.previous")}, "overlap")]:
        got = check({}, change)
        assert got.startswith(REFUSED) and why in got, (change, got)
    with pytest.raises(ValueError, match="unknown frame layout field 'interpreter_frame.nope'"):
        check({"interpreter_frame.nope": 1}, {})
    # Checking installs nothing.
    assert _native.frame_layout() == VERIFIED


PROFILE_WITH_LAYOUT = textwrap.dedent("""
    import json, sys, time, warnings
    import polyprof
    from polyprof import _native

    def burn_here():
        t = time.thread_time()
        while time.thread_time() - t < 0.4:
            sum(i * i for i in range(500))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        note = _native._frame_layout_test(json.loads(sys.argv[1]), json.loads(sys.argv[2]), True)
    polyprof.start(interval_ms=2)
    burn_here()
    prof = polyprof.stop()
    frames = [[f.name, f.kind] for s in prof.samples() for f in s.frames]
    print(json.dumps({"note": note, "warnings": [str(w.message) for w in caught], "frames": frames,
                      "metadata": prof.metadata}))
""")


def profile_with_layout(built, runtime):
    import json
    proc = subprocess.run([sys.executable, "-c", PROFILE_WITH_LAYOUT, json.dumps(built), json.dumps(runtime)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


@needs_debug_offsets
def test_a_build_that_disagrees_with_the_interpreter_still_names_frames():
    """As if the interpreter were a patch release that moved the frame's
    fields: the compiled offsets are wrong, the interpreter's are used."""
    wrong = {"interpreter_frame.previous": 8 * 30, "interpreter_frame.executable": 8 * 31,
             "interpreter_frame.instr_ptr": 8 * 32}
    got = profile_with_layout(wrong, {})
    assert got["note"].startswith("python_frame_layout=the interpreter's _Py_DebugOffsets (interpreter_frame.previous")
    assert got["metadata"]["python_frame_layout"] == got["note"].split("=", 1)[1]
    assert got["warnings"] == []
    assert ["burn_here", "python"] in got["frames"] and ["<module>", "python"] in got["frames"]


@needs_debug_offsets
def test_an_untrustworthy_layout_refuses_python_frames_and_says_so():
    got = profile_with_layout({}, {"interpreter_frame.owner": 1 << 20})
    assert got["note"].startswith(REFUSED)
    assert got["warnings"] == ["polyprof: " + got["note"]]
    assert got["metadata"]["python_frame_layout"].startswith("refused: Python frames are not captured")
    assert not [f for f in got["frames"] if f[1] == "python"], got["frames"]
    # Native frames are still there: the profile is not empty.
    assert got["frames"]



def test_the_layout_read_from_memory_names_frames_too():
    """The handler walks with the compiled offsets as constants when they are
    the ones in use; any other layout installed (here the same offsets, from
    a copy) takes the walk that reads them from memory, which must name the
    same frames."""
    got = profile_with_layout({}, {})
    assert got["note"] == (VERIFIED if PUBLISHES_LAYOUT else "python_frame_layout=compiled")
    assert ["burn_here", "python"] in got["frames"] and ["<module>", "python"] in got["frames"]


def test_the_handler_finds_each_thread_state_as_cpython_does():
    """The signal handler reads the thread-specific key from CPython's runtime
    structure itself (thread_state.c): on the main thread and on a threading
    thread it must find the thread state PyGILState_GetThisThreadState finds."""
    import threading
    assert _native._thread_state_test()
    found = []
    t = threading.Thread(target=lambda: found.append(_native._thread_state_test()))
    t.start()
    t.join()
    assert found == [True]


FREE_THREADED = textwrap.dedent("""
    import sys, sysconfig
    real = sysconfig.get_config_var
    sysconfig.get_config_var = lambda name: 1 if name == "Py_GIL_DISABLED" else real(name)
    sys.abiflags = "t"   # what a free-threaded build reports besides Py_GIL_DISABLED
    if sys.argv[1] == "setup":
        sys.argv = ["setup.py", "--name"]
        import runpy
        runpy.run_path("setup.py", run_name="__main__")
    else:
        import polyprof
""")


@pytest.mark.version_independent
@pytest.mark.parametrize("where", ["setup", "import"])
def test_free_threaded_builds_are_refused_with_one_message(where):
    cwd = REPO if where == "setup" else os.path.dirname(os.path.abspath(__file__))
    proc = subprocess.run([sys.executable, "-c", FREE_THREADED, where], cwd=cwd, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0
    assert "polyprof does not support free-threaded CPython" in proc.stderr, proc.stderr
    assert "Segmentation" not in proc.stderr
