#!/usr/bin/env python3
"""Builds polyprof's binaries for the binary packages: the C core compiled
with a compiler that targets glibc 2.28 and linked with the static libraries
of build_deps.sh (libunwind, zlib, libmicrohttpd, libcjson; their symbols kept
local), with the CPython bridge into one wheel per CPython whose headers are
given, and with the JVM agent into libpolyprof.so. Each wheel carries the
`polyprof` command: the native launcher (python/launcher) built for its
CPython, in polyprof-V.data/scripts.

    build_native.py --cc CC --deps PREFIX --objdir DIR --out DIST
                    [--python TAG:INCLUDE_DIR[:INCLUDE_DIR...]]...
                    [--jvm-agent OUT.so --jni-include DIR]

TAG is cp311 and so on; the include directories are those holding Python.h
(and, for a Debian layout, the directory above the multiarch pyconfig.h).
The core's objects are compiled once and shared by every wheel.
"""
import argparse
import base64
import concurrent.futures
import glob
import hashlib
import json
import os
import stat
import subprocess
import sys
import zipfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PLATFORM = "manylinux_2_28_x86_64"
# As setup.py: the core compiled in, its API hidden (PP_API empty).
CFLAGS = ["-std=c11", "-O2", "-g0", "-fPIC", "-fvisibility=hidden", "-fno-omit-frame-pointer", "-Wall", "-Wextra",
          "-Wno-missing-field-initializers", "-Wno-cast-function-type", "-Werror", "-D_GNU_SOURCE", "-DPP_API=",
          # libmicrohttpd.a is linked in: the endpoint calls it directly (libmicrohttpd.h).
          "-DPP_MHD_LINKED"]
