#!/usr/bin/env python3
"""bench.py: end-to-end throughput, latency and memory of the real pipeline.

Starts a private PostgreSQL (durable: synchronous_commit on, default fsync) and
the five workers through the integration harness, creates one order line per
return, then drives an open-loop load into intake with tools/rf-bench at --rate
for --seconds: a --mix share of return-and-refund returns (approved
automatically by the bench's review policy; rf-bench plays the warehouse and
posts each parcel's receipt over the warehouse's HTTP API as soon as the
warehouse expects it) and refund-only returns under the automatic approval
limit. It waits for the pipeline to drain and reports, from the workers' own
records:

  - what was offered (--rate for --seconds), sent and accepted by intake, and
    intake's HTTP latency; when intake cannot keep up, requests still waiting
    for a connection --give-up-seconds after the load's end are given up
    ("unsent"), so an overloaded run ends soon after its load window;
  - the sustained rates over the whole time the pipeline was busy: returns
    accepted (return.requested) and completed end to end (refund.issued) per
    second between 10 % and 90 % of them, from intake's timeline; also the
    rates inside the load window after a 10 % warm-up, and whether the
    backlog (requested, not yet refunded) grew;
  - the highest rate held without the backlog growing: the offered rate when
    it held, else a search (short steps, halving the gap) below it;
  - latency intake -> refund issued and per hop, from the events' occurred_at
    in the timeline: p50, p99, p99.9, max;
  - peak resident memory (VmHWM) of each worker, and CPU time per return of
    each worker and of PostgreSQL (robust to a busy machine);
  - the pgbench ceiling: the SQL writes the pipeline made for --batch returns
    offered at --rate (captured from the server log with log_statement = all:
    INSERT, UPDATE, DELETE, data-modifying WITH and SELECT ... FOR UPDATE),
    replayed by pgbench with prepared statements (-M prepared, as the
    workers run them) against the same server, each worker's writes for the
    --batch returns in one durable transaction, with fresh ids, one pgbench
    run per worker's script: the ceiling is --batch returns per the sum of
    the scripts' times per transaction; the ratio of the sustained
    completion rate to it, and PostgreSQL's CPU and WAL records per return,
    replay beside pipeline. With --profile, the write statements (count,
    execution and planning time) per return replayed are compared with those
    pg_stat_statements saw the pipeline run under the load;
  - the same replay of the domain writes alone, without the event bus's
    (outbox, inbox and its bookkeeping): what the workers' own tables cost
    per return, as if delivering events were free;
  - the delivery floor: what the delivery rules alone cost this server. Each
    delivery of an event to a consumer is at least an outbox row written and
    deleted by its producer and an inbox row written by its consumer,
    durably; pgbench does only that (a minimal outbox: key and poll index, no
    payload read, no poll), --batch deliveries per transaction, and the floor
    is its deliveries per second divided by the pipeline's deliveries per
    return (outbox rows written per return): no pipeline on this machine can
    complete more returns per second than that, whatever else it saves;
  - the database's own counters of the work per return, snapshots before and
    after the load: statements the workers ran (pg_stat_statements, loaded
    for the cluster the bench starts), by kind and by worker, and row writes
    per table (pg_stat_user_tables: inserts, updates and the HOT ones,
    deletes), sorted by writes (tests/bench/pgwork.py);
  - the peer, graphile-worker (npm), a PostgreSQL job queue, on the same
    server in the same run: eight chained durable jobs per "return" at its
    fastest documented settings, its jobs and returns per second sustained,
    and peer_ratio, returnflow's sustained returns per second over the
    peer's (tests/bench/graphile_peer.py; --no-peer or RF_BENCH_PEER=0 skips
    it);
  - the exactly-once check: every accepted return refunded exactly once.

Writes the figures to var/bench/latest.json and prints them as a table.
Options (also as environment variables RF_BENCH_RATE, RF_BENCH_SECONDS,
RF_BENCH_MIX, RF_BENCH_RETURNS, RF_BENCH_PEER, RF_BENCH_PEER_RETURNS): see
--help.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
os.environ.setdefault("RF_REPO_ROOT", ROOT)
os.environ.setdefault("RF_BUILD", os.path.join(ROOT, "build", "release"))
import harness  # noqa: E402
import graphile_peer  # noqa: E402  (tests/bench/graphile_peer.py: the peer)
import pgwork  # noqa: E402  (tests/bench/pgwork.py: statements, row writes per table)

LINES_PER_ORDER = 200
SHOP = "bench"
HOPS = [  # (name, from event, to event, which returns)
    ("intake -> review approved", "return.requested", "return.approved", None),
    ("approved -> refund issued (refund-only)", "return.approved", "refund.issued",
     "refund_only"),
    ("approved -> goods received (warehouse + scripted receipt)", "return.approved",
     "goods.received", "return_refund"),
    ("goods received -> inspected", "goods.received", "goods.inspected", "return_refund"),
    ("inspected -> refund issued", "goods.inspected", "refund.issued", "return_refund"),
]


def env_float(name, default):
    return float(os.environ.get(name, default))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rate", type=float, default=env_float("RF_BENCH_RATE", 3000),
                   help="offered returns per second (default 3000)")
    p.add_argument("--seconds", type=float, default=env_float("RF_BENCH_SECONDS", 60),
                   help="load duration (default 60)")
    p.add_argument("--returns", type=int, default=int(env_float("RF_BENCH_RETURNS", 0)),
                   help="number of returns to send (default rate x seconds; sets the duration)")
    p.add_argument("--mix", type=float, default=env_float("RF_BENCH_MIX", 0.3),
                   help="share of return-and-refund returns, 0..1 (default 0.3)")
    p.add_argument("--connections", type=int, default=128,
                   help="intake connections (enough for rate x latency; default 128)")
    p.add_argument("--give-up-seconds", type=float, default=5,
                   help="requests still unsent this long after the load's end (intake"
                        " could not keep up) are given up and reported as unsent (default 5)")
    p.add_argument("--stall-seconds", type=float, default=60,
                   help="stop waiting for the pipeline to drain when no refund was issued"
                        " for this long (default 60)")
    p.add_argument("--search", choices=["auto", "on", "off"], default="auto",
                   help="search the highest rate held (auto: only when --rate was not held)")
    p.add_argument("--step-seconds", type=float, default=10, help="length of a search step")
    p.add_argument("--pgbench-seconds", type=float, default=20,
                   help="pgbench ceiling run length, shared between the workers' scripts"
                        " (0: skip the ceiling; default 20)")
    p.add_argument("--warm-wal-mb", type=int, default=1024,
                   help="WAL written and checkpointed before the load, so that the run"
                        " reuses WAL segments as a running server does (0: none)")
    p.add_argument("--floor-seconds", type=float, default=10,
                   help="delivery floor run length (0: skip it; default 10)")
    p.add_argument("--batch", type=int, default=32,
                   help="returns per pgbench transaction (each worker's writes)")
    p.add_argument("--profile", action="store_true",
                   default=os.environ.get("RF_BENCH_PROFILE", "") not in ("", "0"),
                   help="load pg_stat_statements and print the statements that cost the"
                        " most PostgreSQL time per return (var/bench/statements.txt)")
    p.add_argument("--no-peer", dest="peer", action="store_false",
                   default=os.environ.get("RF_BENCH_PEER", "1") not in ("", "0"),
                   help="skip the peer, graphile-worker (also RF_BENCH_PEER=0)")
    p.add_argument("--peer-returns", type=int,
                   default=int(env_float("RF_BENCH_PEER_RETURNS", 4000)),
                   help="the peer's returns, eight chained jobs each (default 4000)")
    p.add_argument("--peer-steps", type=int, default=8, help="the peer's jobs per return")
    p.add_argument("--peer-concurrency", type=int, default=64,
                   help="the peer's concurrentJobs (default 64)")
    p.add_argument("--peer-local-queue", type=int, default=1000,
                   help="the peer's localQueue.size (default 1000; -1: off)")
    p.add_argument("--peer-complete-batch-ms", type=int, default=5,
                   help="the peer's completeJobBatchDelay and failJobBatchDelay"
                        " (default 5; -1: off)")
    p.add_argument("--peer-pool", type=int, default=0,
                   help="the peer's maxPoolSize (default 0: concurrency + 2)")
    a = p.parse_args()
    if a.returns > 0:
        a.seconds = a.returns / a.rate
    if not 0 <= a.mix <= 1 or a.rate <= 0 or a.seconds <= 0:
        p.error("need 0 <= --mix <= 1, --rate > 0, --seconds > 0")
    return a


ARGS = parse_args()
POLICY = {"shops": {SHOP: {"returnless": False,
                          "rules": [{"name": "bench_auto", "outcome": "auto_approve"}]}}}


class Bench:
    def __init__(self, h):
        self.h = h
        self.prefix = harness.uid("B")
        self.runs = 0

    def make_orders(self, prefix, n):
        """Orders <prefix>-<k>, LINES_PER_ORDER lines each: one line per return."""
        now_ms = int(time.time() * 1000)
        for k in range((n + LINES_PER_ORDER - 1) // LINES_PER_ORDER):
            r = self.h.http("POST", "intake", "/v1/orders", {
                "platform": "api", "shop_id": SHOP, "order_id": "%s-%d" % (prefix, k),
                "paid_at": now_ms - 3 * 86400000, "delivered_at": now_ms - 86400000,
                "lines": [{"line_id": "L%d" % j, "sku_id": "SKU%d" % (j % 50),
                           "category": "kitchen", "quantity": 1, "unit_price_fen": 100000,
                           "supplier_id": "SUP%d" % (k % 7)}
                          for j in range(LINES_PER_ORDER)]})
            self.h.check(r.status == 200, "order: %r" % r)

    def new_orders(self, n):
        """Fresh orders for n returns; their prefix."""
        self.runs += 1
        prefix = "%s-%d" % (self.prefix, self.runs)
        self.make_orders(prefix, n)
        return prefix

    def load(self, rate, seconds, mix, prefix=None):
        """Run rf-bench on fresh orders (made now unless given); returns its
        figures plus the load window (t0, t1 in epoch seconds)."""
        n = int(round(rate * seconds))
        if prefix is None:
            prefix = self.new_orders(n)
        h = self.h
        cmd = [os.path.join(h.build, "bin", "rf-bench"),
               "--port", str(h.workers["intake"].http_port), "--rate", str(rate),
               "--seconds", str(seconds),
               "--orders", str((n + LINES_PER_ORDER - 1) // LINES_PER_ORDER),
               "--lines", str(LINES_PER_ORDER), "--connections", str(ARGS.connections),
               "--order-prefix", prefix, "--run", harness.uid("R"), "--mix", str(mix),
               "--drain-seconds", "900", "--give-up-seconds", str(ARGS.give_up_seconds)]
        if mix > 0:
            cmd += ["--warehouse-port", str(h.workers["warehouse"].http_port),
                    "--dsn", "host=127.0.0.1 port=%d user=postgres dbname=returnflow"
                    % h.pg_port]
        t0 = time.time()
        p = subprocess.run(cmd, capture_output=True, text=True)
        h.check(p.returncode == 0, "rf-bench failed: %s %s" % (p.stdout, p.stderr))
        figures = json.loads(p.stdout)
        figures["t0"], figures["t1"] = t0, t0 + seconds
        return figures

    def wait_drained(self, accepted_total, timeout=900):
        """Wait until accepted_total refunds exist, or no refund has been
        added for --stall-seconds (returns stuck: the exactly-once check
        reports them) or `timeout` passed; the refunds counted."""
        deadline = time.time() + timeout
        last, last_change = -1, time.time()
        while time.time() < deadline:
            done = int(self.h.psql_val("SELECT count(*) FROM refund.refunds"))
            if done >= accepted_total:
                break
            if done != last:
                last, last_change = done, time.time()
            elif time.time() - last_change > ARGS.stall_seconds:
                harness.log("bench: no refund for %.0f s with %d of %d done: not waiting longer"
                            % (ARGS.stall_seconds, done, accepted_total))
                break
            time.sleep(0.5)
        self.h.wait_outboxes_empty(120)
        return done

    # ---- figures from the workers' records --------------------------------------------

    def window_rates(self, t0, t1):
        """Requested and issued per second in the load window after a 10 % warm-up,
        and the backlog at 40 % and at the end of the window."""
        w0 = t0 + 0.1 * (t1 - t0)
        sql = ("SELECT count(*) FILTER (WHERE type = 'return.requested' AND occurred_at"
               " BETWEEN to_timestamp({a}) AND to_timestamp({b})),"
               " count(*) FILTER (WHERE type = 'refund.issued' AND occurred_at"
               " BETWEEN to_timestamp({a}) AND to_timestamp({b})),"
               " count(*) FILTER (WHERE type = 'return.requested' AND occurred_at"
               " BETWEEN to_timestamp({t0}) AND to_timestamp({m})) -"
               " count(*) FILTER (WHERE type = 'refund.issued' AND occurred_at"
               " BETWEEN to_timestamp({t0}) AND to_timestamp({m})),"
               " count(*) FILTER (WHERE type = 'return.requested' AND occurred_at"
               " BETWEEN to_timestamp({t0}) AND to_timestamp({b})) -"
               " count(*) FILTER (WHERE type = 'refund.issued' AND occurred_at"
               " BETWEEN to_timestamp({t0}) AND to_timestamp({b}))"
               " FROM intake.timeline WHERE type IN ('return.requested', 'refund.issued')"
               " AND occurred_at >= to_timestamp({t0})").format(
                   a=w0, b=t1, t0=t0, m=t0 + 0.4 * (t1 - t0))
        req, iss, back40, back_end = (int(x) for x in self.h.psql(sql)[0])
        span = t1 - w0
        return {"requested_per_s": round(req / span, 1), "completed_per_s": round(iss / span, 1),
                "backlog_at_40pct": back40, "backlog_at_end": back_end}

    def sustained(self, t0):
        """Returns accepted (return.requested) and completed end to end
        (refund.issued) per second over the whole time the pipeline was busy
        with the returns requested since t0: the middle 80 % of each kind of
        event divided by the time between its 10th and 90th percentiles (the
        ramp-up and the drain left out, whether or not the load window was long
        enough for the pipeline to keep up)."""
        rows = self.h.psql(
            "SELECT type, count(*), percentile_cont(ARRAY[0.1, 0.9]) WITHIN GROUP"
            " (ORDER BY extract(epoch FROM occurred_at)), extract(epoch FROM min(occurred_at)),"
            " extract(epoch FROM max(occurred_at)) FROM intake.timeline"
            " WHERE type IN ('return.requested', 'refund.issued')"
            " AND return_id IN (SELECT return_id FROM intake.timeline"
            "  WHERE type = 'return.requested' AND occurred_at >= to_timestamp(%f))"
            " GROUP BY type" % t0)
        out = {}
        for kind, n, pcts, first, last in rows:
            n = int(n)
            p10, p90 = (float(x) for x in pcts.strip("{}").split(","))
            key = "accepted" if kind == "return.requested" else "completed"
            out[key + "_per_s"] = round(0.8 * n / (p90 - p10), 1) if p90 > p10 else None
            out[key + "_10_90_seconds"] = round(p90 - p10, 1)
            out[key + "_first_last"] = (float(first), float(last))
        if "accepted_first_last" in out and "completed_first_last" in out:
            out["busy_seconds"] = round(out["completed_first_last"][1] -
                                        out["accepted_first_last"][0], 1)
        out.pop("accepted_first_last", None)
        out.pop("completed_first_last", None)
        return out

    @staticmethod
    def held(offered, w):
        """The pipeline held the rate: intake took it and completions kept up
        (backlog grew by less than half a second of load)."""
        return (w["requested_per_s"] >= 0.95 * offered and
                w["completed_per_s"] >= 0.95 * w["requested_per_s"] and
                w["backlog_at_end"] - w["backlog_at_40pct"] < 0.5 * offered)

    def percentiles(self, t0, from_type, to_type, kind):
        kind_sql = ("AND r.kind = '%s'" % kind) if kind else ""
        row = self.h.psql(
            "SELECT count(*), percentile_cont(ARRAY[0.5, 0.99, 0.999, 1.0]) WITHIN GROUP"
            " (ORDER BY extract(epoch FROM t.occurred_at - f.occurred_at) * 1000)"
            " FROM intake.timeline f JOIN intake.timeline t ON t.return_id = f.return_id"
            " AND t.type = '%s' JOIN intake.returns r ON r.return_id = f.return_id"
            " WHERE f.type = '%s' AND f.occurred_at >= to_timestamp(%f) %s"
            % (to_type, from_type, t0, kind_sql))[0]
        n = int(row[0])
        if n == 0 or not row[1]:
            return {"n": 0}
        p50, p99, p999, pmax = (round(float(x), 1) for x in row[1].strip("{}").split(","))
        return {"n": n, "p50": p50, "p99": p99, "p999": p999, "max": pmax}

    # ---- CPU and memory -------------------------------------------------------------------

    def postgres_pids(self):
        with open(os.path.join(self.h.pg_dir, "data", "postmaster.pid")) as f:
            master = int(f.readline())
        pids = [master]
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open("/proc/%s/stat" % d) as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == master:
                            pids.append(int(d))
                except (OSError, ValueError, IndexError):
                    pass
        return pids

    @staticmethod
    def cpu_seconds(pid, reaped_children=False):
        """User and system CPU of a process; with reaped_children, plus that
        of its children that have ended (PostgreSQL's backends that came and
        went: pgbench's, a worker's reconnection)."""
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks = int(fields[11]) + int(fields[12])
            if reaped_children:
                ticks += int(fields[13]) + int(fields[14])
            return ticks / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError):
            return 0.0

    def postgres_cpu_seconds(self):
        """CPU used by the server so far: the postmaster, its live children,
        and its children that have ended."""
        master, *children = self.postgres_pids()
        return (self.cpu_seconds(master, reaped_children=True) +
                sum(self.cpu_seconds(pid) for pid in children))

    def cpu_snapshot(self):
        snap = {w: self.cpu_seconds(self.h.workers[w].proc.pid) for w in harness.WORKERS}
        snap["postgres"] = self.postgres_cpu_seconds()
        return snap

    def cpu_per_return(self, before, after, n):
        out = {}
        for w in harness.WORKERS:
            out[w] = round((after[w] - before[w]) / max(n, 1) * 1e6, 1)
        out["postgres"] = round((after["postgres"] - before["postgres"]) / max(n, 1) * 1e6, 1)
        out["total"] = round(sum(out.values()), 1)
        return out

    def peak_rss_kb(self):
        memory = {}
        for w in harness.WORKERS:
            with open("/proc/%d/status" % self.h.workers[w].proc.pid) as f:
                memory[w] = int(next(line for line in f if line.startswith("VmHWM")).split()[1])
        return memory

    def pg_counters(self):
        row = self.h.psql("SELECT (SELECT sum(xact_commit) FROM pg_stat_database),"
                          " (SELECT wal_sync FROM pg_stat_wal),"
                          " (SELECT wal_records FROM pg_stat_wal),"
                          " (SELECT wal_fpi FROM pg_stat_wal),"
                          " (SELECT wal_bytes FROM pg_stat_wal)")[0]
        return [int(x or 0) for x in row]

    # ---- the pgbench ceiling ------------------------------------------------------------------

    def capture_writes(self, n, rate, mix):
        """The write statements each worker makes for n returns offered at
        `rate` (so the workers batch them as they do under that load), with
        their parameters, from the server log (log_statement = all: 'mod'
        leaves out the data-modifying WITH statements)."""
        h = self.h
        log = os.path.join(h.pg_dir, "log", "postgres.log")
        prefix = self.new_orders(n)  # set-up, not captured
        start = os.path.getsize(log)
        h.psql("ALTER SYSTEM SET log_statement = 'all'")
        h.psql("SELECT pg_reload_conf()")
        time.sleep(0.5)
        before = int(h.psql_val("SELECT count(*) FROM refund.refunds"))
        fig = self.load(rate, n / rate, mix, prefix)
        self.wait_drained(before + fig["accepted"])
        time.sleep(1.0)  # the last acknowledged rows' deletes
        h.psql("ALTER SYSTEM RESET log_statement")
        h.psql("SELECT pg_reload_conf()")
        with open(log, encoding="utf-8", errors="replace") as f:
            f.seek(start)
            text = f.read()
        return parse_statement_log(text), fig["accepted"]

    def pgbench_ceiling(self, capture, seconds, profile=False, name=""):
        """Replay the captured writes with pgbench, as prepared statements
        (-M prepared), each worker's writes in one durable transaction: one
        pgbench run per worker's script, `seconds` shared between them, with
        as many clients as there are workers. The ceiling is the rate at which
        the server does one transaction of each: --batch returns per the sum
        of the scripts' times per transaction. With profile, also the write
        statements' pg_stat_statements figures per replayed return. Returns
        (figures, {statement key: [calls, exec ms, plan ms] per return})."""
        per_worker, captured = capture
        if captured == 0:
            return {"error": "nothing captured"}, {}
        # Every captured statement is its own prepared statement, run a few
        # dozen times per connection where a worker runs each of its few
        # thousands of times: plan each once, as the workers' plans are
        # reused once warm, rather than five custom plans first.
        pgoptions = "-c synchronous_commit=on -c plan_cache_mode=force_generic_plan"
        each = max(2, int(seconds / max(len(per_worker), 1)))
        out, costs, outputs = {}, {}, []
        cpu_s = wal = 0.0
        for user, stmts in sorted(per_worker.items()):
            path = pgbench_file("%s%s.sql" % (user, name),
                                pgbench_script(user[len("rf_"):], [replay for _, replay in stmts]))
            if profile:
                self.h.psql("SELECT pg_stat_statements_reset()")
            run = self.run_pgbench(path, len(per_worker), each, pgoptions, ["-r"])
            outputs.append(run["output"])
            if "error" in run:
                write_pgbench_output(outputs, name)
                return {"error": "%s: %s" % (user, run["error"])}, {}
            replayed = run["transactions"] * captured
            out[user] = {"tps": run["tps"], "returns_replayed": replayed,
                         "statements_per_return": round(len(stmts) / captured, 2)}
            cpu_s += run["postgres_cpu_s"] / replayed
            wal += run["wal_records"] / replayed
            if profile:
                for key, v in write_costs(self.h, "postgres").items():
                    c = costs.setdefault(key, [0.0, 0.0, 0.0])
                    for i in range(3):
                        c[i] += v[i] / replayed
        write_pgbench_output(outputs, name)
        # A return needs one transaction of each script, each for `captured`
        # returns.
        rate = captured / sum(1.0 / w["tps"] for w in out.values())
        return {"returns_per_s": round(rate, 1), "returns_per_transaction": captured,
                "scripts": out, "clients": len(per_worker), "seconds_per_script": each,
                "query_mode": "prepared",
                "postgres_cpu_us_per_return": round(cpu_s * 1e6, 1),
                "wal_records_per_return": round(wal, 1),
                "statements_per_return": round(sum(w["statements_per_return"]
                                                   for w in out.values()), 1)}, costs

    def warm_wal(self, megabytes):
        """Write about `megabytes` of WAL and checkpoint, so that the run
        reuses recycled WAL segments as a server that has been running does,
        instead of creating and zero-filling a new 16 MB segment every second
        or so (3 % of the CPU under load on a cluster just made). Returns the
        seconds it took."""
        t = time.time()
        rows = int(megabytes * 1024 * 1024 / 1000)
        self.h.psql("CREATE TABLE bench_wal_warmup AS SELECT g, repeat('x', 900) AS filler"
                    " FROM generate_series(1, %d) g; DROP TABLE bench_wal_warmup; CHECKPOINT"
                    % rows)
        return time.time() - t

    # ---- the delivery floor -----------------------------------------------------------------

    FLOOR_SCHEMA = """
