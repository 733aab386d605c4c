#!/usr/bin/env python3
"""34-replicas: review and refund each run as two replicas sharing their
worker's schema, under a stream of returns, and one replica of each is killed
with SIGKILL mid-stream and not restarted: nothing lost, nothing doubled,
per-return order kept, and the dead replicas' shares taken over.

  - RF_REVIEW_BUS and RF_REFUND_BUS list two endpoints; replica 0 of each is
    the harness's worker, replica 1 an extra process with RF_REPLICA_ID=1;
    RF_REPLICA_LEASE_S=2;
  - a driver sends RF_REPLICA_RETURNS (default 400) returns, ~70% small
    refund_only (automatic), ~30% return_refund, each from its own order; a
    completer approves pending reviews through both review replicas' HTTP
    (so both replicas produce return.approved) and receives expected parcels;
  - after a third of the returns review replica 1 is killed, after two thirds
    refund replica 0;
  - then every return must be refunded exactly once: one row in intake.returns
    each, one refund and one plan each, one review task each, no notification
    message or timeline event twice, every outbox and dead-letter table empty;
  - order: in every consumer's inbox, the events of one return from one
    producer were applied in the order they were produced (event ids are
    time-ordered ULIDs) — checked for every such pair;
  - both replicas of each worker did work before the kill (their /metrics),
    producers logged the dead replica unreachable, and the survivor logged
    replica_takeover of the dead one's unsent rows where it had any.
Prints: replicas: returns=N lost=0 doubled=0 out_of_order=0 ... and figures.
"""
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import deploykit  # noqa: E402

N = int(os.environ.get("RF_REPLICA_RETURNS", "400"))
SEED = int(os.environ.get("RF_REPLICA_SEED", str(int(time.time()))))
REPLICATED = ("review", "refund")


def metric(text, name):
    for ln in text.splitlines():
        if ln.startswith(name + "{") or ln.startswith(name + " "):
            return int(float(ln.rsplit(" ", 1)[1]))
    return None


def http_port_get(h, port, path):
    conn = harness.http.client.HTTPConnection("127.0.0.1", port, timeout=h.t(10))
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode("utf-8", "replace")
    finally:
        conn.close()


def http_port_post(h, port, path, body):
    import json
    conn = harness.http.client.HTTPConnection("127.0.0.1", port, timeout=h.t(10))
    try:
        conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, r.read().decode("utf-8", "replace")
    finally:
        conn.close()


