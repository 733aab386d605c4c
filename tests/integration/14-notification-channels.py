#!/usr/bin/env python3
"""14: everyone is told, once (issue 3, "Notification").

  - every message goes through the log channel and the HTTP webhook
    (RF_NOTIFICATION_WEBHOOK_URL): a JSON POST with an Idempotency-Key header;
  - the webhook fails at first (a refused connection, then HTTP 500): delivery is
    retried with backoff and every message is accepted exactly once in the end
    (status sent, delivered_via log+webhook), never twice for the same key;
  - messages are zh-CN; the buyer's survey follows the refund and its answer is
    recorded once;
  - a message waiting for the webhook is queued in notification.deliveries and leaves
    it when delivered; messages are written once, final (no UPDATE of
    notification.messages);
  - the shop's templates (RF_NOTIFICATION_POLICY_FILE): the default section turns the
    request's acknowledgement on for every shop, a shop of its own turns the refund
    message and the survey off; only that shop's returns are remembered
    (notification.return_shops).
"""
import http.server
import json
import os
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

PORT = harness.free_ports(1)[0]
QUIET = "shop-quiet"
POLICY = {"default": {"return.requested": {"buyer": True}},
          "shops": {QUIET: {"refund.issued": {"buyer": False}, "survey": {"buyer": False}}}}
