#!/usr/bin/env bash
# tests/run.sh -- the one command to build and test the host; the README's
# quick start calls it, and so does CI (.ci/run).
#
#   bash tests/run.sh echo    build, then serve scripts/examples/echo.lua on
#                             127.0.0.1:4567 (Ctrl-C stops it)
#   bash tests/run.sh all     build three ways (release with -Werror,
#                             ASan+UBSan, the Windows cross build) and run
#                             every suite on every backend
#   bash tests/run.sh linux   the Linux builds and suites only
#   bash tests/run.sh conformance N
#                             the conformance test (tests/conformance/) with
#                             N seeds on io_uring and on epoll (release
#                             build), then their transcripts compared; with
#                             HOST_CONFORMANCE_WINE=1 on IOCP under Wine too
#
# Missing Debian packages are installed first (as root, with apt-get).
# Every suite prints "N passed, N failed" last; the summary at the end
# lists them all, and the exit status is non-zero if any suite failed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# suite, skip, print_summary, configure, ctest_suite
source tests/lib.sh
mode=${1:-all}
jobs=$(nproc 2>/dev/null || echo 2)

PACKAGES=(gcc make cmake pkg-config liblua5.4-dev liburing-dev lua-cjson python3
          clang-format libssl-dev openssl ca-certificates
          curl wrk apache2-utils python3-websocket nodejs) # the HTTP e2e tests' clients

ensure_packages() {
    bash cmake/apt-ensure.sh "${PACKAGES[@]}"
}

build() { # build DIR [cmake options...]
    local dir=$1
    shift
    # Warnings and what was not found (liburing, say) stay visible.
    configure -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHOST_WERROR=ON "$@"
    cmake --build "$dir" -j "$jobs"
}

# ---- suites ----------------------------------------------------------------

script_tests() { # HOST BACKEND
    HOST_EXPECT_BACKEND=$2 "$1" --backend "$2" test tests/lua scripts/examples
}

# The TLS tests' private PKI, made once per run (tests/tools/make-certs.sh).
certs_dir=$(mktemp -d "${TMPDIR:-/tmp}/host-certs.XXXXXX")
trap 'rm -rf "$certs_dir"' EXIT
export HOST_TEST_CERTS=$certs_dir/pki

e2e_tests() { # HOST BACKEND
    python3 tests/e2e/run.py --host "$1" --backend "$2"
}

fault_walk() { # HOST BACKEND
    python3 tests/fault/walk.py "$1" --backend "$2"
}

conformance() { # HOST BACKEND [SEEDS...]
    bash tests/conformance/run.sh "$@"
}

export -f script_tests e2e_tests fault_walk conformance

# backend_usable HOST BACKEND: succeeds where the backend runs; else
# prints why not (Docker's default seccomp profile blocks io_uring, so
# does kernel.io_uring_disabled) and fails.
backend_usable() {
    # shellcheck disable=SC2069 # the order is meant: stderr out, stdout away
    "$1" --backend "$2" --version 2>&1 >/dev/null
}

linux_suites() { # BUILD_DIR LABEL
    local dir=$1 label=$2 why
    suite "unit ($label)" 600 ctest_suite "$dir"
    for backend in io_uring epoll; do
        # Where io_uring is blocked its suites cannot run: say so, loudly.
        if ! why=$(backend_usable "$dir/host" "$backend"); then
            skip "$backend ($label)" "$why"
            continue
        fi
        suite "script-level, $backend ($label)" 600 script_tests "$dir/host" "$backend"
        suite "end-to-end, $backend ($label)" 900 e2e_tests "$dir/host" "$backend"
        if [[ $label == release ]]; then
            suite "conformance, $backend ($label)" 300 conformance "$dir/host" "$backend"
        fi
    done
}

# The conformance mode: N seeds on each backend, then the transcripts of
# the same seeds compared across backends.
conformance_mode() { # N
    local n=$1 saved backend why
    saved=$(mktemp -d "${TMPDIR:-/tmp}/host-conform-saved.XXXXXX")
    for backend in io_uring epoll; do
        if ! why=$(backend_usable build/host "$backend"); then
            skip "conformance, $backend" "$why"
            continue
        fi
        CONFORM_SAVE=$saved/$backend suite "conformance, $backend ($n seeds)" $((n + 600)) \
            conformance build/host "$backend" "$n" probes
    done
    if [[ ${HOST_CONFORMANCE_WINE:-0} == 1 ]]; then
        local win=${HOST_WIN_BUILD:-build-win}
        if [[ ! -x $win/host.exe ]]; then
            bash cmake/apt-ensure.sh gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 wine wine64 dpkg-dev
            cmake -S . -B "$win" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
                -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake -DHOST_WERROR=ON >/dev/null
            cmake --build "$win" -j "$jobs"
        fi
        CONFORM_SAVE=$saved/iocp suite "conformance, iocp (Wine, $n seeds)" $((3 * n + 600)) \
            conformance "cmake/wine-run.sh $win/host.exe" iocp "$n" probes
    fi
    suite "conformance, backends compared" 600 \
        bash -c 'python3 tests/conformance/conform.py compare "$1"/*' compare "$saved"
    rm -rf "$saved"
}

# ---- modes -------------------------------------------------------------------

case $mode in
echo)
    ensure_packages
    build build
    echo "serving scripts/examples/echo.lua on 127.0.0.1:4567 (Ctrl-C stops)"
    exec build/host scripts/examples/echo.lua
    ;;
all | linux)
    ensure_packages
    bash tests/tools/make-certs.sh "$HOST_TEST_CERTS" >/dev/null
    echo "== build: release (-Werror), with the bench tools"
    build build -DHOST_BENCH=ON
    linux_suites build release
    echo "== build: ASan + UBSan, with fault injection"
    build build-asan -DHOST_SANITIZE=ON -DHOST_FAULT_INJECTION=ON -DHOST_BENCH=OFF
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        linux_suites build-asan sanitizers
    for backend in io_uring epoll; do
        if why=$(backend_usable build-asan/host "$backend"); then
            suite "fault walk, $backend (sanitizers)" 900 fault_walk build-asan/host "$backend"
        else
            skip "fault walk, $backend (sanitizers)" "$why"
        fi
    done
    # Every parser of network input, fuzzed briefly from its seed corpus
    # (the corpora also replay in every ctest run above).
    suite "fuzz, 20 s per target (clang)" 900 bash tests/fuzz/run.sh 20
    if [[ $mode == all ]]; then
        if [[ -f tests/windows.sh ]]; then
            suite "windows (cross build, Wine)" 2400 bash tests/windows.sh
        else
            record "windows: tests/windows.sh missing" "0 passed, 1 failed"
        fi
    fi
    print_summary "summary"
    exit $((total_failed > 0 ? 1 : 0))
    ;;
conformance)
    ensure_packages
    build build
    conformance_mode "${2:-2000}"
    print_summary "summary"
    exit $((total_failed > 0 ? 1 : 0))
    ;;
*)
    echo "usage: bash tests/run.sh [echo|all|linux|conformance N]" >&2
    exit 2
    ;;
esac
