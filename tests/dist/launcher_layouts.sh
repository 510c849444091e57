#!/usr/bin/env bash
# The wheel's launcher in Debian's own layouts, which a venv does not show:
# pip into the system Python (/usr/local/bin, /usr/local/lib/python3.X/
# dist-packages) and pip install --user (~/.local). In a throwaway overlay of
# the clean chroot (the chroot itself stays clean), `polyprof record` must
# exec the program with the argv and environment `python3.X -m polyprof
# record` gives it, without starting the Python command line.
#   tests/dist/launcher_layouts.sh CHROOT WHEEL      (root: unshare, mount)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
chroot_dir=$1 whl=$2
if [ "${3:-}" = inside ]; then
    fails=0
    py=python3.$(basename "$whl" | sed -n 's/.*-cp3\([0-9]*\)-.*/\1/p')
    python3 -m venv /tmp/pip-venv >/dev/null
    # Debian's python3 has no pip without python3-pip: a venv's, run by it.
    pipsys() { PYTHONPATH=$(echo /tmp/pip-venv/lib/python3*/site-packages) python3 -m pip -q "$@" --break-system-packages --no-index "$whl" 2>&1 | grep -v WARNING || true; }
    printf '%s\n' "import sys" "with open(sys.argv[1], 'wb') as out:" \
        "    out.write(open('/proc/self/cmdline', 'rb').read() + b'\\n--\\n' + open('/proc/self/environ', 'rb').read())" >/tmp/dump.py
    check() { # name launcher expected-pythonpath
        # Python's import timing names polyprof.cli when the Python command line ran.
        PYTHONPROFILEIMPORTTIME=1 "$2" record -o /tmp/o.pb.gz -- python3 /tmp/dump.py /tmp/d1 >/dev/null 2>/tmp/l.err
        "$py" -m polyprof record -o /tmp/o.pb.gz -- python3 /tmp/dump.py /tmp/d1 >/dev/null 2>&1
        mv /tmp/d1 /tmp/d2
        "$2" record -o /tmp/o.pb.gz -- python3 /tmp/dump.py /tmp/d1 >/dev/null 2>&1
        # The shell's own $_ (the command it ran) is the one difference allowed.
        if ! diff <(tr '\0' '\n' </tmp/d1 | grep -v '^_=') <(tr '\0' '\n' </tmp/d2 | grep -v '^_='); then
            echo "FAIL: $1: the launcher's command line differs from python -m polyprof's"; fails=$((fails + 1))
        elif grep -q polyprof.cli /tmp/l.err; then
            echo "FAIL: $1: the launcher started the Python command line"; fails=$((fails + 1))
        elif ! tr '\0' '\n' </tmp/d1 | grep -qx "PYTHONPATH=$3"; then
            echo "FAIL: $1: PYTHONPATH is not $3"; tr '\0' '\n' </tmp/d1 | grep -a PYTHONPATH; fails=$((fails + 1))
        else
            echo "ok: $1: polyprof record execs what python -m polyprof execs, PYTHONPATH=$3, no Python command line"
        fi
    }
    pipsys install
    check "system pip (/usr/local)" /usr/local/bin/polyprof "/usr/local/lib/$py/dist-packages"
    export HOME=/tmp/home && mkdir -p "$HOME"
    pipsys install --user
    check "pip install --user" "$HOME/.local/bin/polyprof" "$HOME/.local/lib/$py/site-packages"
    # The user's site-packages comes first on sys.path: its polyprof is the one named.
    check "/usr/local with a --user install too" /usr/local/bin/polyprof "$HOME/.local/lib/$py/site-packages"
    exit "$fails"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/up" "$work/work" "$work/merged"
cp "$whl" "$work/"
unshare --mount --propagation private bash -c '
    set -e
    mount -t overlay overlay -o "lowerdir=$1,upperdir=$2/up,workdir=$2/work" "$2/merged"
    mkdir -p "$2/merged/tmp/w" && cp "$2/$(basename "$3")" "$2/merged/tmp/w/"
    "$4/tests/runtimes/run_in_chroot.sh" "$2/merged" -- "$4/tests/dist/launcher_layouts.sh" - "/tmp/w/$(basename "$3")" inside
' _ "$chroot_dir" "$work" "$whl" "$root"
