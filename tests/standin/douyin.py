"""A stand-in for the Douyin shop open platform (抖店开放平台), for tests.

It speaks the protocol the platform's own SDKs speak (doudian-sdk-golang
1.1.0 as vendored in zsmhub/doudian-sdk: core/doudian_op_api_client.go,
utils/sign_util.go, api/<method>/request|response; the PHP SDK
westng/doudian-sdk: src/Core/Client/DouDianOpClient.php, src/Utils/SignUtil.php),
with every method's verb and required parameters in DECLARED below, and it
refuses what the real platform refuses; it is never a stub that says yes:

  - API calls: POST {url}/{method with '.' as '/'} with the common parameters
    in the query (app_key, method, v=2, timestamp in seconds, sign_method
    hmac-sha256 | md5, sign, and the shop's access_token) and param_json as
    the body. The sign is checked over the body as sent: secret + "app_key"
    + key + "method" + method + "param_json" + body + "timestamp" + ts + "v"
    + v + secret, HMAC-SHA256 keyed with the secret (or MD5), lowercase hex.
    Refused, with the platform's codes (平台基础错误码; tb07/jinritemai
    src/Error/ErrorCode.php): a missing sign / app_key / access_token (40001
    isv.signature-missing, isv.app-id-missing, isv.access-token-missing), a
    wrong sign (40003 isv.signature-invalid), an unknown app_key (40003
    isv.app-id-invalid), a stale or malformed timestamp (40003
    isv.timestamp-invalid / isv.timestamp-format-error), v other than 2, an
    unknown method or a path that does not match it (70000
    isp.api-service-off), the wrong verb, a body that is not a JSON object
    (40003 isv.parameter-format-invalid), a declared-required parameter
    missing (40002), an unknown access token (40003
    isv.access-token-no-existed) and an expired or superseded one (40003
    isv.access-token-expired; counted). Answers are {"code", "msg",
    "sub_code", "sub_msg", "data", "log_id"}, code 10000 on success.
  - Shops: add_shop(shop_id, name). A call sees only its own shop's records:
    another shop's record is "not found" (50002) and counted as an
    other-shop-token call.
  - OAuth: GET /ffa/open/applicationAuthorize?response_type=code&app_id
    &redirect_uri&state (the page's route, fxg.jinritemai.com/index.html#
    /ffa/open/applicationAuthorize in life) answers 302 to
    redirect_uri?code&state for the shop the test chose (a shop_id query
    parameter the test adds, else choose_shop()). token.create
    {code, grant_type: authorization_code}: a code works once and lives
    code_life_s (600, as the platform's 10 minutes). token.refresh
    {refresh_token, grant_type: refresh_token} as the SDK documents it: more
    than rotate_window_s (3600) before the access token expires, the same
    pair back; within that window or after it, a new pair, the old pair void
    after grace_s (0 here: the platform keeps it an hour; a test wants the
    reuse seen at once). A void, revoked or unknown refresh token is refused
    (50001 dop.token-generate-failed:token-invalid; counted per shop), an
    expired one too (...:token-expired). Access tokens live token_life_s.
  - afterSale.List pages from 0 (size 1..100), filtered by update time
    (update_start_time / update_end_time, seconds) or apply time (start_time
    / end_time), ordered by order_by ("update_time asc" ...): offsets, as the
    platform pages. afterSale.Detail {after_sale_id} answers process_info
    (after_sale_info, arbitrate_info, logistics_info) and order_info.
    afterSale.operate {type, items: [{aftersale_id, ...}]} changes the record
    as the platform does, each type only where the platform allows it:
    201 agree refund only (types 1, 2; status 6 -> 12), 202 reject refund only
    (6 -> 27), 101 agree the return with logistics.receiver_address_id (type 0;
    6 -> 7), 102 reject the return (6 -> 27), 111 agree the refund once the
    goods came back (11 -> 12), 112 reject then (11 -> 29); a reject needs
    reject_reason_code from afterSale.rejectReasonCodeList and a reason and
    remark; an item's update_time, when given, must be the record's (a lock).
    201/202 are confirmed by the SDKs; 101 by the SDK's logistics comment;
    102, 111, 112 follow the platform's documentation as known, unconfirmed
    by an SDK file. order.orderDetail {shop_order_id} answers
    shop_order_detail with its sku_order_list.
  - Counters the tests read: calls[(method, shop_id)], expired_token_calls,
    other_shop_calls, refreshes, used_refresh_attempts (per shop) and a call
    log (method, shop, param, whether param_json was the canonical sorted
    compact form, Idempotency-Key, answer, time).
  - Pushes: push(host, port, path, aftersale_id, tag) posts the message the
    platform sends for a record ({tag, msg_id, data}, data a JSON string)
    with event-sign = MD5(app_key + body + app_secret).

Python standard library only.
"""
import hashlib
import hmac
import http.client
import http.server
import itertools
import json
import threading
import time
import urllib.parse

OK = 10000

