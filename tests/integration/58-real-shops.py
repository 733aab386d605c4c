#!/usr/bin/env python3
"""58: real shops: authorised by OAuth, tokens that renew themselves, every call per shop.

Two Kuaishou shops and one Douyin shop are authorised through intake's
callbacks as their owners would do it (intake's authorise address -> the
platform's authorise page -> 302 back to intake with a code and the state),
with access tokens living 30 seconds on both platforms. No worker is given a
token. Then, three rounds:
  1. pushes for each shop become returns: intake fetches each Kuaishou refund
     and every order with the shop's own token (Douyin: order.orderDetail),
     review and refund tell the platform their decisions with it, and the
     returns end refunded;
  2. the same after the first tokens have expired (intake renewed them, with
     rotating refresh tokens, and review and refund heard of each new one);
  3. the same after every worker was killed (-9) and started again.
A forged state is refused without the code ever reaching the platform; a
shop whose owner revoked the app ends reauthorize_needed with an ops alert,
while the other shops' returns go on; a token the platform stops taking
early (result 28) is renewed at once and the fetch tried again. Tokens never appear in a worker's log,
in /v1/shops, in the bus's tables or in platform_call_attempts.
Prints: calls made, calls with an expired token (0), with another shop's token
(0), refreshes per shop, refreshes with a used refresh token (0).
"""
import os
import secrets
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import feedkit  # noqa: E402
import harness  # noqa: E402
import platform_calls_kit as kit  # noqa: E402
import shops_kit  # noqa: E402
import douyin  # noqa: E402

TOKEN_LIFE_S = 30
FEEDS = feedkit.Feeds(poll_interval_ms=2000)
KS = FEEDS.standin
KS.token_life_s = TOKEN_LIFE_S
_, CLUSTER = kit.setup(kit.AUTO_RULES, standin=KS, merchant_address=None)
DY = douyin.Standin(app_key=feedkit.DY_APP_KEY, app_secret=feedkit.DY_APP_SECRET,
                    token_life_s=TOKEN_LIFE_S)
DY_ENV = {"RF_DOUYIN_API_URL": DY.url, "RF_DOUYIN_APP_KEY": DY.app_key,
          "RF_DOUYIN_APP_SECRET": DY.app_secret}

KEY_FILE = shops_kit.key_file()

SHOP_ENV = {"RF_SECRETS_KEY_FILE": KEY_FILE, "RF_KUAISHOU_ACCESS_TOKEN": None,
            "RF_KUAISHOU_APP_SECRET": KS.app_secret}
for w in ("review", "refund"):
    CLUSTER["worker_env"][w].update(SHOP_ENV)
    CLUSTER["worker_env"][w].update(DY_ENV)
    CLUSTER["worker_env"][w].pop("RF_KUAISHOU_ACCESS_TOKEN", None)
CLUSTER["worker_env"]["intake"] = dict(FEEDS.env, **SHOP_ENV)
CLUSTER["worker_env"]["intake"].update(DY_ENV)
CLUSTER["worker_env"]["intake"].update({
    "RF_KUAISHOU_AUTHORIZE_URL": KS.url + "/oauth/authorize",
    "RF_KUAISHOU_APP_SECRET": KS.app_secret,
    "RF_DOUYIN_AUTHORIZE_URL": DY.authorize_page,
    "RF_DOUYIN_POLL_INTERVAL_MS": "2000", "RF_DOUYIN_POLL_LAG_MS": "1000"})


def authorise(h, shop_id, platform="kuaishou"):
    if platform == "kuaishou":
        return shops_kit.authorise(h, KS.url + "/oauth/authorize", KS.app_key, shop_id)
    return shops_kit.authorise(h, DY.authorize_page, DY.app_key, shop_id, "douyin", "shop_id")


