#!/usr/bin/env python3
"""41: forged and broken pushes are refused with an error and audited (issue 4, "In").

Sent to intake's feed address:
  - Kuaishou messages encrypted with a wrong message key (each a real refund message);
  - garbage bodies: not Base64, Base64 of random bytes, the plaintext JSON unencrypted,
    and a correctly encrypted message that is not a push envelope (no eventId);
  - Douyin pushes with a wrong event-sign, and one correctly signed that is not an array.
Each is answered with an error status and a message saying why, recorded in
intake.feed_refused (reason, raw body, source address) and shown by GET
/v1/feeds/audit; nothing reaches feed_pushes and no return is created. A heartbeat
({"test":true}) is answered {"result":1} and recorded nowhere. The refused counters on
/metrics match. Prints the counts.
"""
import base64
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import feedkit  # noqa: E402
import harness  # noqa: E402

FEEDS = feedkit.Feeds(api=False)
WRONG_KEY = base64.b64encode(bytes(range(100, 116))).decode()


def metric(text, name, platform):
    for line in text.splitlines():
        if line.startswith('%s{platform="%s"}' % (name, platform)):
            return int(float(line.split()[-1]))
    return None


def scenario(h):
    ks = FEEDS.standin
    answers = []  # (kind, status, answer, seconds)

    h.step("heartbeat: answered, recorded nowhere")
    status, answer, _ = FEEDS.ks_push_plain(json.dumps({"test": True}))
    h.check(status == 200 and json.loads(answer) == {"result": 1},
            "heartbeat answered %d %s" % (status, answer))

    h.step("Kuaishou pushes with a wrong message key")
    wrong_key = 5
    for i in range(wrong_key):
        rec = ks.add_refund(2410000000000000000 + i, 2310000000000000000 + i)
        plain = ks.push_message("kwaishop_aftersales_addRefund", rec, "forged-%d" % i)
        status, answer, took = FEEDS.ks_push_plain(plain, key_b64=WRONG_KEY)
        answers.append(("wrong_key", status, answer, took))

    h.step("Kuaishou garbage bodies")
    rnd = random.Random(41)
    garbage = [
        b"this is not base64 at all!",
        base64.b64encode(bytes(rnd.getrandbits(8) for _ in range(64))),
        json.dumps({"eventId": "plain-1", "bizId": 1, "event": "x", "info": "{}"}).encode(),
        b"\xff\xfe\x00binary\x01",
    ]
    for body in garbage:
        status, answer, took = FEEDS.ks_push_raw(body)
        answers.append(("garbage", status, answer, took))
    # encrypted with the right key, but not a push envelope
    status, answer, took = FEEDS.ks_push_plain(json.dumps({"hello": "world"}))
    answers.append(("garbage", status, answer, took))

    h.step("Douyin pushes with a wrong event-sign, and a signed body that is not an array")
    wrong_sign = 4
    for i in range(wrong_sign):
        msg = [{"tag": "200", "msg_id": "dy-forged-%d" % i,
                "data": {"aftersale_id": str(7410000000000000000 + i), "p_id": "1", "s_id": "2",
                         "aftersale_status": 6, "aftersale_type": 2, "refund_amount": 100,
                         "apply_time": int(time.time())}}]
        status, answer, took = FEEDS.dy_push(msg, sign_override="0" * 32 if i % 2 else
                                             feedkit.dy_sign("something else"))
        answers.append(("dy_wrong_sign", status, answer, took))
    status, answer, took = FEEDS.dy_push({"tag": "200"})  # an object, signed correctly
    answers.append(("dy_not_array", status, answer, took))

    for kind, status, answer, took in answers:
        doc = json.loads(answer)
        why = doc.get("error_msg") or doc.get("msg") or ""
        h.check(400 <= status < 500 and why, "%s answered %d %s: expected 4xx with a reason"
                % (kind, status, answer))
        h.check(took < 3.0, "%s answered in %.2f s" % (kind, took))
    by_kind = {}
    for kind, *_ in answers:
        by_kind[kind] = by_kind.get(kind, 0) + 1

    h.step("every one audited; nothing recorded as a push, no return created")
    total = len(answers)
    h.wait_until(lambda: h.count("FROM intake.feed_refused") == total, 15,
                 "%d refused messages in the audit table" % total)
    audit = h.get_json("intake", "/v1/feeds/audit?limit=1000")
    h.check(audit["total"] == total and len(audit["refused"]) == total,
            "GET /v1/feeds/audit lists %d of %d" % (len(audit["refused"]), total))
    for row in audit["refused"]:
        h.check(row["reason"] and row["source"].startswith("127.0.0.1:") and row["body"],
                "audit row with reason, source and raw body: %r" % row)
    ks_rows = [r for r in audit["refused"] if r["platform"] == "kuaishou"]
    dy_rows = [r for r in audit["refused"] if r["platform"] == "douyin"]
    pushes = h.count("FROM intake.feed_pushes")
    returns = h.count("FROM intake.returns")
    h.check(pushes == 0 and returns == 0, "pushes recorded %d, returns %d" % (pushes, returns))
    m = h.metrics("intake")
    ks_metric = metric(m, "rf_feed_pushes_refused_total", "kuaishou")
    dy_metric = metric(m, "rf_feed_pushes_refused_total", "douyin")
    h.check(ks_metric == len(ks_rows) and dy_metric == len(dy_rows),
            "metrics refused kuaishou %s douyin %s vs audit %d/%d"
            % (ks_metric, dy_metric, len(ks_rows), len(dy_rows)))
    reasons = sorted({r["reason"].split(":")[0][:40] for r in audit["refused"]})
    print("FIGURES 41: forged/broken pushes sent %d (Kuaishou wrong key %d, garbage %d;"
          " Douyin wrong sign %d, not an array %d); answered with an error %d (max %.3f s);"
          " audited %d (kuaishou %d, douyin %d); pushes recorded %d; returns created %d;"
          " heartbeat answered {\"result\":1}"
          % (total, by_kind.get("wrong_key", 0), by_kind.get("garbage", 0),
             by_kind.get("dy_wrong_sign", 0), by_kind.get("dy_not_array", 0), len(answers),
             max(a[3] for a in answers), audit["total"], len(ks_rows), len(dy_rows), pushes,
             returns), flush=True)
    print("reasons: %s" % "; ".join(reasons), flush=True)


if __name__ == "__main__":
    try:
        harness.main(scenario, worker_env={"intake": FEEDS.env})
    finally:
        FEEDS.close()
