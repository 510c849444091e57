"""polyprof fleet: captures from several instances' endpoints, stored and merged.

The instances here are small stand-in servers (http.server) that serve real
pprof profiles the core recorded; the end-to-end tests against the real
endpoint are in test_fleet_endpoint.py."""
import http.client
import io
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import redirect_stderr, redirect_stdout
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import polyprof
from polyprof import cli

pytestmark = pytest.mark.version_independent

HERE = os.path.dirname(os.path.abspath(__file__))


def burn_alpha(seconds):
    end = time.process_time() + seconds
    x = 0
    while time.process_time() < end:
        x += sum(i * i for i in range(200))
    return x


def burn_beta(seconds):
    end = time.process_time() + seconds
    x = 0
    while time.process_time() < end:
        x += sum(i * i for i in range(200))
    return x


@pytest.fixture(scope="module")
def recorded():
    """Two gzip pprof profiles written by the core: one burning burn_alpha,
    one burn_beta."""
    out = {}
    for fn in (burn_alpha, burn_beta):
        polyprof.start(interval_ms=5)
        fn(0.3)
        out[fn.__name__] = polyprof.stop().to_bytes("pprof")
    return out


class FakeEndpoint:
    """An instance's endpoint: /polyprof/status and /debug/pprof/profile,
    answering from a script of (status, body) replies, the last one repeated."""

    def __init__(self, replies, service="checkout", token=None, gauge=None):
        self.replies = list(replies)
        self.gauge = gauge   # a Gauge shared by several endpoints: captures in flight
        self.requests = []
        self.service = service
        self.token = token
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                fake.requests.append((self.path, self.headers.get("Authorization")))
                if fake.token and self.headers.get("Authorization") != "Bearer " + fake.token:
                    return self._send(401, b"missing or wrong token")
                if self.path == "/polyprof/status":
                    return self._send(200, json.dumps({"service": fake.service}).encode())
                if not self.path.startswith("/debug/pprof/profile?seconds="):
                    return self._send(404, b"not found")
                code, body = fake.replies.pop(0) if len(fake.replies) > 1 else fake.replies[0]
                if fake.gauge is not None:
                    fake.gauge.hold(0.4)
                self._send(code, body, {"Retry-After": "0"} if code == 429 else {})

            def _send(self, code, body, headers=()):
                self.send_response(code)
                for k, v in dict(headers).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = "127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def profile_requests(self):
        return [r for r in self.requests if r[0].startswith("/debug/pprof/profile")]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Gauge:
    """Counts captures in flight across endpoints; keeps the maximum."""

    def __init__(self):
        self.lock = threading.Lock()
        self.now = self.max = 0

    def hold(self, seconds):
        with self.lock:
            self.now += 1
            self.max = max(self.max, self.now)
        time.sleep(seconds)
        with self.lock:
            self.now -= 1


@pytest.fixture
def endpoints():
    made = []

    def make(*args, **kw):
        e = FakeEndpoint(*args, **kw)
        made.append(e)
        return e
    yield make
    for e in made:
        e.close()


def dead_address():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()   # nothing listens there now
    return "127.0.0.1:%d" % port


def fleet(*argv):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(["fleet"] + list(argv))
    return code, out.getvalue(), err.getvalue()


def names_in(profile, **labels):
    names = set()
    for s in profile.samples():
        if all(s.labels.get(k) == v for k, v in labels.items()):
            names.update(f.name for f in s.frames)
    return names


@pytest.mark.parametrize("args, message", [
    (["--targets", ""], "--targets: give at least one host:port"),
    (["--targets", "a:1,b:2,a:1"], "--targets: duplicate target 'a:1'"),
    (["--targets", "a:1,http://A:1"], "--targets: duplicate target 'http://A:1'"),
    (["--targets", "nohost"], "--targets: 'nohost' is not host:port or an http(s) URL"),
    (["--targets", "a:99999"], "port 99999 is out of range"),
    (["--targets", "ftp://a:1"], "only http:// and https:// URLs"),
    (["--targets", "a:1", "--seconds", "0"], "--seconds 0: expected 1 to 60"),
    (["--targets", "a:1", "--seconds", "61"], "--seconds 61: expected 1 to 60"),
    (["--targets", "a:1", "--seconds", "ten"], "--seconds ten: expected a whole number"),
    (["--targets", "a:1", "--max-concurrent", "0"], "--max-concurrent 0: expected at least 1"),
    (["--targets", "a:1", "--rate-limit", "3"], "--rate-limit 3: expected N/DURATION"),
    (["--targets", "a:1", "--every", "5s", "--seconds", "10"], "--every 5s: shorter than one capture"),
    (["--targets", "a:1", "--token-file", "/nonexistent/token"], "--token-file /nonexistent/token: No such file"),
    (["--targets", "a:1", "--out", "/proc/polyprof-fleet"], "--out /proc/polyprof-fleet: "),
    (["--targets", "a:1", "-o", "/nonexistent/dir/m.pb.gz"], "-o /nonexistent/dir/m.pb.gz: "),
])
def test_bad_parameters_are_refused_before_any_capture(args, message, endpoints, tmp_path):
    code, out, err = fleet("capture", *args, "--out" if "--out" not in args else "--service",
                           str(tmp_path / "store") if "--out" not in args else "svc")
    assert code == 2, (out, err)
    assert message in err
    assert err.startswith("polyprof fleet capture: ")