def rfctl(h, *args):
    """rfctl as an operator runs it; its output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RF_")}
    for w in harness.WORKERS:
        env["RF_%s_HTTP" % w.upper()] = "127.0.0.1:%d" % h.workers[w].http_port
    p = subprocess.run([os.path.join(h.build, "bin", "rfctl")] + list(args), env=env,
                       capture_output=True, text=True, timeout=60)
    harness.log("$ rfctl %s -> exit %d" % (" ".join(args), p.returncode))
    for line in p.stdout.splitlines():
        sys.stdout.write("    | %s\n" % line)
    h.check(p.returncode == 0, "rfctl %s: exit %d %s" % (" ".join(args), p.returncode, p.stderr))
    return p.stdout


def new_refund(shop, kind):
    """An order and a refund of shop on the platform; the refund id."""
    oid, sku, rid = feedkit.ks_id(), feedkit.ks_id(), feedkit.ks_id()
    KS.add_order(oid, {"skuId": int(sku), "itemId": int(sku) + 1, "itemTitle": "真丝印花连衣裙 藏青",
                       "num": 1, "price": 4590}, open_id=shop, province="广东省", city="深圳市")
    if kind == "return_refund":
        KS.add_refund(rid, oid, sku_id=sku, handling_way=1, status=11, refund_fee=4590,
                      open_id=shop)
    else:
        KS.add_refund(rid, oid, sku_id=sku, handling_way=10, status=10, refund_fee=1990,
                      open_id=shop)
    return rid


def new_aftersale(shop):
    """A Douyin order and a refund-only after-sale of shop; the after-sale id."""
    oid, sku_order, aid = feedkit.ks_id(), feedkit.ks_id(), feedkit.ks_id()
    DY.add_order(shop, oid, [(sku_order, 1735962087153223, "华为 FreeBuds 无线耳机 白色", 1, 59900,
                              "HW-FB5-WH")], province="浙江省", city="杭州市")
    DY.add_aftersale(shop, aid, oid, sku_order_id=sku_order, aftersale_type=1, status=6,
                     refund_amount=1990, reason_code=1, product_name="华为 FreeBuds 无线耳机 白色")
    return aid


def round_of_returns(h, name, shop_ids, dy_shops=()):
    """A return and refund and a refund only per Kuaishou shop, a refund only
    per Douyin shop, pushed, ending refunded."""
    h.step("%s: pushes for every shop become returns and are refunded" % name)
    pending = []
    for shop in dy_shops:
        aid = new_aftersale(shop)
        status, answer = DY.push("127.0.0.1", FEEDS.port, "/v1/feeds/douyin", aid, 200)
        h.check(status == 200, "douyin push answered %d %s" % (status, answer))
        pending.append((shop, "douyin", aid))
    for i, shop in enumerate(shop_ids):
        for kind in ("return_refund", "refund_only"):
            rid = new_refund(shop, kind)
            status, answer, _ = FEEDS.ks_push("kwaishop_aftersales_addRefund",
                                              dict(KS.refunds[rid]), "ev-58-%s-%s" % (name, rid))
            h.check(status == 200, "push answered %d %s" % (status, answer))
            pending.append((shop, kind, rid))
    done = []
    for shop, kind, rid in pending:
        platform = "douyin" if kind == "douyin" else "kuaishou"
        rec = h.wait_until(lambda: (feedkit.feed_record(h, platform, rid) or {})
                           .get("return_id") and feedkit.feed_record(h, platform, rid),
                           40, "intake to create the return of %s %s" % (platform, rid))
        ret = rec["return_id"]
        doc = h.return_doc(ret)
        h.check(doc["shop_id"] == shop, "the return's shop is its platform shop: %s"
                % doc["shop_id"])
        if kind == "return_refund":
            kit.wait_call(h, "review", ret, timeout=30)
            kit.receive_and_inspect(h, ret)
        done.append((shop, ret, rid, platform))
    for shop, ret, rid, platform in done:
        h.wait_status(ret, "refunded", timeout=40)
        if platform == "douyin":
            continue
        calls = [c for c in KS.log_of(refund_id=rid) if c["answer"].get("result") == 1]
        h.check(calls and all(c.get("open_id") == shop for c in calls),
                "every call about %s went with its shop's token: %s"
                % (rid, [(c["method"], c.get("open_id")) for c in calls]))
    return done


def no_tokens_anywhere(h, tokens):
    """No token in the clear in the workers' logs, tables, or /v1/shops."""
    texts = {w: h.log_text(w) for w in harness.WORKERS}
    texts["/v1/shops"] = str(h.get_json("intake", "/v1/shops"))
    texts["intake.shops"] = str(h.psql("SELECT * FROM intake.shops"))
    for w in ("review", "refund"):
        texts[w + ".shop_tokens"] = str(h.psql("SELECT * FROM %s.shop_tokens" % w))
        texts[w + ".platform_call_attempts"] = str(
            h.psql("SELECT param, answer FROM %s.platform_call_attempts" % w))
        texts[w + ".inbox"] = str(h.psql("SELECT * FROM %s.inbox" % w))
    texts["intake.outbox"] = str(h.psql("SELECT * FROM intake.outbox"))
    for w in ("intake", "review", "refund"):
        texts[w + " /metrics"] = h.metrics(w)
    leaks = [(where, t[:6]) for t in tokens for where, text in texts.items() if t in text]
    h.check(not leaks, "no token in the clear anywhere: %d places checked, leaks %s"
            % (len(texts), leaks))
    return len(texts)


