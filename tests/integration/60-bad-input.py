#!/usr/bin/env python3
"""60: the bad-input table. Every case of 60-bad-input.json (beside this file) is
run against the real workers, and each must get a clear answer, lose nothing, and
leave the system serving the next good request.

For each HTTP case (oversized bodies and headers, invalid UTF-8, deeply nested JSON,
negative and huge amounts, amounts above what was paid, unknown orders and ids,
absurd quantities, SQL metacharacters in every text field of the order and return
bodies):
  - the answer has the expected status, and for an error a JSON {error, message}
    whose code and message contain the table's fragments;
  - what is recorded is what the table says: nothing at all (no return, order,
    timeline, outbox or inbox row anywhere), a refused return kept with its reason
    code, an unmatched receipt, or (SQL metacharacters) the request stored and read
    back byte for byte, through the database and GET /v1/returns/{id}, and the
    return going through to refunded like any other;
  - a good request to the same worker right after it is served (intake: a fresh
    return, refunded in the end).
For each event case (an unknown type, a future or zero schema version, a body that
is not msgpack, an empty body): the event is put in the producer's outbox and sent
over ZeroMQ like any other; the consumer refuses it (REJECT), the producer moves it
to its dead_letter table with the expected reason, nothing of it reaches the
consumer's inbox, and returns sent meanwhile are unaffected.
Feed cases (platform pushes with a wrong signature or key, a replayed old push)
go to intake's feed address (run_feed_case).

At the end: every outbox empty, the only dead letters the event cases', every
accepted return refunded exactly once, no message sent twice. Prints one line per
class: tried, as expected, lost, duplicated.
"""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TABLE = os.path.join(HERE, "60-bad-input.json")

ORDER_FIELDS = {"platform": "orders", "shop_id": "orders", "order_id": "orders",
                "buyer_id": "orders", "region": "orders", "payment_method": "orders"}
LINE_FIELDS = ("line_id", "sku_id", "title", "category", "supplier_id")


# ---- building requests ------------------------------------------------------------

def substitute(obj, env):
    """The table's placeholders (${NAME}) replaced in every string; a string that is
    exactly one numeric placeholder becomes the number."""
    if isinstance(obj, str):
        m = re.fullmatch(r"\$\{(\w+)\}", obj)
        if m and isinstance(env.get(m.group(1)), int):
            return env[m.group(1)]
        return re.sub(r"\$\{(\w+)\}", lambda m: str(env[m.group(1)]), obj)
    if isinstance(obj, list):
        return [substitute(v, env) for v in obj]
    if isinstance(obj, dict):
        return {k: substitute(v, env) for k, v in obj.items()}
    return obj


def base_return(env):
    return {"platform": "api", "platform_return_id": env["PRID"], "order_id": env["ORDER"],
            "line_id": "L1", "type": "refund_only", "quantity": 1, "reason_code": "quality",
            "reason_text": "bad input case " + env["T"], "requested_amount_fen": 1000}


def base_order(env):
    now = int(time.time() * 1000)
    return {"platform": "api", "shop_id": "shop-1", "order_id": "bad-order-" + env["T"],
            "buyer_id": "buyer-" + env["T"], "region": "Zhejiang", "paid_at": now - 10 * 86400000,
            "delivered_at": now - 3 * 86400000, "payment_method": "alipay",
            "shipping_fee_fen": 800,
            "lines": [{"line_id": "L1", "sku_id": "sku-1", "title": "item", "category": "apparel",
                       "quantity": 1, "unit_price_fen": 9000, "supplier_id": "sup-1"}]}


def nested(depth, open_, close, inner=""):
    return open_ * depth + inner + close * depth


