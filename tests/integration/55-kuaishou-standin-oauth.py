#!/usr/bin/env python3
"""55: the Kuaishou stand-in speaks the platform's OAuth and keeps shops apart.

Driven over real HTTP as returnflow will drive the platform (no worker runs):
two shops authorise the app on the authorise page (its 302 followed to a
callback server here, the code and state read there), the codes are exchanged
for tokens (a used code refused), each shop's token reads its own refund and
not the other shop's, a token living 2 s expires (result 28), a refresh gives
a new pair and discards the old refresh token (refused, counted), a refresh
token inherits its expiry and is refused once that passes, a shop that
cancelled the authorisation has its refresh token refused, and the counters
say exactly what happened. The fixed token of the existing tests still reads
the default shop's records.
"""
import http.client
import http.server
import json
import os
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "standin"))
import harness  # noqa: E402
import kuaishou  # noqa: E402

APP_KEY, APP_SECRET = "ks719168568185721419", "0f3c9e1b7a5d4c2e8b6a0d1f3e5c7a9b"
SHOP_A = ("3f9a1c7e5b2d4e6f8a0b1c2d3e4f5a6b", "杭州云织服饰旗舰店")
SHOP_B = ("c81e728d9d4c2f636f067f89cc14862c", "深圳小满数码专营店")
REFUND_A, ORDER_A = "2417839201746152383", "2317839201746150417"
REFUND_B, ORDER_B = "2418204719350286671", "2318204719350280952"
REFUND_DEFAULT, ORDER_DEFAULT = "2416650193827461029", "2316650193827460338"
SCOPE = "merchant_refund,merchant_order"
DETAIL = "open.seller.order.refund.detail"


