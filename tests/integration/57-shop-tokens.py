#!/usr/bin/env python3
"""57: each decision call carries the token of its shop (platform/shop_tokens.h).

Against the Kuaishou stand-in with three shops of their own (open ids of 32 hex
digits; the stand-in shows a shop's records only to that shop's tokens), and
review and refund given RF_SECRETS_KEY_FILE. shop.token events are put in
intake's outbox, as intake's shop registry emits them (ordering key
"shop:kuaishou:<open_id>", the token sealed under the key for
"kuaishou/<open_id>/access"); intake's dispatcher sends them to review and
refund:
  - shop A, active: review and refund store the token (their own schema), the
    stand-in sees returngoods.approve and confirm.receipt with A's token; a
    renewed token (version 2) replaces it, and a stale event (version 1 again)
    changes nothing; the events' "shop:..." ids are in the inboxes, nothing is
    dead-lettered;
  - shop B, reauthorize_needed: its call is not sent (not the fixed token,
    not counted as a failure), event=platform_call_no_token names the shop;
    once B is active again the call goes out with B's token;
  - shop C, its token expired on the platform: token_invalid is recorded, the
    call tried once more shortly; a second one counts as a failure; a fresh
    token (version 2) then goes through;
  - no token in the clear in any platform_calls or shop_tokens row, inbox,
    log or metrics page.
A return of the default shop (no shop.token: the fixed RF_KUAISHOU_ACCESS_TOKEN)
is what scenarios 50-54 show.
"""
import base64
import os
import sys
import tempfile
import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import platform_calls_kit as kit  # noqa: E402

standin, CLUSTER = kit.setup(kit.AUTO_RULES)
KEY = os.urandom(32)
_fd, KEY_FILE = tempfile.mkstemp(prefix="rf-secrets-", suffix=".key")
os.write(_fd, (KEY.hex() + "\n").encode())
os.close(_fd)
os.chmod(KEY_FILE, 0o600)
for _w in ("review", "refund"):
    CLUSTER["worker_env"][_w]["RF_SECRETS_KEY_FILE"] = KEY_FILE
SCOPES = ["merchant_refund", "merchant_order", "user_info"]
TOKENS = []  # every token handed out: none may show up in the clear


def seal(shop, token):
    nonce = os.urandom(12)
    ct = AESGCM(KEY).encrypt(nonce, token.encode(), ("kuaishou/%s/access" % shop).encode())
    return "v1." + base64.b64encode(nonce + ct).decode()


def issue(shop):
    """A new access token of shop on the stand-in."""
    with standin.lock:
        t = standin._issue(shop, SCOPES, time.time() + 30 * 86400)["access_token"]
    TOKENS.append(t)
    return t


def shop_token(h, shop, version, token=None, status="active"):
    """shop.token as intake emits it, to review and refund."""
    body = {"platform": "kuaishou", "shop_id": shop, "status": status,
            "access_token_sealed": seal(shop, token) if token else "",
            "access_expires_at": int((time.time() + 3600) * 1000) if token else 0,
            "token_version": version}
    event_id, payload = harness.event_payload("shop.token", "shop:kuaishou:" + shop, "intake",
                                              body)
    for dest in ("review", "refund"):
        harness.insert_outbox(h, "intake", dest, event_id, "shop:kuaishou:" + shop, "shop.token",
                              payload)
    return event_id


def stored_version(h, worker, shop):
    v = h.psql_val("SELECT token_version FROM %s.shop_tokens WHERE platform = 'kuaishou'"
                   " AND shop_id = '%s'" % (worker, shop))
    return int(v) if v else 0


def wait_version(h, shop, version):
    for w in ("review", "refund"):
        h.wait_until(lambda: stored_version(h, w, shop) == version, 20,
                     "%s to hold version %d of %s's token" % (w, version, shop))


def shop_return(h, shop, kind="return_refund", amount=3990):
    """A Kuaishou order of shop (through intake) and its refund record on the
    stand-in, and the return request; returns (return_id, refund id)."""
    oid, rid = kit.new_ids()
    sku = kit.sku_of(oid)
    h.post_order(oid, [{"line_id": sku, "sku_id": "GC-" + oid[-8:], "title": "羊毛混纺围巾 灰色",
                        "category": "apparel", "quantity": 1, "unit_price_fen": amount,
                        "supplier_id": "sup-1"}], platform="kuaishou", shop_id=shop,
                 shipping_fee_fen=0)
    way, status = kit.KINDS[kind]
    rec = standin.add_refund(rid, oid, handling_way=way, status=status, refund_fee=amount,
                             sku_id=sku, open_id=shop)
    return kit.post_ks_return(h, oid, rid, rec["updateTime"], kind, amount), rid


def carried(method, rid):
    """The access tokens the stand-in received for method about refund rid."""
    return [p["access_token"] for (m, p, _a) in standin.calls_of(method)
            if m == method and ('"refundId":%s' % rid) in p.get("param", "").replace(" ", "")]