def test_targets_are_labelled_host_port_whatever_their_form():
    from polyprof._fleet import parse_targets
    got = [(t.label, t.base) for t in parse_targets(
        "10.0.0.1:6060, https://Api.example:8443/app/, http://h, [::1]:7000")]
    assert got == [("10.0.0.1:6060", "http://10.0.0.1:6060"), ("api.example:8443", "https://api.example:8443/app"),
                   ("h:80", "http://h:80"), ("[::1]:7000", "http://[::1]:7000")]


def test_seconds_cap_follows_the_configured_maximum(monkeypatch, tmp_path):
    monkeypatch.setenv("PROFILE_MAX_DURATION", "5")
    code, _, err = fleet("capture", "--targets", "a:1", "--seconds", "6", "--out", str(tmp_path))
    assert code == 2 and "--seconds 6: expected 1 to 5" in err


def test_two_instances_and_a_dead_one_merge_with_instance_labels(recorded, endpoints, tmp_path, go_tool):
    a = endpoints([(200, recorded["burn_alpha"])], service="checkout")
    b = endpoints([(200, recorded["burn_beta"])], service="checkout")
    dead = dead_address()
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    merged = tmp_path / "merged.pb.gz"
    store = tmp_path / "store"
    code, out, err = fleet("capture", "--targets", ",".join([a.address, dead, b.address]), "--seconds", "2",
                           "--out", str(store), "-o", str(merged), "--token-file", str(token))
    assert code == 1, (out, err)   # one instance failed: the fleet did not
    lines = out.splitlines()
    assert lines[0] == "polyprof fleet: 2 of 3 instance(s) ok"
    assert any(dead in l and "failed" in l and "connection refused" in l for l in lines)
    assert any(a.address in l and " ok " in l for l in lines)
    assert ("/debug/pprof/profile?seconds=2", "Bearer s3cret") in a.requests

    # One stored file per instance (trigger fleet) plus the merge, all "checkout".
    entries = polyprof.Store(str(store)).list()
    assert sorted(e["trigger"] for e in entries) == ["fleet", "fleet", "fleet-merged"]
    assert {e["service"] for e in entries} == {"checkout"}
    for e in entries:
        if e["trigger"] == "fleet":
            labels = {s.labels["instance"] for s in polyprof.load(str(store / e["file"])).samples()}
            assert labels in ({a.address}, {b.address})

    prof = polyprof.load(str(merged))
    assert {s.labels["instance"] for s in prof.samples()} == {a.address, b.address}
    assert "burn_alpha" in names_in(prof, instance=a.address)
    assert "burn_alpha" not in names_in(prof, instance=b.address)
    assert "burn_beta" in names_in(prof, instance=b.address)

    # A reader we did not write splits them again.
    tags = subprocess.run([go_tool, "tool", "pprof", "-tags", str(merged)], capture_output=True, text=True,
                          timeout=120)
    assert tags.returncode == 0, tags.stderr
    assert a.address in tags.stdout and b.address in tags.stdout
    focus = subprocess.run([go_tool, "tool", "pprof", "-top", "-tagfocus", "instance=" + b.address, str(merged)],
                           capture_output=True, text=True, timeout=120)
    assert focus.returncode == 0, focus.stderr
    assert "burn_beta" in focus.stdout and "burn_alpha" not in focus.stdout


def test_all_ok_exits_0_and_busy_instances_are_retried(recorded, endpoints, tmp_path):
    busy = endpoints([(429, b"a capture is already running"), (200, recorded["burn_alpha"])])
    fine = endpoints([(200, recorded["burn_beta"])])
    key = tmp_path / "key"
    key.write_text("ab" * 32)
    store = tmp_path / "store"
    code, out, err = fleet("capture", "--targets", "%s,%s" % (busy.address, fine.address), "--seconds", "1",
                           "--out", str(store), "--service", "api", "--key-file", str(key))
    assert code == 0, (out, err)
    assert len(busy.profile_requests()) == 2 and len(fine.profile_requests()) == 1
    assert not any(p == "/polyprof/status" for p, _ in busy.requests)   # --service given
    encrypted = polyprof.Store(str(store), key_file=str(key))
    entries = encrypted.list()
    assert {e["service"] for e in entries} == {"api"} and len(entries) == 3
    assert all(e["file"].endswith(".pb.gz.enc") for e in entries)
    merged = [encrypted.read(e) for e in entries if e["trigger"] == "fleet-merged"][0]
    assert {s.labels["instance"] for s in merged.samples()} == {busy.address, fine.address}