def scenario(h):
    h.worker_env["intake"]["RF_INTAKE_PUBLIC_URL"] = "http://127.0.0.1:%d" % \
        h.workers["intake"].http_port
    h.start_postgres()
    h.start_all()
    shop_a = KS.add_shop(name="杭州丝绸旗舰店")["open_id"]
    shop_b = KS.add_shop(name="深圳数码专营店")["open_id"]
    shop_d = "48217736"
    DY.add_shop(shop_d, "抖音数码官方旗舰店")

    h.step("a forged state is refused and its code never exchanged")
    exchanged = KS.counts()["codes_exchanged"]
    for platform in ("kuaishou", "douyin"):
        status, _, body = shops_kit.get(
            "http://127.0.0.1:%d/v1/oauth/%s/callback?code=%s&state=%s"
            % (h.workers["intake"].http_port, platform, secrets.token_hex(16),
               secrets.token_hex(32)))
        h.check(status == 400 and "invalid_state" in body, "forged %s state: %d %s"
                % (platform, status, body))
    h.check(not DY.log_of("token.create"), "no Douyin code exchanged for a forged state")

    h.step("two Kuaishou shops and a Douyin shop are authorised through the callbacks")
    used_state = authorise(h, shop_a)
    authorise(h, shop_b)
    authorise(h, shop_d, "douyin")
    got = shops_kit.shops(h)
    h.check(set(got) == {shop_a, shop_b, shop_d}
            and all(s["status"] == "active" for s in got.values()),
            "two active shops: %s" % {k: v["status"] for k, v in got.items()})
    h.check(KS.counts()["codes_exchanged"] == exchanged + 2, "two codes exchanged, not three")
    status, _, body = shops_kit.get(
        "http://127.0.0.1:%d/v1/oauth/kuaishou/callback?code=x&state=%s"
        % (h.workers["intake"].http_port, used_state))
    h.check(status == 400 and "invalid_state" in body, "a used state: %d %s" % (status, body))
    h.wait_until(lambda: h.count("FROM review.shop_tokens WHERE status = 'active'") == 3
                 and h.count("FROM refund.shop_tokens WHERE status = 'active'") == 3, 20,
                 "review and refund to hear the three shops' tokens")

    t_auth = time.monotonic()
    round_of_returns(h, "round 1", [shop_a, shop_b], [shop_d])

    h.step("round 2 waits until the first access tokens have expired")
    h.wait_until(lambda: time.monotonic() - t_auth > TOKEN_LIFE_S + 2, TOKEN_LIFE_S + 10,
                 "the first tokens to lapse", scale=False)
    got = shops_kit.shops(h)
    h.check(all(s["refreshes"] >= 1 and s["status"] == "active" for s in got.values()),
            "each shop renewed: %s" % {k: v["refreshes"] for k, v in got.items()})
    round_of_returns(h, "round 2", [shop_a, shop_b], [shop_d])

    h.step("every worker killed and started again")
    for w in harness.WORKERS:
        h.restart(w)
    round_of_returns(h, "round 3", [shop_a, shop_b], [shop_d])

    h.step("one shop's rate limit holds up no other shop")
    KS.rate_limit_shop[shop_b] = 2
    pushed = {}
    for shop in (shop_a, shop_b):
        rid = new_refund(shop, "refund_only")
        status, _, _ = FEEDS.ks_push("kwaishop_aftersales_addRefund", dict(KS.refunds[rid]),
                                     "ev-58-limit-%s" % rid)
        h.check(status == 200, "push answered %d" % status)
        pushed[shop] = rid
    h.wait_until(lambda: (feedkit.feed_record(h, "kuaishou", pushed[shop_a]) or {})
                 .get("return_id"), 20, "shop a's return")
    h.check(not (feedkit.feed_record(h, "kuaishou", pushed[shop_b]) or {}).get("return_id"),
            "shop b, rate limited, still backing off when shop a's return was created")
    h.wait_until(lambda: (feedkit.feed_record(h, "kuaishou", pushed[shop_b]) or {})
                 .get("return_id"), 30, "shop b's return, once its backoff ended")
    limited = KS.counts()["rate_limited_by_shop"]
    h.check(limited.get(shop_b) == 2 and not limited.get(shop_a),
            "rate-limit answers by shop: %s" % {k[:8]: v for k, v in limited.items()})
    h.check(h.log_grep("intake", "outcome=rate_limited") and all(
        shop_b in ln for ln in h.log_grep("intake", "outcome=rate_limited")),
        "only shop b backed off")

    h.step("the owner of one shop revokes the app: reauthorize_needed and an alert")
    KS.revoke_refresh(shop_b)
    h.wait_until(lambda: shops_kit.shops(h)[shop_b]["status"] == "reauthorize_needed",
                 TOKEN_LIFE_S + 10, "shop b to need authorising again", scale=False)
    h.wait_until(lambda: h.count("FROM notification.messages WHERE template_name = 'ops_alert'"
                                 " AND body LIKE '%%shop_reauthorize_needed%%'") >= 1, 20,
                 "the ops alert about shop b")
    h.wait_until(lambda: h.count("FROM review.shop_tokens WHERE shop_id = '%s'"
                                 " AND status = 'reauthorize_needed'" % shop_b) == 1, 20,
                 "review to hear shop b's status")
    round_of_returns(h, "the other shops go on", [shop_a], [shop_d])
    out = rfctl(h, "shops", "list")
    h.check(any(shop_b in line and "reauthorize_needed" in line for line in out.splitlines())
            and any(shop_a in line and "active" in line for line in out.splitlines()),
            "rfctl shops list shows shop b to authorise again, shop a active")
    out = rfctl(h, "shops", "authorize", "--platform", "kuaishou")
    h.check(KS.url + "/oauth/authorize?" in out, "rfctl shops authorize prints the address")

    tokens = [t["token"] for s in (shop_a, shop_b) for kind in ("access", "refresh")
              for t in KS.tokens_of(s)[kind]]
    tokens += list(DY.access) + list(DY.refresh)
    h.check(len(tokens) >= 8, "the platform issued %d tokens to the two shops" % len(tokens))
    places = no_tokens_anywhere(h, tokens)

    h.step("a disabled shop is told to review and refund, and its pushes wait")
    out = rfctl(h, "shops", "disable", "kuaishou", shop_a)
    h.check("disabled" in out, "rfctl shops disable: %s" % out.strip())
    h.wait_until(lambda: h.count("FROM refund.shop_tokens WHERE shop_id = '%s'"
                                 " AND status = 'disabled'" % shop_a) == 1, 20,
                 "refund to hear that shop a is disabled")

    h.step("the Douyin poller lists the shop's after-sales with its token")
    h.wait_until(lambda: DY.log_of("afterSale.List", shop_d), 20, "a Douyin list call")
    d = DY.counters()
    dy_calls = sum(v for k, v in d["calls"].items())
    h.check(not any(d["expired_token_calls"].values()), "Douyin calls with an expired token: %s"
            % d["expired_token_calls"])
    h.check(not any(d["other_shop_calls"].values()), "Douyin calls with another shop's token: %s"
            % d["other_shop_calls"])
    h.check(not any(d["used_refresh_attempts"].values()),
            "Douyin refreshes with a used refresh token: %s" % d["used_refresh_attempts"])
    h.check(d["refreshes"].get(shop_d, 0) >= 2, "the Douyin shop renewed: %s" % d["refreshes"])
    h.check(DY.log_of("order.orderDetail", shop_d), "Douyin orders fetched from the platform")

    c = KS.counts()
    h.check(c["expired_token_calls"] == 0, "calls with an expired token: %d"
            % c["expired_token_calls"])
    h.check(c["other_shop_token_calls"] == 0, "calls with another shop's token: %d"
            % c["other_shop_token_calls"])
    h.check(c["used_refresh_token_attempts"] == 0, "refreshes with a used refresh token: %d"
            % c["used_refresh_token_attempts"])
    h.check(c["refreshes"].get(shop_a, 0) >= 2, "shop a renewed at least twice: %s"
            % c["refreshes"])
    h.step("a token the platform no longer takes: intake renews the shop and tries again")
    shop_c = KS.add_shop(name="义乌小商品批发店")["open_id"]
    authorise(h, shop_c)
    renewed = KS.counts()["refreshes"].get(shop_c, 0)
    KS.expire_access(shop_c)  # revoked early, as the platform may do
    round_of_returns(h, "after the token was refused", [shop_c])
    after = KS.counts()
    h.check(after["refreshes"].get(shop_c, 0) == renewed + 1
            and after["expired_token_calls"] > c["expired_token_calls"],
            "refused once (result 28), renewed once, then served: refreshes %s, expired-token"
            " calls %d" % (after["refreshes"].get(shop_c), after["expired_token_calls"]))

    print("FIGURES 58: Kuaishou calls %d (by shop %s); expired-token calls %d; other-shop-token"
          " calls %d; refreshes per shop %s; refreshes with a used refresh token %d;"
          " unknown-token calls %d | Douyin calls %d (%s); expired-token calls %d; other-shop"
          " calls %d; refreshes %s; used refresh tokens %d | token leaks 0 in %d places"
          % (c["calls"], {k[:8]: v for k, v in c["calls_by_shop"].items()},
             c["expired_token_calls"], c["other_shop_token_calls"],
             {k[:8]: v for k, v in c["refreshes"].items()}, c["used_refresh_token_attempts"],
             c["unknown_token_calls"], dy_calls, d["calls"],
             sum(d["expired_token_calls"].values()), sum(d["other_shop_calls"].values()),
             d["refreshes"], sum(d["used_refresh_attempts"].values()), places))


if __name__ == "__main__":
    harness.main(scenario, start=False, **CLUSTER)
