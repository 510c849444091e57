"""The latency policies, over the core's state machines (pp_breaker,
pp_trigger, the process-wide rate limiter and timed captures): the Python
shape of the same objects every runtime has."""
import os
import threading
import time

from . import _native
from ._profile import Profile
from ._session import core_options


def _ns(clock):
    return int(clock() * 1e9)


def configure_rate_limit(max_captures=1, window_s=300):
    """At most `max_captures` triggered captures per `window_s`, for every
    trigger of the process (default 1 per 5 minutes)."""
    _native.rate_limit(int(max_captures), float(window_s))


class CircuitBreaker:
    """Stops profiling when it hurts the application: while profiling, a
    latency above the baseline by more than max_latency_increase_pct is a
    violation; violation_threshold in a row trip it (profiling stops, the
    profilers it guards are stopped) and it stays open for cooldown_s. Good
    checks take violations back. The baseline is learned from latencies
    recorded while not profiling, or given per call."""

    def __init__(self, max_latency_increase_pct=5, violation_threshold=3, cooldown_s=60, clock=time.monotonic):
        self._b = _native.breaker_new(float(max_latency_increase_pct), int(violation_threshold), float(cooldown_s))
        self._clock = clock
        self._lock = threading.Lock()
        self._guarded = []

    def guard(self, profiler):
        """Stops `profiler` (anything with .stop()) when the breaker trips."""
        self._guarded.append(profiler)
        return profiler

    def record_latency(self, current_ms, baseline_ms=None):
        """Reports one request's latency; returns True when this tripped the breaker."""
        with self._lock:
            tripped = _native.breaker_record(self._b, float(current_ms),
                                             -1.0 if baseline_ms is None else float(baseline_ms),
                                             _native.running(), _ns(self._clock))
        if tripped:
            for p in list(self._guarded):
                try:
                    # On the request path: pushes to Pyroscope finish in the background.
                    getattr(p, "_stop_on_request_path", p.stop)()
                except Exception:
                    pass
        return tripped

    def can_profile(self):
        return not self.state["open"]

    @property
    def state(self):
        """{open, trips, last_trip (clock seconds or None), violations, baseline_ms}"""
        with self._lock:
            st = _native.breaker_state(self._b, _ns(self._clock))
        st["last_trip"] = st.pop("last_trip_ns") / 1e9 or None
        return st

    @property
    def is_open(self):
        return self.state["open"]

    @property
    def trips(self):
        return self.state["trips"]


class TriggeredProfiler:
    """High-fidelity captures when latency degrades: record_latency() keeps
    the last 100 latencies; when their p95 (once there are 20) exceeds
    latency_threshold_ms, outside the cooldown and within the process-wide
    rate limit, a capture of profile_duration_s at interval_ms starts. Its
    profile goes to exporter(profile, metadata) (metadata: trigger, p95,
    threshold_ms, start, end) or to the local store. trigger(reason) starts
    one by hand, through the same rate limit."""

    def __init__(self, latency_threshold_ms=500, cooldown_s=300, profile_duration_s=30, interval_ms=10,
                 exporter=None, store=None, mode="cpu", native=True, service=None, breaker=None,
                 clock=time.monotonic, schedule_every_s=None):
        if exporter is not None and not callable(exporter):
            raise TypeError("exporter must be callable as exporter(profile, metadata), or None")
        self._t = _native.trigger_new(float(latency_threshold_ms), float(cooldown_s))
        self.threshold_ms = latency_threshold_ms
        self._opts = core_options(interval_ms, mode, native, profile_duration_s, None)
        self._opts.setdefault("cpu_budget", "1%")
        self._exporter = exporter
        self._store = store
        if exporter is None:
            from ._continuous import Store
            if not isinstance(store, Store):   # a Store checked its key when made
                _native.store_key_check()      # $POLYPROF_STORE_KEY: a bad key fails now, not at the first capture
        self._service = service
        self._breaker = breaker
        self._clock = clock
        self._lock = threading.Lock()
        self._capture = None
        self.captures = []   # metadata of the captures exported so far
        self._schedule = None
        if schedule_every_s is not None:
            if isinstance(schedule_every_s, bool) or not isinstance(schedule_every_s, (int, float)) \
                    or schedule_every_s <= 0:
                raise ValueError("schedule_every_s must be a positive number of seconds, not %r" % (schedule_every_s,))
            self._schedule = _Every(schedule_every_s, lambda: self.trigger("scheduled"))

    def record_latency(self, ms):
        """Reports one request's latency; returns True when it started a capture."""
        with self._lock:
            fire, p95 = _native.trigger_record(self._t, float(ms), _ns(self._clock))
        if fire:
            return self._start("p95", p95)
        return False

    def trigger(self, reason="manual"):
        """A capture now, within the rate limit; returns True when it started."""
        with self._lock:
            allowed = _native.trigger_manual(self._t, _ns(self._clock))
        return self._start(str(reason), None) if allowed else False

    def _start(self, reason, p95):
        if self._breaker is not None and not self._breaker.can_profile():
            return False
        if self._capture is not None and not _native.capture_done(self._capture):
            return False   # one capture at a time
        meta = {"trigger": reason, "p95": p95, "threshold_ms": self.threshold_ms}

        def on_done(native_profile, start, end):
            md = dict(meta, start=start, end=end)
            prof = Profile(native_profile)
            if self._exporter is not None:
                self._exporter(prof, md)
            else:
                from ._continuous import Store
                store = self._store if isinstance(self._store, Store) else Store(self._store)
                store.put(prof, self._service or os.path.basename(os.path.realpath("/proc/self/exe")),
                          self._opts.get("event", "cpu"), reason, start)
            self.captures.append(md)

        self._capture = _native.capture_start(self._opts, on_done)
        if self._breaker is not None:
            self._breaker.guard(self)
        return True

    def stop(self):
        """Ends a running capture now (its profile is still exported) and the schedule."""
        if self._schedule is not None:
            self._schedule.cancel()
            self._schedule = None
        cap = self._capture
        if cap is not None:
            _native.capture_finish(cap)

    def wait(self):
        """Waits for the running capture to end and be exported."""
        cap = self._capture
        while cap is not None and not _native.capture_done(cap):
            time.sleep(0.01)
        if cap is not None:
            _native.capture_finish(cap)


class _Every:
    """Calls fn every `seconds` on a daemon thread until cancelled (scheduled
    triggers; the rate limiter in the core still decides)."""

    def __init__(self, seconds, fn):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(seconds, fn), name="polyprof-schedule", daemon=True)
        self._thread.start()

    def _run(self, seconds, fn):
        while not self._stop.wait(seconds):
            try:
                fn()
            except Exception:
                pass

    def cancel(self):
        self._stop.set()
