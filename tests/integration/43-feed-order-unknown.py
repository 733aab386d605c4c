#!/usr/bin/env python3
"""43: a platform return whose order intake does not know waits for it (issue 4, "Orders").

  - Kuaishou: a refund is pushed for an order the platform does not show yet: the
    return waits (feed_records state pending, nothing refused), intake asks for the
    order (open.order.detail, a GET) until the platform has it, maps it as declared
    (orderBaseInfo: sellerOpenId the shop, buyerOpenId, recvTime = signed for;
    orderItemInfo: the one line, by skuId, quantity, price, title; orderAddress:
    the region; no category or supplier: empty, not invented) and then creates the
    return, through the policy checks, with the record's updateTime as
    platform_version on return.requested and the quantity of the order line
    (productNum is 0 for physical goods);
  - Douyin: an after-sale pushed for an unknown order waits until the order arrives
    through POST /v1/orders, then the return is created.
Prints the figures: order.detail calls, seconds waited, returns created.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import feedkit  # noqa: E402
import harness  # noqa: E402

FEEDS = feedkit.Feeds()


def scenario(h):
    ks = FEEDS.standin
    oid, sku, refund_id = feedkit.ks_id(), feedkit.ks_id(), feedkit.ks_id()

    h.step("Kuaishou: refund pushed before the platform shows its order: it waits")
    rec = ks.add_refund(refund_id, oid, sku_id=sku, refund_fee=2500, handling_way=10, status=10)
    status, answer, took = FEEDS.ks_push("kwaishop_aftersales_addRefund", rec, "ev-43-1")
    h.check(status == 200 and '"result":1' in answer.replace(" ", ""),
            "push answered %d %s" % (status, answer))
    h.wait_until(lambda: (feedkit.feed_record(h, "kuaishou", refund_id) or {}).get("state")
                 == "pending", 20, "the refund waiting for its order")
    h.wait_until(lambda: len(ks.calls_of("open.order.detail")) >= 1, 20,
                 "intake to ask for the order")
    h.check(h.count("FROM intake.returns WHERE platform_return_id = '%s'" % refund_id) == 0,
            "no return (and no refusal) while the order is unknown")

    h.step("the platform has the order now: it is fetched, mapped, and the return created")
    t0 = time.monotonic()
    signed_for = int(time.time() * 1000) - 3 * 86400000
    ks.add_order(oid, {"skuId": int(sku), "itemId": int(sku) + 7, "itemTitle": "加厚羽绒服 黑色 XL",
                       "num": 2, "price": 2500, "originalPrice": 3200, "goodsCode": "YRF-XL-01"},
                 seller_open_id="f8e7d6c5b4a39281", buyer_open_id="b9c8d7e6f5a4",
                 recv_time=signed_for, province="广东省", city="深圳市", pay_type=2)
    doc = h.wait_until(lambda: (feedkit.feed_record(h, "kuaishou", refund_id) or {}).get("state")
                       == "created" and feedkit.feed_record(h, "kuaishou", refund_id), 30,
                       "the return created once the order arrived")
    waited = time.monotonic() - t0
    line = h.psql("SELECT l.quantity, l.unit_price_fen, l.category, l.supplier_id, o.shop_id,"
                  " o.buyer_id, o.region, o.payment_method, l.title, l.sku_id,"
                  " (extract(epoch FROM o.delivered_at) * 1000)::bigint"
                  " FROM intake.order_lines l JOIN intake.orders o"
                  " USING (platform, order_id) WHERE l.platform = 'kuaishou'"
                  " AND l.order_id = '%s' AND l.line_id = '%s'" % (oid, sku))
    h.check(line and line[0][:10] == ["2", "2500", "", "", "f8e7d6c5b4a39281", "b9c8d7e6f5a4",
                                      "广东省深圳市", "alipay", "加厚羽绒服 黑色 XL", "YRF-XL-01"]
            and abs(int(line[0][10]) - signed_for) < 1000,
            "order line mapped from open.order.detail: %r" % line)
    gets = [c for c in ks.log_of("open.order.detail")]
    h.check(gets and all(c["verb"] == "GET" for c in gets)
            and all(c["answer"].get("result") in (1, 404) for c in gets),
            "open.order.detail asked with GET: %r" % [(c["verb"], c["answer"].get("result"))
                                                      for c in gets])
    ret = h.return_doc(doc["return_id"])
    h.check(ret["platform_version"] == rec["updateTime"] and ret["type"] == "refund_only"
            and ret["requested_amount_fen"] == 2500 and ret["quantity"] == 2
            and rec["productNum"] == 0,
            "return from the record (productNum 0: the line's 2 units): %r"
            % {k: ret.get(k) for k in ("platform_version", "type", "requested_amount_fen",
                                       "quantity")})
    req = [e for e in ret["timeline"] if e["type"] == "return.requested"]
    h.check(req and req[0]["body"].get("platform_version") == rec["updateTime"],
            "return.requested carries platform_version: %r" % (req[0]["body"] if req else None))
    detail_calls = len(ks.calls_of("open.order.detail"))

    h.step("Douyin: an after-sale for an unknown order waits for POST /v1/orders")
    now_s = int(time.time())
    data = {"aftersale_id": "7309990000000000001", "p_id": "6309990000000000001",
            "s_id": "6309990000000000002", "shop_id": "dy-shop", "aftersale_status": 6,
            "aftersale_type": 2, "refund_amount": 1500, "reason_code": 1, "apply_time": now_s}
    status, answer, _ = FEEDS.dy_push([{"tag": "200", "msg_id": "dy-43-1", "data": data}])
    h.check(status == 200 and '"code":0' in answer.replace(" ", ""),
            "Douyin push answered %d %s" % (status, answer))
    h.wait_until(lambda: (feedkit.feed_record(h, "douyin", data["aftersale_id"]) or {})
                 .get("state") == "pending", 20, "the after-sale waiting for its order")
    feedkit.post_ks_order(h, data["p_id"], data["s_id"], price=1500, platform="douyin",
                          shop="dy-shop")
    dy = h.wait_until(lambda: (feedkit.feed_record(h, "douyin", data["aftersale_id"]) or {})
                      .get("state") == "created"
                      and feedkit.feed_record(h, "douyin", data["aftersale_id"]), 20,
                      "the Douyin return created once the order was posted")
    h.check(dy["return_status"] not in ("", "rejected"), "Douyin return: %r" % dy)
    created = h.count("FROM intake.returns WHERE platform IN ('kuaishou', 'douyin')"
                      " AND NOT refused")
    h.check(created == 2, "returns created: %d" % created)
    print("FIGURES 43: order.detail calls %d, waited for the order %.1f s after it appeared,"
          " returns created %d (kuaishou 1, douyin 1), refused 0"
          % (detail_calls, waited, created), flush=True)


if __name__ == "__main__":
    try:
        harness.main(scenario, worker_env={"intake": FEEDS.env})
    finally:
        FEEDS.close()
