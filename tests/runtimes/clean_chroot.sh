#!/usr/bin/env bash
# Makes (once) a minimal Debian chroot - debootstrap's minbase plus exactly
# the packages named, and so no compiler and no -dev package - in which the
# binary packages are installed as a user would (tests/dist/run.sh).
# The mirror is the one this machine's apt already uses; no host is named here.
#   tests/runtimes/clean_chroot.sh SUITE DIR PACKAGE...   creates DIR (idempotent)
# Needs root and debootstrap. Prints the chroot's directory last.
set -euo pipefail
suite=${1:?usage: clean_chroot.sh SUITE DIR PACKAGE...}
dir=${2:?usage: clean_chroot.sh SUITE DIR PACKAGE...}
shift 2
packages="$*"
[ "$(id -u)" -eq 0 ] || { echo "clean_chroot.sh: needs root (debootstrap, chroot, mount)"; exit 1; }
command -v debootstrap >/dev/null || { echo "clean_chroot.sh: debootstrap not found (apt-get install debootstrap)"; exit 1; }

# The ready mark holds the package list it was made with: a changed list
# makes the chroot anew (it must hold nothing else).
if [ -f "$dir/.polyprof-ready" ] && [ "$(cat "$dir/.polyprof-ready")" = "$suite $packages" ]; then
    echo "$dir"
    exit 0
fi
mirror=$("$(dirname "$0")/debian_mirror.sh")
rm -rf "$dir" "$dir.tmp"
mkdir -p "$dir.tmp"
echo "clean chroot: debootstrap --variant=minbase $suite from $mirror into $dir, plus: $packages" >&2
keyring_opt=()
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] && keyring_opt=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)
# The packages go in with debootstrap's own dependency resolution, so the
# chroot holds them and what they depend on, nothing recommended.
if ! debootstrap --variant=minbase "${keyring_opt[@]}" --include="${packages// /,}" "$suite" "$dir.tmp" "$mirror" \
        >"$dir.debootstrap.log" 2>&1; then
    if grep -qiE 'signature|NO_PUBKEY|Release signed by unknown key' "$dir.debootstrap.log"; then
        echo "clean chroot: this machine's keyring does not know $suite's signing key; retrying without the check" >&2
        rm -rf "$dir.tmp"; mkdir -p "$dir.tmp"
        debootstrap --variant=minbase --no-check-gpg --include="${packages// /,}" "$suite" "$dir.tmp" "$mirror" \
            >"$dir.debootstrap.log" 2>&1 || { tail -n 30 "$dir.debootstrap.log"; exit 1; }
    else
        tail -n 30 "$dir.debootstrap.log"; exit 1
    fi
fi
# pip inside reaches the registry through this machine's pip.conf (tests use none).
cp /etc/resolv.conf "$dir.tmp/etc/resolv.conf" 2>/dev/null || true
rm -rf "$dir.tmp/var/cache/apt/archives/"*.deb
echo "$suite $packages" >"$dir.tmp/.polyprof-ready"
mv "$dir.tmp" "$dir"
echo "$dir"
