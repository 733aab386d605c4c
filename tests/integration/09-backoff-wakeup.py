#!/usr/bin/env python3
"""09-backoff-wakeup: an event its consumer deferred is sent again when its
backoff ends, not at the producer's next periodic outbox poll.

Warehouse polls its outbox only every 30 s here (RF_OUTBOX_POLL_MS), so the
periodic poll cannot be what resends. A goods.inspected for a return refund
has never heard of is put in warehouse's outbox; refund answers DEFER to it
every time, and warehouse backs off 25, 50, 100, 200 ms ... (doubling)
between tries. Proves:
  - it is tried again at those backoffs: at least 4 more deferrals within
    about half a second of the first (with only the periodic poll: none for
    30 s);
  - a deferral is still not a failure (attempts stays 0);
  - once the event is discarded, nothing is left in any outbox.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

POLL_MS = 30000


def deferrals(h, event_id):
    rows = h.psql("SELECT deferrals, attempts FROM warehouse.outbox WHERE event_id = '%s'"
                  % event_id)
    return (int(rows[0][0]), int(rows[0][1])) if rows else None


def scenario(h):
    h.step("a goods.inspected for a return refund never heard of, in warehouse's outbox")
    unknown = harness.ulid()
    body = {"receipt_id": harness.ulid(), "grade": "resellable", "disposition": "restock",
            "sku_id": "sku-L1", "quantity": 1, "inspected_by": "mallory"}
    event_id, payload = harness.event_payload("goods.inspected", unknown, "warehouse", body)
    harness.insert_outbox(h, "warehouse", "refund", event_id, unknown, "goods.inspected",
                          payload)
    # A restarted worker polls its whole outbox once at start: that sends it.
    h.restart("warehouse", signal.SIGTERM)

    h.step("refund defers it; warehouse tries again at each backoff, not each poll")
    h.wait_until(lambda: (deferrals(h, event_id) or (0, 0))[0] >= 1 or None, 15,
                 "refund to defer the goods.inspected of an unknown return")
    t_first = time.monotonic()
    # Backoffs 25 + 50 + 100 + 200 ms for four more; the poll would take 30 s.
    h.wait_until(lambda: (deferrals(h, event_id) or (0, 0))[0] >= 5 or None, 10,
                 "four more deferrals at the backoffs (the periodic poll is every %d s)"
                 % (POLL_MS // 1000))
    took = time.monotonic() - t_first
    count, attempts = deferrals(h, event_id)
    harness.log("deferrals %d, %.2f s after the first; attempts %d" % (count, took, attempts))
    h.check(took < POLL_MS / 1000.0 / 2,
            "five deferrals took %.1f s: the resends waited for the periodic poll" % took)
    h.check(attempts == 0, "a deferral was counted as a failure: attempts %d" % attempts)
    log = h.log_text("warehouse")
    h.check("event=delivery_retry" not in log,
            "warehouse logged a delivery retry for a deferral")

    h.step("discarded: nothing left")
    h.psql("DELETE FROM warehouse.outbox WHERE event_id = '%s'" % event_id)
    h.wait_outboxes_empty(10)


if __name__ == "__main__":
    harness.main(scenario, worker_env={"warehouse": {"RF_OUTBOX_POLL_MS": str(POLL_MS),
                                                     "RF_DEFER_LIMIT_S": "600"}})
