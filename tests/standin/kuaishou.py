"""A stand-in for the Kuaishou open platform (快手电商开放平台), for tests.

It speaks the protocol PLATFORMS.md documents, with every method's verb,
required parameters and answer as the npm package kuaishou-merchant-open-api
declares them (types/common/interface/api.declaration.d.ts,
es/common/constant/api.default.method.js; DECLARED below), and refuses what
the real platform would refuse; it is never a stub that says yes to everything:

  - API calls: to the method's path (open.seller.order.refund.detail ->
    /open/seller/order/refund/detail) with the common parameters appkey,
    method, version, param (JSON), access_token, timestamp (ms), signMethod
    (MD5 | HMAC_SHA256) and sign: in the query of a GET, in the
    form-urlencoded body of a POST, by the method's declared verb, as the
    package's client sends them. The sign is checked (sorted k=v joined by
    '&', then '&signSecret=SECRET'; MD5 lowercase hex, or HMAC-SHA256 keyed
    with the secret in Base64); a wrong sign, app key, token, method/path
    mismatch, a stale timestamp, an unknown method, the other verb, or a
    declared-required business parameter missing is refused.
  - Answers {"result": 1, "data": ...} on success; otherwise the declared
    error fields {"result": <code>, "error_msg", "code", "msg", "sub_code",
    "sub_msg"}. Rate limiting on demand: the next N calls answer
    RATE_LIMITED; delay_s makes answers that much later.
  - open.seller.order.refund.pcursor.list (beginTime, endTime, type 8 waiting
    or 9 all, pageSize, currentPage, pcursor) pages by pcursor ("" first,
    then the echoed cursor until "nomore"), checks the window (<= 1 day,
    within 90 days) and pageSize (<= 100), by create (queryType 1) or update
    time (2); its entries are the declared list view (no logisticsInfo, no
    productNum: the detail has those).
  - open.seller.order.refund.detail answers the declared detail record
    (productNum 0: physical goods); approve, returngoods.approve (addressId
    optional: the shop's default return address), confirm.receipt (only in
    status 22, 30 or 40), open.refund.reject (reasonCode from
    open.refund.reject.reason; refundVersion must equal the record's
    updateTime: an optimistic lock), submit.returnInfo; each changes the
    record as the platform would and bumps updateTime.
  - Every call is recorded (method, params, answer; call_log adds its
    Idempotency-Key header and time) for the test to inspect; delay_s slows
    a method down (or every method, under "*"), as a slow platform would.
  - Orders: add_order() keeps an order for open.order.detail ({oid}; the
    declared orderBaseInfo / orderItemInfo / orderAddress, in its docstring).
  - Pushes: push(url, topic, record) encrypts the message with the app's
    message key (AES-CBC, zero IV, PKCS#5, Base64; via the openssl command)
    and POSTs it as text/plain, returning the HTTP status and answer.

Python standard library plus the openssl command line only.
"""
import base64
import hashlib
import hmac
import http.client
import http.server
import json
import subprocess
import threading
import time
import urllib.parse

RATE_LIMITED = 803  # the stand-in's rate-limit code (the real one is not documented)
SIGN_ERROR = 402
VERSION_CONFLICT = 410
BAD_STATE = 420
NOT_FOUND = 404
BAD_PARAM = 400
NO_METHOD = 22      # the stand-in's codes for an unknown method and the wrong verb
WRONG_VERB = 23

# Every method returnflow may call: its declared verb and required business
# parameters (api.default.method.js; api.declaration.d.ts `request`).
DECLARED = {
    "open.order.detail": ("GET", ("oid",)),
    "open.seller.order.refund.detail": ("GET", ("refundId",)),
    "open.seller.order.refund.pcursor.list": ("GET", ("beginTime", "endTime", "type", "pageSize",
                                                      "currentPage", "pcursor")),
    "open.refund.reject.reason": ("GET", ("refundId",)),
    "open.seller.order.refund.approve": ("POST", ("refundId", "refundAmount")),
    "open.seller.order.refund.returngoods.approve": ("POST", ("refundId", "refundAmount")),
    "open.seller.order.refund.confirm.receipt": ("POST", ("refundId",)),
    "open.refund.reject": ("POST", ("refundId", "reasonCode", "refundVersion")),
    "open.refund.submit.returnInfo": ("POST", ("refundId", "expressNo", "expressCode")),
}

