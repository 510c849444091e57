#!/usr/bin/env bash
# Builds the Node addon and runs the Node tests, from a clean clone, on the
# Node first on PATH (run it once per Node version: each run rebuilds the
# addon for the Node that runs it):
#   npm install at the repository root (its install script, node/scripts/build.js,
#   builds build/Release/polyprof.node with node-gyp against this Node's headers;
#   it also installs the devDependencies typescript, for the declarations test,
#   and speedscope, whose app the browser test opens our files in),
#   then node --test on every tests/node/*.test.js. Exits non-zero on any failure.
# Headers: those of the Node that runs, found next to it (<prefix>/include/node,
# as the release tarballs have them) or in /usr or /usr/local; npm's nodedir
# setting is used only when it holds this Node's ABI. POLYPROF_NODEDIR=<prefix>
# (the directory holding include/node) names them explicitly.
#   PATH=/opt/node-24/bin:$PATH tests/node/run.sh
# Needs: Node >= 20 with its headers, npm (any npm: it runs under the Node
# first on PATH), a C/C++ compiler, libunwind-dev, zlib1g-dev, and Go
# (go tool pprof reads our output).
set -euo pipefail
cd "$(dirname "$0")/../.."

run() {
    printf '+ %s\n' "$*"
    "$@"
}

for d in /usr/local/go/bin /usr/lib/go/bin "$HOME/go/bin"; do
    [ -x "$d/go" ] && PATH="$PATH:$d"
done
export PATH

run command -v node
run node --version
run npm --version
# POLYPROF_WERROR=1: compiler warnings fail the build, as in the Python CI.
# --no-package-lock: the repository keeps no lockfile (two devDependencies).
POLYPROF_WERROR=1 run npm install --no-package-lock --no-audit --no-fund
# Files, not the directory: Node 22's test runner takes files and globs only.
# A TAP copy of the report names the file of each failed test (its location).
tap=build/node-tests.tap
mkdir -p build
rc=0
run node --test --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$tap" tests/node/*.test.js || rc=$?
[ "$rc" = 0 ] && exit 0
# Profiles are statistical and this machine is shared: the files holding a
# failed test run once more; the suite fails only if they fail again. A failure
# whose file cannot be told (a crash outside any test) is not run again.
# Each second chance is written to $POLYPROF_RERUN_LOG for the summary.
failed_files=$(awk '
    /^not ok / { failed = 1; name = $0; sub(/^not ok [0-9]+ - /, "", name); found = 0; next }
    failed && /^  location: / { loc = $2; gsub(/\047/, "", loc); sub(/:[0-9]+:[0-9]+$/, "", loc); print loc; found = 1; next }
    failed && /^  \.\.\.$/ { if (!found) print "?" name; failed = 0 }
' "$tap" | sort -u)
case $failed_files in ""|*"?"*) echo "failures that no test file can be named for: not run again"; exit "$rc" ;; esac
echo "== second run of the test files that failed: $(echo $failed_files)"
rc=0
run node --test $failed_files || rc=$?
if [ "$rc" = 0 ] && [ -n "${POLYPROF_RERUN_LOG:-}" ]; then
    grep '^not ok ' "$tap" | sed "s/^not ok [0-9]* - /Node $(node --version): /" >>"$POLYPROF_RERUN_LOG"
fi
exit "$rc"
