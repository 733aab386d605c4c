#!/usr/bin/env python3
"""62: a resent event whose two copies reach the consumer in one batch keeps the
answer of the first copy.

A producer resends an event when its answer is late. If the consumer was stopped,
both copies wait in its socket and are applied in one batch: the first is applied
(here: deferred, since refund has no plan for the return yet), the second is a
duplicate of it. The duplicate must not be acknowledged: an ACK tells the producer
to delete the event, which would lose it although it was never applied.

Proves: with refund stopped (SIGSTOP) while warehouse (RF_ACK_TIMEOUT_MS=300) sends
and resends a goods.inspected for a return refund does not know, then resumed,
  - the event stays in warehouse's outbox for seconds after, not acknowledged;
  - every copy was answered DEFER (at least 2 deferrals counted);
  - it is not in refund's inbox and nothing about it was written there.

And intake, which writes the events it hears once per batch (its flush): a
review.opened for a return intake does not know, sent with events of a known
return in the same stream, is deferred (review's outbox row counts deferrals, no
timeline row, no inbox row), while the known return's events are recorded.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def scenario(h):
    unknown = harness.ulid()
    body = {"receipt_id": harness.ulid(), "grade": "resellable", "disposition": "restock",
            "inspected_by": "qa"}
    event_id, payload = harness.event_payload("goods.inspected", unknown, "warehouse", body)

    h.step("refund stopped; warehouse sends the event, and resends it while refund is silent")
    h.kill("refund", signal.SIGSTOP, wait=False)
    try:
        harness.insert_outbox(h, "warehouse", "refund", event_id, unknown, "goods.inspected",
                              payload)
        time.sleep(2.0)  # several ack timeouts of 300 ms: copies queue at refund
    finally:
        h.kill("refund", signal.SIGCONT, wait=False)

    h.step("refund resumed: the copies are answered; the event must still be pending")
    seen = h.wait_until(lambda: h.psql("SELECT deferrals FROM warehouse.outbox"
                                       " WHERE event_id = '%s' AND deferrals >= 1" % event_id),
                        15, "refund to answer DEFER to the copies")
    harness.log("warehouse.outbox: deferrals=%s after resume" % seen[0][0])
    time.sleep(3.0)
    rows = h.psql("SELECT deferrals, attempts FROM warehouse.outbox WHERE event_id = '%s'"
                  % event_id)
    h.check(len(rows) == 1, "the event left warehouse's outbox although refund never applied"
            " it (a duplicate copy was acknowledged): rows %s" % rows)
    h.check(int(rows[0][0]) >= 2,
            "%s DEFER answers; expected one per copy, at least 2 (a copy was acknowledged, or"
            " the event was sent only once)" % rows[0][0])
    h.check(h.count("FROM warehouse.dead_letter WHERE event_id = '%s'" % event_id) == 0,
            "the event was dead-lettered")
    h.check(h.count("FROM refund.inbox WHERE event_id = '%s'" % event_id) == 0,
            "refund recorded the deferred event in its inbox")
    harness.log("3 s later the event is still pending in warehouse.outbox: deferrals=%s" % rows[0][0])
    h.psql("DELETE FROM warehouse.outbox WHERE event_id = '%s'" % event_id)

    h.step("intake defers, from its batch flush, an event about a return it does not know")
    order, line = h.fresh_line("known")
    known = h.post_return(harness.uid("known"), order, line)
    stranger = harness.ulid()
    opened, p1 = harness.event_payload("review.opened", stranger, "review",
                                       {"task_id": "t-x", "required_role": "cs"})
    harness.insert_outbox(h, "review", "intake", opened, stranger, "review.opened", p1)
    h.wait_status(known, "refunded")
    seen = h.wait_until(lambda: h.psql("SELECT deferrals, last_error FROM review.outbox"
                                       " WHERE event_id = '%s' AND deferrals >= 1" % opened),
                        15, "intake to defer the event about an unknown return")
    h.check("not known to intake" in seen[0][1], "deferral reason %r" % seen[0][1])
    h.check(h.count("FROM intake.timeline WHERE event_id = '%s'" % opened) == 0,
            "intake recorded a timeline row for an unknown return")
    h.check(h.count("FROM intake.inbox WHERE event_id = '%s'" % opened) == 0,
            "intake kept the deferred event in its inbox")
    harness.log("intake deferred it: deferrals=%s reason=%r; the known return was refunded"
                % tuple(seen[0]))
    h.psql("DELETE FROM review.outbox WHERE event_id = '%s'" % opened)


if __name__ == "__main__":
    harness.main(scenario, worker_env={"warehouse": {"RF_ACK_TIMEOUT_MS": "300",
                                                     "RF_DEFER_LIMIT_S": "3600"}})
