#!/usr/bin/env python3
"""04: poison events end in the dead-letter table without holding anything else up,
and dead letters can be replayed (failing again, or succeeding) and discarded.

Events are crafted with the harness's small msgpack encoder (the wire format of
proto/WIRE.md) and inserted straight into a producer's outbox, as if the producer had
emitted them; the producer's dispatcher sends them like any other row.

Proves:
  A. an undecodable event (random bytes) from review to refund is REJECTed by refund
     and moved to review.dead_letter at once ("undecodable: ..."), nothing of it is
     written on refund's side, returns streaming meanwhile are refunded as usual, and
     the return it was queued under is released: its next event (an approval) goes
     through and that return is refunded;
  B. replaying that dead letter (POST /v1/deadletters/{id}/replay) sends it again and,
     still poison, it is dead-lettered again (one row, a new id); replay of an unknown
     id is 404, of a malformed id 400; discard removes it;
  C. decodable poison from warehouse to refund: an event refund does not consume and
     an event whose envelope disagrees with its frames are REJECTed at once; an event
     of a newer schema version is undecodable; a goods.inspected for a return refund
     never heard of is deferred (DEFER) with backoff, without counting as a failure,
     until it has waited longer than warehouse's RF_DEFER_LIMIT_S (3 s here), then
     dead-lettered;
  D0. a healthy event that arrives before its prerequisite waits for it: with review
     down, a real goods.inspected reaches refund before the approval it needs; refund
     defers it; once review is back and delivers the approval, the deferred event
     applies by itself and the return is refunded once, with no dead letter;
  D. a healthy event dead-lettered by bad timing is replayed successfully: the same,
     but warehouse (restarted with RF_DEFER_LIMIT_S=1) gives up on it first; once
     review delivers the approval, replaying the dead letter refunds the return,
     exactly once;
  and at the end every outbox and dead-letter table is empty.
"""
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def dead_letter(h, schema, event_id):
    rows = h.psql("SELECT id, attempts, reason, dest, type FROM %s.dead_letter"
                  " WHERE event_id = '%s' ORDER BY id" % (schema, event_id))
    return rows


def wait_dead(h, schema, event_id, timeout=15, what=""):
    t0 = time.monotonic()
    rows = h.wait_until(lambda: dead_letter(h, schema, event_id), timeout,
                        "%s event %s to reach %s.dead_letter" % (what, event_id, schema))
    return rows, time.monotonic() - t0


def metric(h, worker, name, label=None):
    for ln in h.metrics(worker).splitlines():
        if ln.startswith(name + "{") and (label is None or label in ln):
            return int(ln.rsplit(" ", 1)[1])
    return None


