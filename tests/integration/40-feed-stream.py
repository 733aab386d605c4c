#!/usr/bin/env python3
"""40: a stream of platform pushes with duplicates, reordering and losses ends with
intake agreeing with the platform on every record (issue 4, "What must be shown").

Kuaishou (pushes carry ids only; intake fetches the record, and polls the refund list):
  - 200 refunds (a third return-and-refund, the rest refund-only), each pushed as
    addRefund; then two rounds of changes made on the stand-in (seller agreed, buyer
    shipped with a tracking number, buyer closed the request, amount lowered, platform
    arbitration), each pushed as updateRefund;
  - duplicates: some pushes are sent twice with the same eventId;
  - reordering: for some refunds the older update's push is sent after the newer's;
  - losses: some pushes are never sent, including the add of some refunds and the
    last change of others (made after everything else settled): only the poller
    (open.seller.order.refund.pcursor.list by update time) can bring those.
Douyin (pushes carry the whole record, so versions matter directly):
  - 60 after-sales, each with two or three records (created, agreed, returned or
    closed) sent in shuffled order, some twice.
At the end every record's version and neutral status in intake (feed_records) is
compared with the platform's: wrong final states must be 0; a record closed after
its return existed must have return.cancelled; every refund that was ever open as a
request when intake first saw it is a return. Prints the figures.
"""
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import feedkit  # noqa: E402
import harness  # noqa: E402

N_KS = 200
N_DY = 60
FEEDS = feedkit.Feeds(poll_interval_ms=1000, poll_lag_ms=1000, page_size=50)


def ids(i):
    return ("2440000%012d" % i, "2340000%012d" % i, "3340000%012d" % i)


