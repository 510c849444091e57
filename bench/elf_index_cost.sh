#!/usr/bin/env bash
# Builds bench/elf_index_cost.c against the core of each given tree (a
# checkout, or one unpacked with `git archive`) and runs them in turn, ROUNDS
# times, on OBJECT (default: the node executable): the CPU time of one
# function index build, warm and cold, median and minimum of 30 builds.
#   bench/elf_index_cost.sh ROUNDS OBJECT TREE [TREE...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rounds=${1:?usage: elf_index_cost.sh ROUNDS OBJECT TREE...}
object=${2:?usage: elf_index_cost.sh ROUNDS OBJECT TREE...}
shift 2
out=${TMPDIR:-/tmp}/elf_index_cost
mkdir -p "$out"
i=0
bins=()
for tree in "$@"; do
    bin="$out/index-$i"
    cc -std=c11 -O2 -D_GNU_SOURCE -I"$tree/core/src" "$here/elf_index_cost.c" "$tree/core/src/elf_symtab.c" \
        -o "$bin" -lz
    bins+=("$bin")
    i=$((i + 1))
done
for r in $(seq "$rounds"); do
    i=0
    for tree in "$@"; do
        echo "round $r $tree $("${bins[$i]}" "$object")"
        i=$((i + 1))
    done
done
