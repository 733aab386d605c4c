#!/bin/sh
# returnflow: embed the operations page (common/ops/ops.html) in the workers.
#
#   sh deploy/embed-page.sh > common/src/ops_page.c
#
# Writes a C file defining `const char rf_ops_page[]`, the page every worker
# serves at GET /ops. The output is committed (the Makefile needs no extra
# rule); tests/integration/20-metrics-promtool.py fails when it is stale, so
# after editing the page run this again.
set -eu
cd "$(dirname "$0")/.."
src=common/ops/ops.html
[ -r "$src" ] || { echo "embed-page.sh: cannot read $src" >&2; exit 1; }
printf '// Derived from %s by deploy/embed-page.sh; do not edit.\n' "$src"
printf '// The operations page, served by every worker at GET /ops.\n\n'
printf 'extern const char rf_ops_page[];\n'
printf 'const char rf_ops_page[] =\n'
awk '
function esc(s,    out, i, c) {
    out = ""
    for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (c == "\\") c = "\\\\"
        else if (c == "\"") c = "\\\""
        else if (c == "?") c = "\\?"
        else if (c == "\t") c = "\\t"
        out = out c
    }
    return out
}
{ sub(/\r$/, ""); printf "    \"%s\\n\"\n", esc($0) }
END { if (NR == 0) print "    \"\"" }
' "$src"
printf '    ;\n'
