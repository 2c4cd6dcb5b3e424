#!/usr/bin/env bash
# with_hosts.sh HOSTSFILE CMD...: runs CMD with HOSTSFILE in place of
# /etc/hosts, in a private mount namespace (unshare -m, then a bind mount
# over /etc/hosts that only CMD and its children see), so a test can prove
# that name resolution reads /etc/hosts without touching the machine's.
# Exits 77 (ctest's skip) with a message where the namespace or the mount
# is not permitted (no CAP_SYS_ADMIN, a locked-down container); otherwise
# with CMD's status.
set -euo pipefail

if (($# < 2)); then
    echo "usage: with_hosts.sh HOSTSFILE CMD..." >&2
    exit 2
fi
hosts=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shift
if [[ ! -r $hosts ]]; then
    echo "with_hosts.sh: cannot read $hosts" >&2
    exit 2
fi
if ! command -v unshare >/dev/null ||
    ! unshare -m sh -c "mount --bind '$hosts' /etc/hosts" 2>/dev/null; then
    echo "SKIPPED: unshare -m / mount --bind not permitted here"
    exit 77
fi
# util-linux unshare makes the new namespace's mounts private, so the bind
# mount never reaches the rest of the machine.
exec unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$hosts" "$@"
