#!/bin/sh
# returnflow: add up the results of several test runs (`make test`: release and
# sanitizer builds).
#
#   sh tests/summary.sh build/release build/san [build/release/valgrind-results.txt]
#
# Reads DIR/test-results.txt (written by tests/run-tests.sh) for each DIR, prints
# one line per DIR (and under it the reason each failed test gave), then the
# totals as the last line: `N passed, N failed`.
# A missing results file (that run did not finish, e.g. the build failed) counts
# as one failure. Exits 1 if anything failed, a file was missing, or no test ran.
set -eu

[ $# -ge 1 ] || { echo "summary.sh: usage: summary.sh DIR..." >&2; exit 1; }

total_passed=0
total_failed=0
missing=0
for dir in "$@"; do
    # A DIR names a build's results; a file names one results file directly
    # (the valgrind pass writes build/release/valgrind-results.txt).
    if [ -f "$dir" ]; then f=$dir; else f=$dir/test-results.txt; fi
    if [ ! -r "$f" ]; then
        echo "summary: $dir: no $f (that test run did not finish); counted as 1 failure" >&2
        missing=$((missing + 1))
        total_failed=$((total_failed + 1))
        continue
    fi
    p=$(awk '$1 == "passed" { print $2 + 0; found = 1 } END { if (!found) print 0 }' "$f")
    fl=$(awk '$1 == "failed" { print $2 + 0; found = 1 } END { if (!found) print 0 }' "$f")
    echo "summary: $dir: passed $p, failed $fl"
    # why each failed, here at the end where a reader of the output looks first
    sed -n 's/^failure /summary:   FAIL /p' "$f"
    total_passed=$((total_passed + p))
    total_failed=$((total_failed + fl))
done

status=0
if [ "$total_failed" -gt 0 ] || [ "$missing" -gt 0 ]; then
    status=1
elif [ "$total_passed" -eq 0 ]; then
    echo "summary: no test ran" >&2
    status=1
fi
echo "$total_passed passed, $total_failed failed"
exit "$status"