def generated(gen, env):
    """(body bytes, extra headers, chunked) for a generated case."""
    kind = gen["kind"]
    ret = json.dumps(base_return(env))
    if kind == "big_body":
        body = base_return(env)
        body["reason_text"] = "x" * gen["bytes"]
        return json.dumps(body).encode(), {}, gen.get("chunked", False)
    if kind == "big_header":
        return ret.encode(), {"X-Filler": "y" * gen["bytes"]}, False
    if kind == "return_with_raw_text":
        raw = bytes.fromhex(gen["hex"]) if "hex" in gen else gen["text"].encode()
        head, _, tail = ret.partition('"reason_text": "')
        return head.encode() + b'"reason_text": "' + raw + tail.encode(), {}, False
    if kind == "order_with_raw_title":
        o = json.dumps(base_order(env))
        head, _, tail = o.partition('"title": "')
        return head.encode() + b'"title": "' + bytes.fromhex(gen["hex"]) + tail.encode(), {}, False
    if kind == "return_with_raw_amount":
        return re.sub(r'"requested_amount_fen": \d+', '"requested_amount_fen": ' + gen["text"],
                      ret).encode(), {}, False
    if kind == "nested":
        return nested(gen["depth"], "[", "]").encode(), {}, False
    if kind == "nested_objects":
        return nested(gen["depth"], '{"a":', "}", "1").encode(), {}, False
    if kind in ("nested_field", "nested_field_order"):
        b = base_return(env) if kind == "nested_field" else base_order(env)
        del b[gen["field"]]
        text = json.dumps(b)[:-1] + ', "%s": %s}' % (gen["field"], nested(gen["depth"], "[", "]"))
        return text.encode(), {}, False
    raise harness.Failure("unknown generator %r" % kind)


def sql_body(case, env):
    """The body of an SQL-metacharacter case, and the order it needs first (or None)."""
    spec = case["sql"]
    value = substitute(spec["value"], env)
    if spec["body"] == "order":
        o = base_order(env)
        o[spec["field"]] = value
        return o, None, value
    if spec["body"] == "order_line":
        o = base_order(env)
        o["lines"][0][spec["field"]] = value
        return o, None, value
    r = base_return(env)
    r[spec["field"]] = value
    order = None
    if spec["field"] in ("platform", "order_id", "line_id"):
        order = base_order(env)
        if spec["field"] == "line_id":
            order["lines"][0]["line_id"] = value
        else:
            order[spec["field"]] = value
        r["order_id"] = order["order_id"]
        r["line_id"] = order["lines"][0]["line_id"]
    else:
        order = base_order(env)
        r["order_id"] = order["order_id"]
    return r, order, value


# ---- what was written --------------------------------------------------------------

def footprint(h, review_id):
    """What a request may write at once (not what events write later on): the rows
    of intake's returns (accepted and refused), orders and lines, warehouse's
    receipts, and the state of the review task kept waiting for a person."""
    sql = ("SELECT (SELECT count(*) FROM intake.returns WHERE NOT refused),"
           " (SELECT count(*) FROM intake.returns WHERE refused),"
           " (SELECT count(*) FROM intake.orders), (SELECT count(*) FROM intake.order_lines),"
           " (SELECT count(*) FROM warehouse.receipts),"
           " (SELECT count(*) FROM review.tasks WHERE return_id = '%s' AND status = 'pending'),"
           " (SELECT count(*) FROM intake.feed_pushes), (SELECT count(*) FROM intake.feed_refused)"
           % review_id)
    names = ("returns", "refused", "orders", "order_lines", "receipts", "review_pending",
             "feed_pushes", "feed_refused")
    return dict(zip(names, (int(v) for v in h.psql(sql)[0])))


def hexval(s):
    return s.encode("utf-8").hex()


def check_verbatim(h, case, value, answer, rids):
    """The SQL-metacharacter value is stored byte for byte (and reads back so)."""
    spec = case["sql"]
    token = value[-10:]
    if spec["body"] in ("order", "order_line"):
        table = "orders" if spec["body"] == "order" else "order_lines"
        rows = h.psql("SELECT encode(convert_to(%s, 'UTF8'), 'hex') FROM intake.%s"
                      " WHERE strpos(%s, '%s') > 0" % (spec["field"], table, spec["field"], token))
        return len(rows) == 1 and rows[0][0] == hexval(value), "intake.%s.%s: %s" % (
            table, spec["field"], rows)
    rid = answer.get("return_id")
    if not rid:
        return False, "no return_id in %r" % answer
    rids.append(rid)
    rows = h.psql("SELECT encode(convert_to(%s, 'UTF8'), 'hex') FROM intake.returns"
                  " WHERE return_id = '%s'" % (spec["field"], rid))
    if len(rows) != 1 or rows[0][0] != hexval(value):
        return False, "intake.returns.%s of %s: %s" % (spec["field"], rid, rows)
    doc = h.return_doc(rid)
    key = {"type": "kind"}.get(spec["field"], spec["field"])
    if doc.get(key) != value:
        return False, "GET /v1/returns/%s gives %s=%r" % (rid, key, doc.get(key))
    return True, ""


