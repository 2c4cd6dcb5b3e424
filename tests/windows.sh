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
# Each suite ends with its "N passed, N failed" line; the last line of
# the output is the total.  The exit status is non-zero if anything failed.
# The prefix and its wineserver are removed on every exit path.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
build=${HOST_WIN_BUILD:-build-win}
jobs=$(nproc 2>/dev/null || echo 2)
t_start=$SECONDS

say() { printf '%s\n' "$*"; }

total_passed=0
total_failed=0
summary=()

# record NAME "N passed, N failed" [STATUS]: adds a suite's result.
record() {
    local name=$1 line=$2 status=${3:-0} p f
    p=$(awk '{print $1}' <<<"$line")
    f=$(awk '{print $3}' <<<"$line")
    if ((status != 0 && f == 0)); then
        f=1
        line="$line (but exit $status)"
    fi
    total_passed=$((total_passed + p))
    total_failed=$((total_failed + f))
    summary+=("$(printf '%-32s %s' "$name" "$line")")
}

# suite NAME LIMIT COMMAND...: runs it with a time limit, keeps its last
# summary line.
suite() {
    local name=$1 limit=$2 log status=0 last
    shift 2
    log=$(mktemp)
    say ""
    say "== $name"
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$log" || status=$?
    last=$(tr -d '\r' <"$log" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1 || true)
    rm -f "$log"
    if [[ -z $last ]]; then
        last="0 passed, 1 failed"
        ((status == 124)) && last="$last (timed out after $limit s)"
        ((status == 124)) || last="$last (no summary; exit $status)"
        status=1
    fi
    record "$name" "$last" "$status"
}

finish() {
    say ""
    say "== summary (windows, $((SECONDS - t_start)) s)"
    local line
    for line in "${summary[@]}"; do
        say "$line"
    done
    say "$total_passed passed, $total_failed failed"
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
if ! cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake -DHOST_WERROR=ON >/dev/null ||
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

# ctest's own summary, in the suite format.
unit_tests() {
    local out status=0 total failed
    out=$(ctest --test-dir "$build" --output-on-failure --timeout 120 2>&1) || status=$?
    printf '%s\n' "$out"
    total=$(grep -oE 'tests failed out of [0-9]+' <<<"$out" | grep -oE '[0-9]+$' || echo 0)
    failed=$(grep -oE '[0-9]+ tests failed' <<<"$out" | grep -oE '^[0-9]+' || echo 0)
    echo "$((total - failed)) passed, $failed failed"
    return "$status"
}

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

# timeout runs programs, not functions: the suites run in a child bash.
export build jobs
export -f unit_tests script_tests script_tests_noskip e2e_tests bench_check
suite "unit (Wine)" 600 bash -c unit_tests
suite "script-level, iocp (Wine)" 600 bash -c script_tests
suite "script-level, iocp, no skip (Wine)" 600 bash -c script_tests_noskip
suite "end-to-end, iocp (Wine)" 900 bash -c e2e_tests
suite "bench correctness, iocp (Wine)" 600 bash -c bench_check
finish
