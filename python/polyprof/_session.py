"""start()/stop() and the profile() context manager over the core's collectors."""
import atexit
import os
import sys
import threading

from . import _native
from ._native import PolyprofError
from ._profile import Profile

_lock = threading.Lock()
_user_collector = None
_user_endpoint = None   # the endpoint start(endpoint=...) serves until stop()
_open_collectors = set()   # stopped at exit so the core never outlives the interpreter
_open_captures = set()     # captures sampling allocations: their hooks come out at exit


# Marks options whose capture samples allocations too (mode="cpu+alloc"); never passed to the core.
WITH_ALLOC = "+alloc"
MODE_HELP = "'cpu', 'wall', 'alloc', or 'cpu+alloc' / 'wall+alloc'"


def _mode_parts(mode):
    """mode -> (the signal sampler's event or None, whether allocations are sampled)."""
    if not isinstance(mode, str):
        raise TypeError("mode must be %s, not %r" % (MODE_HELP, mode))
    parts = [p.strip() for p in mode.split("+")]
    sampler = [p for p in parts if p != "alloc"]
    if "" in parts or len(set(parts)) != len(parts) or len(sampler) > 1:
        raise ValueError("mode=%r: expected %s" % (mode, MODE_HELP))
    return (sampler[0] if sampler else None), "alloc" in parts


def alloc_output_path(path):
    """Where the allocation profile of a combined capture goes: out.pb.gz -> out.alloc.pb.gz."""
    path = os.fspath(path)
    for suffix in (".pb.gz", ".pprof", ".folded", ".collapsed", ".txt", ".top", ".cpuprofile", ".html"):
        if path.endswith(suffix):
            return path[: -len(suffix)] + ".alloc" + suffix
    return path + ".alloc"


def core_options(interval_ms=10, mode="cpu", native=True, duration_s=None, options=None, alloc_interval=None):
    """Keyword arguments -> the core's option keys. Validation is the core's:
    this only names the Python argument in front of the core's message."""
    opts = {}
    if options:
        try:
            _native.parse_options(options)
        except ValueError as e:
            raise ValueError("options=%r: %s" % (options, e)) from None
        for item in options.split(","):
            key, _, value = item.strip().partition("=")
            if key:
                opts[key.strip()] = value.strip()
    checks = []
    if interval_ms is not None:
        if isinstance(interval_ms, bool) or not isinstance(interval_ms, (int, float)):
            raise TypeError("interval_ms must be a number of milliseconds, not %r" % (interval_ms,))
        opts["interval"] = "%rms" % (interval_ms,)
        checks.append(("interval_ms", interval_ms, "interval"))
    if mode is not None:
        sampler, with_alloc = _mode_parts(mode)
        opts["event"] = sampler or "alloc"
        if sampler and with_alloc:
            opts[WITH_ALLOC] = "true"
        checks.append(("mode", mode, "event"))
    if alloc_interval is not None:
        if isinstance(alloc_interval, bool) or not isinstance(alloc_interval, (int, str)):
            raise TypeError("alloc_interval must be a number of bytes or a size such as '512k', not %r"
                            % (alloc_interval,))
        opts["alloc_interval"] = str(alloc_interval)
        checks.append(("alloc_interval", alloc_interval, "alloc_interval"))
    if native is not None:
        opts["native"] = "true" if native else "false"
    if duration_s is not None:
        if isinstance(duration_s, bool) or not isinstance(duration_s, (int, float)) or duration_s < 0:
            raise ValueError("duration_s must be a non-negative number of seconds, not %r" % (duration_s,))
        opts["duration"] = "%rs" % (duration_s,)
    for arg, value, key in checks:
        try:
            _native.parse_options("%s=%s" % (key, opts[key]))
        except ValueError as e:
            raise ValueError("%s=%r: %s" % (arg, value, e)) from None
    return opts


