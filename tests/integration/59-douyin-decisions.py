#!/usr/bin/env python3
"""59: review's and refund's decisions told to Douyin (afterSale.operate).

Against the Douyin stand-in (tests/standin/douyin.py) with two shops of their
own; review and refund are given RF_DOUYIN_API_URL, the app's key and secret
and RF_SECRETS_KEY_FILE, and each shop's token arrives as intake delivers it
(shop.token in intake's outbox, sealed: shop_tokens_kit). Douyin returns are
made through intake's API (POST /v1/orders, POST /v1/returns with the
aftersale_id, 19 digits as text) with matching stand-in records:
  - refund only, approved by a rule: no review call; refund sends one
    afterSale.operate type 201; the record is 售后成功 (12), refund.issued;
  - return and refund: review sends type 101 with
    logistics.receiver_address_id (the policy's 9001) and update_time (the
    record's version in seconds); after the platform's yes the warehouse
    expects the parcel; the buyer ships, the warehouse receives it; refund
    sends type 111; status 12, refunded;
  - rejections by rule: a return (type 102) with the mapped reject_reason_code
    (window_expired: 3), a refund only (type 202) with "*" (1), each with a
    reason and remark; return.rejected after the platform's yes;
  - a refund only the merchant already agreed in the seller console: 201 is
    refused, afterSale.Detail shows 12, the call counts as done (refund.issued,
    platform_ref "...-already");
  - the buyer changed the record before review's 101 went out: the platform
    refuses the stale update_time, afterSale.Detail shows the newer record,
    the rule decides again and a new 101 with the new update_time is agreed
    (the old call superseded);
  - a shop B return goes with B's token; every call carried the right shop's
    token (stand-in: expired-token calls 0, other-shop calls 0), the
    Idempotency-Key review and refund recorded, param_json in the SDKs'
    canonical form; GET /v1/platform-calls shows each request and answer.
"""
import atexit
import json
import os
import random
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "standin"))
import douyin  # noqa: E402
import harness  # noqa: E402
import platform_calls_kit as kit  # noqa: E402
import shop_tokens_kit  # noqa: E402

ADDRESS = "9001"
OPERATE, DETAIL = "afterSale.operate", "afterSale.Detail"
RULES = [{"name": "late_big_changed_mind", "kind": "return_refund", "reason": "changed_mind",
          "min_amount_fen": 50000, "outcome": "auto_reject", "reject_reason": "window_expired"},
         {"name": "refund_only_changed_mind", "kind": "refund_only", "reason": "changed_mind",
          "outcome": "auto_reject", "reject_reason": "duplicate_request"}] + kit.AUTO_RULES
REJECT_CODES = {"window_expired": 3, "*": 1}
KINDS = {"refund_only": 1, "return_refund": 0}  # Douyin's aftersale_type

standin = douyin.Standin(token_life_s=3600)
atexit.register(standin.close)
SHOP_A, SHOP_B = douyin.SHOP_A, douyin.SHOP_B
standin.add_shop(SHOP_A, "深圳优选家居旗舰店")
standin.add_shop(SHOP_B, "杭州好物小铺")

_fd, POLICY = tempfile.mkstemp(prefix="rf-policy-", suffix=".json")
with os.fdopen(_fd, "w") as _f:
    json.dump({"default": {"return_address_id": ADDRESS, "douyin_reject_reason_codes": REJECT_CODES,
                           "rules": RULES}}, _f)
atexit.register(os.unlink, POLICY)
CALLS = {"RF_DOUYIN_API_URL": standin.url, "RF_DOUYIN_APP_KEY": standin.app_key,
         "RF_DOUYIN_APP_SECRET": standin.app_secret, "RF_DOUYIN_SIGN_METHOD": "hmac-sha256",
         "RF_PLATFORM_CALL_RETRY_BASE_MS": "200", "RF_PLATFORM_CALL_TIMEOUT_MS": "5000"}
CLUSTER = {"worker_env": {"review": dict(CALLS, RF_REVIEW_POLICY_FILE=POLICY),
                          "refund": dict(CALLS)}}
TOKENS = shop_tokens_kit.ShopTokens(CLUSTER)
_next = [random.randrange(10 ** 5, 10 ** 6) * 10 ** 7]


def new_ids():
    """(order id, sku order id, aftersale id): 19 digits each, as text."""
    _next[0] += 1
    return "69%017d" % _next[0], "68%017d" % _next[0], "73%017d" % _next[0]


