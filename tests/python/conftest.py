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


def _interpreter_binary():
    """The ELF file holding the interpreter's code: libpython when the build
    is shared (and this process maps it), else the executable."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            if os.path.basename(path).startswith("libpython3"):
                return path
    return os.path.realpath(sys.executable)


def _has_symbol_table(path):
    """Whether the ELF file at path keeps a .symtab section (64-bit little-endian only)."""
    import struct
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            return True   # not a layout this reads: assume named
        shoff, = struct.unpack_from("<Q", head, 0x28)
        shentsize, shnum = struct.unpack_from("<HH", head, 0x3a)
        f.seek(shoff)
        table = f.read(shentsize * shnum)
    return any(struct.unpack_from("<I", table, i * shentsize + 4)[0] == 2 for i in range(shnum))


INTERPRETER_BINARY = _interpreter_binary()
# Distribution builds (Debian's python3.x) are stripped to their exported
# symbols: the interpreter's static functions (zlib.compress's zlib_compress,
# the regular expression engine's, bytearray's) have no name there and show
# as "python3.x+0x..." frames. Tests that name one accept such a frame then.
INTERPRETER_NAMED = _has_symbol_table(INTERPRETER_BINARY)


def is_interpreter_function(name, wanted):
    """Whether a native frame's name is the interpreter's static function
    `wanted` (a substring), or, on a stripped interpreter, one of its
    nameless frames."""
    if wanted in name:
        return True
    return not INTERPRETER_NAMED and name.startswith(os.path.basename(INTERPRETER_BINARY) + "+0x")


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
