#!/bin/sh
# returnflow: the tree's static checks as two tests, for `make test`.
#
#   sh tests/static-checks.sh OUT_DIR        (make static-checks: build/static)
#
# format: `make format-check` (clang-format finds nothing to change);
# lint:   `make lint` (clang-tidy with .clang-tidy finds nothing).
# Prints PASS/FAIL per check with the end of its output, and writes
# OUT_DIR/test-results.txt in the form tests/run-tests.sh writes (passed N,
# failed N, a `failure NAME: why` line per failure) for tests/summary.sh.
set -u
[ $# -eq 1 ] || { echo "usage: static-checks.sh OUT_DIR" >&2; exit 2; }
cd "$(dirname "$0")/.."
out=$1
mkdir -p "$out"
results=$out/test-results.txt
passed=0
failed=0
: >"$results.failures"
for check in format lint; do
    log=$out/$check.log
    target=$([ "$check" = format ] && echo format-check || echo lint)
    if make --no-print-directory "$target" >"$log" 2>&1; then
        passed=$((passed + 1))
        echo "PASS $check"
    else
        failed=$((failed + 1))
        echo "FAIL $check"
        tail -n 40 "$log"
        printf 'failure %s: %s\n' "$check" "$(grep -m1 -e 'error:' "$log" || tail -n 1 "$log")" \
            >>"$results.failures"
    fi
done
{ printf 'passed %d\nfailed %d\n' "$passed" "$failed"; cat "$results.failures"; } >"$results"
rm -f "$results.failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
