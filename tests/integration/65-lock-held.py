#!/usr/bin/env python3
"""65: a table a consumer writes is held locked by someone else's transaction
(an operator's forgotten `BEGIN` in psql, a `CREATE INDEX` without
CONCURRENTLY), and nothing is dead-lettered, nothing counted as a failure, and
the consumer's loop keeps turning.

The test holds `LOCK TABLE refund.plans IN SHARE MODE` (what CREATE INDEX
takes: reads go on, writes wait) in its own open transaction for 15 s while
refund_only returns are approved, so every approval refund applies must wait
for it. Refund runs with RF_WATCHDOG_S=5 and RF_RETRY_MAX=2: were the wait
answered RETRY, the events would be dead-lettered after two answers; were it
a 10 s wait per event, one event at a time, the watchdog would abort refund
(both were so before RF_LOCK_WAIT_MS, 2 s by default).

Proves:
  A. while the lock is held: refund logs event=apply_blocked and answers DEFER
     (review's outbox rows toward refund have deferrals and no attempts),
     stays the same process, answers /healthz, and its watchdog never fires;
     nothing is dead-lettered; the README's query (Operations) finds the
     transaction holding the lock;
  B. once the lock is released: every return is refunded exactly once, soon,
     and every outbox and dead-letter table is empty.
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

WATCHDOG_S = 5
RETRY_MAX = 2
RETURNS = 10
HOLD_S = 15


def readme_holder_query(h):
    """The SQL block the README's Operations section gives for finding the
    transaction that holds a consumer up."""
    with open(os.path.join(h.root, "README.md"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"scenario 65 runs this query:\s*```sql\n(.*?)```", text, re.S)
    if not m:
        raise harness.Failure("README.md: no sql block after 'scenario 65 runs this query:'")
    return " ".join(m.group(1).split()).rstrip(";")


def scenario(h):
    order = harness.uid("order")
    h.post_order(order, [("L%d" % i, 1000, 9000) for i in range(1, RETURNS + 2)])
    y = h.post_return(harness.uid("y"), order, "L%d" % (RETURNS + 1), kind="refund_only",
                      amount=100, reason="late")
    h.wait_status(y, "refunded")
    h.wait_outboxes_empty(30)
    pid = h.pid("refund")

    h.step("A. refund.plans locked (SHARE) by another transaction for %d s" % HOLD_S)
    holder = harness.hold_transaction(h, "LOCK TABLE refund.plans IN SHARE MODE")
    h.wait_until(lambda: h.count("FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                                 " JOIN pg_stat_activity a USING (pid)"
                                 " WHERE c.relname = 'plans' AND l.mode = 'ShareLock'"
                                 " AND l.granted AND a.usename = 'postgres'") > 0,
                 10, "the test's transaction to hold refund.plans")
    locked_at = time.monotonic()
    rids = [h.post_return(harness.uid("p%d" % i), order, "L%d" % (i + 1), kind="refund_only",
                          amount=100 + i, reason="late") for i in range(RETURNS)]
    ids = ", ".join("'%s'" % r for r in rids)
    slowest = 0.0
    while time.monotonic() - locked_at < HOLD_S:
        t0 = time.monotonic()
        try:
            r = h.http("GET", "refund", "/healthz", retry_for=0, timeout=5)
        except OSError as e:
            raise harness.Failure("refund did not answer /healthz within 5 s while blocked"
                                  " (%s); it is %s" % (e, "running" if h.alive("refund")
                                                       else "not running"))
        slowest = max(slowest, time.monotonic() - t0)
        h.check(r.status == 200, "refund /healthz while blocked: %r" % r)
        time.sleep(0.5)
    harness.log("refund answered /healthz within %.2f s at worst while blocked" % slowest)
    rows = h.psql("SELECT count(*), COALESCE(max(attempts), 0), COALESCE(min(deferrals), 0),"
                  " COALESCE(max(deferrals), 0) FROM review.outbox"
                  " WHERE dest = 'refund' AND return_id IN (%s)" % ids)
    pending, attempts, min_def, max_def = (int(v) for v in rows[0])
    harness.log("review.outbox toward refund: %d rows, max attempts %d, deferrals %d..%d"
                % (pending, attempts, min_def, max_def))
    h.check(pending == RETURNS, "%d of %d approvals waiting in review.outbox" % (pending, RETURNS))
    h.check(attempts == 0, "the lock was counted as a failure: attempts %d" % attempts)
    h.check(max_def >= 1, "no approval was deferred")
    h.check(h.count("FROM refund.plans WHERE return_id IN (%s)" % ids) == 0,
            "refund wrote plans through the lock")
    dl = h.dead_letter_counts()
    h.check(all(v == 0 for v in dl.values()), "dead letters while locked: %s" % dl)
    h.check(h.alive("refund") and h.pid("refund") == pid,
            "refund did not survive the lock: status %s" % h.workers["refund"].proc.poll())
    h.check(not h.log_grep("refund", "event=watchdog_expired"), "refund's watchdog fired")
    # the README's query (Operations) finds the holder while refund waits on it
    query = readme_holder_query(h)
    holders = h.wait_until(lambda: h.psql(query), 10,
                           "the README's query to find the transaction holding refund.plans")
    h.check([list(r[1:3]) for r in holders] == [["postgres", "idle in transaction"]],
            "the README's query found %s, not the test's transaction" % holders)
    harness.log("holder found: %s" % holders)
    blocked = h.log_grep("refund", "event=apply_blocked")
    h.check(blocked, "refund did not log event=apply_blocked")
    harness.log("refund: %s" % blocked[-1])

    h.step("B. the lock released: every return refunded once")
    harness.release_transaction(h, holder)
    released = time.monotonic()
    for r in rids:
        h.wait_status(r, "refunded", 60)
    harness.log("all %d refunded %.1f s after the release" % (RETURNS, time.monotonic() - released))
    doubled = h.psql("SELECT return_id FROM refund.refunds GROUP BY 1 HAVING count(*) > 1")
    h.check(not doubled, "refunded twice: %s" % doubled)
    h.check(h.count("FROM refund.refunds WHERE return_id IN (%s)" % ids) == RETURNS,
            "not every return has its one refund")
    h.wait_outboxes_empty(60)
    dl = h.dead_letter_counts()
    h.check(all(v == 0 for v in dl.values()), "dead letters: %s" % dl)
    h.check(not h.log_grep("refund", "event=watchdog_expired"), "refund's watchdog fired")


if __name__ == "__main__":
    harness.main(scenario, env=harness.stream_policy_env(),
                 worker_env={"refund": {"RF_WATCHDOG_S": str(WATCHDOG_S),
                                        "RF_RETRY_MAX": str(RETRY_MAX)}})
