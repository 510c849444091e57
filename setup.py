"""Builds polyprof's CPython extension: the C core plus the CPython bridge.

The core's sources are compiled into the extension itself (no shared library
to find at run time); libunwind, zlib, libcjson (the JSON profile readers)
and the headers of libmicrohttpd (the local endpoint) and libcurl (push) come
from the system (apt-get install libunwind-dev zlib1g-dev libmicrohttpd-dev
libcjson-dev libcurl4-openssl-dev). libmicrohttpd, libcurl and OpenSSL's
libcrypto (store encryption) are loaded at run time, by the features that
need them: a profiled program that serves no endpoint never maps
libmicrohttpd, nor GnuTLS and the libraries it pulls in.

The `polyprof` command is a native launcher (python/launcher), built for this
CPython and installed as a script: `polyprof record -- python ...` then
starts no interpreter of its own before the program's.
"""
import glob
import json
import os
import shlex
import subprocess
import sys
import sysconfig

# Before anything else (setuptools included): one message, never a build.
if sysconfig.get_config_var("Py_GIL_DISABLED"):
    sys.exit("polyprof does not support free-threaded CPython (%s, built with Py_GIL_DISABLED): its frames keep "
             "bytecode per thread and run without the GIL polyprof relies on; install it on the regular build "
             "(python%d.%d, not python%d.%dt)" % ((sys.version.split()[0],) + sys.version_info[:2] * 2))

from setuptools import Command, Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
UNWIND_HEADER_DIRS = ["/usr/include", "/usr/local/include", "/usr/include/x86_64-linux-gnu",
                      "/usr/include/aarch64-linux-gnu"]


def require_system_headers():
    missing = []
    if not any(os.path.exists(os.path.join(d, "libunwind.h")) for d in UNWIND_HEADER_DIRS):
        missing.append("libunwind.h (Debian/Ubuntu: apt-get install libunwind-dev)")
    if not any(os.path.exists(os.path.join(d, "zlib.h")) for d in UNWIND_HEADER_DIRS):
        missing.append("zlib.h (Debian/Ubuntu: apt-get install zlib1g-dev)")
    for header, package in (("microhttpd.h", "libmicrohttpd-dev"), ("curl/curl.h", "libcurl4-openssl-dev"),
                            ("cjson/cJSON.h", "libcjson-dev")):
        if not any(os.path.exists(os.path.join(d, header)) for d in UNWIND_HEADER_DIRS):
            missing.append("%s (Debian/Ubuntu: apt-get install %s)" % (header, package))
    if missing:
        sys.exit("polyprof needs these system headers to build:\n  " + "\n  ".join(missing))


if not sys.platform.startswith("linux"):
    sys.exit("polyprof profiles Linux processes (it uses per-thread CPU timers and libunwind)")
if "sdist" not in sys.argv and "egg_info" not in sys.argv:
    require_system_headers()

sources = sorted(glob.glob("core/src/*.c")) + sorted(glob.glob("python/src/*.c"))
compile_args = ["-std=c11", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-missing-field-initializers",
                "-Wno-cast-function-type", "-fno-omit-frame-pointer"]
if os.environ.get("POLYPROF_WERROR") == "1":
    compile_args.append("-Werror")

LAUNCHER_SOURCES = sorted(glob.glob("python/launcher/*.c"))


class BuildLauncher(Command):
    """build_scripts: compiles the launcher into the build's scripts
    directory, from where install_scripts (and bdist_wheel's .data/scripts)
    takes it. distutils' own build_scripts copies text scripts only."""

    description = "compile the polyprof launcher"
    user_options = [("force", "f", "compile even if the launcher is up to date")]

    def initialize_options(self):
        self.build_dir = None
        self.force = None

    def finalize_options(self):
        self.set_undefined_options("build", ("build_scripts", "build_dir"), ("force", "force"))

    def get_source_files(self):
        return LAUNCHER_SOURCES + glob.glob("python/launcher/*.h")

    def get_outputs(self):
        return [os.path.join(self.build_dir, "polyprof")]

    def run(self):
        out = self.get_outputs()[0]
        sources = self.get_source_files()
        if not self.force and os.path.exists(out) and \
                all(os.path.getmtime(out) > os.path.getmtime(src) for src in sources):
            return
        os.makedirs(self.build_dir, exist_ok=True)
        cc = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
        flags = ["-std=c11", "-O2", "-Wall", "-Wextra", "-D_GNU_SOURCE",
                 "-DPP_LAUNCHER_PYTHON_MINOR=%d" % sys.version_info[1]]
        if os.environ.get("POLYPROF_WERROR") == "1":
            flags.append("-Werror")
        cmd = cc + flags + LAUNCHER_SOURCES + ["-o", out]
        print(" ".join(cmd))
        subprocess.run(cmd, check=True)


# One version for the wheel, the npm package and the JVM agent's jar: package.json's.
with open(os.path.join(HERE, "package.json"), encoding="utf-8") as package_json:
    VERSION = json.load(package_json)["version"]

setup(
    version=VERSION,
    # Built, not copied: BuildLauncher compiles it (install needs a script
    # listed to install any).
    scripts=["python/launcher/polyprof"],
    cmdclass={"build_scripts": BuildLauncher},
    ext_modules=[
        Extension(
            "polyprof._native",
            sources=sources,
            include_dirs=["core/include", "core/src", "python/src"],
            # The core is compiled in: keep its functions out of the dynamic
            # symbol table, so only PyInit__native is exported.
            define_macros=[("_GNU_SOURCE", "1"), ("PP_API", "")],
            libraries=["unwind", "z", "cjson", "dl", "pthread", "rt", "m"],
            extra_compile_args=compile_args,
        )
    ],
)
