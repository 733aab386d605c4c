#!/usr/bin/env python3
"""12: the money (issue 3, "Refund").

Paths, each checked in every worker's tables and the timeline:
  - manual return and refund with restock: approved by a person, parcel received
    resellable, restocked in the stock ledger, refunded; changed mind without freight
    insurance: the return shipping the merchant paid (RF_REFUND_RETURN_SHIPPING_FEN)
    is deducted; no claim;
  - quality fault with supplier claim: the supplier's goods at fault: refunded, a claim
    against the supplier; its ledger (GET /v1/suppliers/{id}/balance) shows what it
    owes; one claim settled, another written off: the balance goes to 0;
  - finance approval: a refund over 1,000 yuan waits (refund_pending_approval,
    refund.awaiting_approval, operations told: a notice off by default, turned on
    here by RF_NOTIFICATION_POLICY_FILE's default section); finance approves it
    (POST /v1/refunds/{return_id}/approve): refund.approved, then refunded; a second
    approval 409;
  - refund failure: the sandbox refuses the call; it is retried with backoff
    (RF_REFUND_RETRY_MAX attempts), then refund.failed, status refund_failed, an
    alert to operations and a word to the buyer; the same idempotency key throughout.
"""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

FAIL_AMOUNT = 4321


def receive(h, rid, condition="resellable"):
    h.wait_until(lambda: h.count("FROM warehouse.expected_parcels WHERE return_id = '%s'"
                                 " AND status = 'expected'" % rid) == 1,
                 20, "warehouse to expect the parcel of %s" % rid)
    r = h.http("POST", "warehouse", "/v1/receipts",
               {"return_id": rid, "condition": condition, "received_by": "dock-1"})
    h.check(r.status == 200, "receipt of %s: %r" % (rid, r))


def approve(h, rid, **body):
    h.wait_status(rid, "under_review")
    body.setdefault("by", "alice")
    r = h.http("POST", "review", "/v1/reviews/%s/approve" % rid, body)
    h.check(r.status == 200, "approve %s: %r" % (rid, r))


