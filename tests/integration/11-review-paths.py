#!/usr/bin/env python3
"""11: review decides and who pays (issue 3, "Review"), with bearer tokens.

Paths, each checked in every worker's tables and the timeline:
  - auto-approved refund-only: 30 yuan, the buyer's first return: approved by the rule
    small_refund_only, refunded through the sandbox adapter (its call recorded with
    the idempotency key), a carrier claim for a late delivery; the buyer's zh-CN
    messages; the satisfaction survey follows, the answer is recorded
    (POST /v1/feedback, feedback.received in the timeline), a second answer 409;
  - the buyer's history: the same buyer's 4th request in 90 days goes to a person;
  - over-limit amount escalated to the supervisor: cs gets 403 above_cs_limit, the
    cs_supervisor approves; the decision records the token's user; cost bearer;
  - returnless refund: a return_refund worth less than the return shipping is approved
    without the goods: no parcel expected, refunded at once;
  - platform deadline alert: an undecided task 1 hour before its platform deadline
    raises review.deadline_near exactly once, and operations are told.
"""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

TOKENS = {
    "cs": ("cs-token-0123456789abcdef", "alice"),
    "cs_supervisor": ("sup-token-0123456789abcdef", "sam"),
    "warehouse": ("wh-token-0123456789abcdef", "wendy"),
    "finance": ("fin-token-0123456789abcdef", "fiona"),
}


def bearer(role):
    return {"Authorization": "Bearer " + TOKENS[role][0]}


