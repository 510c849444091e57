"""The latency policies through Python: the circuit breaker (3 violations
trip it, cooldown closes it, on a test clock), the p95 trigger firing once
per cooldown with its metadata, and the process-wide rate limiter shared by
every trigger."""
import time

import pytest

import polyprof
from polyprof import _native

pytestmark = pytest.mark.version_independent


class Clock:
    def __init__(self, t=1000.0):
        self.t = t

    def __call__(self):
        return self.t


def burn(seconds):
    t = time.time()
    while time.time() - t < seconds:
        sum(i * i for i in range(2000))


def test_breaker_trips_after_three_violations_and_closes_after_cooldown():
    clock = Clock()
    b = polyprof.CircuitBreaker(max_latency_increase_pct=5, violation_threshold=3, cooldown_s=60, clock=clock)
    for _ in range(30):
        b.record_latency(100)          # not profiling: the baseline
    assert b.state["baseline_ms"] == pytest.approx(100)
    polyprof.start(interval_ms=10)     # profiling now
    try:
        assert not b.record_latency(104)               # within 5%
        assert not b.record_latency(120)
        assert not b.record_latency(120)
        assert not b.record_latency(101)               # a good check takes one back
        assert not b.record_latency(120)
        assert b.record_latency(120)                   # the third in a row: trips
    finally:
        polyprof.stop()
    st = b.state
    assert st["open"] and st["trips"] == 1 and st["last_trip"] == pytest.approx(1000.0)
    assert not b.can_profile()
    clock.t += 59
    assert b.is_open
    clock.t += 1
    assert not b.is_open and b.can_profile() and b.trips == 1


def test_breaker_with_a_given_baseline_stops_what_it_guards():
    clock = Clock()
    b = polyprof.CircuitBreaker(cooldown_s=10, clock=clock)
    c = b.guard(polyprof.ContinuousProfiler(interval_ms=10, window_s=60, exporter=lambda p, md: None).start())
    assert _native.running()
    for _ in range(2):
        assert not b.record_latency(300, baseline_ms=200)
    assert b.record_latency(300, baseline_ms=200)
    assert not c.running and not _native.running()


def test_p95_trigger_fires_once_per_cooldown_with_metadata():
    polyprof.configure_rate_limit(10, 3600)
    clock = Clock()
    got = []
    t = polyprof.TriggeredProfiler(latency_threshold_ms=500, cooldown_s=300, profile_duration_s=0.3,
                                   interval_ms=10, exporter=lambda p, md: got.append((p, md)), clock=clock)
    for _ in range(19):
        assert not t.record_latency(900)              # fewer than 20 values
    started = t.record_latency(900)
    assert started
    burn(0.5)
    t.wait()
    assert len(got) == 1
    prof, md = got[0]
    assert md["trigger"] == "p95" and md["p95"] == 900 and md["threshold_ms"] == 500
    assert md["end"] - md["start"] == pytest.approx(0.3, abs=0.15)
    assert sum(s.values[0] for s in prof.samples()) > 5
    clock.t += 299
    assert not t.record_latency(900)                  # cooldown
    clock.t += 1
    assert t.record_latency(900)
    t.wait()
    assert len(got) == 2


def test_rate_limiter_is_shared_by_every_trigger():
    polyprof.configure_rate_limit(1, 300)
    clock = Clock()
    a = polyprof.TriggeredProfiler(latency_threshold_ms=10, cooldown_s=0, profile_duration_s=0.1,
                                   exporter=lambda p, md: None, clock=clock)
    b = polyprof.TriggeredProfiler(latency_threshold_ms=10, cooldown_s=0, profile_duration_s=0.1,
                                   exporter=lambda p, md: None, clock=clock)
    assert a.trigger("manual")
    a.wait()
    assert not b.trigger("manual")                    # the one capture of the window is taken
    for _ in range(25):
        assert not b.record_latency(50)
    polyprof.configure_rate_limit(1, 300)             # a fresh window
    assert b.record_latency(50)
    b.wait()


def test_triggered_capture_to_the_store(tmp_path):
    polyprof.configure_rate_limit(5, 60)
    t = polyprof.TriggeredProfiler(profile_duration_s=0.2, store=str(tmp_path), service="api")
    assert t.trigger("deploy")
    burn(0.3)
    t.wait()
    stored = polyprof.Store(str(tmp_path)).list()
    assert [(e["service"], e["trigger"]) for e in stored] == [("api", "deploy")]


def test_bad_policy_arguments_name_the_problem():
    with pytest.raises(ValueError, match="max_latency_increase_pct"):
        polyprof.CircuitBreaker(max_latency_increase_pct=0)
    with pytest.raises(ValueError, match="violation_threshold"):
        polyprof.CircuitBreaker(violation_threshold=0)
    with pytest.raises(ValueError, match="latency_threshold_ms"):
        polyprof.TriggeredProfiler(latency_threshold_ms=-1)
    with pytest.raises(ValueError, match="rate limit"):
        polyprof.configure_rate_limit(0, 60)


def test_wsgi_and_asgi_middleware_report_latencies():
    import asyncio
    from polyprof.middleware import ASGILatency, WSGILatency
    seen = []

    class Recorder:
        def record_latency(self, ms):
            seen.append(ms)

    def wsgi_app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        time.sleep(0.02)
        return [b"ok"]

    app = WSGILatency(wsgi_app, triggered=Recorder())
    body = app({}, lambda status, headers: None)
    assert b"".join(body) == b"ok"
    body.close()
    assert len(seen) == 1 and seen[0] >= 15

    async def asgi_app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(0.02)
        await send({"type": "http.response.body", "body": b"ok"})

    sent = []

    async def send(message):
        sent.append(message["type"])

    async def receive():
        return {"type": "http.request"}

    breaker = polyprof.CircuitBreaker(clock=Clock())
    asyncio.run(ASGILatency(asgi_app, breaker=breaker, triggered=Recorder())({"type": "http"}, receive, send))
    assert sent == ["http.response.start", "http.response.body"]
    assert len(seen) == 2 and seen[1] >= 15
    assert breaker.state["baseline_ms"] >= 15
    with pytest.raises(TypeError):
        WSGILatency(wsgi_app)


def test_scheduled_triggers_go_through_the_rate_limit():
    polyprof.configure_rate_limit(2, 3600)
    got = []
    t = polyprof.TriggeredProfiler(profile_duration_s=0.05, exporter=lambda p, md: got.append(md["trigger"]),
                                   schedule_every_s=0.2)
    try:
        time.sleep(1.1)
    finally:
        t.stop()
    t.wait()
    assert got == ["scheduled", "scheduled"]   # 5 attempts, 2 allowed
    with pytest.raises(ValueError, match="schedule_every_s"):
        polyprof.TriggeredProfiler(schedule_every_s=0)