def check_recorded(h, case, before, after, answer, value, rids):
    rec = case["recorded"]
    moved = {k: after[k] - before[k] for k in after if after[k] != before[k]}
    if rec == "nothing":
        return not moved, "rows written: %s" % moved
    if rec.startswith("refused:"):
        code = rec.split(":", 1)[1]
        rid = answer.get("return_id")
        row = h.psql("SELECT reject_reason, status FROM intake.returns WHERE return_id = '%s'"
                     " AND refused" % rid) if rid else []
        ok = row == [[code, "rejected"]] and moved == {"refused": 1}
        return ok, "refused record %s, rows written %s" % (row, moved)
    if rec == "unmatched_receipt":
        return moved == {"receipts": 1}, "rows written: %s" % moved
    if rec == "verbatim":
        return check_verbatim(h, case, value, answer, rids)
    raise harness.Failure("%s: unknown recorded %r" % (case["name"], rec))


def check_answer(case, r):
    exp = case["expect"]
    if r.status != exp["status"]:
        return False, "status %d, expected %d: %s" % (r.status, exp["status"], r.text[:300])
    if exp.get("error") is None:
        return True, ""
    if not (isinstance(r.json, dict) and r.get("error") and r.get("message")):
        return False, "no JSON {error, message}: %s" % r.text[:300]
    if exp["error"] and exp["error"] != r.get("error"):
        return False, "error %r, expected %r" % (r.get("error"), exp["error"])
    if exp["message"] and exp["message"].lower() not in r.get("message").lower():
        return False, "message %r does not contain %r" % (r.get("message"), exp["message"])
    return True, ""


# ---- the cases ----------------------------------------------------------------------

def run_http_case(h, case, env, rids):
    value = None
    if "sql" in case:
        body, order, value = sql_body(case, env)
        if order is not None and case["path"] == "/v1/returns":
            h.post_order(order["order_id"], order["lines"], platform=order["platform"],
                         buyer_id=order["buyer_id"])
        raw, headers, chunked = json.dumps(body).encode(), {}, False
    elif "gen" in case:
        raw, headers, chunked = generated(case["gen"], env)
    elif "body" in case:
        raw, headers, chunked = json.dumps(substitute(case["body"], env)).encode(), {}, False
    else:
        raw, headers, chunked = b"", {}, False
    path = substitute(case["path"], env)
    before = footprint(h, env["REVIEW_ID"])
    if case["method"] == "GET":
        r = h.http("GET", case["worker"], path)
    else:
        r = h.raw_http(case["worker"], case["method"], path, raw, headers, chunked)
    ok, why = check_answer(case, r)
    after = footprint(h, env["REVIEW_ID"])
    if ok:
        ok, why = check_recorded(h, case, before, after, r, value, rids)
    said = "%s: %s" % (r.get("error"), r.get("message")) \
        if isinstance(r.json, dict) and r.get("error") else ""
    return ok, why, "%d %s" % (r.status, said[:110])


def run_event_case(h, case, events):
    rid = harness.ulid()
    if "raw_hex" in case:
        eid, payload = harness.ulid(), bytes.fromhex(case["raw_hex"])
    else:
        eid, payload = harness.event_payload(case["type"], rid, case["producer"], case["body"],
                                             v=case["v"])
    harness.insert_outbox(h, case["producer"], case["dest"], eid, rid, case["type"], payload)
    rows = h.wait_until(lambda: h.psql("SELECT reason FROM %s.dead_letter WHERE event_id = '%s'"
                                       % (case["producer"], eid)),
                        15, "%s: the event to be dead-lettered" % case["name"])
    events.append((case["producer"], eid))
    want = case["expect"]["dead_letter"]
    if want not in rows[0][0]:
        return False, "dead letter reason %r, expected %r" % (rows[0][0], want), rows[0][0]
    if h.count("FROM %s.inbox WHERE event_id = '%s'" % (case["dest"], eid)):
        return False, "%s recorded it in its inbox" % case["dest"], rows[0][0]
    return True, "", "dead letter: " + rows[0][0]


# ---- platform pushes (intake's feed endpoints) --------------------------------------
#
# These go to intake's feed address (RF_INTAKE_FEED_LISTEN), apart from its API,
# with the platforms' keys below; each variant is built with the stand-in's own
# push code.
KS_APP_KEY, KS_MESSAGE_KEY = "ks-app", "AAECAwQFBgcICQoLDA0ODw=="
KS_OTHER_KEY = "DwAODQwLCgkIBwYFBAMCAQ=="
DY_APP_KEY, DY_APP_SECRET = "dy-app", "dy-secret"
FEED_PORT = harness.free_ports(1)[0]
FEED_SETTINGS = {"RF_INTAKE_FEED_LISTEN": "127.0.0.1:%d" % FEED_PORT,
                 "RF_KUAISHOU_MESSAGE_KEY": KS_MESSAGE_KEY, "RF_KUAISHOU_APP_KEY": KS_APP_KEY,
                 "RF_DOUYIN_APP_KEY": DY_APP_KEY, "RF_DOUYIN_APP_SECRET": DY_APP_SECRET}


