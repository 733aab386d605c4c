#!/usr/bin/env python3
"""13: exchanges, cancellations and disputes (issue 3, "Exchanges and cancellations",
"Warehouse").

Paths, each checked in every worker's tables and the timeline:
  - exchange: approved -> goods back -> the supplier is asked to reship
    (reship.updated requested, supplier told) -> shipped (exchange_shipped) ->
    delivered (exchanged); nothing refunded in money; a survey follows;
  - cancellation: the buyer cancels while under review (review task cancelled) and
    while the parcel is on its way (parcel and refund plan cancelled): everything
    stops, nothing refunded; after receipt a cancellation is refused (409);
  - empty-box dispute: the inspection contradicts the request: disputed in intake,
    refund holds, the review task goes back to review as disputed; cs may not decide
    it (open mode: a supervisor's rejection) -> rejected condition_failed; no refund;
    a second dispute settled in the buyer's favour is refunded without goods.
The reship request to the supplier, the exchange's end and the cancellation are
notices off by default: the shop (shop-1) turns them on in its own section of
RF_NOTIFICATION_POLICY_FILE, so its returns' later events find their shop.
"""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def expect_parcel(h, rid):
    h.wait_until(lambda: h.count("FROM warehouse.expected_parcels WHERE return_id = '%s'"
                                 " AND status = 'expected'" % rid) == 1,
                 20, "warehouse to expect the parcel of %s" % rid)


def approve(h, rid):
    h.wait_status(rid, "under_review")
    r = h.http("POST", "review", "/v1/reviews/%s/approve" % rid, {"by": "alice"})
    h.check(r.status == 200, "approve %s: %r" % (rid, r))


