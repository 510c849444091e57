#!/usr/bin/env bash
# The binary packages, installed as a user would: builds dist/ (tools/dist.sh),
# then in a fresh Debian bookworm minbase chroot that has python3,
# python3-venv, openjdk-17-jre-headless (and libatomic1 for Node 26) and nothing else (no compiler, no
# -dev package) installs the cp311 wheel, the npm package on Node 20, 22, 24
# and 26 (Node releases from the npm registry, the machine's npm), and the
# agent jar, and profiles a program with each; the cp314/cp315 wheels the same
# way in a minimal sid chroot (python3.14/3.15 and their venv only).
# Chroots and Node releases are made once under ~/.cache/polyprof-runtimes.
#   tests/dist/run.sh            POLYPROF_DIST_SKIP_BUILD=1: test dist/ as it is;
#                                POLYPROF_DIST_PREPARE_ONLY=1: build and make the chroots, test nothing
# Needs root (debootstrap, chroot); installs the apt packages it needs.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
runtimes=${POLYPROF_RUNTIMES:-$HOME/.cache/polyprof-runtimes}
start=$(date +%s)
section() { echo "== $* ($(( $(date +%s) - start )) s)"; }

need=()
for pair in debootstrap:debootstrap dpkg-source:dpkg-dev javac:openjdk-17-jdk-headless npm:npm objdump:binutils \
            unshare:util-linux g++:g++; do
    command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
done
# Headers of the source build: the Node addons are built by it (curl/curl.h for the wheels too).
for p in libcurl4-openssl-dev libunwind-dev zlib1g-dev libmicrohttpd-dev libcjson-dev; do
    dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    section "apt-get install ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ "${POLYPROF_DIST_SKIP_BUILD:-0}" != 1 ]; then
    section "tools/dist.sh"
    POLYPROF_DIST_STRICT=1 "$root/tools/dist.sh"
fi
dist=$root/dist

section "chroots and Node releases"
# libatomic1: Node 26's binary needs it (a run-time library, as Node's libstdc++).
bookworm=$("$root/tests/runtimes/clean_chroot.sh" bookworm "$runtimes/bookworm-clean" python3 python3-venv \
           openjdk-17-jre-headless libatomic1 | tail -n 1)
sid=""
if ls "$dist"/polyprof-*-cp314-*.whl "$dist"/polyprof-*-cp315-*.whl >/dev/null 2>&1; then
    sid=$("$root/tests/runtimes/clean_chroot.sh" sid "$runtimes/sid-clean" python3.14 python3.14-venv python3.15 \
          python3.15-venv | tail -n 1)
fi
node_prefixes=()
for major in 20 22 24 26; do
    node_prefixes+=("$(readlink -f "$("$root/tests/runtimes/node_release.sh" "$major" "$runtimes" | tail -n 1)")")
done
# run_all.sh builds and prepares in the background, then tests in the foreground.
if [ "${POLYPROF_DIST_PREPARE_ONLY:-0}" = 1 ]; then
    section "built and prepared"
    exit 0
fi

work=$root/build/dist-test
rm -rf "$work" && mkdir -p "$work/python" "$work/node" "$work/java/classes"
# A reader for the profiles the Node and Java runs write: the cp311 wheel's CLI.
printf '#!/bin/sh\nexec %s/python/cp311/v/bin/polyprof "$@"\n' "$work" >"$work/python-top"
chmod +x "$work/python-top"
cat >"$work/java/Burn.java" <<'JAVA'
public class Burn {
    static double spin(long n) { double x = 0; for (long i = 0; i < n; i++) x += Math.sqrt(i); return x; }
    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("load"))
            System.out.println("load=" + dev.polyprof.Profiler.load("start,event=cpu,file=load.pb.gz"));
        long end = System.nanoTime() + 2_000_000_000L;
        double s = 0;
        while (System.nanoTime() < end) s += spin(1_000_000);
        System.out.println(s > 0);
    }
}
JAVA
javac --release 11 -cp "$(ls "$dist"/polyprof-agent-*.jar | head -n 1)" -d "$work/java/classes" "$work/java/Burn.java"

fails=0
run() { "$root/tests/runtimes/run_in_chroot.sh" "$@" || fails=$((fails + $?)); }
section "bookworm (no compiler): the cp311 wheel"
run "$bookworm" -- "$root/tests/dist/in_chroot.sh" "$dist" "$work/python" python cp311
section "bookworm: the cp311 wheel's launcher under the system Python (/usr/local) and pip install --user"
"$root/tests/dist/launcher_layouts.sh" "$bookworm" "$(ls "$dist"/polyprof-*-cp311-cp311-*.whl | head -n 1)" || fails=$((fails + $?))
section "bookworm (no compiler): the npm package on Node 20, 22, 24, 26"
binds=()
for p in "${node_prefixes[@]}"; do binds+=(--bind "$p"); done
run "$bookworm" "${binds[@]}" --bind /usr/lib/node_modules/npm -- \
    "$root/tests/dist/in_chroot.sh" "$dist" "$work/node" node "${node_prefixes[@]}"
section "bookworm (JRE only): the agent jar"
run "$bookworm" -- "$root/tests/dist/in_chroot.sh" "$dist" "$work/java" java
if [ -n "$sid" ]; then
    section "sid (no compiler): the cp314 and cp315 wheels"
    run "$sid" -- "$root/tests/dist/in_chroot.sh" "$dist" "$work/python" python cp314 cp315
fi
section "done: $fails failure(s)"
[ "$fails" -eq 0 ]
