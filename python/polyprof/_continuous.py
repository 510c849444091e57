"""Continuous profiling and the local store: thin Python faces over the
core's pp_continuous and pp_store (windows, rotation, retention and the
exporter thread all live in C)."""
import os

from . import _native
from ._profile import Profile
from ._session import core_options


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


class ContinuousProfiler:
    """Always-on profiling at a low rate: one profile per window, handed to
    `exporter(profile, metadata)` (metadata: trigger, window, start, end) on
    the core's own thread, or written to the local store. Every thread is
    sampled, one sampler per process: other captures share it (same mode)."""

    def __init__(self, interval_ms=100, window_s=60, exporter=None, store=None, mode="cpu", native=True,
                 service=None, options=None):
        if exporter is not None and not callable(exporter):
            raise TypeError("exporter must be callable as exporter(profile, metadata), or None")
        opts = core_options(interval_ms, mode, native, None, options)
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
        self._options = opts
        self._exporter = exporter
        self._running = None

    @classmethod
    def _from_core_options(cls, opts, exporter=None):
        self = cls.__new__(cls)
        self._options = dict(opts)
        self._exporter = exporter
        self._running = None
        return self

    def start(self):
        if self._running is not None:
            raise _native.PolyprofError("this ContinuousProfiler is already running")
        exporter = None
        if self._exporter is not None:
            user = self._exporter

            def exporter(native_profile, metadata):
                user(Profile(native_profile), metadata)
        self._running = _native.continuous_start(self._options, exporter)
        return self

    def stop(self):
        """Exports the last, partial window and stops."""
        running, self._running = self._running, None
        if running is not None:
            running.stop()

    @property
    def running(self):
        return self._running is not None and self._running.running

    @property
    def windows(self):
        """Windows exported so far."""
        return self._running.windows if self._running is not None else 0

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
