#!/usr/bin/env python3
"""63: when the pipeline is behind, intake says busy instead of queueing without bound.

Intake runs with RF_INTAKE_MAX_BACKLOG=20. Review and notification are stopped
(SIGSTOP), so the events intake produces for them wait in its outbox.

Proves:
  - returns are accepted (202) until intake's outbox holds at least 20 events;
  - then POST /v1/returns answers 503 {"error": "busy"} naming the backlog and the
    limit, and the refused request leaves nothing behind (no return with its id);
  - once review and notification resume and catch up, the same request is accepted,
    and every accepted return is refunded exactly once.
"""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

LIMIT = 20


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
    for rid in accepted:
        h.wait_status(rid, "refunded", timeout=60)
    doubled = h.count("FROM (SELECT return_id FROM refund.refunds GROUP BY 1"
                      " HAVING count(*) > 1) d")
    h.check(doubled == 0, "%d returns refunded twice" % doubled)
    harness.log("busy then accepted: %d returns refunded once each" % len(accepted))


if __name__ == "__main__":
    harness.main(scenario, worker_env={"intake": {"RF_INTAKE_MAX_BACKLOG": str(LIMIT)}})
