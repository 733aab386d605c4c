"""What the platform-call scenarios (50-59) share: a Kuaishou stand-in, a review
policy with the return addresses of the merchant (optional: without it the
platform uses the shop's default return address) and of a supplier that takes
goods back, and Kuaishou's reasonCode of each rejection reason, the settings
that point review and refund at the stand-in, and Kuaishou returns made
through intake's API with a matching stand-in record (the line is the
refund's skuId, as Kuaishou matches them; ids of 19 digits).
"""
import atexit
import json
import os
import random
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "standin"))
import kuaishou  # noqa: E402

MERCHANT_ADDRESS = "9001"
SUPPLIER_ADDRESS = "9002"
BACK_TO_SUPPLIER = "sup-back"  # a supplier whose returned goods go back to it
SHOP = "ks-shop-1"
KINDS = {"return_refund": (1, 11), "refund_only": (10, 10), "exchange": (3, 11)}
APPROVE_RETURN = "open.seller.order.refund.returngoods.approve"
APPROVE_REFUND = "open.seller.order.refund.approve"
CONFIRM = "open.seller.order.refund.confirm.receipt"
REJECT = "open.refund.reject"
DETAIL = "open.seller.order.refund.detail"
# Kuaishou's reasonCode (open.refund.reject.reason; the stand-in's list) of the
# rejection reasons: "*" any reason without its own.
REJECT_CODES = {"window_expired": 3, "*": 1}

# Review rules under which the paths out need no person: a return and refund up
# to 1,000 yuan and a refund only up to 50 yuan are approved automatically.
AUTO_RULES = [{"name": "returns_auto", "kind": "return_refund", "max_amount_fen": 100000,
               "outcome": "auto_approve"},
              {"name": "small_refund_only", "kind": "refund_only", "max_amount_fen": 5000,
               "outcome": "auto_approve"},
              {"name": "default_manual", "outcome": "manual"}]

_next = [random.randrange(10 ** 6, 10 ** 7) * 10 ** 6]


def setup(rules=None, standin=None, merchant_address=MERCHANT_ADDRESS):
    """Start a stand-in (or use the one given); returns (standin, cluster
    keyword arguments for review and refund). merchant_address None: the
    policy names no merchant return address."""
    if standin is None:
        standin = kuaishou.Standin()
        atexit.register(standin.close)
    default = {"kuaishou_reject_reason_codes": REJECT_CODES}
    if merchant_address:
        default["return_address_id"] = merchant_address
    if rules is not None:
        default["rules"] = rules
    policy = {"default": default,
              "suppliers": {BACK_TO_SUPPLIER: {"destination": "supplier",
                                               "return_address_id": SUPPLIER_ADDRESS}}}
    fd, path = tempfile.mkstemp(prefix="rf-policy-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(policy, f)
    atexit.register(os.unlink, path)
    calls = {"RF_KUAISHOU_API_URL": standin.url, "RF_KUAISHOU_APP_KEY": standin.app_key,
             "RF_KUAISHOU_SIGN_SECRET": standin.sign_secret,
             "RF_KUAISHOU_ACCESS_TOKEN": standin.access_token,
             "RF_KUAISHOU_SIGN_METHOD": "HMAC_SHA256",
             "RF_KUAISHOU_RATE_LIMIT_CODES": str(kuaishou.RATE_LIMITED),
             "RF_PLATFORM_CALL_RETRY_BASE_MS": "200", "RF_PLATFORM_CALL_TIMEOUT_MS": "5000"}
    worker_env = {"review": dict(calls, RF_REVIEW_POLICY_FILE=path), "refund": dict(calls)}
    return standin, {"worker_env": worker_env}


def new_ids():
    _next[0] += 1
    return "23%017d" % _next[0], "24%017d" % _next[0]  # order id, refund id


def ks_record(h, standin, kind="return_refund", amount=3990, price=3990, supplier="sup-1"):
    """A Kuaishou order (through intake) and its refund record on the stand-in;
    returns (order_id, refund_id, the record's version)."""
    oid, rid = new_ids()
    sku = sku_of(oid)
    h.post_order(oid, [{"line_id": sku, "sku_id": "GC-" + oid[-8:], "title": "羊毛混纺围巾 灰色",
                        "category": "apparel", "quantity": 1, "unit_price_fen": price,
                        "supplier_id": supplier}], platform="kuaishou", shop_id=SHOP,
                 shipping_fee_fen=0)
    way, status = KINDS[kind]
    rec = standin.add_refund(rid, oid, handling_way=way, status=status, refund_fee=amount,
                             sku_id=sku)
    return oid, rid, rec["updateTime"]


def sku_of(oid):
    """The Kuaishou skuId of the one item of order oid (19 digits)."""
    return "33" + oid[2:]


def post_ks_return(h, oid, rid, version, kind="return_refund", amount=3990, reason="size_fit"):
    """POST /v1/returns for the record; returns the return_id."""
    return h.post_return(rid, oid, sku_of(oid), kind=kind, amount=amount, reason=reason,
                         platform="kuaishou", platform_version=version)


def calls(h, worker, return_id):
    """GET /v1/platform-calls?return_id= of review or refund."""
    return h.get_json(worker, "/v1/platform-calls?return_id=" + return_id)["calls"]


def wait_call(h, worker, return_id, state="succeeded", n=1, timeout=20):
    """Wait until return_id has n calls in state on worker; returns all its calls."""
    got = {}

    def ok():
        got["c"] = calls(h, worker, return_id)
        return sum(1 for c in got["c"] if c["state"] == state) >= n
    h.wait_until(ok, timeout, "%d %s platform call(s) of %s on %s" % (n, state, return_id, worker))
    return got["c"]


def successes(standin, method, rid):
    """Calls of method about refund rid that the stand-in answered with result 1."""
    return [c for c in standin.log_of(method, rid) if c["answer"].get("result") == 1]


def receive_and_inspect(h, return_id, condition="resellable"):
    """The parcel arrives and is inspected, over the warehouse's HTTP API."""
    h.wait_until(lambda: h.count("FROM warehouse.expected_parcels WHERE return_id = '%s'"
                                 " AND status = 'expected'" % return_id) == 1,
                 20, "the warehouse to expect the parcel of %s" % return_id)
    r = h.http("POST", "warehouse", "/v1/receipts",
               {"return_id": return_id, "condition": condition, "received_by": "dock-1"})
    h.check(r.status == 200, "receipt of %s: %r" % (return_id, r))


def durations(call_list):
    """Every request's duration (ms) in a list of calls."""
    return [q["duration_ms"] for c in call_list for q in c["requests"]]
