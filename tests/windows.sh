#!/usr/bin/env bash
# shellcheck disable=SC2317  # cleanup and the suites run via trap / bash -c
# tests/windows.sh -- cross-build host.exe with MinGW-w64 and run every
# suite on it under Wine.  tests/run.sh (and so .ci/run) calls it.
#
#   bash tests/windows.sh            build into build-win/, run the suites
#   HOST_WIN_BUILD=DIR bash tests/windows.sh      build into DIR instead
#
# Steps: install what is missing (apt, through cmake/apt-ensure.sh, as
# root), configure with cmake/mingw-w64-x86_64.cmake (its Lua recipe
# fetches Debian's lua5.4 source once, then works offline; the OpenSSL
# recipe builds Debian's openssl once per machine, about 3 minutes, into
# ~/.cache/host-openssl, then reuses it), build with
# -Werror, check that host.exe needs no DLL beside it, make one Wine
# prefix in a temp dir with a persistent wineserver (each program start
# is then ~0.3 s instead of ~4 s), and run:
#   unit            ctest through the emulator (test_io_*.exe on iocp, with
#                   and without skip-on-success, and the other unit tests)
#   script-level    host.exe test tests/lua scripts/examples (iocp)
#   (no skip)       the same with HOST_IOCP_SKIP=0
#   end-to-end      tests/e2e/run.py with the host under Wine
#   bench check     bench/wine-check: the load generator verifies every
#                   echoed byte from host.exe (correctness, not speed)
#   conformance     tests/conformance/run.sh: the fixed set of seeds on IOCP
# Each suite ends with its "N passed, N failed" line; the last line of
# the output is the total.  The exit status is non-zero if anything failed.
# The prefix and its wineserver are removed on every exit path.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
build=${HOST_WIN_BUILD:-build-win}
jobs=$(nproc 2>/dev/null || echo 2)
t_start=$SECONDS

# record, suite, skip, print_summary, configure, ctest_suite
source tests/lib.sh

say() { printf '%s\n' "$*"; }

finish() {
    print_summary "summary (windows, $((SECONDS - t_start)) s)"
    ((total_failed == 0))
    exit
}

# ---- tools ---------------------------------------------------------------
say "== tools"
if ! bash cmake/apt-ensure.sh cmake gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 \
        wine wine64 python3 dpkg-dev perl make; then
    record "tools" "0 passed, 1 failed"
    finish
fi
generator=()
if [[ ! -f $build/CMakeCache.txt ]] && command -v ninja >/dev/null; then
    generator=(-G Ninja)
fi

# ---- build ---------------------------------------------------------------
say "== build: $build (MinGW-w64, -Werror)"
t0=$SECONDS
if ! configure -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake -DHOST_WERROR=ON ||
   ! cmake --build "$build" -j "$jobs"; then
    record "build" "0 passed, 1 failed"
    finish
fi
say "built in $((SECONDS - t0)) s"
# host.exe must run alone: only DLLs that come with Windows.
dlls=$(x86_64-w64-mingw32-objdump -p "$build/host.exe" | awk '/DLL Name:/ {print $3}')
say "host.exe imports: $(tr '\n' ' ' <<<"$dlls")"
# crypt32 (the ROOT certificate store) and bcrypt come with OpenSSL.
foreign=$(grep -viE '^(kernel32|ws2_32|mswsock|advapi32|msvcrt|user32|ntdll|crypt32|bcrypt)\.dll$' <<<"$dlls" || true)
if [[ -n $foreign ]]; then
    say "host.exe needs DLLs that Windows does not have: $foreign"
    record "build" "0 passed, 1 failed"
    finish
fi
record "build" "1 passed, 0 failed"

# ---- Wine ------------------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/host-windows.XXXXXX")
export WINEPREFIX=$tmp/prefix WINEDEBUG=-all
cleanup() {
    cmake/wine-run.sh --kill >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
t0=$SECONDS
if ! cmake/wine-run.sh --init "$WINEPREFIX" >/dev/null; then
    record "wine prefix" "0 passed, 1 failed"
    finish
fi
wineserver -p # persistent until the cleanup's --kill
say "Wine prefix ready in $((SECONDS - t0)) s: $WINEPREFIX"

# The TLS tests' certificates, made on the Linux side (Wine reads /tmp).
export HOST_TEST_CERTS=$tmp/pki
bash tests/tools/make-certs.sh "$HOST_TEST_CERTS" >/dev/null

script_tests() {
    HOST_EXPECT_BACKEND=iocp cmake/wine-run.sh "$build/host.exe" test tests/lua scripts/examples
}

script_tests_noskip() {
    HOST_IOCP_SKIP=0 script_tests
}

e2e_tests() {
    python3 tests/e2e/run.py --host-cmd "cmake/wine-run.sh $build/host.exe" --wine
}

# The load generator (a Linux program) against host.exe: every echoed
# byte checked, under load; a correctness run, Wine's speed means nothing.
bench_check() {
    if [ ! -x build/bench/loadgen ]; then
        cmake -S . -B build -DHOST_BENCH=ON >/dev/null &&
            cmake --build build --target loadgen -j "$jobs" >/dev/null || return 1
    fi
    bench/wine-check "cmake/wine-run.sh $build/host.exe" build/bench/loadgen
}

conformance() {
    bash tests/conformance/run.sh "cmake/wine-run.sh $build/host.exe" iocp
}

# The suites run in a child bash (timeout runs programs, not functions).
export build jobs
export -f script_tests script_tests_noskip e2e_tests bench_check conformance
suite "unit (Wine)" 600 ctest_suite "$build" --rerun-silent
suite "script-level, iocp (Wine)" 600 script_tests
suite "script-level, iocp, no skip (Wine)" 600 script_tests_noskip
suite "end-to-end, iocp (Wine)" 900 e2e_tests
suite "bench correctness, iocp (Wine)" 600 bench_check
suite "conformance, iocp (Wine)" 600 conformance
finish
