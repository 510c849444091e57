#!/usr/bin/env bash
# Builds Parca (github.com/parca-dev/parca, a continuous-profiling server)
# into OUTPUT for the scrape integration test (tests/go/parcatest). Kept when
# OUTPUT already is that version (OUTPUT.version says so). `go install ...@VERSION` does not work for
# this module (the proxy refuses its version list), so it is built from a
# throwaway module that requires it.
#   tests/parca/build_parca.sh build/parca/parca
set -euo pipefail
VERSION=v0.28.0
OUT=${1:?usage: build_parca.sh OUTPUT}
case "$OUT" in /*) ;; *) OUT="$(pwd)/$OUT" ;; esac

# The binary says "version dev": a stamp next to it records what it is.
if [ -x "$OUT" ] && [ "$(cat "$OUT.version" 2>/dev/null)" = "$VERSION" ]; then
    echo "parca $VERSION: $OUT (cached)"
    exit 0
fi
command -v go >/dev/null || { echo "build_parca.sh: go is not installed; Parca cannot be built"; exit 1; }
mkdir -p "$(dirname "$OUT")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
printf 'module parcabuild\n\ngo 1.24\n\nrequire github.com/parca-dev/parca %s\n' "$VERSION" > go.mod
printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/parca-dev/parca/cmd/parca"\n' > tools.go
start=$(date +%s)
if ! GOFLAGS=-mod=mod go mod tidy; then
    echo "build_parca.sh: FAILED resolving github.com/parca-dev/parca@$VERSION's modules (go mod tidy; is the Go module proxy reachable?)"
    exit 1
fi
if ! GOFLAGS=-mod=mod go build -trimpath -o "$OUT.tmp" github.com/parca-dev/parca/cmd/parca; then
    echo "build_parca.sh: FAILED compiling github.com/parca-dev/parca/cmd/parca@$VERSION (go build)"
    exit 1
fi
mv "$OUT.tmp" "$OUT"
echo "$VERSION" > "$OUT.version"
echo "parca $VERSION: built $OUT in $(( $(date +%s) - start ))s"
