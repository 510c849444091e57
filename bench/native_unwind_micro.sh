#!/usr/bin/env bash
# Builds bench/native_unwind_micro.c against the core of each given tree (a
# checkout, or one unpacked with `git archive`) and runs them in turn, ROUNDS
# times: per-sample unwind cost, fresh and steady, and the rt_sigprocmask
# calls per sample (strace -c over a run of SAMPLES samples, less a run of
# 2: what the samples add, not the process's start).
#   bench/native_unwind_micro.sh ROUNDS TREE [TREE...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rounds=${1:?usage: native_unwind_micro.sh ROUNDS TREE...}
shift
out=${TMPDIR:-/tmp}/native_unwind_micro
mkdir -p "$out"
i=0
bins=()
for tree in "$@"; do
    bin="$out/micro-$i"
    cc -std=c11 -O2 -g -D_GNU_SOURCE -DPP_API= -I"$tree/core/include" -I"$tree/core/src" \
        "$here/native_unwind_micro.c" "$tree"/core/src/*.c -o "$bin" \
        -lunwind -lz -lmicrohttpd -lcrypto -lcjson -lpthread -ldl -lrt -lm
    bins+=("$bin")
    i=$((i + 1))
done
sigprocmask_calls() {
    strace -f -c -e trace=rt_sigprocmask "$@" 2>&1 >/dev/null | awk '$NF == "rt_sigprocmask" {print $4}' | tail -1
}
for r in $(seq "$rounds"); do
    i=0
    for tree in "$@"; do
        bin=${bins[$i]}
        res=$("$bin" 2000)
        many=$(sigprocmask_calls "$bin" 1000)
        few=$(sigprocmask_calls "$bin" 2)
        echo "round $r $tree $res rt_sigprocmask_per_sample=$(awk -v a="${many:-0}" -v b="${few:-0}" 'BEGIN {printf "%.2f", (a - b) / 998}')"
        i=$((i + 1))
    done
done