def check_output_path(path):
    """Fail before profiling, not after, when the output cannot be written."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise OSError("cannot write the profile to %r: directory %r does not exist" % (path, directory))
    if not os.access(directory, os.W_OK):
        raise OSError("cannot write the profile to %r: directory %r is not writable" % (path, directory))
    if os.path.isdir(path):
        raise OSError("cannot write the profile to %r: it is a directory" % (path,))
    try:
        _native.format_for_path(path)
    except ValueError as e:
        raise ValueError("output %r: %s" % (path, e)) from None


def thread_names():
    return {t.native_id: t.name for t in threading.enumerate() if getattr(t, "native_id", None)}


def finish(collector):
    """Stop a core collector and wrap its profile, naming Python threads."""
    _open_collectors.discard(collector)
    if not _open_collectors:
        _thread_hook.uninstall()
    prof = Profile(collector.stop())
    prof._name_threads(thread_names())
    return prof


class _ThreadStartHook:
    """Covers a new Python thread from its first call, not from the core's
    next scan of /proc/self/task (up to 100 ms later): installed with
    threading.setprofile, it runs once per thread, registers the thread and
    hands the thread's profile hook back to whatever was there before."""

    def __init__(self):
        self.previous = None
        self.installed = False

    def __call__(self, frame, event, arg):
        _native.add_current_thread()
        sys.setprofile(self.previous)
        if self.previous is not None:
            return self.previous(frame, event, arg)
        return None

    def install(self):
        if self.installed:
            return
        self.previous = threading.getprofile() if hasattr(threading, "getprofile") else threading._profile_hook
        threading.setprofile(self)
        self.installed = True

    def uninstall(self):
        if not self.installed:
            return
        current = threading.getprofile() if hasattr(threading, "getprofile") else threading._profile_hook
        if current is self:   # someone else's hook set later stays
            threading.setprofile(self.previous)
        self.installed = False


_thread_hook = _ThreadStartHook()


def open_collector(opts, filter_key=None, filter_value=None):
    collector = _native.start(opts, filter_key, filter_value)
    _open_collectors.add(collector)
    _thread_hook.install()
    return collector


class Capture:
    """One capture of start() or profile(): a collector on the signal
    sampler, the allocation hooks, or both (mode="cpu+alloc")."""

    def __init__(self, opts):
        opts = dict(opts)
        with_alloc = opts.pop(WITH_ALLOC, None) is not None or opts.get("event") == "alloc"
        self.mode = opts.get("event", "cpu")
        self.collector = None
        self.alloc = False
        if with_alloc and _native.alloc_running():
            raise PolyprofError("allocation profiling is already running in this process; stop it first "
                                "(polyprof.stop())")
        if self.mode != "alloc":
            self.collector = open_collector(opts)
        if with_alloc:
            try:
                _native.alloc_start(dict(opts, event="alloc"))
            except BaseException:
                if self.collector is not None:
                    finish(self.collector)
                raise
            self.alloc = True
            _open_captures.add(self)

    def finish(self):
        """The Profile of a single mode; {"cpu" or "wall": Profile, "alloc": Profile} for a combination."""
        profiles = {}
        if self.collector is not None:
            collector, self.collector = self.collector, None
            profiles[self.mode] = finish(collector)
        if self.alloc:
            self.alloc = False
            _open_captures.discard(self)
            profiles["alloc"] = Profile(_native.alloc_stop())
        return next(iter(profiles.values())) if len(profiles) == 1 else profiles


def write_profiles(profiles, output, format=None):
    """Writes what Capture.finish returned: a combination's allocation
    profile goes next to the output (out.pb.gz -> out.alloc.pb.gz)."""
    if isinstance(profiles, Profile):
        profiles.write(output, format)
        return [output]
    written = []
    for mode, prof in profiles.items():
        path = alloc_output_path(output) if mode == "alloc" else output
        prof.write(path, format)
        written.append(path)
    return written


def start(interval_ms=10, mode="cpu", native=True, duration_s=None, options=None, endpoint=None,
          alloc_interval=None):
    """Start profiling every thread of this process.

    mode: "cpu" (default), "wall", "alloc" (sampled allocations and the live
    heap), or "cpu+alloc" / "wall+alloc" for both at once.
    interval_ms: sampling period (CPU time per thread in "cpu" mode, wall time
    in "wall" mode). native: include native frames (C extensions, libraries).
    duration_s: stop collecting after this long (stop() still returns it).
    alloc_interval: mean bytes allocated between two allocation samples
    (default 512k; a number of bytes or a size such as "64k").
    options: extra settings in the core's grammar, e.g. "memory=32m,signal=SIGPROF".
    endpoint: also serve the local HTTP endpoint there ("127.0.0.1:6060", ":0";
    see polyprof.serve) until stop().
    """
    global _user_collector, _user_endpoint
    opts = core_options(interval_ms, mode, native, duration_s, options, alloc_interval)
    with _lock:
        if _user_collector is not None:
            raise PolyprofError("polyprof.start() called twice: the profiler is already running; "
                                "call polyprof.stop() first")
        served = None
        if endpoint is not None:
            from ._local_endpoint import serve
            served = serve(endpoint)
        try:
            _user_collector = Capture(opts)
        except BaseException:
            if served is not None:
                served.stop()
            raise
        _user_endpoint = served


