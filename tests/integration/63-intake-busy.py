#!/usr/bin/env python3
"""63: when the pipeline is behind, intake says busy instead of queueing without bound.

Intake runs with RF_INTAKE_MAX_BACKLOG=20. Review and notification are stopped
(SIGSTOP), so the events intake produces for them wait in its outbox.

Proves:
  - returns are accepted (202) until intake's outbox holds at least 20 events;
  - then POST /v1/returns answers 503 {"error": "busy"} naming the backlog and the
    limit, and the refused request leaves nothing behind (no return with its id);
  - a Douyin push for a new after-sale meanwhile is answered and recorded, but not
    turned into a return while intake is busy;
  - once review and notification resume and catch up, the same request is accepted,
    the pushed after-sale becomes a return, and every accepted API return is
    refunded exactly once.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import feedkit  # noqa: E402
import harness  # noqa: E402

LIMIT = 20
FEEDS = feedkit.Feeds(poll_interval_ms=0, api=False)
DY_ID = "7630000000000000001"


def scenario(h):
    h.step("review and notification stopped: intake's events for them wait")
    for w in ("review", "notification"):
        h.kill(w, signal.SIGSTOP, wait=False)
    accepted, refused = [], None
    try:
        for i in range(40):
            order, line = h.fresh_line("busy")
            pid = harness.uid("busy-%d" % i)
            r = h.http("POST", "intake", "/v1/returns", h.return_body(pid, order, line))
            if r.status == 202:
                accepted.append(r.json["return_id"])
                continue
            refused = (r, pid, order, line)
            break
        h.check(refused is not None, "40 returns accepted with review and notification stopped"
                " and RF_INTAKE_MAX_BACKLOG=%d: intake never said busy" % LIMIT)
        r, pid, order, line = refused
        backlog = h.count("FROM intake.outbox")
        harness.log("accepted %d, then %d %s (intake.outbox rows: %d)"
                    % (len(accepted), r.status, r.json, backlog))
        h.check(r.status == 503 and r.get("error") == "busy",
                "expected 503 busy, got %r" % r)
        h.check("limit %d" % LIMIT in r.get("message", ""),
                "the busy message does not name the limit: %r" % r.get("message"))
        h.check(backlog >= LIMIT, "busy with only %d events waiting (limit %d)" % (backlog, LIMIT))
        h.check(h.count("FROM intake.returns WHERE platform_return_id = '%s'" % pid) == 0,
                "the refused request left a return behind")

        feedkit.post_ks_order(h, "6630000000000000001", "6650000000000000001", price=800,
                              platform="douyin", shop="dy-shop")
        data = {"aftersale_id": DY_ID, "p_id": "6630000000000000001",
                "s_id": "6650000000000000001", "shop_id": "dy-shop", "aftersale_status": 6,
                "aftersale_type": 2, "refund_amount": 800, "reason_code": 1,
                "apply_time": int(time.time())}
        status, answer, _ = FEEDS.dy_push([{"tag": "200", "msg_id": "dy-63-1", "data": data}])
        h.check(status == 200 and '"code":0' in answer.replace(" ", ""),
                "Douyin push while busy answered %d %s" % (status, answer))
        h.wait_until(lambda: h.count("FROM intake.feed_pushes WHERE event_id = 'dy-63-1'") == 1,
                     10, "the push to be recorded while intake is busy")
        time.sleep(1.5)
        h.check(h.count("FROM intake.returns WHERE platform_return_id = '%s'" % DY_ID) == 0,
                "a pushed after-sale became a return while intake was busy")
        harness.log("a Douyin push while busy: answered, recorded, not yet a return")
    finally:
        for w in ("review", "notification"):
            h.kill(w, signal.SIGCONT, wait=False)

    h.step("resumed: the backlog drains and the same request is accepted")
    h.wait_until(lambda: h.count("FROM intake.outbox") < LIMIT, 30,
                 "intake's outbox to drain below the limit")
    again = h.wait_until(
        lambda: (lambda r: r if r.status == 202 else None)(
            h.http("POST", "intake", "/v1/returns", h.return_body(pid, order, line))),
        15, "the refused request to be accepted once the pipeline caught up", interval=1.2)
    accepted.append(again.json["return_id"])
    pushed = h.wait_until(lambda: h.psql_val("SELECT return_id FROM intake.returns"
                                             " WHERE platform_return_id = '%s'" % DY_ID),
                          20, "the pushed after-sale to become a return once not busy")
    harness.log("the pushed after-sale became return %s once intake was not busy" % pushed)
    for rid in accepted:
        h.wait_status(rid, "refunded", timeout=60)
    doubled = h.count("FROM (SELECT return_id FROM refund.refunds GROUP BY 1"
                      " HAVING count(*) > 1) d")
    h.check(doubled == 0, "%d returns refunded twice" % doubled)
    harness.log("busy then accepted: %d returns refunded once each" % len(accepted))


if __name__ == "__main__":
    try:
        harness.main(scenario, worker_env={"intake": dict(FEEDS.env,
                                                          RF_INTAKE_MAX_BACKLOG=str(LIMIT))})
    finally:
        FEEDS.close()