def test_at_most_max_concurrent_captures_at_once(recorded, endpoints, tmp_path):
    gauge = Gauge()
    fakes = [endpoints([(200, recorded["burn_alpha"])], gauge=gauge) for _ in range(4)]
    code, out, err = fleet("capture", "--targets", ",".join(f.address for f in fakes), "--seconds", "1",
                           "--max-concurrent", "2", "--out", str(tmp_path))
    assert code == 0, (out, err)
    assert all(len(f.profile_requests()) == 1 for f in fakes)
    assert gauge.max == 2


def test_busy_after_every_retry_fails_that_instance_only(recorded, endpoints, tmp_path):
    busy = endpoints([(429, b"busy")])
    fine = endpoints([(200, recorded["burn_beta"])])
    code, out, _ = fleet("capture", "--targets", "%s,%s" % (busy.address, fine.address), "--seconds", "1",
                         "--out", str(tmp_path), "--retries", "2", "--max-concurrent", "1")
    assert code == 1
    assert len(busy.profile_requests()) == 3
    assert "busy (HTTP 429) after 3 attempt(s)" in out
    assert "merged: 1 instance(s)" in out


def test_wrong_token_garbage_and_mismatched_kinds(recorded, endpoints, tmp_path):
    guarded = endpoints([(200, recorded["burn_alpha"])], token="right")
    garbage = endpoints([(200, b"<html>not a profile</html>")])
    token = tmp_path / "token"
    token.write_text("wrong")
    code, out, _ = fleet("capture", "--targets", "%s,%s" % (guarded.address, garbage.address), "--seconds", "1",
                         "--out", str(tmp_path / "s"), "--token-file", str(token))
    assert code == 1
    assert "HTTP 401" in out and "not a pprof profile" in out
    assert "merged: not written: no instance returned a profile" in out

    polyprof.start(interval_ms=5, mode="wall")
    burn_alpha(0.05)
    wall = polyprof.stop().to_bytes("pprof")
    cpu = endpoints([(200, recorded["burn_alpha"])])
    other = endpoints([(200, wall)])
    code, out, _ = fleet("capture", "--targets", "%s,%s" % (cpu.address, other.address), "--seconds", "1",
                         "--out", str(tmp_path / "t"))
    assert code == 1
    assert "merged: not written: merge: profiles of different kinds cannot be merged" in out
    assert "wall/nanoseconds" in out


def test_merge_in_python_refuses_other_kinds_with_both_named(recorded):
    a = polyprof.Profile(polyprof._native.decode_pprof(recorded["burn_alpha"]))
    m = polyprof.merge([a, a], "instance", ["x:1", "y:2"])
    assert len(m.samples()) == 2 * len(a.samples())
    assert m.metadata["merged_profiles"] == 2