received = []   # (idempotency key, body) accepted with 200
refusals = [0]
lock = threading.Lock()


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(n) or b"{}")
        key = self.headers.get("Idempotency-Key", "")
        with lock:
            fail = refusals[0] < 3
            if fail:
                refusals[0] += 1
            else:
                received.append((key, body))
        self.send_response(500 if fail else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def scenario(h):
    h.step("the webhook is down at first (connection refused): messages wait and are retried")
    order = harness.uid("n")
    h.post_order(order, [("L1", 1, 2000)])
    rid = h.post_return(harness.uid("n"), order, "L1", kind="refund_only", amount=2000,
                        reason="late")
    h.wait_status(rid, "refunded")
    h.wait_until(lambda: h.count("FROM notification.deliveries WHERE return_id = '%s'"
                                 " AND last_error IS NOT NULL" % rid) > 0,
                 20, "a failed delivery attempt to be recorded")
    h.check(h.count("FROM notification.messages WHERE return_id = '%s'" % rid) == 0,
            "messages of %s recorded before they were delivered" % rid)
    queued = h.get_json("notification", "/v1/messages?return_id=" + rid)["messages"]
    h.check(queued and all(m["status"] == "queued" for m in queued),
            "GET /v1/messages while the webhook is down: %s" % queued)
    # Bound only now: a socket listening but not served would hold requests
    # past the caller's timeout and answer them late, which is a different
    # test (the receiver dedupes such a retry by its Idempotency-Key).
    server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Hook)
    th = threading.Thread(target=server.serve_forever, daemon=True)
    th.start()
    try:
        h.step("the webhook comes up: everything delivered, once")
        h.wait_until(lambda: "survey" in h.templates(rid, "buyer"), 20, "the survey")
        h.wait_until(lambda: h.count("FROM notification.deliveries WHERE return_id = '%s'"
                                     % rid) == 0,
                     40, "every message of %s to be delivered" % rid)
        h.check(h.count("FROM notification.messages WHERE return_id = '%s'"
                        " AND status <> 'sent'" % rid) == 0, "messages of %s not sent" % rid)
        rows = h.psql("SELECT idempotency_key, template_name, delivered_via, attempts, locale"
                      " FROM notification.messages WHERE return_id = '%s'" % rid)
        h.check(all(r[2] == "log+webhook" and r[4] == "zh-CN" for r in rows),
                "messages of %s: %s" % (rid, rows))
        h.check(any(int(r[3]) > 1 for r in rows), "no message needed a retry: %s" % rows)
        with lock:
            keys = [k for k, _ in received if k in {r[0] for r in rows}]
        h.check(sorted(keys) == sorted(r[0] for r in rows),
                "webhook deliveries %s, messages %s" % (sorted(keys), sorted(r[0] for r in rows)))
        h.check(len(keys) == len(set(keys)), "a message was delivered twice: %s" % keys)
        with lock:
            bodies = [b for _, b in received if b.get("return_id") == rid]
        h.check(all(b.get("body") and b.get("template") for b in bodies),
                "webhook bodies: %s" % bodies)
        h.check(any("元" in b["body"] for b in bodies), "no zh-CN amounts in %s" % bodies)
        h.check(h.log_grep("notification", "event=notice_delivered channel=log"),
                "no log channel lines")

        h.step("the survey's answer is recorded once")
        r = h.http("POST", "notification", "/v1/feedback",
                   {"return_id": harness.uid("nosuch"), "score": 4})
        h.check(r.status == 404, "feedback without a survey: %r" % r)
        r = h.http("POST", "notification", "/v1/feedback", {"return_id": rid, "score": 4})
        h.check(r.status == 200, "feedback: %r" % r)
        h.wait_timeline(rid, ["feedback.received"])

        h.step("the shop's templates: the default section and a shop of its own")
        tmpl = set(h.templates(rid))
        h.check(tmpl == {"request_received", "approved", "refunded", "claim_opened", "survey"},
                "messages of %s (shop-1, the default section): %s" % (rid, sorted(tmpl)))
        q_order = harness.uid("q")
        h.post_order(q_order, [("L1", 1, 2000)], shop_id=QUIET)
        q = h.post_return(harness.uid("q"), q_order, "L1", kind="refund_only", amount=2000,
                          reason="late")
        h.wait_status(q, "refunded")
        h.wait_until(lambda: {"request_received", "approved", "claim_opened"}
                     <= set(h.templates(q)), 20, "the messages of %s" % q)
        h.wait_outboxes_empty(30)
        tmpl = h.templates(q)
        h.check(sorted(tmpl) == ["approved", "claim_opened", "request_received"],
                "messages of %s (%s: no refund message, no survey): %s" % (q, QUIET, tmpl))
        r = h.http("POST", "notification", "/v1/feedback", {"return_id": q, "score": 4})
        h.check(r.status == 404, "feedback without a survey (%s): %r" % (QUIET, r))
        shops = h.psql("SELECT return_id, shop_id FROM notification.return_shops")
        h.check(shops == [[q, QUIET]], "return_shops: %s" % shops)
        # One notice.sent per event that made a buyer-facing message: the
        # request's and the approval's (the refund told no one here).
        notices = [e for e in h.return_doc(q)["timeline"] if e["type"] == "notice.sent"]
        h.check(len(notices) == 2, "notice.sent of %s: %s" % (q, notices))

        h.step("every message written once: inserted final, never updated")
        total = h.count("FROM notification.messages")
        h.wait_until(lambda: int(h.psql_val(
            "SELECT n_tup_ins FROM pg_stat_user_tables WHERE schemaname = 'notification'"
            " AND relname = 'messages'")) >= total, 20, "the statistics of messages")
        upd = h.psql("SELECT n_tup_upd, n_tup_del FROM pg_stat_user_tables"
                     " WHERE schemaname = 'notification' AND relname IN ('messages', 'surveys')")
        h.check(all(r == ["0", "0"] for r in upd), "messages/surveys updated or deleted: %s" % upd)
        h.check(h.count("FROM notification.deliveries") == 0, "deliveries left in the queue")
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    policy = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump(POLICY, policy)
    policy.close()
    try:
        harness.main(scenario, env={
            "RF_NOTIFICATION_POLICY_FILE": policy.name,
            "RF_NOTIFICATION_WEBHOOK_URL": "http://127.0.0.1:%d/hook" % PORT,
            "RF_NOTIFICATION_WEBHOOK_TIMEOUT_MS": "1000",
            "RF_NOTIFICATION_RETRY_BASE_MS": "100",
            "RF_NOTIFICATION_RETRY_MAX": "30"})
    finally:
        os.unlink(policy.name)