def stop():
    """Stop the profiling started by start() and return its Profile, or for
    a combined mode ("cpu+alloc") a dict {"cpu": Profile, "alloc": Profile}."""
    global _user_collector, _user_endpoint
    with _lock:
        capture, _user_collector = _user_collector, None
        served, _user_endpoint = _user_endpoint, None
    if served is not None:
        served.stop()
    if capture is None:
        raise PolyprofError("polyprof.stop() called without polyprof.start()")
    return capture.finish()


def is_running():
    return _user_collector is not None


class profile:
    """Profile a block or a function:

        with polyprof.profile(output="out.pb.gz") as p:
            work()
        p.profile.report()

        @polyprof.profile(output="work.pb.gz")
        def work(): ...
    """

    def __init__(self, output=None, format=None, interval_ms=10, mode="cpu", native=True, options=None,
                 alloc_interval=None):
        self.output = os.fspath(output) if output is not None else None
        self.format = format
        self._settings = dict(interval_ms=interval_ms, mode=mode, native=native, options=options,
                              alloc_interval=alloc_interval)
        self._opts = core_options(interval_ms, mode, native, None, options, alloc_interval)
        if self.output is not None and format is None:
            check_output_path(self.output)
        self._collector = None
        self.profile = None

    def __enter__(self):
        if self._collector is not None:
            raise PolyprofError("this polyprof.profile block is already running")
        self._collector = Capture(self._opts)
        return self

    def __exit__(self, *exc):
        capture, self._collector = self._collector, None
        self.profile = capture.finish()
        if self.output is not None:
            write_profiles(self.profile, self.output, self.format)
        return False

    def __call__(self, fn):
        # Imported here: a decorator is the only user, and an empty program
        # under `polyprof record` pays for every module imported at start.
        import contextlib
        import contextvars
        import functools
        import inspect
        import warnings

        # Only the outermost call on a thread (or in an async task) is a
        # capture: recursion and nested calls are part of it. If a capture
        # cannot start, the function still runs, unprofiled.
        depth = contextvars.ContextVar("polyprof_profile_depth_%x" % id(self), default=0)

        def block():
            if depth.get() > 0:
                return contextlib.nullcontext()
            try:
                return profile(self.output, self.format, **self._settings)
            except Exception as e:  # never break the decorated function
                warnings.warn("polyprof: not profiling %s: %s" % (fn.__qualname__, e), RuntimeWarning)
                return contextlib.nullcontext()

        def enter(cm):
            try:
                return cm.__enter__()
            except PolyprofError as e:
                warnings.warn("polyprof: not profiling %s: %s" % (fn.__qualname__, e), RuntimeWarning)
                return None

        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def async_wrapper(*args, **kwargs):
                cm = block()
                started = enter(cm) is not None or isinstance(cm, contextlib.nullcontext)
                token = depth.set(depth.get() + 1)
                try:
                    return await fn(*args, **kwargs)
                finally:
                    depth.reset(token)
                    if started:
                        cm.__exit__(None, None, None)
            return async_wrapper

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            cm = block()
            started = enter(cm) is not None or isinstance(cm, contextlib.nullcontext)
            token = depth.set(depth.get() + 1)
            try:
                return fn(*args, **kwargs)
            finally:
                depth.reset(token)
                if started:
                    cm.__exit__(None, None, None)
        return wrapper


def _forget_after_fork():
    # The core resets itself in the child (no timers, no sampler thread);
    # the handles held here now refer to nothing, so the child starts clean.
    global _user_collector, _user_endpoint
    _user_collector = None
    _user_endpoint = None
    _open_collectors.clear()
    _open_captures.clear()
    _thread_hook.uninstall()


os.register_at_fork(after_in_child=_forget_after_fork)


@atexit.register
def _stop_at_exit():
    # The core's drain thread takes the GIL to name frames; it must be gone
    # before the interpreter finalizes.
    for collector in list(_open_collectors):
        try:
            collector.stop()
        except Exception:
            pass
        _open_collectors.discard(collector)
    # Allocation hooks come out before the interpreter finalizes.
    _open_captures.clear()
    if _native.alloc_running():
        try:
            _native.alloc_stop()
        except Exception:
            pass
