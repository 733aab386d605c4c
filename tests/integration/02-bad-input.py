#!/usr/bin/env python3
"""02: bad input is refused with the right 4xx, a message naming the problem, and
nothing half-written; a worker with bad settings refuses to start.

Proves:
  - POST /v1/returns: bad JSON, a non-object, a missing field, a wrong type (a number
    for order_id), an unknown type / reason, an amount above what was paid, an unknown
    order, an absurd quantity (above the range and above what was ordered), a non-JSON
    Content-Type: each answered 400/415/422 with {error, message} naming the problem;
    no return row, timeline row or outbox row is created for any of them;
  - POST /v1/orders with a bad line is refused and writes no order;
  - text fields full of SQL metacharacters and non-ASCII are stored and returned verbatim,
    and the tables are intact afterwards;
  - an oversized body (> 1 MiB) gets 413, an unknown route 404, review / warehouse
    refuse bad bodies too; the worker keeps serving afterwards;
  - rf-intake with RF_ACK_TIMEOUT_MS=abc and RF_INTAKE_HTTP=nonsense exits 2 and its
    stderr names both variables.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def written(h):
    """What intake has written (returns, timeline, outbox) and warehouse/review rows.
    A request the return policy refuses (422 with a reason code: order_unknown,
    quantity_exceeded, ...) is still recorded as a rejected return for analysis
    (issue 3), so those rows (refused = true) are not counted here."""
    return (h.count("FROM intake.returns WHERE NOT refused"), h.count("FROM intake.timeline"),
            h.count("FROM intake.outbox") + h.count("FROM intake.inbox"),
            h.count("FROM intake.orders"))


def expect_error(h, r, status, words, what):
    h.check(r.status == status, "%s: expected %d, got %r" % (what, status, r))
    h.check(isinstance(r.json, dict) and r.get("error") and r.get("message"),
            "%s: expected a JSON {error, message} body, got %r" % (what, r))
    text = (r.get("error") + " " + r.get("message")).lower()
    for w in words:
        h.check(w.lower() in text, "%s: the error does not name %r: %r" % (what, w, r))
    harness.log("  %-44s -> %d %s: %s" % (what, r.status, r.get("error"), r.get("message")))


def raw_post(h, path, body, chunked):
    """POST body to intake over a plain socket (see Cluster.raw_http). (status, text)."""
    r = h.raw_http("intake", "POST", path, body, chunked=chunked)
    return r.status, r.text


def scenario(h):
    order = harness.uid("order")
    h.post_order(order, [("L1", 2, 5000), ("L2", 1, 3000)])
    good = h.return_body(harness.uid("good"), order, "L1", kind="refund_only", amount=4000)
    before = written(h)

    h.step("POST /v1/returns with bad input: 4xx, message, nothing written")
    post = lambda body=None, raw=None, headers=None: h.http(  # noqa: E731
        "POST", "intake", "/v1/returns", body=body, raw=raw, headers=headers)
    json_hdr = {"Content-Type": "application/json"}
    cases = []
    cases.append(("bad JSON", post(raw=b'{"platform": "api", "order_id": ', headers=json_hdr),
                  400, ["json"]))
    cases.append(("JSON array instead of object", post(raw=b"[1, 2, 3]", headers=json_hdr),
                  400, ["object"]))
    cases.append(("empty body", post(raw=b"", headers=json_hdr), 400, ["json"]))
    for field in ("platform_return_id", "order_id", "line_id", "type", "quantity",
                  "reason_code", "requested_amount_fen"):
        body = dict(good)
        del body[field]
        cases.append(("missing %s" % field, post(body), 400, [field]))
    body = dict(good, order_id=12345678)
    cases.append(("order_id as a number", post(body), 400, ["order_id", "string"]))
    body = dict(good, quantity="1")
    cases.append(("quantity as a string", post(body), 400, ["quantity"]))
    body = dict(good, requested_amount_fen=40.5)
    cases.append(("amount as a float", post(body), 400, ["requested_amount_fen"]))
    body = dict(good, type="refund_everything")
    cases.append(("unknown type", post(body), 400, ["type"]))
    body = dict(good, reason_code="because")
    cases.append(("unknown reason_code", post(body), 400, ["reason_code"]))
    body = dict(good, platform_return_id="")
    cases.append(("empty platform_return_id", post(body), 400, ["platform_return_id"]))
    body = dict(good, requested_amount_fen=-5)
    cases.append(("negative amount", post(body), 400, ["requested_amount_fen"]))
    body = dict(good, requested_amount_fen=5001)  # 1 unit at 5000 fen paid
    cases.append(("amount above paid", post(body), 422, ["amount_exceeds_paid", "5000"]))
    body = dict(good, order_id="no-such-order")
    cases.append(("unknown order", post(body), 422, ["order_unknown", "no-such-order"]))
    body = dict(good, line_id="L9")
    cases.append(("unknown order line", post(body), 422, ["order_unknown", "L9"]))
    body = dict(good, quantity=10 ** 12)
    cases.append(("absurd quantity (10^12)", post(body), 400, ["quantity"]))
    body = dict(good, quantity=3, requested_amount_fen=100)  # 2 ordered
    cases.append(("quantity above ordered", post(body), 422, ["quantity_exceeded"]))
    body = dict(good, quantity=0)
    cases.append(("quantity 0", post(body), 400, ["quantity"]))
    body = dict(good, reason_text="bad\x01control")
    cases.append(("control characters in text", post(body), 400, ["reason_text"]))
    body = dict(good, platform_return_id="x" * 5000)
    cases.append(("platform_return_id too long", post(body), 400, ["platform_return_id"]))
    cases.append(("text/plain Content-Type", post(raw=b"{}", headers={"Content-Type": "text/plain"}),
                  415, ["json"]))
    for what, r, status, words in cases:
        expect_error(h, r, status, words, what)
    after = written(h)
    h.check(after == before,
            "refused requests wrote something: (returns, timeline, outbox+inbox, orders)"
            " before %s, after %s" % (before, after))

    h.step("POST /v1/orders with bad lines: 400, no order written")
    bad_orders = [
        ("order with no lines", {"platform": "api", "shop_id": "s", "order_id": "o-bad-1",
                                 "lines": []}, ["lines"]),
        ("order line with a negative price",
         {"platform": "api", "shop_id": "s", "order_id": "o-bad-2",
          "lines": [{"line_id": "A", "sku_id": "k", "quantity": 1, "unit_price_fen": 100},
                    {"line_id": "B", "sku_id": "k", "quantity": 1, "unit_price_fen": -1}]},
         ["unit_price_fen"]),
        ("order with order_id as a number", {"platform": "api", "shop_id": "s", "order_id": 77,
                                             "lines": [{"line_id": "A", "sku_id": "k",
                                                        "quantity": 1, "unit_price_fen": 1}]},
         ["order_id"]),
    ]
    for what, body, words in bad_orders:
        expect_error(h, h.http("POST", "intake", "/v1/orders", body), 400, words, what)
    h.check(h.count("FROM intake.orders WHERE order_id LIKE 'o-bad-%'") == 0,
            "a refused order was written")
    h.check(h.count("FROM intake.order_lines WHERE order_id LIKE 'o-bad-%'") == 0,
            "a line of a refused order was written")

    h.step("SQL metacharacters and non-ASCII in text fields: stored verbatim")
    nasty = ("Robert'); DROP TABLE intake.returns; -- \" \\ % _ $1 $$ ; "
             "SELECT pg_sleep(10); /* */ \u9000\u8d27 \U0001F4E6 'quoted' \\x00")
    nasty_prid = "prid-'; DELETE FROM intake.orders; --" + harness.uid("")
    body = dict(good, platform_return_id=nasty_prid, reason_text=nasty)
    r = post(body)
    h.check(r.status == 202, "return with nasty text: expected 202, got %r" % r)
    rid = r.get("return_id")
    doc = h.return_doc(rid)
    h.check(doc.get("reason_text") == nasty and doc.get("platform_return_id") == nasty_prid,
            "text not stored verbatim: reason_text %r platform_return_id %r"
            % (doc.get("reason_text"), doc.get("platform_return_id")))
    from urllib.parse import quote
    r = h.http("GET", "intake", "/v1/returns?platform=api&platform_return_id=" + quote(nasty_prid))
    h.check(r.status == 200 and r.get("return_id") == rid,
            "lookup by a nasty platform_return_id: %r" % r)
    h.wait_status(rid, "refunded")
    req = [e for e in h.return_doc(rid)["timeline"] if e["type"] == "return.requested"]
    h.check(req and req[0]["body"].get("reason_text") == nasty,
            "return.requested body in the timeline lost the text: %s" % req)
    h.check(h.count("FROM intake.orders") == before[3], "orders table damaged")
    h.check(h.count("FROM intake.returns WHERE NOT refused") == before[0] + 1,
            "returns table damaged")
    h.check(h.count("FROM review.tasks WHERE return_id = '%s'" % rid) == 1,
            "review has no task for the nasty return")

    h.step("oversized body: 413; unknown route: 404; the worker still serves")
    big = b'{"platform": "api", "reason_text": "' + b"A" * (1024 * 1024 + 100) + b'"}'
    status, text = raw_post(h, "/v1/returns", big, chunked=False)
    h.check(status == 413 and "body_too_large" in text,
            "body over 1 MiB (Content-Length): expected 413 body_too_large, got %s %s"
            % (status, text[:200]))
    harness.log("  %-44s -> %d %s" % ("1 MiB + 100 bytes body", status, text[:120]))
    status, text = raw_post(h, "/v1/returns", big, chunked=True)
    h.check(status == 413 and "body_too_large" in text,
            "body over 1 MiB (chunked): expected 413 body_too_large, got %s %s"
            % (status, text[:200]))
    harness.log("  %-44s -> %d %s" % ("1 MiB + 100 bytes body, chunked", status, text[:120]))
    n0 = h.count("FROM intake.returns WHERE NOT refused")
    h.check(n0 == before[0] + 1, "the oversized request wrote a return")
    for w, method, path in (("intake", "GET", "/v1/nothing"), ("intake", "POST", "/v1/returns/x/y"),
                            ("review", "GET", "/v1/reviews/x"), ("warehouse", "GET", "/v1/receipts"),
                            ("refund", "POST", "/v1/refunds"), ("notification", "GET", "/nope")):
        r = h.http(method, w, path)
        expect_error(h, r, 404, ["not_found"], "%s %s %s" % (w, method, path))
    h.check(h.http("GET", "intake", "/healthz").status == 200, "intake unhealthy after bad input")

    h.step("review and warehouse refuse bad bodies")
    r = h.http("POST", "review", "/v1/reviews/%s/approve" % rid, raw=b"{not json",
               headers=json_hdr)
    expect_error(h, r, 400, ["json"], "review approve, bad JSON")
    r = h.http("POST", "review", "/v1/reviews/%s/approve" % rid, {"by": 5})
    expect_error(h, r, 400, ["by"], "review approve, by as a number")
    r = h.http("POST", "review", "/v1/reviews/%s/reject" % rid, {"by": "x", "reason_code": "meh"})
    expect_error(h, r, 400, ["reason_code"], "review reject, unknown reason_code")
    r = h.http("POST", "warehouse", "/v1/receipts", {"condition": "resellable"})
    expect_error(h, r, 400, ["return_id", "tracking_no"], "receipt without return_id/tracking_no")
    r = h.http("POST", "warehouse", "/v1/receipts", {"return_id": rid, "condition": "mouldy"})
    expect_error(h, r, 400, ["condition"], "receipt with an unknown condition")
    h.check(h.count("FROM warehouse.receipts") == 0, "a refused receipt was written")
    h.check(h.count("FROM review.decisions WHERE decided_by <> 'auto'") == 0,
            "a refused decision was written")

    h.step("nothing left over")
    h.wait_outboxes_empty(20)
    dl = h.dead_letter_counts()
    h.check(all(v == 0 for v in dl.values()), "dead letters: %s" % dl)

    h.step("bad settings: exit 2, stderr names both variables")
    env = h.base_env()
    env["RF_ACK_TIMEOUT_MS"] = "abc"
    env["RF_INTAKE_HTTP"] = "nonsense"
    p = subprocess.run(h.worker_cmd("intake"), env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=h.t(20))
    err = p.stderr.decode("utf-8", "replace")
    harness.log("  rf-intake exit %d, stderr:\n%s" % (p.returncode, err.rstrip()))
    h.check(p.returncode == 2, "rf-intake with bad settings: exit %d, expected 2" % p.returncode)
    for var in ("RF_ACK_TIMEOUT_MS", "RF_INTAKE_HTTP"):
        h.check(var in err, "stderr does not name %s: %r" % (var, err))
    h.check(h.http("GET", "intake", "/healthz").status == 200,
            "the running intake was disturbed by the refused start")


if __name__ == "__main__":
    harness.main(scenario)
