"""polyprof: a low-overhead sampling profiler with mixed Python + native stacks.

    import polyprof
    polyprof.start(interval_ms=10)          # mode="cpu" (default) or "wall"
    ...
    profile = polyprof.stop()
    profile.write("out.pb.gz")              # pprof; .folded for collapsed stacks
    print(profile.report(20))
"""
import sys as _sys
import sysconfig as _sysconfig

if _sysconfig.get_config_var("Py_GIL_DISABLED"):
    # The extension refuses too; this says it before anything is loaded.
    raise ImportError("polyprof does not support free-threaded CPython (%s, built with Py_GIL_DISABLED); "
                      "use the regular build" % _sys.version.split()[0])

from ._native import PolyprofError
from ._profile import Frame, Profile, Sample, diff, load, merge
from ._session import is_running, profile, start, stop
from ._endpoint import profile_endpoint
from ._continuous import ContinuousProfiler, Store
from ._policies import CircuitBreaker, TriggeredProfiler, configure_rate_limit
from ._local_endpoint import Endpoint, serve
from . import middleware

__all__ = [
    "CircuitBreaker",
    "ContinuousProfiler",
    "Endpoint",
    "Frame",
    "Profile",
    "PolyprofError",
    "Sample",
    "is_running",
    "diff",
    "load",
    "merge",
    "profile",
    "profile_endpoint",
    "serve",
    "start",
    "stop",
    "Store",
    "TriggeredProfiler",
    "configure_rate_limit",
]


def _version():
    # One version for the wheel, the npm package and the agent jar: package.json's.
    # Installed, it is in the package's metadata; in a checkout, read it there.
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("polyprof")
    except PackageNotFoundError:
        import json
        import os

        here = os.path.dirname(os.path.abspath(__file__))
        try:
            with open(os.path.join(here, "..", "..", "package.json"), encoding="utf-8") as f:
                return json.load(f)["version"]
        except (OSError, ValueError, KeyError):
            return "unknown"


__version__ = _version()
