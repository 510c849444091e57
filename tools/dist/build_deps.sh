#!/usr/bin/env bash
# Builds the C libraries polyprof's binary packages carry inside them -
# libunwind, zlib, libmicrohttpd and libcjson - as static, position-independent
# archives for glibc 2.28 (manylinux_2_28), from Debian's source packages.
#   tools/dist/build_deps.sh CACHE CC
# CACHE: a directory outside the checkout (sources, build trees, the prefix);
# CC: a compiler that targets glibc 2.28 (tools/dist.sh makes one from zig cc).
# Idempotent: a library already in CACHE/prefix is not rebuilt. The sources come
# through apt-get source from the mirror this machine's apt already uses, with a
# private apt state under CACHE (the machine's apt configuration is not touched).
set -euo pipefail
cache=${1:?usage: build_deps.sh CACHE CC}
cc=${2:?usage: build_deps.sh CACHE CC}
here=$(cd "$(dirname "$0")" && pwd)
prefix=$cache/prefix
mkdir -p "$cache/src" "$prefix/lib" "$prefix/include"
jobs=$(nproc)

# Position-independent (they go into shared objects); -fvisibility=hidden and,
# at the final link, --exclude-libs keep every symbol of theirs out of the
# dynamic symbol table, so they never interpose on the host's copies.
export CC=$cc
export CFLAGS="-O2 -g0 -fPIC -fvisibility=hidden"

fetch_source() { # package -> prints the unpacked source directory
    local package=$1 lists=$cache/apt/lists
    local dir
    dir=$(find "$cache/src" -maxdepth 1 -type d -name "$package-[0-9]*" | head -n 1)
    if [ -z "$dir" ]; then
        mkdir -p "$lists/partial"
        echo "deb-src $("$here/../../tests/runtimes/debian_mirror.sh") bookworm main" >"$cache/apt/sources.list"
        local apt_opts=(-o Dir::Etc::SourceList="$cache/apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent
                        -o Dir::State::Lists="$lists" -o APT::Sandbox::User=root -qq)
        [ -f "$lists/.updated" ] || { apt-get "${apt_opts[@]}" update >&2 && touch "$lists/.updated"; }
        (cd "$cache/src" && apt-get "${apt_opts[@]}" source "$package" >&2)
        dir=$(find "$cache/src" -maxdepth 1 -type d -name "$package-[0-9]*" | head -n 1)
    fi
    [ -n "$dir" ] || { echo "build_deps.sh: apt-get source $package gave no source tree" >&2; exit 1; }
    echo "$dir"
}

if [ ! -f "$prefix/lib/libz.a" ]; then
    src=$(fetch_source zlib)
    echo "dist: zlib from $(basename "$src")"
    (cd "$src" && ./configure --static --prefix="$prefix" >/dev/null 2>&1 && make -s -j"$jobs" libz.a >/dev/null 2>&1 \
        && make -s install >/dev/null && make -s distclean >/dev/null || true)
    [ -f "$prefix/lib/libz.a" ] || { echo "build_deps.sh: zlib failed" >&2; exit 1; }
fi

if [ ! -f "$prefix/lib/libunwind.a" ]; then
    src=$(fetch_source libunwind)
    echo "dist: libunwind from $(basename "$src")"
    rm -rf "$cache/build-libunwind" && mkdir -p "$cache/build-libunwind"
    (cd "$cache/build-libunwind" && "$src/configure" --prefix="$prefix" --disable-shared --enable-static \
        --disable-minidebuginfo --disable-zlibdebuginfo --disable-coredump --disable-ptrace --disable-setjmp \
        --disable-tests --disable-documentation >configure.log 2>&1 \
        && make -s -j"$jobs" >make.log 2>&1 && make -s install >install.log 2>&1) \
        || { tail -n 30 "$cache"/build-libunwind/*.log >&2; exit 1; }
fi

if [ ! -f "$prefix/lib/libmicrohttpd.a" ]; then
    src=$(fetch_source libmicrohttpd)
    echo "dist: libmicrohttpd from $(basename "$src")"
    rm -rf "$cache/build-libmicrohttpd" && mkdir -p "$cache/build-libmicrohttpd"
    # Plain HTTP only: the endpoint serves on loopback (TLS would need gnutls).
    (cd "$cache/build-libmicrohttpd" && "$src/configure" --prefix="$prefix" --disable-shared --enable-static \
        --disable-https --without-gnutls --disable-curl --disable-doc --disable-examples >configure.log 2>&1 \
        && make -s -j"$jobs" -C src/microhttpd >make.log 2>&1 && make -s -C src/microhttpd install >install.log 2>&1 \
        && make -s -C src/include install >>install.log 2>&1) \
        || { tail -n 30 "$cache"/build-libmicrohttpd/*.log >&2; exit 1; }
fi

if [ ! -f "$prefix/lib/libcjson.a" ]; then
    src=$(fetch_source cjson)
    echo "dist: libcjson from $(basename "$src")"
    mkdir -p "$prefix/include/cjson"
    $CC $CFLAGS -c "$src/cJSON.c" -o "$cache/cJSON.o"
    ar rcs "$prefix/lib/libcjson.a" "$cache/cJSON.o"
    cp "$src/cJSON.h" "$prefix/include/cjson/cJSON.h"
fi
echo "dist: static libraries in $prefix/lib: $(cd "$prefix/lib" && ls ./*.a | xargs -n1 basename | tr '\n' ' ')"
