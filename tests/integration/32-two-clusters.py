#!/usr/bin/env python3
"""32-two-clusters: each worker takes its own connection string, so the
workers can be spread over separate PostgreSQL servers. Here intake and review
use cluster A, warehouse, refund and notification cluster B (two private
clusters, two ports, two data directories); returns run end to end (automatic
and manual approvals, parcels received) and are refunded, each worker's tables
exist only in its own cluster, and every outbox drains.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import deploykit  # noqa: E402

ON_A = ("intake", "review")
ON_B = ("warehouse", "refund", "notification")


def scenario(h):
    h.step("two clusters: A for %s, B for %s" % (", ".join(ON_A), ", ".join(ON_B)))
    h.start_postgres()
    pg_b = os.path.join(h.tmp, "pgb")
    port_b = deploykit.extra_ports(h, 1)[0]
    h._pg_sh("init", pg_b, port_b)
    psql_b = [a if a != str(h.pg_port) else str(port_b) for a in h._psql_cmd]

    def rows_b(sql):
        p = subprocess.run(psql_b + ["-c", sql], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           cwd="/", timeout=h.t(60))
        if p.returncode != 0:
            raise harness.Failure("psql on B: %s: %s" % (sql, p.stderr.decode()))
        out = p.stdout.decode().rstrip("\n")
        return [rec.split("\x1f") for rec in out.split("\x1e") if rec != ""] if out else []

    def count_b(sql_from_where):
        return int(rows_b("SELECT count(*) " + sql_from_where)[0][0])

    try:
        for w in ON_B:
            h._dsn[w] = h._pg_sh("dsn", port_b, w)
        h.start_all()
        for w in harness.WORKERS:
            harness.log("%-12s RF_%s_DB=%s" % (w, w.upper(), h.dsn(w)))

        h.step("returns end to end across the two clusters")
        rids = deploykit.run_returns(h, n_auto=6, n_manual=3, tag="2c", count=count_b)
        def drained():
            a = sum(int(r[1]) for r in h.psql(" UNION ALL ".join(
                "SELECT '%s', count(*) FROM %s.outbox" % (w, w) for w in ON_A)))
            b = sum(int(r[1]) for r in rows_b(" UNION ALL ".join(
                "SELECT '%s', count(*) FROM %s.outbox" % (w, w) for w in ON_B)))
            return a + b == 0
        h.wait_until(drained, 30, "every outbox in both clusters to drain")

        h.step("each worker's tables live only in its own cluster")
        for w in ON_A:
            h.check(h.psql_val("SELECT to_regclass('%s.outbox') IS NOT NULL" % w) == "t",
                    "%s has no tables on A" % w)
            h.check(rows_b("SELECT to_regclass('%s.outbox') IS NULL" % w)[0][0] == "t",
                    "%s has tables on B" % w)
        for w in ON_B:
            h.check(rows_b("SELECT to_regclass('%s.outbox') IS NOT NULL" % w)[0][0] == "t",
                    "%s has no tables on B" % w)
            h.check(h.psql_val("SELECT to_regclass('%s.outbox') IS NULL" % w) == "t",
                    "%s has tables on A" % w)
        refunds = count_b("FROM refund.refunds WHERE return_id IN (%s)"
                          % ",".join("'%s'" % r for r in rids))
        h.check(refunds == len(rids), "refund.refunds on B: %d rows for %d returns"
                % (refunds, len(rids)))
        n_ret = h.count("FROM intake.returns WHERE status = 'refunded'")
        h.check(n_ret == len(rids), "intake.returns on A: %d refunded of %d" % (n_ret, len(rids)))
        msgs = count_b("FROM notification.messages")
        print("two clusters: returns=%d refunded (A: intake+review port %d, B: warehouse+refund+"
              "notification port %d), refunds on B=%d, messages on B=%d"
              % (len(rids), h.pg_port, port_b, refunds, msgs))
    finally:
        h.stop_workers()
        h._pg_sh("stop", pg_b)


if __name__ == "__main__":
    harness.main(scenario, start=False)
