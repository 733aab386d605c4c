#!/usr/bin/env python3
"""53: the platform says no, or not now, or nobody asks it (issue 4, "Out").

  - refund refused: the record was closed on the platform (status 70) before
    refund.approve; the call is refused ("bad state"), the record fetched
    again is not agreed: refund.failed, the return refund_failed, operations
    alerted (notification's ops message), the refusal and the platform's
    answer on the record (GET /v1/platform-calls);
  - review refused: returngoods.approve on a closed record: refused, nothing
    approved, the task goes back to a person (pending, review.opened again),
    operations alerted (ops.alert platform_refused);
  - rate limited: the next two calls are answered "too frequent": the call is
    retried with backoff and succeeds; rate-limit answers are not counted as
    failures (attempts 0, rate_limited 2);
  - calls off (review and refund restarted without RF_KUAISHOU_API_URL): a
    Kuaishou decision is recorded as not_sent and alerted, and the return goes
    on as before;
  - /metrics counts the calls by state (rf_platform_calls);
  - a bad platform setting (a sign method other than MD5 / HMAC_SHA256, an API
    URL without an app key) stops start-up with a line naming each.
Prints what each case recorded.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import platform_calls_kit as kit  # noqa: E402

standin, CLUSTER = kit.setup(kit.AUTO_RULES)


def closed_record(h, kind, amount):
    oid, rid, _ = kit.ks_record(h, standin, kind, amount=amount, price=amount)
    version = standin.update_refund(rid, status=70)["updateTime"]
    return oid, rid, version


def ops_alerts(h, ret):
    return [t for t in h.templates(ret, "ops")]


def scenario(h):
    measured = []

    h.step("refund.approve refused: refund.failed, refund_failed, operations alerted")
    oid, rid, version = closed_record(h, "refund_only", 2000)
    ret = kit.post_ks_return(h, oid, rid, version, "refund_only", 2000)
    h.wait_status(ret, "refund_failed")
    calls = kit.wait_call(h, "refund", ret, "failed")
    c = calls[0]
    h.check(c["outcome"] == "refused" and "420" in (c["error"] or ""), "the refusal: %s" % c)
    h.check([q["method"] for q in c["requests"]] == [kit.APPROVE_REFUND, kit.DETAIL]
            and c["requests"][0]["result_code"] == 420
            and "not waiting for the seller" in c["requests"][0]["answer"],
            "the platform's answer is on the record: %s" % c["requests"])
    h.wait_until(lambda: "refund_failed" in ops_alerts(h, ret), 10, "operations told")
    h.check(h.psql_val("SELECT status FROM refund.refunds WHERE return_id = '%s'" % ret) == "failed",
            "the refund is failed")
    measured.append("refund refused: call %s/%s, error %r, ops messages %s"
                    % (c["state"], c["outcome"], c["error"], ops_alerts(h, ret)))

    h.step("returngoods.approve refused: back to a person, operations alerted")
    oid, rid, version = closed_record(h, "return_refund", 3990)
    ret = kit.post_ks_return(h, oid, rid, version, "return_refund", 3990)
    calls = kit.wait_call(h, "review", ret, "failed")
    h.wait_until(lambda: "ops_alert" in ops_alerts(h, ret), 10, "operations told")
    task = h.psql("SELECT status, platform_state, required_role FROM review.tasks"
                  " WHERE return_id = '%s'" % ret)
    h.check(task == [["pending", "refused", "cs"]], "the task is a person's again: %s" % task)
    h.wait_timeline(ret, ["review.opened"])
    types = h.timeline_types(ret)
    h.check("return.approved" not in types,
            "nothing approved, the review reopened: %s" % types)
    h.check(h.count("FROM review.decisions WHERE return_id = '%s' AND decision = 'platform_refused'"
                    % ret) == 1, "the refusal is kept with the decisions")
    measured.append("review refused: call %s/%s, task %s, ops messages %s"
                    % (calls[0]["state"], calls[0]["outcome"], task[0], ops_alerts(h, ret)))

    h.step("rate limited twice: backed off, then accepted; not counted as failures")
    oid, rid, version = kit.ks_record(h, standin, "refund_only", amount=1800, price=1800)
    with standin.lock:
        standin.rate_limit_next = 2
    ret = kit.post_ks_return(h, oid, rid, version, "refund_only", 1800)
    h.wait_status(ret, "refunded")
    c = kit.wait_call(h, "refund", ret)[0]
    h.check(c["attempts"] == 0 and c["rate_limited"] == 2
            and [q["outcome"] for q in c["requests"]] == ["rate_limited", "rate_limited", "ok"],
            "rate limits backed off: %s" % c)
    gap = [b["started_at"] - a["started_at"] for a, b in zip(c["requests"], c["requests"][1:])]
    h.check(all(g >= 150 for g in gap), "backoff between the tries: %s ms" % gap)
    measured.append("rate limited: requests %s, gaps %s ms, attempts counted %d"
                    % ([q["outcome"] for q in c["requests"]], gap, c["attempts"]))

    h.step("calls off: recorded as not_sent, alerted, the return goes on")
    off = {"RF_KUAISHOU_API_URL": ""}
    for w in ("review", "refund"):
        h.stop(w)
        h.start(w, env=off)
    oid, rid, version = kit.ks_record(h, standin, "refund_only", amount=1500, price=1500)
    before = len(standin.call_log)
    ret = kit.post_ks_return(h, oid, rid, version, "refund_only", 1500)
    h.wait_status(ret, "refunded")
    c = kit.wait_call(h, "refund", ret, "not_sent")[0]
    h.check(c["requests"] == [] and "seller console" in c["error"], "not sent: %s" % c)
    h.wait_until(lambda: "ops_alert" in ops_alerts(h, ret), 10, "operations told")
    h.check(len(standin.call_log) == before, "nothing was sent to the platform")
    measured.append("calls off: refund call %s (%s), ops messages %s"
                    % (c["state"], c["error"], ops_alerts(h, ret)))
    oid, rid, version = kit.ks_record(h, standin, "return_refund", amount=3990, price=3990)
    ret = kit.post_ks_return(h, oid, rid, version, "return_refund", 3990)
    h.wait_status(ret, "awaiting_return")  # approved at once, as before
    c = kit.wait_call(h, "review", ret, "not_sent")[0]
    h.check(c["method"] == kit.APPROVE_RETURN and c["param"]["addressId"] == 9001,
            "the call that would have been made is on the record: %s" % c)
    h.check(h.psql_val("SELECT platform_state FROM review.tasks WHERE return_id = '%s'" % ret)
            == "not_sent", "the task says the platform was not told")
    h.wait_until(lambda: "ops_alert" in ops_alerts(h, ret), 10, "operations told")
    h.check(len(standin.call_log) == before, "nothing was sent to the platform")
    measured.append("calls off: review call %s, approved at once, ops messages %s"
                    % (c["state"], ops_alerts(h, ret)))

    h.step("metrics: calls by state")
    for w, state in (("refund", "failed"), ("review", "failed"), ("refund", "not_sent")):
        line = [l for l in h.metrics(w).splitlines()
                if l.startswith('rf_platform_calls{worker="%s",state="%s"}' % (w, state))]
        h.check(line and int(line[0].split()[-1]) >= 1, "%s metrics: %s" % (w, line))
        measured.append("metrics: " + line[0])

    h.step("a bad platform setting stops start-up, naming it")
    h.stop("refund")
    proc = h.start("refund", env={"RF_KUAISHOU_API_URL": standin.url, "RF_KUAISHOU_APP_KEY": "",
                                  "RF_KUAISHOU_SIGN_METHOD": "SHA1"}, wait=False)
    h.workers["refund"].expected_down = True
    rc = proc.wait(timeout=h.t(30))
    text = h.log_text("refund")
    named = [n for n in ("RF_KUAISHOU_SIGN_METHOD", "RF_KUAISHOU_APP_KEY")
             if "name=%s" % n in text]
    h.check(rc != 0 and len(named) == 2, "refund exited %s naming %s" % (rc, named))
    measured.append("bad settings: refund exited with status %d naming %s" % (rc, named))

    for m in measured:
        harness.log("measured: " + m)


harness.main(scenario, **CLUSTER)