def scenario(h):
    order = harness.uid("order")
    h.post_order(order, [("L%d" % i, 1000, 9000) for i in range(1, 21)])

    # A stream of healthy returns through all the phases.
    stream, errors, stop = [], [], threading.Event()

    def streamer():
        i = 0
        try:
            while not stop.is_set():
                # its own order (buyer) each: see harness.fresh_line
                o, ln = h.fresh_line("s", 1000, 9000)
                rid = h.post_return(harness.uid("s%d" % i), o, ln,
                                    kind="refund_only", amount=300 + i % 50, reason="late")
                stream.append((time.monotonic(), rid))
                i += 1
                time.sleep(0.15)
        except Exception as e:
            errors.append(e)

    th = threading.Thread(target=streamer, daemon=True)
    th.start()

    h.step("A. undecodable event review -> refund: dead-lettered, nothing else held up")
    x = h.post_return(harness.uid("x"), order, "L1", kind="refund_only", amount=8000,
                      reason="quality")
    h.wait_status(x, "under_review")
    junk = bytes([random.getrandbits(8) for _ in range(96)])
    poison = harness.ulid()
    t_poison = time.monotonic()
    harness.insert_outbox(h, "review", "refund", poison, x, "return.approved", junk)
    harness.log("inserted %s into review.outbox (dest refund, return %s): %s..."
                % (poison, x, junk[:16].hex()))
    rows, secs = wait_dead(h, "review", poison, 10, "undecodable")
    dl_id, attempts, reason, dest, _type = rows[0]
    harness.log("dead-lettered after %.2fs: id=%s attempts=%s reason=%r" % (secs, dl_id, attempts,
                                                                            reason))
    h.check(len(rows) == 1 and dest == "refund" and reason.startswith("undecodable"),
            "review.dead_letter row: %s" % rows)
    h.check(h.count("FROM review.outbox WHERE event_id = '%s'" % poison) == 0,
            "the poison is still in review's outbox")
    h.check(h.count("FROM refund.inbox WHERE event_id = '%s'" % poison) == 0,
            "refund recorded the poison in its inbox")
    lst = h.get_json("review", "/v1/deadletters")["dead_letters"]
    h.check(any(d["event_id"] == poison and d["reason"].startswith("undecodable") for d in lst),
            "GET review /v1/deadletters does not show it: %s" % lst)
    h.check(metric(h, "review", "rf_dead_letters") == 1, "review rf_dead_letters != 1")
    h.check((metric(h, "refund", "rf_inbox_rejected_total") or 0) >= 1,
            "refund rf_inbox_rejected_total did not count the poison")
    h.check(any(poison in ln for ln in h.log_grep("review", "event=dead_lettered")),
            "review's log does not record the dead letter")
    # Operations are told, once, through notification (an ops.alert event).
    alert = h.wait_until(lambda: h.psql("SELECT body FROM notification.messages WHERE"
                                        " template_name = 'ops_alert' AND return_id = '%s'" % x),
                         15, "an ops alert about the dead letter")
    h.check(len(alert) == 1 and "return.approved to refund" in alert[0][0],
            "ops alert for the dead letter: %s" % alert)
    harness.log("ops alert: %s" % alert[0][0])
    # The return the poison was queued under is free again: approve it, it is refunded.
    r = h.http("POST", "review", "/v1/reviews/%s/approve" % x, {"by": "alice"})
    h.check(r.status == 200, "approve %s: %r" % (x, r))
    h.wait_status(x, "refunded", 15)
    # The healthy stream kept flowing during the poison.
    during = [rid for t, rid in list(stream) if t >= t_poison - 1]
    h.wait_until(lambda: all(h.status(r) == "refunded" for r in during), 15,
                 "the %d returns sent around the poison to be refunded" % len(during))
    harness.log("%d returns sent around the poison were refunded; %s too" % (len(during), x))

    h.step("B. replay the undecodable dead letter: dead-lettered again; then discard")
    r = h.http("POST", "review", "/v1/deadletters/%s/replay" % dl_id)
    h.check(r.status == 200 and r.get("result") == "replayed", "replay: %r" % r)

    def again():
        rows = dead_letter(h, "review", poison)
        return rows if rows and rows[0][0] != dl_id else None

    rows = h.wait_until(again, 10, "the replayed poison to be dead-lettered again")
    h.check(len(rows) == 1 and rows[0][2].startswith("undecodable"),
            "after replay: review.dead_letter rows %s" % rows)
    new_id = rows[0][0]
    harness.log("replayed id %s -> dead-lettered again as id %s (%s)" % (dl_id, new_id, rows[0][2]))
    r = h.http("POST", "review", "/v1/deadletters/%s/replay" % dl_id)
    h.check(r.status == 404, "replay of a gone id: expected 404, got %r" % r)
    r = h.http("POST", "review", "/v1/deadletters/abc/replay")
    h.check(r.status == 400, "replay of a malformed id: expected 400, got %r" % r)
    r = h.http("POST", "review", "/v1/deadletters/%s/discard" % new_id)
    h.check(r.status == 200 and r.get("result") == "discarded", "discard: %r" % r)
    r = h.http("POST", "review", "/v1/deadletters/%s/discard" % new_id)
    h.check(r.status == 404, "second discard: expected 404, got %r" % r)
    h.check(h.count("FROM review.dead_letter") == 0, "review.dead_letter not empty after discard")
    h.check(h.count("FROM review.outbox WHERE event_id = '%s'" % poison) == 0,
            "the discarded poison is back in the outbox")

    h.step("C. decodable poison warehouse -> refund")
    unknown = harness.ulid()
    body = {"receipt_id": harness.ulid(), "grade": "resellable", "disposition": "restock",
            "sku_id": "sku-L1", "quantity": 1, "inspected_by": "mallory"}
    deferred, payload = harness.event_payload("goods.inspected", unknown, "warehouse", body)
    harness.insert_outbox(h, "warehouse", "refund", deferred, unknown, "goods.inspected", payload)
    # Each under a return of its own (one event per return is in flight at a time).
    other = [harness.ulid() for _ in range(3)]
    wrong_type, p2 = harness.event_payload("review.opened", other[0], "warehouse",
                                           {"task_id": "t", "required_role": "cs"})
    harness.insert_outbox(h, "warehouse", "refund", wrong_type, other[0], "review.opened", p2)
    mismatch = harness.ulid()
    _, p3 = harness.event_payload("goods.inspected", other[1], "warehouse", body)  # other id inside
    harness.insert_outbox(h, "warehouse", "refund", mismatch, other[1], "goods.inspected", p3)
    newer, p4 = harness.event_payload("goods.inspected", other[2], "warehouse", body, v=2)
    harness.insert_outbox(h, "warehouse", "refund", newer, other[2], "goods.inspected", p4)
    for ev, want, what in ((wrong_type, "refund does not consume", "an unconsumed type"),
                           (mismatch, "envelope does not match", "an envelope/frame mismatch"),
                           (newer, "undecodable", "a newer schema version")):
        rows, secs = wait_dead(h, "warehouse", ev, 10, what)
        h.check(want in rows[0][2], "%s: dead letter reason %r, expected %r" % (what, rows[0][2],
                                                                               want))
        harness.log("%-28s -> dead letter after %.2fs: %s" % (what, secs, rows[0][2]))
    # The deferred one is retried with backoff (deferrals, not failures) first.
    seen = h.wait_until(lambda: h.psql("SELECT deferrals, attempts, last_error FROM"
                                       " warehouse.outbox WHERE event_id = '%s'"
                                       " AND deferrals >= 1" % deferred),
                        10, "refund to answer DEFER to the goods.inspected of an unknown return")
    harness.log("deferred event in warehouse.outbox: deferrals=%s attempts=%s last_error=%r"
                % tuple(seen[0]))
    h.check(seen[0][1] == "0", "a deferral was counted as a failure: %s" % (seen[0],))
    rows, secs = wait_dead(h, "warehouse", deferred, 30, "the always-deferred")
    h.check("deferred for over 3s" in rows[0][2] and "no refund plan" in rows[0][2],
            "deferred poison: dead letter %s, expected 'deferred for over 3s' and"
            " 'no refund plan'" % rows)
    harness.log("%-28s -> dead letter after %.2fs: attempts=%s %s"
                % ("an always-deferred event", secs, rows[0][1], rows[0][2]))
    h.check(h.count("FROM refund.plans WHERE return_id = '%s'" % unknown) == 0,
            "refund invented a plan for the unknown return")
    for ev in (deferred, wrong_type, mismatch, newer):
        h.check(h.count("FROM refund.inbox WHERE event_id = '%s'" % ev) == 0,
                "refund recorded poison %s in its inbox" % ev)
    h.check((metric(h, "refund", "rf_inbox_deferred_total") or 0) >= 4,
            "refund rf_inbox_deferred_total < 4")

    h.step("D0. an event that arrives before its prerequisite waits for it")
    h.restart("warehouse", signal.SIGTERM, env={"RF_DEFER_LIMIT_S": "3600"})
    z = h.post_return(harness.uid("z"), order, "L2", kind="return_refund", amount=9000,
                      reason="size_fit")
    h.wait_status(z, "under_review")
    h.kill("refund", signal.SIGKILL)
    r = h.http("POST", "review", "/v1/reviews/%s/approve" % z, {"by": "bob"})
    h.check(r.status == 200, "approve %s: %r" % (z, r))
    h.wait_until(lambda: h.count("FROM warehouse.expected_parcels WHERE return_id = '%s'" % z), 15,
                 "warehouse to expect the parcel of %s" % z)
    r = h.http("POST", "warehouse", "/v1/receipts", {"return_id": z, "condition": "resellable",
                                                     "received_by": "dock-9"})
    h.check(r.status == 200, "receipt of %s: %r" % (z, r))
    h.kill("review", signal.SIGKILL)
    h.start("refund")  # gets goods.inspected, not the approval it needs: defers it
    h.wait_until(lambda: h.psql("SELECT 1 FROM warehouse.outbox WHERE return_id = '%s'"
                                " AND type = 'goods.inspected' AND dest = 'refund'"
                                " AND deferrals >= 2" % z),
                 15, "refund to defer the early goods.inspected of %s" % z)
    h.start("review")
    h.wait_status(z, "refunded", 45)
    h.check(h.count("FROM refund.refunds WHERE return_id = '%s'" % z) == 1,
            "%s: not exactly one refund" % z)
    h.check(h.count("FROM warehouse.dead_letter WHERE return_id = '%s'" % z) == 0,
            "the deferred goods.inspected of %s was dead-lettered" % z)
    harness.log("early goods.inspected of %s waited for its approval: refunded once" % z)

    h.step("D. a healthy event dead-lettered by bad timing, replayed successfully")
    h.restart("warehouse", signal.SIGTERM, env={"RF_DEFER_LIMIT_S": "1"})
    y = h.post_return(harness.uid("y"), order, "L2", kind="return_refund", amount=9000,
                      reason="size_fit")
    h.wait_status(y, "under_review")
    h.kill("refund", signal.SIGKILL)
    r = h.http("POST", "review", "/v1/reviews/%s/approve" % y, {"by": "bob"})
    h.check(r.status == 200, "approve %s: %r" % (y, r))
    h.wait_status(y, "awaiting_return")
    h.wait_until(lambda: h.count("FROM warehouse.expected_parcels WHERE return_id = '%s'" % y), 15,
                 "warehouse to expect the parcel of %s" % y)
    r = h.http("POST", "warehouse", "/v1/receipts", {"return_id": y, "condition": "resellable",
                                                     "received_by": "dock-9"})
    h.check(r.status == 200, "receipt of %s: %r" % (y, r))
    h.check(h.count("FROM review.outbox WHERE dest = 'refund' AND return_id = '%s'" % y) == 1,
            "the approval of %s is not waiting in review's outbox" % y)
    h.kill("review", signal.SIGKILL)
    h.start("refund")  # gets goods.inspected, not the approval it needs: defers it
    rows = h.wait_until(lambda: h.psql("SELECT id, attempts, reason FROM warehouse.dead_letter"
                                       " WHERE return_id = '%s' AND type = 'goods.inspected'" % y),
                        15, "the early goods.inspected of %s to be dead-lettered" % y)
    y_dl, y_attempts, y_reason = rows[0]
    harness.log("goods.inspected of %s dead-lettered (attempts %s): %s" % (y, y_attempts, y_reason))
    h.check("no refund plan" in y_reason, "unexpected reason %r" % y_reason)
    h.start("review")
    h.wait_until(lambda: h.psql_val("SELECT status FROM refund.plans WHERE return_id = '%s'" % y)
                 == "waiting_goods", 15, "refund to plan %s (approval delivered)" % y)
    time.sleep(1.0)
    h.check(h.count("FROM refund.refunds WHERE return_id = '%s'" % y) == 0,
            "%s refunded without its inspection" % y)
    h.check(h.status(y) != "refunded", "%s is refunded without its inspection" % y)
    r = h.http("POST", "warehouse", "/v1/deadletters/%s/replay" % y_dl)
    h.check(r.status == 200 and r.get("result") == "replayed", "replay: %r" % r)
    h.wait_status(y, "refunded", 15)
    h.check(h.count("FROM refund.refunds WHERE return_id = '%s'" % y) == 1,
            "%s: not exactly one refund" % y)
    h.check(h.count("FROM warehouse.dead_letter WHERE return_id = '%s'" % y) == 0,
            "the replayed dead letter of %s is still there" % y)
    harness.log("replayed dead letter %s: %s refunded once" % (y_dl, y))

    h.step("clean up the crafted poison; everything drains")
    for dl in h.get_json("warehouse", "/v1/deadletters")["dead_letters"]:
        h.check(dl["event_id"] in (deferred, wrong_type, mismatch, newer),
                "unexpected warehouse dead letter %s" % dl)
        r = h.http("POST", "warehouse", "/v1/deadletters/%d/discard" % dl["id"])
        h.check(r.status == 200, "discard %s: %r" % (dl["id"], r))
    stop.set()
    th.join(timeout=h.t(30))
    h.check(not errors, "streaming returns failed: %s" % errors)
    rids = [rid for _, rid in stream]
    h.wait_until(lambda: all(h.status(r) == "refunded" for r in rids), 30,
                 "all %d streamed returns to be refunded" % len(rids))
    h.wait_outboxes_empty(30)
    dl = h.dead_letter_counts()
    h.check(all(v == 0 for v in dl.values()), "dead letters left: %s" % dl)
    dup = h.psql("SELECT return_id FROM refund.refunds GROUP BY 1 HAVING count(*) > 1")
    h.check(not dup, "returns refunded twice: %s" % dup)
    n_ref = h.count("FROM refund.refunds")
    h.check(n_ref == len(rids) + 3, "refund.refunds has %d rows, expected %d"
            % (n_ref, len(rids) + 3))
    harness.log("poison ok: %d healthy returns streamed through all phases, all refunded once"
                % len(rids))


if __name__ == "__main__":
    harness.main(scenario, worker_env={"warehouse": {"RF_DEFER_LIMIT_S": "3"}})
