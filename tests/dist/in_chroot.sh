#!/usr/bin/env bash
# Runs inside a clean chroot (tests/dist/run.sh): installs the binary packages
# from DIST as a user would and profiles a program with each. Every check
# prints one "ok:" or "FAIL:" line; the exit status is the number of failures.
#   in_chroot.sh DIST WORK python TAG...        wheels (cp311 ...)
#   in_chroot.sh DIST WORK node NODE_PREFIX...  the npm package, per Node
#   in_chroot.sh DIST WORK java                 the agent jar
set -uo pipefail
dist=$1 work=$2 what=$3
shift 3
fails=0
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
has() { grep -q -- "$2" "$1" || { fail "$3: '$2' not in $(basename "$1")"; sed 's/^/    /' "$1" | head -n 25; return 1; }; }
elapsed() { echo "$(( ($(date +%s%N) - $1) / 1000000 )) ms"; }

# A compiler or a -dev package here would make "installs without compiling" untested.
for c in cc gcc g++ clang c++ make; do command -v "$c" >/dev/null && fail "a compiler is installed: $c"; done
dev=$(dpkg-query -W -f '${Package}\n' 2>/dev/null | grep -- '-dev$' | tr '\n' ' ')
[ -z "$dev" ] || fail "-dev packages are installed: $dev"

mkdir -p "$work"
case $what in
python)
    cat >"$work/app.py" <<'PY'
import time
import zlib

def compress_loop():
    data = bytes(range(256)) * 4096
    end = time.monotonic() + 1.5
    while time.monotonic() < end:
        zlib.compress(data, 9)

compress_loop()
PY
    # The libraries `import polyprof` maps beyond what the standard library
    # modules it imports map: the wheel's own, or glibc's.
    cat >"$work/maps.py" <<'PY'
import json, os, subprocess, sys
if sys.argv[1:] == ["modules"]:
    before = set(sys.modules)
    import polyprof  # noqa: F401
    print(json.dumps(sorted(m for m in set(sys.modules) - before if not m.startswith("polyprof"))))
    sys.exit(0)
mods = json.loads(subprocess.check_output([sys.executable, __file__, "modules"]))
def libs():
    with open("/proc/self/maps") as f:
        return {l.split()[-1] for l in f if len(l.split()) >= 6 and ".so" in l.split()[-1]}
for m in mods:
    __import__(m)