def scenario(h):
    ks = FEEDS.standin
    rnd = random.Random(40)
    fig = {"sent": 0, "dup": 0, "reordered": 0, "lost": 0, "sent_dy": 0, "reordered_dy": 0}
    seq = [0]

    def push(topic, rec, event_id=None):
        if event_id is None:
            seq[0] += 1
            event_id = "ev-40-%d" % seq[0]
        status, answer, took = FEEDS.ks_push(topic, rec, event_id)
        h.check(status == 200 and answer.replace(" ", "") == '{"result":1}',
                "push %s answered %d %s" % (event_id, status, answer))
        fig["sent"] += 1
        return event_id

    def push_maybe_twice(topic, rec):
        ev = push(topic, rec)
        if rnd.random() < 0.2:
            push(topic, rec, ev)
            fig["dup"] += 1

    h.step("orders of the %d Kuaishou refunds and %d Douyin after-sales" % (N_KS, N_DY))
    for i in range(N_KS):
        rid, oid, sku = ids(i)
        feedkit.post_ks_order(h, oid, sku, price=20000)
    for i in range(N_DY):
        feedkit.post_ks_order(h, "6440000%012d" % i, "6540000%012d" % i, price=9000,
                              platform="douyin", shop="dy-shop")

    h.step("Kuaishou: %d refunds asked, addRefund pushed (some twice, some lost)" % N_KS)
    lost_add = set()
    for i in range(N_KS):
        rid, oid, sku = ids(i)
        rr = i % 3 == 0
        rec = ks.add_refund(rid, oid, sku_id=sku, handling_way=1 if rr else 10,
                            status=11 if rr else 10, refund_fee=5000 + i)
        if i % 10 == 7:
            lost_add.add(rid)
            fig["lost"] += 1
            continue
        push_maybe_twice("kwaishop_aftersales_addRefund", dict(rec))

    h.wait_until(lambda: sum(1 for v in feedkit.feed_records(h, "kuaishou").values()
                             if v[2] == "created") == N_KS, 60,
                 "every refund a return (the lost adds through the poller)")

    h.step("Kuaishou round 1 and 2 of changes, pushed with duplicates and reordering")
    pending_pushes = []  # (rid, records) of pushes to send in some order
    for i in range(N_KS):
        rid = ids(i)[0]
        changes = []
        if i % 3 == 0:
            changes.append(dict(status=30, negotiateStatus=2))
            if i % 2 == 0:
                changes.append(dict(status=40, logisticsInfo={"expressNo": "SF%010d" % i,
                                                              "expressCode": 1}))
        if i % 4 == 1:
            changes.append(dict(status=70))
        elif i % 5 == 2:
            changes.append(dict(refundFee=3000 + i))
        elif i % 7 == 3:
            changes.append(dict(status=20))
        recs = []
        for ch in changes:
            time.sleep(0.002)  # distinct updateTime per change
            recs.append(ks.update_refund(rid, **ch))
        if recs:
            pending_pushes.append((i, recs))
    for i, recs in pending_pushes:
        order = list(recs)
        if len(order) >= 2 and i % 6 == 0:
            order.reverse()  # the older update's push arrives after the newer's
            fig["reordered"] += 1
        for rec in order:
            push_maybe_twice("kwaishop_aftersales_updateRefund", rec)

    h.step("Douyin: %d after-sales, records shuffled, some twice" % N_DY)
    base = int(time.time()) - 600
    dy_expected = {}
    messages = []
    for i in range(N_DY):
        aid = "7440000%012d" % i
        common = {"aftersale_id": aid, "p_id": "6440000%012d" % i, "s_id": "6540000%012d" % i,
                  "shop_id": "dy-shop", "aftersale_type": 0 if i % 2 else 2,
                  "refund_amount": 4000, "reason_code": 1, "apply_time": base + i}
        steps = [(200, 6, {})]
        if i % 2:
            steps.append((202, 7, {"agree_time": base + i + 100}))
            if i % 4 == 1:
                steps.append((203, 11, {"modify_time": base + i + 200}))
        if i % 5 == 0:
            steps.append((207, 28, {"close_time": base + i + 300}))
        recs = []
        for k, (tag, st, extra) in enumerate(steps):
            data = dict(common, aftersale_status=st, **extra)
            recs.append({"tag": str(tag), "msg_id": "dy-40-%d-%d" % (i, k), "data": data})
        dy_expected[aid] = (feedkit.dy_neutral(steps[-1][1]),
                            1000 * max(v for _, _, e in steps for v in e.values())
                            if len(steps) > 1 else 1000 * (base + i))
        if len(recs) >= 2 and i % 3 == 0:
            recs.reverse()
            fig["reordered"] += 1
            fig["reordered_dy"] += 1
        for r in recs:
            messages.append(r)
            if rnd.random() < 0.2:
                messages.append(r)
                fig["dup"] += 1
    for k in range(0, len(messages), 5):  # pushes of up to 5 messages
        status, answer, _ = FEEDS.dy_push(messages[k:k + 5])
        h.check(status == 200 and '"code":0' in answer.replace(" ", ""),
                "Douyin push answered %d %s" % (status, answer))
        fig["sent"] += len(messages[k:k + 5])
        fig["sent_dy"] += len(messages[k:k + 5])

    h.step("let everything settle, then last changes whose pushes are lost")
    def settled():
        got = feedkit.feed_records(h, "kuaishou")
        return all(got.get(ids(i)[0], (None,))[0] == ks.refunds[ids(i)[0]]["updateTime"]
                   for i in range(N_KS))
    h.wait_until(settled, 120, "intake to agree with the platform after the pushes")
    lost_last = []
    for i in range(N_KS):
        if i % 10 == 3 and ks.refunds[ids(i)[0]]["status"] not in (70,):
            rec = ks.update_refund(ids(i)[0], refundFee=ks.refunds[ids(i)[0]]["refundFee"] - 1)
            lost_last.append(ids(i)[0])
            fig["lost"] += 1

    h.step("compare every record with the platform")
    wrong = []

    def compare():
        wrong.clear()
        got = feedkit.feed_records(h, "kuaishou")
        for i in range(N_KS):
            rid = ids(i)[0]
            rec = ks.refunds[rid]
            want = (rec["updateTime"], feedkit.ks_neutral(rec["status"], rec["negotiateStatus"]))
            if got.get(rid, (None, None))[:2] != want:
                wrong.append((rid, want, got.get(rid)))
        got = feedkit.feed_records(h, "douyin")
        for aid, (status, version) in dy_expected.items():
            if got.get(aid, (None, None))[:2] != (version, status):
                wrong.append((aid, (version, status), got.get(aid)))
        return not wrong

    try:
        h.wait_until(compare, 120, "every record to match the platform")
    except harness.Failure:
        pass
    h.check(not wrong, "wrong final states: %d, e.g. %r" % (len(wrong), wrong[:5]))

    closed_with_return = h.psql(
        "SELECT f.platform_return_id, EXISTS (SELECT 1 FROM intake.timeline t"
        " WHERE t.return_id = r.return_id AND t.type = 'return.cancelled')"
        " FROM intake.feed_records f JOIN intake.returns r USING (platform, platform_return_id)"
        " WHERE f.platform_status = 'closed' AND NOT r.refused")
    uncancelled = [p for p, c in closed_with_return if c != "t"]
    h.check(not uncancelled, "closed on the platform but no return.cancelled: %r" % uncancelled)
    created = h.count("FROM intake.returns WHERE platform IN ('kuaishou', 'douyin')"
                      " AND NOT refused")
    refused = h.count("FROM intake.returns WHERE platform IN ('kuaishou', 'douyin') AND refused")
    noted = h.count("FROM intake.feed_records WHERE state = 'noted'")
    doubled = int(h.psql_val("SELECT count(*) FROM (SELECT 1 FROM intake.returns"
                             " GROUP BY platform, platform_return_id HAVING count(*) > 1) d"))
    h.check(doubled == 0, "returns doubled: %d" % doubled)
    h.check(created + noted + refused == N_KS + N_DY,
            "every record is a return, noted or refused: %d + %d + %d of %d"
            % (created, noted, refused, N_KS + N_DY))
    h.check(refused == 0, "refused by the policy: %d" % refused)
    updated = h.count("FROM intake.timeline WHERE type = 'return.updated'")
    cancelled = h.count("FROM intake.timeline WHERE type = 'return.cancelled'"
                        " AND producer = 'intake'")
    deduped = h.count("FROM intake.feed_pushes WHERE duplicates > 0")
    stale = h.count("FROM intake.feed_pushes WHERE outcome = 'stale'")
    dy_stale = h.count("FROM intake.feed_pushes WHERE outcome = 'stale' AND platform = 'douyin'")
    h.check(dy_stale > 0, "the reordered Douyin records were not seen as stale")
    m = h.metrics("intake")
    windows = [ln for ln in m.splitlines() if ln.startswith("rf_feed_poll_windows_total")]
    lists = len([c for c in ks.calls_of("open.seller.order.refund.pcursor.list")])
    details = len(ks.calls_of("open.seller.order.refund.detail"))
    print("FIGURES 40: pushes sent %d (Kuaishou %d, Douyin messages %d), duplicates %d,"
          " reordered %d (Kuaishou refunds %d, Douyin after-sales %d),"
          " lost %d (add %d, last change %d); returns created %d"
          " (records noted without a return %d: closed before intake first saw them);"
          " return.updated %d, return.cancelled %d; deduplicated events %d, stale pushes %d"
          " (Douyin records older than the applied one %d);"
          " refund.detail calls %d, list calls %d (%s); wrong final states %d"
          % (fig["sent"], fig["sent"] - fig["sent_dy"], fig["sent_dy"], fig["dup"],
             fig["reordered"], fig["reordered"] - fig["reordered_dy"], fig["reordered_dy"],
             fig["lost"], len(lost_add), len(lost_last), created, noted, updated, cancelled,
             deduped, stale, dy_stale, details, lists, windows[0] if windows else "?",
             len(wrong)), flush=True)


if __name__ == "__main__":
    try:
        harness.main(scenario, worker_env={"intake": FEEDS.env})
    finally:
        FEEDS.close()