def dy_return(h, shop, kind="return_refund", amount=3990, reason="size_fit", status=6,
              changed_after=False):
    """A Douyin order and after-sale on the stand-in and in intake; returns
    (return_id, aftersale_id). changed_after: the buyer changes the record (a
    second later) before review decides, and nobody tells intake."""
    oid, sku_oid, asid = new_ids()
    title = "景德镇手绘陶瓷茶杯 青花款" if kind == "return_refund" else "云南古树普洱茶饼 357克"
    standin.add_order(shop, oid, [(sku_oid, 1735962087153223, title, 1, amount, "CUP-QH-01")])
    rec = standin.add_aftersale(shop, asid, oid, sku_order_id=sku_oid,
                                aftersale_type=KINDS[kind], refund_amount=amount,
                                product_name=title)
    if status != 6:
        with standin.lock:
            standin._touch(standin.aftersales[asid], status, "agree_time")
        rec = standin.record(asid)
    if changed_after:  # after the version intake is told below was read
        with standin.lock:
            standin._touch(standin.aftersales[asid], 6, "modify_time")
    h.post_order(oid, [{"line_id": sku_oid, "sku_id": "DY-" + oid[-8:], "title": title,
                        "category": "home", "quantity": 1, "unit_price_fen": amount,
                        "supplier_id": "sup-1"}], platform="douyin", shop_id=shop,
                 shipping_fee_fen=0)
    ret = h.post_return(asid, oid, sku_oid, kind=kind, amount=amount, reason=reason,
                        platform="douyin", platform_version=rec["update_time"] * 1000)
    return ret, asid


def operates(asid, ok_only=True):
    """afterSale.operate calls about asid the stand-in received (answered 10000 when ok_only)."""
    return [c for c in standin.log_of(OPERATE) if c["param"]
            and str(c["param"].get("items", [{}])[0].get("aftersale_id")) == asid
            and (not ok_only or c["answer"]["code"] == douyin.OK)]


def check_call(h, call, recorded, shop, typ):
    """One operate of type typ for shop, with the key recorded, canonical."""
    h.check(call["param"]["type"] == typ, "operate type %s, expected %d" % (call["param"], typ))
    h.check(call["shop_id"] == shop, "the call was taken as shop %s's (%s)" % (shop, call["shop_id"]))
    h.check(call["canonical"], "param_json in the SDKs' form: %s" % call["param_json"])
    h.check(call["idempotency_key"] == recorded["idempotency_key"] and recorded["idempotency_key"],
            "the stand-in saw the key %r, recorded %r" % (call["idempotency_key"],
                                                          recorded["idempotency_key"]))
    h.check(recorded["method"] == OPERATE and recorded["shop_id"] == shop,
            "the call's record: %s" % recorded)
    last = recorded["requests"][-1]
    h.check(last["outcome"] == "ok" and '"status_msg"' in (last["answer"] or ""),
            "the record holds the platform's answer: %s" % last)


