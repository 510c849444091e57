"""The local HTTP endpoint: Go's /debug/pprof routes and polyprof's status and
trigger, served by the C core on threads of its own (libmicrohttpd), so that
`go tool pprof http://127.0.0.1:6060/debug/pprof/profile?seconds=5` and
scrapers such as Parca work, and it still answers while a thread holds the
GIL forever. Serving samples nothing; each capture asked for starts and stops
the shared sampler."""
import atexit
import os
import threading

from . import _native
from ._native import PolyprofError

_lock = threading.Lock()
_serving = None   # the Endpoint of this process, if any


class Endpoint:
    """A running endpoint: `address` ("127.0.0.1:43817" or "unix:/path"),
    `port` (the real one when port 0 was asked for), `url`, `stop()`."""

    def __init__(self, native):
        self._native = native

    @property
    def address(self):
        return self._native.address

    @property
    def port(self):
        return self._native.port

    @property
    def url(self):
        """http://host:port, or None for a unix socket."""
        if self.address.startswith("unix:"):
            return None
        return "http://%s" % self.address

    @property
    def running(self):
        return self._native.running

    def stop(self):
        """Ends a running capture (its client gets what was sampled) and stops serving."""
        global _serving
        with _lock:
            if _serving is self:
                _serving = None
        self._native.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        return "<polyprof.Endpoint %s%s>" % (self.address, "" if self.running else " (stopped)")


def _environment_limits():
    """The production configuration's maximum capture (PROFILE_MAX_DURATION)
    and store: the endpoint's captures obey them too."""
    try:
        config = _native.env_config()
    except ValueError:
        return {}
    opts = config["options"]
    return {k: opts[k] for k in ("duration", "store", "store_key_file", "service") if k in opts}


def _serve(opts):
    global _serving
    with _lock:
        native = _native.endpoint_start(opts)
        _serving = Endpoint(native)
        return _serving


def serve(endpoint="127.0.0.1:6060", token_file=None, remote=False, options=None):
    """Serve the local endpoint on `endpoint`: "127.0.0.1:6060", ":0" (any free
    loopback port: see .port), a port number, or a unix socket path. Nothing is
    sampled until a capture is asked for.

    token_file: a file whose first line is the token every request must send
    as "Authorization: Bearer <token>" (else $POLYPROF_ENDPOINT_TOKEN, if set).
    remote=True allows a non-loopback address, which also needs a token.
    options: the core's grammar for the captures (interval, signal, store...).
    Returns an Endpoint; one per process."""
    from ._session import core_options
    if isinstance(endpoint, bool) or not isinstance(endpoint, (str, int, os.PathLike)):
        raise TypeError("endpoint must be an address such as '127.0.0.1:6060', a port or a socket path, not %r"
                        % (endpoint,))
    opts = _environment_limits()
    opts.update(core_options(None, None, None, None, options))
    opts["endpoint"] = os.fspath(endpoint) if isinstance(endpoint, os.PathLike) else str(endpoint)
    if token_file is not None:
        opts["endpoint_token_file"] = os.fspath(token_file)
    if remote:
        opts["endpoint_remote"] = "true"
    return _serve(opts)


def serving():
    """The Endpoint this process serves, or None."""
    return _serving


def _forget_after_fork():
    # The core closed the child's copy of the socket: the child serves
    # nothing until it calls serve() itself.
    global _serving
    _serving = None


os.register_at_fork(after_in_child=_forget_after_fork)


@atexit.register
def _stop_at_exit():
    # Before the interpreter finalizes: a running capture's export names
    # Python frames.
    endpoint = _serving
    if endpoint is not None:
        endpoint.stop()
