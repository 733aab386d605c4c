#!/usr/bin/env python3
"""52: a crash between the decision and the platform's answer (issue 4, "Out").

The stand-in answers slowly (1.5 s), so each call is on the wire when the
worker that made it is killed with SIGKILL right after its decision. The
platform still carries the call out. The worker restarts, sends the pending
calls again with the same idempotency key, gets "bad state" (the record has
moved on), fetches the record, sees it already in the target state and
counts the call as done:
  - review, 3 returns approved by a rule: returngoods.approve;
  - refund, 3 refund-only returns: refund.approve.
For every return: exactly one successful platform call, the follow-up event
exactly once (return.approved / refund.issued), the return at the right
status: none lost, none doubled. Prints the counts and the recovery time.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import platform_calls_kit as kit  # noqa: E402

standin, CLUSTER = kit.setup(kit.AUTO_RULES)
N = 3
SLOW_S = 1.5


def crash_during_calls(h, worker, method, kind, amount, event, status):
    standin.delay_s[method] = SLOW_S
    made = []
    for _ in range(N):
        oid, rid, version = kit.ks_record(h, standin, kind, amount=amount, price=amount)
        made.append((kit.post_ks_return(h, oid, rid, version, kind, amount, reason="quality"), rid))
    ids = "', '".join(r for r, _ in made)
    h.wait_until(lambda: h.count("FROM %s.platform_calls WHERE return_id IN ('%s')" % (worker, ids))
                 == N, 20, "the %d decisions of %s to be written" % (N, worker))

    def arrived():
        with standin.lock:
            params = [q for m, q in standin.received if m == method]
        return all(any(rid in q for q in params) for _, rid in made)
    h.wait_until(arrived, 20, "the %d calls of %s to reach the platform" % (N, worker))
    # the calls are on the wire; the stand-in is still working on them
    in_flight = len([1 for _, rid in made if not kit.successes(standin, method, rid)])
    h.kill(worker)
    standin.delay_s[method] = 0
    h.wait_until(lambda: all(kit.successes(standin, method, rid) for _, rid in made),
                 10, "the platform to carry out the calls of the killed %s" % worker)
    t0 = time.monotonic()
    h.start(worker)
    for ret, rid in made:
        h.wait_status(ret, status, timeout=30)
    recovery = time.monotonic() - t0
    sent = 0
    for ret, rid in made:
        ok = kit.successes(standin, method, rid)
        h.check(len(ok) == 1, "exactly one successful %s for %s: %s" % (method, rid,
                                                                       standin.log_of(method, rid)))
        tries = standin.log_of(method, rid)
        sent += len(tries)
        h.check(len(tries) == 2 and tries[1]["answer"]["result"] == 420
                and tries[0]["idempotency_key"] == tries[1]["idempotency_key"],
                "the retry used the same key and met bad state: %s" % tries)
        calls = kit.calls(h, worker, ret)
        h.check(len(calls) == 1 and calls[0]["state"] == "succeeded"
                and calls[0]["outcome"] == "already_done",
                "%s's record of %s: %s" % (worker, ret, [(c["state"], c["outcome"]) for c in calls]))
        h.check(h.timeline_types(ret).count(event) == 1, "%s once for %s: %s"
                % (event, ret, h.timeline_types(ret)))
    harness.log("measured: %s killed with %d of %d calls on the wire; after the restart %d/%d"
                " returns reached %s in %.2fs; successful platform calls per return: 1 each;"
                " requests seen by the platform: %d (one retry each, answered 'bad state',"
                " settled as already done); %s emitted once per return"
                % (worker, in_flight, N, N, N, status, recovery, sent, event))


def scenario(h):
    h.step("review killed while returngoods.approve is on the wire")
    crash_during_calls(h, "review", kit.APPROVE_RETURN, "return_refund", 3990, "return.approved",
                       "awaiting_return")
    h.step("refund killed while refund.approve is on the wire")
    crash_during_calls(h, "refund", kit.APPROVE_REFUND, "refund_only", 2000, "refund.issued",
                       "refunded")


harness.main(scenario, **CLUSTER)
