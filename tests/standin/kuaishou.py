"""A stand-in for the Kuaishou open platform (快手电商开放平台), for tests.

It speaks the protocol PLATFORMS.md documents, and refuses what the real
platform would refuse; it is never a stub that says yes to everything:

  - API calls: POST (form-urlencoded) or GET to the method's path
    (open.seller.order.refund.detail -> /open/seller/order/refund/detail) with
    the common parameters appkey, method, version, param (JSON), access_token,
    timestamp (ms), signMethod (MD5 | HMAC_SHA256) and sign. The sign is
    checked (sorted k=v joined by '&', then '&signSecret=SECRET'; MD5 lowercase
    hex, or HMAC-SHA256 keyed with the secret in Base64); a wrong sign, app
    key, token, method/path mismatch or a stale timestamp is refused.
  - Answers {"result": 1, "data": ...} on success, {"result": <code>,
    "error_msg": ...} otherwise. Rate limiting on demand: the next N calls
    answer RATE_LIMITED; delay_s makes answers that much later.
  - open.seller.order.refund.pcursor.list pages by pcursor ("" first, then
    the echoed cursor until "nomore"), checks the window (<= 1 day, within 90
    days) and pageSize (<= 100), by create (queryType 1) or update time (2).
  - detail, approve, returngoods.approve, confirm.receipt (only in status 22,
    30 or 40), open.refund.reject (refundVersion must equal the record's
    updateTime: an optimistic lock), submit.returnInfo; each changes the
    record as the platform would and bumps updateTime.
  - Every call is recorded (method, params, answer; call_log adds its
    Idempotency-Key header and time) for the test to inspect; delay_s slows
    a method down (or every method, under "*"), as a slow platform would.
  - Orders: add_order() keeps an order for open.seller.order.detail (shape in
    its docstring).
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
                self._serve(urllib.parse.urlparse(self.path).query)

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                self._serve(self.rfile.read(n).decode("utf-8", "replace"))

            def _serve(self, form):
                params = {k: v[0] for k, v in urllib.parse.parse_qs(form, keep_blank_values=True).items()}
                path = urllib.parse.urlparse(self.path).path
                if path.startswith("/_control/"):
                    answer = standin._control(path, params)
                else:
                    answer = standin._call(path, params, self.headers.get("Idempotency-Key"))
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
                   reason=1, sku_id=1, item_id=1, buyer_id=1, create_time=None, expire_in_ms=86400000):
        now = int(time.time() * 1000)
        rec = {"refundId": int(refund_id), "oid": int(oid), "skuId": int(sku_id),
               "itemId": int(item_id), "buyerId": int(buyer_id), "refundFee": refund_fee,
               "refundReason": reason, "refundReasonDesc": "", "refundDesc": "", "pictures": [],
               "handlingWay": handling_way, "status": status, "negotiateStatus": 1,
               "receiptStatus": 2, "productNum": 1,
               "logisticsInfo": {"expressNo": "", "expressCode": 0},
               "returnFreightInfo": {"returnFreightAmount": 0},
               "createTime": create_time or now, "updateTime": create_time or now,
               "expireTime": (create_time or now) + expire_in_ms, "endTime": 0}
        with self.lock:
            self.refunds[str(refund_id)] = rec
        return rec

    def add_order(self, oid, items, seller_id=1, buyer_id=1, pay_time=None, delivery_time=None,
                  express_fee=0, discount_fee=0, province="Zhejiang", freight_insured=False):
        """An order as open.seller.order.detail answers it (data):
        {oid, sellerId, buyerId, payTime, deliveryTime (buyer signed for it, ms;
        0 not yet), expressFee, discountFee (fen), province, freightInsured,
        orderItemList: [{skuId, itemId, itemTitle, num, price (fen per unit),
        category, supplierId}]}. items: [(sku_id, num, price)] or dicts."""
        now = int(time.time() * 1000)
        lines = []
        for it in items:
            if isinstance(it, dict):
                lines.append(dict(it))
            else:
                sku, num, price = it
                lines.append({"skuId": int(sku), "itemId": int(sku), "itemTitle": "item %s" % sku,
                              "num": num, "price": price, "category": "apparel",
                              "supplierId": "sup-1"})
        order = {"oid": int(oid), "sellerId": int(seller_id), "buyerId": int(buyer_id),
                 "payTime": pay_time or now - 5 * 86400000,
                 "deliveryTime": now - 2 * 86400000 if delivery_time is None else delivery_time,
                 "expressFee": express_fee, "discountFee": discount_fee, "province": province,
                 "freightInsured": freight_insured, "orderItemList": lines}
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

    def _fail(self, code, msg):
        return {"result": code, "error_msg": msg}

    def _call(self, path, p, idempotency_key=None):
        method = p.get("method", "")
        with self.lock:
            self.received.append((method, p.get("param") or ""))
        delay = self.delay_s.get(method) or self.delay_s.get("*")
        if delay:
            time.sleep(delay)
        with self.lock:
            answer = self._check(path, p)
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
            self.call_log.append({"method": method, "param": param,
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
        if method == "open.seller.order.detail":
            order = self.orders.get(str(param["oid"]))
            return {"result": 1, "data": order} if order else self._fail(NOT_FOUND, "no order")
        if method in ("open.seller.order.refund.approve", "open.seller.order.refund.returngoods.approve"):
            rec = self._record(param)
            if rec["status"] not in (10, 11) or rec["negotiateStatus"] != 1:
                return self._fail(BAD_STATE, "refund %s is not waiting for the seller" % rec["refundId"])
            if int(param["refundAmount"]) > rec["refundFee"]:
                return self._fail(BAD_PARAM, "refundAmount above refundFee")
            if method.endswith("returngoods.approve"):
                if not param.get("addressId"):
                    return self._fail(BAD_PARAM, "addressId is required")
                self._touch(rec, status=30, negotiateStatus=2)
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
            if int(param.get("refundVersion", -1)) != rec["updateTime"]:
                return self._fail(VERSION_CONFLICT, "refundVersion is stale: the record changed")
            self._touch(rec, negotiateStatus=3)
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
        size = int(param.get("pageSize", 20))
        if not 1 <= size <= 100:
            return self._fail(BAD_PARAM, "pageSize must be 1..100")
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
                       and (after is None or (r[field], r["refundId"]) > after)),
                      key=lambda r: (r[field], r["refundId"]))
        page = hits[:size]
        more = len(hits) > size
        nxt = "%d_%d" % (page[-1][field], page[-1]["refundId"]) if more else "nomore"
        return {"result": 1, "data": {"refundOrderInfoList": [dict(r) for r in page],
                                      "pcursor": nxt}}

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
