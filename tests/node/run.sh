#!/usr/bin/env bash
# Builds the Node addon and runs the Node tests, from a clean clone:
#   npm install at the repository root (its install script, node/scripts/build.js,
#   builds build/Release/polyprof.node with node-gyp against this Node's headers;
#   it also installs the devDependencies typescript, for the declarations test,
#   and speedscope, whose app the browser test opens our files in),
#   then node --test tests/node/. Exits non-zero on any failure.
# Needs: Node >= 20 with its headers, npm, a C/C++ compiler, libunwind-dev,
# zlib1g-dev, and Go (go tool pprof reads our output).
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

run node --version
run npm --version
# POLYPROF_WERROR=1: compiler warnings fail the build, as in the Python CI.
# --no-package-lock: the repository keeps no lockfile (two devDependencies).
POLYPROF_WERROR=1 run npm install --no-package-lock --no-audit --no-fund
run node --test tests/node/
