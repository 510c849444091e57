#!/usr/bin/env bash
# Builds polyprof's binary packages into dist/ - nothing in them needs a
# compiler or a -dev package where they are installed:
#   polyprof-V-cp3XX-cp3XX-manylinux_2_28_x86_64.whl  every CPython 3.9-3.15 found
#   polyprof-V.tar.gz                                 the sdist (builds from source)
#   polyprof-V.tgz                                    the npm package, prebuilt addons
#   polyprof-agent-V.jar, polyprof-agent-V.pom        the JVM agent as a Maven artifact
# V is package.json's version. The C libraries the binaries carry (libunwind,
# zlib, libmicrohttpd, libcjson) are built from Debian's sources as static
# archives with zig cc targeting glibc 2.28 (tools/dist/build_deps.sh).
# Tools (zig, auditwheel) and sources are kept in $POLYPROF_DIST_CACHE
# (default ~/.cache/polyprof-dist), made on the first run.
# Needs: python3 with venv, npm and node, a JDK (javac, jar), dpkg-dev
# (apt-get source), libcurl4-openssl-dev (curl/curl.h: push's types; libcurl
# itself is loaded at run time), and g++ for the Node addons.
#   tools/dist.sh [wheels] [sdist] [npm] [jar]      (default: all)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${POLYPROF_DIST_CACHE:-$HOME/.cache/polyprof-dist}
runtimes=${POLYPROF_RUNTIMES:-$HOME/.cache/polyprof-runtimes}
dist=$root/dist
stages=${*:-wheels sdist npm jar}
version=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$root/package.json")
mkdir -p "$cache" "$dist"
echo "dist: polyprof $version into $dist ($stages)"

# ------------------------------------------------------------- the toolchain
if [ ! -x "$cache/tools/bin/auditwheel" ] || ! "$cache/tools/bin/python" -m ziglang version >/dev/null 2>&1; then
    echo "dist: installing zig (PyPI ziglang) and auditwheel into $cache/tools"
    python3 -m venv "$cache/tools"
    "$cache/tools/bin/pip" install -q ziglang auditwheel
fi
zig=$("$cache/tools/bin/python" -c 'import os, ziglang; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))')
mkdir -p "$cache/bin"
# A wrapper, since configure scripts and build_native.py take one word for CC.
printf '#!/bin/sh\nexec %s cc -target x86_64-linux-gnu.2.28 "$@"\n' "$zig" >"$cache/bin/cc.tmp"
chmod +x "$cache/bin/cc.tmp" && mv "$cache/bin/cc.tmp" "$cache/bin/cc"
cc=$cache/bin/cc
"$root/tools/dist/build_deps.sh" "$cache/deps" "$cc"
deps=$cache/deps/prefix

# curl/curl.h alone (zig's own libc headers must not be mixed with the machine's).
curl_header=$(ls -d /usr/include/curl /usr/include/*-linux-gnu/curl 2>/dev/null | head -n 1 || true)
[ -n "$curl_header" ] || { echo "dist: curl/curl.h not found (apt-get install libcurl4-openssl-dev)"; exit 1; }
mkdir -p "$cache/headers" && ln -sfn "$curl_header" "$cache/headers/curl"

failed=()

# ------------------------------------------------------------------- wheels
# The headers of every CPython 3.9-3.15 found: a python3.X on PATH, pyenv's
# versions, or the sid chroot of tests/runtimes/sid_chroot.sh (3.14, 3.15).
python_headers() { # minor -> "INCLUDE[:INCLUDE]" or nothing
    local m=$1 d py
    if py=$(command -v "python3.$m" 2>/dev/null) && d=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])' 2>/dev/null) \
        && [ -f "$d/Python.h" ]; then
        echo "$d:$(dirname "$d")"; return
    fi
    d=$(ls -d "$HOME"/.pyenv/versions/3."$m".*/include/python3."$m" 2>/dev/null | sort -V | tail -n 1)
    [ -n "$d" ] && [ -f "$d/Python.h" ] && { echo "$d"; return; }
    local sid=${POLYPROF_SID_CHROOT:-$runtimes/sid}
    if [ -f "$sid/usr/include/python3.$m/Python.h" ]; then
        # Debian's pyconfig.h includes <x86_64-linux-gnu/python3.X/pyconfig.h>:
        # stage both, so the chroot's own libc headers stay out of the path.
        local stage=$cache/headers/python3.$m
        mkdir -p "$stage/x86_64-linux-gnu"
        ln -sfn "$sid/usr/include/python3.$m" "$stage/python3.$m"
        ln -sfn "$sid/usr/include/x86_64-linux-gnu/python3.$m" "$stage/x86_64-linux-gnu/python3.$m"
        echo "$stage/python3.$m:$stage"
    fi
}

