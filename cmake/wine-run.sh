#!/usr/bin/env bash
# wine-run.sh: run a Windows console program under Wine, the way CI needs it.
#
#   cmake/wine-run.sh PROGRAM.exe [ARGS...]   run it; exit with its exit code
#   cmake/wine-run.sh --init [DIR]            make a prefix (DIR, $WINEPREFIX or
#                                             a new temp dir), print its path
#   cmake/wine-run.sh --kill                  stop $WINEPREFIX's wineserver
#
# The toolchain file names this script as CMAKE_CROSSCOMPILING_EMULATOR, so
# ctest runs every test executable through it.
#
# Prefix: when WINEPREFIX names an existing prefix it is reused, so a suite
# pays for prefix creation once:
#     export WINEPREFIX=$(cmake/wine-run.sh --init)
#     ctest --test-dir build-win
#     cmake/wine-run.sh --kill; rm -rf "$WINEPREFIX"
# Without WINEPREFIX each run gets a fresh prefix in a temp dir, removed after.
#
# Conditions: headless (DISPLAY and WAYLAND_DISPLAY unset; console programs
# need no X server), WINEDEBUG=-all unless set, no Mono/Gecko install prompts
# (WINEDLLOVERRIDES gets mscoree,mshtml=), 64-bit prefix. The program's stdout
# and stderr are passed through untouched; Windows text mode writes "\r\n",
# so set WINE_RUN_STRIP_CR=1 to drop every "\r" when a test compares lines.
#
# Debian 12 packaging: the `wine` package has only the /usr/bin/wine wrapper;
# the 64-bit loader is in `wine64` (/usr/lib/wine/wine64). `apt-get install
# wine` pulls wine64 in on amd64 (its first alternative), but we name both.
# The wrapper's "it looks like wine32 is missing" hint is harmless for 64-bit
# programs and WINEDEBUG=-all silences it. Missing packages are installed
# (as root) through apt-ensure.sh.
#
# Exit status: the program's, cut to 8 bits by Linux (exit(300) gives 44, an
# access violation 0xC0000005 gives 5); 125 when this script itself fails.
#
# Measured on the 2-core Debian 12 VM, Wine 8.0, a 700 KB static demo.exe:
#   first run, new temp prefix (boot + run + cleanup): 6.8-8.6 s, once 13 s
#   --init alone:                                       6.9-8.8 s
#   later run, shared prefix, wineserver still up:      0.27-0.31 s
#   later run, shared prefix, wineserver had exited:    1.1-1.9 s
#   Wine installed by apt-ensure on bare bookworm, plus the first run: 32-35 s

set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() { echo "wine-run.sh: $*" >&2; exit 125; }

ensure_wine() {
    if command -v wine >/dev/null && { [[ -x /usr/lib/wine/wine64 ]] || [[ ! -d /usr/lib/wine ]]; }; then
        return 0
    fi
    bash "$here/apt-ensure.sh" wine wine64 || die "Wine is not installed and could not be installed"
}

setup_env() {
    unset DISPLAY WAYLAND_DISPLAY
    export WINEARCH=win64
    export WINEDEBUG=${WINEDEBUG:--all}
    export WINEDLLOVERRIDES="mscoree,mshtml=${WINEDLLOVERRIDES:+;$WINEDLLOVERRIDES}"
}

# system.reg is written when the prefix's wineserver exits, so a prefix we
# just booted is known by our own marker instead.
is_prefix() { [[ -f $1/system.reg || -f $1/.wine-run-booted ]]; }

# Creates the prefix $WINEPREFIX unless it exists. A lock inside it keeps
# concurrent runs that share one new prefix from booting it twice.
boot_prefix() {
    mkdir -p "$WINEPREFIX" || die "cannot create $WINEPREFIX"
    (
        flock 7
        if ! is_prefix "$WINEPREFIX"; then
            wine wineboot --init >/dev/null 2>&1 \
                || die "wineboot --init failed in $WINEPREFIX (rerun with WINEDEBUG=err+all)"
            [[ -d $WINEPREFIX/drive_c/windows ]] || die "wineboot made no prefix in $WINEPREFIX"
            : >"$WINEPREFIX/.wine-run-booted"
        fi
    ) 7>"$WINEPREFIX/.wine-run.lock" || exit
}

