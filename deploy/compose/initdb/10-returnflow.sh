#!/bin/sh
# returnflow: the database and the five worker roles, for the official
# postgres image (mounted as /docker-entrypoint-initdb.d/, run once, on the
# first start of an empty data volume). The same least privilege as
# deploy/pg.sh gives `make run`:
#   - database $POSTGRES_DB (default returnflow), closed to PUBLIC;
#   - per worker W a login role rf_W whose password is the first line of
#     $RF_SECRETS_DIR/rf_W_db_password (default /run/secrets: compose secrets);
#   - schema W created and owned by rf_W, closed to everyone else, so no
#     worker can read or write another's tables; schema public closed;
#   - each role may create schemas in the database (the workers run
#     CREATE SCHEMA IF NOT EXISTS at connect, which needs it) but owns only its own.
# Idempotent. Outside the image (tests): set PGHOST/PGPORT and POSTGRES_USER.
set -eu

WORKERS="intake review warehouse refund notification"
DB=${POSTGRES_DB:-returnflow}
SECRETS=${RF_SECRETS_DIR:-/run/secrets}
SUPER=${POSTGRES_USER:-postgres}

die() { echo "10-returnflow.sh: $*" >&2; exit 1; }
run_psql() { psql -X -q -v ON_ERROR_STOP=1 --username "$SUPER" "$@"; }

case "$DB" in *[!a-z0-9_]*) die "POSTGRES_DB='$DB': use lower-case letters, digits and _" ;; esac

run_psql -d postgres -v db="$DB" <<'EOF_SQL'
SELECT format('CREATE DATABASE %I ENCODING ''UTF8'' TEMPLATE template0', :'db')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
EOF_SQL

for w in $WORKERS; do
    pwfile=$SECRETS/rf_${w}_db_password
    [ -r "$pwfile" ] || die "no password file $pwfile for role rf_$w"
    pw=$(head -n 1 "$pwfile")
    [ -n "$pw" ] || die "$pwfile is empty"
    run_psql -d "$DB" -v db="$DB" -v role="rf_$w" -v schema="$w" -v pw="$pw" <<'EOF_SQL'
SELECT format('CREATE ROLE %I LOGIN', :'role')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'role', :'pw') \gexec
SELECT format('GRANT CONNECT, CREATE ON DATABASE %I TO %I', :'db', :'role') \gexec
SELECT format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', :'schema', :'role') \gexec
SELECT format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', :'schema') \gexec
EOF_SQL
    echo "10-returnflow.sh: role rf_$w owns schema $w of database $DB"
done

run_psql -d "$DB" -v db="$DB" <<'EOF_SQL'
REVOKE ALL ON SCHEMA public FROM PUBLIC;
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'db') \gexec
EOF_SQL
