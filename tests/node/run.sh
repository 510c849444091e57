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
run node --test tests/node/*.test.js
