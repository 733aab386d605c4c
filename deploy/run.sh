#!/bin/bash
# returnflow: run everything locally, as `make run` does after building.
#
#   bash deploy/run.sh BUILD_DIR        (e.g. build/release)
#
# Starts the private PostgreSQL cluster under var/pg (port $RF_PG_PORT, default
# 55432), then the five workers BUILD_DIR/bin/rf-<worker>, each with its
# RF_<WORKER>_DB (from deploy/pg.sh dsn) and every worker's RF_*_HTTP and
# RF_*_BUS address; values already set in the environment are kept. Worker
# output goes to var/log/<worker>.log. A worker that dies is restarted after
# 1 s. Ctrl-C / SIGTERM stops the workers (SIGTERM, SIGKILL after 5 s) and then
# PostgreSQL; the next run starts again on the same data.
set -eu

# The Makefile runs this with `sh`; the supervision below needs bash.
if [ -z "${BASH_VERSION:-}" ]; then
    exec bash "$0" "$@"
fi

die() { echo "run.sh: $*" >&2; exit 1; }
say() { echo "run.sh: $(date '+%H:%M:%S') $*"; }

[ $# -eq 1 ] || die "usage: run.sh BUILD_DIR (e.g. build/release)"
[ -d "$1" ] || die "no build directory '$1'; build first: make"
BUILD=$(cd "$1" && pwd -P)
ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$ROOT"

# Order matters: it gives each worker's default ports (HTTP 8080.., bus 5550..).
SERVICES=(intake review warehouse refund notification)
PG_DIR=var/pg
LOG_DIR=var/log
PID_FILE=var/run.pid
PG_PORT=${RF_PG_PORT:-55432}
case "$PG_PORT" in ''|*[!0-9]*) die "RF_PG_PORT='$PG_PORT' is not a port number" ;; esac

for svc in "${SERVICES[@]}"; do
    [ -x "$BUILD/bin/rf-$svc" ] || die "missing worker binary $BUILD/bin/rf-$svc; build first: make"
done

mkdir -p var "$LOG_DIR"
if [ -f "$PID_FILE" ]; then
    other=$(cat "$PID_FILE" 2>/dev/null || true)
    if [ -n "$other" ] && [ "$other" != $$ ] && kill -0 "$other" 2>/dev/null; then
        die "returnflow is already running here (run.sh pid $other); stop it first (Ctrl-C there, or kill $other)"
    fi
fi
echo $$ >"$PID_FILE"

# --- environment: every worker gets all five HTTP and bus addresses ---
i=0
for svc in "${SERVICES[@]}"; do
    up=${svc^^}
    http=RF_${up}_HTTP bus=RF_${up}_BUS db=RF_${up}_DB
    [ -n "${!http:-}" ] || printf -v "$http" '127.0.0.1:%d' $((8080 + i))
    [ -n "${!bus:-}" ] || printf -v "$bus" 'tcp://127.0.0.1:%d' $((5550 + i))
    if [ -z "${!db:-}" ]; then
        dsn=$(sh deploy/pg.sh dsn "$PG_PORT" "$svc")
        printf -v "$db" '%s' "$dsn"
    fi
    export "${http?}" "${bus?}" "${db?}"
    i=$((i + 1))
done

# --- supervision state ---
declare -A PID=()      # service -> pid
declare -A SVC_OF=()   # pid -> service
STOPPING=""
CLEANED=""
if command -v setsid >/dev/null 2>&1; then SETSID=setsid; else SETSID=""; fi

start_worker() {
    local svc=$1 log="$LOG_DIR/$1.log"
    echo "=== $(date '+%Y-%m-%d %H:%M:%S') run.sh: starting rf-$svc ===" >>"$log"
    # Its own session (setsid): Ctrl-C reaches only this script, which then
    # stops the workers in order; and a worker's children die with it.
    $SETSID "$BUILD/bin/rf-$svc" </dev/null >>"$log" 2>&1 &
    PID[$svc]=$!
    SVC_OF[$!]=$svc
}