def scenario(h):
    h.step("shop tokens for A and B arrive as intake sends them")
    tok_a, _ = standin.grant(SHOP_A)
    tok_b, _ = standin.grant(SHOP_B)
    TOKENS.send(h, "douyin", SHOP_A, 1, tok_a)
    TOKENS.send(h, "douyin", SHOP_B, 1, tok_b)
    TOKENS.wait_version(h, "douyin", SHOP_A, 1)
    TOKENS.wait_version(h, "douyin", SHOP_B, 1)

    h.step("refund only, approved by a rule: one afterSale.operate type 201 from refund")
    ret, asid = dy_return(h, SHOP_A, "refund_only", 2990)
    h.wait_status(ret, "refunded")
    rc = kit.wait_call(h, "refund", ret)
    ops = operates(asid)
    h.check(len(ops) == 1, "one operate for %s: %s" % (asid, ops))
    check_call(h, ops[0], rc[0], SHOP_A, 201)
    h.check(ops[0]["param"]["items"] == [{"aftersale_id": asid}],
            "201 names the record only: %s" % ops[0]["param"])
    h.check(kit.calls(h, "review", ret) == [], "review made no call for a refund only")
    h.check(standin.record(asid)["status"] == 12, "the platform refunded: 售后成功")

    h.step("return and refund: 101 with the address and the lock, then 111 after receipt")
    ret2, asid2 = dy_return(h, SHOP_A, "return_refund", 3990)
    version = standin.record(asid2)["update_time"]
    rv = kit.wait_call(h, "review", ret2)
    ops = operates(asid2)
    h.check(len(ops) == 1, "one operate by review: %s" % ops)
    check_call(h, ops[0], rv[0], SHOP_A, 101)
    item = ops[0]["param"]["items"][0]
    h.check(item["logistics"] == {"receiver_address_id": int(ADDRESS)}
            and item["update_time"] == version,
            "101 carries the address and update_time %d: %s" % (version, item))
    h.wait_timeline(ret2, ["return.approved"])
    h.check(standin.record(asid2)["status"] == 7, "待买家退货 after the platform's yes")
    standin.buyer_ship(asid2, "SF1428571428571")
    kit.receive_and_inspect(h, ret2)
    h.wait_status(ret2, "refunded")
    rf = kit.wait_call(h, "refund", ret2)
    ops = operates(asid2)
    h.check([o["param"]["type"] for o in ops] == [101, 111], "101 then 111: %s" % ops)
    check_call(h, ops[1], rf[0], SHOP_A, 111)
    h.check(standin.record(asid2)["status"] == 12, "售后成功 after 111")

    h.step("rejections carry the mapped reject_reason_code: 102 (code 3), 202 (\"*\": 1)")
    ret3, asid3 = dy_return(h, SHOP_A, "return_refund", 59900, reason="changed_mind")
    ret4, asid4 = dy_return(h, SHOP_A, "refund_only", 1990, reason="changed_mind")
    for r, a, typ, code in ((ret3, asid3, 102, 3), (ret4, asid4, 202, 1)):
        rec = kit.wait_call(h, "review", r)
        h.wait_timeline(r, ["return.rejected"])
        ops = operates(a)
        h.check(len(ops) == 1, "one reject operate for %s: %s" % (a, ops))
        check_call(h, ops[0], rec[0], SHOP_A, typ)
        it = ops[0]["param"]["items"][0]
        h.check(it["reject_reason_code"] == code and it["reason"] and it["remark"],
                "type %d with code %d, reason and remark: %s" % (typ, code, it))
        h.check(standin.record(a)["status"] == 27 and standin.record(a)["reject_reason_code"] == code,
                "the platform rejected %s with code %d" % (a, code))

    h.step("a refund only already agreed in the console: 201 refused, Detail shows 12: done")
    ret5, asid5 = dy_return(h, SHOP_A, "refund_only", 2590, status=12)
    h.wait_status(ret5, "refunded")
    rc5 = kit.wait_call(h, "refund", ret5)
    outcomes = [(q["method"], q["outcome"]) for q in rc5[0]["requests"]]
    h.check(outcomes == [(OPERATE, "refused"), (DETAIL, "ok")],
            "refused, then refetched: %s" % outcomes)
    h.check(rc5[0]["outcome"] == "already_done", "counted as done: %s" % rc5[0])
    h.check(len(operates(asid5)) == 0 and len(operates(asid5, ok_only=False)) == 1,
            "one operate, refused by the platform")
    issued = h.psql_val("SELECT platform_ref FROM refund.refunds WHERE return_id = '%s'" % ret5)
    h.check(issued == "douyin-%s-already" % asid5, "refund.issued as already done: %s" % issued)

    h.step("the buyer changed the request first: 101's update_time is refused, decided again")
    ret7, asid7 = dy_return(h, SHOP_A, "return_refund", 4990, status=6, changed_after=True)
    rv7 = kit.wait_call(h, "review", ret7, state="succeeded")
    states = sorted(c["state"] for c in kit.calls(h, "review", ret7))
    h.check(states == ["succeeded", "superseded"], "the stale call superseded: %s" % states)
    ops = operates(asid7, ok_only=False)
    h.check([o["answer"]["code"] for o in ops] == [50002, douyin.OK]
            and ops[0]["param"]["items"][0]["update_time"]
            < ops[1]["param"]["items"][0]["update_time"]
            == standin.record(asid7)["times"]["modify_time"],
            "refused on the old update_time, accepted on the new: %s"
            % [(o["param"]["items"][0].get("update_time"), o["answer"]["code"]) for o in ops])
    h.wait_timeline(ret7, ["return.approved"])
    h.check(standin.record(asid7)["status"] == 7 and rv7, "agreed after the new decision")

    h.step("shop B's return goes with B's token")
    ret6, asid6 = dy_return(h, SHOP_B, "refund_only", 1590)
    h.wait_status(ret6, "refunded")
    ops = operates(asid6)
    h.check(len(ops) == 1 and ops[0]["shop_id"] == SHOP_B, "B's 201 as B's: %s" % ops)

    h.step("every call with the right shop's token; no token in the clear")
    counters = standin.counters()
    h.check(sum(counters["expired_token_calls"].values()) == 0,
            "expired-token calls: %s" % counters["expired_token_calls"])
    h.check(sum(counters["other_shop_calls"].values()) == 0,
            "other-shop calls: %s" % counters["other_shop_calls"])
    text = ""
    for w in ("review", "refund"):
        for table in ("platform_calls", "platform_call_attempts", "shop_tokens"):
            text += h.psql_val("SELECT COALESCE(string_agg(t::text, ' '), '') FROM %s.%s t"
                               % (w, table)) or ""
        text += h.log_text(w) + h.metrics(w)
    for t in (tok_a, tok_b, standin.app_secret):
        h.check(t not in text, "a token or the secret appears in the clear")
    dl = h.dead_letter_counts()
    h.check(sum(dl.values()) == 0, "nothing dead-lettered: %s" % dl)
    all_ops = standin.log_of(OPERATE)
    harness.log("measured: %d afterSale.operate calls (%s), %d afterSale.Detail; calls per shop %s"
                % (len(all_ops), sorted(c["param"]["type"] for c in all_ops),
                   len(standin.log_of(DETAIL)), counters["calls"]))


if __name__ == "__main__":
    harness.main(scenario, **CLUSTER)
