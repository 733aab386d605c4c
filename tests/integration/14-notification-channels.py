#!/usr/bin/env python3
"""14: everyone is told, once (issue 3, "Notification").

  - every message goes through the log channel and the HTTP webhook
    (RF_NOTIFICATION_WEBHOOK_URL): a JSON POST with an Idempotency-Key header;
  - the webhook fails at first (a refused connection, then HTTP 500): delivery is
    retried with backoff and every message is accepted exactly once in the end
    (status sent, delivered_via log+webhook), never twice for the same key;
  - messages are zh-CN; the buyer's survey follows the refund and its answer is
    recorded once.
"""
import http.server
import json
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

PORT = harness.free_ports(1)[0]
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
    h.wait_until(lambda: h.count("FROM notification.messages WHERE return_id = '%s'"
                                 " AND last_error IS NOT NULL" % rid) > 0,
                 20, "a failed delivery attempt to be recorded")
    # Bound only now: a socket listening but not served would hold requests
    # past the caller's timeout and answer them late, which is a different
    # test (the receiver dedupes such a retry by its Idempotency-Key).
    server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Hook)
    th = threading.Thread(target=server.serve_forever, daemon=True)
    th.start()
    try:
        h.step("the webhook comes up: everything delivered, once")
        h.wait_until(lambda: "survey" in h.templates(rid, "buyer"), 20, "the survey")
        h.wait_until(lambda: h.count("FROM notification.messages WHERE return_id = '%s'"
                                     " AND status <> 'sent'" % rid) == 0,
                     40, "every message of %s to be delivered" % rid)
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
        h.wait_outboxes_empty(30)
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    harness.main(scenario, env={
        "RF_NOTIFICATION_WEBHOOK_URL": "http://127.0.0.1:%d/hook" % PORT,
        "RF_NOTIFICATION_WEBHOOK_TIMEOUT_MS": "1000",
        "RF_NOTIFICATION_RETRY_BASE_MS": "100",
        "RF_NOTIFICATION_RETRY_MAX": "30"})
