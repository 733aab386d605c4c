#!/usr/bin/env python3
"""bench.py: end-to-end throughput, latency and memory of the real pipeline.

Starts a private PostgreSQL (durable: synchronous_commit on, default fsync) and
the five workers through the integration harness, creates the orders, then
drives an open-loop load of refund-only returns (approved automatically) into
intake with tools/rf-bench at --rate for --seconds, waits for the pipeline to
drain, and reports, from the workers' own records:

  - intake's HTTP answers (accepted, refused) and their latency;
  - returns completed end to end per second (refund.issued events in intake's
    timeline over the time they span);
  - latency intake -> refund issued (occurred_at of return.requested to
    refund.issued, both from the timeline): p50, p99, p99.9, max;
  - peak resident memory (VmHWM) of each worker;
  - the exactly-once check: every accepted return refunded exactly once.

Writes the figures to var/bench/latest.json and prints them as a table.

Not yet measured (see the Throughput issue): the return-and-refund mix with
scripted receipts, per-hop latencies, the pgbench ceiling of the same SQL.
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
os.environ.setdefault("RF_REPO_ROOT", ROOT)
os.environ.setdefault("RF_BUILD", os.path.join(ROOT, "build", "release"))
import harness  # noqa: E402

ORDERS = 2000


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rate", type=float, default=float(os.environ.get("RF_BENCH_RATE", 3000)))
    p.add_argument("--seconds", type=float, default=float(os.environ.get("RF_BENCH_SECONDS", 60)))
    p.add_argument("--connections", type=int, default=32)
    return p.parse_args()


ARGS = parse_args()


def scenario(h):
    prefix = harness.uid("B")
    now_ms = int(time.time() * 1000)
    for i in range(ORDERS):
        r = h.http("POST", "intake", "/v1/orders", {
            "platform": "api", "shop_id": "bench", "order_id": "%s-%d" % (prefix, i),
            "paid_at": now_ms - 3 * 86400000, "delivered_at": now_ms - 86400000,
            "lines": [{"line_id": "L1", "sku_id": "SKU%d" % (i % 50), "category": "kitchen",
                       "quantity": 100000, "unit_price_fen": 100000}]})
        h.check(r.status == 200, "order: %r" % r)
    run = harness.uid("R")
    load = subprocess.run(
        [os.path.join(h.build, "bin", "rf-bench"), "--port", str(h.workers["intake"].http_port),
         "--rate", str(ARGS.rate), "--seconds", str(ARGS.seconds), "--orders", str(ORDERS),
         "--connections", str(ARGS.connections), "--order-prefix", prefix, "--run", run],
        capture_output=True, text=True)
    h.check(load.returncode == 0, "rf-bench failed: %s %s" % (load.stdout, load.stderr))
    http = json.loads(load.stdout)
    deadline = time.time() + 300
    while time.time() < deadline:
        done = int(h.psql_val("SELECT count(*) FROM refund.refunds"))
        if done >= http["accepted"]:
            break
        time.sleep(0.5)
    h.wait_outboxes_empty(120)
    lat = h.psql("SELECT percentile_cont(ARRAY[0.5, 0.99, 0.999, 1.0]) WITHIN GROUP (ORDER BY"
                 " extract(epoch FROM f.occurred_at - s.occurred_at) * 1000)"
                 " FROM intake.timeline s JOIN intake.timeline f ON f.return_id = s.return_id"
                 " AND f.type = 'refund.issued' WHERE s.type = 'return.requested'")[0][0]
    p50, p99, p999, pmax = (float(x) for x in lat.strip("{}").split(","))
    rate = float(h.psql_val("SELECT count(*) / greatest(extract(epoch FROM max(occurred_at)"
                            " - min(occurred_at)), 0.001) FROM intake.timeline"
                            " WHERE type = 'refund.issued'"))
    doubled = int(h.psql_val("SELECT count(*) FROM (SELECT return_id FROM refund.refunds"
                             " GROUP BY 1 HAVING count(*) > 1) d"))
    memory = {}
    for w in harness.WORKERS:
        with open("/proc/%d/status" % h.workers[w].proc.pid) as f:
            memory[w] = int(next(line for line in f if line.startswith("VmHWM")).split()[1])
    figures = {
        "machine": {"cpus": os.cpu_count()}, "offered_rate": ARGS.rate, "seconds": ARGS.seconds,
        "http": http, "completed": done, "completed_per_s": round(rate, 1),
        "intake_to_refund_ms": {"p50": p50, "p99": p99, "p999": p999, "max": pmax},
        "peak_rss_kb": memory, "lost": http["accepted"] - done, "doubled": doubled,
    }
    out_dir = os.path.join(ROOT, "var", "bench")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "latest.json"), "w") as f:
        json.dump(figures, f, indent=2)
    print()
    print("%-34s %s" % ("offered rate (returns/s)", ARGS.rate))
    print("%-34s %d sent, %d accepted, %d refused" % ("intake HTTP", http["sent"], http["accepted"],
                                                     http["refused"]))
    print("%-34s p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f" % (
        "intake HTTP latency (ms)", http["http_p50_ms"], http["http_p99_ms"], http["http_p999_ms"],
        http["http_max_ms"]))
    print("%-34s %.1f" % ("completed end to end (returns/s)", rate))
    print("%-34s p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f" % (
        "intake -> refund issued (ms)", p50, p99, p999, pmax))
    print("%-34s %s" % ("peak RSS (MB)", "  ".join("%s %.1f" % (w, kb / 1024)
                                                    for w, kb in memory.items())))
    print("%-34s lost %d, doubled %d" % ("exactly once", http["accepted"] - done, doubled))
    h.check(done == http["accepted"] and doubled == 0, "not exactly once")


if __name__ == "__main__":
    harness.main(scenario)
