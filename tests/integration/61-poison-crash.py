#!/usr/bin/env python3
"""61: a poison event that kills its consumer (rather than being answered REJECT)
goes to the dead-letter table after a bounded number of attempts, the returns
behind it are not held up, and after replay it completes exactly once.

How the consumer is made to die on one particular event, black-box: the test holds
an uncommitted row with that event's id in refund.inbox (its own open psql
transaction), so refund, applying the event, waits on the row lock inside its
apply; the test then kills it with SIGKILL (and ends the orphaned backend) and
starts it again. That is what a consumer that crashes on an event looks like
from outside: it took the event and never answered.

Proves (refund with RF_RETRY_MAX=3, and RF_LOCK_WAIT_MS 10 minutes so
that the wait does not end by itself in a DEFER):
  - while refund keeps dying on the event, a stream of healthy refund_only returns
    keeps being refunded between the deaths (events that shared the poison's batch
    are applied alone after a restart and are not charged for its crashes);
  - after 3 deaths on it, the restarted refund answers REJECT ("the consumer
    stopped 3 times while applying it") without applying it; review moves it to
    review.dead_letter and raises an ops alert; nothing of it is in refund;
  - the restarts did not dead-letter anything else;
  - once the cause is gone (the lock released), replaying the dead letter applies
    the event once: the return is refunded exactly once;
  - at the end every outbox and dead-letter table is empty, every streamed return
    refunded once, no message sent twice.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

RETRY_MAX = 3


def refund_backends_waiting(h):
    return h.count("FROM pg_stat_activity WHERE usename = 'rf_refund'"
                   " AND wait_event_type = 'Lock'")


def scenario(h):
    order = harness.uid("order")
    h.post_order(order, [("L%d" % i, 1000, 9000) for i in range(1, 51)])
    stream = harness.ReturnStream(h, order, pace=0.1)

    h.step("the event: an approval review sends to refund while refund is down")
    x, poison, holder = harness.approval_refund_hangs_on(h, order, "L1")
    harness.log("event %s (return.approved of %s) will stop refund each time it applies it"
                % (poison, x))

    h.step("refund dies on it, restarted, %d times; the stream goes on in between" % RETRY_MAX)
    deaths = 0
    between = []
    while deaths < RETRY_MAX:
        # Not waiting for its /healthz: review resends the event as soon as
        # the new process connects, and its loop may already be stuck on it
        # (and past the watchdog's limit, a lock timeout after another) before
        # the first health check would be answered.
        h.start("refund", wait=False)
        before = h.count("FROM refund.refunds")
        h.wait_until(lambda: refund_backends_waiting(h) > 0, 75,
                     "refund to take %s and hang in its apply" % poison)
        between.append(h.count("FROM refund.refunds") - before)
        h.kill("refund", signal.SIGKILL)
        harness.end_refund_lock_waiters(h)
        h.wait_until(lambda: refund_backends_waiting(h) == 0, 10,
                     "the killed refund's backend to end")
        deaths += 1
        harness.log("refund death #%d while applying %s; refunds made by that process: %d"
                    % (deaths, poison, between[-1]))
    h.check(h.count("FROM review.dead_letter") == 0,
            "something was dead-lettered before the %d deaths: %s"
            % (RETRY_MAX, h.psql("SELECT event_id, reason FROM review.dead_letter")))

    h.step("the next refund process refuses it: dead letter, not applied")
    t0 = time.monotonic()
    h.start("refund")
    rows = h.wait_until(lambda: h.psql("SELECT id, attempts, reason FROM review.dead_letter"
                                       " WHERE event_id = '%s'" % poison),
                        # review may be backing off from the consumer that kept
                        # not answering (up to 30 s) before it sends again
                        75, "the poison to reach review.dead_letter")
    dl_id, _attempts, reason = rows[0]
    harness.log("dead-lettered %.1fs after the restart: id=%s reason=%r"
                % (time.monotonic() - t0, dl_id, reason))
    h.check("stopped %d times while applying it" % RETRY_MAX in reason,
            "dead letter reason %r" % reason)
    h.check(refund_backends_waiting(h) == 0, "refund is waiting on the poison again")
    h.check(h.count("FROM refund.plans WHERE return_id = '%s'" % x) == 0,
            "refund applied the poison")
    h.check(any(poison in ln for ln in h.log_grep("refund", "event=poison_suspected")),
            "refund's log does not name the poison")
    alert = h.wait_until(lambda: h.psql("SELECT body FROM notification.messages WHERE"
                                        " template_name = 'ops_alert' AND return_id = '%s'" % x),
                         15, "an ops alert about the dead letter")
    harness.log("ops alert: %s" % alert[0][0])
    # Returns behind it flow: everything streamed so far is refunded.
    upto = stream.return_ids()
    h.wait_until(lambda: h.count("FROM refund.refunds WHERE return_id IN (%s)"
                                 % ",".join("'%s'" % r for r in upto)) == len(upto),
                 75, "the %d returns streamed so far to be refunded" % len(upto))
    harness.log("%d returns streamed around the poison are refunded" % len(upto))
    h.check(h.count("FROM review.dead_letter") == 1 and
            all(v == 0 for k, v in h.dead_letter_counts().items() if k != "review"),
            "other dead letters: %s" % h.dead_letter_counts())

    h.step("the cause removed, the dead letter replayed: applied once")
    harness.release_and_replay(h, holder, dl_id, x)
    h.check(h.count("FROM refund.inbox WHERE event_id = '%s'" % poison) == 1,
            "the replayed event is not in refund's inbox once")

    h.step("everything drains; nothing lost, nothing twice")
    stream.stop()
    h.check(not stream.errors, "the stream failed: %s" % stream.errors)
    rids = stream.return_ids()
    h.wait_until(lambda: h.count("FROM intake.returns WHERE status = 'refunded'")
                 == len(rids) + 1, 60, "all %d streamed returns to be refunded" % len(rids))
    h.wait_outboxes_empty(60)
    dl = h.dead_letter_counts()
    h.check(all(v == 0 for v in dl.values()), "dead letters left: %s" % dl)
    dup = h.psql("SELECT return_id FROM refund.refunds GROUP BY 1 HAVING count(*) > 1")
    h.check(not dup, "refunded twice: %s" % dup)
    h.check(h.count("FROM refund.refunds") == len(rids) + 1,
            "refund.refunds has %d rows for %d returns" % (h.count("FROM refund.refunds"),
                                                           len(rids) + 1))
    dup_msgs = h.psql("SELECT source_event_id, audience FROM notification.messages"
                      " GROUP BY 1, 2 HAVING count(*) > 1")
    h.check(not dup_msgs, "messages sent twice: %s" % dup_msgs)
    h.check(h.count("FROM refund.inbox_started") == 0, "refund.inbox_started not empty")
    h.check(h.count("FROM refund.inbox_batches") == 0, "refund.inbox_batches not empty")
    harness.log("poison that kills: deaths=%d then dead-lettered, replayed once;"
                " streamed returns=%d all refunded once; lost=0 duplicated=0" % (deaths, len(rids)))


if __name__ == "__main__":
    env = harness.stream_policy_env()
    harness.main(scenario, env=env, worker_env={"refund": dict(harness.REFUND_HANGS_ON_LOCKS,
                                                                  RF_RETRY_MAX=str(RETRY_MAX))})
