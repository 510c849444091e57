"""Pushing continuous windows to Pyroscope from Python: a local HTTP server
gets one POST /ingest per window, as a Pyroscope server reads it (query,
headers, the multipart field "profile" holding the window's pprof), and a
server that answers 503 is retried, counted, then reached."""
import http.server
import threading
import time
import urllib.parse

import pytest

import polyprof
from polyprof import _native

pytestmark = pytest.mark.version_independent


class Ingest(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server = self.server
        server.requests.append((self.path, dict(self.headers), body))
        status = server.statuses.pop(0) if server.statuses else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def ingest_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ingest)
    server.requests, server.statuses = [], []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def profile_field(headers, body):
    """The multipart/form-data field "profile" (what Pyroscope reads)."""
    ctype = headers["Content-Type"]
    assert ctype.startswith("multipart/form-data; boundary="), ctype
    boundary = ctype.split("boundary=", 1)[1].encode()
    for part in body.split(b"--" + boundary):
        head, _, data = part.partition(b"\r\n\r\n")
        if b'name="profile"' in head:
            return data[:-2]   # the CRLF before the next boundary
    raise AssertionError("no profile field in %r" % body[:200])


def burn(seconds):
    t = time.time()
    while time.time() - t < seconds:
        sum(i * i for i in range(2000))


def test_windows_are_pushed_with_labels_auth_and_tenant(ingest_server, monkeypatch, tmp_path):
    monkeypatch.setenv("POLYPROF_PUSH_TOKEN", "py-token")
    url = "http://127.0.0.1:%d" % ingest_server.server_port
    t0 = int(time.time())
    c = polyprof.ContinuousProfiler(interval_ms=10, window_s=1, store=tmp_path, service="py-shop",
                                    push={"url": url, "tags": {"env": "test", "zone": "a1"},
                                          "tenant": "team-9"}).start()
    try:
        burn(1.3)
        assert c.push_stats()["dropped_queue_full"] == 0
    finally:
        c.stop()
    stats = c.push_stats()
    reqs = ingest_server.requests
    assert len(reqs) == 2 and stats["pushed"] == 2, (stats, [r[0] for r in reqs])
    assert stats["queued"] == stats["failed_attempts"] == stats["dropped_rejected"] == 0
    for path, headers, body in reqs:
        parsed = urllib.parse.urlsplit(path)
        assert parsed.path == "/ingest"
        q = urllib.parse.parse_qs(parsed.query)
        assert q["name"] == ["py-shop{env=test,zone=a1}"]
        assert q["format"] == ["pprof"]
        assert t0 <= int(q["from"][0]) < int(q["until"][0]) <= time.time() + 1
        assert headers["Authorization"] == "Bearer py-token"
        assert headers["X-Scope-OrgID"] == "team-9"
        profile = polyprof.Profile(_native.decode_pprof(profile_field(headers, body)))
        assert profile.metadata["trigger"] == "continuous"
    first = polyprof.Profile(_native.decode_pprof(profile_field(reqs[0][1], reqs[0][2])))
    assert any("burn" in [f[0] for f in s.frames] for s in first.samples())
    # The store still gets every window.
    assert len([f for f in tmp_path.iterdir() if f.name.endswith(".pb.gz")]) == 2


def grow_heap(n):
    kept = []
    for _ in range(n):
        kept.append(bytearray(16384))
    return kept


def test_allocation_windows_are_pushed_beside_cpu_windows(ingest_server, tmp_path):
    url = "http://127.0.0.1:%d" % ingest_server.server_port
    c = polyprof.ContinuousProfiler(interval_ms=10, window_s=1, store=tmp_path, service="py-heap", mode="cpu+alloc",
                                    alloc_interval="64k", push={"url": url, "tags": {"env": "test"}}).start()
    held = []
    try:
        t = time.time()
        while time.time() - t < 1.4:
            held.append(grow_heap(20))
            burn(0.02)
    finally:
        c.stop()
    stats = c.push_stats()
    reqs = ingest_server.requests
    assert stats["pushed"] == len(reqs) and stats["queued"] == stats["dropped_queue_full"] == 0, stats
    kinds = {"cpu": [], "alloc_space": []}
    for path, headers, body in reqs:
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
        assert q["name"] == ["py-heap{env=test}"] and q["format"] == ["pprof"]
        profile = polyprof.Profile(_native.decode_pprof(profile_field(headers, body)))
        types = [t for t, _ in profile.value_types]
        kinds["alloc_space" if "alloc_space" in types else "cpu"].append(profile)
    # Two windows of each kind: the whole one and the partial one at stop().
    assert len(kinds["cpu"]) == 2 and len(kinds["alloc_space"]) == 2, {k: len(v) for k, v in kinds.items()}
    # What the loop keeps is grow_heap's; burn's ints are freed at once.
    heap = kinds["alloc_space"][0]
    index = [t for t, _ in heap.value_types].index("inuse_space")
    through = sum(s.values[index] for s in heap.samples() if "grow_heap" in [f[0] for f in s.frames])
    assert through >= 0.5 * sum(s.values[index] for s in heap.samples())
    # The store still gets both kinds.
    assert {e["type"] for e in polyprof.Store(str(tmp_path)).list()} == {"cpu", "alloc"}


def test_server_errors_are_retried_then_pushed(ingest_server):
    ingest_server.statuses[:] = [503]
    c = polyprof.ContinuousProfiler(interval_ms=10, window_s=1, exporter=lambda p, md: None,
                                    push="http://127.0.0.1:%d" % ingest_server.server_port).start()
    try:
        burn(1.9)   # window 0 meets the 503, its retry comes within a second
    finally:
        c.stop()
    stats = c.push_stats()
    assert stats["failed_attempts"] == 1 and stats["pushed"] == 2, stats
    assert len(ingest_server.requests) == 3


def test_push_options_are_checked_before_starting():
    with pytest.raises(ValueError, match="push"):
        polyprof.ContinuousProfiler(push="ftp://pyroscope:4040")
    with pytest.raises(ValueError, match="starts with a letter"):
        polyprof.ContinuousProfiler(push={"url": "http://p:4040", "tags": {"1x": "y"}})
    with pytest.raises(TypeError, match="unknown key 'token'"):
        polyprof.ContinuousProfiler(push={"url": "http://p:4040", "token": "secret"})
    assert polyprof.ContinuousProfiler().push_stats() is None


def test_push_keys_survive_the_environment_configuration(monkeypatch):
    # polyprof.auto starts ContinuousProfiler from env_config()'s options.
    monkeypatch.setenv("ENABLE_PROFILING", "true")
    monkeypatch.setenv("POLYPROF_OPTIONS", "push=http://pyroscope:4040,push_tags=env=prod;team=x,push_queue=3")
    opts = _native.env_config()["options"]
    assert opts["push"] == "http://pyroscope:4040"
    assert opts["push_tags"] == "env=prod;team=x"
    assert opts["push_queue"] == "3"
