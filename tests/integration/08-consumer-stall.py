#!/usr/bin/env python3
"""08-consumer-stall: a consumer stopped (SIGSTOP) for 60 s under load, then
continued. Producers keep accepting work, their memory stays bounded, they back
off from the silent consumer one step per ack timeout (doubling: a handful of
steps, not one per expiring event), and the consumer catches up by itself:
every return refunded once, every message sent once, nothing left in any
outbox, nothing dead-lettered.

The stopped consumer is notification: every other worker produces events for
it, so all of them hold a growing backlog while it sleeps.
"""
import math
import os
import re
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

STALL_S = float(os.environ.get("RF_STALL_SECONDS", "60"))


def rss_kb(h, worker):
    with open("/proc/%d/status" % h.workers[worker].proc.pid) as f:
        return int(next(line for line in f if line.startswith("VmRSS")).split()[1])


def scenario(h):
    order = harness.uid("order")
    h.post_order(order, [("L%d" % i, 1000, 9000) for i in range(1, 51)])
    sent, errors, stop = [], [], threading.Event()

    def streamer():
        i = 0
        try:
            while not stop.is_set():
                rid = h.post_return(harness.uid("s%d" % i), order, "L%d" % (1 + i % 50),
                                    kind="refund_only", amount=100 + i % 400, reason="late")
                sent.append(rid)
                i += 1
                time.sleep(0.02)
        except Exception as e:
            errors.append(e)

    th = threading.Thread(target=streamer, daemon=True)
    th.start()
    time.sleep(3)
    producers = ["intake", "review", "refund"]
    before = {w: rss_kb(h, w) for w in producers}

    h.step("notification stopped for %.0f s while returns keep coming" % STALL_S)
    h.kill("notification", signal.SIGSTOP, wait=False)
    stalled_at = len(sent)
    peak = dict(before)
    t_end = time.monotonic() + STALL_S
    while time.monotonic() < t_end:
        time.sleep(2)
        for w in producers:
            peak[w] = max(peak[w], rss_kb(h, w))
        h.check(not errors, "the stream failed while notification was stopped: %s" % errors)
    accepted_meanwhile = len(sent) - stalled_at
    backlog = h.count("FROM intake.outbox WHERE dest = 'notification'") + \
        h.count("FROM review.outbox WHERE dest = 'notification'") + \
        h.count("FROM refund.outbox WHERE dest = 'notification'")
    harness.log("while stopped: %d returns accepted, backlog toward notification %d events,"
                " producer RSS kB before %s peak %s" % (accepted_meanwhile, backlog, before, peak))
    h.check(accepted_meanwhile > STALL_S * 10, "intake accepted only %d returns in %.0f s"
            % (accepted_meanwhile, STALL_S))
    h.check(backlog > accepted_meanwhile, "no backlog built up toward the stopped consumer")
    if h.sanitized:
        # AddressSanitizer keeps freed memory in a quarantine (up to 256 MB),
        # so resident size says nothing about the program's own use there.
        harness.log("memory bound not checked under the sanitizers (ASan quarantine)")
    else:
        for w in producers:
            h.check(peak[w] < before[w] + 40 * 1024, "%s grew from %d kB to %d kB while its"
                    " consumer was stopped" % (w, before[w], peak[w]))

    # Backoff: one step per ack timeout without an answer, each doubling the
    # wait, so a silence of STALL_S seconds is a handful of steps.
    ack_s = float(h.base_env().get("RF_ACK_TIMEOUT_MS", "3000")) / 1000
    limit = 4 + math.ceil(math.log2(STALL_S / ack_s))
    for w in producers:
        steps = [int(m) for m in re.findall(
            r"event=consumer_not_answering dest=notification streak=(\d+)", h.log_text(w))]
        harness.log("%s backed off from notification in %d steps (at most %d)"
                    % (w, max(steps or [0]), limit))
        h.check(steps and max(steps) <= limit, "%s backoff toward the stopped notification"
                " took %s steps in %.0f s (one per ack timeout of %.1f s would be at most %d)"
                % (w, max(steps or [0]), STALL_S, ack_s, limit))

    h.step("notification continued: it catches up")
    t0 = time.monotonic()
    h.kill("notification", signal.SIGCONT, wait=False)
    stop.set()
    th.join(timeout=h.t(60))
    h.check(not errors, "the stream failed: %s" % errors)
    h.wait_outboxes_empty(120)
    caught_up = time.monotonic() - t0
    n = len(sent)
    h.check(h.count("FROM refund.refunds") == n, "refunds != returns accepted (%d)" % n)
    h.check(h.count("FROM intake.returns WHERE status = 'refunded'") == n, "not all refunded")
    dup = h.psql("SELECT source_event_id, audience FROM notification.messages"
                 " GROUP BY 1, 2 HAVING count(*) > 1")
    h.check(not dup, "messages sent twice: %s" % dup)
    told = h.count("FROM notification.messages WHERE template_name = 'refunded'")
    h.check(told == n, "%d 'refunded' messages for %d returns" % (told, n))
    dl = h.dead_letter_counts()
    h.check(all(v == 0 for v in dl.values()), "dead letters: %s" % dl)
    harness.log("consumer stall: stopped %.0fs, returns=%d, backlog=%d, caught up in %.1fs,"
                " lost=0 duplicated=0" % (STALL_S, n, backlog, caught_up))


if __name__ == "__main__":
    # many returns of one buyer over 50 lines: see harness.stream_policy_env
    harness.main(scenario, env=harness.stream_policy_env())
