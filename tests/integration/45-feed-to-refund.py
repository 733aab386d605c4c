#!/usr/bin/env python3
"""45: the whole platform path, from a Kuaishou push to the platform's refund (issue 4).

One Kuaishou stand-in plays the platform for every worker: intake receives its
pushes and asks it for records and orders; review and refund tell it their
decisions. For a return and refund:
  - an encrypted addRefund push (ids only) reaches intake's feed address; intake
    fetches the refund's detail and the order it does not know yet, and creates
    the return with the record's version;
  - review approves it by rule and calls returngoods.approve; the shop's policy
    names no return address, so none is sent (addressId is optional: the
    platform uses the shop's default return address); only then does the
    warehouse expect the parcel;
  - the buyer ships it: the platform's record moves to status 40, and its
    updateRefund push is lost: the poller lists the record (a list entry has
    no logisticsInfo), intake takes its detail and return.updated
    (return_in_transit) brings the tracking number;
  - the warehouse receives and inspects it over HTTP; refund calls
    confirm.receipt, the platform refunds (status 50), and intake shows the
    return refunded;
and a refund-only request pushed the same way ends in one refund.approve.
Every platform call happens exactly once with success, in the order the
platform needs them, with its declared verb (GET for the detail and order
fetches, POST for the decisions). Ids are 19 digits, titles and regions
Chinese. Prints the calls and the time from push to refund.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import feedkit  # noqa: E402
import harness  # noqa: E402
import platform_calls_kit as kit  # noqa: E402
import kuaishou  # noqa: E402

FEEDS = feedkit.Feeds()
_, CLUSTER = kit.setup(kit.AUTO_RULES, standin=FEEDS.standin, merchant_address=None)
CLUSTER["worker_env"]["intake"] = FEEDS.env
ORDER_DETAIL = "open.order.detail"


def push(h, topic, refund_id, event_id):
    rec = dict(FEEDS.standin.refunds[refund_id])
    status, answer, _ = FEEDS.ks_push(topic, rec, event_id)
    h.check(status == 200 and '"result":1' in answer.replace(" ", ""),
            "push %s answered %d %s" % (event_id, status, answer))


def return_of(h, refund_id, timeout=30):
    """intake's return for the platform record, once it exists."""
    rec = h.wait_until(lambda: (feedkit.feed_record(h, "kuaishou", refund_id) or {})
                       .get("return_id") and feedkit.feed_record(h, "kuaishou", refund_id),
                       timeout, "intake to create the return of refund %s" % refund_id)
    return rec["return_id"]


def one_success(h, method, refund_id):
    ok = kit.successes(FEEDS.standin, method, refund_id)
    h.check(len(ok) == 1 and ok[0]["idempotency_key"],
            "exactly one successful %s for %s, with its key: %s" % (method, refund_id, ok))
    return ok[0]


