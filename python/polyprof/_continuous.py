"""Continuous profiling and the local store: thin Python faces over the
core's pp_continuous and pp_store (windows, rotation, retention and the
exporter thread all live in C)."""
import os
import threading
import time

from . import _native
from ._profile import Profile
from ._session import WITH_ALLOC, core_options


class Store:
    """The local profile store: a directory of gzip pprof files named
    <service>_<type>_<UTC start>_<trigger>.pb.gz, with index.tsv; retention
    by age and total size, oldest first, on every write. With a key
    (key_file, else $POLYPROF_STORE_KEY) files are encrypted (AES-256-GCM,
    <...>.pb.gz.enc) and read() decrypts them."""

    def __init__(self, directory=None, max_age_s=7 * 86400, max_bytes=1 << 30, key_file=None):
        directory = directory or os.environ.get("POLYPROF_STORE") or "profiles"
        self.directory = os.fspath(directory)
        self.key_file = os.fspath(key_file) if key_file is not None else None
        self._native = _native.store_open(self.directory, float(max_age_s or 0), int(max_bytes or 0), self.key_file)

    def list(self):
        """[{file, service, type, trigger, start, bytes}], oldest first."""
        return self._native.list()

    def prune(self, now=None):
        """Applies retention (as of `now`, Unix seconds); returns files removed."""
        return self._native.prune() if now is None else self._native.prune(float(now))

    def put(self, profile, service, type="cpu", trigger="manual", start=None):
        """Writes a Profile; returns its path."""
        import time
        start = time.time() if start is None else start
        return self._native.put(profile._native, service, type, trigger, float(start))

    def read(self, entry):
        """The stored profile (an entry of list(), a file name or a path) as a
        Profile, decrypted with the store's key when encrypted."""
        return Profile(self._native.read(entry["file"] if isinstance(entry, dict) else os.fspath(entry)))

    def path(self, entry):
        return os.path.join(self.directory, entry["file"])


_PUSH_KEYS = {"url": "push", "app": "push_app", "tenant": "push_tenant", "queue": "push_queue",
              "timeout_s": "push_timeout", "flush_s": "push_flush", "ca_file": "push_ca_file",
              "token_file": "push_token_file", "basic_auth_file": "push_basic_auth_file"}


