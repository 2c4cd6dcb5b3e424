#!/usr/bin/env bash
# tests/conformance/run.sh -- the differential conformance test on one backend.
#
#   tests/conformance/run.sh HOST_CMD BACKEND [N | A-B | SEED... | ci | probes]
#
#   HOST_CMD  the command that runs the host: build/host, or
#             "cmake/wine-run.sh build-win/host.exe" for IOCP under Wine
#   BACKEND   io_uring, epoll or iocp (iocp: the host runs under Wine; a
#             Wine prefix with a persistent wineserver is made for the run
#             unless WINEPREFIX names one already)
#   seeds     default `ci`: the fixed set CI runs (seeds 1..130 and the
#             probes); N runs seeds 1..N; A-B a range
#
# Environment: CONFORM_SAVE=DIR keeps each passing program's transcript
# (for conform.py compare), CONFORM_STRICT=1 fails the known bugs of
# KNOWN.md too, CONFORM_JOBS=N programs at once (default 24).
# Prints one ok / not ok line per program, then "N passed, N failed".
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root" || exit 1

if (($# < 2)); then
    sed -n '3,20p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
host_cmd=$1
backend=$2
shift 2

args=(run --host-cmd "$host_cmd" --jobs "${CONFORM_JOBS:-24}")
[[ -n ${CONFORM_SAVE:-} ]] && args+=(--save "$CONFORM_SAVE")
[[ ${CONFORM_STRICT:-0} == 1 ]] && args+=(--strict)

if [[ $backend == iocp ]]; then
    args+=(--wine --workers 2)
    if [[ -z ${WINEPREFIX:-} ]]; then
        tmp=$(mktemp -d "${TMPDIR:-/tmp}/host-conform-wine.XXXXXX")
        export WINEPREFIX=$tmp/prefix WINEDEBUG=-all
        cleanup() {
            cmake/wine-run.sh --kill >/dev/null 2>&1
            rm -rf "$tmp"
        }
        trap cleanup EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM
        cmake/wine-run.sh --init "$WINEPREFIX" >/dev/null || {
            echo "cannot make a Wine prefix"
            echo "0 passed, 1 failed"
            exit 1
        }
        wineserver -p # persistent until cleanup
    fi
else
    args+=(--backend "$backend")
fi

python3 "$here/conform.py" "${args[@]}" "$@"