def scenario(h):
    order = harness.uid("o")
    h.post_order(order, [("L1", 1, 19900), ("L2", 1, 9900), ("L3", 1, 9900), ("L4", 1, 9900),
                         ("L5", 1, 9900)])

    h.step("exchange: goods back, the supplier reships, delivered; no money")
    e = h.post_return(harness.uid("e"), order, "L1", kind="exchange", amount=19900,
                      reason="size_fit")
    approve(h, e)
    expect_parcel(h, e)
    r = h.http("POST", "warehouse", "/v1/reships/" + e, {"state": "shipped"})
    h.check(r.status == 404, "reship before the goods are back: %r" % r)
    r = h.http("POST", "warehouse", "/v1/receipts", {"return_id": e, "condition": "resellable"})
    h.check(r.status == 200, "receipt: %r" % r)
    h.wait_timeline(e, ["reship.updated"])
    h.check(h.psql_val("SELECT state FROM warehouse.reships WHERE return_id = '%s'" % e)
            == "requested", "reship of %s not requested" % e)
    h.wait_until(lambda: "reship_request" in h.templates(e, "supplier"), 20,
                 "the supplier to be asked to reship")
    r = h.http("POST", "warehouse", "/v1/reships/" + e, {"state": "delivered"})
    h.check(r.status == 409, "delivered before shipped: %r" % r)
    tn = harness.uid("SF")
    r = h.http("POST", "warehouse", "/v1/reships/" + e, {"state": "shipped", "tracking_no": tn})
    h.check(r.status == 200, "reship shipped: %r" % r)
    h.wait_status(e, "exchange_shipped")
    r = h.http("POST", "warehouse", "/v1/reships/" + e, {"state": "delivered"})
    h.check(r.status == 200, "reship delivered: %r" % r)
    h.wait_status(e, "exchanged")
    h.check(h.count("FROM refund.refunds WHERE return_id = '%s'" % e) == 0, "exchange refunded")
    h.wait_until(lambda: h.psql_val("SELECT status FROM refund.plans WHERE return_id = '%s'" % e)
                 == "exchange", 20, "refund's plan of %s settled as an exchange" % e)
    h.wait_until(lambda: {"exchange_shipped", "exchanged", "survey"} <= set(h.templates(e, "buyer")),
                 20, "the buyer's exchange messages and survey")
    states = [ev["body"]["state"] for ev in h.return_doc(e)["timeline"]
              if ev["type"] == "reship.updated"]
    h.check(states == ["requested", "shipped", "delivered"], "reship timeline: %s" % states)

    h.step("cancellation under review and on the way back: everything stops")
    c1 = h.post_return(harness.uid("c1"), order, "L2", kind="return_refund", amount=9900,
                       reason="changed_mind")
    h.wait_status(c1, "under_review")
    r = h.http("POST", "intake", "/v1/returns/%s/cancel" % c1, {"reason": "买家撤销"})
    h.check(r.status == 200, "cancel under review: %r" % r)
    h.wait_status(c1, "cancelled")
    h.wait_until(lambda: h.psql_val("SELECT status FROM review.tasks WHERE return_id = '%s'" % c1)
                 == "cancelled", 20, "the review task of %s cancelled" % c1)
    r = h.http("POST", "review", "/v1/reviews/%s/approve" % c1, {"by": "alice"})
    h.check(r.status == 409, "approving a cancelled return: %r" % r)
    c2 = h.post_return(harness.uid("c2"), order, "L3", kind="return_refund", amount=9900,
                       reason="quality")
    approve(h, c2)
    expect_parcel(h, c2)
    h.wait_until(lambda: h.count("FROM refund.plans WHERE return_id = '%s'" % c2) == 1, 20,
                 "refund's plan of %s" % c2)
    r = h.http("POST", "intake", "/v1/returns/%s/cancel" % c2, {})
    h.check(r.status == 200, "cancel on the way back: %r" % r)
    h.wait_status(c2, "cancelled")
    h.wait_until(lambda: h.psql_val("SELECT status FROM warehouse.expected_parcels"
                                    " WHERE return_id = '%s'" % c2) == "cancelled"
                 and h.psql_val("SELECT status FROM refund.plans WHERE return_id = '%s'" % c2)
                 == "cancelled", 20, "parcel and refund plan of %s cancelled" % c2)
    r = h.http("POST", "warehouse", "/v1/receipts", {"return_id": c2, "condition": "resellable"})
    h.check(r.status == 409, "receipt of a cancelled parcel: %r" % r)
    for rid in (c1, c2):
        h.check(h.count("FROM refund.refunds WHERE return_id = '%s'" % rid) == 0,
                "cancelled %s was refunded" % rid)
        h.wait_timeline(rid, ["return.cancelled"])
        h.check("cancelled" in h.templates(rid, "buyer"), "buyer of %s not told" % rid)
    r = h.http("POST", "intake", "/v1/returns/%s/cancel" % e, {})
    h.check(r.status == 409, "cancel after receipt: %r" % r)

    h.step("empty box: disputed, back to review, rejected; no refund")
    d = h.post_return(harness.uid("d"), order, "L4", kind="return_refund", amount=9900,
                      reason="not_as_described")
    approve(h, d)
    expect_parcel(h, d)
    r = h.http("POST", "warehouse", "/v1/receipts", {"return_id": d, "condition": "empty_box"})
    h.check(r.status == 200, "receipt: %r" % r)
    h.wait_status(d, "disputed")
    h.wait_until(lambda: h.psql_val("SELECT status FROM review.tasks WHERE return_id = '%s'" % d)
                 == "disputed", 20, "the review task of %s disputed" % d)
    h.check(h.psql_val("SELECT status FROM refund.plans WHERE return_id = '%s'" % d) == "disputed",
            "refund did not hold %s" % d)
    disputed = h.get_json("review", "/v1/reviews?status=disputed")["reviews"]
    h.check(any(t["return_id"] == d and t["required_role"] == "cs_supervisor" for t in disputed),
            "disputed queue: %s" % disputed)
    r = h.http("POST", "review", "/v1/reviews/%s/reject" % d,
               {"by": "sam", "reason_code": "condition_failed", "note": "空箱"})
    h.check(r.status == 200, "reject the dispute: %r" % r)
    h.wait_status(d, "rejected")
    h.check(h.return_doc(d)["reject_reason"] == "condition_failed", "reason of %s" % d)
    h.check(h.count("FROM refund.refunds WHERE return_id = '%s'" % d) == 0, "dispute refunded")
    led = h.psql("SELECT location FROM warehouse.stock_ledger WHERE return_id = '%s'" % d)
    h.check(led == [["scrap"]], "stock ledger of the empty box: %s" % led)

    h.step("wrong item sent back, settled in the buyer's favour: refunded without goods")
    w = h.post_return(harness.uid("w"), order, "L5", kind="return_refund", amount=9900,
                      reason="quality")
    approve(h, w)
    expect_parcel(h, w)
    r = h.http("POST", "warehouse", "/v1/receipts", {"return_id": w, "condition": "wrong_item"})
    h.check(r.status == 200, "receipt: %r" % r)
    h.wait_status(w, "disputed")
    h.wait_until(lambda: h.psql_val("SELECT status FROM review.tasks WHERE return_id = '%s'" % w)
                 == "disputed", 20, "the review task of %s disputed" % w)
    r = h.http("POST", "review", "/v1/reviews/%s/approve" % w, {"by": "sam", "note": "补偿"})
    h.check(r.status == 200, "approve the dispute: %r" % r)
    h.wait_status(w, "refunded")
    h.check(h.psql_val("SELECT amount_fen FROM refund.refunds WHERE return_id = '%s'" % w)
            == "9900", "refund of the settled dispute")

    h.wait_outboxes_empty(30)
    dls = h.dead_letter_counts()
    h.check(all(v == 0 for v in dls.values()), "dead letters: %s" % dls)


if __name__ == "__main__":
    policy = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump({"shops": {"shop-1": {"reship.updated": {"supplier": True, "buyer": True},
                                    "return.cancelled": {"buyer": True}}}}, policy)
    policy.close()
    try:
        harness.main(scenario, env={"RF_NOTIFICATION_POLICY_FILE": policy.name})
    finally:
        os.unlink(policy.name)