signal_worker() { # SIGNAL PID: the worker's process group if it has one, else the worker
    kill "-$1" -- "-$2" 2>/dev/null || kill "-$1" "$2" 2>/dev/null || true
}

stop_all() {
    [ -z "$CLEANED" ] || return 0
    CLEANED=1
    trap '' INT TERM HUP
    local svc pid alive n
    ((${#PID[@]} == 0)) || say "stopping workers"
    for svc in "${!PID[@]}"; do signal_worker TERM "${PID[$svc]}"; done
    for ((n = 0; n < 50; n++)); do
        alive=""
        for pid in "${PID[@]}"; do
            if kill -0 "$pid" 2>/dev/null; then alive=1; fi
        done
        [ -n "$alive" ] || break
        sleep 0.1
    done
    for svc in "${!PID[@]}"; do
        pid=${PID[$svc]}
        if kill -0 "$pid" 2>/dev/null; then
            say "rf-$svc (pid $pid) did not stop within 5 s; killing it"
            signal_worker KILL "$pid"
        fi
    done
    wait 2>/dev/null || true
    sh deploy/pg.sh stop "$PG_DIR" || echo "run.sh: stopping PostgreSQL failed; see $PG_DIR/log/postgres.log" >&2
    rm -f "$PID_FILE"
}

# shellcheck disable=SC2317 # called from the traps below
on_signal() {
    STOPPING=$1
}
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM
trap 'on_signal HUP' HUP
trap 'stop_all' EXIT

# --- start ---
sh deploy/pg.sh init "$PG_DIR" "$PG_PORT"
for svc in "${SERVICES[@]}"; do
    start_worker "$svc"
done

echo
echo "returnflow is running (Ctrl-C stops it):"
for svc in "${SERVICES[@]}"; do
    http=RF_${svc^^}_HTTP
    printf '  %-13s http://%-22s pid %-7s log %s\n' "$svc" "${!http}" "${PID[$svc]}" "$LOG_DIR/$svc.log"
done
printf '  %-13s %-29s %-11s log %s\n' postgresql "127.0.0.1:$PG_PORT" "" "$PG_DIR/log/postgres.log"
echo

# --- supervise ---
# wait -n -p (bash >= 5.1) returns when any worker exits or a signal arrives;
# older bash polls.
if ((BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] >= 501)); then WAIT_N=1; else WAIT_N=""; fi
while [ -z "$STOPPING" ]; do
    dead="" rc=0
    if [ -n "$WAIT_N" ]; then
        # (2>/dev/null: bash's own "Killed" job notice; we report it ourselves.)
        wait -n -p dead "${PID[@]}" 2>/dev/null || rc=$?
    else
        sleep 0.2 || true
        for pid in "${PID[@]}"; do
            if ! kill -0 "$pid" 2>/dev/null; then
                dead=$pid
                wait "$pid" 2>/dev/null || rc=$?
                break
            fi
        done
    fi
    [ -z "$STOPPING" ] || break
    if [ -z "$dead" ] || [ -z "${SVC_OF[$dead]:-}" ]; then continue; fi
    svc=${SVC_OF[$dead]}
    unset "SVC_OF[$dead]"
    if ((rc > 128)); then how="was killed by signal $((rc - 128))"; else how="exited with status $rc"; fi
    say "rf-$svc (pid $dead) $how; restarting in 1 s (log: $LOG_DIR/$svc.log)"
    echo "=== $(date '+%Y-%m-%d %H:%M:%S') run.sh: rf-$svc (pid $dead) $how ===" >>"$LOG_DIR/$svc.log"
    sleep 1 || true
    [ -z "$STOPPING" ] || break
    start_worker "$svc"
done

say "got SIG$STOPPING"
stop_all
say "stopped"
exit 0
