"""Other SIGSEGV/SIGBUS handlers arriving mid-profile (faulthandler, which
pytest enables by default; native crash reporters): the profiler's fault
guard goes back in front, so stacks stay whole, and faults that are not the
profiler's still reach them."""
import os
import signal
import subprocess
import sys
import textwrap

import polyprof
from conftest import function_share, run_workload

UNREADABLE = "[interpreter frames unreadable]"


def unreadable_share(samples):
    return function_share(samples, UNREADABLE, index=0)


def test_handlers_installed_mid_profile_keep_stacks_whole():
    data, proc = run_workload("foreign_fault_handler")
    samples, meta = data["samples"], data["metadata"]
    # faulthandler, then the native library: both displaced the guard.
    assert meta["fault_guard_reinstalled"] >= 2, meta
    assert "fault_guard_lost" not in meta, meta
    assert meta["unguarded_samples"] <= 0.02 * meta["samples_taken"], meta
    assert unreadable_share(samples) <= 0.01
    for phase in ("phase_plain", "phase_after_faulthandler", "phase_after_native_handler"):
        # Each burns a third of the time: each is found, under its caller.
        share = function_share(samples, phase, index=0)
        assert 0.2 <= share <= 0.5, (phase, share)
    # Nothing said on stderr: the guard was kept.
    assert "fault guard" not in proc.stderr


def test_a_fault_not_ours_still_reaches_faulthandler():
    _, proc = run_workload("foreign_fault_handler", "crash", check=False)
    # faulthandler, installed after the profiler, wrote its traceback and the
    # process died of the fault, as it would have without the profiler.
    assert "Fatal Python error: Segmentation fault" in proc.stderr, proc.stderr[-2000:]
    assert "phase_after_faulthandler" not in proc.stdout
    assert proc.returncode == -signal.SIGSEGV, (proc.returncode, proc.stderr[-2000:])
    assert "still alive" not in proc.stderr


BUSY_SUITE = textwrap.dedent('''
    import time

    def spin(seconds):
        end = time.thread_time() + seconds
        x = 0
        while time.thread_time() < end:
            for i in range(200):
                x += i * i
        return x

    def test_busy_parse():
        spin(0.8)

    def test_busy_render():
        spin(0.8)
''')


def test_pytest_suite_profiled_with_its_faulthandler_plugin(tmp_path):
    suite = tmp_path / "test_busy_suite.py"
    suite.write_text(BUSY_SUITE)
    out = tmp_path / "pytest.pb.gz"
    # pytest's faulthandler plugin (on by default) enables faulthandler after
    # profiling started.
    cmd = [sys.executable, "-m", "polyprof", "record", "-o", str(out), "--interval", "5ms", "--",
           sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(suite)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=str(tmp_path),
                          env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    prof = polyprof.load(str(out))
    meta = prof.metadata
    assert meta["fault_guard_reinstalled"] >= 1, meta
    samples = [{"frames": [[f.name] for f in s.frames], "values": list(s.values)} for s in prof.samples()]
    in_tests = function_share(samples, "test_busy_parse", index=0) + \
        function_share(samples, "test_busy_render", index=0)
    # 1.6 s of the run burns in the two tests; start-up and collection take
    # the rest.
    assert in_tests >= 0.5, in_tests
    assert unreadable_share(samples) <= 0.01