def scenario(h):
    now = int(time.time() * 1000)

    h.step("auto-approved refund-only: rule, sandbox refund, claim, messages, survey")
    order = harness.uid("auto")
    h.post_order(order, [("L1", 1, 3000), ("L2", 1, 3000), ("L3", 1, 3000), ("L4", 1, 3000)])
    a = h.post_return(harness.uid("a"), order, "L1", kind="refund_only", amount=3000,
                      reason="late")
    h.wait_status(a, "refunded")
    task = h.psql("SELECT status, rule_name, decided_by, liability, cost_bearer FROM review.tasks"
                  " WHERE return_id = '%s'" % a)
    h.check(task == [["approved", "small_refund_only", "auto", "carrier", "carrier"]],
            "review task of %s: %s" % (a, task))
    ref = h.psql("SELECT amount_fen, status, idempotency_key, platform_ref FROM refund.refunds"
                 " WHERE return_id = '%s'" % a)
    h.check(len(ref) == 1 and ref[0][:3] == ["3000", "issued", "refund-" + a]
            and ref[0][3].startswith("sandbox-"), "refund of %s: %s" % (a, ref))
    calls = h.psql("SELECT amount_fen, calls FROM refund.sandbox_calls WHERE return_id = '%s'" % a)
    h.check(calls == [["3000", "1"]], "sandbox calls for %s: %s" % (a, calls))
    h.check(h.psql("SELECT party FROM refund.claims WHERE return_id = '%s'" % a) == [["carrier"]],
            "carrier claim of %s" % a)
    h.check(h.count("FROM warehouse.expected_parcels WHERE return_id = '%s'" % a) == 0,
            "a refund-only return expects a parcel")
    h.wait_until(lambda: "survey" in h.templates(a, "buyer"), 20, "the survey of %s" % a)
    msgs = h.get_json("notification", "/v1/messages?return_id=" + a)["messages"]
    refunded = [m for m in msgs if m["template"] == "refunded"]
    h.check(refunded and "30.00 元" in refunded[0]["body"] and refunded[0]["locale"] == "zh-CN",
            "zh-CN refund message: %s" % refunded)
    r = h.http("POST", "notification", "/v1/feedback", {"return_id": a, "score": 5,
                                                          "comment": "很快"})
    h.check(r.status == 401, "feedback without a token: %r" % r)
    r = h.http("POST", "notification", "/v1/feedback",
               {"return_id": a, "score": 6}, headers=bearer("cs"))
    h.check(r.status == 400, "score 6: %r" % r)
    r = h.http("POST", "notification", "/v1/feedback",
               {"return_id": a, "score": 5, "comment": "很快"}, headers=bearer("cs"))
    h.check(r.status == 200, "feedback: %r" % r)
    r = h.http("POST", "notification", "/v1/feedback",
               {"return_id": a, "score": 1}, headers=bearer("cs"))
    h.check(r.status == 409, "second feedback: %r" % r)
    h.wait_timeline(a, ["return.requested", "return.approved", "refund.issued", "claim.opened",
                        "notice.sent", "feedback.received"])
    h.check(h.psql("SELECT score, comment FROM notification.feedback WHERE return_id = '%s'" % a)
            == [["5", "很快"]], "feedback row of %s" % a)

    h.step("the buyer's 4th request in 90 days goes to a person")
    for ln in ("L2", "L3"):
        rid = h.post_return(harness.uid("h"), order, ln, kind="refund_only", amount=1000,
                            reason="late")
        h.wait_status(rid, "refunded")
    d = h.post_return(harness.uid("h4"), order, "L4", kind="refund_only", amount=1000,
                      reason="late")
    h.wait_status(d, "under_review")
    h.check(h.psql_val("SELECT rule_name FROM review.tasks WHERE return_id = '%s'" % d)
            == "default_manual", "4th return of the buyer not sent to a person")

    h.step("over the cs limit: escalated to the supervisor, who decides")
    big = harness.uid("big")
    h.post_order(big, [("L1", 1, 80000)], freight_insured=True)
    b = h.post_return(harness.uid("b"), big, "L1", kind="return_refund", amount=80000,
                      reason="size_fit")
    h.wait_status(b, "under_review")
    opened = [e for e in h.return_doc(b)["timeline"] if e["type"] == "review.opened"]
    h.check(opened and opened[0]["body"]["required_role"] == "cs_supervisor",
            "review.opened of %s: %s" % (b, opened))
    r = h.http("POST", "review", "/v1/reviews/%s/approve" % b, {}, headers=bearer("cs"))
    h.check(r.status == 403 and r.get("error") == "above_cs_limit", "cs approving 800 yuan: %r" % r)
    r = h.http("POST", "review", "/v1/reviews/%s/approve" % b, {"note": "ok"},
               headers=bearer("cs_supervisor"))
    h.check(r.status == 200, "supervisor approving: %r" % r)
    h.wait_status(b, "awaiting_return")
    dec = h.psql("SELECT decision, decided_by FROM review.decisions WHERE return_id = '%s'" % b)
    h.check(dec == [["approved", "sam"]], "decisions of %s: %s" % (b, dec))
    h.check(h.psql("SELECT liability, cost_bearer FROM review.tasks WHERE return_id = '%s'" % b)
            == [["buyer", "insurer"]], "size/fit with freight insurance: the insurer pays")
    h.wait_until(lambda: h.count("FROM warehouse.expected_parcels WHERE return_id = '%s'" % b), 20,
                 "warehouse to expect %s" % b)

    h.step("returnless refund: goods worth less than the return shipping stay with the buyer")
    cheap = harness.uid("cheap")
    h.post_order(cheap, [("L1", 1, 800)], shipping_fee_fen=0)
    c = h.post_return(harness.uid("c"), cheap, "L1", kind="return_refund", amount=800,
                      reason="quality")
    h.wait_status(c, "under_review")
    r = h.http("POST", "review", "/v1/reviews/%s/approve" % c, {}, headers=bearer("cs"))
    h.check(r.status == 200, "approve %s: %r" % (c, r))
    h.wait_status(c, "refunded")
    appr = [e for e in h.return_doc(c)["timeline"] if e["type"] == "return.approved"]
    h.check(appr and appr[0]["body"]["returnless"] is True
            and appr[0]["body"]["goods_expected"] is False, "approval of %s: %s" % (c, appr))
    h.check(h.count("FROM warehouse.expected_parcels WHERE return_id = '%s'" % c) == 0,
            "a returnless refund expects a parcel")
    h.check(h.psql_val("SELECT amount_fen FROM refund.refunds WHERE return_id = '%s'" % c) == "800",
            "returnless refund amount")
    h.check("approved_returnless" in h.templates(c, "buyer"), "buyer not told to keep the item")

    h.step("platform deadline near: one alert, operations told")
    dl = harness.uid("dl")
    h.post_order(dl, [("L1", 1, 60000)])
    e = h.post_return(harness.uid("e"), dl, "L1", kind="return_refund", amount=60000,
                      reason="quality", platform_deadline_at=now + 3600000)
    h.wait_status(e, "under_review")
    h.wait_timeline(e, ["review.deadline_near"])
    h.wait_until(lambda: "deadline_near" in h.templates(e, "ops"), 20, "the ops alert of %s" % e)
    time.sleep(2.5)  # a few more scans: still one alert
    n = sum(1 for t in h.timeline_types(e) if t == "review.deadline_near")
    h.check(n == 1, "review.deadline_near raised %d times" % n)
    h.check(h.count("FROM review.tasks WHERE return_id = '%s' AND alerted_at IS NOT NULL" % e) == 1,
            "alerted_at not set on %s" % e)
    h.check(h.count("FROM review.tasks WHERE return_id = '%s' AND alerted_at IS NOT NULL" % b) == 0,
            "a task 2 days from its deadline was alerted")

    h.wait_outboxes_empty(30)
    dls = h.dead_letter_counts()
    h.check(all(v == 0 for v in dls.values()), "dead letters: %s" % dls)


if __name__ == "__main__":
    fd, tokens_path = tempfile.mkstemp(suffix=".tokens")
    with os.fdopen(fd, "w") as f:
        for role, (token, user) in TOKENS.items():
            f.write("%s %s %s\n" % (token, user, role))
    try:
        harness.main(scenario, env={"RF_AUTH_TOKENS_FILE": tokens_path,
                                    "RF_REVIEW_DEADLINE_SCAN_MS": "200"})
    finally:
        os.unlink(tokens_path)