if [[ " $stages " == *" wheels "* ]]; then
    rm -f "$dist"/polyprof-*.whl
    specs=()
    for m in 9 10 11 12 13 14 15; do
        h=$(python_headers "$m")
        if [ -n "$h" ]; then specs+=(--python "cp3$m:$h"); else failed+=("wheel cp3$m (no CPython 3.$m headers found)"); fi
    done
    nice python3 "$root/tools/dist/build_native.py" --cc "$cc" --deps "$deps" --extra-include "$cache/headers" \
        --objdir "$cache/obj" --out "$dist" "${specs[@]}" || failed+=("some wheels (the reason is above)")
    for whl in "$dist"/polyprof-*.whl; do
        # The floor is checked twice: by auditwheel, and by the highest
        # GLIBC_ version any ELF file of the wheel (the launcher too) asks for.
        tag=$("$cache/tools/bin/auditwheel" show "$whl" 2>/dev/null | tr -s ' \n' ' ' \
              | sed -n 's/.*consistent with the following platform tag: "\([^"]*\)".*/\1/p')
        floor=$(cd "$(mktemp -d)" && unzip -q "$whl" && find . \( -name '*.so' -o -path '*.data/scripts/*' \) -exec objdump -T {} + \
                | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n 1)
        echo "dist: $(basename "$whl"): auditwheel: $tag; highest glibc symbol: $floor"
        case $tag in manylinux_2_[0-9]_x86_64|manylinux_2_1[0-9]_x86_64|manylinux_2_2[0-8]_x86_64) ;;
            *) echo "dist: $(basename "$whl") is not manylinux_2_28-compatible ($tag)"; exit 1 ;;
        esac
    done
fi

# -------------------------------------------------------------------- sdist
if [[ " $stages " == *" sdist "* ]]; then
    rm -f "$dist"/polyprof-*.tar.gz
    rm -rf "$cache/sdist-venv"
    python3 -m venv "$cache/sdist-venv"
    "$cache/sdist-venv/bin/pip" install -q build
    # From a copy of the source files: the build writes its egg-info next to
    # the sources, where a source install running at the same time (the
    # tests) has its own.
    src=$cache/sdist-src && rm -rf "$src" && mkdir -p "$src"
    if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        (cd "$root" && git ls-files -z -co --exclude-standard |
            while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done | xargs -0 cp --parents -t "$src")
    else
        tar -C "$root" --exclude=./build --exclude=./dist --exclude=./node_modules -cf - . | tar -C "$src" -xf -
    fi
    (cd "$src" && "$cache/sdist-venv/bin/python" -m build --sdist --outdir "$dist" . >"$cache/sdist.log" 2>&1) \
        || { tail -n 20 "$cache/sdist.log"; exit 1; }
    echo "dist: $(ls "$dist"/polyprof-*.tar.gz)"
fi

# ---------------------------------------------------------------------- jar
if [[ " $stages " == *" jar "* ]]; then
    jdk=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")}
    [ -f "$jdk/include/jni.h" ] || { echo "dist: no JDK (jni.h) at $jdk: set JAVA_HOME"; exit 1; }
    work=$cache/jar && rm -rf "$work" && mkdir -p "$work/classes/dev/polyprof/native/linux-x86_64"
    nice python3 "$root/tools/dist/build_native.py" --cc "$cc" --deps "$deps" --extra-include "$cache/headers" \
        --objdir "$cache/obj" --out "$dist" --jvm-agent "$work/classes/dev/polyprof/native/linux-x86_64/libpolyprof.so" \
        --jni-include "$jdk/include"
    # For Java 11 and later, as the CMake build's polyprof-api.jar.
    "$jdk/bin/javac" --release 11 -Xlint:-options -d "$work/classes" "$root"/jvm-agent/java/dev/polyprof/*.java
    cat >"$work/MANIFEST.MF" <<MF
Premain-Class: dev.polyprof.Agent
Agent-Class: dev.polyprof.Agent
Implementation-Title: polyprof-agent
Implementation-Version: $version
MF
    "$jdk/bin/jar" --create --file "$dist/polyprof-agent-$version.jar" --manifest "$work/MANIFEST.MF" -C "$work/classes" .
    sed "s/@VERSION@/$version/" "$root/jvm-agent/pom.xml.in" >"$dist/polyprof-agent-$version.pom"
    echo "dist: $dist/polyprof-agent-$version.jar (+ .pom: mvn install:install-file -Dfile=... -DpomFile=...)"
fi

# ---------------------------------------------------------------------- npm
if [[ " $stages " == *" npm "* ]]; then
    "$root/tools/dist/build_npm.sh" "$cache/npm" "$deps" "$dist" || failed+=("npm: see above")
fi

if [ ${#failed[@]} -gt 0 ]; then
    echo "dist: not built:"
    printf '  %s\n' "${failed[@]}"
    # The tests want every package: what could not be built fails them.
    [ "${POLYPROF_DIST_STRICT:-0}" = 1 ] && exit 1
fi
ls -l "$dist"
