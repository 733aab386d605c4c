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
    declared-required business parameter missing is refused; an expired or
    unknown access token with TOKEN_INVALID (28).
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
    Idempotency-Key header, time and the token's shop) for the test to inspect; delay_s slows
    a method down (or every method, under "*"), as a slow platform would.
  - Orders: add_order() keeps an order for open.order.detail ({oid}; the
    declared orderBaseInfo / orderItemInfo / orderAddress, in its docstring).
  - Pushes: push(url, topic, record) encrypts the message with the app's
    message key (AES-CBC, zero IV, PKCS#5, Base64; via the openssl command)
    and POSTs it as text/plain, returning the HTTP status and answer;
    push_message() names the record's shop (openId, userId).
  - Shops, kept apart as the platform keeps them: add_shop(open_id, name)
    adds one (its open_id is the shop's id for this app, 32 hex digits like
    the platform's); add_refund / add_order take open_id (the shop; default:
    the default shop, open_id DEFAULT_OPEN_ID, which the existing records
    use). An API call's access token names its shop: the pcursor list holds
    only that shop's refunds, and a call about another shop's record is
    answered as if it did not exist (counted as other_shop_token_calls).
  - OAuth, as the platform's "APP授权说明" and the npm package's client
    (es/main.js getAccessTokenByCode / getAccessTokenByRefreshToken) have it:
      GET  AUTHORIZE_PATH (/oauth/authorize; on open.kwaixiaodian.com for
           real) ?app_id&redirect_uri&scope&response_type=code&state: the
           owner logs in and agrees at once: 302 to
           redirect_uri?code=CODE&state=STATE. The shop is the page's `shop`
           query parameter (the test appends it: the owner's login), else
           authorize_as(open_id), else the default shop. A wrong app_id,
           response_type, redirect_uri (not http(s), or not one of
           redirect_uris when given) or scope (not one of SCOPES) is an error
           page: 400 with {result, error, error_msg}. A code is single-use,
           bound to the app and lives code_life_s (the platform's 2 minutes).
      GET  ACCESS_TOKEN_PATH ?app_id&app_secret&code&grant_type=code
           -> {"result": 1, "access_token", "expires_in" (token_life_s),
           "refresh_token", "refresh_token_expires_in" (refresh_life_s),
           "open_id", "scopes": [...]}.
      POST REFRESH_TOKEN_PATH ?app_id&app_secret&grant_type=refresh_token
           &refresh_token (in the query, as main.js sends them; a form body
           is read too) -> a new pair, the same fields without open_id (the
           platform's answer has none); the old refresh token is refused from
           then on (the platform: "within 5 minutes"; counted as
           used_refresh_token_attempts), the new one inherits its expiry
           (refresh_token_expires_in decreases), access tokens already issued
           live out their own life. An expired refresh token, or one of a
           shop that cancelled the authorisation (revoke_refresh(open_id)),
           is refused.
    Refusals are HTTP 200 with {"result": <code>, "error", "error_msg"}, the
    platform's codes: OAUTH_INVALID_REQUEST (a parameter missing),
    OAUTH_UNAUTHORIZED_CLIENT (app_id, app_secret), OAUTH_UNSUPPORTED_GRANT_TYPE,
    OAUTH_INVALID_GRANT (an unknown, used or expired code), OAUTH_ACCESS_DENIED
    (a bad, used, revoked or expired refresh token); the other verb is
    HTTP 405 with the same fields (OAUTH_INVALID_REQUEST). Every OAuth
    request is in oauth_log.
  - Access tokens: the fixed access_token given to the constructor is the
    default shop's and never expires (the existing tests use it); one issued
    by OAuth lives token_life_s (default 3600; set per test, also later:
    what is issued from then on). An API call with an expired token is
    refused with TOKEN_INVALID (28, "access_token expired"; returnflow's
    RF_KUAISHOU_TOKEN_INVALID_CODES), an unknown one likewise; counted as
    expired_token_calls / unknown_token_calls. expire_access(open_id) ends a
    shop's issued tokens at once.
  - counts() (and GET /_control/counts): {"calls", "calls_by_shop",
    "expired_token_calls", "unknown_token_calls", "other_shop_token_calls",
    "refreshes": {open_id: n}, "used_refresh_token_attempts",
    "revoked_refresh_token_attempts", "expired_refresh_token_attempts",
    "codes_issued", "codes_exchanged", "code_refusals"}. The other controls
    are listed in _control's docstring.

Python standard library plus the openssl command line only.
"""
import base64
import hashlib
import hmac
import http.client
import http.server
import json
import secrets
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
TOKEN_INVALID = 28  # an expired or unknown access_token (RF_KUAISHOU_TOKEN_INVALID_CODES)

# OAuth: the paths (the authorise page is on open.kwaixiaodian.com, the two
# token requests on the API host openapi.kwaixiaodian.com; the stand-in serves
# all three on its one port) and the platform's OAuth error codes ("授权错误码").
AUTHORIZE_PATH = "/oauth/authorize"
ACCESS_TOKEN_PATH = "/oauth2/access_token"
REFRESH_TOKEN_PATH = "/oauth2/refresh_token"
OAUTH_INVALID_REQUEST = 100200100        # invalid_request: a required parameter missing
OAUTH_UNAUTHORIZED_CLIENT = 100200101    # unauthorized_client: unknown app, wrong app_secret
OAUTH_ACCESS_DENIED = 100200102          # access_denied: a bad, used (discarded) or revoked refresh token
OAUTH_UNSUPPORTED_RESPONSE_TYPE = 100200103
OAUTH_UNSUPPORTED_GRANT_TYPE = 100200104
OAUTH_INVALID_GRANT = 100200105          # invalid_grant: the code is wrong, used or expired
OAUTH_INVALID_SCOPE = 100200106
OAUTH_INVALID_OPENID = 100200107
# The platform's permission groups (scope); a scope outside them is refused.
SCOPES = ("user_base", "user_info", "merchant_user", "merchant_item", "merchant_order",
          "merchant_refund", "merchant_distribution", "merchant_logistics", "merchant_promotion",
          "merchant_cs", "merchant_comment", "merchant_servicemarket")

DEFAULT_OPEN_ID = "f0c3a9d1e87b4c2a"     # the default shop's open_id (the existing records')
DEFAULT_SELLER_ID = 2001234567890123456  # and its sellerId

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
    # A Standin made with __new__ (tests that only build push messages) still
    # names the default shop.
    default_open_id = seller_open_id = DEFAULT_OPEN_ID

    def __init__(self, app_key="ks-app", sign_secret="ks-sign-secret", access_token="ks-token",
                 message_key_b64="AAECAwQFBgcICQoLDA0ODw==", port=0, app_secret="ks-app-secret",
                 token_life_s=3600, refresh_life_s=180 * 86400, code_life_s=120,
                 redirect_uris=None):
        self.app_key, self.sign_secret, self.access_token = app_key, sign_secret, access_token
        self.app_secret = app_secret            # OAuth's (not the sign secret)
        self.token_life_s = token_life_s        # life of an access token issued from now on
        self.refresh_life_s = refresh_life_s    # life of a refresh token issued by a code
        self.code_life_s = code_life_s          # the platform's: 2 minutes
        self.redirect_uris = redirect_uris      # registered callbacks (None: any http(s) one)
        self.message_key = message_key_b64
        self.refresh_delay_s = 0.0              # refresh answers of the shops in
        self.refresh_delay_for = set()          # refresh_delay_for come this late
        self.refreshes_in_flight = 0
        self.rate_limit_shop = {}               # open_id -> its next N calls rate limited
        self.seller_id = DEFAULT_SELLER_ID          # sellerId of the default shop's records
        self.seller_open_id = DEFAULT_OPEN_ID       # its sellerOpenId (the app's open_id)
        self.default_open_id = DEFAULT_OPEN_ID
        self.default_address_id = 9000001           # the shop's default return address
        self.refunds = {}  # refundId (text) -> record (dict, ids as numbers like the platform)
        self.orders = {}   # oid (text) -> order detail
        self.calls = []    # (method, params dict, answer dict)
        self.rate_limit_next = 0
        self.call_log = []  # every API call: {method, param, idempotency_key, answer, at, open_id}
        self.delay_s = {}   # method ("*": every method) -> seconds to wait before answering
        self.received = []  # (method, param JSON text) of every call, as it arrives
        self.oauth_log = []  # every OAuth request: {path, verb, params, status, answer, at}
        self.lock = threading.Lock()
        # shops: open_id -> {open_id, name, seller_id, user_id, default_address_id}
        self.shops = {DEFAULT_OPEN_ID: {"open_id": DEFAULT_OPEN_ID, "name": "默认测试店铺",
                                        "seller_id": DEFAULT_SELLER_ID, "user_id": 1,
                                        "default_address_id": self.default_address_id}}
        self._refund_shop = {}  # refundId (text) -> open_id (absent: the default shop)
        self._order_shop = {}   # oid (text) -> open_id (absent: the default shop)
        self._codes = {}        # code -> {open_id, app_id, redirect_uri, scopes, expires_at, used}
        self._access = {}       # access token -> {open_id, scopes, expires_at}
        self._refresh = {}      # refresh token -> {open_id, scopes, expires_at, state}
        self._login = None      # authorize_as(): the shop whose owner is logged in
        self.counters = {"calls": 0, "calls_by_shop": {}, "expired_token_calls": 0,
                         "unknown_token_calls": 0, "other_shop_token_calls": 0, "refreshes": {},
                         "used_refresh_token_attempts": 0, "revoked_refresh_token_attempts": 0,
                         "expired_refresh_token_attempts": 0, "codes_issued": 0,
                         "codes_exchanged": 0, "code_refusals": 0, "rate_limited_by_shop": {}}
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
                if path in (AUTHORIZE_PATH, ACCESS_TOKEN_PATH, REFRESH_TOKEN_PATH):
                    status, answer, headers = standin._oauth(verb, path, url.query, body)
                    return self._answer(status, answer, headers)
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
                self._answer(200, answer, {})

            def _answer(self, status, answer, headers):
                body = b"" if answer is None else json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    if answer is not None:
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

    # ---- shops ---------------------------------------------------------------

    def add_shop(self, open_id=None, name="", seller_id=None, user_id=None):
        """Another shop (a seller that can authorise the app): its open_id (the
        shop's id for this app; 32 hex digits made up when None), name,
        sellerId and userId (made up from the open_id when None). Returns the
        shop {open_id, name, seller_id, user_id, default_address_id}."""
        open_id = open_id or secrets.token_hex(16)
        h = int(hashlib.sha256(open_id.encode()).hexdigest(), 16)
        with self.lock:
            if open_id in self.shops:
                raise ValueError("shop %s exists" % open_id)
            shop = {"open_id": open_id, "name": name or "测试店铺%d" % len(self.shops),
                    "seller_id": int(seller_id or 2000000000000000000 + h % 10 ** 18),
                    "user_id": int(user_id or 1000000000 + h % 10 ** 9),
                    "default_address_id": 9000001 + len(self.shops)}
            self.shops[open_id] = shop
        return shop

    def _shop(self, open_id):
        shop = self.shops.get(open_id or self.default_open_id)
        if shop is None:
            raise ValueError("no shop %s: add_shop() it first" % open_id)
        return shop

    def shop_of_refund(self, refund_id):
        """The open_id of the shop a refund belongs to."""
        owners = getattr(self, "_refund_shop", None) or {}
        return owners.get(str(refund_id), self.default_open_id)

    def shop_of_order(self, oid):
        return self._order_shop.get(str(oid), self.default_open_id)

    # ---- records ------------------------------------------------------------

    def add_refund(self, refund_id, oid, handling_way=10, status=10, refund_fee=1000,
                   reason=1, sku_id=1, item_id=1, buyer_id=1, create_time=None, expire_in_ms=86400000,
                   product_num=0, open_id=None, seller_open_id=None):
        """A refund as open.seller.order.refund.detail answers it (the declared
        MerchantRefundDetailDataView). product_num: 0 for physical goods (the
        platform counts only electronic vouchers). open_id (or seller_open_id):
        the shop it belongs to (add_shop; default: the default shop); only
        that shop's access tokens see it."""
        shop = self._shop(open_id or seller_open_id)
        now = int(time.time() * 1000)
        t = create_time or now
        rec = {"refundId": int(refund_id), "oid": int(oid), "skuId": int(sku_id),
               "itemId": int(item_id), "relSkuId": 0, "relItemId": 0, "buyerId": int(buyer_id),
               "buyerOpenId": "o%x" % (int(buyer_id) * 2654435761 % (1 << 48)),
               "sellerId": shop["seller_id"] if shop["open_id"] != self.default_open_id
               else self.seller_id, "refundFee": refund_fee, "refundType": 1,
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
            if shop["open_id"] == self.default_open_id:
                self._refund_shop.pop(str(refund_id), None)
            else:
                self._refund_shop[str(refund_id)] = shop["open_id"]
        return rec

    def add_order(self, oid, item, seller_open_id=None, buyer_open_id="b3f1c9e07a2d",
                  pay_time=None, send_time=None, recv_time=None, express_fee=0, discount_fee=0,
                  province="浙江省", city="杭州市", pay_type=1, open_id=None):
        """An order as open.order.detail answers it (data), as declared:
        {orderBaseInfo: {oid, payTime, buyerOpenId, sellerOpenId, expressFee,
         discountFee, totalFee, status, sendTime, recvTime (the buyer signed
         for it, ms; 0 not yet), payType (1 WeChat, 2 Alipay)},
         orderItemInfo: {skuId, relSkuId, itemId, itemTitle, num, price,
         originalPrice, discountFee (fen), goodsCode, skuNick}: ONE item per
         order, orderAddress: {province, city, district}}.
        item: (sku_id, num, price), a dict of orderItemInfo fields, or a
        one-element list of either. The shop it belongs to (whose tokens see
        it): open_id, else seller_open_id when that names a shop (add_shop),
        else the default shop; sellerOpenId is seller_open_id or that shop's
        open_id (an old test gives a seller_open_id of no shop: the field only)."""
        if open_id is None and seller_open_id in self.shops:
            open_id = seller_open_id
        shop = self._shop(open_id)
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
                "buyerOpenId": buyer_open_id, "sellerOpenId": seller_open_id or shop["open_id"],
                "expressFee": express_fee, "discountFee": discount_fee,
                "totalFee": it.get("num", 0) * it.get("price", 0) + express_fee - discount_fee,
                "status": 50 if recv else 40, "sendTime": send_time or now - 4 * 86400000,
                "recvTime": recv, "payType": pay_type, "cpsType": 1}
        order = {"orderBaseInfo": base, "orderItemInfo": it,
                 "orderAddress": {"province": province, "city": city, "district": ""},
                 "orderRefundList": [], "orderLogisticsInfo": []}
        with self.lock:
            self.orders[str(oid)] = order
            if shop["open_id"] == self.default_open_id:
                self._order_shop.pop(str(oid), None)
            else:
                self._order_shop[str(oid)] = shop["open_id"]
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

    def counts(self):
        """What happened, for tests: {calls: API calls, calls_by_shop: {open_id:
        n} (the shop the call's access token names, expired or not),
        expired_token_calls, unknown_token_calls, other_shop_token_calls (a
        call about another shop's record), refreshes: {open_id: n},
        used_refresh_token_attempts, revoked_refresh_token_attempts,
        expired_refresh_token_attempts, codes_issued, codes_exchanged,
        code_refusals}."""
        with self.lock:
            return json.loads(json.dumps(self.counters))

    def _control(self, path, p):
        """Test controls (not part of the platform), GET or POST, parameters in
        the query or a form body:
          /_control/ratelimit?n=K        the next K calls answer RATE_LIMITED
          /_control/calls                the calls
          /_control/counts               counts()
          /_control/add_shop?open_id&name     add_shop(); answers the shop
          /_control/authorize_as?open_id      authorize_as() ("" logs out)
          /_control/revoke_refresh?open_id    revoke_refresh()
          /_control/expire_access?open_id     expire_access()
          /_control/token_life?token_life_s&refresh_life_s&code_life_s  lives
                                         of what is issued from now on"""
        if path == "/_control/add_shop":
            try:
                return self.add_shop(p.get("open_id") or None, p.get("name", ""))
            except ValueError as e:
                return {"error": str(e)}
        if path == "/_control/counts":
            return self.counts()
        if path == "/_control/authorize_as":
            try:
                self.authorize_as(p.get("open_id") or None)
            except ValueError as e:
                return {"error": str(e)}
            return {"ok": True}
        if path == "/_control/revoke_refresh":
            return {"ok": True, "revoked": self.revoke_refresh(p.get("open_id", ""))}
        if path == "/_control/expire_access":
            return {"ok": True, "expired": self.expire_access(p.get("open_id", ""))}
        with self.lock:
            if path == "/_control/ratelimit":
                self.rate_limit_next = int(p.get("n", "1"))
                return {"ok": True}
            if path == "/_control/calls":
                return {"calls": [{"method": m, "answer": a} for m, _, a in self.calls]}
            if path == "/_control/token_life":
                for k in ("token_life_s", "refresh_life_s", "code_life_s"):
                    if p.get(k):
                        setattr(self, k, float(p[k]))
                return {"ok": True, "token_life_s": self.token_life_s,
                        "refresh_life_s": self.refresh_life_s, "code_life_s": self.code_life_s}
        return {"error": "unknown control"}

    # ---- OAuth -------------------------------------------------------------------

    def authorize_as(self, open_id):
        """The shop whose owner is logged in on the authorise page (None: the
        default shop); a `shop` query parameter on the page wins over it."""
        if open_id is not None:
            self._shop(open_id)
        with self.lock:
            self._login = open_id

    def revoke_refresh(self, open_id):
        """The owner cancelled the authorisation: the shop's refresh tokens are
        refused from now on (its access tokens live out their life). Returns
        how many were revoked."""
        with self.lock:
            n = 0
            for t in self._refresh.values():
                if t["open_id"] == open_id and t["state"] == "live":
                    t["state"] = "revoked"
                    n += 1
            return n

    def expire_access(self, open_id):
        """The shop's access tokens (the ones OAuth issued, not the fixed one)
        expire now. Returns how many."""
        with self.lock:
            now, n = time.time(), 0
            for t in self._access.values():
                if t["open_id"] == open_id and t["expires_at"] > now:
                    t["expires_at"] = now
                    n += 1
            return n

    def tokens_of(self, open_id):
        """The shop's OAuth tokens: {"access": [...], "refresh": [...]}, each
        {token, expires_at (s), scopes[, state]}."""
        with self.lock:
            return {"access": [dict(v, token=k) for k, v in self._access.items()
                               if v["open_id"] == open_id],
                    "refresh": [dict(v, token=k) for k, v in self._refresh.items()
                                if v["open_id"] == open_id]}

    def _token_shop(self, token):
        """(open_id, "live" | "expired") of an access token, or (None, "unknown").
        The fixed access_token lives forever, for the default shop."""
        if token and token == self.access_token:
            return self.default_open_id, "live"
        t = self._access.get(token or "")
        if t is None:
            return None, "unknown"
        return t["open_id"], ("live" if time.time() < t["expires_at"] else "expired")

    @staticmethod
    def _oauth_fail(code, error, msg):
        return {"result": code, "error": error, "error_msg": msg}

    def _new_token(self, kind):
        # shaped like the platform's (Base64 of a protobuf that names its kind)
        head = {"access": "ChFvYXV0aC5hY2Nlc3NUb2tlbh", "refresh": "ChJvYXV0aC5yZWZyZXNoVG9rZW4S"}
        return head[kind] + secrets.token_urlsafe(48)

    def _issue(self, open_id, scopes, refresh_expires_at):
        now = time.time()
        access, refresh = self._new_token("access"), self._new_token("refresh")
        self._access[access] = {"open_id": open_id, "scopes": list(scopes),
                                "expires_at": now + self.token_life_s}
        self._refresh[refresh] = {"open_id": open_id, "scopes": list(scopes),
                                  "expires_at": refresh_expires_at, "state": "live"}
        return {"result": 1, "access_token": access, "expires_in": int(self.token_life_s),
                "refresh_token": refresh,
                "refresh_token_expires_in": max(0, int(refresh_expires_at - now)),
                "scopes": list(scopes)}

    def _oauth(self, verb, path, query, body):
        """One OAuth request: (HTTP status, answer dict or None, headers)."""
        params = {k: v[0] for k, v in urllib.parse.parse_qs(query, keep_blank_values=True).items()}
        if path == REFRESH_TOKEN_PATH and verb == "POST":
            # main.js sends these in the query of its POST; a form body is taken too
            for k, v in urllib.parse.parse_qs(body, keep_blank_values=True).items():
                params.setdefault(k, v[0])
        want = "POST" if path == REFRESH_TOKEN_PATH else "GET"
        with self.lock:
            if verb != want:
                status, answer, headers = 405, self._oauth_fail(
                    OAUTH_INVALID_REQUEST, "invalid_request",
                    "%s takes %s, not %s" % (path, want, verb)), {"Allow": want}
            elif path == AUTHORIZE_PATH:
                status, answer, headers = self._authorize(params)
            elif path == ACCESS_TOKEN_PATH:
                status, answer, headers = 200, self._exchange_code(params), {}
            else:
                status, answer, headers = 200, self._refresh_tokens(params), {}
            self.oauth_log.append({"path": path, "verb": verb, "params": dict(params),
                                   "status": status, "answer": answer,
                                   "location": headers.get("Location"),
                                   "at": int(time.time() * 1000)})
            slow = path == REFRESH_TOKEN_PATH and (answer or {}).get("open_id_renewed") in \
                self.refresh_delay_for
            if slow:
                self.refreshes_in_flight += 1
        if slow:
            # the platform rotated the pair already; its answer is late (a
            # client that dies now never hears of the new refresh token)
            time.sleep(self.refresh_delay_s)
            with self.lock:
                self.refreshes_in_flight -= 1
        if answer:
            answer.pop("open_id_renewed", None)
        return status, answer, headers

    def _authorize(self, p):
        """The authorise page, the owner logged in (p["shop"], else
        authorize_as(), else the default shop) and agreeing at once: 302 to
        redirect_uri?code=CODE&state=STATE; a bad request is an error page
        (400, the platform's error fields)."""
        for k in ("app_id", "redirect_uri", "scope", "response_type"):
            if not p.get(k):
                return 400, self._oauth_fail(OAUTH_INVALID_REQUEST, "invalid_request",
                                             "missing %s" % k), {}
        if p["app_id"] != self.app_key:
            return 400, self._oauth_fail(OAUTH_UNAUTHORIZED_CLIENT, "unauthorized_client",
                                         "unknown app_id"), {}
        if p["response_type"] != "code":
            return 400, self._oauth_fail(OAUTH_UNSUPPORTED_RESPONSE_TYPE,
                                         "unsupported_response_type",
                                         "response_type must be code"), {}
        uri = urllib.parse.urlparse(p["redirect_uri"])
        registered = [urllib.parse.urlparse(u) for u in (self.redirect_uris or [])]
        if uri.scheme not in ("http", "https") or not uri.netloc or (
                registered and not any((r.scheme, r.netloc) == (uri.scheme, uri.netloc)
                                       for r in registered)):
            return 400, self._oauth_fail(OAUTH_INVALID_REQUEST, "invalid_request",
                                         "redirect_uri is not the app's callback"), {}
        scopes = [x for x in p["scope"].split(",") if x]
        if not scopes or any(x not in SCOPES for x in scopes):
            return 400, self._oauth_fail(OAUTH_INVALID_SCOPE, "invalid_scope",
                                         "unknown scope in %s" % p["scope"]), {}
        open_id = p.get("shop") or self._login or self.default_open_id
        if open_id not in self.shops:
            return 400, self._oauth_fail(OAUTH_INVALID_OPENID, "invalid_openid",
                                         "no such user"), {}
        code = secrets.token_hex(16)
        self._codes[code] = {"open_id": open_id, "app_id": p["app_id"],
                             "redirect_uri": p["redirect_uri"], "scopes": scopes,
                             "expires_at": time.time() + self.code_life_s, "used": False}
        self.counters["codes_issued"] += 1
        back = [("code", code)] + ([("state", p["state"])] if "state" in p else [])
        sep = "&" if uri.query else "?"
        location = p["redirect_uri"] + sep + urllib.parse.urlencode(back)
        return 302, None, {"Location": location}

    def _app_check(self, p, grant):
        for k in ("app_id", "app_secret", "grant_type"):
            if not p.get(k):
                return self._oauth_fail(OAUTH_INVALID_REQUEST, "invalid_request", "missing %s" % k)
        if p["app_id"] != self.app_key or not hmac.compare_digest(p["app_secret"],
                                                                   self.app_secret):
            return self._oauth_fail(OAUTH_UNAUTHORIZED_CLIENT, "unauthorized_client",
                                    "unknown app_id or wrong app_secret")
        if p["grant_type"] != grant:
            return self._oauth_fail(OAUTH_UNSUPPORTED_GRANT_TYPE, "unsupported_grant_type",
                                    "grant_type must be %s" % grant)
        return None

    def _exchange_code(self, p):
        refused = self._app_check(p, "code")
        if refused is None and not p.get("code"):
            refused = self._oauth_fail(OAUTH_INVALID_REQUEST, "invalid_request", "missing code")
        if refused is not None:
            return refused
        c = self._codes.get(p["code"])
        why = ("unknown code" if c is None else "code already used" if c["used"]
               else "code expired" if time.time() >= c["expires_at"]
               else "code of another app" if c["app_id"] != p["app_id"] else None)
        if why:
            self.counters["code_refusals"] += 1
            return self._oauth_fail(OAUTH_INVALID_GRANT, "invalid_grant", why)
        c["used"] = True
        self.counters["codes_exchanged"] += 1
        answer = self._issue(c["open_id"], c["scopes"], time.time() + self.refresh_life_s)
        answer["open_id"] = c["open_id"]
        return answer

    def _refresh_tokens(self, p):
        refused = self._app_check(p, "refresh_token")
        if refused is None and not p.get("refresh_token"):
            refused = self._oauth_fail(OAUTH_INVALID_REQUEST, "invalid_request",
                                       "missing refresh_token")
        if refused is not None:
            return refused
        t = self._refresh.get(p["refresh_token"])
        if t is None:
            return self._oauth_fail(OAUTH_ACCESS_DENIED, "access_denied", "invalid refresh_token")
        if t["state"] == "used":
            self.counters["used_refresh_token_attempts"] += 1
            return self._oauth_fail(OAUTH_ACCESS_DENIED, "access_denied", "refreshToken.discarded")
        if t["state"] == "revoked":
            self.counters["revoked_refresh_token_attempts"] += 1
            return self._oauth_fail(OAUTH_ACCESS_DENIED, "access_denied",
                                    "refreshToken.revokedAuthorization")
        if time.time() >= t["expires_at"]:
            self.counters["expired_refresh_token_attempts"] += 1
            return self._oauth_fail(OAUTH_ACCESS_DENIED, "access_denied",
                                    "invalid refresh_token: expired")
        t["state"] = "used"
        by = self.counters["refreshes"]
        by[t["open_id"]] = by.get(t["open_id"], 0) + 1
        # the new refresh token inherits the old one's expiry; the answer has no open_id
        answer = self._issue(t["open_id"], t["scopes"], t["expires_at"])
        answer["open_id_renewed"] = t["open_id"]  # for the delay above; not sent
        return answer

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
            open_id, _ = self._token_shop(p.get("access_token"))
            self.counters["calls"] += 1
            if open_id:
                by = self.counters["calls_by_shop"]
                by[open_id] = by.get(open_id, 0) + 1
            answer = self._check(path, p)
            if answer is None:
                answer = self._declared(method, verb, p.get("param"))
            if answer is None:
                try:
                    param = json.loads(p.get("param") or "{}")
                    answer = self._dispatch(method, param, open_id)
                except (ValueError, KeyError, TypeError) as e:
                    answer = self._fail(BAD_PARAM, "bad param: %s" % e)
            self.calls.append((method, dict(p), answer))
            try:
                param = json.loads(p.get("param") or "{}")
            except ValueError:
                param = None
            self.call_log.append({"method": method, "verb": verb, "param": param,
                                  "idempotency_key": idempotency_key, "answer": answer,
                                  "at": int(time.time() * 1000), "open_id": open_id})
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
        shop, state = self._token_shop(p["access_token"])
        if state == "live" and self.rate_limit_shop.get(shop, 0) > 0:
            # the platform limits each shop (app and open_id) on its own
            self.rate_limit_shop[shop] -= 1
            self.counters["rate_limited_by_shop"][shop] = \
                self.counters["rate_limited_by_shop"].get(shop, 0) + 1
            return self._fail(RATE_LIMITED, "request too frequent")
        if state == "expired":
            self.counters["expired_token_calls"] += 1
            return self._fail(TOKEN_INVALID, "access_token expired", "access.token.expired")
        if state == "unknown":
            self.counters["unknown_token_calls"] += 1
            return self._fail(TOKEN_INVALID, "access_token invalid", "access.token.invalid")
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

    def _record(self, param, open_id=None):
        """The refund the call is about, if it is the token's shop's: another
        shop's is answered as a refund that does not exist."""
        rec = self.refunds.get(str(param["refundId"]))
        if rec is not None and self.shop_of_refund(param["refundId"]) != (open_id or
                                                                         self.default_open_id):
            self.counters["other_shop_token_calls"] += 1
            rec = None
        if rec is None:
            raise KeyError("no refund %s" % param["refundId"])
        return rec

    def _touch(self, rec, **changes):
        rec.update(changes)
        rec["updateTime"] = max(int(time.time() * 1000), rec["updateTime"] + 1)

    def _dispatch(self, method, param, open_id=None):
        """The answer of a well-formed call by the shop open_id (None: the
        default shop): it sees only its own records."""
        open_id = open_id or self.default_open_id
        if method == "open.seller.order.refund.pcursor.list":
            return self._list(param, open_id)
        if method == "open.seller.order.refund.detail":
            return {"result": 1, "data": dict(self._record(param, open_id))}
        if method == "open.order.detail":
            order = self.orders.get(str(param["oid"]))
            if order and self.shop_of_order(param["oid"]) != open_id:
                self.counters["other_shop_token_calls"] += 1
                order = None
            return {"result": 1, "data": order} if order else self._fail(NOT_FOUND, "no order")
        if method == "open.refund.reject.reason":
            self._record(param, open_id)
            return {"result": 1, "data": [dict(r) for r in REJECT_REASONS]}
        if method in ("open.seller.order.refund.approve", "open.seller.order.refund.returngoods.approve"):
            rec = self._record(param, open_id)
            if rec["status"] not in (10, 11) or rec["negotiateStatus"] != 1:
                return self._fail(BAD_STATE, "refund %s is not waiting for the seller" % rec["refundId"])
            if int(param["refundAmount"]) > rec["refundFee"]:
                return self._fail(BAD_PARAM, "refundAmount above refundFee")
            if method.endswith("returngoods.approve"):
                # addressId is optional: without it, the shop's default return address
                address = param.get("addressId") or (
                    self.default_address_id if open_id == self.default_open_id
                    else self.shops[open_id]["default_address_id"])
                self._touch(rec, status=30, negotiateStatus=2, address=str(address))
            else:
                self._touch(rec, status=50, negotiateStatus=2)
            return {"result": 1, "data": {}}
        if method == "open.seller.order.refund.confirm.receipt":
            rec = self._record(param, open_id)
            if rec["status"] not in (22, 30, 40):
                return self._fail(BAD_STATE, "confirm.receipt only in status 22, 30 or 40")
            self._touch(rec, status=50)
            return {"result": 1, "data": {}}
        if method == "open.refund.reject":
            rec = self._record(param, open_id)
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
            rec = self._record(param, open_id)
            self._touch(rec, status=40, logisticsInfo={"expressNo": str(param["expressNo"]),
                                                       "expressCode": param.get("expressCode", 0)})
            return {"result": 1, "data": {}}
        return self._fail(BAD_PARAM, "unknown method %s" % method)

    def _list(self, param, open_id=None):
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
        open_id = open_id or self.default_open_id
        hits = sorted((r for r in self.refunds.values() if begin <= r[field] < end
                       and self.shop_of_refund(r["refundId"]) == open_id
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

    def signed_request(self, method, param, verb=None, placement=None, sign_method="MD5",
                       access_token=None):
        """Call the stand-in as a client would, correctly signed (for tests of
        what it refuses): the declared verb unless verb is given, the
        parameters where that verb puts them unless placement ("query" or
        "body") says otherwise, with access_token (default: the fixed one, the
        default shop's). Returns the answer (dict)."""
        verb = verb or DECLARED.get(method, ("GET", ()))[0]
        placement = placement or ("query" if verb == "GET" else "body")
        p = {"appkey": self.app_key, "method": method, "version": "1",
             "param": json.dumps(param, sort_keys=True, separators=(",", ":")),
             "access_token": access_token or self.access_token,
             "timestamp": str(int(time.time() * 1000)),
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
        """The decrypted envelope of a push about rec: openId and userId are its
        shop's."""
        if test:
            return json.dumps({"test": True})
        info = {"orderId": rec["oid"], "refundId": rec["refundId"],
                "handlingWay": rec["handlingWay"], "specialRefundType": 0,
                "status": rec["status"], "createTime": rec["createTime"]}
        if topic.endswith("updateRefund"):
            info["updateTime"] = rec["updateTime"]
        open_id = self.shop_of_refund(rec["refundId"])
        shop = (getattr(self, "shops", None) or {}).get(open_id) or {"user_id": 1}
        return json.dumps({"eventId": event_id, "bizId": rec["refundId"],
                           "userId": shop["user_id"], "openId": open_id,
                           "appKey": self.app_key, "event": topic,
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