def post(url, body, content_type="application/json"):
    req = urllib.request.Request(url, data=body, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def alert(status, name="HighLatency"):
    return json.dumps({"version": "4", "status": status,
                       "alerts": [{"status": status, "labels": {"alertname": name, "instance": "x"}}]}).encode()


def test_webhook_firing_alert_captures_resolved_ignored_malformed_400(recorded, endpoints, tmp_path):
    from polyprof import _fleet
    a = endpoints([(200, recorded["burn_alpha"])])
    store = polyprof.Store(str(tmp_path))
    f = _fleet.Fleet(_fleet.parse_targets(a.address), 1, store)
    hook = _fleet.AlertWebhook(f, _fleet.RateLimiter(1, 300), "127.0.0.1", 0, out=io.StringIO()).start()
    url = "http://%s/" % hook.address
    try:
        assert post(url, b"{not json")[0] == 400
        assert post(url, b'{"alerts": "nope"}')[0] == 400
        # Refused from its Content-Length, before any of it is read.
        conn = http.client.HTTPConnection(hook.address, timeout=10)
        conn.putrequest("POST", "/")
        conn.putheader("Content-Length", str(_fleet.WEBHOOK_MAX_BODY + 1))
        conn.endheaders()
        assert conn.getresponse().status == 413
        conn.close()
        assert post(url, alert("resolved")) == (200, {"status": "ignored", "reason": "no firing alert"})
        assert a.profile_requests() == []
        code, body = post(url, alert("firing"))
        assert code == 202 and body["status"] == "capturing"
        deadline = time.time() + 20
        while not hook.status()["rounds"] and time.time() < deadline:
            time.sleep(0.05)
        rounds = hook.status()["rounds"]
        assert rounds and rounds[0]["ok"] == 1 and rounds[0]["alerts"] == ["HighLatency"]
        assert sorted(e["trigger"] for e in store.list()) == ["fleet", "fleet-merged"]
        # Still serving, and the rate limit (1 per 300 s) holds the next alert back.
        code, body = post(url, alert("firing"))
        assert code == 429 and body["status"] == "rate-limited"
        assert len(a.profile_requests()) == 1
    finally:
        hook.close()


def test_serve_refuses_non_loopback_and_stops_on_ctrl_c(endpoints, tmp_path):
    code, _, err = fleet("serve", "--targets", "a:1", "--listen", "0.0.0.0:9095", "--out", str(tmp_path))
    assert code == 2 and "not a loopback address" in err
    env = dict(os.environ)  # the polyprof under test: installed, or PYTHONPATH as the caller set it
    proc = subprocess.Popen([sys.executable, "-m", "polyprof", "fleet", "serve", "--targets", dead_address(),
                             "--listen", "127.0.0.1:0", "--out", str(tmp_path), "--rate-limit", "5/1m"],
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stderr.readline()
        assert "listening on http://127.0.0.1:" in line, line
        url = line.split("listening on ")[1].split()[0]
        code, body = post(url, alert("firing"))
        assert code == 202
        proc.send_signal(2)
        assert proc.wait(timeout=10) == 0
        assert "stopped" in proc.stderr.read()
    finally:
        proc.kill()


def test_every_runs_the_first_round_at_once_and_ctrl_c_is_clean(recorded, endpoints, tmp_path):
    a = endpoints([(200, recorded["burn_alpha"])])
    env = dict(os.environ)  # the polyprof under test: installed, or PYTHONPATH as the caller set it
    proc = subprocess.Popen([sys.executable, "-m", "polyprof", "fleet", "capture", "--targets", a.address,
                             "--seconds", "1", "--every", "1s", "--out", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.time() + 20
        while len(a.profile_requests()) < 2 and time.time() < deadline:
            time.sleep(0.05)
        assert len(a.profile_requests()) >= 2   # immediately, then 1 s later
        proc.send_signal(2)
        assert proc.wait(timeout=10) == 0
        out, err = proc.communicate()
        assert "Traceback" not in err and "stopped" in err
        assert out.count("polyprof fleet: 1 of 1 instance(s) ok") >= 1
    finally:
        proc.kill()


@pytest.fixture
def instances():
    """Python processes serving the real endpoint (workloads/serve_burn.py)."""
    procs = []

    def start(function, service):
        env = dict(os.environ, POLYPROF_OPTIONS="service=%s" % service)
        p = subprocess.Popen([sys.executable, os.path.join(HERE, "workloads", "serve_burn.py"), function],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        procs.append(p)
        line = p.stdout.readline()
        assert line.startswith("endpoint="), p.stderr.read()
        return line.strip().split("=", 1)[1]
    yield start
    for p in procs:
        p.stdin.close()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


def test_real_endpoints_one_busy_then_retried(instances, tmp_path):
    a = instances("burn_alpha", "checkout")
    b = instances("burn_beta", "search")
    # Another client's capture runs on a when the fleet asks: 429 with
    # Retry-After, then the retry gets a capture.
    other = threading.Thread(target=lambda: urllib.request.urlopen(
        "http://%s/debug/pprof/profile?seconds=1" % a, timeout=30).read())
    other.start()
    deadline = time.time() + 10
    while time.time() < deadline:
        with urllib.request.urlopen("http://%s/polyprof/status" % a, timeout=5) as resp:
            if json.loads(resp.read()).get("endpoint_capture"):
                break
        time.sleep(0.05)
    merged = tmp_path / "merged.pb.gz"
    code, out, err = fleet("capture", "--targets", "%s,%s" % (a, b), "--seconds", "1", "--out", str(tmp_path / "s"),
                           "-o", str(merged))
    other.join()
    assert code == 0, (out, err)
    assert "attempts: busy before" in [l for l in out.splitlines() if a in l][0]
    prof = polyprof.load(str(merged))
    assert "burn_alpha" in names_in(prof, instance=a) and "burn_alpha" not in names_in(prof, instance=b)
    assert "burn_beta" in names_in(prof, instance=b)
    stored = {(e["service"], e["trigger"]) for e in polyprof.Store(str(tmp_path / "s")).list()}
    assert stored == {("checkout", "fleet"), ("search", "fleet"), ("fleet", "fleet-merged")}
