import json
import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
WORKLOADS = os.path.join(HERE, "workloads")


def run_workload(name, *args, timeout=120, env=None, check=True):
    """Run tests/python/workloads/<name>.py in a fresh interpreter and return
    the JSON it prints on its last stdout line. The profiler is process-wide
    state, so every scenario gets its own process."""
    cmd = [sys.executable, os.path.join(WORKLOADS, name + ".py")] + [str(a) for a in args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})))
    if check and proc.returncode != 0:
        raise AssertionError("workload %s failed (%d):\nstdout:\n%s\nstderr:\n%s"
                             % (name, proc.returncode, proc.stdout[-4000:], proc.stderr[-4000:]))
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    return json.loads(lines[-1]) if lines else None, proc


def function_share(samples, name, index=1):
    """Share of value `index` over samples whose stack contains `name`."""
    total = sum(s["values"][index] for s in samples)
    hit = sum(s["values"][index] for s in samples if name in [f[0] for f in s["frames"]])
    return hit / total if total else 0.0


@pytest.fixture(scope="session")
def pprofcheck(tmp_path_factory):
    """The independent pprof validator (Go, github.com/google/pprof/profile)."""
    go = shutil.which("go")
    if not go:
        pytest.fail("go is not installed; it is needed to validate pprof output (see README.md)")
    out = str(tmp_path_factory.mktemp("go") / "pprofcheck")
    src = os.path.join(REPO, "tests", "go", "pprofcheck")
    subprocess.run([go, "build", "-o", out, "."], cwd=src, check=True, timeout=600)

    def check(path):
        proc = subprocess.run([out, path], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, "pprofcheck rejected %s: %s" % (path, proc.stderr)
        return json.loads(proc.stdout)
    return check


@pytest.fixture(scope="session")
def go_tool():
    go = shutil.which("go")
    if not go:
        pytest.fail("go is not installed; `go tool pprof` reads our output in these tests")
    return go