DROP SCHEMA IF EXISTS bench_floor CASCADE;
CREATE SCHEMA bench_floor;
CREATE SEQUENCE bench_floor.batches;
CREATE TABLE bench_floor.outbox (seq bigserial, event_id text NOT NULL, dest text NOT NULL,
  return_id text NOT NULL, payload bytea NOT NULL, PRIMARY KEY (event_id, dest));
CREATE INDEX ON bench_floor.outbox (dest, seq);
CREATE TABLE bench_floor.inbox (event_id text PRIMARY KEY, return_id text NOT NULL);
"""

    # One transaction: a producer writes a batch of deliveries and deletes the
    # previous batch (acknowledged), a consumer records the batch in its
    # inbox. Ids are 26 characters, time-ordered, like the workers' ULIDs;
    # payloads are 300 bytes, about an event's.
    FLOOR_SCRIPT = """SELECT nextval('bench_floor.batches') AS b \\gset
BEGIN;
INSERT INTO bench_floor.outbox (event_id, dest, return_id, payload)
  SELECT lpad(:b::text, 12, '0') || lpad(g::text, 4, '0') || 'ABCDEFGHIJ', 'c' || :client_id,
  'R' || :b || '-' || g, decode(repeat('ab', 300), 'hex') FROM generate_series(1, %(n)d) g;
