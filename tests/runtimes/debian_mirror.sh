#!/usr/bin/env bash
# Prints the Debian mirror this machine's apt already uses (the first
# non-security URI in /etc/apt/sources.list.d/*.sources or sources.list), so
# that chroots and source downloads use it and no host is named in the repo.
set -euo pipefail
{
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f"
    done
    if [ -f /etc/apt/sources.list ]; then
        awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list
    fi
} | head -n 1 | grep . || { echo "debian_mirror.sh: no Debian mirror found in /etc/apt/sources.list{,.d}" >&2; exit 1; }
