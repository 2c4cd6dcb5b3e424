#!/usr/bin/env bash
# tests/fuzz/run.sh -- builds the libFuzzer targets with clang into
# build-fuzz/ and runs each for a while on a copy of its seed corpus.
#
#   bash tests/fuzz/run.sh [SECONDS] [TARGET...]
#
#   SECONDS   per target (default 30); e.g. `bash tests/fuzz/run.sh 20` in
#             CI, `bash tests/fuzz/run.sh 3600` for a long run
#   TARGET    names such as http_request (default: every fuzz_* built)
#
# Environment: FUZZ_JOBS=N runs N targets at once (default 1), FUZZ_NICE=0
# skips `nice`.  The repository's corpus is never changed: each run works
# on a copy in a temp dir, so new interesting inputs are not committed.
# A crash, leak, timeout or broken invariant leaves its input in
# build-fuzz/findings/<target>/ (add it to tests/fuzz/corpus/<target>/ as
# regress-<what> once fixed).  Prints one line per target, then
# "N passed, N failed"; the exit status is non-zero if any failed.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root" || exit 1
secs=${1:-30}
shift || true
jobs=${FUZZ_JOBS:-1}
nice_cmd=(nice -n 10)
[[ ${FUZZ_NICE:-1} == 0 ]] && nice_cmd=()

if ! command -v clang >/dev/null; then
    bash cmake/apt-ensure.sh clang || exit 1
fi
# libFuzzer's runtime comes with clang's compiler-rt package on Debian.
dpkg-query -W -f='${db:Status-Status}' libclang-rt-dev 2>/dev/null | grep -q installed ||
    bash cmake/apt-ensure.sh libclang-rt-dev || true

echo "== build (clang, libFuzzer + ASan + UBSan) into build-fuzz/"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DHOST_FUZZ=ON -DHOST_BENCH=OFF >/dev/null || exit 1
cmake --build build-fuzz -j "$(nproc 2>/dev/null || echo 2)" --target fuzz_all || exit 1

if (($# == 0)); then
    mapfile -t targets < <(cd build-fuzz/fuzz && ls fuzz_* | sed 's/^fuzz_//')
else
    targets=("$@")
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# run_one NAME: fuzzes one target, writes its verdict to $work/NAME.result.
run_one() {
    local name=$1 exe=build-fuzz/fuzz/fuzz_$1 corpus=$work/corpus-$1
    local found=build-fuzz/findings/$1 log=$work/$1.log status
    mkdir -p "$corpus" "$found"
    cp -r "tests/fuzz/corpus/$name/." "$corpus/" 2>/dev/null
    local start=$SECONDS
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "${nice_cmd[@]}" "$exe" "$corpus" -max_total_time="$secs" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$found/" >"$log" 2>&1
    status=$?
    local runs cov
    runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo "?")
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+' || echo "?")
    if ((status == 0)); then
        printf '%-16s ok    %ss, %s runs, cov %s\n' "$name" "$((SECONDS - start))" "$runs" "$cov" >"$work/$name.result"
    else
        printf '%-16s FAIL  exit %s, input in %s (log: %s)\n' "$name" "$status" "$found" \
            "build-fuzz/findings/$name.log" >"$work/$name.result"
        cp "$log" "build-fuzz/findings/$name.log"
        grep -E 'ERROR|invariant failed|SUMMARY' "$log" | head -n 5 >>"$work/$name.result"
    fi
}

echo "== fuzzing ${#targets[@]} targets, ${secs}s each, $jobs at a time"
running=0
for t in "${targets[@]}"; do
    if [[ ! -x build-fuzz/fuzz/fuzz_$t ]]; then
        printf '%-16s FAIL  no such target\n' "$t" >"$work/$t.result"
        continue
    fi
    run_one "$t" &
    running=$((running + 1))
    if ((running >= jobs)); then
        wait -n
        running=$((running - 1))
    fi
done
wait

passed=0
failed=0
for t in "${targets[@]}"; do
    cat "$work/$t.result"
    if grep -q '^[^ ]* *ok ' "$work/$t.result"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
((failed == 0))
