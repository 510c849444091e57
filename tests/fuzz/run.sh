#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang, -fsanitize=fuzzer,address,undefined)
# and runs each for SECONDS (default 60) from a seed corpus the project's own
# writers make; fails on any finding (crash, sanitizer report, leak, timeout,
# memory past the limit). Findings are left in build/fuzz/artifacts/.
#   tests/fuzz/run.sh 60                 every harness, 60 s each (CI)
#   tests/fuzz/run.sh 3600 pprof         one harness, an hour
#   JOBS=2 tests/fuzz/run.sh 600         two processes per harness
# Harnesses: pprof, collapsed, speedscope, cpuprofile (each reader, then
# every writer, read-back, merge, diff), options (option grammar round trip
# and the environment configuration), eh_frame (the unwind-table parser).
# Needs: clang and libclang-rt-14-dev (or another clang with libFuzzer), and
# the core's build dependencies.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
SECONDS_EACH=${1:-60}
shift || true
HARNESSES=${*:-pprof collapsed speedscope cpuprofile options eh_frame}
OUT=${FUZZ_DIR:-$ROOT/build/fuzz}
CC=${CC_FUZZ:-clang}
JOBS=${JOBS:-1}
mkdir -p "$OUT/obj" "$OUT/artifacts" "$OUT/corpus"

command -v "$CC" >/dev/null || { echo "fuzz: $CC not found (apt-get install clang libclang-rt-14-dev)"; exit 1; }
SAN=(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1)
CFLAGS=(-std=c11 -D_GNU_SOURCE -Icore/include -Icore/src -I/usr/include/x86_64-linux-gnu -Wall -Wextra -Werror)
LIBS=(-lunwind -lz -lmicrohttpd -lcrypto -lcjson -lpthread -ldl -lrt -lm)

# The core, instrumented for coverage; rebuilt when a source is newer.
objs=()
for src in core/src/*.c; do
    obj="$OUT/obj/$(basename "${src%.c}").o"
    if [ ! -e "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find core/src core/include -name '*.h' -newer "$obj" -print -quit)" ]; then
        "$CC" "${CFLAGS[@]}" "${SAN[@]}" -fsanitize=fuzzer-no-link -DPP_API= -c "$src" -o "$obj"
    fi
    objs+=("$obj")
done

# Seeds: small files written by the project's own writers.
"$CC" "${CFLAGS[@]}" "${SAN[@]}" tests/fuzz/make_seeds.c "${objs[@]}" "${LIBS[@]}" -fsanitize=fuzzer-no-link \
    -o "$OUT/make_seeds"
"$OUT/make_seeds" "$OUT/seeds"

declare -A FORMAT=([pprof]=PP_FORMAT_PPROF [collapsed]=PP_FORMAT_COLLAPSED [speedscope]=PP_FORMAT_SPEEDSCOPE
                   [cpuprofile]=PP_FORMAT_CPUPROFILE)
failed=()
for h in $HARNESSES; do
    if [ "$h" = options ]; then
        "$CC" "${CFLAGS[@]}" "${SAN[@]}" -fsanitize=fuzzer tests/fuzz/fuzz_options.c "${objs[@]}" "${LIBS[@]}" \
            -o "$OUT/fuzz_$h"
    elif [ "$h" = eh_frame ]; then
        "$CC" "${CFLAGS[@]}" "${SAN[@]}" -fsanitize=fuzzer tests/fuzz/fuzz_eh_frame.c "${objs[@]}" "${LIBS[@]}" \
            -o "$OUT/fuzz_$h"
    elif [ -n "${FORMAT[$h]:-}" ]; then
        "$CC" "${CFLAGS[@]}" "${SAN[@]}" -fsanitize=fuzzer -DFUZZ_FORMAT="${FORMAT[$h]}" tests/fuzz/fuzz_reader.c \
            "${objs[@]}" "${LIBS[@]}" -o "$OUT/fuzz_$h"
    else
        echo "fuzz: no harness '$h' (pprof collapsed speedscope cpuprofile options eh_frame)"; exit 2
    fi
    corpus="$OUT/corpus/$h"
    mkdir -p "$corpus"
    cp "$OUT/seeds/$h/seed" "$corpus/seed"
    echo "==== fuzz_$h: ${SECONDS_EACH}s"
    # rss_limit: a reader's cost is bounded by its limits (docs/options.md),
    # far below this; malloc_limit catches one huge allocation.
    parallel=()
    [ "$JOBS" -gt 1 ] && parallel=(-jobs="$JOBS" -workers="$JOBS")
    if (cd "$OUT" && ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
        "$OUT/fuzz_$h" "$corpus" -max_total_time="$SECONDS_EACH" -rss_limit_mb=1536 -malloc_limit_mb=1024 \
        -timeout=20 -max_len=65536 "${parallel[@]}" -print_final_stats=1 \
        -artifact_prefix="$OUT/artifacts/${h}-" >"$OUT/fuzz_$h.log" 2>&1); then
        grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$OUT/fuzz_$h.log" | tr '\n' ' '
        echo
    else
        echo "fuzz_$h: FINDING (log: $OUT/fuzz_$h.log; input: $OUT/artifacts/${h}-*)"
        grep -E "ERROR|runtime error|SUMMARY|==[0-9]+== ?ERROR|Test unit written" "$OUT/fuzz_$h.log" | head -8
        failed+=("$h")
    fi
done
n=$(wc -w <<<"$HARNESSES")
echo "fuzz: $((n - ${#failed[@]})) passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
