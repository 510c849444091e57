#!/usr/bin/env bash
# Makes (once) a Debian sid chroot that carries the runtimes this machine's
# Debian release does not: CPython 3.14 and 3.15 (with -dev and -venv) and
# OpenJDK 21, plus the compiler and -dev packages polyprof builds with.
# The mirror is the one this machine's apt already uses; no host is named here.
#   tests/runtimes/sid_chroot.sh DIR      creates DIR (idempotent: a finished
#                                         chroot is left as it is)
# Needs root and debootstrap. Prints the chroot's directory last.
set -euo pipefail
dir=${1:?usage: sid_chroot.sh DIR}
[ "$(id -u)" -eq 0 ] || { echo "sid_chroot.sh: needs root (debootstrap, chroot, mount)"; exit 1; }
command -v debootstrap >/dev/null || { echo "sid_chroot.sh: debootstrap not found (apt-get install debootstrap)"; exit 1; }

packages="python3.14 python3.14-dev python3.14-venv python3.15 python3.15-dev python3.15-venv
openjdk-21-jdk-headless build-essential cmake ninja-build pkg-config ca-certificates
libunwind-dev zlib1g-dev libmicrohttpd-dev libssl-dev libcurl4-openssl-dev libcjson-dev"

# The ready mark holds the package list it was made with: a changed list
# installs what is new into the existing chroot.
if [ -f "$dir/.polyprof-ready" ] && [ "$(cat "$dir/.polyprof-ready")" = "$(echo $packages)" ]; then
    echo "$dir"
    exit 0
fi

mirror_from_apt() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f"
    done | head -n 1
    if [ -f /etc/apt/sources.list ]; then
        awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list
    fi
}
mirror=$(mirror_from_apt | head -n 1)
[ -n "$mirror" ] || { echo "sid_chroot.sh: no Debian mirror found in /etc/apt/sources.list{,.d}"; exit 1; }

if [ ! -f "$dir/.debootstrap-done" ]; then
    rm -rf "$dir"
    mkdir -p "$dir"
    echo "sid chroot: debootstrap sid from $mirror into $dir"
    # The sid Release file served can be past its Valid-Until date, and newer than
    # this machine's keyring: debootstrap checks the signature when it can.
    keyring_opt=()
    [ -f /usr/share/keyrings/debian-archive-keyring.gpg ] && keyring_opt=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)
    if ! debootstrap --variant=minbase "${keyring_opt[@]}" sid "$dir" "$mirror" >"$dir.debootstrap.log" 2>&1; then
        if grep -qiE 'signature|NO_PUBKEY|Release signed by unknown key' "$dir.debootstrap.log"; then
            echo "sid chroot: this machine's keyring does not know sid's signing key; retrying without the check"
            rm -rf "$dir"; mkdir -p "$dir"
            debootstrap --variant=minbase --no-check-gpg sid "$dir" "$mirror" >"$dir.debootstrap.log" 2>&1 \
                || { tail -n 30 "$dir.debootstrap.log"; exit 1; }
        else
            tail -n 30 "$dir.debootstrap.log"; exit 1
        fi
    fi
    touch "$dir/.debootstrap-done"
fi

# pip and apt inside reach the registries through this machine's CA and pip.conf.
mkdir -p "$dir/usr/local/share/ca-certificates"
cp /usr/local/share/ca-certificates/*.crt "$dir/usr/local/share/ca-certificates/" 2>/dev/null || true
[ -f /etc/pip.conf ] && cp /etc/pip.conf "$dir/etc/pip.conf"
cp /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true

apt_opts=(-o Acquire::Check-Valid-Until=false -o APT::Install-Recommends=false -y -qq)
# The JDK's maintainer scripts run java, which needs /proc: the install runs in
# a private mount namespace with /proc mounted, gone when it ends.
# shellcheck disable=SC2086
unshare --mount --propagation private bash -c '
    set -e
    dir=$1; shift
    mount -t proc proc "$dir/proc"
    chroot "$dir" env DEBIAN_FRONTEND=noninteractive apt-get "$@" update >/dev/null
    chroot "$dir" env DEBIAN_FRONTEND=noninteractive dpkg --configure -a
    chroot "$dir" env DEBIAN_FRONTEND=noninteractive apt-get "$@" install '"$(echo $packages)"'
    chroot "$dir" update-ca-certificates >/dev/null 2>&1 || true
' sid_chroot "$dir" "${apt_opts[@]}" >"$dir.apt.log" 2>&1 || { tail -n 30 "$dir.apt.log"; exit 1; }
echo $packages >"$dir/.polyprof-ready"
echo "$dir"