# The launcher is an executable that needs libc only (setup.py builds it the same way).
LAUNCHER_CFLAGS = ["-std=c11", "-O2", "-g0", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE"]
STATIC_LIBS = ["libunwind.a", "libz.a", "libmicrohttpd.a", "libcjson.a"]


def compile_all(cc, sources, objdir, flags, jobs):
    os.makedirs(objdir, exist_ok=True)

    def one(src):
        obj = os.path.join(objdir, os.path.basename(src)[:-2] + ".o")
        if not (os.path.exists(obj) and os.path.getmtime(obj) > os.path.getmtime(src)
                and all(os.path.getmtime(obj) > os.path.getmtime(h) for h in HEADERS)):
            r = subprocess.run([cc] + flags + ["-c", src, "-o", obj], capture_output=True, text=True)
            if r.returncode != 0:
                raise SystemExit("build_native.py: compiling %s failed:\n%s" % (src, r.stderr))
        return obj

    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        return list(pool.map(one, sources))


HEADERS = glob.glob(os.path.join(ROOT, "core/include/*.h")) + glob.glob(os.path.join(ROOT, "core/src/*.h")) + \
    glob.glob(os.path.join(ROOT, "python/src/*.h")) + glob.glob(os.path.join(ROOT, "jvm-agent/src/*.h"))


def metadata(version):
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    lines = ["Metadata-Version: 2.4", "Name: polyprof", "Version: " + version,
             "Summary: Low-overhead sampling profiler for Python, Node.js and the JVM: mixed native + interpreter "
             "stacks, pprof output.",
             "License-Expression: Apache-2.0", "Requires-Python: >=3.9",
             "Classifier: Programming Language :: Python :: 3", "Classifier: Programming Language :: C",
             "Classifier: Operating System :: POSIX :: Linux", "Classifier: Topic :: Software Development :: Debuggers",
             "Description-Content-Type: text/markdown", "", readme]
    return "\n".join(lines)


def record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (name, digest, len(data))


def write_wheel(out, version, tag, native_so, ext_suffix, launcher):
    name = "polyprof-%s-%s-%s-%s.whl" % (version, tag, tag, PLATFORM)
    path = os.path.join(out, name)
    info = "polyprof-%s.dist-info" % version
    files = []
    for py in sorted(glob.glob(os.path.join(ROOT, "python/polyprof/*.py"))):
        with open(py, "rb") as f:
            files.append(("polyprof/" + os.path.basename(py), f.read()))
    with open(native_so, "rb") as f:
        files.append(("polyprof/_native" + ext_suffix, f.read()))
    with open(launcher, "rb") as f:
        files.append(("polyprof-%s.data/scripts/polyprof" % version, f.read()))
    files.append((info + "/METADATA", metadata(version).encode()))
    files.append((info + "/WHEEL", ("Wheel-Version: 1.0\nGenerator: polyprof tools/dist\nRoot-Is-Purelib: false\n"
                                    "Tag: %s-%s-%s\n" % (tag, tag, PLATFORM)).encode()))
    with open(os.path.join(ROOT, "LICENSE"), "rb") if os.path.exists(os.path.join(ROOT, "LICENSE")) else \
            open(os.devnull, "rb") as f:
        license_text = f.read()
    if license_text:
        files.append((info + "/licenses/LICENSE", license_text))
    record = "\n".join(record_line(n, d) for n, d in files) + "\n%s/RECORD,,\n" % info
    tmp = path + ".tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in files:
            zi = zipfile.ZipInfo(n, date_time=(2026, 1, 1, 0, 0, 0))
            # A regular file's mode, as zipfile writes it: pip makes a script
            # executable only when the entry says it is a regular file with x bits.
            zi.external_attr = (stat.S_IFREG | (0o755 if n.endswith(".so") or "/scripts/" in n else 0o644)) << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, d)
        z.writestr(zipfile.ZipInfo(info + "/RECORD", date_time=(2026, 1, 1, 0, 0, 0)), record)
    os.replace(tmp, path)
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cc", required=True)
    ap.add_argument("--deps", required=True, help="prefix of build_deps.sh (include/, lib/)")
    ap.add_argument("--extra-include", action="append", default=[], help="headers only (curl/curl.h)")
    ap.add_argument("--objdir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--python", action="append", default=[], metavar="TAG:INCLUDE[:INCLUDE...]")
    ap.add_argument("--jvm-agent", help="where to write the JVM agent's libpolyprof.so")
    ap.add_argument("--jni-include", help="a JDK's include directory (jni.h, jvmti.h)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    a = ap.parse_args()
    with open(os.path.join(ROOT, "package.json"), encoding="utf-8") as f:
        version = json.load(f)["version"]
    includes = ["-I" + os.path.join(ROOT, d) for d in ("core/include", "core/src")]
    includes += ["-I" + os.path.join(a.deps, "include")] + ["-I" + d for d in a.extra_include]
    python_includes = includes + ["-I" + os.path.join(ROOT, "python/src")]
    core_objs = compile_all(a.cc, sorted(glob.glob(os.path.join(ROOT, "core/src/*.c"))),
                            os.path.join(a.objdir, "core"), CFLAGS + includes, a.jobs)
    libs = [os.path.join(a.deps, "lib", lib) for lib in STATIC_LIBS]
    os.makedirs(a.out, exist_ok=True)
    not_built = []
    for spec in a.python:
        tag, *pyinc = spec.split(":")
        try:
            build_one_wheel(a, version, tag, pyinc, python_includes, core_objs, libs)
        except SystemExit as e:
            # One CPython the sources do not support yet must not cost the others.
            first_error = next((line for line in str(e).splitlines() if "error" in line), str(e).splitlines()[-1])
            print("dist: %s: the wheel did not build: %s" % (tag, first_error))
            not_built.append(tag)
    if a.jvm_agent:
        build_jvm_agent(a, includes, core_objs, libs)
    if not_built:
        print("dist: wheels not built: " + " ".join(not_built))
        return 1
    return 0


def build_one_wheel(a, version, tag, pyinc, python_includes, core_objs, libs):
    objs = compile_all(a.cc, sorted(glob.glob(os.path.join(ROOT, "python/src/*.c"))),
                       os.path.join(a.objdir, tag), CFLAGS + python_includes + ["-I" + d for d in pyinc], a.jobs)
    ext_suffix = ".cpython-%s-x86_64-linux-gnu.so" % tag[2:]
    so = os.path.join(a.objdir, tag, "_native" + ext_suffix)
    # Only the module's entry point is exported: the static libraries'
    # symbols stay local, so they never interpose on (or get interposed
    # by) copies the host process has loaded.
    exports = os.path.join(a.objdir, "python-exports.map")
    with open(exports, "w") as f:
        f.write("{ global: PyInit__native; local: *; };\n")
    cmd = [a.cc, "-shared", "-o", so] + objs + core_objs + libs + \
        ["-Wl,--version-script=" + exports, "-ldl", "-lpthread", "-lrt", "-lm"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("build_native.py: linking %s failed:\n%s" % (so, r.stderr))
    launcher = os.path.join(a.objdir, tag, "polyprof")
    sources = sorted(glob.glob(os.path.join(ROOT, "python/launcher/*.c")))
    cmd = [a.cc] + LAUNCHER_CFLAGS + ["-DPP_LAUNCHER_PYTHON_MINOR=%d" % int(tag[3:])] + sources + ["-o", launcher]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("build_native.py: building the launcher %s failed:\n%s" % (launcher, r.stderr))
    print("dist: " + write_wheel(a.out, version, tag, so, ext_suffix, launcher))


def build_jvm_agent(a, includes, core_objs, libs):
    jni = ["-I" + a.jni_include, "-I" + os.path.join(a.jni_include, "linux")]
    objs = compile_all(a.cc, sorted(glob.glob(os.path.join(ROOT, "jvm-agent/src/*.c"))),
                       os.path.join(a.objdir, "jvm"),
                       CFLAGS + includes + ["-I" + os.path.join(ROOT, "jvm-agent/src")] + jni, a.jobs)
    exports = os.path.join(a.objdir, "jvm-exports.map")
    with open(exports, "w") as f:
        f.write("{ global: Agent_OnLoad; Agent_OnAttach; Agent_OnUnload; Java_dev_polyprof_*; local: *; };\n")
    cmd = [a.cc, "-shared", "-o", a.jvm_agent] + objs + core_objs + libs + \
        ["-Wl,--version-script=" + exports, "-Wl,-z,defs", "-ldl", "-lpthread", "-lrt", "-lm"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("build_native.py: linking %s failed:\n%s" % (a.jvm_agent, r.stderr))
    print("dist: " + a.jvm_agent)


if __name__ == "__main__":
    sys.exit(main())
