#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS] -- builds every libFuzzer target with clang
# (HOST_FUZZ=ON, into build-fuzz/) and runs each for SECONDS (default 30)
# on a temporary copy of its corpus, so the seeds in git stay as they are.
# Prints one line per target, then "N passed, N failed".  A target that
# crashes or breaks an invariant fails; its crashing input is kept in
# build-fuzz/crashes/<name>/ (add it to tests/fuzz/corpus/<name>/ once
# fixed, as a regression seed).  Runs under nice: the machine is shared.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root" || exit 1
seconds=${1:-30}
build=build-fuzz
jobs=$(nproc 2>/dev/null || echo 2)

command -v clang >/dev/null || bash cmake/apt-ensure.sh clang || exit 1

targets=()
for src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    targets+=("${name#fuzz_}")
done

if ! CC=clang cmake -S . -B "$build" -DHOST_FUZZ=ON -DHOST_BENCH=OFF \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null ||
   ! nice cmake --build "$build" -j "$jobs" \
        --target "${targets[@]/#/fuzz_}" >/dev/null; then
    echo "fuzz: build failed"
    echo "0 passed, 1 failed"
    exit 1
fi

passed=0
failed=0
results=()
for name in "${targets[@]}"; do
    work=$(mktemp -d)
    crashes="$build/crashes/$name"
    mkdir -p "$work/corpus" "$crashes"
    cp -r "tests/fuzz/corpus/$name/." "$work/corpus/" 2>/dev/null || true
    log="$build/fuzz_$name.log"
    status=0
    nice "$build/tests/fuzz/fuzz_$name" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$crashes/" "$work/corpus" >"$log" 2>&1 || status=$?
    runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" |
           grep -oE '[0-9]+$' | tail -n 1)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1)
    rm -rf "$work"
    if ((status == 0)); then
        passed=$((passed + 1))
        results+=("$(printf 'ok     fuzz_%-10s %ss, %s runs, %s' "$name" "$seconds" "${runs:-?}" "${cov:-cov: ?}")")
    else
        failed=$((failed + 1))
        results+=("$(printf 'FAILED fuzz_%-10s exit %s, see %s and %s/' "$name" "$status" "$log" "$crashes")")
    fi
done
printf '%s\n' "${results[@]}"
echo "$passed passed, $failed failed"
((failed == 0))
