"""Misuse gets a clear exception naming the problem, never a crash."""
import os
import subprocess
import sys

import pytest

import polyprof


@pytest.fixture(autouse=True)
def clean_state():
    yield
    if polyprof.is_running():
        polyprof.stop()


def test_start_twice():
    polyprof.start()
    with pytest.raises(polyprof.PolyprofError, match="called twice"):
        polyprof.start()
    assert isinstance(polyprof.stop(), polyprof.Profile)


def test_stop_without_start():
    with pytest.raises(polyprof.PolyprofError, match="without polyprof.start"):
        polyprof.stop()


@pytest.mark.parametrize("interval", [0, -5, -0.1])
def test_bad_interval(interval):
    with pytest.raises(ValueError, match="interval_ms"):
        polyprof.start(interval_ms=interval)
    assert not polyprof.is_running()


def test_interval_of_wrong_type():
    with pytest.raises(TypeError, match="interval_ms"):
        polyprof.start(interval_ms="fast")


def test_unknown_mode():
    with pytest.raises(ValueError, match="mode='gpu'.*expected cpu, wall"):
        polyprof.start(mode="gpu")


def test_bad_options_string_names_the_key():
    with pytest.raises(ValueError, match="unknown option 'colour'"):
        polyprof.start(options="colour=blue")
    with pytest.raises(ValueError, match="'memory'"):
        polyprof.start(options="memory=lots")


def test_unwritable_output_path(tmp_path):
    with pytest.raises(OSError, match="does not exist"):
        polyprof.profile(output=str(tmp_path / "missing" / "out.pb.gz"))
    with pytest.raises(ValueError, match="suffix"):
        polyprof.profile(output=str(tmp_path / "out.unknown"))
    polyprof.start()
    prof = polyprof.stop()
    with pytest.raises(OSError, match="missing"):
        prof.write(str(tmp_path / "missing" / "out.pb.gz"))
    if os.geteuid() != 0:   # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        with pytest.raises(OSError):
            prof.write(str(ro / "out.pb.gz"))


def test_stopping_a_profile_twice():
    with polyprof.profile() as p:
        pass
    assert p.profile is not None
    c = polyprof._native.start({})
    c.stop()
    with pytest.raises(polyprof.PolyprofError, match="already stopped"):
        c.stop()


def test_mode_conflict_with_running_sampler():
    polyprof.start(mode="cpu")
    with pytest.raises(polyprof.PolyprofError, match="cpu mode"):
        with polyprof.profile(mode="wall"):
            pass
    polyprof.stop()


def test_report_top_must_be_positive():
    polyprof.start()
    prof = polyprof.stop()
    with pytest.raises(ValueError, match="top"):
        prof.report(0)


def test_endpoint_arguments_are_checked():
    with pytest.raises(ValueError, match="duration_seconds"):
        polyprof.profile_endpoint(duration_seconds=0)(lambda: None)
    with pytest.raises(TypeError, match="output"):
        polyprof.profile_endpoint(output=42)(lambda: None)


def test_record_rejects_non_python_commands(tmp_path):
    out = subprocess.run([sys.executable, "-m", "polyprof", "record", "-o", str(tmp_path / "x.pb.gz"), "--",
                          "ls", "-l"], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "not a Python interpreter" in out.stderr
    out = subprocess.run([sys.executable, "-m", "polyprof", "record", "--interval", "0ms", "--",
                          sys.executable, "-c", "pass"], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "interval" in out.stderr


def test_profile_as_decorator_writes_each_call(tmp_path):
    out = tmp_path / "deco.pb.gz"

    @polyprof.profile(output=str(out), interval_ms=1)
    def work():
        t = __import__("time").thread_time()
        while __import__("time").thread_time() - t < 0.05:
            pass
        return 7

    assert work() == 7
    names = {f.name for s in polyprof.load(str(out)).samples() for f in s.frames}
    assert any(n.rsplit(".", 1)[-1] == "work" for n in names), names   # qualified name


def test_profile_decorator_on_a_recursive_function(tmp_path):
    out = tmp_path / "rec.pb.gz"

    @polyprof.profile(output=str(out))
    def fact(n):
        return 1 if n <= 1 else n * fact(n - 1)

    assert fact(40) == __import__("math").factorial(40)   # 40 nested calls, one capture
    assert out.exists()
