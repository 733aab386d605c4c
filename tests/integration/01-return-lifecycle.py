#!/usr/bin/env python3
"""01: the life of a return through all five workers, on the happy and the unhappy paths.

Proves:
  - a small refund_only request is approved automatically and refunded (exactly once);
  - a return_refund request waits for review (under_review), is approved by a person
    (a second decision is refused with 409), becomes awaiting_return, the parcel is
    received resellable (a second receipt is refused with 409) and it is refunded;
    its timeline holds events from all five producers;
  - a rejected request ends rejected with the reviewer's reason; no refund;
  - a parcel received as empty_box puts the return in disputed; no refund;
  - the same platform_return_id posted again answers 200 with the same return_id;
  - notifications: each return has the messages of the lean default (a notice only
    where someone is told), none twice for one (event, audience), and one notice.sent
    per event that made a buyer-facing message;
  - /metrics answers Prometheus text with rf_outbox_pending lines on every worker;
  - at the end every outbox is empty (nothing unacknowledged) and no dead letter exists.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def timeline_types(h, rid):
    return [e["type"] for e in h.return_doc(rid)["timeline"]]


def scenario(h):
    order = harness.uid("order")
    # line: (line_id, quantity, unit price in fen)
    h.post_order(order, [("L1", 3, 3000), ("L2", 2, 20000), ("L3", 1, 15000), ("L4", 1, 9900)])

    h.step("refund_only under 50 yuan: approved automatically, refunded")
    prid_a = harness.uid("ra")
    a = h.post_return(prid_a, order, "L1", kind="refund_only", amount=2500, reason="late")
    h.wait_status(a, "refunded")

    h.step("the same platform_return_id again: 200, same return_id, duplicate:true")
    r = h.http("POST", "intake", "/v1/returns",
               h.return_body(prid_a, order, "L1", kind="refund_only", amount=2500, reason="late"))
    h.check(r.status == 200 and r.get("return_id") == a and r.get("duplicate") is True,
            "duplicate POST: expected 200 {return_id: %s, duplicate: true}, got %r" % (a, r))
    h.check(h.count("FROM intake.returns WHERE platform_return_id = '%s'" % prid_a) == 1,
            "the duplicate POST created a second return row")
    r = h.http("GET", "intake", "/v1/returns?platform=api&platform_return_id=" + prid_a)
    h.check(r.status == 200 and r.get("return_id") == a,
            "lookup by platform_return_id: expected %s, got %r" % (a, r))

    h.step("real-length ids: a 19-digit platform_return_id is found by lookup, never the list")
    order19 = harness.platform_id()
    line19 = harness.platform_id()
    h.post_order(order19, [(line19, 1, 2000)])
    prid19 = harness.platform_id()
    r19 = h.post_return(prid19, order19, line19, kind="refund_only", amount=2000, reason="late")
    r = h.http("GET", "intake", "/v1/returns?platform=api&platform_return_id=" + prid19)
    h.check(r.status == 200 and r.get("return_id") == r19,
            "lookup by a 19-digit platform_return_id: expected %s, got %r" % (r19, r))
    r = h.http("GET", "intake",
               "/v1/returns?platform=kuaishou&platform_return_id=" + harness.platform_id())
    h.check(r.status == 404 and r.get("returns") is None,
            "lookup of an unknown kuaishou 19-digit id: expected 404, got %r" % r)
    r = h.http("GET", "intake", "/v1/returns?shop=" + "9" * 200)
    h.check(r.status == 400 and r.get("error") == "invalid_query",
            "a shop filter longer than a shop id: expected 400 invalid_query, got %r" % r)

    h.step("return_refund: under_review -> approve -> awaiting_return -> receipt -> refunded")
    b = h.post_return(harness.uid("rb"), order, "L2", kind="return_refund", amount=20000,
                      reason="quality")
    h.wait_status(b, "under_review")
    pending = h.get_json("review", "/v1/reviews")["reviews"]
    h.check(any(t["return_id"] == b for t in pending),
            "GET /v1/reviews does not list %s as pending: %s" % (b, pending))
    r = h.http("POST", "review", "/v1/reviews/%s/approve" % harness.uid("nosuch"), {"by": "alice"})
    h.check(r.status == 404, "approve of an unknown return: expected 404, got %r" % r)
    r = h.http("POST", "review", "/v1/reviews/%s/approve" % b, {"by": "alice"})
    h.check(r.status == 200, "approve: expected 200, got %r" % r)
    r = h.http("POST", "review", "/v1/reviews/%s/approve" % b, {"by": "bob"})
    h.check(r.status == 409, "second approve: expected 409, got %r" % r)
    h.wait_status(b, "awaiting_return")
    # The parcel is expected once warehouse has consumed return.approved.
    h.wait_until(lambda: h.count("FROM warehouse.expected_parcels WHERE return_id = '%s'"
                                 " AND status = 'expected'" % b) == 1,
                 20, "warehouse to expect the parcel of %s" % b)
    # The buyer's return tracking number arrives; the parcel is matched by it.
    tracking_b = harness.uid("SF")
    r = h.http("POST", "warehouse", "/v1/parcels/%s/tracking" % b, {"tracking_no": tracking_b})
    h.check(r.status == 200, "tracking number: expected 200, got %r" % r)
    r = h.http("POST", "warehouse", "/v1/parcels/%s/tracking" % harness.uid("nosuch"),
               {"tracking_no": "X"})
    h.check(r.status == 404, "tracking number of an unknown parcel: expected 404, got %r" % r)
    r = h.http("POST", "warehouse", "/v1/receipts",
               {"tracking_no": tracking_b, "condition": "resellable", "received_by": "dock-1"})
    h.check(r.status == 200 and r.get("matched") is True and r.get("return_id") == b,
            "receipt by tracking number: expected 200 matched to %s, got %r" % (b, r))
    r = h.http("POST", "warehouse", "/v1/receipts",
               {"return_id": b, "condition": "resellable", "received_by": "dock-1"})
    h.check(r.status == 409, "second receipt: expected 409, got %r" % r)
    h.wait_status(b, "refunded")
    want = {"return.requested", "review.opened", "return.approved", "goods.received",
            "goods.inspected", "refund.issued", "claim.opened", "notice.sent"}
    h.wait_until(lambda: want <= set(timeline_types(h, b)), 20,
                 "the timeline of %s to hold %s" % (b, sorted(want)))
    doc = h.return_doc(b)
    producers = {e["producer"] for e in doc["timeline"]}
    h.check(producers == set(harness.WORKERS),
            "timeline of %s: producers %s, expected all five" % (b, sorted(producers)))
    ids = [e["event_id"] for e in doc["timeline"]]
    h.check(len(ids) == len(set(ids)), "timeline of %s has a repeated event_id" % b)
    log_types = [e["type"] for e in doc["timeline"] if e["type"] != "notice.sent"]
    h.check(len(log_types) == len(set(log_types)),
            "timeline of %s has a business event twice: %s" % (b, log_types))
    harness.log("timeline of %s: %s" % (b, ", ".join("%s/%s" % (e["type"], e["producer"])
                                                     for e in doc["timeline"])))

    h.step("reject: rejected with the reviewer's reason, no refund")
    c = h.post_return(harness.uid("rc"), order, "L3", kind="return_refund", amount=15000,
                      reason="changed_mind")
    h.wait_status(c, "under_review")
    r = h.http("POST", "review", "/v1/reviews/%s/reject" % c,
               {"by": "carol", "reason_code": "condition_failed", "note": "tags removed"})
    h.check(r.status == 200, "reject: expected 200, got %r" % r)
    r = h.http("POST", "review", "/v1/reviews/%s/approve" % c, {"by": "carol"})
    h.check(r.status == 409, "approve after reject: expected 409, got %r" % r)
    h.wait_status(c, "rejected")
    doc = h.return_doc(c)
    h.check(doc.get("reject_reason") == "condition_failed",
            "rejected return: reject_reason %r, expected condition_failed" % doc.get("reject_reason"))
    rej = [e for e in doc["timeline"] if e["type"] == "return.rejected"]
    h.check(len(rej) == 1 and rej[0]["body"].get("note") == "tags removed"
            and rej[0]["body"].get("decided_by") == "carol",
            "timeline return.rejected entry: %s" % rej)

    h.step("receipt of an empty box: disputed, no refund")
    d = h.post_return(harness.uid("rd"), order, "L4", kind="return_refund", amount=9900,
                      reason="not_as_described")
    h.wait_status(d, "under_review")
    r = h.http("POST", "review", "/v1/reviews/%s/approve" % d, {"by": "dave"})
    h.check(r.status == 200, "approve: expected 200, got %r" % r)
    h.wait_status(d, "awaiting_return")
    h.wait_until(lambda: h.count("FROM warehouse.expected_parcels WHERE return_id = '%s'"
                                 " AND status = 'expected'" % d) == 1,
                 20, "warehouse to expect the parcel of %s" % d)
    r = h.http("POST", "warehouse", "/v1/receipts",
               {"return_id": d, "condition": "empty_box", "received_by": "dock-2"})
    h.check(r.status == 200, "receipt: expected 200, got %r" % r)
    h.wait_status(d, "disputed")
    h.wait_until(lambda: h.psql_val("SELECT status FROM refund.plans WHERE return_id = '%s'" % d)
                 == "disputed", 20, "refund's plan of %s to be disputed" % d)

    h.step("exchange: settled with goods, never refunded in money")
    e = h.post_return(harness.uid("re"), order, "L3", kind="exchange", amount=15000,
                      reason="size_fit")
    h.wait_status(e, "under_review")
    r = h.http("POST", "review", "/v1/reviews/%s/approve" % e, {"by": "erin"})
    h.check(r.status == 200, "approve exchange: expected 200, got %r" % r)
    h.wait_until(lambda: h.count("FROM warehouse.expected_parcels WHERE return_id = '%s'"
                                 " AND status = 'expected'" % e) == 1,
                 20, "warehouse to expect the parcel of %s" % e)
    r = h.http("POST", "warehouse", "/v1/receipts",
               {"return_id": e, "condition": "resellable", "received_by": "dock-4"})
    h.check(r.status == 200, "receipt of the exchange: expected 200, got %r" % r)
    h.wait_until(lambda: h.psql_val("SELECT status FROM refund.plans WHERE return_id = '%s'" % e)
                 == "exchange", 20, "refund's plan of %s to be settled as an exchange" % e)
    h.check(h.count("FROM refund.refunds WHERE return_id = '%s'" % e) == 0,
            "the exchange %s was refunded in money" % e)

    h.step("a parcel nobody expects: 202, kept as unmatched, no event")
    h.wait_outboxes_empty(30)
    tn = harness.uid("SF")
    r = h.http("POST", "warehouse", "/v1/receipts",
               {"tracking_no": tn, "condition": "resellable", "received_by": "dock-3"})
    h.check(r.status == 202 and r.get("matched") is False,
            "receipt of an unknown parcel: expected 202 matched:false, got %r" % r)
    h.check(h.count("FROM warehouse.receipts WHERE tracking_no = '%s' AND NOT matched"
                    " AND return_id IS NULL" % tn) == 1, "the unmatched receipt was not kept")
    h.check(h.count("FROM warehouse.outbox") == 0, "an unmatched receipt emitted events")

    h.step("everything settles: outboxes drain")
    h.wait_outboxes_empty(30)

    h.step("refunds: exactly one per refunded return, none for rejected/disputed")
    rows = dict((r[0], int(r[1])) for r in h.psql(
        "SELECT return_id, count(*) FROM refund.refunds GROUP BY return_id"))
    h.check(rows.get(a) == 1 and rows.get(b) == 1 and rows.get(r19) == 1,
            "refund.refunds per return: %s (expected one for %s, %s and %s)" % (rows, a, b, r19))
    h.check(c not in rows and d not in rows and e not in rows,
            "a refund exists for the rejected (%s), disputed (%s) or exchanged (%s) return: %s"
            % (c, d, e, rows))
    h.check(len(rows) == 3, "unexpected refunds: %s" % rows)
    amounts = dict(h.psql("SELECT return_id, amount_fen FROM refund.refunds"))
    h.check(amounts.get(a) == "2500" and amounts.get(b) == "20000",
            "refund amounts %s, expected %s=2500 %s=20000" % (amounts, a, b))
    lst = h.get_json("refund", "/v1/refunds?return_id=" + a)["refunds"]
    h.check(len(lst) == 1 and lst[0]["amount_fen"] == 2500,
            "GET /v1/refunds?return_id=%s: %s" % (a, lst))
    for rid, st in ((a, "refunded"), (b, "refunded"), (c, "rejected"), (d, "disputed")):
        h.check(h.status(rid) == st, "return %s ended %s, expected %s" % (rid, h.status(rid), st))
    for rid in (a, b):
        n = sum(1 for t in timeline_types(h, rid) if t == "refund.issued")
        h.check(n == 1, "timeline of %s has %d refund.issued entries" % (rid, n))

    h.step("notifications: present and unique")
    dup = h.psql("SELECT source_event_id, audience, count(*) FROM notification.messages"
                 " GROUP BY 1, 2 HAVING count(*) > 1")
    h.check(not dup, "duplicate notification messages: %s" % dup)
    # A notice only where someone is told (the lean default): the buyer on
    # approval, rejection and refund (and the survey after it), the supplier
    # on a claim; no acknowledgement of the request, no review_needed,
    # goods_received, supplier_return_notice or inspection_result.
    expect_templates = {
        a: {"approved", "refunded", "claim_opened", "survey"},  # late: a carrier claim
        b: {"approved_send_back", "refunded", "claim_opened", "survey"},
        c: {"rejected"},
        d: {"approved_send_back"},
    }
    for rid, want in expect_templates.items():
        h.wait_until(lambda: want <= set(h.templates(rid)), 20, "the messages of %s" % rid)
        msgs = h.get_json("notification", "/v1/messages?return_id=" + rid)["messages"]
        templates = [m["template"] for m in msgs]
        h.check(set(templates) == want,
                "messages of %s: %s, expected %s" % (rid, templates, sorted(want)))
        h.check(len(templates) == len(set(templates)),
                "messages of %s: a template twice: %s" % (rid, templates))
        h.check(all(m["status"] == "sent" and m["delivered_via"] == "log" for m in msgs),
                "messages of %s not delivered by the log channel: %s" % (rid, msgs))
        # One notice.sent per event that made a buyer-facing message.
        buyer_events = {m["source_event_id"] for m in msgs
                        if m["audience"] == "buyer" and m["template"] != "survey"}
        notices = [e for e in h.return_doc(rid)["timeline"] if e["type"] == "notice.sent"]
        h.check(len(notices) == len(buyer_events),
                "%s: %d notice.sent for %d events with a buyer message"
                % (rid, len(notices), len(buyer_events)))

    h.step("metrics: Prometheus text with rf_outbox_pending on every worker")
    for w in harness.WORKERS:
        r = h.http("GET", w, "/metrics")
        h.check(r.status == 200 and r.headers.get("Content-Type", "").startswith("text/plain"),
                "%s /metrics: %r (Content-Type %s)" % (w, r, r.headers.get("Content-Type")))
        lines = [ln for ln in r.text.splitlines() if ln.startswith("rf_outbox_pending{")]
        h.check(len(lines) == len(harness.WORKERS) - 1,
                "%s /metrics: expected a rf_outbox_pending line per other worker, got %s"
                % (w, lines))
        h.check(all(ln.endswith(" 0") for ln in lines),
                "%s /metrics: outbox not empty at the end: %s" % (w, lines))
        h.check(("rf_dead_letters{worker=\"%s\"} 0" % w) in r.text,
                "%s /metrics: rf_dead_letters not 0" % w)

    h.step("no dead letters")
    dl = h.dead_letter_counts()
    h.check(all(v == 0 for v in dl.values()), "dead letters: %s" % dl)
    for w in harness.WORKERS:
        lst = h.get_json(w, "/v1/deadletters")["dead_letters"]
        h.check(lst == [], "%s /v1/deadletters: %s" % (w, lst))
    harness.log("lifecycle ok: refunded %s %s, rejected %s, disputed %s" % (a, b, c, d))


if __name__ == "__main__":
    harness.main(scenario)