before = libs()
import polyprof
wheel = os.path.dirname(polyprof.__file__)
glibc = ("libc.so", "libm.so", "libpthread.so", "libdl.so", "librt.so", "ld-linux")
bad = [p for p in sorted(libs() - before) if not p.startswith(wheel) and not os.path.basename(p).startswith(glibc)]
print("new libraries: " + " ".join(sorted(libs() - before)))
print("outside the wheel: " + (" ".join(bad) if bad else "none"))
PY
    for tag in "$@"; do
        whl=$(ls "$dist"/polyprof-*-"$tag"-"$tag"-*.whl 2>/dev/null | head -n 1)
        [ -n "$whl" ] || { fail "$tag: no wheel in $dist"; continue; }
        py=python3.${tag#cp3}
        command -v "$py" >/dev/null || { fail "$tag: no $py in this chroot"; continue; }
        d=$work/$tag && rm -rf "$d" && mkdir -p "$d" && cd "$d"
        "$py" -m venv v || { fail "$tag: venv"; continue; }
        t0=$(date +%s%N)
        if v/bin/pip install -q --no-index "$whl" >pip.log 2>&1; then
            ok "$tag: pip install $(basename "$whl") ($(elapsed "$t0"))"
        else
            fail "$tag: pip install"; tail -n 5 pip.log; continue
        fi
        v/bin/python "$work/maps.py" >maps.txt 2>&1
        if grep -q "outside the wheel: none" maps.txt; then ok "$tag: import polyprof maps only the wheel's and glibc's libraries"
        else fail "$tag: import polyprof maps other libraries"; cat maps.txt; fi
        if v/bin/polyprof record -o out.pb.gz -- v/bin/python "$work/app.py" >record.log 2>&1 \
                && v/bin/polyprof top -n 40 out.pb.gz >top.txt 2>&1; then
            has top.txt compress_loop "$tag: python frame" && has top.txt 'deflate\|longest_match\|compress' "$tag: native zlib frame" \
                && ok "$tag: polyprof record/top: python and native frames"
        else
            fail "$tag: polyprof record/top"; tail -n 5 record.log top.txt
        fi
        # The command is the wheel's native launcher: record execs the program's
        # interpreter with no interpreter of its own (a python3.X beside a copy
        # of it logs each start), top runs the Python command line in that one.
        if [ "$(head -c 4 v/bin/polyprof | od -An -c | tr -d ' ')" = '177ELF' ]; then
            ok "$tag: v/bin/polyprof is the native launcher"
        else
            fail "$tag: v/bin/polyprof is not an ELF executable"; head -n 3 v/bin/polyprof
        fi
        mkdir -p lw && cp v/bin/polyprof lw/ && rm -f lw/log
        printf '#!/bin/sh\necho "$*" >>%s/lw/log\nexec %s/v/bin/%s "$@"\n' "$d" "$d" "$py" >"lw/$py" && chmod +x "lw/$py"
        if lw/polyprof record -o lw.pb.gz -- v/bin/python -c pass >lw.log 2>&1 && [ -s lw.pb.gz ] && [ ! -e lw/log ] \
                && lw/polyprof top lw.pb.gz >>lw.log 2>&1 && [ -s lw/log ]; then
            ok "$tag: polyprof record starts no interpreter before the program's; polyprof top runs $py"
        else
            fail "$tag: the launcher"; tail -n 5 lw.log; cat lw/log 2>/dev/null
        fi
        # The local endpoint: the wheel's own libmicrohttpd serves it.
        if v/bin/python -c "
import polyprof, urllib.request
e = polyprof.serve('127.0.0.1:0')
print(urllib.request.urlopen(e.url + '/polyprof/status', timeout=30).read().decode())" >endpoint.log 2>&1 \
                && grep -q '"sampler_running"' endpoint.log; then
            ok "$tag: polyprof.serve(): the endpoint answers /polyprof/status"
        else
            fail "$tag: polyprof.serve()"; tail -n 5 endpoint.log
        fi
        # Store encryption finds the system's libcrypto at run time (Python's own needs libssl3).
        key=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
        if POLYPROF_STORE_KEY=$key v/bin/python -c "import polyprof, tempfile; polyprof.Store(tempfile.mkdtemp())" >store.log 2>&1; then
            ok "$tag: encrypted store opens (libcrypto found at run time)"
        else
            grep -q "store encryption needs OpenSSL" store.log && ok "$tag: no libcrypto: the error names store encryption" \
                || { fail "$tag: encrypted store"; tail -n 3 store.log; }
        fi
    done
    ;;
node)
    npm_cli=/usr/lib/node_modules/npm/bin/npm-cli.js
    npx_cli=/usr/lib/node_modules/npm/bin/npx-cli.js
    tgz=$(ls "$dist"/polyprof-*.tgz | head -n 1)
    cat >"$work/app.js" <<'JS'
