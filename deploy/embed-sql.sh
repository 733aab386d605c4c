#!/bin/sh
# returnflow: embed a service's SQL migrations in a C source file.
#
#   sh deploy/embed-sql.sh SERVICE FILE...   > build/.../gen/SERVICE_migrations.c
#
# Prints (to stdout) a C file defining
#   const rf_migration_t rf_SERVICE_migrations[] = { {"001_init", "..."}, ... };
#   const size_t rf_SERVICE_migrations_count = N;
# one entry per FILE, in the order given (the Makefile sorts them), named after
# the file's basename without .sql. rf_migration_t is declared in db/db.h.
# The first line is a // comment: "/*" from "sql/*.sql" inside a /* */ comment
# would trip -Wcomment (and so -Werror).
set -eu

die() { echo "embed-sql.sh: $*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: embed-sql.sh SERVICE FILE..."
svc=$1
shift
case "$svc" in
    ''|[!a-z_]*|*[!a-z0-9_]*) die "bad service name '$svc' (want [a-z_][a-z0-9_]*)" ;;
esac
for f in "$@"; do
    if [ ! -f "$f" ] || [ ! -r "$f" ]; then die "cannot read SQL file '$f'"; fi
    case "$f" in *.sql) ;; *) die "'$f' is not a .sql file" ;; esac
done

printf '// Derived from services/%s/sql/*.sql by deploy/embed-sql.sh; do not edit.\n' "$svc"
printf '#include "db/db.h"\n\n'

if [ $# -eq 0 ]; then
    # ISO C has no empty arrays: one unused zeroed entry, and a count of 0.
    printf 'const rf_migration_t rf_%s_migrations[1] = { { 0, 0 } };\n' "$svc"
    printf 'const size_t rf_%s_migrations_count = 0;\n' "$svc"
    exit 0
fi

printf 'const rf_migration_t rf_%s_migrations[] = {\n' "$svc"
n=0
for f in "$@"; do
    name=$(basename "$f" .sql)
    case "$name" in
        ''|*[!A-Za-z0-9_.-]*) die "bad migration file name '$f' (want e.g. 001_init.sql)" ;;
    esac
    printf '    {\n        "%s",\n' "$name"
    # One C string per line, ending in \n; CRLF line ends become \n. Escapes:
    # backslash, double quote, tab, stray CR, and every '?' as '\?' so that no
    # trigraph (e.g. "??=") forms under -std=c11. Done char by char, as awks
    # differ on backslashes in gsub replacements.
    awk '
    function esc(s,    out, i, c) {
        out = ""
        for (i = 1; i <= length(s); i++) {
            c = substr(s, i, 1)
            if (c == "\\") c = "\\\\"
            else if (c == "\"") c = "\\\""
            else if (c == "?") c = "\\?"
            else if (c == "\t") c = "\\t"
            else if (c == "\r") c = "\\r"
            out = out c
        }
        return out
    }
    {
        sub(/\r$/, "")
        printf "        \"%s\\n\"\n", esc($0)
    }
    END { if (NR == 0) print "        \"\"" }
    ' "$f"
    printf '    },\n'
    n=$((n + 1))
done
printf '};\n'
printf 'const size_t rf_%s_migrations_count = %d;\n' "$svc" "$n"
