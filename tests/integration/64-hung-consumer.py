#!/usr/bin/env python3
"""64: a consumer whose event loop stops turning on an event is ended by its
watchdog, and an event that hangs it every time is dead-lettered like any
poison; a consumer merely stopped (SIGSTOP) is left alone.

How refund is made to hang, black-box (as in 61): the test holds an
uncommitted row with the event's id in refund.inbox, so refund, applying the
event, waits on that row's lock with its loop blocked. That is what a handler
stuck in a loop or a call that never returns looks like from outside. Here
RF_WATCHDOG_S=3, RF_RETRY_MAX=2, and RF_LOCK_WAIT_MS 10 minutes, so
that the wait does not end by itself (in a DEFER) first.

Proves:
  A. refund stopped (SIGSTOP) for twice its watchdog limit, then continued,
     keeps running: a process that did not run is not hung;
  B. refund hangs on the event: its watchdog logs event=watchdog_expired and
     aborts it (SIGABRT) within a few seconds, each of 2 times it is started;
     review, which backed off from the silent refund, ends its backoff as
     soon as the restarted refund connects (event=consumer_connected);
  C. the next refund process refuses the event without applying it ("stopped
     2 times while applying it"): review dead-letters it;
  D. once the cause is gone, replaying the dead letter refunds the return
     exactly once; nothing is left in any outbox or dead-letter table.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

WATCHDOG_S = 3
RETRY_MAX = 2


def scenario(h):
    order = harness.uid("order")
    h.post_order(order, [("L%d" % i, 1000, 9000) for i in range(1, 4)])

    h.step("A. refund stopped for %d s (SIGSTOP) and continued: not taken for hung"
           % (2 * WATCHDOG_S))
    pid = h.pid("refund")
    h.kill("refund", signal.SIGSTOP)
    time.sleep(2 * WATCHDOG_S)
    h.kill("refund", signal.SIGCONT)
    time.sleep(WATCHDOG_S)
    h.check(h.alive("refund") and h.pid("refund") == pid,
            "refund did not survive a stop: status %s" % h.workers["refund"].proc.poll())
    h.check(not h.log_grep("refund", "event=watchdog_expired"),
            "refund's watchdog fired after a stop")
    y = h.post_return(harness.uid("y"), order, "L2", kind="refund_only", amount=100,
                      reason="late")
    h.wait_status(y, "refunded")

    h.step("B. an event that hangs refund each time it applies it")
    x, poison, holder = harness.approval_refund_hangs_on(h, order, "L1")

    for death in range(1, RETRY_MAX + 1):
        t0 = time.monotonic()
        proc = h.start("refund", wait=False)
        # review may back off from a consumer that stopped answering before it
        # sends again (doubling per ack timeout), hence the long wait.
        h.wait_until(lambda: proc.poll() is not None, 75,
                     "refund's watchdog to end the process hung on %s" % poison)
        h.workers["refund"].expected_down = True
        took = time.monotonic() - t0
        harness.log("refund start #%d ended after %.1f s with status %s"
                    % (death, took, proc.returncode))
        h.check(proc.returncode == -signal.SIGABRT,
                "refund ended with status %s, not by its watchdog's abort" % proc.returncode)
        fired = h.log_grep("refund", "event=watchdog_expired")
        h.check(len(fired) == death, "watchdog lines after %d hangs: %s" % (death, fired))
        harness.end_refund_lock_waiters(h)
    harness.log("watchdog: %s" % fired[-1])
    back = [ln for ln in h.log_grep("review", "event=consumer_connected") if "dest=refund" in ln]
    h.check(back, "review did not end its backoff when a restarted refund connected")
    harness.log("review: %s" % back[-1])

    h.step("C. the next refund process refuses it: dead letter, not applied")
    h.start("refund")
    rows = h.wait_until(lambda: h.psql("SELECT id, reason FROM review.dead_letter"
                                       " WHERE event_id = '%s'" % poison),
                        75, "the hanging event to reach review.dead_letter")
    dl_id, reason = rows[0]
    harness.log("dead-lettered: id=%s reason=%r" % (dl_id, reason))
    h.check("stopped %d times while applying it" % RETRY_MAX in reason,
            "dead letter reason %r" % reason)
    h.check(h.alive("refund"), "refund is not running after refusing the event")
    h.check(len(h.log_grep("refund", "event=watchdog_expired")) == RETRY_MAX,
            "the watchdog fired again after the event was refused")
    h.check(h.count("FROM refund.plans WHERE return_id = '%s'" % x) == 0,
            "refund applied the hanging event")

    h.step("D. the cause removed, the dead letter replayed: refunded once")
    harness.release_and_replay(h, holder, dl_id, x)
    h.wait_outboxes_empty(60)
    dl = h.dead_letter_counts()
    h.check(all(v == 0 for v in dl.values()), "dead letters left: %s" % dl)
    h.check(h.count("FROM refund.inbox_batches") == 0, "refund.inbox_batches not empty")


if __name__ == "__main__":
    harness.main(scenario, worker_env={"refund": dict(harness.REFUND_HANGS_ON_LOCKS,
                                                      RF_WATCHDOG_S=str(WATCHDOG_S),
                                                      RF_RETRY_MAX=str(RETRY_MAX))})
