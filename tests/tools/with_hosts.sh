#!/usr/bin/env bash
# with_hosts.sh [--files-only] HOSTSFILE CMD...: runs CMD with HOSTSFILE in
# place of /etc/hosts, in a private mount namespace (unshare -m, then a bind
# mount over /etc/hosts that only CMD and its children see), so a test can
# prove that name resolution reads /etc/hosts without touching the
# machine's.  --files-only also mounts an nsswitch.conf whose hosts line is
# "files" alone: a name missing from HOSTSFILE is then "not found" at once,
# whatever DNS this machine can or cannot reach (no EAI_AGAIN after a DNS
# timeout in an offline sandbox).
# Exits 77 (ctest's skip) with a message where the namespace or the mount
# is not permitted (no CAP_SYS_ADMIN, a locked-down container); otherwise
# with CMD's status.
set -euo pipefail

files_only=0
if [[ ${1:-} == --files-only ]]; then
    files_only=1
    shift
fi
if (($# < 2)); then
    echo "usage: with_hosts.sh [--files-only] HOSTSFILE CMD..." >&2
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
nss=
if ((files_only)); then
    nss=$(mktemp "${TMPDIR:-/tmp}/with_hosts.nsswitch.XXXXXX")
    if [[ -r /etc/nsswitch.conf ]]; then
        grep -v '^[[:space:]]*hosts:' /etc/nsswitch.conf >"$nss" || true
    fi
    echo "hosts: files" >>"$nss"
fi
# util-linux unshare makes the new namespace's mounts private, so the bind
# mounts never reach the rest of the machine.  The nsswitch copy is
# removed once mounted (the mount keeps it).
exec unshare -m sh -c '
    mount --bind "$0" /etc/hosts || exit 1
    if [ -n "$1" ]; then
        mount --bind "$1" /etc/nsswitch.conf || exit 1
        rm -f "$1"
    fi
    shift
    exec "$@"' "$hosts" "$nss" "$@"
