#!/bin/sh
# returnflow: run every libFuzzer target for a bounded time.
#
#   sh tests/fuzz/run.sh BUILD_DIR SECONDS     (make fuzz does this)
#
# Each BUILD_DIR/fuzz/fuzz_<what> runs for SECONDS from a copy of its seed
# corpus tests/fuzz/corpus/fuzz_<what>/ (so the committed corpus only changes
# when someone adds a regression input on purpose). A crash, leak or timeout
# fails the target; its input is kept in BUILD_DIR/fuzz/crashes/. Prints each
# target's executed runs and ends with `N passed, N failed` (also written to
# BUILD_DIR/fuzz/results.txt for tests/summary.sh).
set -eu

[ $# -eq 2 ] || { echo "usage: run.sh BUILD_DIR SECONDS" >&2; exit 2; }
BUILD=$1
SECS=$2
ROOT=$(cd "$(dirname "$0")/../.." && pwd -P)
passed=0
failed=0
mkdir -p "$BUILD/fuzz/crashes"
for bin in "$BUILD"/fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    name=${bin##*/}
    work=$BUILD/fuzz/work/$name
    rm -rf "$work"
    mkdir -p "$work"
    seeds=$ROOT/tests/fuzz/corpus/$name
    [ -d "$seeds" ] && cp "$seeds"/* "$work"/ 2>/dev/null || true
    log=$BUILD/fuzz/$name.log
    rc=0
    ASAN_OPTIONS=detect_leaks=1 "$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$BUILD/fuzz/crashes/$name-" "$work" >"$log" 2>&1 || rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        echo "PASS $name: ${runs:-?} runs in ${SECS}s, corpus $(ls "$work" | wc -l) inputs"
    else
        failed=$((failed + 1))
        echo "FAIL $name (exit $rc): see $log; inputs in $BUILD/fuzz/crashes/"
        tail -n 30 "$log"
    fi
done
printf 'passed %d\nfailed %d\n' "$passed" "$failed" >"$BUILD/fuzz/results.txt"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