DELETE FROM bench_floor.outbox o USING (SELECT lpad(:prev::text, 12, '0') || lpad(g::text, 4, '0')
  || 'ABCDEFGHIJ' AS e FROM generate_series(1, %(n)d) g) a
  WHERE o.event_id = a.e AND o.dest = 'c' || :client_id;
INSERT INTO bench_floor.inbox (event_id, return_id)
  SELECT lpad(:b::text, 12, '0') || lpad(g::text, 4, '0') || 'ABCDEFGHIJ', 'R' || :b || '-' || g
  FROM generate_series(1, %(n)d) g;
COMMIT;
\\set prev :b
"""

    def deliveries(self):
        """Outbox rows ever written by every worker: one per event and
        destination (deliveries; the inboxes are not a count of them since
        intake and notification keep their own record of what they applied)."""
        return int(self.h.psql_val("SELECT COALESCE(sum(n_tup_ins), 0) FROM pg_stat_user_tables"
                                   " WHERE relname = 'outbox'"))

    def delivery_floor(self, seconds):
        """Run FLOOR_SCRIPT with pgbench for `seconds` (5 clients, one per
        worker, --batch deliveries per transaction, durable commits) on the
        quiet server, before the load (after it, autovacuum is still at the
        pipeline's tables), and return its deliveries per second and
        PostgreSQL's CPU and WAL records per delivery."""
        path = pgbench_file("delivery-floor.sql", self.FLOOR_SCRIPT % {"n": ARGS.batch})
        self.h.psql(self.FLOOR_SCHEMA)
        clients = len(harness.WORKERS)
        run = self.run_pgbench(path, clients, max(2, int(seconds)), "-c synchronous_commit=on",
                               ["-D", "prev=0"])
        self.h.psql("DROP SCHEMA bench_floor CASCADE")
        if "error" in run:
            return {"error": run["error"]}
        deliveries = run["transactions"] * ARGS.batch
        return {"deliveries_per_s": round(run["tps"] * ARGS.batch),
                "deliveries_per_transaction": ARGS.batch, "clients": clients,
                "postgres_cpu_us_per_delivery": round(run["postgres_cpu_s"] / deliveries * 1e6, 1),
                "wal_records_per_delivery": round(run["wal_records"] / deliveries, 2)}

    def run_pgbench(self, path, clients, seconds, pgoptions, extra_args):
        """Run pgbench's script `path` against the server, prepared statements,
        `clients` clients for `seconds`, with PGOPTIONS `pgoptions`. Returns
        its output, and either its tps, transactions, and PostgreSQL's CPU
        seconds and WAL records during the run, or an error."""
        cmd = ([find_pgbench(), "-n", "-M", "prepared", "-h", "127.0.0.1",
                "-p", str(self.h.pg_port), "-U", "postgres", "-c", str(clients), "-j", "2",
                "-T", str(seconds)] + list(extra_args) + ["-f", path, "returnflow"])
        env = dict(os.environ, PGOPTIONS=pgoptions)
        cpu0, pg0 = self.postgres_cpu_seconds(), self.pg_counters()
        p = subprocess.run(prefix_runas(cmd), capture_output=True, text=True, env=env)
        cpu1, pg1 = self.postgres_cpu_seconds(), self.pg_counters()
        m = re.search(r"tps = ([0-9.]+)", p.stdout)
        n = re.search(r"number of transactions actually processed: (\d+)", p.stdout)
        if p.returncode != 0 or not m or not n or float(m.group(1)) <= 0 or int(n.group(1)) == 0:
            return {"output": p.stdout + p.stderr, "error": (p.stderr or p.stdout)[-2000:]}
        return {"output": p.stdout + p.stderr, "tps": float(m.group(1)),
                "transactions": int(n.group(1)), "postgres_cpu_s": cpu1 - cpu0,
                "wal_records": pg1[2] - pg0[2]}

    # ---- the run ------------------------------------------------------------------------------

    def step(self, rate, seconds, mix):
        before = int(self.h.psql_val("SELECT count(*) FROM refund.refunds"))
        fig = self.load(rate, seconds, mix)
        self.wait_drained(before + fig["accepted"])
        w = self.window_rates(fig["t0"], fig["t1"])
        return fig, w, self.held(rate, w)

    def search(self, top):
        """Highest rate held, between 0 and top (not held): halve the gap, 5 steps."""
        lo, hi, steps = 0.0, top, []
        rate = top / 2
        for _ in range(5):
            fig, w, ok = self.step(rate, ARGS.step_seconds, ARGS.mix)
            steps.append({"rate": rate, "held": ok, **w})
            harness.log("bench: search %.0f/s: %s (%s)" % (rate, "held" if ok else "not held", w))
            if ok:
                lo = rate
            else:
                hi = rate
            rate = (lo + hi) / 2
        return lo, steps


# log_line_prefix '%m [%p] %q%u@%d ' (deploy/pg.sh): user@db only in sessions.
LOG_LINE_RE = re.compile(r"^\d{4}-\d\d-\d\d \S+ \S+ \[(\d+)\] (?:(\S*)@\S+ )?([A-Z]+):\s+(.*)$")
LITERAL_RE = re.compile(r"('(?:[^']|'')*')")


def log_records(text):
    """(pid, user, kind, text) of each server log record; a record's
    continuation lines (a parameter with a newline) are joined to it."""
    record = None
    for line in text.splitlines():
        m = LOG_LINE_RE.match(line)
        if m:
            if record:
                yield record
            record = [m.group(1), m.group(2) or "", m.group(3), m.group(4)]
        elif record:
            record[3] += "\n" + line
    if record:
        yield record


def is_write(sql):
    """Whether a statement writes (what the ceiling replays): INSERT, UPDATE,
    DELETE, MERGE, a WITH holding one of them, or a row-locking SELECT."""
    words = LITERAL_RE.sub("''", sql).split(None, 1)
    if not words:
        return False
    head = words[0].upper()
    if head in ("INSERT", "UPDATE", "DELETE", "MERGE"):
        return True
    if head in ("WITH", "SELECT"):
        return bool(re.search(r"\b(INSERT\s+INTO|DELETE\s+FROM|UPDATE\s+\S+(\s+\w+)?\s+SET"
                              r"|FOR\s+(NO\s+KEY\s+)?UPDATE|FOR\s+(KEY\s+)?SHARE)\b",
                              LITERAL_RE.sub("''", sql), re.I))
    return False


BUS_TABLES_RE = re.compile(r"\b(?:INTO|FROM|UPDATE)\s+(?:outbox|inbox|inbox_batches|inbox_started"
                           r"|dead_letter|replica_lease)\b", re.I)


def domain_only(capture):
    """The captured writes without the event bus's own (outbox, inbox and the
    bus's bookkeeping): what the workers' domain writes alone cost, as if
    delivering events were free."""
    per_worker, captured = capture
    return ({u: [(t, r) for t, r in stmts if not BUS_TABLES_RE.search(LITERAL_RE.sub("''", t))]
             for u, stmts in per_worker.items()}, captured)


def statement_key(sql):
    """A statement with its literals and parameters as ?, to match the worker's
    prepared text with pg_stat_statements' normalised one."""
    sql = LITERAL_RE.sub("?", sql)
    sql = re.sub(r"\$\d+|\b\d+(?:\.\d+)?\b|\b(?:NULL|true|false)\b", "?", sql, flags=re.I)
    sql = re.sub(r"\s+", " ", sql).strip()
    # The replay's fresh ids (see fresh_ids) stand where the worker had one value.
    return re.sub(r"\bE\?|replace\(\?, \?, \?::text\)", "?", sql)


def parse_statement_log(text):
    """{user: [(the worker's statement, the statement to replay: parameters
    inlined, ids made fresh per transaction)]} for the write statements of
    the workers' roles, in the order they ran."""
    per_user = {}
    pending = {}  # pid: [statement, replay] waiting for its parameters
    for pid, user, kind, rest in log_records(text):
        if not user.startswith("rf_"):
            continue
        if kind == "LOG":
            pending.pop(pid, None)
            s = re.match(r"(?:execute [^:]+|statement): (.*)$", rest, re.S)
            if s and is_write(s.group(1)):
                pending[pid] = [s.group(1), s.group(1)]
                per_user.setdefault(user, []).append(pending[pid])
        elif kind == "DETAIL" and pid in pending and rest.startswith(("parameters:",
                                                                      "Parameters:")):
            entry = pending.pop(pid)
            params = dict(re.findall(r"\$(\d+) = (NULL|'(?:[^']|'')*')", rest))
            entry[1] = re.sub(r"\$(\d+)\b", lambda m: params.get(m.group(1), m.group(0)),
                              entry[0])
    return {u: list(zip((t for t, _ in s), fresh_ids([r for _, r in s])))
            for u, s in per_user.items()}


ULID_RE = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{26}\b")
RUN_RE = re.compile(r"\bR-\d+-[0-9a-f]{6}-\d+\b")
FRESH = "#u#"  # in a literal, where the transaction's :u goes


def fresh_ids(statements):
    """Make the statements pgbench-ready for -M prepared: every id (ULIDs,
    the run's platform return ids) inside a string literal becomes one built
    from the pgbench variable :u (the same id for the same original within
    the script), so each transaction writes new rows; and no ':' is left in a
    literal, where pgbench would take it for a variable (':name' becomes a
    parameter in prepared mode; only '::' is skipped), by writing the literal
    as an escape string with ':' as \x3a."""
    mapping = {}

    def fresh(m):
        k = mapping.setdefault(m.group(0), len(mapping))
        return "Z%s_%d" % (FRESH, k)

    out = []
    for sql in statements:
        # Only inside literals: split on quotes (doubled quotes stay inside).
        parts = LITERAL_RE.split(sql)
        for i in range(1, len(parts), 2):
            body = parts[i][1:-1]
            if FRESH in body:
                raise ValueError("a captured literal holds %r: %s" % (FRESH, parts[i][:200]))
            new = RUN_RE.sub(fresh, ULID_RE.sub(fresh, body))
            if "\\" in new or ":" in new:
                new = "E'" + new.replace("\\", "\\\\").replace(":", "\\x3a") + "'"
            else:
                new = "'" + new + "'"
            if FRESH in new:
                new = "replace(%s, '%s', :u::text)" % (new, FRESH)
            parts[i] = new
        replay = "".join(parts)
        stray = pgbench_variables(replay) - {"u"}
        if stray:
            raise ValueError("pgbench would read variables %s in: %s" % (sorted(stray),
                                                                          replay[:300]))
        out.append(replay)
    return out


def pgbench_variables(sql):
    """The variables pgbench finds in a statement: ':' and a name (letters,
    digits, underscores), outside no literal ('::' is a cast). Literals are
    not skipped, as pgbench does not skip them either."""
    name = r"[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*"
    return set(re.findall(r"(?<!:):(%s)" % name, sql.replace("::", "  ")))


def pgbench_script(schema, statements):
    """One transaction: a worker's writes for the captured returns. The
    pipeline commits them durably (its inbox_started rows alone go with
    synchronous_commit off, set inside their statement), so the replay
    commits with synchronous_commit on whatever the replayed statements set."""
    lines = ["\\set u random(1, 999999999999999)", "BEGIN;",
             "SET LOCAL search_path TO %s;" % schema]
    lines += [sql + ";" for sql in statements]
    lines += ["SET LOCAL synchronous_commit TO on;", "COMMIT;", ""]
    return "\n".join(lines)


def pgbench_dir():
    """var/bench/pgbench/: pgbench's scripts and output, kept for a look
    (pgbench -r shows each statement's latency); readable by the server's
    user, who runs pgbench."""
    path = os.path.join(ROOT, "var", "bench", "pgbench")
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o755)
    return path