# The declared list view of a refund (MerchantRefundInfoView): what a list
# entry carries of the record.
LIST_FIELDS = ("oid", "refundId", "handlingWay", "negotiateStatus", "refundFee", "skuId",
               "refundReason", "status", "buyerId", "refundType", "sellerId", "refundDesc",
               "submitTime", "relItemId", "negotiateUpdateTime", "updateTime", "createTime",
               "relSkuId", "skuNick", "logisticsId", "endTime", "itemId", "receiptStatus",
               "refundReasonDesc", "expireTime")

# open.refund.reject.reason's answer (MerchantRefundRejectReasonView), the
# stand-in's list for every refund.
REJECT_REASONS = [
    {"code": 1, "desc": "买家未退货", "tip": "", "requiredRejectDesc": False,
     "requiredRejectImage": False},
    {"code": 2, "desc": "商品已影响二次销售", "tip": "", "requiredRejectDesc": True,
     "requiredRejectImage": False},
    {"code": 3, "desc": "超过售后期限", "tip": "", "requiredRejectDesc": False,
     "requiredRejectImage": False},
]


def sign(params, secret, method="MD5"):
    """The signature of the common parameters (without 'sign')."""
    text = "&".join("%s=%s" % (k, params[k]) for k in sorted(params) if k != "sign")
    text += "&signSecret=" + secret
    if method == "MD5":
        return hashlib.md5(text.encode()).hexdigest()
    mac = hmac.new(secret.encode(), text.encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def encrypt_push(plain, message_key_b64):
    key = base64.b64decode(message_key_b64)
    cipher = {16: "-aes-128-cbc", 24: "-aes-192-cbc", 32: "-aes-256-cbc"}[len(key)]
    p = subprocess.run(["openssl", "enc", cipher, "-K", key.hex(), "-iv", "0" * 32, "-base64", "-A"],
                       input=plain.encode(), capture_output=True, check=True)
    return p.stdout.decode()


class Standin:
    def __init__(self, app_key="ks-app", sign_secret="ks-sign-secret", access_token="ks-token",
                 message_key_b64="AAECAwQFBgcICQoLDA0ODw==", port=0):
        self.app_key, self.sign_secret, self.access_token = app_key, sign_secret, access_token
        self.message_key = message_key_b64
        self.seller_id = 2001234567890123456        # sellerId of the shop's records
        self.seller_open_id = "f0c3a9d1e87b4c2a"    # its sellerOpenId (the app's open_id)
        self.default_address_id = 9000001           # the shop's default return address
        self.refunds = {}  # refundId (text) -> record (dict, ids as numbers like the platform)
        self.orders = {}   # oid (text) -> order detail
        self.calls = []    # (method, params dict, answer dict)
        self.rate_limit_next = 0
        self.call_log = []  # every API call: {method, param, idempotency_key, answer, at}
        self.delay_s = {}   # method ("*": every method) -> seconds to wait before answering
        self.received = []  # (method, param JSON text) of every call, as it arrives
        self.lock = threading.Lock()
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
                path = url.path
                # the parameters where the verb puts them: the query of a GET,
                # the form body of a POST (nothing is read from the other)
                form = url.query if verb == "GET" else body
                if path.startswith("/_control/"):
                    form = "&".join(x for x in (url.query, body) if x)
                params = {k: v[0] for k, v in urllib.parse.parse_qs(form, keep_blank_values=True).items()}
                if path.startswith("/_control/"):
                    answer = standin._control(path, params)
                else:
                    answer = standin._call(path, params, self.headers.get("Idempotency-Key"), verb)
                body = json.dumps(answer).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the caller went away (a killed worker): the call still happened

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    # ---- records ------------------------------------------------------------

    def add_refund(self, refund_id, oid, handling_way=10, status=10, refund_fee=1000,
                   reason=1, sku_id=1, item_id=1, buyer_id=1, create_time=None, expire_in_ms=86400000,
                   product_num=0):
        """A refund as open.seller.order.refund.detail answers it (the declared
        MerchantRefundDetailDataView). product_num: 0 for physical goods (the
        platform counts only electronic vouchers)."""
        now = int(time.time() * 1000)
        t = create_time or now
        rec = {"refundId": int(refund_id), "oid": int(oid), "skuId": int(sku_id),
               "itemId": int(item_id), "relSkuId": 0, "relItemId": 0, "buyerId": int(buyer_id),
               "buyerOpenId": "o%x" % (int(buyer_id) * 2654435761 % (1 << 48)),
               "sellerId": self.seller_id, "refundFee": refund_fee, "refundType": 1,
               "refundReason": reason, "refundReasonDesc": "质量问题", "refundDesc": "",
               "pictures": "", "handlingWay": handling_way, "status": status,
               "negotiateStatus": 1, "negotiateReason": "0", "receiptStatus": 2,
               "productNum": product_num, "specialRefundType": 0, "logisticsId": 0,
               "logisticsInfo": {"expressNo": "", "expressCode": 0},
               "returnFreightInfo": {"returnFreightAmount": 0, "returnFreightStatus": 0},
               "createTime": t, "submitTime": t, "updateTime": t, "negotiateUpdateTime": t,
               "validNegotiateBuyerModifyTimeStamp": 0, "expireTime": t + expire_in_ms,
               "endTime": 0}
        if handling_way == 3:
            rec["exchangeInfo"] = {"skuId": int(sku_id), "skuDesc": "", "quantity": 1}
            rec["buyerExchangeAddress"] = {"province": "浙江省", "city": "杭州市",
                                           "district": "西湖区"}
        with self.lock:
            self.refunds[str(refund_id)] = rec
        return rec

    def add_order(self, oid, item, seller_open_id=None, buyer_open_id="b3f1c9e07a2d",
                  pay_time=None, send_time=None, recv_time=None, express_fee=0, discount_fee=0,
                  province="浙江省", city="杭州市", pay_type=1):
        """An order as open.order.detail answers it (data), as declared:
        {orderBaseInfo: {oid, payTime, buyerOpenId, sellerOpenId, expressFee,
         discountFee, totalFee, status, sendTime, recvTime (the buyer signed
         for it, ms; 0 not yet), payType (1 WeChat, 2 Alipay)},
         orderItemInfo: {skuId, relSkuId, itemId, itemTitle, num, price,
         originalPrice, discountFee (fen), goodsCode, skuNick}: ONE item per
         order, orderAddress: {province, city, district}}.
        item: (sku_id, num, price), a dict of orderItemInfo fields, or a
        one-element list of either."""
        now = int(time.time() * 1000)
        if isinstance(item, list):
            if len(item) != 1:
                raise ValueError("a Kuaishou order has one item")
            item = item[0]
        if isinstance(item, dict):
            it = dict(item)
        else:
            sku, num, price = item
            it = {"skuId": int(sku), "itemId": int(sku) + 1, "itemTitle": "纯棉T恤 白色 L码",
                  "num": num, "price": price}
        it.setdefault("relSkuId", 0)
        it.setdefault("originalPrice", it.get("price", 0))
        it.setdefault("discountFee", 0)
        it.setdefault("goodsCode", "")
        it.setdefault("skuNick", "")
        recv = now - 2 * 86400000 if recv_time is None else recv_time
        base = {"oid": int(oid), "payTime": pay_time or now - 5 * 86400000,
                "buyerOpenId": buyer_open_id, "sellerOpenId": seller_open_id or self.seller_open_id,
                "expressFee": express_fee, "discountFee": discount_fee,
                "totalFee": it.get("num", 0) * it.get("price", 0) + express_fee - discount_fee,
                "status": 50 if recv else 40, "sendTime": send_time or now - 4 * 86400000,
                "recvTime": recv, "payType": pay_type, "cpsType": 1}
        order = {"orderBaseInfo": base, "orderItemInfo": it,
                 "orderAddress": {"province": province, "city": city, "district": ""},
                 "orderRefundList": [], "orderLogisticsInfo": []}
        with self.lock:
            self.orders[str(oid)] = order
        return order

    def update_refund(self, refund_id, **changes):
        with self.lock:
            rec = self.refunds[str(refund_id)]
            rec.update(changes)
            rec["updateTime"] = max(int(time.time() * 1000), rec["updateTime"] + 1)
            return dict(rec)

    def log_of(self, method=None, refund_id=None):
        """call_log entries, optionally of one method and/or one refundId."""
        with self.lock:
            return [dict(c) for c in self.call_log
                    if (method is None or c["method"] == method)
                    and (refund_id is None or str((c["param"] or {}).get("refundId")) == str(refund_id))]

    def calls_of(self, method):
        with self.lock:
            return [c for c in self.calls if c[0] == method]

    def _control(self, path, p):
        """Test controls (not part of the platform): /_control/ratelimit?n=K makes
        the next K calls answer RATE_LIMITED; /_control/calls lists the calls."""
        with self.lock:
            if path == "/_control/ratelimit":
                self.rate_limit_next = int(p.get("n", "1"))
                return {"ok": True}
            if path == "/_control/calls":
                return {"calls": [{"method": m, "answer": a} for m, _, a in self.calls]}
        return {"error": "unknown control"}

    # ---- API ---------------------------------------------------------------------

    def _fail(self, code, msg, sub_code=""):
        """The declared error answer."""
        return {"result": code, "error_msg": msg, "code": str(code), "msg": msg,
                "sub_code": sub_code or str(code), "sub_msg": msg}

    def _call(self, path, p, idempotency_key=None, verb="POST"):
        method = p.get("method", "")
        with self.lock:
            self.received.append((method, p.get("param") or ""))
        delay = self.delay_s.get(method) or self.delay_s.get("*")
        if delay:
            time.sleep(delay)
        with self.lock:
            answer = self._check(path, p)
            if answer is None:
                answer = self._declared(method, verb, p.get("param"))
            if answer is None:
                try:
                    param = json.loads(p.get("param") or "{}")
                    answer = self._dispatch(method, param)
                except (ValueError, KeyError, TypeError) as e:
                    answer = self._fail(BAD_PARAM, "bad param: %s" % e)
            self.calls.append((method, dict(p), answer))
            try:
                param = json.loads(p.get("param") or "{}")
            except ValueError:
                param = None
            self.call_log.append({"method": method, "verb": verb, "param": param,
                                  "idempotency_key": idempotency_key, "answer": answer,
                                  "at": int(time.time() * 1000)})
        return answer

    def _check(self, path, p):
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            return self._fail(RATE_LIMITED, "request too frequent")
        for k in ("appkey", "method", "version", "param", "access_token", "timestamp",
                  "signMethod", "sign"):
            if k not in p:
                return self._fail(BAD_PARAM, "missing common parameter %s" % k)
        if p["appkey"] != self.app_key:
            return self._fail(BAD_PARAM, "unknown appkey")
        if p["access_token"] != self.access_token:
            return self._fail(BAD_PARAM, "invalid access_token")
        if "/" + p["method"].replace(".", "/") != path:
            return self._fail(BAD_PARAM, "method does not match the path")
        if p["signMethod"] not in ("MD5", "HMAC_SHA256"):
            return self._fail(BAD_PARAM, "unknown signMethod")
        if not hmac.compare_digest(sign(p, self.sign_secret, p["signMethod"]), p["sign"]):
            return self._fail(SIGN_ERROR, "sign error")
        try:
            if abs(int(p["timestamp"]) - time.time() * 1000) > 10 * 60 * 1000:
                return self._fail(BAD_PARAM, "timestamp too far from now")
        except ValueError:
            return self._fail(BAD_PARAM, "timestamp is not a number")
        return None

    def _declared(self, method, verb, param_text):
        """None when method is declared, called with its verb and its required
        parameters; else the platform's refusal."""
        if method not in DECLARED:
            return self._fail(NO_METHOD, "unknown method %s" % method, "api.not.found")
        want, required = DECLARED[method]
        if verb != want:
            return self._fail(WRONG_VERB, "%s is a %s method, called with %s" % (method, want, verb),
                              "http.method.not.allowed")
        try:
            param = json.loads(param_text or "{}")
        except ValueError:
            return self._fail(BAD_PARAM, "param is not JSON")
        if not isinstance(param, dict):
            return self._fail(BAD_PARAM, "param is not a JSON object")
        missing = [k for k in required if k not in param or param[k] is None]
        if missing:
            return self._fail(BAD_PARAM, "missing required parameter %s" % ", ".join(missing),
                              "param.missing")
        return None

    def _record(self, param):
        rec = self.refunds.get(str(param["refundId"]))
        if rec is None:
            raise KeyError("no refund %s" % param["refundId"])
        return rec

    def _touch(self, rec, **changes):
        rec.update(changes)
        rec["updateTime"] = max(int(time.time() * 1000), rec["updateTime"] + 1)

    def _dispatch(self, method, param):
        if method == "open.seller.order.refund.pcursor.list":
            return self._list(param)
        if method == "open.seller.order.refund.detail":
            return {"result": 1, "data": dict(self._record(param))}
        if method == "open.order.detail":
            order = self.orders.get(str(param["oid"]))
            return {"result": 1, "data": order} if order else self._fail(NOT_FOUND, "no order")
        if method == "open.refund.reject.reason":
            self._record(param)
            return {"result": 1, "data": [dict(r) for r in REJECT_REASONS]}
        if method in ("open.seller.order.refund.approve", "open.seller.order.refund.returngoods.approve"):
            rec = self._record(param)
            if rec["status"] not in (10, 11) or rec["negotiateStatus"] != 1:
                return self._fail(BAD_STATE, "refund %s is not waiting for the seller" % rec["refundId"])
            if int(param["refundAmount"]) > rec["refundFee"]:
                return self._fail(BAD_PARAM, "refundAmount above refundFee")
            if method.endswith("returngoods.approve"):
                # addressId is optional: without it, the shop's default return address
                address = param.get("addressId") or self.default_address_id
                self._touch(rec, status=30, negotiateStatus=2, address=str(address))
            else:
                self._touch(rec, status=50, negotiateStatus=2)
            return {"result": 1, "data": {}}
        if method == "open.seller.order.refund.confirm.receipt":
            rec = self._record(param)
            if rec["status"] not in (22, 30, 40):
                return self._fail(BAD_STATE, "confirm.receipt only in status 22, 30 or 40")
            self._touch(rec, status=50)
            return {"result": 1, "data": {}}
        if method == "open.refund.reject":
            rec = self._record(param)
            reason = next((r for r in REJECT_REASONS if r["code"] == param["reasonCode"]), None)
            if reason is None:
                return self._fail(BAD_PARAM, "reasonCode %s is not one of open.refund.reject.reason's"
                                  % param["reasonCode"])
            if reason["requiredRejectDesc"] and not param.get("rejectDesc"):
                return self._fail(BAD_PARAM, "rejectDesc is required for reasonCode %d" % reason["code"])
            if int(param["refundVersion"]) != rec["updateTime"]:
                return self._fail(VERSION_CONFLICT, "refundVersion is stale: the record changed")
            self._touch(rec, negotiateStatus=3, sellerDisagreeReason=reason["code"],
                        sellerDisagreeDesc=param.get("rejectDesc", ""))
            return {"result": 1, "data": {}}
        if method == "open.refund.submit.returnInfo":
            rec = self._record(param)
            self._touch(rec, status=40, logisticsInfo={"expressNo": str(param["expressNo"]),
                                                       "expressCode": param.get("expressCode", 0)})
            return {"result": 1, "data": {}}
        return self._fail(BAD_PARAM, "unknown method %s" % method)

    def _list(self, param):
        begin, end = int(param["beginTime"]), int(param["endTime"])
        now = int(time.time() * 1000)
        if end < begin or end - begin > 86400000:
            return self._fail(BAD_PARAM, "the window must be at most one day")
        if begin < now - 90 * 86400000:
            return self._fail(BAD_PARAM, "the window must be within 90 days")
        size = int(param["pageSize"])
        if not 1 <= size <= 100:
            return self._fail(BAD_PARAM, "pageSize must be 1..100")
        kind = int(param["type"])
        if kind not in (8, 9):
            return self._fail(BAD_PARAM, "type must be 8 (waiting for a refund) or 9 (all)")
        if int(param["currentPage"]) < 1:
            return self._fail(BAD_PARAM, "currentPage must be 1 or more")
        field = "updateTime" if int(param.get("queryType", 1)) == 2 else "createTime"
        cursor = param.get("pcursor", "")
        if cursor == "nomore":
            return self._fail(BAD_PARAM, "pcursor nomore: the listing is finished")
        # The cursor is the key of the last record given (time_refundId), not an
        # offset: a record that leaves the window between pages (updated since)
        # does not make the next page skip another.
        try:
            after = tuple(int(x) for x in cursor.split("_")) if cursor else None
        except ValueError:
            return self._fail(BAD_PARAM, "pcursor is not one this server gave")
        hits = sorted((r for r in self.refunds.values() if begin <= r[field] < end
                       and (kind == 9 or r["status"] < 60)
                       and (after is None or (r[field], r["refundId"]) > after)),
                      key=lambda r: (r[field], r["refundId"]))
        page = hits[:size]
        more = len(hits) > size
        nxt = "%d_%d" % (page[-1][field], page[-1]["refundId"]) if more else "nomore"
        entries = [{k: r[k] for k in LIST_FIELDS if k in r} for r in page]
        return {"result": 1, "data": {"currentPage": int(param["currentPage"]), "pageSize": size,
                                      "totalPage": (len(hits) + size - 1) // size,
                                      "totalSize": len(hits), "beginTime": begin, "endTime": end,
                                      "refundOrderInfoList": entries, "pcursor": nxt}}

    def signed_request(self, method, param, verb=None, placement=None, sign_method="MD5"):
        """Call the stand-in as a client would, correctly signed (for tests of
        what it refuses): the declared verb unless verb is given, the
        parameters where that verb puts them unless placement ("query" or
        "body") says otherwise. Returns the answer (dict)."""
        verb = verb or DECLARED.get(method, ("GET", ()))[0]
        placement = placement or ("query" if verb == "GET" else "body")
        p = {"appkey": self.app_key, "method": method, "version": "1",
             "param": json.dumps(param, sort_keys=True, separators=(",", ":")),
             "access_token": self.access_token, "timestamp": str(int(time.time() * 1000)),
             "signMethod": sign_method}
        p["sign"] = sign(p, self.sign_secret, sign_method)
        form = urllib.parse.urlencode(p)
        path = "/" + method.replace(".", "/")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            if placement == "query":
                conn.request(verb, path + "?" + form)
            else:
                conn.request(verb, path, body=form.encode(),
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
            return json.loads(conn.getresponse().read().decode())
        finally:
            conn.close()

    # ---- pushes -------------------------------------------------------------------

    def push_message(self, topic, rec, event_id, test=False):
        """The decrypted envelope of a push about rec."""
        if test:
            return json.dumps({"test": True})
        info = {"orderId": rec["oid"], "refundId": rec["refundId"],
                "handlingWay": rec["handlingWay"], "specialRefundType": 0,
                "status": rec["status"], "createTime": rec["createTime"]}
        if topic.endswith("updateRefund"):
            info["updateTime"] = rec["updateTime"]
        return json.dumps({"eventId": event_id, "bizId": rec["refundId"], "userId": 1,
                           "openId": "open-1", "appKey": self.app_key, "event": topic,
                           "info": json.dumps(info), "createTime": int(time.time() * 1000)})

    def push(self, host, port, path, plain, key_b64=None):
        """POST an encrypted push; returns (status, answer text)."""
        body = encrypt_push(plain, key_b64 or self.message_key)
        conn = http.client.HTTPConnection(host, port, timeout=10)
        try:
            conn.request("POST", path, body=body, headers={"Content-Type": "text/plain"})
            resp = conn.getresponse()
            return resp.status, resp.read().decode()
        finally:
            conn.close()


def douyin_push(host, port, path, app_key, app_secret, messages, sign_override=None):
    """POST a Douyin push (a JSON array of {tag, msg_id, data}) with its
    event-sign header; returns (status, answer text)."""
    body = json.dumps(messages)
    signature = sign_override or hashlib.md5((app_key + body + app_secret).encode()).hexdigest()
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("POST", path, body=body.encode(),
                     headers={"Content-Type": "application/json", "event-sign": signature,
                              "app-id": app_key})
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def main():
    """Serve a stand-in until stdin closes: `python3 kuaishou.py N` preloads N
    refunds (ids 2401234567890100000 + i) and prints the port on one line."""
    import sys
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    s = Standin()
    now = int(time.time() * 1000)
    for i in range(n):
        s.add_refund(2401234567890100000 + i, 2301234567890100000 + i,
                     create_time=now - 3600000 + i)
    print(s.port, flush=True)
    sys.stdin.read()
    s.close()


if __name__ == "__main__":
    main()
