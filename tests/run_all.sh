#!/usr/bin/env bash
# Runs every test: the C core's unit tests (under ASan+UBSan), the Go pprof
# validator's own tests, the Python suite on each CPython 3.9-3.13 found, the
# Node addon's tests, the JVM agent's on each JDK under /usr/lib/jvm, and Parca
# (built here from the Go module proxy) scraping a Python process's endpoint.
# Needs: a C compiler, cmake, libunwind-dev, zlib1g-dev, Go, and the Pythons
# (probed under ~/.pyenv/versions, /usr/local/bin and /usr/bin).
#   tests/run_all.sh            everything
#   PYTHONS="3.12" tests/run_all.sh   one Python version
#   PYTHON_FULL=3.11 tests/run_all.sh the CPython that also runs the version_independent tests (default: newest)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
failures=()

section() { printf '\n==== %s\n' "$*"; }

# Parca (the server of the scrape integration test) takes minutes to build:
# it builds in the background, at low priority, while the suites below run,
# and is awaited before its test, the last one.
mkdir -p "$BUILD/parca"
nice -n 19 tests/parca/build_parca.sh "$BUILD/parca/parca" >"$BUILD/parca/build.log" 2>&1 &
parca_build=$!

section "C core unit tests (ASan + UBSan)"
cmake -S . -B "$BUILD/core-asan" -G Ninja -DPOLYPROF_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$BUILD/core-asan"
if ! (cd "$BUILD/core-asan" && ctest --output-on-failure); then failures+=("C unit tests"); fi

section "Go pprof validator"
if ! (cd tests/go/pprofcheck && go test ./...); then failures+=("Go validator"); fi

find_python() {
    local v=$1 c
    for c in "$HOME"/.pyenv/versions/"$v".*/bin/python /usr/local/bin/python"$v" /usr/bin/python"$v"; do
        [ -x "$c" ] && { echo "$c"; return 0; }
    done
    return 1
}

python_versions=${PYTHONS:-3.9 3.10 3.11 3.12 3.13}
python_full=${PYTHON_FULL:-}
if [ -z "$python_full" ]; then
    for v in $python_versions; do find_python "$v" >/dev/null && python_full=$v; done
fi
for v in $python_versions; do
    section "Python $v"
    if ! py=$(find_python "$v"); then
        echo "Python $v not found (looked in ~/.pyenv/versions, /usr/local/bin, /usr/bin)"
        failures+=("Python $v missing")
        continue
    fi
    venv="$BUILD/venv-$v"
    [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
    if ! POLYPROF_WERROR=1 "$venv/bin/python" -m pip install -q "$ROOT" pytest; then
        failures+=("Python $v: install"); continue
    fi
    # `polyprof serve` in the browser test below runs on an installed polyprof.
    serve_python="$venv/bin/python"
    # Run from tests/python so the installed package, not the source tree, is imported.
    set +e
    # Tests marked version_independent (CLIs over files, HTTP, crypto,
    # policy objects) run on one CPython only: $PYTHON_FULL, else the newest found.
    select=()
    [ "$v" = "$python_full" ] || select=(-m "not version_independent")
    (cd tests/python && PATH="$venv/bin:$PATH" "$venv/bin/python" -m pytest -q -p no:cacheprovider "${select[@]}")
    rc=$?
    set -e
    # pytest exit code 5 means no test ran: a failure here.
    [ $rc -eq 0 ] || failures+=("Python $v: pytest exit $rc")
    parca_python="$venv/bin/python"
done

section "Node.js"
if ! tests/node/run.sh; then failures+=("Node"); fi

# The flame graph page (written by the Node CLI, built above) in headless
# Chromium: frames render, click zooms, search highlights, a screenshot; the
# differential page (red grew, blue shrank), `polyprof serve` (Python), and
# our speedscope/.cpuprofile files in speedscope's own app (npm devDependency).
section "Flame graph in Chromium"
if ! (cd tests/go/browsertest && POLYPROF_PYTHON="${serve_python:-}" FLAMEGRAPH_SCREENSHOT_DIR="$BUILD" \
        go test -count=1 ./...); then
    failures+=("Flame graph in Chromium")
fi

# The JVM agent on every JDK under /usr/lib/jvm (JDKS="/path/jdk ..." picks
# some): builds jvm-agent/libpolyprof.so, compiles the Java workloads with
# each JDK's javac, and checks the profiles (tests/jvm, a Go test).
section "JVM agent"
jvm_homes=${JDKS:-$(for d in /usr/lib/jvm/*; do [ -x "$d/bin/javac" ] && readlink -f "$d"; done | sort -u | tr '\n' ' ')}
if [ -z "$jvm_homes" ]; then
    echo "no JDK found (looked for /usr/lib/jvm/*/bin/javac; set JDKS)"
    failures+=("JVM: no JDK")
else
    echo "JDKs: $jvm_homes"
    cmake -S . -B "$BUILD/jvm-agent" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
    if ! cmake --build "$BUILD/jvm-agent" --target polyprof_jvm; then
        failures+=("JVM: agent build")
    elif ! (cd tests/jvm && JDKS="$jvm_homes" POLYPROF_AGENT="$BUILD/jvm-agent/jvm-agent/libpolyprof.so" \
            go test -count=1 -v ./... 2>&1 | grep -E '^(---|ok|FAIL|PASS)|^\s+(---|\S+_test\.go)'; exit "${PIPESTATUS[0]}"); then
        failures+=("JVM")
    fi
fi

# Parca scrapes a Python process's /debug/pprof/profile and gives the
# profile back through its query API (tests/go/parcatest).
section "Parca scrapes the endpoint"
if ! wait "$parca_build"; then
    echo "Parca could not be built by tests/parca/build_parca.sh; the end of its log ($BUILD/parca/build.log):"
    tail -n 40 "$BUILD/parca/build.log"
    failures+=("Parca: build")
elif [ -z "${parca_python:-}" ]; then
    echo "no Python with polyprof installed to run the workload"
    failures+=("Parca: no Python")
else
    tail -n 1 "$BUILD/parca/build.log"
    if ! (cd tests/go/parcatest && PARCA="$BUILD/parca/parca" POLYPROF_PYTHON="$parca_python" go test -count=1 -v ./...); then
        failures+=("Parca")
    fi
fi

section "Summary"
if [ ${#failures[@]} -gt 0 ]; then
    printf 'FAILED: %s\n' "${failures[@]}"
    exit 1
fi
echo "all test suites passed"
