#!/usr/bin/env bash
# Runs a command inside a chroot made by sid_chroot.sh, with what the tests
# need from this machine at the same paths: the checkout (and its build
# directory), Go and its module cache (go tool pprof, the Go checkers), /proc,
# /dev and /sys. The mounts are private to this command: they go away with it.
#   tests/runtimes/run_in_chroot.sh DIR [--bind PATH]... -- CMD [ARGS...]
set -euo pipefail
dir=${1:?usage: run_in_chroot.sh DIR [--bind PATH]... -- CMD...}
shift
binds=("$(cd "$(dirname "$0")/../.." && pwd)")
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    case $1 in
        --bind) binds+=("$2"); shift 2 ;;
        *) echo "run_in_chroot.sh: unknown argument $1"; exit 2 ;;
    esac
done
[ "${1:-}" = "--" ] && shift
[ $# -gt 0 ] || { echo "run_in_chroot.sh: no command"; exit 2; }
[ -f "$dir/.polyprof-ready" ] || { echo "run_in_chroot.sh: $dir is not a finished chroot (tests/runtimes/sid_chroot.sh makes one)"; exit 1; }
command -v unshare >/dev/null || { echo "run_in_chroot.sh: unshare (util-linux) not found"; exit 1; }

for d in /usr/local/go "$(go env GOMODCACHE 2>/dev/null || true)" "$(go env GOCACHE 2>/dev/null || true)"; do
    [ -n "$d" ] && [ -d "$d" ] && binds+=("$d")
done

# A private mount namespace: every mount below disappears when the command ends.
exec unshare --mount --propagation private bash -c '
    set -e
    dir=$1; shift
    nbinds=$1; shift
    mount -t proc proc "$dir/proc"
    mount --rbind /dev "$dir/dev"
    mount --rbind /sys "$dir/sys"
    mkdir -p "$dir/tmp" && chmod 1777 "$dir/tmp"
    for ((i = 0; i < nbinds; i++)); do
        mkdir -p "$dir$1"
        mount --bind "$1" "$dir$1"
        shift
    done
    exec chroot "$dir" /usr/bin/env PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root GOTOOLCHAIN=local "$@"
' run_in_chroot "$dir" "${#binds[@]}" "${binds[@]}" "$@"
