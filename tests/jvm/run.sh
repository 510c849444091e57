#!/usr/bin/env bash
# Builds the JVM agent (jvm-agent/libpolyprof.so) and runs the JVM tests
# (a Go test in tests/jvm) on each JDK given.
#   tests/jvm/run.sh BUILD_DIR JDK_HOME [JDK_HOME...]
set -euo pipefail
build=${1:?usage: run.sh BUILD_DIR JDK_HOME...}
shift
[ $# -gt 0 ] || { echo "tests/jvm/run.sh: no JDK given"; exit 2; }
cd "$(dirname "$0")/../.."
for jdk in "$@"; do
    [ -x "$jdk/bin/javac" ] || { echo "tests/jvm/run.sh: $jdk has no bin/javac"; exit 1; }
    "$jdk/bin/java" -version 2>&1 | head -n 1
done
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPOLYPROF_WERROR=ON >/dev/null
cmake --build "$build" --target polyprof_jvm
cd tests/jvm
JDKS="$*" POLYPROF_AGENT="$build/jvm-agent/libpolyprof.so" go test -count=1 -v ./... 2>&1 \
    | grep -E '^(---|ok|FAIL|PASS)|^\s+(---|\S+_test\.go)'
exit "${PIPESTATUS[0]}"