def scenario(h):
    h.step("manual return, restock, refund less the return shipping (changed mind)")
    o = harness.uid("m")
    h.post_order(o, [("L1", 1, 12000)], shipping_fee_fen=0)
    m = h.post_return(harness.uid("m"), o, "L1", kind="return_refund", amount=12000,
                      reason="changed_mind")
    approve(h, m)
    h.wait_status(m, "awaiting_return")
    receive(h, m)
    h.wait_status(m, "refunded")
    ref = h.psql("SELECT amount_fen, goods_fen, deduction_fen FROM refund.refunds"
                 " WHERE return_id = '%s'" % m)
    h.check(ref == [["11000", "12000", "1000"]], "refund of %s: %s" % (m, ref))
    led = h.psql("SELECT sku_id, delta, location FROM warehouse.stock_ledger WHERE return_id = '%s'"
                 % m)
    h.check(led == [["sku-L1", "1", "stock"]], "stock ledger of %s: %s" % (m, led))
    h.check(h.count("FROM refund.claims WHERE return_id = '%s'" % m) == 0, "claim for %s" % m)
    h.wait_timeline(m, ["return.requested", "review.opened", "return.approved", "goods.received",
                        "goods.inspected", "refund.issued"])

    h.step("quality fault: supplier claim, ledger, settle and write-off")
    q = harness.uid("q")
    h.post_order(q, [("L1", 1, 15000), ("L2", 1, 9000)])
    q1 = h.post_return(harness.uid("q1"), q, "L1", kind="return_refund", amount=15000,
                       reason="quality")
    q2 = h.post_return(harness.uid("q2"), q, "L2", kind="refund_only", amount=9000,
                       reason="not_as_described")
    approve(h, q1)
    approve(h, q2)
    receive(h, q1, "goods_damaged")
    h.wait_status(q1, "refunded")
    h.wait_status(q2, "refunded")
    claims = dict((r[0], r[1:]) for r in h.psql(
        "SELECT return_id, claim_id, party, party_id, amount_fen, status FROM refund.claims"
        " WHERE return_id IN ('%s', '%s')" % (q1, q2)))
    h.check(set(claims) == {q1, q2} and all(c[1:3] == ["supplier", "sup-1"] for c in claims.values()),
            "supplier claims: %s" % claims)
    bal = h.get_json("refund", "/v1/suppliers/sup-1/balance")
    h.check(bal["owed_fen"] == 15000 + 9000 and bal["open_claims"] == 2, "balance: %s" % bal)
    leg = h.psql("SELECT state, supplier_id FROM warehouse.supplier_legs WHERE return_id = '%s'" % q1)
    h.check(leg == [["requested", "sup-1"]], "supplier leg of %s: %s" % (q1, leg))
    for state in ("in_transit", "supplier_received", "supplier_credit_issued"):
        r = h.http("POST", "warehouse", "/v1/supplier-legs/" + q1, {"state": state, "by": "wendy"})
        h.check(r.status == 200 and r.get("late") is False, "leg -> %s: %r" % (state, r))
    r = h.http("POST", "warehouse", "/v1/supplier-legs/" + q1, {"state": "in_transit"})
    h.check(r.status == 409, "leg back to in_transit: %r" % r)
    legs = h.get_json("warehouse", "/v1/supplier-legs?supplier_id=sup-1")["supplier_legs"]
    h.check(any(l["return_id"] == q1 and l["state"] == "supplier_credit_issued" for l in legs),
            "GET /v1/supplier-legs: %s" % legs)
    r = h.http("POST", "refund", "/v1/claims/%s/settle" % claims[q1][0], {"by": "fiona"})
    h.check(r.status == 200, "settle: %r" % r)
    r = h.http("POST", "refund", "/v1/claims/%s/settle" % claims[q1][0], {"by": "fiona"})
    h.check(r.status == 409, "settle twice: %r" % r)
    r = h.http("POST", "refund", "/v1/claims/%s/write-off" % claims[q2][0],
               {"by": "fiona", "note": "supplier closed"})
    h.check(r.status == 200, "write-off: %r" % r)
    bal = h.get_json("refund", "/v1/suppliers/sup-1/balance")
    h.check(bal["owed_fen"] == 0 and bal["settled_fen"] == 15000 and bal["written_off_fen"] == 9000,
            "balance after settling: %s" % bal)
    h.wait_until(lambda: "claim_opened" in h.templates(q1, "supplier"), 20,
                 "the supplier to be told of the claim")

    h.step("finance approval above 1,000 yuan")
    f = harness.uid("f")
    h.post_order(f, [("L1", 1, 150000)])
    fr = h.post_return(harness.uid("f"), f, "L1", kind="refund_only", amount=150000,
                       reason="quality")
    approve(h, fr)  # cs_supervisor in production; open mode here
    h.wait_status(fr, "refund_pending_approval")
    h.check(h.psql_val("SELECT status FROM refund.refunds WHERE return_id = '%s'" % fr)
            == "awaiting_approval", "refund of %s not awaiting approval" % fr)
    h.check(h.count("FROM refund.sandbox_calls WHERE return_id = '%s'" % fr) == 0,
            "the platform was called before finance approved")
    h.wait_until(lambda: "finance_approval_needed" in h.templates(fr, "ops"), 20,
                 "operations told a refund awaits finance")
    r = h.http("POST", "refund", "/v1/refunds/%s/approve" % fr, {"by": "fiona"})
    h.check(r.status == 200 and r.get("status") == "issued", "finance approve: %r" % r)
    r = h.http("POST", "refund", "/v1/refunds/%s/approve" % fr, {"by": "fiona"})
    h.check(r.status == 409, "second finance approve: %r" % r)
    h.wait_status(fr, "refunded")
    h.wait_timeline(fr, ["refund.awaiting_approval", "refund.approved", "refund.issued"])
    h.check(h.psql("SELECT approved_by, amount_fen FROM refund.refunds WHERE return_id = '%s'" % fr)
            == [["fiona", "150000"]], "finance approval not recorded")

    h.step("refund failure: retried with backoff, then refund.failed and an alert")
    x = harness.uid("x")
    h.post_order(x, [("L1", 1, FAIL_AMOUNT)])
    xr = h.post_return(harness.uid("x"), x, "L1", kind="refund_only", amount=FAIL_AMOUNT,
                       reason="late")
    h.wait_status(xr, "refund_failed", 30)
    row = h.psql("SELECT status, attempts, idempotency_key, error FROM refund.refunds"
                 " WHERE return_id = '%s'" % xr)
    h.check(row and row[0][:3] == ["failed", "3", "refund-" + xr] and "sandbox" in row[0][3],
            "failed refund of %s: %s" % (xr, row))
    h.check(h.psql_val("SELECT status FROM refund.plans WHERE return_id = '%s'" % xr) == "failed",
            "plan of %s not failed" % xr)
    h.wait_until(lambda: "refund_failed" in h.templates(xr, "ops"), 20, "the refund_failed alert")
    h.wait_until(lambda: "refund_delayed" in h.templates(xr, "buyer"), 20,
                 "the buyer told the refund failed")
    h.check(h.count("FROM refund.claims WHERE return_id = '%s'" % xr) == 0,
            "a failed refund opened a claim")

    h.wait_outboxes_empty(30)
    dls = h.dead_letter_counts()
    h.check(all(v == 0 for v in dls.values()), "dead letters: %s" % dls)


if __name__ == "__main__":
    # Operations are told a refund awaits finance only where the shop says so.
    policy = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump({"default": {"refund.awaiting_approval": {"ops": True}}}, policy)
    policy.close()
    try:
        harness.main(scenario, env={"RF_REFUND_RETURN_SHIPPING_FEN": "1000",
                                    "RF_REFUND_SANDBOX_FAIL_AMOUNT_FEN": str(FAIL_AMOUNT),
                                    "RF_REFUND_RETRY_MAX": "3", "RF_REFUND_RETRY_BASE_MS": "100",
                                    "RF_NOTIFICATION_POLICY_FILE": policy.name})
    finally:
        os.unlink(policy.name)
