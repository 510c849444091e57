"""polyprof: a low-overhead sampling profiler with mixed Python + native stacks.

    import polyprof
    polyprof.start(interval_ms=10)          # mode="cpu" (default) or "wall"
    ...
    profile = polyprof.stop()
    profile.write("out.pb.gz")              # pprof; .folded for collapsed stacks
    print(profile.report(20))
"""
import sys as _sys

# A free-threaded build carries "t" in its ABI flags (PEP 703); reading them
# costs nothing, where importing sysconfig costs a `polyprof record` of an
# empty program a fifth of its start.
if "t" in getattr(_sys, "abiflags", ""):
    # The extension refuses too; this says it before anything is loaded.
    raise ImportError("polyprof does not support free-threaded CPython (%s, built with Py_GIL_DISABLED); "
                      "use the regular build" % _sys.version.split()[0])

# The API is imported on first use (PEP 562): `polyprof record` (whose
# command line lives in this package) then loads neither the core nor the
# profile reader to build a command line, and a profiled program pays for what
# it uses, not for the HTTP endpoint, the store and the policies.
_LAZY = {
    "PolyprofError": "._native",
    "Frame": "._profile",
    "Profile": "._profile",
    "Sample": "._profile",
    "diff": "._profile",
    "load": "._profile",
    "merge": "._profile",
    "is_running": "._session",
    "profile": "._session",
    "start": "._session",
    "stop": "._session",
    "profile_endpoint": "._endpoint",
    "ContinuousProfiler": "._continuous",
    "Store": "._continuous",
    "CircuitBreaker": "._policies",
    "TriggeredProfiler": "._policies",
    "configure_rate_limit": "._policies",
    "Endpoint": "._local_endpoint",
    "serve": "._local_endpoint",
}

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



def __getattr__(name):
    # `from . import _native` asks this for every submodule not yet
    # imported: importlib (which imports warnings) only for the names served.
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    elif name == "middleware":
        import importlib

        value = importlib.import_module(".middleware", __name__)
    elif name == "__version__":
        value = _version()
    else:
        raise AttributeError("module %r has no attribute %r" % (__name__, name))
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | {"middleware", "__version__"})


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

