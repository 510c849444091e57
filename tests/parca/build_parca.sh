#!/usr/bin/env bash
# Builds Parca (github.com/parca-dev/parca, a continuous-profiling server)
# into OUTPUT for the scrape integration test (tests/go/parcatest), from the
# module next to this script: its go.mod and go.sum pin Parca and every
# module it needs, so the build does not change when upstream releases
# (`go install ...@VERSION` does not work for Parca: the module proxy refuses
# its version list). Kept when OUTPUT was built from the same pins.
#   tests/parca/build_parca.sh build/parca/parca
set -euo pipefail
OUT=${1:?usage: build_parca.sh OUTPUT}
case "$OUT" in /*) ;; *) OUT="$(pwd)/$OUT" ;; esac
cd "$(dirname "$0")"

version=$(awk '$1 == "require" && $2 == "github.com/parca-dev/parca" { print $3 }' go.mod)
# The binary says "version dev": a stamp next to it records what it was built from.
stamp="$version $(sha256sum go.sum | cut -c1-16)"
if [ -x "$OUT" ] && [ "$(cat "$OUT.version" 2>/dev/null)" = "$stamp" ]; then
    echo "parca $version: $OUT (cached)"
    exit 0
fi
command -v go >/dev/null || { echo "build_parca.sh: FAILED: go is not installed, Parca cannot be built"; exit 1; }
mkdir -p "$(dirname "$OUT")"
start=$(date +%s)
if ! GOFLAGS=-mod=readonly go build -trimpath -o "$OUT.tmp" github.com/parca-dev/parca/cmd/parca; then
    echo "build_parca.sh: FAILED building github.com/parca-dev/parca/cmd/parca@$version (go build above: downloading" \
         "its modules through the Go module proxy, or compiling)"
    rm -f "$OUT.tmp"
    exit 1
fi
mv "$OUT.tmp" "$OUT"
echo "$stamp" > "$OUT.version"
echo "parca $version: built $OUT in $(( $(date +%s) - start ))s"
