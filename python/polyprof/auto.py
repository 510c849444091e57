"""Opt-in auto-start from the environment: `import polyprof.auto` (or
`python -m polyprof run -- app.py`) reads ENABLE_PROFILING,
PROFILE_INTERVAL_MS, PROFILE_MAX_DURATION, POLYPROF_OPTIONS and
POLYPROF_STORE (parsed and clamped by the core, the same way in every
runtime) and, when enabled, runs a ContinuousProfiler that writes one
profile per window to the local store until the program exits. With
POLYPROF_OPTIONS=endpoint=ADDR it also serves the local HTTP endpoint
(whether or not ENABLE_PROFILING is on: it samples only when asked).

The program always starts: a bad configuration leaves profiling off and says
why on stderr."""
import atexit
import sys

from . import _native
from ._continuous import ContinuousProfiler

profiler = None   # the running ContinuousProfiler, if any
error = None      # why profiling is off, when the configuration was bad
endpoint = None   # the local endpoint (POLYPROF_OPTIONS=endpoint=...), if serving
endpoint_error = None


def _say(message):
    sys.stderr.write("polyprof: %s\n" % message)


def _start():
    global profiler, error
    try:
        config = _native.env_config()
    except ValueError as e:
        error = str(e)
        _say("profiling stays off: %s" % e)
        return
    for warning in config["warnings"]:
        _say(warning)
    _serve(config["options"])
    if not config["enabled"]:
        return
    try:
        profiler = ContinuousProfiler._from_core_options(config["options"]).start()
    except Exception as e:  # never break the program because profiling could not start
        error = str(e)
        _say("profiling stays off: %s" % e)
        profiler = None
        return
    atexit.register(profiler.stop)


def _serve(options):
    """POLYPROF_OPTIONS=endpoint=...: the local endpoint, whether or not
    continuous profiling is on (it samples only when asked)."""
    global endpoint, endpoint_error
    if not options.get("endpoint"):
        return
    from ._local_endpoint import _serve as serve_options
    opts = dict(options)
    opts.setdefault("cpu_budget", "1%")   # the production default
    try:
        endpoint = serve_options(opts)
    except Exception as e:  # never break the program because the endpoint could not start
        endpoint_error = str(e)
        _say("the endpoint stays off: %s" % e)
        return
    _say("serving profiles on %s (/debug/pprof/, /polyprof/status)" % endpoint.address)


_start()