def scenario(h):
    shop_a, shop_b, shop_c = (standin.add_shop()["open_id"] for _ in range(3))
    harness.log("shops A %s, B %s, C %s" % (shop_a, shop_b, shop_c))

    h.step("shop A active: review and refund keep its token, version 1")
    token_a = issue(shop_a)
    shop_token(h, shop_a, 1, token_a)
    wait_version(h, shop_a, 1)

    h.step("a return of shop A: returngoods.approve and confirm.receipt carry A's token")
    ret, rid = shop_return(h, shop_a)
    review_calls = kit.wait_call(h, "review", ret)
    h.check(review_calls[0]["shop_id"] == shop_a, "review's call is for shop A: %s" % review_calls)
    h.check(carried(kit.APPROVE_RETURN, rid) == [token_a],
            "returngoods.approve carried A's token once: %d requests"
            % len(carried(kit.APPROVE_RETURN, rid)))
    h.check([c["open_id"] for c in kit.successes(standin, kit.APPROVE_RETURN, rid)] == [shop_a],
            "the stand-in took it as shop A's")
    kit.receive_and_inspect(h, ret)
    h.wait_status(ret, "refunded")
    refund_calls = kit.wait_call(h, "refund", ret)
    h.check(refund_calls[0]["shop_id"] == shop_a, "refund's call is for shop A")
    h.check(carried(kit.CONFIRM, rid) == [token_a], "confirm.receipt carried A's token")

    h.step("A's token renewed (version 2); a stale event (version 1 again) changes nothing")
    token_a2 = issue(shop_a)
    shop_token(h, shop_a, 2, token_a2)
    wait_version(h, shop_a, 2)
    sealed_v2 = h.psql_val("SELECT access_token_sealed FROM review.shop_tokens"
                           " WHERE shop_id = '%s'" % shop_a)
    stale = shop_token(h, shop_a, 1, issue(shop_a))
    for w in ("review", "refund"):
        h.wait_until(lambda: h.count("FROM %s.inbox WHERE event_id = '%s'" % (w, stale)) == 1, 20,
                     "%s to take the stale event" % w)
        h.check(stored_version(h, w, shop_a) == 2, "%s still holds version 2" % w)
    h.check(h.psql_val("SELECT access_token_sealed FROM review.shop_tokens WHERE shop_id = '%s'"
                       % shop_a) == sealed_v2, "the stale event left the row as it was")
    ret2, rid2 = shop_return(h, shop_a)
    kit.wait_call(h, "review", ret2)
    h.check(carried(kit.APPROVE_RETURN, rid2) == [token_a2], "the next call carries version 2")
    h.check(h.count("FROM review.inbox WHERE return_id = 'shop:kuaishou:%s'" % shop_a) == 3,
            "review's inbox holds A's three shop.token events under the shop's key")

    h.step("shop B needs re-authorisation: its call waits, then goes with B's new token")
    shop_token(h, shop_b, 1, status="reauthorize_needed")
    wait_version(h, shop_b, 1)
    ret3, rid3 = shop_return(h, shop_b)
    h.wait_until(lambda: any(shop_b in ln for ln in h.log_grep("review",
                                                                "platform_call_no_token")),
                 20, "event=platform_call_no_token naming shop B")
    time.sleep(h.t(4))  # past a re-look (every 3 s)
    pending = kit.calls(h, "review", ret3)
    h.check(len(pending) == 1 and pending[0]["state"] == "pending"
            and pending[0]["attempts"] == 0 and pending[0]["requests"] == [],
            "B's call waits, nothing sent, not counted: %s" % pending)
    h.check(carried(kit.APPROVE_RETURN, rid3) == [], "the fixed token was not used for shop B")
    token_b = issue(shop_b)
    shop_token(h, shop_b, 2, token_b)
    done = kit.wait_call(h, "review", ret3)
    h.check(carried(kit.APPROVE_RETURN, rid3) == [token_b] and done[0]["attempts"] == 0,
            "B's call went once, with B's token, no failure counted: %s" % done)

    h.step("shop C's token expired on the platform: token_invalid, once more, then counted")
    token_c = issue(shop_c)
    shop_token(h, shop_c, 1, token_c)
    wait_version(h, shop_c, 1)
    standin.expire_access(shop_c)
    ret4, rid4 = shop_return(h, shop_c)

    def counted():
        c = kit.calls(h, "review", ret4)
        return c and c[0]["attempts"] >= 1 and len(c[0]["requests"]) >= 2
    h.wait_until(counted, 20, "two token_invalid answers, the second counted")
    c = kit.calls(h, "review", ret4)[0]
    outcomes = [q["outcome"] for q in c["requests"]]
    h.check(outcomes[:2] == ["token_invalid", "token_invalid"] and c["state"] == "pending",
            "recorded as token_invalid, still pending: %s" % outcomes)
    gap = c["requests"][1]["started_at"] - c["requests"][0]["started_at"]
    h.check(gap < 2000, "the first retry came shortly (%d ms)" % gap)
    token_c2 = issue(shop_c)
    shop_token(h, shop_c, 2, token_c2)
    done = kit.wait_call(h, "review", ret4)
    outcomes = [q["outcome"] for q in done[0]["requests"]]
    h.check(outcomes[-1] == "ok" and carried(kit.APPROVE_RETURN, rid4)[-1] == token_c2,
            "with the fresh token it went through: %s" % outcomes)

    h.step("no token in the clear: rows, inboxes, logs, metrics; nothing dead-lettered")
    text = ""
    for w in ("review", "refund"):
        for table in ("platform_calls", "platform_call_attempts", "shop_tokens", "inbox"):
            text += h.psql_val("SELECT COALESCE(string_agg(t::text, ' '), '') FROM %s.%s t"
                               % (w, table)) or ""
        text += h.log_text(w) + h.metrics(w)
    text += h.log_text("intake")
    for t in TOKENS:
        h.check(t not in text, "a token appears in the clear")
    h.check(kit.calls(h, "review", ret)[0]["requests"][0]["param"] is not None, "params kept")
    dl = h.dead_letter_counts()
    h.check(sum(dl.values()) == 0, "nothing dead-lettered: %s" % dl)
    harness.log("measured: 3 shops, %d tokens issued, 7 shop.token events; shop C's call:"
                " %s" % (len(TOKENS), outcomes))


if __name__ == "__main__":
    harness.main(scenario, **CLUSTER)