def push_options(push):
    """push= (a URL, or a dict of url, app, tags, tenant, queue, timeout_s,
    flush_s, ca_file, token_file, basic_auth_file) -> the core's push* keys.
    Credentials come from POLYPROF_PUSH_TOKEN / POLYPROF_PUSH_BASIC_AUTH or
    the *_file keys, never from here."""
    if isinstance(push, (str, os.PathLike)):
        push = {"url": os.fspath(push)}
    if not isinstance(push, dict):
        raise TypeError("push must be the Pyroscope server's URL or a dict, not %r" % (push,))
    opts = {}
    for key, value in push.items():
        if key == "tags":
            if not isinstance(value, dict):
                raise TypeError("push['tags'] must be a dict of label names to values, not %r" % (value,))
            opts["push_tags"] = ";".join("%s=%s" % (k, v) for k, v in value.items())
        elif key in ("timeout_s", "flush_s"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError("push[%r] must be a number of seconds, not %r" % (key, value))
            opts[_PUSH_KEYS[key]] = "%rs" % (value,)
        elif key in _PUSH_KEYS:
            opts[_PUSH_KEYS[key]] = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
        else:
            raise TypeError("push: unknown key %r (known: url, tags, %s)" % (key, ", ".join(sorted(set(_PUSH_KEYS) - {"url"}))))
    if "push" not in opts:
        raise ValueError("push needs 'url', the Pyroscope server's URL")
    for key, value in opts.items():
        try:
            _native.parse_options("%s=%s" % (key, value))
        except ValueError as e:
            raise ValueError("push: %s" % (e,)) from None
    return opts


class ContinuousProfiler:
    """Always-on profiling at a low rate: one profile per window, handed to
    `exporter(profile, metadata)` (metadata: trigger, window, start, end) on
    the core's own thread, or written to the local store. Every thread is
    sampled, one sampler per process: other captures share it (same mode).
    push= (a URL, or a dict: see push_options) also sends every window to a
    Grafana Pyroscope server; push_stats() counts what happened to them."""

    def __init__(self, interval_ms=100, window_s=60, exporter=None, store=None, mode="cpu", native=True,
                 service=None, options=None, push=None, alloc_interval=None):
        if exporter is not None and not callable(exporter):
            raise TypeError("exporter must be callable as exporter(profile, metadata), or None")
        opts = core_options(interval_ms, mode, native, None, options, alloc_interval)
        if window_s is not None:
            if isinstance(window_s, bool) or not isinstance(window_s, (int, float)):
                raise TypeError("window_s must be a number of seconds, not %r" % (window_s,))
            opts["window"] = "%rs" % (window_s,)
            try:
                _native.parse_options("window=%s" % opts["window"])
            except ValueError as e:
                raise ValueError("window_s=%r: %s" % (window_s, e)) from None
        opts.setdefault("cpu_budget", "1%")   # production default: at most 1% of the process's CPU
        if service is not None:
            opts["service"] = service
        if isinstance(store, Store):
            opts["store"] = store.directory
            if store.key_file:
                opts["store_key_file"] = store.key_file
        elif store is not None:
            opts["store"] = os.fspath(store)
        elif "store" not in opts and os.environ.get("POLYPROF_STORE"):
            opts["store"] = os.environ["POLYPROF_STORE"]
        if push is not None:
            opts.update(push_options(push))
        self._options = opts
        self._exporter = exporter
        self._running = None
        self._push_final = None

    @classmethod
    def _from_core_options(cls, opts, exporter=None):
        self = cls.__new__(cls)
        self._options = dict(opts)
        self._exporter = exporter
        self._running = None
        self._push_final = None
        return self

    def start(self):
        if self._running is not None:
            raise _native.PolyprofError("this ContinuousProfiler is already running")
        opts = dict(self._options)
        with_alloc = opts.pop(WITH_ALLOC, None) is not None or opts.get("event") == "alloc"
        alloc = _AllocWindows(opts, self._exporter) if with_alloc else None
        if opts.get("event") == "alloc":
            self._running = alloc.start()
            return self
        exporter = None
        if self._exporter is not None:
            user = self._exporter

            def exporter(native_profile, metadata):
                user(Profile(native_profile), metadata)
        sampler = _native.continuous_start(opts, exporter)
        if alloc is not None:
            try:
                alloc.start()
            except BaseException:
                sampler.stop()
                raise
            self._running = _Both(sampler, alloc)
        else:
            self._running = sampler
        return self

    def stop(self):
        """Exports the last, partial window and stops."""
        running, self._running = self._running, None
        if running is not None:
            running.stop()
            self._push_final = running.push_stats()

    def _stop_on_request_path(self):
        """stop() for a tripped breaker: windows still queued for Pyroscope
        are pushed in the background (for push_flush at most)."""
        running, self._running = self._running, None
        if running is not None:
            self._push_final = running.push_stats()
            running.stop(False)

    def push_stats(self):
        """Pushing to Pyroscope: {pushed, failed_attempts, dropped_queue_full,
        dropped_rejected, queued} (after stop: as the last flush left them),
        or None without push."""
        if self._running is not None:
            return self._running.push_stats()
        return self._push_final

    @property
    def running(self):
        return self._running is not None and self._running.running

    @property
    def windows(self):
        """Windows exported so far (of each kind, when sampling allocations too)."""
        return self._running.windows if self._running is not None else 0

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class _AllocWindows:
    """The allocation side of a ContinuousProfiler (mode "alloc", "cpu+alloc"):
    the heap tracker hands over one profile per window, its allocations since
    the last window and the live heap now, from a thread of ours (naming
    Python frames needs the GIL). Stored as <service>_alloc_..._continuous.pb.gz,
    and pushed with push= through a pusher of its own (the core's queue,
    uploader thread and counters)."""

    def __init__(self, opts, exporter):
        self.opts = dict(opts, event="alloc")
        values = _native.options_values(",".join("%s=%s" % kv for kv in self.opts.items()
                                                 if kv[0] in ("window", "duration")))
        window_ns = int(values["window"][:-2])
        duration_ns = int(values["duration"][:-2])
        if duration_ns and duration_ns < window_ns:   # every capture has a hard maximum
            window_ns = duration_ns
        self.window_s = window_ns / 1e9
        self.exporter = exporter
        self.service = self.opts.get("service") or _program_name()
        self.store = None
        self.windows = 0
        self.index = 0
        self.stopping = threading.Event()
        self.thread = None
        self.started = None
        self.pusher = None
        self.push_final = None

    def start(self):
        if self.exporter is None:
            # The same store, retention and encryption as the core's windows.
            values = _native.options_values(",".join("%s=%s" % kv for kv in self.opts.items()
                                                     if kv[0] in ("store_max_age", "store_max_bytes")))
            self.store = Store(self.opts.get("store"), max_age_s=int(values["store_max_age"][:-2]) / 1e9,
                               max_bytes=int(values["store_max_bytes"]), key_file=self.opts.get("store_key_file"))
        if "push" in self.opts:
            self.pusher = _native.push_open(self.opts)
        try:
            _native.alloc_start(self.opts)
        except BaseException:
            if self.pusher is not None:
                self.pusher.stop()
            raise
        self.started = time.time()
        self.thread = threading.Thread(target=self._run, name="polyprof-alloc-windows", daemon=True)
        self.thread.start()
        return self

    @property
    def running(self):
        return self.thread is not None and self.thread.is_alive()

    def _run(self):
        while not self.stopping.wait(self.window_s):
            self._export(_native.alloc_snapshot(rotate=True))

    def _export(self, native_profile):
        start, end = self.started, time.time()
        self.started = end
        prof = Profile(native_profile)
        metadata = {"trigger": "continuous", "window": self.index, "start": start, "end": end, "type": "alloc"}
        self.index += 1
        try:
            if self.pusher is not None:
                self.pusher.push(native_profile, start, end)
        except Exception as e:
            import sys
            sys.stderr.write("polyprof: allocation window %d not pushed: %s\n" % (metadata["window"], e))
        try:
            if self.exporter is not None:
                self.exporter(prof, metadata)
            else:
                self.store.put(prof, self.service, "alloc", "continuous", start)
            self.windows += 1
        except Exception as e:   # the windows go on, as the core's do
            import sys
            sys.stderr.write("polyprof: allocation window %d not exported: %s\n" % (metadata["window"], e))

    def stop(self, wait=True):
        self.stopping.set()
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join()
        if _native.alloc_running():
            self._export(_native.alloc_stop())
        if self.pusher is not None:
            self.push_final = self.pusher.stop() if wait else self.pusher.stats()
            if not wait:   # the uploads finish in the background, for push_flush at most
                threading.Thread(target=self.pusher.stop, name="polyprof-alloc-push-flush", daemon=True).start()
            self.pusher = None

    def push_stats(self):
        if self.pusher is not None:
            return self.pusher.stats()
        return self.push_final


class _Both:
    """A CPU (or wall) continuous profile and its allocation windows."""

    def __init__(self, sampler, alloc):
        self.sampler, self.alloc = sampler, alloc

    @property
    def running(self):
        return self.sampler.running and self.alloc.running

    @property
    def windows(self):
        return self.sampler.windows

    def stop(self, wait=True):
        try:
            self.alloc.stop(wait)
        finally:
            self.sampler.stop(wait)

    def push_stats(self):
        """Both kinds of windows' counters, added up."""
        a, b = self.sampler.push_stats(), self.alloc.push_stats()
        if a is None or b is None:
            return a if b is None else b
        return {k: a[k] + b[k] for k in a}


def _program_name():
    """The program's name as ps shows it: the store's default service, as the core's."""
    try:
        with open("/proc/self/comm") as f:
            return f.read().strip() or "app"
    except OSError:
        return "app"