const zlib = require('zlib');
function compressLoop() {
  const data = Buffer.alloc(1 << 20, 'polyprof');
  const end = Date.now() + 1500;
  while (Date.now() < end) zlib.deflateSync(data, { level: 9 });
}
compressLoop();
JS
    for prefix in "$@"; do
        v=$("$prefix/bin/node" --version) abi=$("$prefix/bin/node" -p process.versions.modules)
        d=$work/node-$v && rm -rf "$d" && mkdir -p "$d" && cd "$d"
        export PATH="$prefix/bin:/usr/bin:/bin"
        # The user's project (else npm takes the checkout around it for the project).
        echo '{"name": "app", "version": "1.0.0", "private": true}' >package.json
        t0=$(date +%s%N)
        prebuilt=$(tar -tzf "$tgz" | grep -c "prebuilds/linux-x64/node.abi$abi.glibc.node")
        if node "$npm_cli" install --offline --no-audit --no-fund --foreground-scripts "$tgz" >npm.log 2>&1; then
            if [ "$prebuilt" = 0 ]; then fail "Node $v: installed without a prebuilt addon?"; cat npm.log; continue; fi
            has npm.log "using the prebuilt addon prebuilds/linux-x64/node.abi$abi.glibc.node" "Node $v: install" \
                && ok "Node $v: npm install $(basename "$tgz") with the prebuilt addon, nothing compiled ($(elapsed "$t0"))"
        else
            if [ "$prebuilt" = 0 ] && grep -q "no prebuilt addon for Node $v" npm.log; then
                ok "Node $v: the package has no prebuilt addon for it; npm install says so and tries a source build (no compiler here)"
                continue
            fi
            fail "Node $v: npm install"; tail -n 15 npm.log; continue
        fi
        if node "$npx_cli" --offline polyprof record -o out.pb.gz -- node "$work/app.js" >record.log 2>&1 \
                && "$work/../python-top" top -n 40 out.pb.gz >top.txt 2>&1; then
            has top.txt compressLoop "Node $v: JavaScript frame" && has top.txt 'deflate\|longest_match' "Node $v: native zlib frame" \
                && ok "Node $v: npx polyprof record: JavaScript and native frames"
        else
            fail "Node $v: npx polyprof record"; tail -n 5 record.log top.txt 2>/dev/null
        fi
        # The local endpoint: the prebuilt addon's own libmicrohttpd serves it.
        if node -e "
const e = require('polyprof').serve({ endpoint: '127.0.0.1:0' });
fetch(e.url + '/polyprof/status').then((r) => r.text()).then((t) => { console.log(t); e.close(); process.exit(0); },
  (err) => { console.error(err); process.exit(1); });" >endpoint.log 2>&1 && grep -q '"sampler_running"' endpoint.log; then
            ok "Node $v: serve(): the endpoint answers /polyprof/status"
        else
            fail "Node $v: serve()"; tail -n 5 endpoint.log
        fi
    done
    ;;
java)
    jar=$(ls "$dist"/polyprof-agent-*.jar | head -n 1)
    cd "$work"
    top=$work/../python-top
    t0=$(date +%s%N)
    if java -javaagent:"$jar"=start,event=cpu,file=agent.pb.gz -cp "$work/classes" Burn >agent.log 2>&1 \
            && "$top" top agent.pb.gz >agent-top.txt 2>&1; then
        has agent-top.txt Burn.spin "-javaagent" && ok "java -javaagent:$(basename "$jar")=start,...: Java frames ($(elapsed "$t0") for the 2 s program)"
    else
        fail "-javaagent"; tail -n 5 agent.log agent-top.txt 2>/dev/null
    fi
    if java -cp "$jar:$work/classes" Burn load >load.log 2>&1 && has load.log "load=true" "Profiler.load()" \
            && "$top" top load.pb.gz >load-top.txt 2>&1; then
        has load-top.txt Burn.spin "Profiler.load" && ok "Profiler.load(\"start,...\") from code: Java frames"
    else
        fail "Profiler.load"; tail -n 5 load.log load-top.txt 2>/dev/null
    fi
    # The library extracted from the jar works with -agentpath as well.
    mkdir -p x && (cd x && unzip -qo "$jar" 'dev/polyprof/native/*' 2>/dev/null || python3 -m zipfile -e "$jar" .)
    so=$(find x -name libpolyprof.so | head -n 1)
    if java -agentpath:"$PWD/$so"=start,event=cpu,file=ap.pb.gz -cp "$work/classes" Burn >ap.log 2>&1 \
            && "$top" top ap.pb.gz >ap-top.txt 2>&1; then
        has ap-top.txt Burn.spin "-agentpath" && ok "-agentpath with the library from the jar: Java frames"
    else
        fail "-agentpath (extracted)"; tail -n 5 ap.log ap-top.txt 2>/dev/null
    fi
    ;;
esac
exit $fails