class Callback:
    """The app's OAuth callback: records the query of every request it gets."""

    def __init__(self):
        got = self.got = []

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                got.append(dict(urllib.parse.parse_qsl(urllib.parse.urlparse(self.path).query)))
                body = "授权成功".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/v1/oauth/kuaishou/callback" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def request(port, verb, path, query=None, body=None):
    """(status, headers, answer: the JSON body or None)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        target = path + ("?" + urllib.parse.urlencode(query) if query else "")
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
        conn.request(verb, target, body=urllib.parse.urlencode(body).encode() if body else None,
                     headers=headers)
        r = conn.getresponse()
        raw = r.read().decode()
        return r.status, dict(r.getheaders()), json.loads(raw) if raw else None
    finally:
        conn.close()


def scenario(h):
    ks = kuaishou.Standin(app_key=APP_KEY, app_secret=APP_SECRET, token_life_s=30)
    cb = Callback()
    try:
        run(h, ks, cb)
    finally:
        cb.close()
        ks.close()


def run(h, ks, cb):
    a, b = ks.add_shop(*SHOP_A), ks.add_shop(*SHOP_B)
    ks.add_order(ORDER_A, {"skuId": 30417, "itemId": 30418, "itemTitle": "真丝印花连衣裙 藏青 M",
                           "num": 1, "price": 45900}, open_id=a["open_id"])
    ks.add_refund(REFUND_A, ORDER_A, sku_id=30417, refund_fee=45900, open_id=a["open_id"])
    ks.add_order(ORDER_B, {"skuId": 80952, "itemId": 80953, "itemTitle": "蓝牙降噪耳机 月光白",
                           "num": 1, "price": 29900}, open_id=b["open_id"])
    ks.add_refund(REFUND_B, ORDER_B, sku_id=80952, refund_fee=29900, handling_way=1, status=11,
                  open_id=b["open_id"])
    ks.add_refund(REFUND_DEFAULT, ORDER_DEFAULT)

    def authorise(state, shop=None):
        """Open the authorise page as the owner's browser does and follow its 302."""
        q = {"app_id": APP_KEY, "redirect_uri": cb.url, "scope": SCOPE, "response_type": "code",
             "state": state}
        if shop:
            q["shop"] = shop
        status, headers, _ = request(ks.port, "GET", kuaishou.AUTHORIZE_PATH, q)
        loc = headers.get("Location", "")
        h.check(status == 302 and loc.startswith(cb.url + "?"),
                "the authorise page redirects to the callback: %d %r" % (status, loc))
        u = urllib.parse.urlparse(loc)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        conn.request("GET", u.path + "?" + u.query)
        h.check(conn.getresponse().status == 200, "the callback answered")
        conn.close()
        back = cb.got[-1]
        h.check(back.get("state") == state and len(back.get("code", "")) >= 16,
                "the callback got a code and the state back: %r" % back)
        return back["code"]

    def exchange(code, secret=APP_SECRET, verb="GET"):
        return request(ks.port, verb, kuaishou.ACCESS_TOKEN_PATH,
                       {"app_id": APP_KEY, "app_secret": secret, "code": code,
                        "grant_type": "code"})

    def refresh(token, in_body=False):
        q = {"app_id": APP_KEY, "app_secret": APP_SECRET, "grant_type": "refresh_token",
             "refresh_token": token}
        if in_body:
            return request(ks.port, "POST", kuaishou.REFRESH_TOKEN_PATH, body=q)[2]
        return request(ks.port, "POST", kuaishou.REFRESH_TOKEN_PATH, q)[2]

    def detail(token, rid):
        return ks.signed_request(DETAIL, {"refundId": int(rid)}, access_token=token)

    h.step("the authorise page refuses a wrong app_id and a wrong response_type")
    q = {"app_id": "ks000000000000000000", "redirect_uri": cb.url, "scope": SCOPE,
         "response_type": "code", "state": "x"}
    status, headers, ans = request(ks.port, "GET", kuaishou.AUTHORIZE_PATH, q)
    h.check(status == 400 and "Location" not in headers
            and ans["result"] == kuaishou.OAUTH_UNAUTHORIZED_CLIENT,
            "unknown app_id: %d %r" % (status, ans))
    status, headers, ans = request(ks.port, "GET", kuaishou.AUTHORIZE_PATH,
                                   dict(q, app_id=APP_KEY, response_type="token"))
    h.check(status == 400 and ans["result"] == kuaishou.OAUTH_UNSUPPORTED_RESPONSE_TYPE,
            "response_type=token: %d %r" % (status, ans))

    h.step("two shops authorise: A by the page's shop parameter, B logged in (authorize_as)")
    code_a = authorise("st-a-7f3e", shop=a["open_id"])
    h.check(request(ks.port, "POST", "/_control/authorize_as", body={"open_id": b["open_id"]})[2]
            == {"ok": True}, "authorize_as over HTTP")
    code_b = authorise("st-b-91c0")
    h.check(code_a != code_b, "two different codes")

    h.step("codes exchanged for tokens; a used code, a wrong secret and POST refused")
    status, _, ans = exchange(code_a, verb="POST")
    h.check(status == 405 and ans["result"] == kuaishou.OAUTH_INVALID_REQUEST,
            "POST to access_token: %d %r" % (status, ans))
    _, _, ans = exchange(code_a, secret="not-the-secret")
    h.check(ans["result"] == kuaishou.OAUTH_UNAUTHORIZED_CLIENT, "wrong secret: %r" % ans)
    _, _, ta = exchange(code_a)
    h.check(ta["result"] == 1 and ta["open_id"] == a["open_id"] and ta["expires_in"] == 30
            and ta["scopes"] == SCOPE.split(",") and ta["refresh_token_expires_in"] > 179 * 86400
            and ta["access_token"] != ta["refresh_token"],
            "shop A's tokens: %r" % {k: v for k, v in ta.items() if "token" not in k or
                                     k.endswith("expires_in")})
    _, _, ans = exchange(code_a)
    h.check(ans["result"] == kuaishou.OAUTH_INVALID_GRANT and "used" in ans["error_msg"],
            "a used code refused: %r" % ans)
    # shop B's access token lives 2 s, its refresh token 4 s
    request(ks.port, "GET", "/_control/token_life", {"token_life_s": "2", "refresh_life_s": "4"})
    _, _, tb = exchange(code_b)
    b_issued = time.time()
    request(ks.port, "GET", "/_control/token_life", {"token_life_s": "30"})
    h.check(tb["result"] == 1 and tb["open_id"] == b["open_id"] and tb["expires_in"] == 2
            and tb["refresh_token_expires_in"] <= 4,
            "shop B's tokens: %r" % {k: tb.get(k) for k in ("result", "open_id", "expires_in",
                                                          "refresh_token_expires_in")})

    h.step("each shop's token reads its own refund, not the other shop's")
    got = detail(ta["access_token"], REFUND_A)
    h.check(got["result"] == 1 and str(got["data"]["refundId"]) == REFUND_A
            and got["data"]["sellerId"] == a["seller_id"], "A reads A's refund: %r" % got)
    got = detail(tb["access_token"], REFUND_B)
    h.check(got["result"] == 1 and str(got["data"]["refundId"]) == REFUND_B,
            "B reads B's refund: %r" % got)
    other = detail(ta["access_token"], REFUND_B)
    absent = detail(ta["access_token"], "2419999999999999999")
    h.check(other["result"] != 1 and "data" not in other
            and other["result"] == absent["result"] and other["sub_code"] == absent["sub_code"],
            "A asking for B's refund is told it does not exist: %r (absent: %r)" % (other, absent))
    got = ks.signed_request("open.order.detail", {"oid": int(ORDER_A)},
                            access_token=tb["access_token"])
    h.check(got["result"] == kuaishou.NOT_FOUND, "B asking for A's order: %r" % got)
    got = detail(ks.access_token, REFUND_DEFAULT)
    h.check(got["result"] == 1 and detail(ks.access_token, REFUND_A)["result"] != 1,
            "the fixed token reads the default shop's refund and not A's")
    now = int(time.time() * 1000)
    got = ks.signed_request("open.seller.order.refund.pcursor.list",
                            {"beginTime": now - 3600000, "endTime": now + 60000, "type": 9,
                             "pageSize": 100, "currentPage": 1, "pcursor": ""},
                            access_token=ta["access_token"])
    listed = [str(r["refundId"]) for r in got.get("data", {}).get("refundOrderInfoList", [])]
    h.check(got["result"] == 1 and listed == [REFUND_A], "A's list holds A's refund only: %r"
            % listed)
    c = ks.counts()
    h.check(c["other_shop_token_calls"] == 3 and c["calls_by_shop"].get(a["open_id"]) == 4
            and c["calls_by_shop"].get(b["open_id"]) == 2 and c["codes_exchanged"] == 2
            and c["code_refusals"] == 1, "counters after the reads: %r" % c)

    h.step("B's 2 s token expires: result 28; an unknown token too")
    time.sleep(max(0.0, b_issued + 2.1 - time.time()))
    got = detail(tb["access_token"], REFUND_B)
    h.check(got["result"] == kuaishou.TOKEN_INVALID == 28 and "expired" in got["error_msg"],
            "an expired token: %r" % got)
    got = detail("ChFvYXV0aC5hY2Nlc3NUb2tlbhNotOneTheStandinGave", REFUND_B)
    h.check(got["result"] == 28, "an unknown token: %r" % got)
    c = ks.counts()
    h.check(c["expired_token_calls"] == 1 and c["unknown_token_calls"] == 1,
            "expired and unknown token calls counted: %r" % c)

    h.step("B refreshes: a new pair; the old refresh token is refused from then on")
    status, _, ans = request(ks.port, "GET", kuaishou.REFRESH_TOKEN_PATH,
                             {"app_id": APP_KEY, "app_secret": APP_SECRET,
                              "grant_type": "refresh_token", "refresh_token": tb["refresh_token"]})
    h.check(status == 405, "GET to refresh_token: %d %r" % (status, ans))
    nb = refresh(tb["refresh_token"])
    h.check(nb["result"] == 1 and nb["access_token"] != tb["access_token"]
            and nb["refresh_token"] != tb["refresh_token"] and nb["expires_in"] == 30
            and nb["refresh_token_expires_in"] < tb["refresh_token_expires_in"],
            "a new pair, the refresh token's expiry inherited: %r"
            % {k: nb.get(k) for k in ("result", "expires_in", "refresh_token_expires_in")})
    h.check(detail(nb["access_token"], REFUND_B)["result"] == 1, "the new token reads B's refund")
    again = refresh(tb["refresh_token"])
    h.check(again["result"] == kuaishou.OAUTH_ACCESS_DENIED and "access_token" not in again,
            "the old refresh token refused: %r" % again)
    na = refresh(ta["refresh_token"], in_body=True)
    h.check(na["result"] == 1 and detail(ta["access_token"], REFUND_A)["result"] == 1,
            "A refreshes (form body); its old access token still lives: %r" % na.get("result"))
    c = ks.counts()
    h.check(c["refreshes"] == {a["open_id"]: 1, b["open_id"]: 1}
            and c["used_refresh_token_attempts"] == 1, "refresh counters: %r" % c)

    h.step("A cancels the authorisation: its refresh token is refused")
    h.check(request(ks.port, "POST", "/_control/revoke_refresh",
                    body={"open_id": a["open_id"]})[2] == {"ok": True, "revoked": 1},
            "revoke_refresh over HTTP")
    got = refresh(na["refresh_token"])
    h.check(got["result"] == kuaishou.OAUTH_ACCESS_DENIED and "revoked" in got["error_msg"],
            "a revoked refresh token: %r" % got)

    h.step("B's refresh token expires with its inherited expiry: refused")
    time.sleep(max(0.0, b_issued + 4.1 - time.time()))
    got = refresh(nb["refresh_token"])
    h.check(got["result"] == kuaishou.OAUTH_ACCESS_DENIED, "an expired refresh token: %r" % got)
    over_http = request(ks.port, "GET", "/_control/counts")[2]
    h.check(over_http == ks.counts() and over_http["expired_refresh_token_attempts"] == 1
            and over_http["revoked_refresh_token_attempts"] == 1
            and over_http["refreshes"] == {a["open_id"]: 1, b["open_id"]: 1}
            and over_http["calls"] == 12,
            "the counters over HTTP: %r" % over_http)
    harness.log("measured: %s" % json.dumps(over_http, ensure_ascii=False))


harness.main(scenario, start=False)
