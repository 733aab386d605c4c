#!/bin/sh
# returnflow: make every secret file docker-compose.yml needs, once, before the
# first `docker compose up`:
#
#   sh deploy/compose/make-secrets.sh [DIR]     (default $RETURNFLOW_SECRETS or
#                                                deploy/compose/secrets)
#
#   DIR/postgres_password            the PostgreSQL superuser's password
#   DIR/rf_<worker>_db_password      each worker role's password (read by the
#                                    postgres init script on the first start)
#   DIR/rf_<worker>.pgpass           the same, as the libpq passfile the worker reads
#   DIR/curve/<worker>.key           each worker's CURVE secret key, and
#   DIR/curve/public_keys            every worker's public key (rf-keygen)
#   DIR/auth_tokens                  one admin bearer token (add people: README)
#   DIR/shop_tokens.key              the key shops' tokens are sealed with (intake,
#                                    review and refund mount it; README "Shops and tokens")
#
# Refuses to overwrite an existing DIR/postgres_password. Needs rf-keygen:
# $RF_KEYGEN, else build/release/bin/rf-keygen (run `make` first), else on PATH.
# Compose mounts secret files as they are on the host: when run as root this
# gives the workers' files to uid 10001 (the image's user) and the role
# passwords to uid 999 (the postgres image's user), all mode 0600.
set -eu

WORKERS="intake review warehouse refund notification"
ROOT=$(cd "$(dirname "$0")/../.." && pwd -P)
DIR=${1:-${RETURNFLOW_SECRETS:-$ROOT/deploy/compose/secrets}}
die() { echo "make-secrets.sh: $*" >&2; exit 1; }

KEYGEN=${RF_KEYGEN:-}
if [ -z "$KEYGEN" ]; then
    if [ -x "$ROOT/build/release/bin/rf-keygen" ]; then KEYGEN=$ROOT/build/release/bin/rf-keygen
    elif command -v rf-keygen >/dev/null 2>&1; then KEYGEN=rf-keygen
    else die "no rf-keygen: run make first (or set RF_KEYGEN)"; fi
fi
[ ! -e "$DIR/postgres_password" ] || die "$DIR/postgres_password exists: secrets already made"
umask 077
mkdir -p "$DIR"

secret() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

secret >"$DIR/postgres_password"
for w in $WORKERS; do
    pw=$(secret)
    printf '%s\n' "$pw" >"$DIR/rf_${w}_db_password"
    printf 'postgres:5432:returnflow:rf_%s:%s\n' "$w" "$pw" >"$DIR/rf_$w.pgpass"
done
printf '# <token> <user> <role>: roles cs, cs_supervisor, warehouse, finance, admin\n%s ops-admin admin\n' \
    "$(secret)" >"$DIR/auth_tokens"
"$KEYGEN" "$DIR/curve" >/dev/null
od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$DIR/shop_tokens.key"

if [ "$(id -u)" -eq 0 ]; then
    chown 999:999 "$DIR/postgres_password"
    for w in $WORKERS; do
        chown 999:999 "$DIR/rf_${w}_db_password"
        chown 10001:10001 "$DIR/rf_$w.pgpass" "$DIR/curve/$w.key"
    done
    chown 10001:10001 "$DIR/auth_tokens" "$DIR/shop_tokens.key" "$DIR/curve" "$DIR/curve/public_keys"
    chmod 0755 "$DIR/curve"
    chmod 0644 "$DIR/curve/public_keys"
else
    echo "make-secrets.sh: not root: before \`docker compose up\`, give the files to the containers' users:" >&2
    echo "  sudo chown 999:999 $DIR/postgres_password $DIR/rf_*_db_password" >&2
    echo "  sudo chown -R 10001:10001 $DIR/rf_*.pgpass $DIR/auth_tokens $DIR/shop_tokens.key $DIR/curve" >&2
fi
echo "make-secrets.sh: secrets written to $DIR"
