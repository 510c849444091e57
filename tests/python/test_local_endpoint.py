"""The local HTTP endpoint (polyprof.serve, POLYPROF_OPTIONS=endpoint=...):
`go tool pprof` against a live process, a wedged interpreter that still
answers with the stuck function's name, and the security rules."""
import http.client
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

import polyprof
from conftest import WORKLOADS, is_interpreter_function


def fetch(url, timeout=10, headers=None, method="GET"):
    req = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


def test_go_tool_pprof_reads_a_live_process_started_by_the_environment(go_tool, tmp_path):
    env = dict(os.environ, POLYPROF_OPTIONS="endpoint=127.0.0.1:0", PROFILE_INTERVAL_MS="10",
               PPROF_TMPDIR=str(tmp_path))
    env.pop("ENABLE_PROFILING", None)   # the endpoint alone: nothing sampled until asked
    proc = subprocess.Popen([sys.executable, "-m", "polyprof", "run", "--", sys.executable,
                             os.path.join(WORKLOADS, "served_hot.py")],
                            env=env, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        lines = []
        for _ in range(10):   # warnings may come first
            lines.append(proc.stderr.readline())
            m = re.search(r"serving profiles on (127\.0\.0\.1:\d+)", lines[-1])
            if m or not lines[-1]:
                break
        assert m, "no address announced: %r" % lines
        address = m.group(1)
        status, body = fetch("http://%s/polyprof/status" % address)
        assert status == 200
        st = json.loads(body)
        assert st["runtime"] == "python" and st["pid"] != os.getpid()
        assert st["sampler_running"] is False   # serving samples nothing
        assert st["max_seconds"] == 60          # PROFILE_MAX_DURATION's default
        out = subprocess.run([go_tool, "tool", "pprof", "-top", "-cum", "-seconds=2",
                              "http://%s/debug/pprof/profile" % address],
                             capture_output=True, text=True, timeout=60, env=env)
        assert out.returncode == 0, out.stderr
        # flat flat% sum% cum cum% name: the hot function is under most of
        # the samples (its own frame and the native code it runs).
        hot = [l.split() for l in out.stdout.splitlines() if l.rstrip().endswith(" hot_function")]
        assert hot, out.stdout
        assert float(hot[0][4].rstrip("%")) > 50, out.stdout
        # Asking for more than the maximum capture is refused, naming the cap.
        status, body = fetch("http://%s/debug/pprof/profile?seconds=61" % address)
        assert status == 400 and b"maximum capture of 60 s" in body
    finally:
        kill_group(proc)


def test_a_wedged_interpreter_still_answers_with_the_stuck_function(tmp_path):
    proc = subprocess.Popen([sys.executable, os.path.join(WORKLOADS, "wedged_gil.py")],
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        port = int(proc.stdout.readline())
        time.sleep(0.3)   # the main thread is inside the regular expression now
        base = "http://127.0.0.1:%d" % port
        status, body = fetch(base + "/polyprof/status", timeout=5)
        assert status == 200 and json.loads(body)["runtime"] == "python"
        status, body = fetch(base + "/debug/pprof/profile?seconds=1", timeout=15)
        assert status == 200 and body[:2] == b"\x1f\x8b"
        path = tmp_path / "wedged.pb.gz"
        path.write_bytes(body)
        stacks = [[f.name for f in s.frames] for s in polyprof.load(str(path)).samples()]
        stuck = [s for s in stacks if "stuck_in_regex" in s]
        assert stuck, stacks
        # The native frames of the regular expression engine, under the Python frames.
        assert any(any(is_interpreter_function(name, "sre") for name in s[:s.index("stuck_in_regex")]) for s in stuck), stuck
        # Named without the GIL, which the main thread never released.
        assert proc.poll() is None
        st = json.loads(fetch(base + "/polyprof/status", timeout=5)[1])
        assert st["batches_named_without_gil"] > 0
        assert st["sampler_running"] is False and st["samples"] > 0
    finally:
        kill_group(proc)


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.path)


def test_security_rules(tmp_path, monkeypatch):
    monkeypatch.delenv("POLYPROF_ENDPOINT_TOKEN", raising=False)
    # Beyond loopback: refused without endpoint_remote and a token, naming the option.
    with pytest.raises(polyprof.PolyprofError, match="endpoint_remote=true"):
        polyprof.serve("0.0.0.0:0")
    with pytest.raises(polyprof.PolyprofError, match="no token"):
        polyprof.serve("0.0.0.0:0", remote=True)
    with pytest.raises(ValueError, match="option 'endpoint'"):
        polyprof.serve("localhost:http")

    token = tmp_path / "token"
    token.write_text("s3cret-token-for-tests\n")
    with polyprof.serve(":0", token_file=token) as ep:
        assert ep.port > 0 and ep.url == "http://127.0.0.1:%d" % ep.port
        with pytest.raises(polyprof.PolyprofError, match="one endpoint per process"):
            polyprof.serve(":0")
        status, _ = fetch(ep.url + "/polyprof/status")
        assert status == 401
        status, _ = fetch(ep.url + "/polyprof/status", headers={"Authorization": "Bearer wrong"})
        assert status == 401
        status, body = fetch(ep.url + "/polyprof/status",
                             headers={"Authorization": "Bearer s3cret-token-for-tests"})
        assert status == 200 and json.loads(body)["pid"] == os.getpid()
        # No allocation profiling in this process: a clear 404.
        status, body = fetch(ep.url + "/debug/pprof/heap",
                             headers={"Authorization": "Bearer s3cret-token-for-tests"})
        assert status == 404 and b"allocation profiling is not running" in body
    assert not ep.running

    # A unix socket, only for its owner.
    sock = str(tmp_path / "polyprof.sock")
    ep = polyprof.serve(sock)
    try:
        assert ep.address == "unix:" + sock and ep.url is None
        assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
        conn = UnixHTTPConnection(sock)
        conn.request("GET", "/polyprof/status")
        r = conn.getresponse()
        assert r.status == 200 and json.loads(r.read())["runtime"] == "python"
        conn.close()
    finally:
        ep.stop()
    assert not os.path.exists(sock)

    # start(endpoint=...) serves until stop().
    polyprof.start(endpoint=":0")
    try:
        ep = polyprof._local_endpoint.serving()
        assert fetch(ep.url + "/polyprof/status")[0] == 200
    finally:
        polyprof.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", ep.port), timeout=2)
