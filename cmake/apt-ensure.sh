#!/usr/bin/env bash
# apt-ensure.sh PACKAGE...
#
# Installs the named Debian packages when one or more of them is missing, so
# that a fresh CI machine, which starts with none of the cross tools, can run
# the Windows build. Packages that are already installed cost one dpkg-query
# each and nothing else: no network, no root needed.
#
# When something is missing and we are root, this runs `apt-get update` once
# and then `apt-get install --no-install-recommends`. A lock serialises
# concurrent callers (for instance several ctest jobs that each start Wine).
# As a normal user it names the command to run and fails.
#
# All of apt's output goes to stderr, so callers can keep stdout for results.
# Exit status: 0 when every package is installed afterwards, 1 otherwise.

set -euo pipefail

die() { echo "apt-ensure: $*" >&2; exit 1; }

(( $# > 0 )) || die "usage: $0 PACKAGE..."

missing() {
    local pkg status
    for pkg in "$@"; do
        status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
        [[ $status == installed ]] || printf '%s\n' "$pkg"
    done
}

mapfile -t need < <(missing "$@")
(( ${#need[@]} == 0 )) && exit 0

if (( EUID != 0 )); then
    die "missing Debian packages: ${need[*]}
  install them as root: apt-get update && apt-get install ${need[*]}"
fi
command -v apt-get >/dev/null || die "missing packages (${need[*]}) and no apt-get on this system"

export DEBIAN_FRONTEND=noninteractive
exec 9>/var/lock/host-apt-ensure.lock
flock 9

# Another caller may have installed them while we waited for the lock.
mapfile -t need < <(missing "${need[@]}")
(( ${#need[@]} == 0 )) && exit 0

echo "apt-ensure: installing ${need[*]}" >&2
apt_opts=(-q -y -o DPkg::Lock::Timeout=600)
apt-get "${apt_opts[@]}" update >&2 || die "apt-get update failed (offline?)"
apt-get "${apt_opts[@]}" install --no-install-recommends "${need[@]}" >&2 \
    || die "apt-get install ${need[*]} failed"

mapfile -t need < <(missing "${need[@]}")
(( ${#need[@]} == 0 )) || die "still missing after install: ${need[*]}"
