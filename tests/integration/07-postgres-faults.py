#!/usr/bin/env python3
"""07-postgres-faults: PostgreSQL itself fails under load, and nothing is lost or
done twice.

While refund-only returns stream into intake (retrying 503 and connection
errors: the platform_return_id makes a retry harmless):
  A. the PostgreSQL server is killed with SIGKILL (postmaster and all its
     backends), left down for a moment, and restarted (crash recovery), three
     times: workers answer 503 meanwhile, reconnect by themselves, and carry on;
  B. every worker's connection is terminated with pg_terminate_backend, again
     and again for a while: each worker reconnects and carries on.
Then every accepted return is refunded exactly once, every outbox drains, and
no event is dead-lettered.
"""
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def postmaster_pid(h):
    with open(os.path.join(h.pg_dir, "data", "postmaster.pid")) as f:
        return int(f.readline())


def pg_down(h):
    """True once the killed server is gone (its process reaped, as pg_ctl sees it)."""
    return subprocess.run(["sh", os.path.join(h.root, "deploy", "pg.sh"), "status", h.pg_dir],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0


def pg_start(h):
    subprocess.run(["sh", os.path.join(h.root, "deploy", "pg.sh"), "start", h.pg_dir,
                    str(h.pg_port)], check=True, stdout=subprocess.DEVNULL, timeout=h.t(60))


def scenario(h):
    order = harness.uid("order")
    h.post_order(order, [("L%d" % i, 1000, 9000) for i in range(1, 51)])
    sent, errors, stop = [], [], threading.Event()
    counts = {"retries": 0}

    def streamer():
        i = 0
        try:
            while not stop.is_set():
                prid = harness.uid("p%d" % i)
                body = h.return_body(prid, order, "L%d" % (1 + i % 50), kind="refund_only",
                                     amount=100 + i % 400, reason="late")
                deadline = time.monotonic() + h.t(60)
                while True:
                    try:
                        r = h.http("POST", "intake", "/v1/returns", body, retry_for=h.t(30))
                        if r.status in (200, 202):
                            sent.append(r.json["return_id"])
                            break
                        if r.status != 503:
                            raise harness.Failure("POST %s: %r" % (prid, r))
                    except OSError:
                        pass
                    counts["retries"] += 1
                    if time.monotonic() > deadline:
                        raise harness.Failure("POST %s: no answer for 60 s" % prid)
                    time.sleep(0.05)
                i += 1
                time.sleep(0.02)
        except Exception as e:  # reported by the main thread
            errors.append(e)

    th = threading.Thread(target=streamer, daemon=True)
    th.start()

    h.step("A. PostgreSQL killed -9 and restarted, three times, under load")
    for k in range(3):
        time.sleep(2.0)
        before = len(sent)
        os.kill(postmaster_pid(h), signal.SIGKILL)
        h.wait_until(lambda: pg_down(h), 30, "the killed PostgreSQL to be gone")
        time.sleep(0.5)
        pg_start(h)
        h.wait_until(lambda: len(sent) > before + 5, 60,
                     "returns to be accepted again after PostgreSQL restart #%d" % (k + 1))
        harness.log("PostgreSQL kill #%d: %d returns accepted so far, %d retries"
                    % (k + 1, len(sent), counts["retries"]))

    h.step("B. every worker's connection terminated again and again")
    terminated = 0
    for _ in range(15):
        rows = h.psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                      " WHERE usename LIKE 'rf\\_%'")
        terminated += int(rows[0][0])
        time.sleep(0.7)
    harness.log("terminated %d worker connections" % terminated)
    h.check(terminated >= 15, "only %d connections were terminated" % terminated)
    time.sleep(2.0)
    stop.set()
    th.join(timeout=h.t(90))
    h.check(not errors, "the stream failed: %s" % errors)

    h.step("everything accepted is refunded exactly once")
    h.check(len(sent) == len(set(sent)), "intake gave one return_id to two requests")
    h.wait_until(lambda: h.count("FROM refund.refunds") >= len(set(sent)), 90,
                 "all %d returns to be refunded" % len(set(sent)))
    h.wait_outboxes_empty(60)
    refunded = h.count("FROM refund.refunds")
    doubled = h.psql("SELECT return_id FROM refund.refunds GROUP BY 1 HAVING count(*) > 1")
    h.check(not doubled, "refunded twice: %s" % doubled)
    h.check(refunded == len(set(sent)) == h.count("FROM intake.returns"),
            "refunds %d, returns accepted %d, intake rows %d"
            % (refunded, len(set(sent)), h.count("FROM intake.returns")))
    not_done = h.count("FROM intake.returns WHERE status <> 'refunded'")
    h.check(not_done == 0, "%d returns did not reach refunded" % not_done)
    dl = h.dead_letter_counts()
    h.check(all(v == 0 for v in dl.values()), "dead letters: %s" % dl)
    dup_msgs = h.psql("SELECT source_event_id, audience FROM notification.messages"
                      " GROUP BY 1, 2 HAVING count(*) > 1")
    h.check(not dup_msgs, "messages sent twice: %s" % dup_msgs)
    harness.log("postgres faults: returns=%d pg_kills=3 terminated_connections=%d retries=%d"
                " lost=0 duplicated=0 dead_letters=0" % (refunded, terminated, counts["retries"]))


if __name__ == "__main__":
    # many returns of one buyer over 50 lines: see harness.stream_policy_env
    harness.main(scenario, env=harness.stream_policy_env())
