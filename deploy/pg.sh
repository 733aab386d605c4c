#!/bin/sh
# returnflow: a private PostgreSQL cluster for returnflow, used by `make run`
# (under var/pg of the repository) and by the tests (under any directory).
#
#   sh deploy/pg.sh init   DIR PORT   initdb if needed, start, create the database
#                                     `returnflow` and the five worker roles (idempotent)
#   sh deploy/pg.sh start  DIR PORT   start an initialised cluster (no-op if running)
#   sh deploy/pg.sh stop   DIR        fast shutdown (no-op if not running)
#   sh deploy/pg.sh status DIR        exit 0 if running, 3 if not
#   sh deploy/pg.sh dsn    PORT WORKER   print the libpq conninfo of worker WORKER
#   sh deploy/pg.sh bare   DIR PORT   initdb if needed and start, creating no database and
#                                     no role (like the official image before its init
#                                     scripts run); here only the superuser is trusted:
#                                     every other role needs its password (scram-sha-256)
#                                     (tests run deploy/compose/initdb/ against such a cluster)
#
# RF_PG_EXTRA_CONF (optional): server settings, one per line, added to a new
# cluster's postgresql.conf at init (the benchmark's --profile loads
# pg_stat_statements with it).
#
# Layout under DIR: data/ (PGDATA), run/ (unix socket), log/postgres.log.
# The server listens on 127.0.0.1:PORT only, authentication is `trust`, the
# superuser is `postgres`. Each worker role rf_<worker> may create schemas in
# database `returnflow` and owns the one named after it (intake, review, ...);
# nobody may use schema public.
#
# PostgreSQL refuses to run as root: when run as root, the server and its tools
# run as the system user `postgres` (or, if that does not exist, an unprivileged
# system user `returnflow`, created on first use), which then owns DIR.
set -eu

WORKERS="intake review warehouse refund notification"
DBNAME=returnflow
SUPERUSER=postgres

die() { echo "pg.sh: $*" >&2; exit 1; }
usage() {
    die "usage: pg.sh init DIR PORT | bare DIR PORT | start DIR PORT | stop DIR | status DIR | dsn PORT WORKER"
}

check_port() {
    case "$1" in
        ''|*[!0-9]*) die "bad port '$1' (want a number 1024-65535)" ;;
    esac
    if [ "$1" -lt 1024 ] || [ "$1" -gt 65535 ]; then die "bad port '$1' (want 1024-65535)"; fi
}

check_worker() {
    for w in $WORKERS; do
        [ "$w" = "$1" ] && return 0
    done
    die "unknown worker '$1' (one of: $WORKERS)"
}

# The directory holding initdb, pg_ctl, postgres, psql: the highest version
# under /usr/lib/postgresql, else pg_config --bindir.
find_bindir() {
    best="" best_version=0
    for d in /usr/lib/postgresql/*/bin; do
        v=${d#/usr/lib/postgresql/}
        v=${v%/bin}
        case "$v" in ''|*[!0-9]*) continue ;; esac
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ "$v" -gt "$best_version" ]; then
            best=$d best_version=$v
        fi
    done
    if [ -z "$best" ] && command -v pg_config >/dev/null 2>&1; then
        d=$(pg_config --bindir 2>/dev/null || true)
        [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && best=$d
    fi
    [ -n "$best" ] || die "no PostgreSQL server found (no initdb under /usr/lib/postgresql/*/bin or pg_config --bindir); run: sh deploy/install-deps.sh"
    BINDIR=$best
}

# When root, who runs the server: `postgres`, else `returnflow` (created here).
pick_os_user() {
    RUNAS=""
    [ "$(id -u)" -eq 0 ] || return 0
    if id postgres >/dev/null 2>&1; then
        RUNAS=postgres
    else
        if ! id returnflow >/dev/null 2>&1; then
            useradd --system --user-group --no-create-home --home-dir /nonexistent \
                --shell /usr/sbin/nologin returnflow ||
                die "cannot create system user 'returnflow' to run PostgreSQL as (it refuses to run as root)"
        fi
        RUNAS=returnflow
    fi
}

# Run a command as the cluster's owner, from inside DIR (the caller's working
# directory may not be readable by that user).
as_owner() {
    if [ -n "$RUNAS" ]; then
        (cd "$DIR" && runuser -u "$RUNAS" -- "$@")
    else
        (cd "$DIR" && "$@")
    fi
}

