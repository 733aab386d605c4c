#!/usr/bin/env python3
"""03: a consumer that was down, or frozen, catches up on everything, exactly once.

Proves:
  - with refund killed (SIGKILL), 30 small refund_only returns are approved (intake shows
    them approved) while their return.approved events wait in review's outbox toward
    refund (30 rows, also seen in review's rf_outbox_pending{dest="refund"});
  - when refund starts again it receives all of them (catch-up by polling the outbox):
    every return ends refunded with exactly one refund row, and the outboxes drain;
  - notification frozen with SIGSTOP for ~10 s while returns keep streaming in (its
    producers time out and resend meanwhile), then SIGCONT: it catches up, every return
    gets its messages, and no message exists twice for one (event, audience) although
    redeliveries reached it (the inbox dedups them).
"""
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

N_DOWN = 30


def metric_value(text, name, labels):
    for ln in text.splitlines():
        if ln.startswith(name + "{") and all(l in ln for l in labels):
            return int(ln.rsplit(" ", 1)[1])
    return None


def all_status(h, rids, status):
    q = ",".join("'%s'" % r for r in rids)
    return h.count("FROM intake.returns WHERE return_id IN (%s) AND status = '%s'"
                   % (q, status)) == len(rids)


def scenario(h):
    order = harness.uid("order")
    h.post_order(order, [("L%d" % i, 5, 4000) for i in range(1, 41)])

    h.step("refund down (SIGKILL); %d refund_only returns go through review" % N_DOWN)
    rc = h.kill("refund", signal.SIGKILL)
    harness.log("refund killed (status %s)" % rc)
    rids = []
    for i in range(N_DOWN):
        # each return its own order (buyer): the review rules count a buyer's
        # returns, and intake allows one open return per line
        o, ln = h.fresh_line("down", 5, 4000)
        rids.append(h.post_return(harness.uid("down%d" % i), o, ln,
                                  kind="refund_only", amount=1000 + i, reason="late"))
    h.wait_until(lambda: all_status(h, rids, "approved"), 30,
                 "intake to show all %d returns approved" % N_DOWN)
    q = ",".join("'%s'" % r for r in rids)
    n = h.wait_until(lambda: h.count("FROM review.outbox WHERE dest = 'refund' AND return_id IN (%s)"
                                     % q) == N_DOWN and N_DOWN, 20,
                     "review's outbox to hold %d events for refund" % N_DOWN)
    types = h.psql("SELECT DISTINCT type FROM review.outbox WHERE dest = 'refund'")
    h.check(types == [["return.approved"]], "review outbox toward refund holds %s" % types)
    pend = metric_value(h.metrics("review"), "rf_outbox_pending", ['dest="refund"'])
    h.check(pend == N_DOWN, "review rf_outbox_pending{dest=refund} = %s, expected %d"
            % (pend, N_DOWN))
    h.check(all(h.status(r) == "approved" for r in rids[:3]), "intake API disagrees")
    harness.log("review outbox toward refund: %d rows; rf_outbox_pending=%s; intake: all approved"
                % (n, pend))
    # Nothing may move while refund is down.
    time.sleep(1.0)
    h.check(h.count("FROM review.outbox WHERE dest = 'refund'") == N_DOWN,
            "review's outbox toward refund changed while refund was down")

    h.step("refund back: everything refunded exactly once")
    t0 = time.monotonic()
    h.start("refund")
    h.wait_until(lambda: all_status(h, rids, "refunded"), 30,
                 "all %d returns to be refunded after refund restarted" % N_DOWN)
    harness.log("all %d refunded %.1fs after refund restarted" % (N_DOWN, time.monotonic() - t0))
    h.wait_outboxes_empty(20)
    rows = h.psql("SELECT return_id, count(*) FROM refund.refunds WHERE return_id IN (%s)"
                  " GROUP BY 1" % q)
    h.check(len(rows) == N_DOWN and all(r[1] == "1" for r in rows),
            "refund.refunds: %d returns with refunds, counts %s" % (len(rows),
                                                                   sorted({r[1] for r in rows})))
    total = int(h.psql_val("SELECT sum(amount_fen) FROM refund.refunds WHERE return_id IN (%s)" % q))
    want = sum(1000 + i for i in range(N_DOWN))
    h.check(total == want, "refunded %d fen in all, expected %d" % (total, want))

    h.step("notification frozen (SIGSTOP ~10 s) while returns stream in, then SIGCONT")
    stream = []
    errors = []
    stop = threading.Event()

    def streamer():
        i = 0
        try:
            while not stop.is_set():
                o, ln = h.fresh_line("frz", 5, 4000)
                stream.append(h.post_return(harness.uid("frz%d" % i), o, ln,
                                            kind="refund_only", amount=500 + i,
                                            reason="damaged"))
                i += 1
                time.sleep(0.1)
        except Exception as e:  # reported by the main thread
            errors.append(e)

    th = threading.Thread(target=streamer, daemon=True)
    th.start()
    time.sleep(1.0)
    before_stop = len(stream)
    h.kill("notification", signal.SIGSTOP)
    frozen_at = time.monotonic()
    time.sleep(10.0)
    # While frozen, messages for the returns sent meanwhile cannot exist.
    during = len(stream) - before_stop
    pending_notif = h.outbox_counts()
    h.kill("notification", signal.SIGCONT)
    harness.log("notification frozen %.1fs; %d returns arrived meanwhile; outbox rows then: %s"
                % (time.monotonic() - frozen_at, during, pending_notif))
    time.sleep(1.0)
    stop.set()
    th.join(timeout=h.t(30))
    h.check(not errors, "streaming returns failed: %s" % errors)
    h.check(during >= 20, "only %d returns were sent while notification was frozen" % during)
    h.wait_until(lambda: all_status(h, stream, "refunded"), 30,
                 "all %d streamed returns to be refunded" % len(stream))
    h.wait_outboxes_empty(30)
    timeouts = sum(v for v in (metric_value(h.metrics(w), "rf_ack_timeouts_total",
                                            ['dest="notification"'])
                               for w in harness.WORKERS if w != "notification") if v)
    dups = metric_value(h.metrics("notification"), "rf_inbox_duplicates_total", [])
    harness.log("resends toward notification (ack timeouts): %d; duplicates it dropped: %s"
                % (timeouts, dups))
    h.check(timeouts > 0, "no producer timed out toward the frozen notification worker: "
            "the freeze did not exercise redelivery")

    dup = h.psql("SELECT source_event_id, audience, count(*) FROM notification.messages"
                 " GROUP BY 1, 2 HAVING count(*) > 1")
    h.check(not dup, "duplicate notification messages: %s" % dup[:10])
    everyone = rids + stream
    q2 = ",".join("'%s'" % r for r in everyone)
    per = {}
    for rid, tmpl, n in h.psql("SELECT return_id, template_name, count(*) FROM notification.messages"
                               " WHERE return_id IN (%s) GROUP BY 1, 2" % q2):
        per.setdefault(rid, {})[tmpl] = int(n)
    for rid in everyone:
        got = per.get(rid, {})
        # The lean default tells the buyer of the approval and the refund,
        # and sends the survey; the request is no longer acknowledged.
        for tmpl in ("approved", "refunded", "survey"):
            h.check(got.get(tmpl) == 1, "return %s: %d %r message(s), expected 1 (has %s)"
                    % (rid, got.get(tmpl, 0), tmpl, got))
    # intake heard every notice.sent once
    tl_dup = h.psql("SELECT event_id FROM intake.timeline GROUP BY 1 HAVING count(*) > 1")
    h.check(not tl_dup, "intake timeline holds an event twice: %s" % tl_dup[:5])
    notices = int(h.psql_val("SELECT count(*) FROM intake.timeline WHERE type = 'notice.sent'"
                             " AND return_id IN (%s)" % q2))
    # One notice.sent per event that made a buyer-facing message (the survey
    # rides with the refund's), not one per message.
    msgs = int(h.psql_val("SELECT count(DISTINCT source_event_id) FROM notification.messages"
                          " WHERE return_id IN (%s) AND audience = 'buyer'"
                          " AND template_name <> 'survey'" % q2))
    h.check(notices == msgs, "intake timeline has %d notice.sent, notification told the buyer"
            " of %d events" % (notices, msgs))
    rows = h.psql("SELECT return_id, count(*) FROM refund.refunds GROUP BY 1 HAVING count(*) > 1")
    h.check(not rows, "returns refunded twice: %s" % rows)
    h.check(h.count("FROM refund.refunds") == len(everyone),
            "refund.refunds has %d rows for %d returns" % (h.count("FROM refund.refunds"),
                                                          len(everyone)))
    dl = h.dead_letter_counts()
    h.check(all(v == 0 for v in dl.values()), "dead letters: %s" % dl)
    harness.log("catch-up ok: %d returns while refund was down, %d while notification was frozen"
                % (len(rids), len(stream)))


if __name__ == "__main__":
    harness.main(scenario)