def scenario(h):
    ks = FEEDS.standin
    oid, sku, rid = feedkit.ks_id(), feedkit.ks_id(), feedkit.ks_id()

    h.step("a return and refund is pushed (ids only) for an order intake does not know")
    ks.add_order(oid, {"skuId": int(sku), "itemId": int(sku) + 1, "itemTitle": "双面羊绒大衣 驼色",
                       "num": 1, "price": 3990}, province="四川省", city="成都市")
    ks.add_refund(rid, oid, sku_id=sku, handling_way=1, status=11, refund_fee=3990)
    t0 = time.monotonic()
    push(h, "kwaishop_aftersales_addRefund", rid, "ev-45-1")
    ret = return_of(h, rid)
    doc = h.return_doc(ret)
    h.check(doc["type"] == "return_refund" and doc["requested_amount_fen"] == 3990
            and doc["platform_version"] == ks.refunds[rid]["createTime"],
            "return from the record: %r" % {k: doc.get(k) for k in
                                             ("type", "requested_amount_fen", "platform_version")})

    h.step("review approves by rule and tells the platform: no address configured, none sent")
    kit.wait_call(h, "review", ret)
    approve = one_success(h, kit.APPROVE_RETURN, rid)
    h.check("addressId" not in approve["param"] and approve["param"]["refundAmount"] == 3990,
            "returngoods.approve param: %s" % approve["param"])
    h.check(ks.refunds[rid].get("address") == str(ks.default_address_id),
            "the platform used the shop's default return address: %s"
            % ks.refunds[rid].get("address"))
    h.wait_until(lambda: ks.refunds[rid]["status"] == 30, 10,
                 "the platform to wait for the buyer's parcel (status 30)")

    h.step("the buyer ships the parcel; its push is lost: the poller brings it, with the detail")
    details_before = len(ks.log_of(kit.DETAIL, rid))
    ks.update_refund(rid, status=40, logisticsInfo={"expressNo": "SF1234567890",
                                                    "expressCode": 1})
    h.wait_until(lambda: "return.updated" in h.timeline_types(ret), 30,
                 "return.updated (return_in_transit) in the timeline, from the poller")
    upd = [e for e in h.return_doc(ret)["timeline"] if e["type"] == "return.updated"]
    h.check(upd[-1]["body"]["platform_status"] == "return_in_transit"
            and upd[-1]["body"].get("tracking_no") == "SF1234567890",
            "return.updated body: %s" % upd[-1]["body"])
    listed = [c for c in ks.log_of("open.seller.order.refund.pcursor.list")
              if any(str(e["refundId"]) == rid and "logisticsInfo" not in e
                     for e in (c["answer"].get("data") or {}).get("refundOrderInfoList", []))]
    h.check(listed and len(ks.log_of(kit.DETAIL, rid)) > details_before,
            "listed without logisticsInfo (%d pages), then its detail asked" % len(listed))

    h.step("the warehouse receives and inspects it; refund confirms the receipt")
    kit.receive_and_inspect(h, ret)
    h.wait_status(ret, "refunded", timeout=30)
    elapsed = time.monotonic() - t0
    one_success(h, kit.CONFIRM, rid)
    h.check(ks.refunds[rid]["status"] == 50, "the platform refunds: status %s"
            % ks.refunds[rid]["status"])
    order = [c["method"] for c in ks.log_of(refund_id=rid) if c["answer"].get("result") == 1]
    want = [kit.APPROVE_RETURN, kit.CONFIRM]
    h.check([m for m in order if m in want] == want,
            "approve before confirm.receipt: %s" % order)
    h.check(len(ks.calls_of(ORDER_DETAIL)) >= 1, "the order was fetched from the platform")
    # intake hears each worker over its own link: wait for all of them
    h.wait_timeline(ret, ["return.requested", "return.approved", "return.updated",
                          "goods.received", "goods.inspected", "refund.issued"])

    h.step("a refund-only request pushed the same way ends in one refund.approve")
    oid2, sku2, rid2 = feedkit.ks_id(), feedkit.ks_id(), feedkit.ks_id()
    ks.add_order(oid2, (sku2, 1, 1990))
    ks.add_refund(rid2, oid2, sku_id=sku2, handling_way=10, status=10, refund_fee=1990)
    push(h, "kwaishop_aftersales_addRefund", rid2, "ev-45-3")
    push(h, "kwaishop_aftersales_addRefund", rid2, "ev-45-3")  # the platform repeats it
    ret2 = return_of(h, rid2)
    h.wait_status(ret2, "refunded", timeout=30)
    ok = one_success(h, kit.APPROVE_REFUND, rid2)
    h.check(ok["param"]["refundAmount"] == 1990, "refund.approve param: %s" % ok["param"])
    h.check(not kit.successes(ks, kit.APPROVE_RETURN, rid2),
            "no returngoods.approve for a refund only")
    h.check(h.count("FROM intake.returns WHERE platform = 'kuaishou'") == 2,
            "two returns for two refunds (the repeated push deduplicated)")

    workers_calls = len(ks.log_of())  # the workers' calls so far (the test's own follow)
    h.step("the stand-in refuses what the platform refuses, with the declared error fields")
    refusals = {
        "unknown method": ks.signed_request("open.seller.order.detail", {"oid": int(oid)}),
        "GET of a POST method": ks.signed_request(kit.APPROVE_REFUND, {"refundId": int(rid2),
                                                                       "refundAmount": 1},
                                                  verb="GET"),
        "POST of a GET method": ks.signed_request("open.order.detail", {"oid": int(oid)},
                                                  verb="POST"),
        "POST with its parameters in the query": ks.signed_request(
            kit.APPROVE_REFUND, {"refundId": int(rid2), "refundAmount": 1}, placement="query"),
        "list without type and currentPage": ks.signed_request(
            "open.seller.order.refund.pcursor.list",
            {"beginTime": 1, "endTime": 2, "pageSize": 10, "pcursor": ""}),
        "reject without reasonCode": ks.signed_request(
            kit.REJECT, {"refundId": int(rid2), "refundVersion": 1}),
    }
    for what, answer in refusals.items():
        h.check(answer.get("result") not in (None, 1) and answer.get("error_msg")
                and "sub_code" in answer and "msg" in answer,
                "%s refused: %s" % (what, answer))
    ok = ks.signed_request("open.order.detail", {"oid": int(oid)})
    h.check(ok.get("result") == 1 and ok["data"]["orderItemInfo"]["skuId"] == int(sku),
            "the declared GET of open.order.detail answered: %s" % ok.get("result"))

    log = ks.log_of()[:workers_calls]
    want_verb = {m: v for m, (v, _) in kuaishou.DECLARED.items()}
    wrong = [(c["method"], c["verb"]) for c in log if want_verb.get(c["method"]) != c["verb"]]
    h.check(not wrong, "every call with its declared verb: %s" % wrong)
    calls = [("%s %s" % (c["verb"], c["method"].replace("open.seller.order.", "")),
              c["answer"].get("result")) for c in log]
    print("FIGURES 45: push to refunded %.2f s; platform calls %d: %s"
          % (elapsed, len(calls), ", ".join("%s=%s" % c for c in calls)), flush=True)


if __name__ == "__main__":
    try:
        harness.main(scenario, **CLUSTER)
    finally:
        FEEDS.close()
