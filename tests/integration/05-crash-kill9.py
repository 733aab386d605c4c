#!/usr/bin/env python3
"""05: the crash test. Returns stream through the five workers while each worker in
turn is killed with SIGKILL and restarted; in the end nothing is lost, nothing is done
twice, nothing is stuck.

  - a driver thread sends RF_CRASH_RETURNS (default 600) returns through the HTTP API,
    ~60% refund_only under 50 yuan (approved automatically) and ~40% return_refund,
    retrying on connection errors and 503 (idempotent by platform_return_id);
  - a completion thread drives every return_refund return to the end: approves what
    review lists as pending (GET /v1/reviews), receives every parcel warehouse expects
    (POST /v1/receipts, resellable), retrying on 404/503/connection errors and taking
    409 as "already done";
  - the killer (main thread) SIGKILLs the workers round robin, 0.5-2 s apart, each
    restarted 0.3-1 s later, RF_CRASH_KILLS (default 25, at least 4 per worker) times;
  - then it waits (bounded) until every return is refunded and checks, like a
    total-queue checker: each return sent exists once in intake.returns and is refunded;
    refund.refunds holds exactly one refund per return and their sum is the sum asked;
    refund.plans one per return; notification.messages has no (source_event_id,
    audience) twice and every return got its 'refunded' buyer message exactly once;
    intake.timeline has no event twice and one refund.issued per return; every outbox
    and every dead_letter table is empty.
Prints: crash test: returns=N kills=K (per worker ...) lost=0 duplicated=0 stuck=0
dead_letters=0 elapsed=Ns
"""
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

N_RETURNS = int(os.environ.get("RF_CRASH_RETURNS", "600"))
N_KILLS = int(os.environ.get("RF_CRASH_KILLS", "25"))
SEED = int(os.environ.get("RF_CRASH_SEED", str(int(time.time()))))
# One line per order, so one buyer per return: the review rules count a buyer's
# returns in 90 days (3 or more: a person decides), which is not what this test is about.
LINES_PER_ORDER = 1
UNIT_PRICE = 9000


class Run:
    def __init__(self):
        self.stop_driver = threading.Event()
        self.stop_completer = threading.Event()
        self.sent = []          # (platform_return_id, return_id, kind, amount)
        self.errors = []
        self.approved = 0
        self.received = 0
        self.conflicts = 0      # 409 answers (a decision/receipt already made)
        self.unmatched = 0      # 202 answers to a receipt for an expected parcel
        self.post_retries = 0
        self.replayed_posts = 0
        self.action_retries = 0
        self.lock = threading.Lock()


def plan_returns(n):
    """[(kind, amount)]: ~60% refund_only under 50 yuan, the rest return_refund."""
    plan = []
    for _ in range(n):
        if random.random() < 0.6:
            plan.append(("refund_only", random.randint(100, 5000)))
        else:
            plan.append(("return_refund", random.randint(1000, UNIT_PRICE)))
    return plan


def post_return_reliably(h, run, body):
    """POST until intake answers 202/200 with a return_id (retries on connection
    errors and 503; the platform_return_id makes it idempotent)."""
    deadline = time.monotonic() + h.t(90)
    while True:
        try:
            r = h.http("POST", "intake", "/v1/returns", body, retry_for=h.t(60))
            if r.status in (200, 202) and r.get("return_id"):
                return r.json["return_id"], r.status
            if r.status != 503:
                raise harness.Failure("POST /v1/returns %s: %r" % (body["platform_return_id"], r))
        except (OSError, harness.http.client.HTTPException) as e:
            if time.monotonic() > deadline:
                raise harness.Failure("POST /v1/returns %s: giving up: %s"
                                      % (body["platform_return_id"], e))
        run.post_retries += 1
        if time.monotonic() > deadline:
            raise harness.Failure("POST /v1/returns %s: still 503 after 90s"
                                  % body["platform_return_id"])
        time.sleep(0.1)