# Each prefix's wineserver keeps its socket in /tmp/.wine-UID/server-DEV-INO
# (as root, Wine 8 uses a fresh /tmp/wine-XXXXXX instead of .wine-0), and
# leaves that directory with a lock file behind when it exits. Removes it for
# the prefix in $1 once the server is gone, so CI's /tmp doesn't fill up with
# one directory per run.
forget_server_dir() {
    local dev ino dir
    read -r dev ino < <(stat -c '%D %i' "$1" 2>/dev/null) || return 0
    for dir in /tmp/.wine-"$(id -u)" /tmp/wine-*; do
        dir="$dir/$(printf 'server-%s-%x' "$dev" "$ino")"
        [[ -d $dir && ! -e $dir/socket ]] || continue
        rm -f "$dir/lock"
        rmdir "$dir" "${dir%/*}" 2>/dev/null
    done
    return 0
}

# Runs the program, and strips "\r" from both streams when asked to. With
# pipefail the pipeline's status is the program's: tr exits 0. With
# nothing to clean up or filter afterwards, Wine replaces this script
# (exec), so our caller's pid is the Windows program's own process:
# SIGINT to it arrives as Ctrl-C (CTRL_C_EVENT to the program's console
# handlers), and a kill really ends the program.
run_program() {
    if [[ ${WINE_RUN_STRIP_CR:-0} == 1 ]]; then
        { wine "$@" 2>&1 1>&3 3>&- | tr -d '\r' >&2; } 3>&1 | tr -d '\r'
    elif [[ -z $tmp_prefix ]]; then
        exec wine "$@"
    else
        wine "$@"
    fi
}

case ${1:-} in
"")
    die "usage: $0 PROGRAM.exe [ARGS...] | --init [DIR] | --kill"
    ;;
--init)
    ensure_wine
    setup_env
    if [[ -n ${2:-} ]]; then
        export WINEPREFIX=$2
    elif [[ -z ${WINEPREFIX:-} ]]; then
        WINEPREFIX=$(mktemp -d "${TMPDIR:-/tmp}/host-wine.XXXXXX") || die "mktemp failed"
        export WINEPREFIX
    fi
    is_prefix "$WINEPREFIX" || boot_prefix
    WINEPREFIX=$(cd "$WINEPREFIX" && pwd)
    printf '%s\n' "$WINEPREFIX"
    exit 0
    ;;
--kill)
    [[ -n ${WINEPREFIX:-} ]] || die "--kill: WINEPREFIX is not set"
    command -v wineserver >/dev/null || exit 0
    wineserver -k 2>/dev/null
    wineserver -w 2>/dev/null
    forget_server_dir "$WINEPREFIX"
    exit 0
    ;;
esac

ensure_wine
setup_env
[[ -e $1 ]] || command -v -- "$1" >/dev/null || die "no such program: $1"

tmp_prefix=""
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    if [[ -n $tmp_prefix ]]; then
        wineserver -k 2>/dev/null
        wineserver -w 2>/dev/null
        forget_server_dir "$tmp_prefix"
        rm -rf "$tmp_prefix"
    fi
}
if [[ -z ${WINEPREFIX:-} ]]; then
    tmp_prefix=$(mktemp -d "${TMPDIR:-/tmp}/host-wine.XXXXXX") || die "mktemp failed"
    export WINEPREFIX=$tmp_prefix
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
fi
# Let a new prefix be made by wineboot first, so its console chatter can't
# mix with the program's output.
is_prefix "$WINEPREFIX" || boot_prefix

run_program "$@"
exit $?