def feed_pushes(case):
    """The pushes of a feed case: [(path, body bytes, headers)]."""
    sys.path.insert(0, os.path.join(HERE, "..", "standin"))
    import kuaishou as standin  # noqa: E402
    now = int(time.time() * 1000)
    if case["platform"] == "kuaishou":
        st = standin.Standin.__new__(standin.Standin)  # only its message builder is used
        st.app_key = "other-app" if case["variant"] == "wrong_app_key" else KS_APP_KEY
        rec = {"oid": 2301234567890100000 + now % 100000, "refundId": 2401234567890100000 + now % 100000,
               "handlingWay": 10, "status": 10, "createTime": now - 30 * 86400000,
               "updateTime": now - 30 * 86400000}
        plain = st.push_message("kwaishop_aftersales_addRefund", rec, "E-" + harness.uid("ks"))
        key = KS_OTHER_KEY if case["variant"] == "wrong_key" else KS_MESSAGE_KEY
        body = b"%%% not base64 %%%" if case["variant"] == "not_base64" else \
            standin.encrypt_push(plain, key).encode()
        push = ("/v1/feeds/kuaishou", body, {"Content-Type": "text/plain"})
        return [push, push] if case["variant"] == "replayed" else [push]
    msg = [{"tag": "200", "msg_id": "M-" + harness.uid("dy"),
            "data": json.dumps({"aftersale_id": 7031234567890100000 + now % 100000,
                                "aftersale_status": 6, "aftersale_type": 1,
                                "order_id": "5001234567890100000", "refund_amount": 1000,
                                "apply_time": now // 1000 - 30 * 86400})}]
    body = json.dumps(msg).encode()
    sign = standin.hashlib.md5(DY_APP_KEY.encode() + body + DY_APP_SECRET.encode()).hexdigest()
    headers = {"Content-Type": "application/json", "app-id": DY_APP_KEY, "event-sign": sign}
    if case["variant"] == "wrong_signature":
        headers["event-sign"] = "0" * 32
    elif case["variant"] == "no_signature":
        del headers["event-sign"]
    push = ("/v1/feeds/douyin", body, headers)
    return [push, push] if case["variant"] == "replayed" else [push]


def check_feed_answer(case, r):
    """The platform's own answer shape: Kuaishou {result, error_msg}, Douyin
    {code, msg}; success is result 1 / code 0, a refusal says why."""
    exp = case["expect"]
    if r.status != exp["status"]:
        return False, "status %d, expected %d: %s" % (r.status, exp["status"], r.text[:300])
    doc = r.json if isinstance(r.json, dict) else {}
    if r.status == 200:
        good = doc.get("result") == 1 if case["platform"] == "kuaishou" else doc.get("code") == 0
        return (True, "") if good else (False, "not the platform's success answer: %s" % r.text)
    why = doc.get("error_msg") if case["platform"] == "kuaishou" else doc.get("msg")
    if not why or exp["message"].lower() not in why.lower():
        return False, "reason %r does not contain %r" % (why, exp["message"])
    return True, ""


def run_feed_case(h, case, env):
    """Every push of the case answered as the table says (each a new connection to
    the feed address); recorded: audit (one row in the audit of refused pushes,
    nothing else) or once (the push recorded once: a replay adds nothing)."""
    before = footprint(h, env["REVIEW_ID"])
    answers = []
    for path, body, headers in feed_pushes(case):
        r = h.raw_http("intake", "POST", path, body, headers, port=FEED_PORT)
        answers.append(r)
        ok, why = check_feed_answer(case, r)
        if not ok:
            return ok, why, "%d" % r.status
    want = {"audit": {"feed_refused": 1}, "once": {"feed_pushes": 1}}[case["recorded"]]
    moved = {}
    for _ in range(50):  # the receiver records first, the drain writes to the database after
        after = footprint(h, env["REVIEW_ID"])
        moved = {k: after[k] - before[k] for k in after if after[k] != before[k]}
        if moved == want:
            break
        time.sleep(0.1)
    if moved != want:
        return False, "rows written %s, expected %s" % (moved, want), "%d" % answers[-1].status
    return True, "", " ".join(str(r.status) for r in answers)


def probe(h, worker, rids):
    """The next good request to the same worker is served."""
    if worker != "intake":
        return h.http("GET", worker, "/healthz").status == 200
    o, ln = h.fresh_line("probe", 1, 9000)
    rid = h.post_return(harness.uid("probe"), o, ln, kind="refund_only", amount=900)
    rids.append(rid)
    return True


def scenario(h):
    with open(TABLE) as f:
        cases = json.load(f)["cases"]
    env = {"T": harness.uid("t")}
    env["ORDER"] = "bad-" + env["T"]
    env["ORDER2"] = "bad2-" + env["T"]
    h.post_order(env["ORDER"], [("L1", 1, 9000)])
    h.post_order(env["ORDER2"], [("L1", 2, 4500)])
    o, ln = h.fresh_line("review", 1, 90000)
    env["REVIEW_ID"] = h.post_return(harness.uid("rev"), o, ln, kind="return_refund",
                                     amount=80000)
    h.wait_status(env["REVIEW_ID"], "under_review")
    now = int(time.time() * 1000)
    env["NOW_MINUS_10D"], env["NOW_MINUS_3D"] = now - 10 * 86400000, now - 3 * 86400000

    results = []  # (case, ok, why, answer)
    rids = []     # returns accepted (must all be refunded once)
    events = []
    for case in cases:
        env["PRID"] = harness.uid("bad")
        env["T"] = harness.uid("t")
        if case["target"] == "http":
            ok, why, answer = run_http_case(h, case, env, rids)
        elif case["target"] == "event":
            ok, why, answer = run_event_case(h, case, events)
        else:
            ok, why, answer = run_feed_case(h, case, env)
        served = probe(h, case.get("worker", "intake"), rids)
        if not served:
            ok, why = False, (why + "; " if why else "") + "the next good request failed"
        results.append((case, ok, why, answer))
        harness.log("  %-30s %-5s %s%s" % (case["name"], "ok" if ok else "FAIL", answer,
                                           "" if ok else "  <- " + why))

    h.step("afterwards: everything accepted is refunded once, nothing else left")
    h.wait_until(lambda: h.count("FROM refund.refunds WHERE return_id IN (%s)"
                                 % ",".join("'%s'" % r for r in rids)) == len(rids), 60,
                 "the %d accepted returns to be refunded" % len(rids))
    h.wait_outboxes_empty(60)
    lost = len(rids) - h.count("FROM intake.returns WHERE status = 'refunded' AND return_id IN"
                               " (%s)" % ",".join("'%s'" % r for r in rids))
    dup = h.psql("SELECT return_id FROM refund.refunds GROUP BY 1 HAVING count(*) > 1")
    dup_msgs = h.psql("SELECT source_event_id, audience FROM notification.messages"
                      " GROUP BY 1, 2 HAVING count(*) > 1")
    dl = h.dead_letter_counts()
    expected_dl = {}
    for producer, _ in events:
        expected_dl[producer] = expected_dl.get(producer, 0) + 1
    h.check(all(dl[s] == expected_dl.get(s, 0) for s in dl),
            "dead letters %s, expected only the event cases' %s" % (dl, expected_dl))
    for producer, eid in events:
        h.psql("DELETE FROM %s.dead_letter WHERE event_id = '%s'" % (producer, eid))

    classes = {}
    for case, ok, _, _ in results:
        c = classes.setdefault(case["class"], [0, 0, 0])
        if ok is None:
            c[2] += 1
            continue
        c[0] += 1
        c[1] += 1 if ok else 0
    harness.log("bad-input table: %d cases" % len(results))
    for name, (tried, good, skipped) in classes.items():
        harness.log("  %-40s tried=%d as_expected=%d%s" % (name, tried, good,
                                                          " skipped=%d" % skipped if skipped
                                                          else ""))
    harness.log("accepted returns %d (SQL cases and probes): lost=%d duplicated=%d;"
                " duplicate messages %d" % (len(rids), lost, len(dup), len(dup_msgs)))
    failed = [(c["name"], why) for c, ok, why, _ in results if ok is False]
    h.check(not failed, "cases not answered as the table says:\n  " +
            "\n  ".join("%s: %s" % f for f in failed))
    h.check(lost == 0 and not dup and not dup_msgs, "lost %d, refunded twice %s, messages"
            " twice %s" % (lost, dup, dup_msgs))


if __name__ == "__main__":
    harness.main(scenario, worker_env={"intake": FEED_SETTINGS})
