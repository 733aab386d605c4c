#!/bin/sh
# returnflow: run the test suite against one build.
#
#   sh tests/run-tests.sh BUILD_DIR          (e.g. build/release; `make check` does this)
#   RF_TESTS='proto db' sh tests/run-tests.sh build/release   only tests whose name
#                                            contains one of the words/globs
#
# Runs each unit test binary BUILD_DIR/tests/test_* (timeout 300 s each), then each
# integration scenario tests/integration/[0-9][0-9]-*.py with python3 (timeout 900 s
# each), every one in its own process, from the repository root, with RF_BUILD
# (absolute BUILD_DIR) and RF_REPO_ROOT set. Prints `PASS name (Ns)` or
# `FAIL name (Ns)` plus the last 60 lines of output per test; full output goes to
# BUILD_DIR/test-logs/<name>.log. Writes BUILD_DIR/test-results.txt (`passed N`,
# `failed N`, and a `failure NAME: why` line per failed test) for
# tests/summary.sh and ends with the line `N passed, N failed`.
# Exits 1 if any test failed or if no test ran.
set -eu

UNIT_TIMEOUT=300
INTEGRATION_TIMEOUT=900
TAIL_LINES=60

die() { echo "run-tests.sh: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: run-tests.sh BUILD_DIR (e.g. build/release)"
[ -d "$1" ] || die "no build directory '$1'; build first: make build-tests"
BUILD=$(cd "$1" && pwd -P)
ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$ROOT"
command -v timeout >/dev/null 2>&1 || die "'timeout' (coreutils) not found"

LOGS=$BUILD/test-logs
RESULTS=$BUILD/test-results.txt
# RF_VALGRIND=1: the unit tests only, each under valgrind's memcheck (any error
# or definite leak fails the test); results kept apart from the plain pass.
WRAP=""
if [ -n "${RF_VALGRIND:-}" ]; then
    command -v valgrind >/dev/null 2>&1 || die "RF_VALGRIND is set but valgrind is not installed"
    LOGS=$BUILD/valgrind-logs
    RESULTS=$BUILD/valgrind-results.txt
    WRAP="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"
    # The random-input rounds of the codec test are sized for native speed.
    RF_PROTO_FUZZ_ITER=${RF_PROTO_FUZZ_ITER:-20000}
    export RF_PROTO_FUZZ_ITER
fi
FAILURES=$RESULTS.failures
rm -f "$RESULTS" "$FAILURES"
rm -rf "$LOGS"
mkdir -p "$LOGS"

RF_BUILD=$BUILD
RF_REPO_ROOT=$ROOT
PYTHONUNBUFFERED=1
PYTHONDONTWRITEBYTECODE=1
# The proto test compares proto/WIRE.md with what this build's rf-protodoc writes.
RF_PROTODOC=$BUILD/bin/rf-protodoc
export RF_BUILD RF_REPO_ROOT RF_PROTODOC PYTHONUNBUFFERED PYTHONDONTWRITEBYTECODE

# RF_TESTS: space- or comma-separated substrings/globs; a test runs if its name
# matches any of them.
selected() {
    [ -n "${RF_TESTS:-}" ] || return 0
    for pat in $(printf '%s' "$RF_TESTS" | tr ',' ' '); do
        # shellcheck disable=SC2254 # $pat is meant as a glob
        case "$1" in *$pat*) return 0 ;; esac
    done
    return 1
}

passed=0
failed=0
child=""
on_signal() {
    [ -z "$child" ] || kill -TERM "$child" 2>/dev/null || true
    echo "run-tests.sh: interrupted" >&2
    exit 130
}
trap on_signal INT TERM HUP

# A background command starts with SIGINT/SIGQUIT ignored (POSIX sh), and a
# test would pass that on to the workers it starts: give them back the default.
RESET_SIGNALS=""
if env --default-signal=INT true 2>/dev/null; then
    RESET_SIGNALS="env --default-signal=INT,QUIT"
fi

# failure_reason LOG: why the test says it failed, on one line: the harness's
# last `FAIL name: ...` (with the two lines after it) or cmocka's first
# `[  ERROR   ]` (with the `[   LINE   ]` after it), else the log's last line.
failure_reason() {
    awk '/^FAIL / { r = $0; sub(/^FAIL [^ :]*: /, "", r); n = 2; next }
         /^\[  ERROR   \]/ && r == "" { r = $0; n = 1; next }
         n > 0 { r = r " | " $0; n-- }
         NF { last = $0 }
         END { s = (r != "" ? r : last); print substr(s, 1, 400) }' "$1"
}

# run_one NAME TIMEOUT COMMAND...
run_one() {
    name=$1 limit=$2
    shift 2
    log=$LOGS/$name.log
    start=$(date +%s)
    rc=0
    # timeout makes its own process group and kills all of it (a scenario's
    # workers too) when the time is up; -k: SIGKILL 10 s after SIGTERM.
    # shellcheck disable=SC2086 # $RESET_SIGNALS is empty or a command prefix
    timeout -k 10 "$limit" $RESET_SIGNALS "$@" </dev/null >"$log" 2>&1 &
    child=$!
    wait "$child" || rc=$?
    child=""
    secs=$(($(date +%s) - start))
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        echo "PASS $name (${secs}s)"
    else
        failed=$((failed + 1))
        case "$rc" in
            124|137) why="timed out after ${limit}s" ;;
            *) if [ "$rc" -gt 128 ]; then why="killed by signal $((rc - 128))"; else why="exit status $rc"; fi ;;
        esac
        echo "FAIL $name (${secs}s) $why"
        echo "---- last $TAIL_LINES lines of $log ----"
        tail -n "$TAIL_LINES" "$log"
        echo "---- end of $name ----"
        printf 'failure %s: %s: %s\n' "$name" "$why" "$(failure_reason "$log")" >>"$FAILURES"
    fi
}

for t in "$BUILD"/tests/test_*; do
    if [ ! -f "$t" ] || [ ! -x "$t" ]; then continue; fi
    name=${t##*/}
    selected "$name" || continue
    # shellcheck disable=SC2086 # $WRAP is empty or a command prefix
    run_one "$name" "$UNIT_TIMEOUT" $WRAP "$t"
done

for t in "$ROOT"/tests/integration/[0-9][0-9]-*.py; do
    [ -f "$t" ] || continue
    [ -z "$WRAP" ] || break
    name=${t##*/}
    name=${name%.py}
    selected "$name" || continue
    run_one "$name" "$INTEGRATION_TIMEOUT" python3 "$t"
done

printf 'passed %d\nfailed %d\n' "$passed" "$failed" >"$RESULTS"
[ ! -f "$FAILURES" ] || cat "$FAILURES" >>"$RESULTS"
if [ $((passed + failed)) -eq 0 ]; then
    if [ -n "${RF_TESTS:-}" ]; then
        echo "run-tests.sh: no test ran: RF_TESTS=\"$RF_TESTS\" matched none" >&2
    else
        echo "run-tests.sh: no test ran: no $BUILD/tests/test_* nor tests/integration/[0-9][0-9]-*.py" >&2
    fi
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ $((passed + failed)) -gt 0 ]