def driver(h, run, plan, orders, pace):
    try:
        for i, (kind, amount) in enumerate(plan):
            if run.stop_driver.is_set():
                return
            order, line = orders[i]
            prid = "crash-%d-%05d" % (SEED, i)
            body = h.return_body(prid, order, line, kind=kind, quantity=1, amount=amount,
                                 reason=random.choice(["quality", "late", "size_fit", "damaged",
                                                       "changed_mind", "other"]))
            rid, status = post_return_reliably(h, run, body)
            with run.lock:
                run.sent.append((prid, rid, kind, amount))
                if status == 200:
                    run.replayed_posts += 1  # committed before a crash, answered on retry
            time.sleep(pace)
    except BaseException as e:  # noqa: B902 - reported by the main thread
        run.errors.append("driver: %s" % e)


def act(h, run, worker, path, body):
    """One approve/receive attempt: 'done', 'retry' or 'unmatched'."""
    try:
        r = h.http("POST", worker, path, body, retry_for=0, timeout=h.t(10))
    except (OSError, harness.http.client.HTTPException):
        run.action_retries += 1
        return "retry"
    if r.status == 200:
        return "done"
    if r.status == 409:
        run.conflicts += 1
        return "done"
    if r.status in (404, 503):
        run.action_retries += 1
        return "retry"
    if r.status == 202 and worker == "warehouse":
        run.unmatched += 1
        return "unmatched"
    raise harness.Failure("POST %s %s: unexpected %r" % (worker, path, r))


def completer(h, run):
    """Approve pending reviews, receive expected parcels, until told to stop."""
    done_approve, done_receive = set(), set()
    try:
        while not run.stop_completer.is_set():
            worked = False
            try:
                r = h.http("GET", "review", "/v1/reviews", retry_for=0, timeout=h.t(10))
                pending = [t["return_id"] for t in r.json["reviews"]] if r.status == 200 else []
            except (OSError, harness.http.client.HTTPException, TypeError, KeyError):
                pending = []
            for rid in pending:
                if rid in done_approve or run.stop_completer.is_set():
                    continue
                if act(h, run, "review", "/v1/reviews/%s/approve" % rid,
                       {"by": "crash-bot"}) == "done":
                    done_approve.add(rid)
                    run.approved += 1
                worked = True
            try:
                expected = [row[0] for row in h.psql(
                    "SELECT return_id FROM warehouse.expected_parcels WHERE status = 'expected'"
                    " ORDER BY created_at LIMIT 500")]
            except harness.Failure:
                expected = []
            for rid in expected:
                if rid in done_receive or run.stop_completer.is_set():
                    continue
                if act(h, run, "warehouse", "/v1/receipts",
                       {"return_id": rid, "condition": "resellable",
                        "received_by": "crash-dock"}) == "done":
                    done_receive.add(rid)
                    run.received += 1
                worked = True
            if not worked:
                time.sleep(0.2)
    except BaseException as e:  # noqa: B902
        run.errors.append("completer: %s" % e)


def killer(h, run):
    kills = {w: 0 for w in harness.WORKERS}
    order = list(harness.WORKERS)
    random.shuffle(order)
    for k in range(N_KILLS):
        if run.errors:
            break
        w = order[k % len(order)]
        time.sleep(random.uniform(0.5, 2.0))
        pid = h.pid(w)
        h.kill(w, signal.SIGKILL)
        kills[w] += 1
        down = random.uniform(0.3, 1.0)
        time.sleep(down)
        h.start(w)
        harness.log("kill #%d: %s (pid %d) SIGKILL, down %.1fs, restarted as pid %d; "
                    "returns sent %d" % (k + 1, w, pid, down, h.pid(w), len(run.sent)))
    return kills


