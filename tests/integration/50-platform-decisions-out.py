#!/usr/bin/env python3
"""50: decisions go back to the platform (issue 4, "Out").

Against the Kuaishou stand-in, with review and refund configured to call it:
  - return and refund, approved by a rule: review calls
    open.seller.order.refund.returngoods.approve with the refund amount and the
    merchant's return address id (9001); only after the platform's yes does
    return.approved go out and the warehouse expect the parcel; the parcel is
    received and inspected over HTTP; refund calls
    open.seller.order.refund.confirm.receipt; the platform's yes is
    refund.issued (status refunded);
  - the same for goods of a supplier that takes them back: the supplier's
    address id (9002);
  - refund only, approved by the default rule: no review call; refund calls
    open.seller.order.refund.approve with the computed amount: refund.issued;
  - a refund only above the finance limit: nothing is told to the platform
    until finance approves; then refund.approve;
  - every call carries its idempotency key as the Idempotency-Key header (the
    stand-in saw it), and GET /v1/platform-calls on review and refund shows
    the request (method, param, key), the platform's answer, outcome and time.
Prints the calls per return and their durations.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import platform_calls_kit as kit  # noqa: E402

standin, CLUSTER = kit.setup(kit.AUTO_RULES)


def return_path(h, supplier, address):
    oid, rid, version = kit.ks_record(h, standin, "return_refund", amount=3990, supplier=supplier)
    ret = kit.post_ks_return(h, oid, rid, version, "return_refund", 3990)
    review_calls = kit.wait_call(h, "review", ret)
    approve = kit.successes(standin, kit.APPROVE_RETURN, rid)
    h.check(len(approve) == 1, "one returngoods.approve for %s: %s" % (rid, approve))
    p = approve[0]["param"]
    h.check(str(p["refundId"]) == rid and p["refundAmount"] == 3990
            and str(p["addressId"]) == address,
            "returngoods.approve param of %s: %s (address %s expected)" % (rid, p, address))
    key = review_calls[0]["idempotency_key"]
    h.check(approve[0]["idempotency_key"] == key and key,
            "the stand-in saw the key %r, review recorded %r" % (approve[0]["idempotency_key"], key))
    h.wait_timeline(ret, ["return.approved"])  # sent after the platform's yes
    kit.receive_and_inspect(h, ret)
    h.wait_status(ret, "refunded")
    refund_calls = kit.wait_call(h, "refund", ret)
    confirm = kit.successes(standin, kit.CONFIRM, rid)
    h.check(len(confirm) == 1 and confirm[0]["idempotency_key"] == refund_calls[0]["idempotency_key"],
            "one confirm.receipt for %s with refund's key: %s" % (rid, confirm))
    h.check(standin.refunds[rid]["status"] == 50, "the platform refunds %s: status %s"
            % (rid, standin.refunds[rid]["status"]))
    for c in review_calls + refund_calls:
        h.check(c["requests"] and c["requests"][-1]["outcome"] == "ok"
                and c["requests"][-1]["answer"] and '"result": 1' in c["requests"][-1]["answer"],
                "the record shows the platform's answer: %s" % c)
    # the record never holds the secret
    h.check(standin.sign_secret not in str(review_calls + refund_calls), "no secret in the record")
    return ret, review_calls + refund_calls


def scenario(h):
    h.step("return and refund to the merchant: returngoods.approve (9001), receipt, confirm.receipt")
    ret1, calls1 = return_path(h, "sup-1", kit.MERCHANT_ADDRESS)

    h.step("return of a supplier that takes goods back: its own address id (9002)")
    ret2, calls2 = return_path(h, kit.BACK_TO_SUPPLIER, kit.SUPPLIER_ADDRESS)

    h.step("refund only: no review call; refund.approve with the refund's amount")
    oid, rid, version = kit.ks_record(h, standin, "refund_only", amount=2500, price=9000)
    ret3 = kit.post_ks_return(h, oid, rid, version, "refund_only", 2500, reason="quality")
    h.wait_status(ret3, "refunded")
    h.check(kit.calls(h, "review", ret3) == [], "no review call for a refund-only approval")
    calls3 = kit.wait_call(h, "refund", ret3)
    amount = int(h.psql_val("SELECT amount_fen FROM refund.refunds WHERE return_id = '%s'" % ret3))
    ok = kit.successes(standin, kit.APPROVE_REFUND, rid)
    h.check(len(ok) == 1 and ok[0]["param"]["refundAmount"] == amount == 2500,
            "refund.approve of %s with %d fen: %s" % (rid, amount, ok))
    h.check(kit.successes(standin, kit.APPROVE_RETURN, rid) == [], "no returngoods.approve")

    h.step("a large refund only: no call before finance approves, then refund.approve")
    oid, rid, version = kit.ks_record(h, standin, "refund_only", amount=120000, price=120000)
    ret4 = kit.post_ks_return(h, oid, rid, version, "refund_only", 120000, reason="quality")
    h.wait_status(ret4, "under_review")
    r = h.http("POST", "review", "/v1/reviews/%s/approve" % ret4, {"by": "carol"})
    h.check(r.status == 200, "approve %s: %r" % (ret4, r))
    h.wait_status(ret4, "refund_pending_approval")
    h.check(standin.log_of(None, rid) == [] and kit.calls(h, "refund", ret4) == [],
            "nothing told to the platform before finance approves")
    r = h.http("POST", "refund", "/v1/refunds/%s/approve" % ret4, {"by": "fin"})
    h.check(r.status == 200, "finance approval: %r" % r)
    h.wait_status(ret4, "refunded")
    ok = kit.successes(standin, kit.APPROVE_REFUND, rid)
    h.check(len(ok) == 1 and ok[0]["param"]["refundAmount"] == 120000,
            "refund.approve after finance: %s" % ok)
    calls3 = calls3 + kit.calls(h, "refund", ret4)

    h.step("rfctl calls shows the same record")
    rfctl = os.path.join(h.build, "bin", "rfctl")
    if os.access(rfctl, os.X_OK):
        import subprocess
        env = dict(os.environ, RF_REVIEW_HTTP="127.0.0.1:%d" % h.workers["review"].http_port,
                   RF_REFUND_HTTP="127.0.0.1:%d" % h.workers["refund"].http_port)
        out = subprocess.run([rfctl, "calls", ret1], env=env, capture_output=True, text=True,
                             timeout=30)
        h.check(out.returncode == 0 and kit.APPROVE_RETURN in out.stdout and kit.CONFIRM in out.stdout,
                "rfctl calls %s: %s %s" % (ret1, out.stdout, out.stderr))
        harness.log("rfctl calls %s:\n%s" % (ret1, out.stdout))
        js = subprocess.run([rfctl, "calls", ret1, "--json"], env=env, capture_output=True,
                            text=True, timeout=30)
        import json
        doc = json.loads(js.stdout)
        h.check(len(doc["review"]) == 1 and len(doc["refund"]) == 1, "rfctl calls --json: %s" % doc)

    all_calls = calls1 + calls2 + calls3
    d = sorted(kit.durations(all_calls))
    harness.log("measured: 4 returns, %d platform calls (%d requests), all succeeded: %s;"
                " request time ms min %d, median %d, max %d; stand-in calls seen: %d"
                % (len(all_calls), len(d), all(c["state"] == "succeeded" for c in all_calls),
                   d[0], d[len(d) // 2], d[-1], len(standin.call_log)))


harness.main(scenario, **CLUSTER)