# Make DIR absolute, create it, and (as root) hand it to $RUNAS, checking that
# $RUNAS can reach it.
setup_dir() {
    mkdir -p "$1" || die "cannot create directory '$1'"
    DIR=$(cd "$1" && pwd -P)
    # shellcheck disable=SC1003 # a backslash, in single quotes
    case "$DIR" in
        *"'"*|*'\'*) die "directory '$DIR' must not contain quotes or backslashes" ;;
    esac
    # sockaddr_un.sun_path holds 107 bytes: DIR/run/.s.PGSQL.PORT must fit.
    [ ${#DIR} -le 80 ] || die "directory path too long for PostgreSQL's unix socket (${#DIR} > 80 chars): $DIR"
    PGDATA_DIR=$DIR/data
    LOGFILE=$DIR/log/postgres.log
    mkdir -p "$DIR/run" "$DIR/log"
    if [ -n "$RUNAS" ]; then
        chown -R "$RUNAS:" "$DIR" || die "cannot chown '$DIR' to user $RUNAS"
        if ! runuser -u "$RUNAS" -- test -x "$DIR" -a -w "$DIR" 2>/dev/null; then
            # Find the first ancestor the user cannot traverse.
            d=""
            rest=${DIR#/}
            while [ -n "$rest" ]; do
                d="$d/${rest%%/*}"
                case "$rest" in */*) rest=${rest#*/} ;; *) rest="" ;; esac
                if ! runuser -u "$RUNAS" -- test -x "$d" 2>/dev/null; then
                    ls -ld "$d" >&2 || true
                    die "user '$RUNAS' (PostgreSQL runs as it, not as root) cannot traverse '$d', so cannot reach '$DIR'; use a directory elsewhere (e.g. under /tmp) or run: chmod o+x '$d'"
                fi
            done
            die "user '$RUNAS' cannot write to '$DIR'"
        fi
    fi
}

existing_dir() {
    [ -d "$1" ] || die "no such directory '$1'"
    DIR=$(cd "$1" && pwd -P)
    PGDATA_DIR=$DIR/data
    LOGFILE=$DIR/log/postgres.log
}

is_running() {
    as_owner "$BINDIR/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1
}

psql_super() { # DB, then psql arguments
    db=$1
    shift
    as_owner "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" \
        -U "$SUPERUSER" -d "$db" "$@"
}

do_initdb() {
    if [ -f "$PGDATA_DIR/PG_VERSION" ]; then
        return 0
    fi
    [ ! -e "$PGDATA_DIR" ] || [ -z "$(ls -A "$PGDATA_DIR")" ] ||
        die "'$PGDATA_DIR' exists, is not empty and is not a PostgreSQL data directory"
    locale=C
    if locale -a 2>/dev/null | grep -qix 'C.utf-\{0,1\}8'; then locale=C.UTF-8; fi
    # Collation C: every id is text, and C compares with memcmp instead of
    # strcoll (the same order as C.UTF-8: code points).
    if ! as_owner "$BINDIR/initdb" -D "$PGDATA_DIR" -A trust -E UTF8 --locale="$locale" --lc-collate=C \
        -U "$SUPERUSER" >"$DIR/log/initdb.log" 2>&1; then
        tail -n 30 "$DIR/log/initdb.log" >&2
        die "initdb failed in '$PGDATA_DIR' (full output: $DIR/log/initdb.log)"
    fi
    # Our settings, after the defaults so that they win. The port is also given
    # on the command line at each start.
    cat >>"$PGDATA_DIR/postgresql.conf" <<EOF_CONF

# --- returnflow (deploy/pg.sh) ---
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR/run'
max_connections = 200
fsync = on
synchronous_commit = on
# queue tables (outbox, inbox) change fast: look every 5 s, not every minute,
# so their statistics and the workers' prepared plans follow them
autovacuum_naptime = 5s
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
EOF_CONF
    # Settings a caller adds (the benchmark's profile: pg_stat_statements), one per line.
    if [ -n "${RF_PG_EXTRA_CONF:-}" ]; then
        printf '%s\n' "$RF_PG_EXTRA_CONF" >>"$PGDATA_DIR/postgresql.conf"
    fi
    if [ "${BARE:-}" = 1 ]; then
        # Passwords for everyone but the superuser (who stays trusted locally).
        cat >"$PGDATA_DIR/pg_hba.conf" <<EOF_HBA
# returnflow (deploy/pg.sh bare): the superuser is trusted, every other role
# must give its password.
local all $SUPERUSER trust
host  all $SUPERUSER 127.0.0.1/32 trust
local all all scram-sha-256
host  all all 127.0.0.1/32 scram-sha-256
EOF_HBA
        echo "password_encryption = 'scram-sha-256'" >>"$PGDATA_DIR/postgresql.conf"
    fi
    echo "pg.sh: initialised PostgreSQL cluster in $PGDATA_DIR"
}

do_start() {
    [ -f "$PGDATA_DIR/PG_VERSION" ] || die "'$DIR' is not initialised; run: sh deploy/pg.sh init $DIR $PORT"
    if is_running; then
        running_port=$(sed -n 4p "$PGDATA_DIR/postmaster.pid" 2>/dev/null || true)
        [ -z "$running_port" ] || [ "$running_port" = "$PORT" ] ||
            die "PostgreSQL in '$PGDATA_DIR' is already running, on port $running_port, not $PORT; stop it first: sh deploy/pg.sh stop $DIR"
        return 0
    fi
    log_size=0
    if [ -f "$LOGFILE" ]; then log_size=$(wc -c <"$LOGFILE"); fi
    if ! as_owner "$BINDIR/pg_ctl" -D "$PGDATA_DIR" -l "$LOGFILE" -w -t 120 \
        -o "-p $PORT" start >/dev/null 2>&1; then
        # What the server logged during this attempt.
        tail -c +$((log_size + 1)) "$LOGFILE" 2>/dev/null | tail -n 30 >&2 || true
        die "PostgreSQL failed to start in '$PGDATA_DIR' on port $PORT (log: $LOGFILE)"
    fi
    echo "pg.sh: PostgreSQL running on 127.0.0.1:$PORT (data $PGDATA_DIR, log $LOGFILE)"
}

do_setup_db() {
    psql_super postgres <<EOF_SQL
SELECT 'CREATE DATABASE $DBNAME ENCODING ''UTF8'' TEMPLATE template0'
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$DBNAME') \gexec
EOF_SQL
    sql=""
    for w in $WORKERS; do
        sql="$sql
DO \$\$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rf_$w') THEN
        CREATE ROLE rf_$w LOGIN;
    END IF;
END \$\$;
GRANT CREATE ON DATABASE $DBNAME TO rf_$w;"
    done
    printf '%s\nREVOKE ALL ON SCHEMA public FROM PUBLIC;\n' "$sql" | psql_super "$DBNAME" ||
        die "setting up database '$DBNAME' and its roles failed (log: $LOGFILE)"
}

cmd=${1:-}
[ $# -ge 1 ] && shift
case "$cmd" in
    init)
        [ $# -eq 2 ] || usage
        check_port "$2"
        PORT=$2
        find_bindir
        pick_os_user
        setup_dir "$1"
        do_initdb
        do_start
        do_setup_db
        ;;
    bare)
        [ $# -eq 2 ] || usage
        check_port "$2"
        PORT=$2
        BARE=1
        find_bindir
        pick_os_user
        setup_dir "$1"
        do_initdb
        do_start
        ;;
    start)
        [ $# -eq 2 ] || usage
        check_port "$2"
        PORT=$2
        [ -f "$1/data/PG_VERSION" ] || die "'$1' is not initialised; run: sh deploy/pg.sh init $1 $PORT"
        find_bindir
        pick_os_user
        setup_dir "$1"
        do_start
        ;;
    stop)
        [ $# -eq 1 ] || usage
        find_bindir
        pick_os_user
        existing_dir "$1"
        if ! is_running; then
            echo "pg.sh: PostgreSQL in $PGDATA_DIR is not running"
            exit 0
        fi
        as_owner "$BINDIR/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t 120 stop >/dev/null ||
            die "PostgreSQL in '$PGDATA_DIR' did not stop (log: $LOGFILE)"
        echo "pg.sh: PostgreSQL in $PGDATA_DIR stopped"
        ;;
    status)
        [ $# -eq 1 ] || usage
        find_bindir
        pick_os_user
        existing_dir "$1"
        if is_running; then
            echo "pg.sh: PostgreSQL in $PGDATA_DIR is running"
        else
            echo "pg.sh: PostgreSQL in $PGDATA_DIR is not running"
            exit 3
        fi
        ;;
    dsn)
        [ $# -eq 2 ] || usage
        check_port "$1"
        check_worker "$2"
        echo "host=127.0.0.1 port=$1 dbname=$DBNAME user=rf_$2"
        ;;
    *)
        usage
        ;;
esac
