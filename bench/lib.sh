# shellcheck shell=bash disable=SC2034
# bench/lib.sh: shell functions shared by bench/run and bench/selftest.
#
# Sourced, not executed. It installs the Debian packages the benchmarks need,
# builds the bench tools (and the host, when the project has one), and
# starts and stops servers so that a server is always pinned, bounded by
# `timeout`, known by its own PID (for /proc sampling), proven to echo
# before it is loaded, and killed on exit whatever happens. Every wait here
# is a bounded loop.

BENCH_DIR=${BENCH_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
ROOT=$(dirname "$BENCH_DIR")
BUILD=${BENCH_BUILD:-$ROOT/build-bench}
LOGDIR=${BENCH_LOGS:-$BUILD/logs}
SRV_CPU=${BENCH_SERVER_CPU:-0}       # core for the server under test
LG_CPU=${BENCH_LOADGEN_CPU:-1}       # core for the load generator
SRV_LIMIT=${BENCH_SERVER_LIMIT:-600} # seconds any one server may live

SRV_TPID=""   # the `timeout` wrapping the current server
SRV_PID=""    # the server process itself
LG_PID=""     # a load generator running in the background
BIN=""        # directory holding loadgen, echo_uring, echo_epoll
HOST_BIN=""   # the host binary, empty when it does not exist (yet)

say() { printf '%s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# Installs missing Debian packages: lua5.4, lua-luv, liburing-dev, the
# toolchain, node. apt-get update runs only when something is missing.
ensure_packages() {
    local missing=() pkg
    command -v cmake >/dev/null || missing+=(cmake)
    command -v cc >/dev/null || missing+=(gcc)
    command -v make >/dev/null || missing+=(make)
    command -v pkg-config >/dev/null || missing+=(pkg-config)
    command -v lua5.4 >/dev/null || missing+=(lua5.4)
    command -v node >/dev/null || missing+=(nodejs)
    command -v taskset >/dev/null || missing+=(util-linux)
    command -v timeout >/dev/null || missing+=(coreutils)
    for pkg in liburing-dev lua-luv; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
            grep -q 'ok installed' || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing: ${missing[*]}"
    [ "$(id -u)" -eq 0 ] || die "need root to install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 ||
        die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >&2 ||
        die "apt-get install ${missing[*]} failed"
}

# Builds loadgen, echo_uring and echo_epoll in Release mode, through the
# project's top-level CMakeLists.txt when it includes bench/, else through
# a throwaway top level. Then tries the host target; its absence is fine.
build_tools() {
    local top=$BUILD/standalone
    if [ -n "${BENCH_BIN:-}" ]; then     # prebuilt tools, e.g. sanitized
        BIN=$BENCH_BIN
        [ -x "$BIN/loadgen" ] || die "no loadgen in $BIN"
        return 0
    fi
    mkdir -p "$LOGDIR"
    # the build tree ignores itself, so git status stays clean
    [ -f "$BUILD/.gitignore" ] || echo '*' >"$BUILD/.gitignore"
    if [ -f "$ROOT/CMakeLists.txt" ] &&
        cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
            >"$LOGDIR/configure.log" 2>&1 &&
        cmake --build "$BUILD" -j "$(nproc)" --target loadgen echo_uring \
            echo_epoll >"$LOGDIR/build.log" 2>&1; then
        BIN=$BUILD/bench
        if cmake --build "$BUILD" -j "$(nproc)" --target host \
            >"$LOGDIR/build-host.log" 2>&1; then
            find_host
        else
            say "note: no buildable 'host' target (see $LOGDIR/build-host.log)"
        fi
    else
        [ -f "$ROOT/CMakeLists.txt" ] &&
            say "note: top-level build did not give the bench targets;" \
                "building bench/ on its own (see $LOGDIR/*.log)"
        mkdir -p "$top/src"
        cat >"$top/src/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.16)
project(bench_standalone C)
enable_testing()
add_subdirectory("$BENCH_DIR" bench)
EOF
        cmake -S "$top/src" -B "$top/build" -DCMAKE_BUILD_TYPE=Release \
            >"$LOGDIR/configure-standalone.log" 2>&1 ||
            { cat "$LOGDIR/configure-standalone.log" >&2; die "configure failed"; }
        cmake --build "$top/build" -j "$(nproc)" \
            >"$LOGDIR/build-standalone.log" 2>&1 ||
            { cat "$LOGDIR/build-standalone.log" >&2; die "build failed"; }
        BIN=$top/build/bench
    fi
    [ -x "$BIN/loadgen" ] || die "no loadgen in $BIN"
}

find_host() {
    if [ -x "$BUILD/host" ]; then
        HOST_BIN=$BUILD/host
    else
        HOST_BIN=$(find "$BUILD" -maxdepth 3 -path '*/CMakeFiles' -prune -o \
            -type f -name host -perm -u+x -print 2>/dev/null | head -n 1)
    fi
}

# start_server NAME PORT CMD...: runs CMD pinned to SRV_CPU under timeout,
# sets SRV_TPID/SRV_PID, and returns once one echo has gone through
# (0), or 1 if the server died or never echoed within 10 s. With
# PROBE=connect it only waits until the port accepts connections; with
# PROBE=tls the echo goes over TLS (loadgen --tls).
start_server() {
    local name=$1 port=$2 out
    shift 2
    mkdir -p "$LOGDIR"
    (cd "$ROOT" && exec timeout -k 3 "$SRV_LIMIT" taskset -c "$SRV_CPU" "$@" \
        >"$LOGDIR/$name.stdout" 2>"$LOGDIR/$name.stderr") &
    SRV_TPID=$!
    SRV_PID=""
    for _ in $(seq 100); do
        SRV_PID=$(awk '{print $1}' \
            "/proc/$SRV_TPID/task/$SRV_TPID/children" 2>/dev/null || true)
        [ -n "$SRV_PID" ] && break
        sleep 0.02
    done
    if [ -z "$SRV_PID" ]; then
        say "$name: did not start"
        stop_server
        return 1
    fi
    if [ "${PROBE:-echo}" = connect ]; then
        for _ in $(seq 200); do
            timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" \
                2>/dev/null && return 0
            kill -0 "$SRV_PID" 2>/dev/null || break
            sleep 0.05
        done
    else
        # one confirmed echo; connect refusals are retried for up to 10 s
        local tls=()
        [ "${PROBE:-echo}" = tls ] && tls=(--tls)
        out=$(timeout 15 "$BIN/loadgen" --addr "127.0.0.1:$port" --idle 1 \
            --hold 0 -d 10 --timeout 2 "${tls[@]}" 2>/dev/null || true)
        case $out in
        *idle-ready*) return 0 ;;
        esac
    fi
    say "$name: no echo on port $port (see $LOGDIR/$name.stderr)"
    stop_server
    return 1
}

# Stops the current server: SIGTERM, up to 5 s, then SIGKILL.
stop_server() {
    [ -n "$SRV_TPID" ] || return 0
    if [ -n "$SRV_PID" ]; then
        kill -TERM "$SRV_PID" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$SRV_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SRV_PID" 2>/dev/null || true
    fi
    kill -TERM "$SRV_TPID" 2>/dev/null || true
    wait "$SRV_TPID" 2>/dev/null || true
    SRV_TPID=""
    SRV_PID=""
}

# Trap handler: nothing we started outlives the script.
cleanup() {
    [ -n "$LG_PID" ] && kill -TERM "$LG_PID" 2>/dev/null
    [ -n "$LG_PID" ] && wait "$LG_PID" 2>/dev/null
    LG_PID=""
    stop_server
}

# next_port: sets PORT to the next port above it that nothing listens on.
next_port() {
    for _ in $(seq 50); do
        PORT=$((PORT + 1))
        timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" 2>/dev/null ||
            return 0
    done
    die "no free port near $PORT"
}

# secs_plus A B C: A + B + C seconds, rounded up (for `timeout`).
secs_plus() { awk -v a="$1" -v b="$2" -v c="$3" 'BEGIN { printf "%d", a + b + c + 0.999 }'; }

# A server's resident set in KiB.
rss_kib() {
    awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null
}

# field KEY LINE: the value of KEY=... in a RESULT line.
field() {
    local kv
    for kv in $2; do
        case $kv in "$1"=*) printf '%s' "${kv#*=}"; return 0 ;; esac
    done
    printf 'NA'
}

# Busy share of each CPU over SECONDS, as "cpu0 N% cpu1 N%".
cpu_busy() {
    local a b
    a=$(grep -E '^cpu[0-9]+ ' /proc/stat)
    sleep "$1"
    b=$(grep -E '^cpu[0-9]+ ' /proc/stat)
    paste <(printf '%s\n' "$a") <(printf '%s\n' "$b") | awk '{
        n = NF / 2; tot = 0; idle = 0
        for (i = 2; i <= n; i++) tot += $(n + i) - $i
        idle = ($(n + 5) - $5) + ($(n + 6) - $6)
        printf "%s %.0f%% ", $1, tot ? 100 * (tot - idle) / tot : 0
    }'
}