def total_queue_check(h, run, n_returns, prefix, drain_s=60):
    """The exactly-once check over every return run.sent (platform_return_ids
    starting with prefix): each exists once and is refunded once for what was
    asked; one plan, one review task, one matched receipt per return_refund, its
    stock moved once; no message, timeline event or notice twice; outboxes and
    dead-letter tables empty. It first waits up to drain_s for every outbox to
    drain. Returns (problems, figures)."""
    try:
        h.wait_outboxes_empty(drain_s)
        stuck_rows = 0
    except harness.Failure as e:
        stuck_rows = sum(h.outbox_counts().values())
        harness.log(str(e))
    problems = []
    sent = {prid: (rid, kind, amount) for prid, rid, kind, amount in run.sent}
    rows = h.psql("SELECT platform_return_id, return_id, status, requested_amount_fen"
                  " FROM intake.returns WHERE platform_return_id LIKE '%s%%'" % prefix)
    in_db = {}
    dup_returns = 0
    for prid, rid, st, amt in rows:
        if prid in in_db:
            dup_returns += 1
        in_db[prid] = (rid, st, int(amt))
    missing = [p for p in sent if p not in in_db]
    wrong_id = [p for p in sent if p in in_db and in_db[p][0] != sent[p][0]]
    not_refunded = [p for p in sent if p in in_db and in_db[p][1] != "refunded"]
    if missing:
        problems.append("%d returns sent but not in intake.returns: %s" % (len(missing), missing[:5]))
    if wrong_id:
        problems.append("%d returns with another return_id than the API gave" % len(wrong_id))
    if dup_returns or len(rows) != n_returns:
        problems.append("intake.returns holds %d rows for %d returns sent" % (len(rows), n_returns))
    if not_refunded:
        problems.append("%d returns not refunded: %s" % (len(not_refunded), not_refunded[:5]))

    rids = {v[0] for v in sent.values()}
    ref = {r[0]: (int(r[1]), int(r[2])) for r in h.psql(
        "SELECT return_id, count(*), sum(amount_fen) FROM refund.refunds GROUP BY 1")}
    no_refund = [r for r in rids if r not in ref]
    multi_refund = [r for r, (n, _) in ref.items() if n > 1]
    foreign = [r for r in ref if r not in rids]
    total_refunded = sum(s for _, s in ref.values())
    total_asked = sum(v[2] for v in sent.values())
    if no_refund:
        problems.append("%d returns have no refund row: %s" % (len(no_refund), no_refund[:5]))
    if multi_refund:
        problems.append("%d returns refunded more than once: %s" % (len(multi_refund),
                                                                   multi_refund[:5]))
    if foreign:
        problems.append("refunds for unknown returns: %s" % foreign[:5])
    if total_refunded != total_asked:
        problems.append("refunded %d fen in all, %d asked" % (total_refunded, total_asked))
    plans = {r[0]: int(r[1]) for r in h.psql("SELECT return_id, count(*) FROM refund.plans GROUP BY 1")}
    if len(plans) != n_returns or any(n != 1 for n in plans.values()) or set(plans) != rids:
        problems.append("refund.plans: %d plans for %d returns" % (sum(plans.values()), n_returns))
    tasks = h.count("FROM review.tasks")
    if tasks != n_returns:
        problems.append("review.tasks: %d tasks for %d returns" % (tasks, n_returns))
    n_rr = sum(1 for v in sent.values() if v[1] == "return_refund")
    receipts = h.psql("SELECT count(*), count(DISTINCT return_id), count(*) FILTER (WHERE NOT matched)"
                      " FROM warehouse.receipts")[0]
    if int(receipts[1]) != n_rr:
        problems.append("warehouse.receipts: %s matched returns for %d return_refund returns"
                        % (receipts[1], n_rr))

    dup_msgs = h.psql("SELECT source_event_id, audience, count(*) FROM notification.messages"
                      " GROUP BY 1, 2 HAVING count(*) > 1")
    if dup_msgs:
        problems.append("%d duplicate notification messages: %s" % (len(dup_msgs), dup_msgs[:5]))
    refunded_msgs = {r[0]: int(r[1]) for r in h.psql(
        "SELECT return_id, count(*) FROM notification.messages WHERE template_name = 'refunded'"
        " AND audience = 'buyer' GROUP BY 1")}
    bad_msgs = [r for r in rids if refunded_msgs.get(r, 0) != 1]
    if bad_msgs:
        problems.append("%d returns without exactly one 'refunded' buyer message: %s"
                        % (len(bad_msgs), [(r, refunded_msgs.get(r, 0)) for r in bad_msgs[:5]]))

    dup_tl = h.psql("SELECT event_id, count(*) FROM intake.timeline GROUP BY 1 HAVING count(*) > 1")
    if dup_tl:
        problems.append("intake.timeline holds %d events twice" % len(dup_tl))
    issued = {r[0]: int(r[1]) for r in h.psql(
        "SELECT return_id, count(*) FROM intake.timeline WHERE type = 'refund.issued' GROUP BY 1")}
    bad_issued = [r for r in rids if issued.get(r, 0) != 1]
    if bad_issued:
        problems.append("%d returns without exactly one refund.issued in the timeline: %s"
                        % (len(bad_issued), [(r, issued.get(r, 0)) for r in bad_issued[:5]]))
    notices = h.count("FROM intake.timeline WHERE type = 'notice.sent'")
    # One notice.sent per event that made a buyer-facing message (the survey
    # rides with the refund's), not one per message.
    n_msgs = h.count("FROM (SELECT DISTINCT source_event_id FROM notification.messages"
                     " WHERE audience = 'buyer' AND template_name <> 'survey') e")
    if notices != n_msgs:
        problems.append("intake.timeline has %d notice.sent for %d events with a buyer message"
                        % (notices, n_msgs))

    dup_stock = h.psql("SELECT return_id, location, reason, count(*) FROM warehouse.stock_ledger"
                       " WHERE return_id IS NOT NULL GROUP BY 1, 2, 3 HAVING count(*) > 1")
    if dup_stock:
        problems.append("%d stock moves made twice: %s" % (len(dup_stock), dup_stock[:5]))
    rr = [v[0] for v in sent.values() if v[1] == "return_refund"]
    moved = {r[0] for r in h.psql("SELECT DISTINCT return_id FROM warehouse.stock_ledger"
                                  " WHERE return_id IS NOT NULL")}
    unmoved = [r for r in rr if r not in moved]
    if unmoved:
        problems.append("%d received returns without a stock move: %s" % (len(unmoved),
                                                                          unmoved[:5]))

    outbox = h.outbox_counts()
    if any(outbox.values()):
        problems.append("events stuck unacknowledged in outboxes: %s" % outbox)
    dls = h.dead_letter_counts()
    if any(dls.values()):
        detail = h.psql(" UNION ALL ".join(
            "(SELECT '%s', dest, type, attempts, reason FROM %s.dead_letter LIMIT 3)" % (s, s)
            for s in harness.SCHEMAS))
        problems.append("dead letters: %s: %s" % (dls, detail))

    # lost: a return sent that is missing, not refunded, or without a refund row (once each)
    lost_rids = {sent[p][0] for p in missing + not_refunded} | set(no_refund)
    lost = len(lost_rids)
    duplicated = (dup_returns + len(multi_refund) + len(dup_msgs) + len(dup_tl) + len(dup_stock)
                  + len([r for r in bad_msgs if refunded_msgs.get(r, 0) > 1])
                  + len([r for r in bad_issued if issued.get(r, 0) > 1]))
    stuck = stuck_rows + sum(outbox.values())
    return problems, {"lost": lost, "duplicated": duplicated, "stuck": stuck,
                      "dead_letters": sum(dls.values()), "receipts": receipts}


