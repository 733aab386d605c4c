#!/usr/bin/env python3
"""10: intake decides at once whether a request can be taken (issue 3, "Intake").

Paths, each checked in intake, review and refund tables and the timeline:
  - window expired: a no-reason return 10 days after delivery is refused with 422
    window_expired, and still recorded (status rejected, refused) with nothing sent
    downstream; a quality fault on the same line is inside its 15-day window;
  - excluded category: customised goods without a fault: 422 category_excluded;
    cosmetics whose exclusion the buyer confirmed: refused; without the confirmation:
    accepted;
  - one open return per line: a second request while the first is open: 422
    duplicate_request;
  - partial quantity and a second return on the same line up to the paid total: an
    order with a coupon shared pro rata (largest remainder) and a shipping fee; two of
    three units, then the last unit with the shipping back (quality fault): the
    refunds add up to exactly what was paid for the line; a third request: 422
    quantity_exceeded.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

DAY = 86400000


def refused(h, r, code):
    h.check(r.status == 422 and r.get("error") == code and r.get("return_id")
            and r.get("status") == "rejected",
            "expected 422 %s with the recorded return_id, got %r" % (code, r))
    rid = r.get("return_id")
    doc = h.return_doc(rid)
    h.check(doc["status"] == "rejected" and doc["reject_reason"] == code and doc["refused"],
            "refused request %s recorded as %s/%s" % (rid, doc["status"], doc["reject_reason"]))
    h.check(h.count("FROM intake.outbox WHERE return_id = '%s'" % rid) == 0
            and h.count("FROM review.tasks WHERE return_id = '%s'" % rid) == 0,
            "a refused request %s went downstream" % rid)
    return rid


def scenario(h):
    now = int(time.time() * 1000)

    h.step("window expired: no-reason after 7 days refused (and recorded); quality within 15")
    old = harness.uid("old")
    h.post_order(old, [("L1", 1, 3000), ("L2", 1, 3000)], delivered_at=now - 10 * DAY)
    r = h.http("POST", "intake", "/v1/returns",
               h.return_body(harness.uid("late"), old, "L1", amount=3000, reason="changed_mind"))
    refused(h, r, "window_expired")
    q = h.post_return(harness.uid("q"), old, "L2", kind="refund_only", amount=3000,
                      reason="quality")
    h.wait_status(q, "refunded")  # 30 yuan refund-only: approved automatically
    h.post_order(harness.uid("ancient"), [("L1", 1, 3000)], delivered_at=now - 20 * DAY)

    h.step("excluded categories: customised never without a fault; cosmetics per exclusion")
    cat = harness.uid("cat")
    h.post_order(cat, [
        {"line_id": "C1", "sku_id": "sku-engraved", "category": "customised", "quantity": 1,
         "unit_price_fen": 2000, "supplier_id": "sup-1"},
        {"line_id": "C2", "sku_id": "sku-lipstick", "category": "cosmetics", "quantity": 1,
         "unit_price_fen": 2000, "supplier_id": "sup-1", "exclusion_confirmed": True},
        {"line_id": "C3", "sku_id": "sku-cream", "category": "cosmetics", "quantity": 1,
         "unit_price_fen": 2000, "supplier_id": "sup-1"},
    ])
    r = h.http("POST", "intake", "/v1/returns",
               h.return_body(harness.uid("c1"), cat, "C1", amount=2000, reason="size_fit"))
    refused(h, r, "category_excluded")
    r = h.http("POST", "intake", "/v1/returns",
               h.return_body(harness.uid("c2"), cat, "C2", amount=2000, reason="changed_mind"))
    refused(h, r, "category_excluded")
    c3 = h.post_return(harness.uid("c3"), cat, "C3", amount=2000, reason="changed_mind")
    c1q = h.post_return(harness.uid("c1q"), cat, "C1", amount=2000, reason="quality")
    h.wait_status(c3, "refunded")
    h.wait_status(c1q, ("approved", "under_review", "refunded"))

    h.step("one open return per line: a second one is refused while the first is open")
    dup = harness.uid("dup")
    h.post_order(dup, [("L1", 2, 20000)])
    first = h.post_return(harness.uid("d1"), dup, "L1", kind="return_refund", amount=20000)
    h.wait_status(first, "under_review")
    r = h.http("POST", "intake", "/v1/returns",
               h.return_body(harness.uid("d2"), dup, "L1", kind="return_refund", amount=20000))
    refused(h, r, "duplicate_request")
    h.check(first in r.get("message", ""), "duplicate message does not name %s: %r" % (first, r))

    h.step("partial quantity, then the rest of the line: refunds add up to what was paid")
    part = harness.uid("part")
    # lines: 3 x 3000 and 1 x 20000; coupon 1000 shared 9000:20000 -> 310 / 690
    # (310.34 / 689.66); shipping 800 -> 248 / 552. L1 paid 8690 -> units 2896 2897 2897.
    h.post_order(part, [("L1", 3, 3000), ("L2", 1, 20000)], discount_fen=1000,
                 shipping_fee_fen=800)
    line = h.psql("SELECT paid_fen, shipping_fen FROM intake.order_lines"
                  " WHERE order_id = '%s' ORDER BY line_id" % part)
    h.check(line == [["8690", "248"], ["19310", "552"]],
            "pro-rata discount/shipping per line: %s" % line)
    r = h.http("POST", "intake", "/v1/returns",
               h.return_body(harness.uid("p0"), part, "L1", kind="return_refund", quantity=2,
                             amount=5794))
    h.check(r.status == 422 and r.get("error") == "amount_exceeds_paid",
            "2 of 3 units cost 5793 (2896 + 2897): asking 5794 must be refused, got %r" % r)
    p1 = h.post_return(harness.uid("p1"), part, "L1", kind="return_refund", quantity=2,
                       amount=5793, reason="size_fit")
    h.wait_status(p1, "under_review")
    r = h.http("POST", "review", "/v1/reviews/%s/approve" % p1, {"by": "alice"})
    h.check(r.status == 200, "approve %s: %r" % (p1, r))
    h.wait_status(p1, "awaiting_return")
    h.wait_until(lambda: h.count("FROM warehouse.expected_parcels WHERE return_id = '%s'" % p1),
                 20, "warehouse to expect %s" % p1)
    r = h.http("POST", "warehouse", "/v1/receipts", {"return_id": p1, "condition": "resellable"})
    h.check(r.status == 200, "receipt %s: %r" % (p1, r))
    h.wait_status(p1, "refunded")
    # The last unit: its value (2897) plus the line's shipping share, the seller at fault.
    p2 = h.post_return(harness.uid("p2"), part, "L1", kind="return_refund", quantity=1,
                       amount=2897 + 248, reason="quality")
    h.wait_status(p2, "under_review")
    r = h.http("POST", "review", "/v1/reviews/%s/approve" % p2, {"by": "alice"})
    h.check(r.status == 200, "approve %s: %r" % (p2, r))
    h.wait_until(lambda: h.count("FROM warehouse.expected_parcels WHERE return_id = '%s'" % p2),
                 20, "warehouse to expect %s" % p2)
    r = h.http("POST", "warehouse", "/v1/receipts", {"return_id": p2, "condition": "resellable"})
    h.check(r.status == 200, "receipt %s: %r" % (p2, r))
    h.wait_status(p2, "refunded")
    rows = dict(h.psql("SELECT return_id, amount_fen FROM refund.refunds WHERE return_id IN"
                       " ('%s', '%s')" % (p1, p2)))
    h.check(rows == {p1: "5793", p2: "3145"}, "refunds of the line: %s" % rows)
    h.check(int(rows[p1]) + int(rows[p2]) == 8690 + 248,
            "refunds of the line do not add up to what was paid (8938): %s" % rows)
    parts = h.psql("SELECT goods_fen, shipping_fen FROM refund.refunds WHERE return_id = '%s'" % p2)
    h.check(parts == [["2897", "248"]], "parts of the last refund: %s" % parts)
    claim = h.psql("SELECT party, party_id, amount_fen FROM refund.claims WHERE return_id = '%s'"
                   % p2)
    h.check(claim == [["supplier", "sup-1", "3145"]], "supplier claim of %s: %s" % (p2, claim))
    h.check(h.count("FROM refund.claims WHERE return_id = '%s'" % p1) == 0,
            "a size/fit return opened a claim")
    r = h.http("POST", "intake", "/v1/returns",
               h.return_body(harness.uid("p3"), part, "L1", quantity=1, amount=100))
    refused(h, r, "quantity_exceeded")
    for rid in (p1, p2):
        types = h.timeline_types(rid)
        for t in ("return.requested", "review.opened", "return.approved", "goods.received",
                  "goods.inspected", "refund.issued"):
            h.check(t in types, "timeline of %s lacks %s: %s" % (rid, t, types))
        h.check(h.psql_val("SELECT status FROM review.tasks WHERE return_id = '%s'" % rid)
                == "approved", "review task of %s not approved" % rid)
        h.check(h.psql_val("SELECT status FROM warehouse.expected_parcels WHERE return_id = '%s'"
                           % rid) == "received", "parcel of %s not received" % rid)

    h.step("refused requests are kept for analysis")
    n = h.count("FROM intake.returns WHERE refused AND status = 'rejected'")
    h.check(n == 5, "refused requests recorded: %d, expected 5" % n)
    h.wait_outboxes_empty(30)
    dl = h.dead_letter_counts()
    h.check(all(v == 0 for v in dl.values()), "dead letters: %s" % dl)


if __name__ == "__main__":
    harness.main(scenario)
