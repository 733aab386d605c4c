"""Helpers for the platform-feed scenarios (40-49): the Kuaishou stand-in
(tests/standin/kuaishou.py) wired to intake's feed receiver and API client,
pushes with their answer times, the neutral mappings the expected states are
computed with (written independently of the C code), and intake's record of a
platform return.
"""
import hashlib
import json
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "standin"))
import harness  # noqa: E402
import kuaishou  # noqa: E402

DY_APP_KEY = "dy-app"
DY_APP_SECRET = "dy-secret"


class Feeds:
    """A running stand-in and the intake settings that point at it."""

    def __init__(self, poll_interval_ms=1000, poll_lag_ms=1000, page_size=50, start_ms=None,
                 api=True):
        self.standin = kuaishou.Standin()
        self.port = harness.free_ports(1)[0]
        now = int(time.time() * 1000)
        self.env = {
            "RF_INTAKE_FEED_LISTEN": "127.0.0.1:%d" % self.port,
            "RF_INTAKE_FEED_SPOOL_DIR": "intake-feed-spool",
            "RF_KUAISHOU_MESSAGE_KEY": self.standin.message_key,
            "RF_DOUYIN_APP_KEY": DY_APP_KEY,
            "RF_DOUYIN_APP_SECRET": DY_APP_SECRET,
        }
        if api:
            self.env.update({
                "RF_KUAISHOU_API_URL": self.standin.url,
                "RF_KUAISHOU_APP_KEY": self.standin.app_key,
                "RF_KUAISHOU_SIGN_SECRET": self.standin.sign_secret,
                "RF_KUAISHOU_ACCESS_TOKEN": self.standin.access_token,
                "RF_KUAISHOU_SIGN_METHOD": "HMAC_SHA256",
                "RF_KUAISHOU_RATE_LIMIT_CODES": str(kuaishou.RATE_LIMITED),
                "RF_KUAISHOU_POLL_INTERVAL_MS": str(poll_interval_ms),
                "RF_KUAISHOU_POLL_LAG_MS": str(poll_lag_ms),
                "RF_KUAISHOU_POLL_PAGE_SIZE": str(page_size),
                "RF_KUAISHOU_POLL_START_MS": str(start_ms if start_ms is not None
                                                 else now - 10 * 60 * 1000),
            })
        self.push_times = []  # seconds each accepted push took to be answered

    def close(self):
        self.standin.close()

    # ---- pushes ----------------------------------------------------------------------

    def ks_push(self, topic, rec, event_id, key_b64=None, test=False):
        """Push one Kuaishou message about rec; (status, answer, seconds)."""
        plain = self.standin.push_message(topic, rec, event_id, test=test)
        return self.ks_push_plain(plain, key_b64)

    def ks_push_plain(self, plain, key_b64=None):
        t0 = time.monotonic()
        status, answer = self.standin.push("127.0.0.1", self.port, "/v1/feeds/kuaishou", plain,
                                           key_b64)
        took = time.monotonic() - t0
        self.push_times.append(took)
        return status, answer, took

    def ks_push_raw(self, body):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            t0 = time.monotonic()
            conn.request("POST", "/v1/feeds/kuaishou", body=body,
                         headers={"Content-Type": "text/plain"})
            resp = conn.getresponse()
            return resp.status, resp.read().decode(), time.monotonic() - t0
        finally:
            conn.close()

    def dy_push(self, messages, sign_override=None):
        t0 = time.monotonic()
        status, answer = kuaishou.douyin_push("127.0.0.1", self.port, "/v1/feeds/douyin",
                                              DY_APP_KEY, DY_APP_SECRET, messages,
                                              sign_override=sign_override)
        took = time.monotonic() - t0
        self.push_times.append(took)
        return status, answer, took


def ks_id():
    """A real Kuaishou id: 19 digits, and a Java long as the platform's ids are
    (at most 2**63 - 1; harness.platform_id() may go above, which Kuaishou never
    sends as a number)."""
    return str(random.randint(10 ** 18, 2 ** 63 - 1))


def ks_update_push(feeds, refund_id, event_id):
    """The updateRefund push of the stand-in's current record."""
    rec = dict(feeds.standin.refunds[str(refund_id)])
    return feeds.ks_push("kwaishop_aftersales_updateRefund", rec, event_id)


# ---- expected neutral states (PLATFORMS.md "Neutral mapping") ---------------------------

def ks_neutral(status, negotiate):
    if status in (10, 11):
        if negotiate == 3:
            return "seller_rejected"
        if negotiate == 2:
            return "refunding" if status == 10 else "awaiting_buyer_return"
        return "requested"
    return {12: "seller_rejected", 20: "arbitration", 21: "arbitration", 23: "arbitration",
            22: "awaiting_buyer_return", 30: "awaiting_buyer_return", 40: "return_in_transit",
            50: "refunding", 60: "completed", 70: "closed"}.get(status, "")


def dy_neutral(aftersale_status):
    return {6: "requested", 7: "awaiting_buyer_return", 11: "return_in_transit", 12: "completed",
            14: "completed", 27: "seller_rejected", 29: "seller_rejected",
            28: "closed"}.get(aftersale_status, "")


def feed_record(h, platform, prid):
    """intake's applied version of a platform record: dict or None."""
    rows = h.psql("SELECT f.version, COALESCE(f.platform_status, ''), f.state,"
                  " COALESCE(r.status, ''), COALESCE(r.return_id, '')"
                  " FROM intake.feed_records f LEFT JOIN intake.returns r"
                  " ON r.platform = f.platform AND r.platform_return_id = f.platform_return_id"
                  " WHERE f.platform = '%s' AND f.platform_return_id = '%s'" % (platform, prid))
    if not rows:
        return None
    v, st, state, rstatus, rid = rows[0]
    return {"version": int(v), "platform_status": st, "state": state, "return_status": rstatus,
            "return_id": rid}


def feed_records(h, platform):
    """Every applied record of a platform: {platform_return_id: (version, status, state)}."""
    rows = h.psql("SELECT platform_return_id, version, COALESCE(platform_status, ''), state"
                  " FROM intake.feed_records WHERE platform = '%s'" % platform)
    return {r[0]: (int(r[1]), r[2], r[3]) for r in rows}


def post_ks_order(h, oid, sku, price=5000, qty=1, platform="kuaishou", shop="ks-shop"):
    """The order through the neutral API (line id = the platform's skuId)."""
    h.post_order(str(oid), [{"line_id": str(sku), "sku_id": str(sku), "title": "真丝睡衣 M码",
                             "category": "apparel", "quantity": qty, "unit_price_fen": price,
                             "supplier_id": "sup-1"}], platform=platform, shop_id=shop,
                 shipping_fee_fen=0)


def dy_sign(body):
    return hashlib.md5((DY_APP_KEY + body + DY_APP_SECRET).encode()).hexdigest()


def dump(obj):
    return json.dumps(obj, sort_keys=True)
