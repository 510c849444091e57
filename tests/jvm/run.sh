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
jvm_tests() {
    JDKS="$jdks" POLYPROF_AGENT="$build/jvm-agent/libpolyprof.so" go test -count=1 -v "$@" ./... 2>&1 \
        | tee "$log" | grep -E '^(---|ok|FAIL|PASS)|^\s+(---|\S+_test\.go)'
    return "${PIPESTATUS[0]}"
}
jdks="$*"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
rc=0
jvm_tests || rc=$?
[ "$rc" = 0 ] && exit 0
# Profiles are statistical and this machine is shared: the top-level tests that
# failed run once more; the suite fails only if one fails again (or if the
# failure is not a test's, e.g. a build error). Each second chance is written to
# $POLYPROF_RERUN_LOG for the summary.
failed=$(sed -n 's/^--- FAIL: \(Test[A-Za-z0-9_]*\) .*/\1/p' "$log" | sort -u | paste -sd '|')
[ -n "$failed" ] || exit "$rc"
echo "== second run of the tests that failed: $failed"
rc=0
jvm_tests -run "^($failed)\$" || rc=$?
if [ "$rc" = 0 ] && [ -n "${POLYPROF_RERUN_LOG:-}" ]; then
    # "|" as sed's delimiter: the JDKs are paths, full of "/".
    tr '|' '\n' <<<"$failed" | sed "s|^|JVM ($jdks): |" >>"$POLYPROF_RERUN_LOG"
fi
exit "$rc"
