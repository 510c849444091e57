#!/usr/bin/env bash
# Loss frames on a real program: javac (in-process, tests/jvm's Javac
# workload) compiling the same generated sources under polyprof and under
# async-profiler, alternating, REPS times each, on one JDK. Prints one line
# per run and the medians (see bench/jvm/javacloss for what is measured).
#   bench/jvm/javac_loss.sh JDK_HOME POLYPROF_SO ASYNC_PROFILER_SO [REPS] [FILES]
# async-profiler: the libasyncProfiler.so inside Maven Central's
# tools.profiler:async-profiler jar (linux-x64/).
set -euo pipefail
jdk=${1:?usage: javac_loss.sh JDK_HOME POLYPROF_SO ASYNC_PROFILER_SO [REPS] [FILES]}
polyprof=$2 ap=$3 reps=${4:-3} files=${5:-300}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$jdk/bin/javac" -d "$work/classes" "$root/tests/jvm/workloads/com/example/Javac.java"
(cd "$root/bench/jvm/javacloss" && go build -o "$work/javacloss" .)
for ((i = 1; i <= reps; i++)); do
    rm -rf "$work/pp" "$work/ap"
    "$jdk/bin/java" "-agentpath:$polyprof=start,event=cpu,interval=10ms,file=$work/pp$i.pb.gz" \
        -cp "$work/classes" com.example.Javac "$work/pp" "$files" >/dev/null
    "$jdk/bin/java" "-agentpath:$ap=start,event=cpu,interval=10ms,threads,collapsed,file=$work/ap$i.collapsed" \
        -cp "$work/classes" com.example.Javac "$work/ap" "$files" >/dev/null
    "$work/javacloss" -tsv "$work/pp$i.pb.gz" "$work/ap$i.collapsed" | sed "s|$work/||"
done | tee "$work/runs.tsv"
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
for who in pp ap; do
    line="$who medians:"
    for col in 2 3 4 5; do
        line+=" $(grep "^$who" "$work/runs.tsv" | cut -f$col | median)"
    done
    echo "$line   (loss % all, loss % main, main under compile %, unnamed leaves %)"
done
