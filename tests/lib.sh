# shellcheck shell=bash
# tests/lib.sh -- the suite bookkeeping that tests/run.sh and
# tests/windows.sh share; both source it.
#
# Every suite prints "N passed, N failed" as its last such line.  suite()
# runs one with a time limit, shows its output, keeps that line and adds
# it to the summary; skip() adds a suite that cannot run here;
# print_summary() prints one line per suite and the total last, in the
# same format, which is what CI reads.  Also here: configure(), cmake's
# configure step with its status chatter dropped but every warning and
# "not found" kept, and ctest_suite(), ctest's result in the suite format.
#
# The caller's shell options stay the caller's: suite() turns `set -e`
# off while a suite runs and back on if it was.

summary=()        # one line per suite, in order
failures=()       # what each failed suite said of its failures
total_passed=0
total_failed=0
SUITE_WIDTH=36    # the name column of the summary (fits the longest)

# record NAME "N passed, N failed[ note]" [STATUS]: adds a suite's
# result; a non-zero STATUS with no failure counted counts as one.
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
    summary+=("$(printf "%-${SUITE_WIDTH}s %s" "$name" "$line")")
}

# skip NAME WHY: a suite that cannot run here; said at once and in the
# summary, counted neither way.
skip() {
    local name=$1 why=$2
    echo "== $name skipped: $why"
    summary+=("$(printf "%-${SUITE_WIDTH}s %s" "$name" "SKIPPED: $why")")
}

# suite NAME LIMIT_SECONDS COMMAND...: runs COMMAND (a program, or a
# function the caller exported with `export -f`) in a child bash, killed
# after LIMIT_SECONDS; records its last "N passed, N failed" line.
suite() {
    local name=$1 limit=$2 log status=0 last
    shift 2
    log=$(mktemp)
    echo
    echo "== $name"
    # The suite's own status, not tee's, whatever the caller's options.
    local errexit=0
    [[ $- == *e* ]] && errexit=1
    set +e
    timeout --kill-after=10 "$limit" bash -c '"$@"' suite "$@" 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    ((errexit)) && set -e
    # Wine's programs end their lines with \r\n.
    last=$(tr -d '\r' <"$log" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1 || true)
    # CI shows only the end of a run: keep the lines that name what
    # failed, with a few either side (t.h prints its assertion before
    # "not ok", ctest the output after "***Failed"), for the digest
    # before the summary, so a failure far up the log is still seen.
    if ((status != 0)) || [[ -z $last || $last != *" 0 failed" ]]; then
        failures+=("-- $name:")
        mapfile -t -O "${#failures[@]}" failures < <(tr -d '\r' <"$log" |
            grep -E -B3 -A3 '^not ok|\*\*\*(Failed|Timeout|Exception)|^FAIL' |
            head -n 40 || true)
    fi
    rm -f "$log"
    if [[ -z $last ]]; then
        if ((status == 124)); then
            last="0 passed, 1 failed (timed out after $limit s)"
        else
            last="0 passed, 1 failed (no summary; exit $status)"
        fi
        status=1
    fi
    record "$name" "$last" "$status"
}

# print_summary [TITLE]: the summary, the total last.
print_summary() {
    local line
    if ((${#failures[@]})); then
        echo
        echo "== what failed"
        for line in "${failures[@]}"; do
            echo "$line"
        done
    fi
    echo
    echo "== ${1:-summary}"
    for line in "${summary[@]}"; do
        echo "$line"
    done
    echo "$total_passed passed, $total_failed failed"
}

# configure ARGS...: cmake ARGS, showing warnings, errors and whatever
# it did not find ("No package 'liburing' found") but not its "-- "
# status lines; cmake's exit status.
configure() {
    cmake "$@" 2>&1 | awk '
        !/^-- / || tolower($0) ~ /not found|no package|could not|missing|warn|error/
    '
    return "${PIPESTATUS[0]}"
}

# ctest_suite BUILD_DIR [--rerun-silent]: runs ctest there and ends with
# its result in the suite format.  --rerun-silent (Wine): a test that
# failed printing nothing, or only Wine's own lines ("wine client error:0:
# recvmsg: Connection reset by peer"), never got to run (Wine's process
# start fails now and then, in a hundredth of a second); when every
# failure is of that kind they run once more and count by their second
# run, said in the result.  A test that printed a line of its own counts
# as it ran.
ctest_suite() {
    local out status=0 total failed silent=() names again
    out=$(cd "$1" && ctest --output-on-failure --timeout 120 2>&1) || status=$?
    printf '%s\n' "$out"
    total=$(grep -oE 'tests failed out of [0-9]+' <<<"$out" | grep -oE '[0-9]+$' || echo 0)
    failed=$(grep -oE '[0-9]+ tests failed' <<<"$out" | grep -oE '^[0-9]+' || echo 0)
    if [[ ${2:-} == --rerun-silent ]] && ((failed > 0)); then
        # "N/M Test  #K: name ....***Failed", then its output up to the
        # next test's "Start" line (or ctest's closing lines).
        mapfile -t silent < <(awk '
            function done_test() { if (name != "" && own == 0) print name; name = "" }
            /^ *Start +[0-9]+:|^ *[0-9]+\/[0-9]+ Test|tests passed|tests failed/ { done_test() }
            name != "" && NF > 0 && !/^wine/ { own = 1 }
            /\*\*\*Failed/ { name = $4; own = 0 }
            END { done_test() }
        ' <<<"$out")
    fi
    if ((${#silent[@]} > 0 && ${#silent[@]} == failed)); then
        names=$(printf '^%s$|' "${silent[@]}")
        echo "== ${#silent[@]} test(s) failed without a line of output (${silent[*]}): once more"
        again=0
        (cd "$1" && ctest --output-on-failure --timeout 120 -R "${names%|}") || again=$?
        if ((again == 0)); then
            echo "# ${silent[*]}: passed when run again"
            echo "$total passed, 0 failed"
            return 0
        fi
    fi
    echo "$((total - failed)) passed, $failed failed"
    return "$status"
}
export -f ctest_suite