def scenario(h):
    random.seed(SEED)
    h.check(N_KILLS >= 4 * len(harness.WORKERS),
            "RF_CRASH_KILLS=%d: at least %d kills (4 per worker) needed"
            % (N_KILLS, 4 * len(harness.WORKERS)))
    harness.log("crash test: %d returns, %d kills, seed %d" % (N_RETURNS, N_KILLS, SEED))
    t_start = time.monotonic()

    h.step("orders: one line per return")
    orders = []
    n_orders = (N_RETURNS + LINES_PER_ORDER - 1) // LINES_PER_ORDER
    for o in range(n_orders):
        oid = "crash-order-%d-%d" % (SEED, o)
        h.post_order(oid, [("L%03d" % i, 1, UNIT_PRICE) for i in range(LINES_PER_ORDER)])
        orders += [(oid, "L%03d" % i) for i in range(LINES_PER_ORDER)]
    plan = plan_returns(N_RETURNS)

    h.step("stream returns, complete return_refunds, kill -9 round robin")
    run = Run()
    # Spread the returns over about the time the kills take.
    pace = max(0.0, (N_KILLS * 2.0) / max(1, N_RETURNS))
    td = threading.Thread(target=driver, args=(h, run, plan, orders, pace), daemon=True)
    tc = threading.Thread(target=completer, args=(h, run), daemon=True)
    td.start()
    tc.start()
    try:
        kills = killer(h, run)
        harness.log("killer done: %s; waiting for the driver" % kills)
        td.join(timeout=h.t(240))
        h.check(not td.is_alive(), "the driver did not finish sending")
        h.check(not run.errors, "; ".join(run.errors))
        h.check(len(run.sent) == N_RETURNS, "driver sent %d of %d" % (len(run.sent), N_RETURNS))
        t_sent = time.monotonic()
        harness.log("all %d returns sent (%d answered 200 duplicate on a retry, %d retried on 503);"
                    " requests retried after connection errors: %s"
                    % (N_RETURNS, run.replayed_posts, run.post_retries, h.http_retries))

        h.step("wait (bounded) until every return is refunded")
        last = {}

        def all_refunded():
            rows = h.psql("SELECT status, count(*) FROM intake.returns GROUP BY 1")
            last.clear()
            last.update({s: int(n) for s, n in rows})
            return last.get("refunded", 0) == N_RETURNS

        try:
            h.wait_until(all_refunded, 120, "all %d returns to be refunded" % N_RETURNS,
                         interval=0.5)
        except harness.Failure as e:
            stuck = h.psql("SELECT return_id, kind, status FROM intake.returns"
                           " WHERE status <> 'refunded' ORDER BY created_at LIMIT 10")
            detail = []
            for rid, kind, st in stuck:
                tl = [r[0] for r in h.psql("SELECT type FROM intake.timeline WHERE return_id = '%s'"
                                           " ORDER BY occurred_at" % rid)]
                ob = h.psql(" UNION ALL ".join(
                    "SELECT '%s', dest, type, attempts, coalesce(last_error, '') FROM %s.outbox"
                    " WHERE return_id = '%s'" % (s, s, rid) for s in harness.SCHEMAS))
                detail.append("  %s %s %s timeline=%s outbox=%s" % (rid, kind, st, tl, ob))
            raise harness.Failure("%s; statuses %s; first stuck:\n%s"
                                  % (e, last, "\n".join(detail))) from None
        harness.log("all refunded %.1fs after the last return was sent" % (time.monotonic() - t_sent))
    finally:
        run.stop_driver.set()
        run.stop_completer.set()
        tc.join(timeout=h.t(30))
    h.check(not run.errors, "; ".join(run.errors))

    h.step("drain, then the total-queue check")
    problems, fig = total_queue_check(h, run, N_RETURNS, "crash-%d-" % SEED)
    lost, duplicated, stuck, receipts = fig["lost"], fig["duplicated"], fig["stuck"], fig["receipts"]
    elapsed = time.monotonic() - t_start
    per = " ".join("%s=%d" % (w, kills[w]) for w in harness.WORKERS)
    harness.log("completion: %d approved, %d received, %d answered 409, %d unmatched receipts,"
                " %d action retries; warehouse receipts %s (total, returns, unmatched)"
                % (run.approved, run.received, run.conflicts, run.unmatched, run.action_retries,
                   receipts))
    dups = {}
    for w in harness.WORKERS:
        for ln in h.metrics(w).splitlines():
            if ln.startswith("rf_inbox_duplicates_total{"):
                dups[w] = int(ln.rsplit(" ", 1)[1])
    harness.log("redeliveries dropped by the inboxes since each worker's last start: %s" % dups)
    print("crash test: returns=%d kills=%d (per worker %s) lost=%d duplicated=%d stuck=%d"
          " dead_letters=%d elapsed=%ds"
          % (N_RETURNS, sum(kills.values()), per, lost, duplicated, stuck, fig["dead_letters"],
             round(elapsed)))
    sys.stdout.flush()
    h.check(all(n >= 4 for n in kills.values()),
            "some worker was killed fewer than 4 times: %s" % kills)
    h.check(not problems, "crash test found problems:\n  " + "\n  ".join(problems))


if __name__ == "__main__":
    harness.main(scenario)