def pgbench_file(name, text):
    """Write a pgbench script there, readable by pgbench; returns its path."""
    path = os.path.join(pgbench_dir(), name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)
    return path


def write_pgbench_output(outputs, name=""):
    with open(os.path.join(pgbench_dir(), "pgbench%s.out" % name), "w") as f:
        f.write("\n".join(outputs))


def find_pgbench():
    import glob
    for path in sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"), reverse=True):
        return path
    return "pgbench"


def prefix_runas(cmd):
    if os.geteuid() != 0:
        return cmd
    try:
        subprocess.run(["id", "postgres"], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        return ["runuser", "-u", "postgres", "--"] + cmd
    except subprocess.CalledProcessError:
        return ["runuser", "-u", "returnflow", "--"] + cmd


def fmt_lat(d):
    if not d.get("n"):
        return "-"
    return "p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  (n %d)" % (
        d["p50"], d["p99"], d["p999"], d["max"], d["n"])


def compare_writes(h, capture, returns):
    """The write statements per return the ceiling replays (captured for
    --batch returns) against those pg_stat_statements saw the workers run
    (top level) for the `returns` of the load: per worker, and the statements
    whose counts differ most. {worker: (replayed, ran)} and report lines."""
    per_user, captured = capture
    replayed = {}
    for user, stmts in per_user.items():
        for template, _ in stmts:
            key = (user, statement_key(template))
            replayed[key] = replayed.get(key, 0) + 1.0 / max(captured, 1)
    ran = {}
    for user, calls, query in h.psql(
            "SELECT r.rolname, s.calls, s.query FROM pg_stat_statements s"
            " JOIN pg_roles r ON r.oid = s.userid WHERE s.toplevel AND r.rolname LIKE 'rf\\_%'"):
        if is_write(query):
            key = (user, statement_key(query))
            ran[key] = ran.get(key, 0) + int(calls) / max(returns, 1)
    by_worker = {}
    for (user, _), v in replayed.items():
        by_worker.setdefault(user, [0.0, 0.0])[0] += v
    for (user, _), v in ran.items():
        by_worker.setdefault(user, [0.0, 0.0])[1] += v
    lines = ["write statements per return: replayed by the ceiling (captured for %d returns)"
             " / run by the pipeline under the load (pg_stat_statements, %d returns)"
             % (captured, returns)]
    for user, (a, b) in sorted(by_worker.items()):
        lines.append("  %-16s %7.2f / %7.2f" % (user, a, b))
    lines.append("  %-16s %7.2f / %7.2f" % ("total", sum(v[0] for v in by_worker.values()),
                                           sum(v[1] for v in by_worker.values())))
    diffs = sorted(((abs(replayed.get(k, 0) - ran.get(k, 0)), k) for k in set(replayed) | set(ran)),
                   reverse=True)
    lines.append("statements whose counts differ most (replayed / ran per return):")
    for d, (user, key) in diffs[:15]:
        if d < 0.01:
            break
        lines.append("  %7.2f / %7.2f  %-16s %s" % (replayed.get((user, key), 0),
                                                   ran.get((user, key), 0), user, key[:110]))
    return {u: (round(a, 2), round(b, 2)) for u, (a, b) in by_worker.items()}, lines


def write_costs(h, roles):
    """{statement key: [calls, execution ms, planning ms]} of the top-level
    write statements pg_stat_statements saw from the roles LIKE `roles`."""
    out = {}
    for calls, exec_ms, plan_ms, query in h.psql(
            "SELECT s.calls, s.total_exec_time, s.total_plan_time, s.query"
            " FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid"
            " WHERE s.toplevel AND r.rolname LIKE '%s'" % roles):
        if is_write(query):
            v = out.setdefault(statement_key(query), [0, 0.0, 0.0])
            v[0] += int(calls)
            v[1] += float(exec_ms)
            v[2] += float(plan_ms or 0)
    return out


def compare_costs(pipeline, replay, returns, replayed_returns):
    """PostgreSQL's time in the write statements, per return: the pipeline's
    under the load ({key: [calls, exec ms, plan ms]} for `returns`) against
    the ceiling's replay (already per return). (summary, report lines)."""
    a = {k: [x / max(returns, 1) for x in v] for k, v in pipeline.items()}
    b = replay
    total = {name: [round(sum(v[i] for v in d.values()), 3) for i in range(3)]
             for name, d in (("pipeline", a), ("replay", b))}
    lines = ["write statements, per return (pg_stat_statements): calls, execution ms,"
             " planning ms; pipeline under the load (%d returns) / pgbench replay (%s)"
             % (returns, replayed_returns),
             "  total %.2f / %.2f calls, %.3f / %.3f ms execution, %.3f / %.3f ms planning" % (
                 total["pipeline"][0], total["replay"][0], total["pipeline"][1],
                 total["replay"][1], total["pipeline"][2], total["replay"][2]),
             "statements whose execution ms per return differ most:"]
    zero = [0, 0, 0]
    keys = sorted(set(a) | set(b), key=lambda k: -abs(a.get(k, zero)[1] - b.get(k, zero)[1]))
    for k in keys[:15]:
        x, y = a.get(k, zero), b.get(k, zero)
        lines.append("  %5.2f / %5.2f calls  %6.3f / %6.3f ms  %s" % (x[0], y[0], x[1], y[1],
                                                                    k[:100]))
    return total, lines


def write_profile(h, returns, capture=None):
    """The statements that cost PostgreSQL the most during the load, per
    return; and, with a capture, the comparison of the write statements per
    return replayed by the ceiling with those the pipeline ran."""
    rows = h.psql("SELECT round(total_exec_time::numeric, 0), calls, rows, "
                  "round(mean_exec_time::numeric, 3), round(max_exec_time::numeric, 1), "
                  "regexp_replace(left(query, 150), '\\s+', ' ', 'g') "
                  "FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 40")
    total = float(h.psql_val("SELECT sum(total_exec_time) FROM pg_stat_statements") or 0)
    calls = int(h.psql_val("SELECT sum(calls) FROM pg_stat_statements") or 0)
    lines = ["statements per return %.1f, PostgreSQL execution ms per return %.3f" % (
        calls / max(returns, 1), total / max(returns, 1)),
        "%8s %8s %8s %8s %8s  %s" % ("ms", "calls/r", "rows/r", "mean ms", "max ms",
                                     "statement")]
    for ms, c, r, mean, top, q in rows:
        lines.append("%8s %8.2f %8.2f %8s %8s  %s" % (ms, int(c) / max(returns, 1),
                                                      int(r) / max(returns, 1), mean, top, q))
    compared = None
    if capture:
        compared, more = compare_writes(h, capture, returns)
        lines += [""] + more
    out_dir = os.path.join(ROOT, "var", "bench")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "statements.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return compared


def scenario(h):
    b = Bench(h)
    ceiling = ceiling_capture = writes_compared = costs_compared = None
    if ARGS.pgbench_seconds > 0:
        # Captured first, on a quiet pipeline: the writes of --batch returns
        # offered at the load's rate.
        harness.log("bench: capturing the writes of %d returns for pgbench" % ARGS.batch)
        ceiling_capture = b.capture_writes(ARGS.batch, ARGS.rate, ARGS.mix)
    # The load's orders are set-up: made before the counters start.
    prefix = b.new_orders(int(round(ARGS.rate * ARGS.seconds)))
    floor = None
    if ARGS.floor_seconds > 0:
        harness.log("bench: delivery floor, %d s" % ARGS.floor_seconds)
        floor = b.delivery_floor(ARGS.floor_seconds)
    if ARGS.warm_wal_mb > 0:
        harness.log("bench: WAL warmed (%d MB) in %.1f s" % (
            ARGS.warm_wal_mb, b.warm_wal(ARGS.warm_wal_mb)))
    if ARGS.profile:
        h.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset()")
    statements_on = pgwork.has_statements(h)
    time.sleep(1.1)  # the set-up's table counters published (once a second) first
    tables0 = pgwork.tables_snapshot(h)
    stmts0 = pgwork.statements_snapshot(h) if statements_on else None
    cpu0, pg0, sent0 = b.cpu_snapshot(), b.pg_counters(), b.deliveries()
    load0 = os.getloadavg()
    harness.log("bench: %.0f returns/s for %.0f s, mix %.2f return-and-refund" %
                (ARGS.rate, ARGS.seconds, ARGS.mix))
    before = int(h.psql_val("SELECT count(*) FROM refund.refunds"))
    http = b.load(ARGS.rate, ARGS.seconds, ARGS.mix, prefix)
    done = b.wait_drained(before + http["accepted"]) - before
    # A backend publishes its table and WAL counters at most once a second:
    # the last ones are in after this.
    time.sleep(1.5)
    cpu1, pg1, sent1 = b.cpu_snapshot(), b.pg_counters(), b.deliveries()
    stmts1 = pgwork.statements_snapshot(h) if statements_on else None
    tables1 = pgwork.tables_snapshot(h)
    row_writes = pgwork.row_writes_per_return(tables0, tables1, done)
    statements = (pgwork.statements_per_return(stmts0, stmts1, done) if statements_on
                  else None)
    deliveries_per_return = (sent1 - sent0) / max(done, 1)
    t0 = http["t0"]
    w = b.window_rates(t0, http["t1"])
    sus = b.sustained(t0)
    held = b.held(ARGS.rate, w)
    e2e = b.percentiles(t0, "return.requested", "refund.issued", None)
    hops = {name: b.percentiles(t0, f, t, kind) for name, f, t, kind in HOPS}
    doubled = int(h.psql_val("SELECT count(*) FROM (SELECT return_id FROM refund.refunds"
                             " GROUP BY 1 HAVING count(*) > 1) d"))
    issued_twice = int(h.psql_val("SELECT count(*) FROM (SELECT return_id FROM intake.timeline"
                                  " WHERE type = 'refund.issued' GROUP BY 1 HAVING count(*) > 1) d"))
    not_refunded = int(h.psql_val("SELECT count(*) FROM intake.returns WHERE shop_id = '%s'"
                                  " AND status <> 'refunded'" % SHOP))
    memory = b.peak_rss_kb()
    cpu = b.cpu_per_return(cpu0, cpu1, done)
    commits, wal_syncs = pg1[0] - pg0[0], pg1[1] - pg0[1]
    wal_records = pg1[2] - pg0[2]
    wal_fpi, wal_bytes = pg1[3] - pg0[3], pg1[4] - pg0[4]
    if ARGS.profile:
        writes_compared = write_profile(h, done, ceiling_capture if ARGS.pgbench_seconds > 0
                                        else None)
        pipeline_costs = write_costs(h, "rf\\_%")
    search_steps = []
    highest = ARGS.rate if held else None
    if ARGS.search == "on" or (ARGS.search == "auto" and not held):
        highest, search_steps = b.search(ARGS.rate if not held else ARGS.rate * 2)
        if held:
            highest = max(highest, ARGS.rate)
    if ARGS.pgbench_seconds > 0:
        harness.log("bench: pgbench ceiling, %d s" % ARGS.pgbench_seconds)
        ceiling, replay_costs = b.pgbench_ceiling(ceiling_capture, ARGS.pgbench_seconds,
                                                  ARGS.profile)
        harness.log("bench: pgbench ceiling of the domain writes alone, %d s" % ARGS.pgbench_seconds)
        domain, _ = b.pgbench_ceiling(domain_only(ceiling_capture), ARGS.pgbench_seconds,
                                      name="-domain")
        if ceiling:
            ceiling["domain_only"] = domain
        if ARGS.profile and replay_costs:
            costs_compared, lines = compare_costs(
                pipeline_costs, replay_costs, done,
                ", ".join("%s %d" % (u[len("rf_"):], w["returns_replayed"])
                          for u, w in ceiling["scripts"].items()))
            with open(os.path.join(ROOT, "var", "bench", "statements.txt"), "a") as f:
                f.write("\n" + "\n".join(lines) + "\n")
            print("\n".join(lines))
    peer = None
    if ARGS.peer:
        harness.log("bench: the peer, graphile-worker: %d returns of %d jobs" % (
            ARGS.peer_returns, ARGS.peer_steps))
        peer = graphile_peer.run(h, ARGS.peer_returns, ARGS.peer_steps, ARGS.peer_concurrency,
                                 ARGS.peer_local_queue, ARGS.peer_complete_batch_ms,
                                 ARGS.peer_pool, b.postgres_cpu_seconds, b.pg_counters)
    peer_ratio = (round(sus["completed_per_s"] / peer["returns_per_s"], 2)
                  if peer and peer.get("returns_per_s") and sus.get("completed_per_s")
                  else None)
    # CPU per return, the peer's over ours: steadier than rates on a shared machine.
    peer_cpu_ratio = (round(peer["cpu_us_per_return"] / cpu["total"], 2)
                      if peer and peer.get("cpu_us_per_return") and cpu["total"] else None)
    if floor and floor.get("deliveries_per_s"):
        floor["deliveries_per_return"] = round(deliveries_per_return, 2)
        floor["returns_per_s"] = (round(floor["deliveries_per_s"] / deliveries_per_return)
                                  if deliveries_per_return > 0 else None)
    figures = {
        "machine": {"cpus": os.cpu_count(), "loadavg_at_start": [round(x, 2) for x in load0],
                    "loadavg_at_end": [round(x, 2) for x in os.getloadavg()]},
        "offered_rate": ARGS.rate, "seconds": ARGS.seconds, "mix_return_refund": ARGS.mix,
        "offered": http["offered"], "unsent": http["unsent"], "accepted": http["accepted"],
        "http": http, "completed": done,
        "sustained": sus, "load_window": w, "held_offered_rate": held,
        "highest_rate_held": highest, "search": search_steps,
        "intake_to_refund_ms": e2e, "hops_ms": hops,
        "peak_rss_kb": memory, "cpu_us_per_process_per_return": cpu,
        "postgres": {"commits_per_return": round(commits / max(done, 1), 2),
                     "wal_syncs_per_return": round(wal_syncs / max(done, 1), 3),
                     "wal_records_per_return": round(wal_records / max(done, 1), 1),
                     "wal_full_page_images_per_return": round(wal_fpi / max(done, 1), 2),
                     "wal_bytes_per_return": round(wal_bytes / max(done, 1))},
        "ceiling": ceiling, "delivery_floor": floor,
        "write_statements_per_return_replayed_vs_ran": writes_compared,
        "write_statement_costs_per_return": costs_compared,
        "pipeline_to_ceiling": (round(sus["completed_per_s"] / ceiling["returns_per_s"], 3)
                                if ceiling and ceiling.get("returns_per_s")
                                and sus.get("completed_per_s") else None),
        "lost": http["accepted"] - done, "doubled": doubled + issued_twice,
        "not_refunded": not_refunded,
        "deliveries_per_return": round(deliveries_per_return, 2),
        "statements_per_return": statements,
        "row_writes_per_return": row_writes,
        "peer": peer,
    }
    # The headline figures, flat (issue 17's names).
    figures.update({
        "returns_per_s": sus.get("completed_per_s"),
        "ceiling_ratio": figures["pipeline_to_ceiling"],
        "p99_ms": e2e.get("p99"),
        "duplicated": figures["doubled"],
        "wal_records_per_return": round(wal_records / max(done, 1), 1),
        "wal_bytes_per_return": round(wal_bytes / max(done, 1)),
        "cpu_us_per_return": cpu["total"],
        "peer_returns_per_s": peer.get("returns_per_s") if peer else None,
        "peer_jobs_per_s": peer.get("jobs_per_s") if peer else None,
        "peer_ratio": peer_ratio,
        "peer_cpu_ratio": peer_cpu_ratio,
    })
    out_dir = os.path.join(ROOT, "var", "bench")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "latest.json"), "w") as f:
        json.dump(figures, f, indent=2)
    row = "%-44s %s"
    print()
    print(row % ("machine", "%d cpus, load average %.2f at start, %.2f at end" % (
        os.cpu_count(), load0[0], figures["machine"]["loadavg_at_end"][0])))
    print(row % ("offered", "%d returns: %.0f/s for %.0f s, %.0f%% return-and-refund" % (
        http["offered"], ARGS.rate, ARGS.seconds, ARGS.mix * 100)))
    print(row % ("sent / accepted / refused by intake", "%d / %d / %d in %.1f s%s" % (
        http["sent"], http["accepted"], http["refused"], http["seconds"],
        "; %d never sent (intake busy: given up %.0f s after the load)" % (
            http["unsent"], ARGS.give_up_seconds) if http["unsent"] else "")))
    print(row % ("receipts posted (scripted warehouse)", "%d" % http["receipts"]))
    print(row % ("intake HTTP latency (ms)", "p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f" % (
        http["http_p50_ms"], http["http_p99_ms"], http["http_p999_ms"], http["http_max_ms"])))
    print(row % ("accepted per s, sustained", "%s (middle 80%% of acceptances, over %s s)" % (
        sus.get("accepted_per_s"), sus.get("accepted_10_90_seconds"))))
    print(row % ("COMPLETED per s, sustained (end to end)",
                 "%s (middle 80%% of refunds issued, over %s s; busy %s s in all)" % (
                     sus.get("completed_per_s"), sus.get("completed_10_90_seconds"),
                     sus.get("busy_seconds"))))
    print(row % ("in the load window, after 10% warm-up", "requested %.1f/s, completed %.1f/s" % (
        w["requested_per_s"], w["completed_per_s"])))
    print(row % ("backlog at 40% / end of load", "%d / %d (%s)" % (
        w["backlog_at_40pct"], w["backlog_at_end"],
        "offered rate held" if held else "offered rate NOT held")))
    print(row % ("highest rate held (returns/s)", "%s" % (
        "%.0f" % highest if highest is not None else "-")))
    print(row % ("intake -> refund issued (ms)", fmt_lat(e2e)))
    for name, _, _, _ in HOPS:
        print(row % ("  " + name, fmt_lat(hops[name])))
    print(row % ("peak RSS (MB)", "  ".join("%s %.1f" % (k, v / 1024) for k, v in memory.items())))
    print(row % ("CPU per return (us)", "  ".join("%s %.0f" % (k, v) for k, v in cpu.items())))
    print(row % ("PostgreSQL per return", "%.2f commits, %.3f WAL syncs, %.1f WAL records"
                 " (%.2f full-page images), %.1f kB of WAL" % (
                     commits / max(done, 1), wal_syncs / max(done, 1), wal_records / max(done, 1),
                     wal_fpi / max(done, 1), wal_bytes / max(done, 1) / 1024)))
    if ceiling and ceiling.get("returns_per_s"):
        print(row % ("pgbench ceiling (returns/s)", "%.0f (-M prepared, %d returns per transaction,"
                     " %.1f statements per return); sustained completed/ceiling %s" % (
                         ceiling["returns_per_s"], ceiling["returns_per_transaction"],
                         ceiling["statements_per_return"],
                         "%.2f" % figures["pipeline_to_ceiling"]
                         if figures["pipeline_to_ceiling"] is not None else "-")))
        print(row % ("  replay: transactions/s per script", "  ".join(
            "%s %.1f" % (u[len("rf_"):], w["tps"]) for u, w in ceiling["scripts"].items()) +
            " (%d clients, %d s each)" % (ceiling["clients"], ceiling["seconds_per_script"])))
        print(row % ("  replay: PostgreSQL per return", "%.0f us CPU, %.1f WAL records"
                     " (the pipeline: %.0f us, %.1f)" % (
                         ceiling["postgres_cpu_us_per_return"], ceiling["wal_records_per_return"],
                         cpu["postgres"], wal_records / max(done, 1))))
    if ceiling and ceiling.get("error"):
        print(row % ("pgbench ceiling", "failed: %s" % ceiling["error"][:300]))
    # its own replay: printed whether or not the full one succeeded
    domain = (ceiling or {}).get("domain_only") or {}
    if domain.get("returns_per_s"):
        print(row % ("  domain writes alone (no bus tables)", "%.0f returns/s: %.0f us CPU,"
                     " %.1f WAL records, %.1f statements per return" % (
                         domain["returns_per_s"], domain["postgres_cpu_us_per_return"],
                         domain["wal_records_per_return"], domain["statements_per_return"])))
    elif domain.get("error"):
        print(row % ("  domain writes alone", "failed: %s" % domain["error"][:300]))
    if costs_compared:
        print(row % ("  write statements' PostgreSQL ms/return", "execution %.2f, planning %.2f"
                     " (the pipeline: %.2f, %.2f)" % (
                         costs_compared["replay"][1], costs_compared["replay"][2],
                         costs_compared["pipeline"][1], costs_compared["pipeline"][2])))
    if writes_compared:
        print(row % ("write statements per return", "replayed %.1f, pipeline ran %.1f (%s)" % (
            sum(a for a, _ in writes_compared.values()),
            sum(b for _, b in writes_compared.values()),
            ", ".join("%s %.1f/%.1f" % (u[len("rf_"):], a, b)
                      for u, (a, b) in sorted(writes_compared.items())))))
    if floor and floor.get("deliveries_per_s"):
        print(row % ("delivery floor (returns/s)", "%s: %d deliveries/s (outbox row written and"
                     " deleted, inbox row written; %d per transaction, %d clients) over the"
                     " pipeline's %.1f deliveries per return" % (
                         floor["returns_per_s"], floor["deliveries_per_s"],
                         floor["deliveries_per_transaction"], floor["clients"],
                         floor["deliveries_per_return"])))
        print(row % ("  floor: PostgreSQL per delivery", "%.0f us CPU, %.1f WAL records" % (
            floor["postgres_cpu_us_per_delivery"], floor["wal_records_per_delivery"])))
    if floor and floor.get("error"):
        print(row % ("delivery floor", "failed: %s" % floor["error"][:300]))
    if statements:
        print("\n".join(pgwork.format_statements(statements)))
    else:
        print(row % ("statements per return", "- (pg_stat_statements not loaded)"))
    print(row % ("deliveries per return (outbox rows)", "%.2f" % deliveries_per_return))
    print()
    print("\n".join(pgwork.format_row_writes(row_writes)))
    print()
    if peer:
        print("\n".join(graphile_peer.format_lines(peer, row)))
        print(row % ("PEER RATIO (completed per s / peer's)",
                     "%s (%s / %s returns/s)" % (
                         "%.2f" % peer_ratio if peer_ratio is not None else "-",
                         sus.get("completed_per_s"), peer.get("returns_per_s"))))
        print(row % ("  CPU per return, the peer's / ours", "%s (%s / %s us)" % (
            "%.2f" % peer_cpu_ratio if peer_cpu_ratio is not None else "-",
            peer.get("cpu_us_per_return"), cpu["total"])))
    else:
        print(row % ("peer", "skipped (--no-peer)"))
    print(row % ("exactly once", "lost %d, doubled %d, not refunded %d" % (
        figures["lost"], figures["doubled"], not_refunded)))
    h.check(done == http["accepted"] and figures["doubled"] == 0 and not_refunded == 0,
            "not exactly once")


if __name__ == "__main__":
    # pg_stat_statements counts the statements per return; --profile also
    # follows nested statements and times the planning.
    os.environ["RF_PG_EXTRA_CONF"] = "shared_preload_libraries = 'pg_stat_statements'\n" + (
        "pg_stat_statements.track = all\npg_stat_statements.track_planning = on"
        if ARGS.profile else "pg_stat_statements.track = top")
    policy = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump(POLICY, policy)
    policy.close()
    try:
        # The workers run with their own delivery timings, as deployed, not
        # the harness's test-speed ones (a 500 ms ack timeout resends, and
        # then backs off from, a consumer that is merely busy under load).
        harness.main(scenario, env={"RF_REVIEW_POLICY_FILE": policy.name,
                                    "RF_ACK_TIMEOUT_MS": None, "RF_OUTBOX_POLL_MS": None})
    finally:
        os.unlink(policy.name)
