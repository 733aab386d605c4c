#!/bin/sh
# returnflow: embed the operations page in the workers.
#
#   sh deploy/embed-page.sh common/http/ops.html > BUILD/gen/ops_page.c
#
# Writes a C file defining `const char rf_ops_page[]`, the page every worker
# serves at GET /ops. The Makefile runs it at build time (the output is not
# committed), so an edit to the page is in the next build.
set -eu
[ $# -eq 1 ] || { echo "usage: embed-page.sh PAGE.html > ops_page.c" >&2; exit 2; }
src=$1
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