def scenario(h):
    random.seed(SEED)
    extra_ports = deploykit.extra_ports(h, 4)
    r1 = {"review": (extra_ports[0], extra_ports[1]), "refund": (extra_ports[2], extra_ports[3])}
    for w in REPLICATED:
        h.env_overrides["RF_%s_BUS" % w.upper()] = "tcp://127.0.0.1:%d,tcp://127.0.0.1:%d" % (
            h.workers[w].bus_port, r1[w][1])
    h.env_overrides["RF_REPLICA_LEASE_S"] = "2"
    h.start_postgres()
    h.start_all()
    extras = {}
    try:
        for w in REPLICATED:
            extras[w] = deploykit.Extra(h, w, "%s-replica1" % w, {"RF_REPLICA_ID": "1"}, r1[w][0])
        for x in extras.values():
            x.wait_healthy()
        http_of = {("review", 0): h.workers["review"].http_port, ("review", 1): r1["review"][0],
                   ("refund", 0): h.workers["refund"].http_port, ("refund", 1): r1["refund"][0]}
        harness.log("replicas up: %s; seed %d" % (http_of, SEED))
        for w in REPLICATED:
            h.check(any("replicated=yes" in ln for ln in h.log_grep(w, "event=bus_started")),
                    "%s replica 0 does not know it is replicated" % w)

        h.step("stream %d returns; kill -9 review replica 1 and refund replica 0 on the way" % N)
        plan = [("refund_only", random.randint(100, 5000)) if random.random() < 0.7
                else ("return_refund", random.randint(1000, 9000)) for _ in range(N)]
        sent, errors = [], []
        stop = threading.Event()
        dead = set()
        stats = {"approved": 0, "received": 0}

        def driver():
            try:
                for i, (kind, amount) in enumerate(plan):
                    order = "rep-%d-%05d" % (SEED, i)
                    h.post_order(order, [("L1", 1, 9000)])
                    rid = h.post_return("rep-%d-%05d" % (SEED, i), order, "L1", kind=kind,
                                        amount=amount, reason="size_fit")
                    sent.append(rid)
                    time.sleep(0.01)
            except BaseException as e:  # noqa: B902
                errors.append("driver: %s" % e)

        def completer():
            done_a, done_r = set(), set()
            try:
                while not stop.is_set():
                    st, body = http_port_get(h, http_of[("review", 0)], "/v1/reviews")
                    import json
                    pending = [t["return_id"] for t in json.loads(body)["reviews"]] if st == 200 else []
                    for rid in pending:
                        if rid in done_a:
                            continue
                        rep = random.choice([0, 1]) if ("review", 1) not in dead else 0
                        try:
                            st, _ = http_port_post(h, http_of[("review", rep)],
                                                   "/v1/reviews/%s/approve" % rid, {"by": "rep-bot"})
                        except OSError:
                            continue
                        if st in (200, 409):
                            done_a.add(rid)
                            stats["approved"] += 1
                    for (rid,) in h.psql("SELECT return_id FROM warehouse.expected_parcels"
                                         " WHERE status = 'expected' LIMIT 200"):
                        if rid in done_r:
                            continue
                        r = h.http("POST", "warehouse", "/v1/receipts",
                                   {"return_id": rid, "condition": "resellable", "received_by": "rep"})
                        if r.status in (200, 409):
                            done_r.add(rid)
                            stats["received"] += 1
                    time.sleep(0.1)
            except BaseException as e:  # noqa: B902
                errors.append("completer: %s" % e)

        t0 = time.monotonic()
        td = threading.Thread(target=driver, daemon=True)
        tc = threading.Thread(target=completer, daemon=True)
        td.start()
        tc.start()
        before_kill = {}
        h.wait_until(lambda: len(sent) >= N // 3 or errors, 120, "a third of the returns sent")
        before_kill["review-1"] = http_port_get(h, r1["review"][0], "/metrics")[1]
        dead.add(("review", 1))
        extras["review"].kill(signal.SIGKILL)
        harness.log("kill -9 review replica 1 (pid %d) after %d returns sent"
                    % (extras["review"].proc.pid, len(sent)))
        h.wait_until(lambda: len(sent) >= 2 * N // 3 or errors, 120, "two thirds of the returns sent")
        before_kill["refund-0"] = h.metrics("refund")
        pid = h.pid("refund")
        h.kill("refund", signal.SIGKILL)
        dead.add(("refund", 0))
        harness.log("kill -9 refund replica 0 (pid %d) after %d returns sent" % (pid, len(sent)))
        td.join(timeout=h.t(300))
        h.check(not td.is_alive() and not errors, "driver: %s" % errors)
        t_sent = time.monotonic()

        last = {}

        def all_refunded():
            rows = h.psql("SELECT status, count(*) FROM intake.returns WHERE platform_return_id"
                          " LIKE 'rep-%d-%%' GROUP BY 1" % SEED)
            last.clear()
            last.update({s: int(n) for s, n in rows})
            return last.get("refunded", 0) == N
        try:
            h.wait_until(all_refunded, 120, "all %d returns refunded" % N, interval=0.5)
        except harness.Failure as e:
            raise harness.Failure("%s; statuses %s" % (e, last)) from None
        elapsed = time.monotonic() - t0
        harness.log("all %d refunded %.1fs after the last was sent (%.1fs in all)"
                    % (N, time.monotonic() - t_sent, elapsed))
        stop.set()
        tc.join(timeout=h.t(30))
        h.check(not errors, "; ".join(errors))
        h.wait_outboxes_empty(60)

        h.step("nothing lost, nothing doubled, order kept")
        problems = []
        rids = set(sent)
        q = lambda sql: {r[0]: int(r[1]) for r in h.psql(sql)}  # noqa: E731
        ret = q("SELECT return_id, count(*) FROM intake.returns WHERE platform_return_id LIKE"
                " 'rep-%d-%%' GROUP BY 1" % SEED)
        refunds = q("SELECT return_id, count(*) FROM refund.refunds GROUP BY 1")
        plans = q("SELECT return_id, count(*) FROM refund.plans GROUP BY 1")
        tasks = q("SELECT return_id, count(*) FROM review.tasks GROUP BY 1")
        lost = [r for r in rids if ret.get(r) != 1 or refunds.get(r, 0) == 0]
        doubled = [r for r in rids if refunds.get(r, 0) > 1 or plans.get(r, 0) > 1
                   or tasks.get(r, 0) > 1 or ret.get(r, 0) > 1]
        dup_msgs = h.psql("SELECT source_event_id, audience FROM notification.messages"
                          " GROUP BY 1, 2 HAVING count(*) > 1")
        dup_tl = h.psql("SELECT event_id FROM intake.timeline GROUP BY 1 HAVING count(*) > 1")
        if lost:
            problems.append("%d returns lost: %s" % (len(lost), lost[:5]))
        if doubled or dup_msgs or dup_tl:
            problems.append("doubled: returns %s, messages %s, timeline %s"
                            % (doubled[:5], dup_msgs[:5], dup_tl[:5]))
        pairs = out_of_order = 0
        bad_order = []
        for w in harness.WORKERS:
            # intake's record of what it applied is its timeline (its inbox)
            rows = h.psql("SELECT producer, return_id, event_id FROM intake.timeline"
                          " WHERE producer <> 'intake' ORDER BY producer, return_id, id"
                          if w == "intake" else
                          "SELECT producer, return_id, event_id FROM %s.inbox"
                          " ORDER BY producer, return_id, applied_at, event_id" % w)
            prev = None
            for producer, rid, ev in rows:
                if prev and prev[0] == producer and prev[1] == rid:
                    pairs += 1
                    if ev < prev[2]:
                        out_of_order += 1
                        bad_order.append((w, producer, rid, prev[2], ev))
                prev = (producer, rid, ev)
        if out_of_order:
            problems.append("%d of %d event pairs applied out of order: %s"
                            % (out_of_order, pairs, bad_order[:5]))
        dls = h.dead_letter_counts()
        if any(dls.values()):
            problems.append("dead letters: %s" % dls)

        h.step("both replicas worked; the dead ones' shares were taken over")
        applied = {}
        applied["review-0"] = metric(h.metrics("review"), "rf_inbox_applied_total")
        applied["review-1 (until killed)"] = metric(before_kill["review-1"], "rf_inbox_applied_total")
        applied["refund-0 (until killed)"] = metric(before_kill["refund-0"], "rf_inbox_applied_total")
        applied["refund-1"] = metric(http_port_get(h, r1["refund"][0], "/metrics")[1],
                                     "rf_inbox_applied_total")
        for k, v in applied.items():
            if not v:
                problems.append("replica %s applied nothing (%r)" % (k, v))
        unreachable = {w: len(h.log_grep(w, "event=replica_unreachable"))
                       for w in harness.WORKERS}
        takeovers = {"review-0": h.log_grep("review", "event=replica_takeover"),
                     "refund-1": [ln for ln in extras["refund"].log_text().splitlines()
                                  if "event=replica_takeover" in ln]}
        for k, lines in takeovers.items():
            for ln in lines:
                harness.log("%s: %s" % (k, ln.strip()[:160]))
        dups = {"review-0": metric(h.metrics("review"), "rf_inbox_duplicates_total"),
                "refund-1": metric(http_port_get(h, r1["refund"][0], "/metrics")[1],
                                   "rf_inbox_duplicates_total")}
        n_rr = sum(1 for k, _ in plan if k == "return_refund")
        print("replicas: returns=%d (%d return_refund) lost=%d doubled=%d out_of_order=%d"
              " (of %d same-return event pairs checked) dead_letters=%d elapsed=%.1fs"
              % (N, n_rr, len(lost), len(doubled) + len(dup_msgs) + len(dup_tl), out_of_order,
                 pairs, sum(dls.values()), elapsed))
        print("replicas: events applied per replica %s; redeliveries dropped by survivors' inboxes %s;"
              " producers logging a replica unreachable %s; takeovers %s"
              % (applied, dups, {k: v for k, v in unreachable.items() if v},
                 {k: len(v) for k, v in takeovers.items()}))
        sys.stdout.flush()
        h.check(not problems, "replica test found problems:\n  " + "\n  ".join(problems))
    finally:
        problems = deploykit.stop_all(list(extras.values()))
    h.check(not problems, "; ".join(problems))


if __name__ == "__main__":
    harness.main(scenario, start=False)
