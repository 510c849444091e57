"""@profile_endpoint: the sampling version of the cProfile decorator recipe.

From the first call, for at most duration_seconds, the samples taken while the
decorated function is on the sampled thread's stack are kept (the core labels
them endpoint=<qualified name>, matching the function's code object among the
sample's Python frames, so async functions count only while they run). Then
the top functions by cumulative time go to stderr, a logger, a callable or a
file, and the decorator costs one attribute check per call from then on.
"""
import atexit
import functools
import os
import sys
import threading

from . import _native, _session

ENDPOINT_LABEL = "endpoint"


class _Endpoint:
    def __init__(self, fn, duration_seconds, output, top, interval_ms, native):
        if isinstance(duration_seconds, bool) or not isinstance(duration_seconds, (int, float)) \
                or duration_seconds <= 0:
            raise ValueError("profile_endpoint: duration_seconds must be a positive number, not %r"
                             % (duration_seconds,))
        if not isinstance(top, int) or isinstance(top, bool) or top <= 0:
            raise ValueError("profile_endpoint: top must be a positive integer, not %r" % (top,))
        if output is not None and not (isinstance(output, (str, os.PathLike))
                                       or callable(output) or hasattr(output, "write")):
            raise TypeError("profile_endpoint: output must be a path, a file, a logger or a callable, not %r"
                            % (output,))
        self.fn = fn
        self.code = _code_of(fn)
        self.name = "%s.%s" % (fn.__module__, fn.__qualname__)
        self.duration = float(duration_seconds)
        self.output = output
        self.top = top
        self.opts = _session.core_options(interval_ms, "cpu", native)
        self.lock = threading.Lock()
        self.state = "idle"   # idle -> running -> done
        self.collector = None
        self.timer = None
        self.profile = None

    def on_call(self):
        if self.state != "idle":
            return
        with self.lock:
            if self.state != "idle":
                return
            self.state = "running"
            try:
                _native.add_code_label(self.code, ENDPOINT_LABEL, self.name)
                self.collector = _session.open_collector(self.opts, ENDPOINT_LABEL, self.name)
            except Exception as e:
                # Never break the endpoint itself because profiling could not start.
                self.state = "done"
                _native.remove_code_label(self.code)
                self._emit("polyprof: profiling %s could not start: %s\n" % (self.name, e))
                return
            self.timer = threading.Timer(self.duration, self.finish)
            self.timer.daemon = True
            self.timer.name = "polyprof-endpoint"
            self.timer.start()
            _running.add(self)

    def finish(self):
        with self.lock:
            if self.state != "running":
                return
            self.state = "done"
            collector, self.collector = self.collector, None
        _running.discard(self)
        if self.timer is not None and self.timer is not threading.current_thread():
            self.timer.cancel()
        _native.remove_code_label(self.code)
        self.profile = _session.finish(collector)
        # Rooted at the endpoint: what the caller's frames above it (a web
        # framework, an event loop) cost is the same for every request.
        frame_name = getattr(self.code, "co_qualname", self.code.co_name)
        inside = self.profile.show_from(frame_name, self.code.co_filename)
        header = "polyprof: %s, %.1fs from its first call, top %d functions by cumulative time\n" % (
            self.name, self.profile.duration_s, self.top)
        self._emit(header + inside.report(self.top))

    def _emit(self, text):
        out = self.output
        try:
            if out is None:
                sys.stderr.write(text)
                sys.stderr.flush()
            elif _is_logger(out):
                out.info("%s", text)
            elif isinstance(out, (str, os.PathLike)):
                with open(out, "a", encoding="utf-8") as f:
                    f.write(text)
            elif hasattr(out, "write"):
                out.write(text)
            else:
                out(text)
        except Exception as e:  # the report must never raise into the application
            sys.stderr.write("polyprof: could not write the report of %s: %s\n%s" % (self.name, e, text))


_running = set()


def _is_logger(obj):
    # logging is imported only by programs that use it: keep `import polyprof` cheap.
    logging = sys.modules.get("logging")
    return logging is not None and isinstance(obj, logging.Logger)


def _code_of(fn):
    import inspect
    code = getattr(inspect.unwrap(fn), "__code__", None)
    if code is None:
        raise TypeError("profile_endpoint needs a Python function, not %r" % (fn,))
    return code


def profile_endpoint(fn=None, *, duration_seconds=10, output=None, top=20, interval_ms=10, native=True):
    """Profile a function (plain or async) from its first call for duration_seconds,
    then write the top functions by cumulative time to stderr, or to output
    (a path, a file object, a logging.Logger or a callable taking the text)."""
    def decorate(func):
        import inspect
        ep = _Endpoint(func, duration_seconds, output, top, interval_ms, native)
        if inspect.iscoroutinefunction(func):
            @functools.wraps(func)
            async def async_wrapper(*args, **kwargs):
                if ep.state == "idle":   # after the window: this check is all it costs
                    ep.on_call()
                return await func(*args, **kwargs)
            wrapper = async_wrapper
        else:
            @functools.wraps(func)
            def wrapper(*args, **kwargs):
                if ep.state == "idle":   # after the window: this check is all it costs
                    ep.on_call()
                return func(*args, **kwargs)
        wrapper.polyprof_endpoint = ep
        return wrapper

    if fn is not None:
        return decorate(fn)
    return decorate


def _forget_after_fork():
    # An endpoint window open in the parent is closed in the child without a
    # report (the parent writes it); the child's calls cost nothing.
    for ep in list(_running):
        ep.state = "done"
        ep.collector = None
    _running.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


@atexit.register
def _finish_at_exit():
    # A window still open when the program ends reports what it has. This
    # runs before _session's exit hook (atexit is last-in, first-out).
    for ep in list(_running):
        ep.finish()