# Every method returnflow may call: verb, required business parameters (the
# SDK's pointer fields), whether it needs a shop's access token.
DECLARED = {
    "token.create": ("POST", ("code", "grant_type"), False),
    "token.refresh": ("POST", ("refresh_token", "grant_type"), False),
    "afterSale.List": ("POST", ("page", "size"), True),
    "afterSale.Detail": ("POST", ("after_sale_id",), True),
    "afterSale.operate": ("POST", ("type", "items"), True),
    "afterSale.rejectReasonCodeList": ("POST", (), True),
    "order.orderDetail": ("POST", ("shop_order_id",), True),
}

# afterSale.rejectReasonCodeList's answer, the stand-in's list for every record.
REJECT_REASONS = [
    {"reject_reason_code": 1, "reason": "买家未退货", "evidence_need": "N",
     "evidence_description": "", "image": "", "order_type": -1, "pkg": -1},
    {"reject_reason_code": 2, "reason": "商品已影响二次销售", "evidence_need": "Y",
     "evidence_description": "请上传商品照片", "image": "", "order_type": -1, "pkg": 1},
    {"reject_reason_code": 3, "reason": "超过售后期限", "evidence_need": "N",
     "evidence_description": "", "image": "", "order_type": -1, "pkg": -1},
]

# afterSale.operate: type -> (aftersale types it applies to, statuses it is
# allowed in, the status it leads to).
OPERATIONS = {
    201: ((1, 2), (6,), 12),
    202: ((1, 2), (6,), 27),
    101: ((0,), (6,), 7),
    102: ((0,), (6,), 27),
    111: ((0,), (11,), 12),
    112: ((0,), (11,), 29),
}
REJECTS = (202, 102, 112)

STATUS_DESC = {6: "待商家同意", 7: "待买家退货", 11: "待商家二次同意", 12: "售后成功",
               27: "商家一次拒绝", 28: "售后失败", 29: "商家二次拒绝"}


