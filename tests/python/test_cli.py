"""polyprof record / polyprof top, as a user runs them."""
import os
import signal
import subprocess
import sys
import time

import polyprof
from conftest import WORKLOADS

APP = os.path.join(WORKLOADS, "app.py")


def record(tmp_path, *args, app_args=(), python=sys.executable):
    out = tmp_path / "out.pb.gz"
    cmd = [sys.executable, "-m", "polyprof", "record", "-o", str(out)] + list(args) + \
          ["--", python, APP] + list(app_args)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return proc, out


def function_names(path):
    names = set()
    for s in polyprof.load(str(path)).samples():
        names.update(f.name for f in s.frames)
    return names


def test_record_writes_a_pprof_with_the_programs_functions(tmp_path):
    proc, out = record(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "polyprof: wrote" in proc.stderr
    names = function_names(out)
    assert {"parse", "render", "main"} <= names
    threads = {s.labels.get("thread_name") for s in polyprof.load(str(out)).samples()}
    assert {"MainThread", "renderer"} <= threads


def test_record_keeps_the_exit_code_and_still_writes(tmp_path):
    proc, out = record(tmp_path, app_args=["3"])
    assert proc.returncode == 3
    assert "parse" in function_names(out)


def test_record_runs_the_program_in_its_own_process(tmp_path):
    # The process the user started is the program: its signals and its exit
    # status are the program's, and no recorder interpreter waits beside it.
    out = tmp_path / "out.pb.gz"
    cmd = [sys.executable, "-m", "polyprof", "record", "-o", str(out), "--",
           sys.executable, "-c", "import os; print(os.getpid())"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert int(stdout) == proc.pid
    assert out.exists()


def test_ctrl_c_stops_the_program_and_the_profile_is_written(tmp_path):
    out = tmp_path / "out.pb.gz"
    program = ("import time\n"
               "def spin(until):\n"
               "    while time.time() < until: pass\n"
               "print('ready', flush=True)\n"
               "while True: spin(time.time() + 0.05)\n")
    cmd = [sys.executable, "-m", "polyprof", "record", "-o", str(out), "--", sys.executable, "-c", program]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)   # what ^C in a terminal sends
        stderr = proc.communicate(timeout=60)[1]
    finally:
        proc.kill()
    # As without the profiler: KeyboardInterrupt, then death by SIGINT.
    assert proc.returncode == -signal.SIGINT, stderr
    assert "KeyboardInterrupt" in stderr and "polyprof: wrote" in stderr
    assert "spin" in function_names(out)


def test_a_python_without_polyprof_gets_one_clear_error(tmp_path):
    # An interpreter whose polyprof cannot be imported (-I ignores PYTHONPATH
    # and the user's site; -S the installed packages).
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\nexec %s -I -S \"$@\"\n" % sys.executable)
    fake.chmod(0o755)
    cmd = [sys.executable, "-m", "polyprof", "record", "-o", str(tmp_path / "x.pb.gz"), "--", str(fake), APP]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "polyprof record: polyprof is not installed for %s" % fake in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    missing = [sys.executable, "-m", "polyprof", "record", "--", str(tmp_path / "python3.99"), APP]
    proc = subprocess.run(missing, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "polyprof record: cannot run" in proc.stderr and "Traceback" not in proc.stderr


def test_record_options_read_without_argparse_match_argparse(tmp_path):
    # `--opt=value` and an abbreviated option are read by argparse, the common
    # spelling without it: both give the same recording.
    from polyprof import cli
    quick = cli._quick_record_args(["record", "-o", "a.folded", "--interval=5ms", "--no-native", "--mode",
                                    "wall", "--", "python", "app.py"])
    full = cli.build_parser().parse_args(["record", "-o", "a.folded", "--interval=5ms", "--no-native", "--mode",
                                          "wall", "--", "python", "app.py"])
    for key in cli.RECORD_DEFAULTS:
        assert getattr(quick, key) == getattr(full, key), key
    assert quick.command == full.command
    assert cli._quick_record_args(["record", "--int", "5ms", "--", "python", "app.py"]) is None
    assert cli._quick_record_args(["record", "-h"]) is None
    assert cli._quick_record_args(["record", "--interval", "--", "python"]) is None


def test_record_options_wall_no_native_duration_and_folded(tmp_path):
    proc, out = record(tmp_path, "--mode", "wall", "--no-native", "--interval", "5ms")
    assert proc.returncode == 0, proc.stderr
    prof = polyprof.load(str(out))
    assert prof.value_types[1] == ("wall", "nanoseconds")
    kinds = {f.kind for s in prof.samples() for f in s.frames}
    assert "native" not in kinds
    folded = tmp_path / "out.folded"
    cmd = [sys.executable, "-m", "polyprof", "record", "-o", str(folded), "--duration", "200ms", "--",
           sys.executable, APP]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = folded.read_text().splitlines()
    assert lines and all(l.rsplit(" ", 1)[1].isdigit() for l in lines)
    total_ns = sum(int(l.rsplit(" ", 1)[1]) for l in lines)
    assert total_ns <= 0.5e9   # at most ~200 ms per thread was kept, not the whole run


def test_module_form_and_top(tmp_path):
    out = tmp_path / "m.pb.gz"
    env = dict(os.environ, PYTHONPATH=WORKLOADS + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "polyprof", "record", "-o", str(out), "--", sys.executable,
                           "-m", "app"], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    top = subprocess.run([sys.executable, "-m", "polyprof", "top", str(out), "-n", "12",
                          "--sample-index", "cpu"], capture_output=True, text=True, timeout=60)
    assert top.returncode == 0, top.stderr
    assert "parse" in top.stdout or "render" in top.stdout
    bad = subprocess.run([sys.executable, "-m", "polyprof", "top", str(out), "--sample-index", "bytes"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "no sample type 'bytes'" in bad.stderr
    garbage = tmp_path / "garbage.pb.gz"
    garbage.write_bytes(b"\x1f\x8b not really gzip")
    bad = subprocess.run([sys.executable, "-m", "polyprof", "top", str(garbage)], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode != 0 and "polyprof top:" in bad.stderr and "Traceback" not in bad.stderr


def test_flamegraph_command_writes_one_self_contained_page(tmp_path):
    proc, out = record(tmp_path)
    assert proc.returncode == 0, proc.stderr
    page = tmp_path / "flame.html"
    fg = subprocess.run([sys.executable, "-m", "polyprof", "flamegraph", str(out), "-o", str(page)],
                        capture_output=True, text=True, timeout=60)
    assert fg.returncode == 0, fg.stderr
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "window.FLAME=" in html
    for name in ("parse", "render", "main"):
        assert '"%s"' % name in html
    assert "http://" not in html and "https://" not in html and "<link" not in html
    # The default output sits next to the profile; a missing input is a clear error.
    fg = subprocess.run([sys.executable, "-m", "polyprof", "flamegraph", str(out)], capture_output=True, text=True,
                        timeout=60)
    assert fg.returncode == 0 and (tmp_path / "out.html").exists()
    bad = subprocess.run([sys.executable, "-m", "polyprof", "flamegraph", str(tmp_path / "missing.pb.gz")],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "polyprof flamegraph:" in bad.stderr
