#!/usr/bin/env python3
"""51: the buyer changed the request while the merchant decided (issue 4, "Out").

The stand-in's record changes (update_refund: a new amount, a new updateTime)
after the request reached returnflow and before the decision was told:
  - an automatic rejection goes out with the old refundVersion: the platform
    answers "stale version"; review fetches the record again, takes the new
    version and amount into the task, decides by the rules again (still a
    rejection) and calls again with the new version: accepted, return.rejected;
  - a person's approval of a return with the old, higher amount: the platform
    refuses it (refundAmount above refundFee); the record is fetched again,
    the amount changed, so the decision no longer fits and goes back to a
    person (pending, review.opened, the change in the decisions); the person
    approves the new amount: accepted, return.approved;
  - an automatic approval of a return whose amount went down: re-decided by the
    rules and approved with the new amount.
Nothing is silently dropped: the stand-in's call record shows both calls of
each return, and review's record shows the first superseded, the second
succeeded. And the quiet way: a return.updated (as intake's feed sends it)
with a newer version brings the pending task up to date (version, amount),
an older one changes nothing, and a person's rejection then goes out with
the current refundVersion and is accepted at the first call. Prints what was
seen.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import platform_calls_kit as kit  # noqa: E402

RULES = [{"name": "no_refund_only_for_changed_mind", "kind": "refund_only",
          "reason": "changed_mind", "outcome": "auto_reject", "reject_reason": "condition_failed"},
         {"name": "small_returns_auto", "kind": "return_refund", "max_amount_fen": 3000,
          "outcome": "auto_approve"},
         {"name": "default_manual", "outcome": "manual"}]
standin, CLUSTER = kit.setup(RULES)


def scenario(h):
    seen = []

    h.step("automatic rejection with a stale refundVersion: refetched, decided again, accepted")
    oid, rid, v0 = kit.ks_record(h, standin, "refund_only", amount=2000, price=5000)
    v1 = standin.update_refund(rid, refundFee=1500)["updateTime"]
    ret = kit.post_ks_return(h, oid, rid, v0, "refund_only", 2000, reason="changed_mind")
    h.wait_status(ret, "rejected")
    rejects = standin.log_of(kit.REJECT, rid)
    h.check([c["answer"]["result"] for c in rejects] == [410, 1],
            "the stand-in saw a stale reject, then an accepted one: %s" % rejects)
    h.check([c["param"]["refundVersion"] for c in rejects] == [v0, v1],
            "refundVersion %s then %s: %s" % (v0, v1, [c["param"] for c in rejects]))
    h.check(len(standin.log_of(kit.DETAIL, rid)) == 1, "the record was fetched again once")
    h.check(standin.refunds[rid]["negotiateStatus"] == 3, "rejected on the platform")
    calls = kit.calls(h, "review", ret)
    h.check([c["state"] for c in calls] == ["superseded", "succeeded"], "review's record: %s"
            % [(c["state"], c["outcome"]) for c in calls])
    h.check(calls[0]["idempotency_key"] != calls[1]["idempotency_key"], "a new key for the new call")
    task = h.psql("SELECT requested_amount_fen, platform_version, status FROM review.tasks"
                  " WHERE return_id = '%s'" % ret)
    h.check(task == [["1500", str(v1), "rejected"]], "the task took the new record: %s" % task)
    h.check(h.timeline_types(ret).count("return.rejected") == 1, "one return.rejected")
    seen.append(("auto reject", [c["answer"]["result"] for c in standin.log_of(None, rid)]))

    h.step("a person's approval that no longer fits goes back to a person")
    oid, rid, v0 = kit.ks_record(h, standin, "return_refund", amount=8000, price=8000)
    ret = kit.post_ks_return(h, oid, rid, v0, "return_refund", 8000, reason="quality")
    h.wait_status(ret, "under_review")
    v1 = standin.update_refund(rid, refundFee=6000)["updateTime"]
    r = h.http("POST", "review", "/v1/reviews/%s/approve" % ret, {"by": "alice"})
    h.check(r.status == 200 and r.get("platform") == "waiting_for_answer", "approve: %r" % r)
    kit.wait_call(h, "review", ret, "superseded")
    h.wait_until(lambda: h.psql_val("SELECT status FROM review.tasks WHERE return_id = '%s'" % ret)
                 == "pending", 10, "the task back to a person")
    task = h.psql("SELECT requested_amount_fen, platform_version FROM review.tasks"
                  " WHERE return_id = '%s'" % ret)
    h.check(task == [["6000", str(v1)]], "the task shows the new request: %s" % task)
    h.check(h.count("FROM review.decisions WHERE return_id = '%s' AND decision = 'platform_changed'"
                    % ret) == 1, "the change is kept with the decisions")
    h.wait_until(lambda: h.timeline_types(ret).count("review.opened") == 2, 20,
                 "review.opened again in the timeline of %s" % ret)
    h.check("return.approved" not in h.timeline_types(ret), "no approval went out")
    r = h.http("POST", "review", "/v1/reviews/%s/approve" % ret, {"by": "alice"})
    h.check(r.status == 200, "second approve: %r" % r)
    kit.wait_call(h, "review", ret, "succeeded")
    h.wait_timeline(ret, ["return.approved"])
    approves = standin.log_of(kit.APPROVE_RETURN, rid)
    h.check([(c["param"]["refundAmount"], c["answer"]["result"]) for c in approves]
            == [(8000, 400), (6000, 1)], "the stand-in saw both approvals: %s" % approves)
    seen.append(("person approve", [c["answer"]["result"] for c in standin.log_of(None, rid)]))

    h.step("an automatic approval whose amount went down is approved again with the new amount")
    oid, rid, v0 = kit.ks_record(h, standin, "return_refund", amount=2900, price=2900)
    standin.update_refund(rid, refundFee=2500)
    ret = kit.post_ks_return(h, oid, rid, v0, "return_refund", 2900)
    kit.wait_call(h, "review", ret, "succeeded")
    h.wait_timeline(ret, ["return.approved"])
    approves = standin.log_of(kit.APPROVE_RETURN, rid)
    h.check([(c["param"]["refundAmount"], c["answer"]["result"]) for c in approves]
            == [(2900, 400), (2500, 1)], "auto approval re-decided: %s" % approves)
    plan = h.psql_val("SELECT amount_fen FROM refund.plans WHERE return_id = '%s'" % ret)
    h.check(plan == "2500", "the refund plan has the new amount: %s" % plan)
    seen.append(("auto approve", [c["answer"]["result"] for c in standin.log_of(None, rid)]))

    h.step("return.updated keeps a pending task current: the reject is accepted at once")
    oid, rid, v0 = kit.ks_record(h, standin, "return_refund", amount=7000, price=7000)
    ret = kit.post_ks_return(h, oid, rid, v0, "return_refund", 7000, reason="quality")
    h.wait_status(ret, "under_review")
    v1 = standin.update_refund(rid, refundFee=6500)["updateTime"]
    for version, amount in ((v1, 6500), (v0 - 1, 9999)):  # the newer one, then a late older one
        body = {"platform_status": "requested", "platform_version": version,
                "platform_code": "11/1", "kind": "", "requested_amount_fen": amount,
                "tracking_no": ""}
        event_id, payload = harness.event_payload("return.updated", ret, "intake", body)
        harness.insert_outbox(h, "intake", "review", event_id, ret, "return.updated", payload)
        h.wait_until(lambda: h.count("FROM review.inbox WHERE event_id = '%s'" % event_id) == 1,
                     10, "review to apply the return.updated of version %d" % version)
    task = h.psql("SELECT platform_version, requested_amount_fen FROM review.tasks"
                  " WHERE return_id = '%s'" % ret)
    h.check(task == [[str(v1), "6500"]], "newer applied, older ignored: %s" % task)
    r = h.http("POST", "review", "/v1/reviews/%s/reject" % ret,
               {"by": "alice", "reason_code": "condition_failed"})
    h.check(r.status == 200, "reject: %r" % r)
    h.wait_status(ret, "rejected")
    rejects = standin.log_of(kit.REJECT, rid)
    h.check([(c["param"]["refundVersion"], c["answer"]["result"]) for c in rejects] == [(v1, 1)],
            "one reject with the current version: %s" % rejects)
    seen.append(("person reject after return.updated",
                 [c["answer"]["result"] for c in standin.log_of(None, rid)]))

    for what, results in seen:
        harness.log("measured: %s: platform answers in order %s (410 stale version, 400 bad"
                    " param, 1 accepted; the middle one is the detail refetch)" % (what, results))


harness.main(scenario, **CLUSTER)