def sign(app_key, secret, method, param_json, timestamp, v="2", how="hmac-sha256"):
    text = "%sapp_key%smethod%sparam_json%stimestamp%sv%s%s" % (
        secret, app_key, method, param_json, timestamp, v, secret)
    if how == "md5":
        return hashlib.md5(text.encode()).hexdigest()
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def marshal(param):
    """param_json as the SDKs write it: keys sorted, compact, UTF-8 as is."""
    return json.dumps(param if param is not None else {}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


def push_sign(app_key, body, app_secret):
    return hashlib.md5((app_key + body + app_secret).encode()).hexdigest()


class Refusal(Exception):
    def __init__(self, code, msg, sub_code="", sub_msg=""):
        super().__init__(sub_msg or msg)
        self.answer = {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg or msg}


def business(sub_msg):
    return Refusal(50002, "业务处理失败", "isv.business-failed", sub_msg)


class Standin:
    def __init__(self, app_key="7152331588175513101", app_secret="dy-app-secret-0123456789abcdef",
                 token_life_s=30, refresh_life_s=14 * 86400, code_life_s=600,
                 rotate_window_s=3600, grace_s=0, expires_in_as_moment=False, port=0):
        self.app_key, self.app_secret = app_key, app_secret
        self.token_life_s, self.refresh_life_s, self.code_life_s = (token_life_s, refresh_life_s,
                                                                    code_life_s)
        self.rotate_window_s, self.grace_s = rotate_window_s, grace_s
        self.expires_in_as_moment = expires_in_as_moment
        self.shops = {}        # shop_id (text) -> name
        self.aftersales = {}   # aftersale_id (text) -> record
        self.orders = {}       # order_id (text) -> order
        self.codes = {}        # code -> {shop_id, issued, used}
        self.access = {}       # access token -> {shop_id, expires, void_at}
        self.refresh = {}      # refresh token -> {shop_id, expires, void_at, revoked, access}
        self.chosen_shop = None
        self.calls = {}        # (method, shop_id) -> count
        self.expired_token_calls = {}
        self.other_shop_calls = {}
        self.refreshes = {}
        self.used_refresh_attempts = {}
        self.call_log = []
        self.rate_limit_next = 0
        self._shop_hint = None
        self.lock = threading.Lock()
        self._seq = itertools.count(1)
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                self._serve("GET", "")

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                self._serve("POST", self.rfile.read(n).decode("utf-8", "replace"))

            def _serve(self, verb, body):
                url = urllib.parse.urlparse(self.path)
                q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query,
                                                               keep_blank_values=True).items()}
                if url.path == "/ffa/open/applicationAuthorize":
                    status, location, answer = standin._authorize(q)
                elif url.path.startswith("/_control/"):
                    if body:
                        q.update({k: v[0] for k, v in urllib.parse.parse_qs(body).items()})
                    status, location, answer = 200, None, standin._control(url.path, q)
                else:
                    status, location = 200, None
                    answer = standin._call(url.path, q, body, verb,
                                           self.headers.get("Idempotency-Key"))
                data = json.dumps(answer, ensure_ascii=False).encode()
                try:
                    self.send_response(status)
                    if location:
                        self.send_header("Location", location)
                    self.send_header("Content-Type", "application/json;charset=UTF-8")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the caller went away: the call still happened

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.authorize_page = self.url + "/ffa/open/applicationAuthorize"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    # ---- shops and records ----------------------------------------------------------

    def add_shop(self, shop_id, name):
        with self.lock:
            self.shops[str(shop_id)] = name

    def add_aftersale(self, shop_id, aftersale_id, order_id, sku_order_id=None,
                      aftersale_type=0, status=6, refund_amount=3990, refund_post_amount=0,
                      reason_code=1, reason="七天无理由退货", num=1, apply_time=None,
                      product_name="纯棉T恤 白色 L码", sku_id=1735962087153223, deadline_s=172800,
                      arbitrate_status=0, refund_status=1):
        """A record as afterSale.Detail knows it (times in seconds, money in fen)."""
        now = int(time.time())
        t = apply_time or now
        rec = {"shop_id": str(shop_id), "aftersale_id": str(aftersale_id),
               "order_id": str(order_id), "sku_order_id": str(sku_order_id or order_id),
               "aftersale_type": aftersale_type, "status": status,
               "refund_amount": refund_amount, "refund_post_amount": refund_post_amount,
               "reason_code": reason_code, "reason": reason, "reason_remark": "", "num": num,
               "apply_time": t, "update_time": t, "status_deadline": t + deadline_s,
               "product_name": product_name, "sku_id": sku_id, "arbitrate_status": arbitrate_status,
               "refund_status": refund_status, "tracking_no": "", "company_code": "",
               "return_address_id": 0, "times": {"apply_time": t}}
        with self.lock:
            if str(shop_id) not in self.shops:
                raise KeyError("no shop %s: add_shop first" % shop_id)
            self.aftersales[str(aftersale_id)] = rec
        return dict(rec)

    def add_order(self, shop_id, order_id, lines, province="广东省", city="深圳市",
                  pay_time=None, receipt_time=None, post_amount=0, promotion_amount=0,
                  pay_type=1, buyer_open_id="BgXfyq2UbSm8Qf3Jt7zPkA=="):
        """An order as order.orderDetail answers it. lines: (sku_order_id, sku_id, title, num,
        unit price fen, merchant code) or dicts of sku_order_list fields."""
        now = int(time.time())
        paid = pay_time or now - 5 * 86400
        got = now - 2 * 86400 if receipt_time is None else receipt_time
        skus = []
        for ln in lines:
            if isinstance(ln, dict):
                sku = dict(ln)
            else:
                sku_order_id, sku_id, title, num, price, code = ln
                sku = {"order_id": str(sku_order_id), "sku_id": int(sku_id), "product_name": title,
                       "item_num": num, "origin_amount": price, "code": code}
            sku.setdefault("parent_order_id", str(order_id))
            sku.setdefault("order_level", 3)
            sku.setdefault("product_id", 3612345678901234567)
            sku.setdefault("out_sku_id", "")
            sku.setdefault("supplier_id", "")
            sku.setdefault("first_cid", 20000)
            sku.setdefault("goods_type", 0)
            sku.setdefault("sum_amount", sku["origin_amount"] * sku["item_num"])
            sku.setdefault("pay_amount", sku["sum_amount"])
            sku.setdefault("post_amount", 0)
            sku.setdefault("order_status", 5 if got else 3)
            sku.setdefault("logistics_receipt_time", got)
            sku.setdefault("confirm_receipt_time", 0)
            skus.append(sku)
        total = sum(s["sum_amount"] for s in skus)
        detail = {"order_id": str(order_id), "order_level": 2, "shop_id": int(shop_id),
                  "shop_name": self.shops.get(str(shop_id), ""), "open_id": "",
                  "doudian_open_id": buyer_open_id, "order_status": 5 if got else 3,
                  "main_status": 5 if got else 3, "pay_time": paid, "create_time": paid - 60,
                  "update_time": got or paid, "finish_time": got, "pay_type": pay_type,
                  "order_amount": total + post_amount - promotion_amount,
                  "pay_amount": total + post_amount - promotion_amount, "post_amount": post_amount,
                  "promotion_amount": promotion_amount, "promotion_shop_amount": promotion_amount,
                  "promotion_platform_amount": 0, "post_insurance_amount": 0,
                  "post_addr": {"province": {"name": province, "id": "44"},
                                "city": {"name": city, "id": "440300"},
                                "town": {"name": "", "id": ""}, "street": {"name": "", "id": ""},
                                "detail": "#Jw3x#encrypted#", "encrypt_detail": "#Jw3x#encrypted#"},
                  "sku_order_list": skus}
        with self.lock:
            self.orders[str(order_id)] = detail
        return detail

    def choose_shop(self, shop_id):
        """The shop whose owner consents on the authorise page next."""
        with self.lock:
            self.chosen_shop = str(shop_id)

    def grant(self, shop_id):
        """A fresh token pair for shop_id, as a completed OAuth would give (for tests that
        are not about OAuth). Returns (access_token, refresh_token)."""
        with self.lock:
            a, r = self._issue(str(shop_id))
        return a, r

    def revoke_refresh(self, shop_id):
        """The merchant withdrew the authorisation: the shop's refresh tokens are void."""
        with self.lock:
            for r in self.refresh.values():
                if r["shop_id"] == str(shop_id):
                    r["revoked"] = True

    def expire_access(self, shop_id):
        """The shop's access tokens lapse now."""
        with self.lock:
            for a in self.access.values():
                if a["shop_id"] == str(shop_id):
                    a["expires"] = min(a["expires"], time.time())

    def buyer_ship(self, aftersale_id, tracking_no, company_code="shunfeng"):
        """The buyer sent the goods back: 7 -> 11."""
        with self.lock:
            rec = self.aftersales[str(aftersale_id)]
            if rec["status"] != 7:
                raise ValueError("the buyer ships only in status 7")
            self._touch(rec, 11, "return_time", tracking_no=tracking_no,
                        company_code=company_code)
            return dict(rec)

    def buyer_cancel(self, aftersale_id):
        with self.lock:
            rec = self.aftersales[str(aftersale_id)]
            self._touch(rec, 28, "close_time")
            return dict(rec)

    def record(self, aftersale_id):
        with self.lock:
            return dict(self.aftersales[str(aftersale_id)])

    def log_of(self, method=None, shop_id=None):
        with self.lock:
            return [dict(c) for c in self.call_log
                    if (method is None or c["method"] == method)
                    and (shop_id is None or c["shop_id"] == str(shop_id))]

    def counters(self):
        with self.lock:
            return {"calls": {"%s %s" % k: v for k, v in self.calls.items()},
                    "expired_token_calls": dict(self.expired_token_calls),
                    "other_shop_calls": dict(self.other_shop_calls),
                    "refreshes": dict(self.refreshes),
                    "used_refresh_attempts": dict(self.used_refresh_attempts)}

    def _touch(self, rec, status, time_field, **changes):
        now = max(int(time.time()), rec["update_time"] + 1)
        rec.update(changes)
        rec["status"] = status
        rec["update_time"] = now
        rec["times"][time_field] = now
        if status == 12:
            rec["refund_status"] = 3
            rec["times"]["success_time"] = now

    def _bump(self, table, shop_id):
        table[shop_id] = table.get(shop_id, 0) + 1

    # ---- OAuth -------------------------------------------------------------------------

    def _issue(self, shop_id):
        n = next(self._seq)
        now = time.time()
        a = "dy-at-%s-%d-%s" % (shop_id, n, hashlib.sha1(b"a%d" % n).hexdigest()[:16])
        r = "dy-rt-%s-%d-%s" % (shop_id, n, hashlib.sha1(b"r%d" % n).hexdigest()[:16])
        self.access[a] = {"shop_id": shop_id, "expires": now + self.token_life_s, "void_at": None}
        self.refresh[r] = {"shop_id": shop_id, "expires": now + self.refresh_life_s,
                           "void_at": None, "revoked": False, "access": a}
        return a, r

    def _token_data(self, shop_id, a, r):
        left = max(1, int(self.access[a]["expires"] - time.time()))
        return {"access_token": a, "refresh_token": r,
                "expires_in": int(time.time()) + left if self.expires_in_as_moment else left,
                "scope": "SCOPE", "shop_id": int(shop_id), "shop_name": self.shops.get(shop_id, ""),
                "authority_id": shop_id, "auth_subject_type": "MiniShop"}

    def _authorize(self, q):
        with self.lock:
            if q.get("app_id") != self.app_key:
                return 400, None, {"error": "unknown app_id"}
            if q.get("response_type") != "code":
                return 400, None, {"error": "response_type must be code"}
            redirect = q.get("redirect_uri", "")
            if not redirect.startswith(("http://", "https://")):
                return 400, None, {"error": "redirect_uri is missing or not an address"}
            shop_id = q.get("shop_id") or self.chosen_shop
            if shop_id not in self.shops:
                return 400, None, {"error": "no shop consents (shop_id or choose_shop)"}
            code = "dy-code-%d-%s" % (next(self._seq), hashlib.sha1(redirect.encode()).hexdigest()[:8])
            self.codes[code] = {"shop_id": shop_id, "issued": time.time(), "used": False}
        sep = "&" if "?" in redirect else "?"
        location = redirect + sep + urllib.parse.urlencode({"code": code,
                                                            "state": q.get("state", "")})
        return 302, location, {"location": location}

    def _token_create(self, p):
        if p["grant_type"] != "authorization_code":
            raise Refusal(50001, "平台处理失败", "dop.token-generate-failed:grant-type-invalid",
                          "生成token失败，grant_type参数取值不正确")
        c = self.codes.get(str(p["code"]))
        if c is not None:
            self._shop_hint = c["shop_id"]
        if c is None or c["used"]:
            raise Refusal(50001, "平台处理失败", "dop.token-generate-failed:code-invalid",
                          "生成token失败，code参数不正确，请引导商家重新授权获取code")
        c["used"] = True
        if time.time() - c["issued"] > self.code_life_s:
            raise Refusal(50001, "平台处理失败", "dop.token-generate-failed:code-expired",
                          "生成token失败，code已经失效（code的有效期为10分钟）")
        a, r = self._issue(c["shop_id"])
        return c["shop_id"], self._token_data(c["shop_id"], a, r)

    def _token_refresh(self, p):
        if p["grant_type"] != "refresh_token":
            raise Refusal(50001, "平台处理失败", "dop.token-generate-failed:grant-type-invalid",
                          "生成token失败，grant_type参数取值不正确")
        now = time.time()
        r = self.refresh.get(str(p["refresh_token"]))
        if r is None:
            raise Refusal(50001, "平台处理失败", "dop.token-generate-failed:token-invalid",
                          "生成token失败，token不存在")
        shop = self._shop_hint = r["shop_id"]
        if r["revoked"] or (r["void_at"] is not None and now >= r["void_at"]):
            self._bump(self.used_refresh_attempts, shop)
            raise Refusal(50001, "平台处理失败", "dop.token-generate-failed:token-invalid",
                          "生成token失败，token不存在")
        if now >= r["expires"]:
            raise Refusal(50001, "平台处理失败", "dop.token-generate-failed:token-expired",
                          "生成token失败，token已过期")
        old_a = r["access"]
        if old_a in self.access and self.access[old_a]["expires"] - now > self.rotate_window_s \
                and r["void_at"] is None:
            return shop, self._token_data(shop, old_a, str(p["refresh_token"]))  # the same pair
        if r["void_at"] is not None:  # already rotated, still in its grace: the newer pair
            newer = next((k for k, v in self.refresh.items()
                          if v["shop_id"] == shop and v["void_at"] is None and not v["revoked"]),
                         None)
            if newer:
                return shop, self._token_data(shop, self.refresh[newer]["access"], newer)
        r["void_at"] = now + self.grace_s
        if old_a in self.access:
            self.access[old_a]["void_at"] = now + self.grace_s
        a, nr = self._issue(shop)
        self._bump(self.refreshes, shop)
        return shop, self._token_data(shop, a, nr)

    # ---- the API -----------------------------------------------------------------------

    def _control(self, path, q):
        """Test controls (not the platform's): grant, code, choose, ratelimit, expire,
        revoke_refresh, counters, log (no tokens in it)."""
        if path == "/_control/grant":
            a, r = self.grant(q["shop_id"])
            return {"access_token": a, "refresh_token": r}
        if path == "/_control/code":
            with self.lock:
                code = "dy-code-%d-ctl" % next(self._seq)
                self.codes[code] = {"shop_id": str(q["shop_id"]), "issued": time.time(),
                                    "used": False}
            return {"code": code}
        if path == "/_control/choose":
            self.choose_shop(q["shop_id"])
            return {"ok": True}
        if path == "/_control/ratelimit":
            with self.lock:
                self.rate_limit_next = int(q.get("n", "1"))
            return {"ok": True}
        if path == "/_control/expire":
            self.expire_access(q["shop_id"])
            return {"ok": True}
        if path == "/_control/revoke_refresh":
            self.revoke_refresh(q["shop_id"])
            return {"ok": True}
        if path == "/_control/counters":
            return self.counters()
        if path == "/_control/log":
            return {"calls": [{"method": c["method"], "shop_id": c["shop_id"],
                               "canonical": c["canonical"], "idempotency_key": c["idempotency_key"],
                               "code": c["answer"]["code"]} for c in self.log_of(q.get("method"))]}
        return {"error": "unknown control"}

    def _call(self, path, q, body, verb, idempotency_key):
        method = q.get("method", "")
        shop = None
        canonical = False
        param = None
        with self.lock:
            self._shop_hint = None  # the shop a refused token belongs to, for the counters
            try:
                self._check_common(path, q, body, verb)
                try:
                    param = json.loads(body or "{}")
                except ValueError:
                    param = None
                if not isinstance(param, dict):
                    raise Refusal(40003, "非法的参数（平台校验）", "isv.parameter-format-invalid",
                                  "业务参数json解析失败")
                canonical = body == marshal(param)
                _, required, needs_token = DECLARED[method]
                if needs_token:
                    shop = self._token_shop(q.get("access_token", ""))
                missing = [k for k in required if param.get(k) is None]
                if missing:
                    raise Refusal(40002, "缺少必选参数（业务校验）", "isv.missing-parameter:" + missing[0],
                                  "缺少参数 %s" % ", ".join(missing))
                if self.rate_limit_next > 0:
                    self.rate_limit_next -= 1
                    raise Refusal(60000, "触发限流，请稍后重试", "", "触发限流，请稍后重试")
                if method == "token.create":
                    shop, data = self._token_create(param)
                elif method == "token.refresh":
                    shop, data = self._token_refresh(param)
                else:
                    data = self._dispatch(method, param, shop)
                answer = {"code": OK, "msg": "success", "sub_code": "", "sub_msg": "", "data": data}
            except Refusal as r:
                answer = dict(r.answer)
            except (KeyError, TypeError, ValueError) as e:
                answer = {"code": 40004, "msg": "非法的参数（业务校验）",
                          "sub_code": "isv.parameter-invalid", "sub_msg": "bad parameter: %s" % e}
            answer["log_id"] = "2024%016d" % next(self._seq)
            shop = shop or self._shop_hint
            if method in DECLARED:
                self.calls[(method, shop)] = self.calls.get((method, shop), 0) + 1
            self.call_log.append({"method": method, "shop_id": shop, "verb": verb, "param": param,
                                  "param_json": body, "canonical": canonical,
                                  "idempotency_key": idempotency_key, "answer": answer,
                                  "at": int(time.time() * 1000)})
        return answer

    def _check_common(self, path, q, body, verb):
        for k, sub in (("sign", "isv.signature-missing"), ("app_key", "isv.app-id-missing")):
            if not q.get(k):
                raise Refusal(40001, "缺少必选参数（平台校验）", sub, "缺少 %s" % k)
        for k in ("method", "timestamp", "v"):
            if not q.get(k):
                raise Refusal(40001, "缺少必选参数（平台校验）", "isv.parameter-missing:" + k,
                              "缺少 %s" % k)
        if q["app_key"] != self.app_key:
            raise Refusal(40003, "非法的参数（平台校验）", "isv.app-id-invalid", "认证失败，app_key不存在")
        method = q["method"]
        if method not in DECLARED or "/" + method.replace(".", "/") != path:
            raise Refusal(70000, "接口服务已下线", "isp.api-service-off", "API不存在或API已下线")
        if verb != DECLARED[method][0]:
            raise Refusal(40003, "非法的参数（平台校验）", "isv.http-method-invalid",
                          "%s 只接受 %s" % (method, DECLARED[method][0]))
        if q["v"] != "2":
            raise Refusal(40003, "非法的参数（平台校验）", "isv.version-invalid", "v 应为 2")
        how = q.get("sign_method", "md5")
        if how not in ("md5", "hmac-sha256"):
            raise Refusal(40003, "非法的参数（平台校验）", "isv.sign-method-invalid", "未知的 sign_method")
        if not q["timestamp"].isdigit():
            raise Refusal(40003, "非法的参数（平台校验）", "isv.timestamp-format-error", "时间戳格式错误")
        if abs(int(q["timestamp"]) - time.time()) > 600:
            raise Refusal(40003, "非法的参数（平台校验）", "isv.timestamp-invalid", "时间戳不合法")
        want = sign(self.app_key, self.app_secret, method, body or "{}", q["timestamp"], q["v"], how)
        if not hmac.compare_digest(want, q["sign"]):
            raise Refusal(40003, "非法的参数（平台校验）", "isv.signature-invalid", "签名校验失败")

    def _token_shop(self, token):
        if not token:
            raise Refusal(40001, "缺少必选参数（平台校验）", "isv.access-token-missing",
                          "认证失败，access_token不能为空")
        a = self.access.get(token)
        if a is None:
            raise Refusal(40003, "非法的参数（平台校验）", "isv.access-token-no-existed",
                          "access_token不存在，请使用最新的access_token访问")
        now = time.time()
        self._shop_hint = a["shop_id"]
        if now >= a["expires"] or (a["void_at"] is not None and now >= a["void_at"]):
            self._bump(self.expired_token_calls, a["shop_id"])
            raise Refusal(40003, "非法的参数（平台校验）", "isv.access-token-expired",
                          "access_token已过期")
        return a["shop_id"]

    def _own(self, table, key, shop, what):
        rec = table.get(str(key))
        if rec is None:
            raise business("%s不存在" % what)
        owner = rec["shop_id"] if "aftersale_id" in rec else str(rec["shop_id"])
        if owner != shop:
            self._bump(self.other_shop_calls, shop)
            raise business("%s不存在" % what)  # the platform does not say whose it is
        return rec

    def _dispatch(self, method, p, shop):
        if method == "afterSale.List":
            return self._list(p, shop)
        if method == "afterSale.Detail":
            return self._detail(self._own(self.aftersales, p["after_sale_id"], shop, "售后单"))
        if method == "afterSale.rejectReasonCodeList":
            if p.get("aftersale_id") is not None:
                self._own(self.aftersales, p["aftersale_id"], shop, "售后单")
            return {"items": [dict(r) for r in REJECT_REASONS]}
        if method == "order.orderDetail":
            return {"shop_order_detail": self._own(self.orders, p["shop_order_id"], shop, "订单")}
        if method == "afterSale.operate":
            return self._operate(p, shop)
        raise Refusal(70000, "接口服务已下线", "isp.api-service-off", "API不存在或API已下线")

    def _operate(self, p, shop):
        kind = int(p["type"])
        if kind not in OPERATIONS:
            raise Refusal(40004, "非法的参数（业务校验）", "isv.parameter-invalid", "type %d 不支持" % kind)
        items = p["items"]
        if not isinstance(items, list) or len(items) != 1:
            raise Refusal(40004, "非法的参数（业务校验）", "isv.parameter-invalid", "items 需要一个售后单")
        it = items[0]
        if it.get("aftersale_id") is None:
            raise Refusal(40002, "缺少必选参数（业务校验）", "isv.missing-parameter:aftersale_id",
                          "缺少参数 aftersale_id")
        rec = self._own(self.aftersales, it["aftersale_id"], shop, "售后单")
        types, statuses, to = OPERATIONS[kind]
        if rec["aftersale_type"] not in types:
            raise business("售后类型 %d 不能做操作 %d" % (rec["aftersale_type"], kind))
        if rec["status"] not in statuses:
            raise business("售后单状态 %d 不能做操作 %d" % (rec["status"], kind))
        if it.get("update_time") and int(it["update_time"]) != rec["update_time"]:
            raise business("售后单已变更，请刷新后重试")
        changes = {}
        if kind in REJECTS:
            reason = next((r for r in REJECT_REASONS
                           if r["reject_reason_code"] == it.get("reject_reason_code")), None)
            if reason is None:
                raise Refusal(40004, "非法的参数（业务校验）", "isv.parameter-invalid",
                              "reject_reason_code 需取自 afterSale/rejectReasonCodeList")
            if not it.get("reason") or not it.get("remark"):
                raise Refusal(40002, "缺少必选参数（业务校验）", "isv.missing-parameter:remark",
                              "拒绝操作需要 reason 和 remark")
            if reason["evidence_need"] == "Y" and not it.get("evidence"):
                raise Refusal(40002, "缺少必选参数（业务校验）", "isv.missing-parameter:evidence",
                              "该拒绝原因需要凭证")
            changes["reject_reason_code"] = reason["reject_reason_code"]
        if kind == 101:
            logistics = it.get("logistics") or {}
            address = logistics.get("receiver_address_id") or logistics.get(
                "after_sale_address_detail")
            if not address:
                raise Refusal(40002, "缺少必选参数（业务校验）",
                              "isv.missing-parameter:receiver_address_id",
                              "同意退货需要 logistics.receiver_address_id")
            changes["return_address_id"] = logistics.get("receiver_address_id") or 0
        self._touch(rec, to, "refuse_time" if kind in REJECTS else "agree_time", **changes)
        return {"items": [{"aftersale_id": int(rec["aftersale_id"]), "status_code": 0,
                           "status_msg": "success"}]}

    def _detail(self, rec):
        info = {"after_sale_id": int(rec["aftersale_id"]), "after_sale_status": rec["status"],
                "after_sale_status_desc": STATUS_DESC.get(rec["status"], ""),
                "after_sale_type": rec["aftersale_type"], "refund_type": 1,
                "refund_status": rec["refund_status"],
                "refund_total_amount": rec["refund_amount"] + rec["refund_post_amount"],
                "refund_post_amount": rec["refund_post_amount"], "apply_time": rec["apply_time"],
                "update_time": rec["update_time"], "reason": rec["reason"],
                "reason_code": rec["reason_code"], "reason_remark": rec["reason_remark"],
                "after_sale_apply_count": rec["num"], "need_return_count": rec["num"],
                "status_deadline": rec["status_deadline"],
                "return_address_id": rec["return_address_id"], "got_pkg": 1, "part_type": 0,
                "real_refund_amount": rec["refund_amount"] if rec["status"] == 12 else 0}
        sku = {"sku_order_id": int(rec["sku_order_id"]), "order_status": 5,
               "pay_amount": rec["refund_amount"], "post_amount": rec["refund_post_amount"],
               "item_quantity": rec["num"], "product_name": rec["product_name"],
               "product_id": 3612345678901234567, "sku_id": rec["sku_id"], "shop_sku_code": ""}
        logistics = {"return": {"tracking_no": rec["tracking_no"], "company_name": "",
                                "company_code": rec["company_code"],
                                "logistics_time": rec["times"].get("return_time", 0)}}
        return {"process_info": {"after_sale_info": info,
                                 "arbitrate_info": {"arbitrate_status": rec["arbitrate_status"]},
                                 "logistics_info": logistics},
                "order_info": {"shop_order_id": int(rec["order_id"]), "sku_order_infos": [sku]}}

    def _list_item(self, rec):
        info = {"aftersale_id": rec["aftersale_id"], "aftersale_order_type": 1,
                "aftersale_type": rec["aftersale_type"], "aftersale_status": rec["status"],
                "related_id": rec["sku_order_id"], "apply_time": rec["apply_time"],
                "create_time": rec["apply_time"], "update_time": rec["update_time"],
                "status_deadline": rec["status_deadline"], "refund_amount": rec["refund_amount"],
                "refund_post_amount": rec["refund_post_amount"], "aftersale_num": rec["num"],
                "part_type": 0, "refund_type": 1, "arbitrate_status": rec["arbitrate_status"],
                "refund_status": rec["refund_status"],
                "return_logistics_code": rec["tracking_no"], "got_pkg": 1}
        order = {"shop_order_id": rec["order_id"], "order_flag": 0,
                 "related_order_info": [{"sku_order_id": rec["sku_order_id"], "order_status": 5,
                                         "item_num": rec["num"],
                                         "product_name": rec["product_name"],
                                         "aftersale_pay_amount": rec["refund_amount"],
                                         "aftersale_item_num": rec["num"]}]}
        return {"aftersale_info": info, "order_info": order,
                "text_part": {"reason_text": rec["reason"],
                              "aftersale_status_text": STATUS_DESC.get(rec["status"], "")}}

    def _list(self, p, shop):
        page, size = int(p["page"]), int(p["size"])
        if page < 0 or not 1 <= size <= 100:
            raise Refusal(40004, "非法的参数（业务校验）", "isv.parameter-invalid",
                          "page 从 0 开始，size 为 1..100")
        lo, hi = p.get("update_start_time"), p.get("update_end_time")
        alo, ahi = p.get("start_time"), p.get("end_time")
        hits = [r for r in self.aftersales.values() if r["shop_id"] == shop
                and (lo is None or r["update_time"] >= int(lo))
                and (hi is None or r["update_time"] <= int(hi))
                and (alo is None or r["apply_time"] >= int(alo))
                and (ahi is None or r["apply_time"] <= int(ahi))]
        order = (p.get("order_by") or ["apply_time desc"])[0].split()
        field = {"update_time": "update_time", "apply_time": "apply_time",
                 "status_deadline": "status_deadline"}.get(order[0])
        if field is None:
            raise Refusal(40004, "非法的参数（业务校验）", "isv.parameter-invalid", "order_by 不支持")
        hits.sort(key=lambda r: (r[field], int(r["aftersale_id"])),
                  reverse=len(order) > 1 and order[1] == "desc")
        chunk = hits[page * size:(page + 1) * size]
        return {"items": [self._list_item(r) for r in chunk],
                "has_more": (page + 1) * size < len(hits), "total": len(hits), "page": page,
                "size": len(chunk)}

    # ---- a client, for tests of the stand-in itself --------------------------------------

    def signed_request(self, method, param, access_token=None, verb="POST", sign_method="hmac-sha256",
                       secret=None, timestamp=None, body=None):
        """Call the stand-in as the SDKs do (correctly signed unless secret or timestamp
        says otherwise). Returns the answer (dict)."""
        param_json = body if body is not None else marshal(param)
        ts = str(int(time.time()) if timestamp is None else timestamp)
        q = {"app_key": self.app_key, "method": method, "v": "2", "timestamp": ts,
             "sign_method": sign_method,
             "sign": sign(self.app_key, secret or self.app_secret, method, param_json, ts, "2",
                          sign_method)}
        if access_token:
            q["access_token"] = access_token
        path = "/" + method.replace(".", "/") + "?" + urllib.parse.urlencode(q)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(verb, path, body=param_json.encode() if verb == "POST" else None,
                         headers={"Content-Type": "application/json"})
            return json.loads(conn.getresponse().read().decode())
        finally:
            conn.close()

    # ---- pushes ------------------------------------------------------------------------

    TAG_TIME = {200: "apply_time", 201: "agree_time", 202: "agree_time", 203: "return_time",
                204: "refuse_time", 205: "refuse_time", 206: "success_time", 207: "close_time",
                208: "modify_time"}

    def push_message(self, aftersale_id, tag, msg_id=None, data_as_string=True):
        """The message the platform pushes about a record: {tag, msg_id, data}."""
        with self.lock:
            rec = dict(self.aftersales[str(aftersale_id)])
        data = {"p_id": int(rec["order_id"]), "s_id": int(rec["sku_order_id"]),
                "shop_id": int(rec["shop_id"]), "aftersale_id": int(rec["aftersale_id"]),
                "aftersale_status": rec["status"], "aftersale_type": rec["aftersale_type"],
                "refund_amount": rec["refund_amount"],
                "refund_post_amount": rec["refund_post_amount"],
                "reason_code": rec["reason_code"], "refund_voucher_num": 0,
                "aftersale_num": rec["num"], "status_deadline": rec["status_deadline"],
                "update_time": rec["update_time"]}
        field = self.TAG_TIME.get(int(tag), "modify_time")
        data[field] = rec["times"].get(field, rec["update_time"])
        return {"tag": str(tag), "msg_id": msg_id or "%s_%d_%d" % (rec["aftersale_id"], tag,
                                                                     rec["update_time"]),
                "data": json.dumps(data) if data_as_string else data}

    def push(self, host, port, path, aftersale_id, tag, msg_id=None, sign_override=None):
        """POST one push about a record, signed; returns (status, answer text)."""
        body = json.dumps([self.push_message(aftersale_id, tag, msg_id)])
        signature = sign_override or push_sign(self.app_key, body, self.app_secret)
        conn = http.client.HTTPConnection(host, port, timeout=10)
        try:
            conn.request("POST", path, body=body.encode(),
                         headers={"Content-Type": "application/json", "event-sign": signature,
                                  "app-id": self.app_key})
            resp = conn.getresponse()
            return resp.status, resp.read().decode()
        finally:
            conn.close()


