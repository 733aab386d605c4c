#!/usr/bin/env python3
"""56: the Douyin stand-in (tests/standin/douyin.py) refuses what the platform refuses.

No cluster: the stand-in alone, called as the SDKs call it. The OAuth page
gives a single-use code, token.create gives a shop its pair, token.refresh
rotates it (the old refresh token then refused and counted), a shop's token
sees only its own records (another's is refused and counted), a wrong sign,
a stale timestamp, an unknown method, the wrong verb, a missing parameter and
an expired token are each refused with the platform's code, afterSale.operate
works only in the statuses the platform allows, and the push is signed with
event-sign. Exits non-zero on the first refusal that did not happen.
"""
import hashlib
import http.client
import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "standin"))
import douyin  # noqa: E402

A, B = "4463798", "18601237"


def check(ok, what):
    if not ok:
        print("FAIL: %s" % what)
        sys.exit(1)
    print("ok   %s" % what)


def main():
    s = douyin.Standin(token_life_s=30)
    try:
        s.add_shop(A, "深圳优选家居旗舰店")
        s.add_shop(B, "杭州好物小铺")
        s.add_aftersale(A, 7301234567890100001, 6921234567890100001, aftersale_type=0)
        s.add_aftersale(B, 7309876543210100001, 6929876543210100001, aftersale_type=1)

        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        conn.request("GET", "/ffa/open/applicationAuthorize?" + urllib.parse.urlencode(
            {"response_type": "code", "app_id": s.app_key, "state": "st-1", "shop_id": A,
             "redirect_uri": "https://returns.example.cn/v1/oauth/douyin/callback"}))
        resp = conn.getresponse()
        resp.read()
        loc = urllib.parse.urlparse(resp.getheader("Location") or "")
        q = urllib.parse.parse_qs(loc.query)
        check(resp.status == 302 and q.get("state") == ["st-1"] and "code" in q,
              "the authorise page redirects with a code and the state")
        code = q["code"][0]
        made = s.signed_request("token.create", {"code": code, "grant_type": "authorization_code"})
        check(made["code"] == douyin.OK and made["data"]["shop_id"] == int(A)
              and 0 < made["data"]["expires_in"] <= 30, "token.create gives the shop a pair")
        again = s.signed_request("token.create", {"code": code, "grant_type": "authorization_code"})
        check(again["sub_code"] == "dop.token-generate-failed:code-invalid", "a code works once")
        at, rt = made["data"]["access_token"], made["data"]["refresh_token"]

        detail = {"after_sale_id": "7301234567890100001"}
        check(s.signed_request("afterSale.Detail", detail, at)["code"] == douyin.OK,
              "a signed call with the shop's token")
        refusals = [
            ("a wrong sign", s.signed_request("afterSale.Detail", detail, at, secret="x"),
             "isv.signature-invalid"),
            ("a stale timestamp", s.signed_request("afterSale.Detail", detail, at,
                                                   timestamp=1500000000), "isv.timestamp-invalid"),
            ("an unknown method", s.signed_request("afterSale.detail", detail, at),
             "isp.api-service-off"),
            ("the wrong verb", s.signed_request("afterSale.Detail", detail, at, verb="GET"),
             "isv.http-method-invalid"),
            ("a missing parameter", s.signed_request("afterSale.Detail", {}, at),
             "isv.missing-parameter:after_sale_id"),
            ("no access token", s.signed_request("afterSale.Detail", detail), "isv.access-token-missing"),
            ("another shop's record", s.signed_request(
                "afterSale.Detail", {"after_sale_id": "7309876543210100001"}, at),
             "isv.business-failed"),
            ("refund-only agreement of a return", s.signed_request(
                "afterSale.operate", {"type": 201, "items": [{"aftersale_id":
                                                              "7301234567890100001"}]}, at),
             "isv.business-failed"),
        ]
        for what, answer, sub in refusals:
            check(answer["code"] != douyin.OK and answer["sub_code"] == sub,
                  "refused: %s (%s)" % (what, answer["sub_code"]))

        agree = s.signed_request("afterSale.operate", {"type": 101, "items": [
            {"aftersale_id": "7301234567890100001", "logistics": {"receiver_address_id": 9001}}]}, at)
        check(agree["code"] == douyin.OK and s.record(7301234567890100001)["status"] == 7,
              "agreeing the return moves it to waiting for the buyer (7)")

        s.expire_access(A)
        lapsed = s.signed_request("afterSale.Detail", detail, at)
        check(lapsed["sub_code"] == "isv.access-token-expired", "an expired token is refused")
        fresh = s.signed_request("token.refresh", {"refresh_token": rt, "grant_type": "refresh_token"})
        check(fresh["code"] == douyin.OK and fresh["data"]["refresh_token"] != rt,
              "token.refresh rotates the pair")
        reused = s.signed_request("token.refresh", {"refresh_token": rt, "grant_type": "refresh_token"})
        check(reused["sub_code"] == "dop.token-generate-failed:token-invalid",
              "the old refresh token is refused")
        n = s.counters()
        check(n["used_refresh_attempts"].get(A) == 1 and n["refreshes"].get(A) == 1
              and n["other_shop_calls"].get(A) == 1 and n["expired_token_calls"].get(A) == 1,
              "the counters saw it all: %s" % json.dumps(n, ensure_ascii=False))

        msg = s.push_message(7301234567890100001, 202)
        body = json.dumps([msg])
        data = json.loads(msg["data"])
        check(data["aftersale_status"] == 7 and data["shop_id"] == int(A)
              and douyin.push_sign(s.app_key, body, s.app_secret)
              == hashlib.md5((s.app_key + body + s.app_secret).encode()).hexdigest(),
              "the push of a record carries its status and is signed with event-sign")
    finally:
        s.close()


if __name__ == "__main__":
    main()