SHOP_A, SHOP_B = "4463798", "18601237"


def main():
    """Serve a stand-in until stdin closes: `python3 douyin.py N` adds shops 4463798 and
    18601237 and N after-sales of the first (ids 7301234567890100000 + i, update times a
    second apart), two of the second, and prints the port on one line."""
    import sys
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    s = Standin()
    s.add_shop(SHOP_A, "深圳优选家居旗舰店")
    s.add_shop(SHOP_B, "杭州好物小铺")
    now = int(time.time())
    for i in range(n):
        rec = s.add_aftersale(SHOP_A, 7301234567890100000 + i, 6921234567890100000 + i,
                              aftersale_type=1 if i % 2 else 0, apply_time=now - 3600 + i)
        s.aftersales[rec["aftersale_id"]]["update_time"] = now - 3600 + i
    for i in range(2):
        s.add_aftersale(SHOP_B, 7309876543210100000 + i, 6929876543210100000 + i,
                        apply_time=now - 600)
    s.add_order(SHOP_A, 6921234567890100000,
                [("6921234567890100001", 1735962087153223, "景德镇手绘陶瓷茶杯 青花款", 2, 3990,
                  "CUP-QH-01")],
                post_amount=600, promotion_amount=500)
    print(s.port, flush=True)
    sys.stdin.read()
    s.close()


if __name__ == "__main__":
    main()
