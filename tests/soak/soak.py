#!/usr/bin/env python3
"""soak: `make soak` (not part of `make test`). Open-loop load on the real
pipeline for RF_SOAK_SECONDS (default 600) while workers and PostgreSQL are
killed with SIGKILL at random, then the exactly-once check.

  - load: returns arrive on a fixed schedule, RF_SOAK_RATE per second (default
    4), whatever the system answers (open loop: a pool of senders, each request
    retried on 503 and connection errors until it is accepted; the
    platform_return_id makes a retry harmless); ~60% refund_only under 50 yuan
    (approved automatically), ~40% return_refund, which a completion thread
    approves and receives (scenario 05's driver and completer);
  - faults: every RF_SOAK_KILL_EVERY_S (default 3-10: uniform between 3 and
    10 s) a random worker is killed -9 and restarted 0.3-1 s later; every
    RF_SOAK_PG_KILL_EVERY_S (default 60-120) PostgreSQL is killed -9 and
    restarted (crash recovery; scenario 07's machinery);
  - then the schedule stops, everything is left to settle (bounded), and the
    total-queue check of scenario 05 runs: every return accepted is refunded
    exactly once for what was asked, one plan, one review task, one receipt and
    stock move per received return, no message, timeline event or stock move
    twice, every outbox and dead-letter table empty.
Prints the figures (returns, kills per worker, PostgreSQL kills, retries, time
to settle, lost, duplicated) and exits 0 only if the check passes.
Environment: RF_SOAK_SECONDS, RF_SOAK_RATE, RF_SOAK_KILL_EVERY_S,
RF_SOAK_PG_KILL_EVERY_S, RF_SOAK_SEED, RF_BUILD (the harness's).
"""
import importlib.util
import os
import random
import signal
import sys
import threading
import time

sys.dont_write_bytecode = True  # it loads the scenarios as modules: no __pycache__ in tests/
HERE = os.path.dirname(os.path.abspath(__file__))
INTEGRATION = os.path.join(HERE, "..", "integration")
sys.path.insert(0, INTEGRATION)
# Its own temporary directory name: a soak runs long, apart from the scenarios'.
os.environ.setdefault("RF_TEST_TMP_PREFIX", "rf-soak-")
import harness  # noqa: E402


def scenario_module(name):
    """Load tests/integration/<name>.py (its file name starts with a digit)."""
    spec = importlib.util.spec_from_file_location(name.replace("-", "_"),
                                                  os.path.join(INTEGRATION, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


crash = scenario_module("05-crash-kill9")
pgfaults = scenario_module("07-postgres-faults")

SECONDS = float(os.environ.get("RF_SOAK_SECONDS", "600"))
RATE = float(os.environ.get("RF_SOAK_RATE", "4"))
SEED = int(os.environ.get("RF_SOAK_SEED", str(int(time.time()))))


def seconds_range(name, default):
    """A setting 'LOW-HIGH' (seconds) as a (low, high) pair."""
    low, _, high = os.environ.get(name, default).partition("-")
    return float(low), float(high or low)


KILL_EVERY = seconds_range("RF_SOAK_KILL_EVERY_S", "3-10")
PG_KILL_EVERY = seconds_range("RF_SOAK_PG_KILL_EVERY_S", "60-120")
SENDERS = 8
UNIT_PRICE = crash.UNIT_PRICE


def sender(h, run, schedule, lock, t0):
    """Take the next scheduled return, wait for its time, send it until accepted."""
    try:
        while not run.stop_driver.is_set():
            with lock:
                if not schedule:
                    return
                i, at, order, kind, amount = schedule.pop(0)
            delay = t0 + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            prid = "soak-%d-%06d" % (SEED, i)
            body = h.return_body(prid, order, "L001", kind=kind, quantity=1, amount=amount,
                                 reason=random.choice(["quality", "late", "size_fit", "damaged"]))
            rid, status = crash.post_return_reliably(h, run, body)
            with run.lock:
                run.sent.append((prid, rid, kind, amount))
                if status == 200:
                    run.replayed_posts += 1
    except BaseException as e:  # noqa: B902 - reported by the main thread
        run.errors.append("sender: %s" % e)


def chaos(h, run, stop, figures):
    """Kill workers (and now and then PostgreSQL) at random until stopped."""
    next_pg = time.monotonic() + random.uniform(*PG_KILL_EVERY)
    try:
        while not stop.wait(random.uniform(*KILL_EVERY)):
            if time.monotonic() >= next_pg:
                os.kill(pgfaults.postmaster_pid(h), signal.SIGKILL)
                h.wait_until(lambda: pgfaults.pg_down(h), 30, "the killed PostgreSQL to be gone")
                time.sleep(random.uniform(0.3, 2.0))
                pgfaults.pg_start(h)
                figures["pg_kills"] += 1
                harness.log("PostgreSQL kill #%d; returns sent %d"
                            % (figures["pg_kills"], len(run.sent)))
                next_pg = time.monotonic() + random.uniform(*PG_KILL_EVERY)
                continue
            w = random.choice(harness.WORKERS)
            h.kill(w, signal.SIGKILL)
            figures["kills"][w] += 1
            time.sleep(random.uniform(0.3, 1.0))
            h.start(w, wait=False)
            h.wait_healthy(w, timeout=90)
    except BaseException as e:  # noqa: B902
        run.errors.append("chaos: %s" % e)


def scenario(h):
    random.seed(SEED)
    n = int(SECONDS * RATE)
    harness.log("soak: %.0f s, %.1f returns/s open loop (%d returns), seed %d"
                % (SECONDS, RATE, n, SEED))
    h.step("orders: one per return")
    orders = []
    for o in range(n):
        oid = "soak-order-%d-%d" % (SEED, o)
        h.post_order(oid, [("L001", 1, UNIT_PRICE)])
        orders.append(oid)
    plan = crash.plan_returns(n)
    schedule = [(i, i / RATE, orders[i], kind, amount) for i, (kind, amount) in enumerate(plan)]

    h.step("load and faults for %.0f s" % SECONDS)
    run = crash.Run()
    figures = {"kills": {w: 0 for w in harness.WORKERS}, "pg_kills": 0}
    lock = threading.Lock()
    t0 = time.monotonic()
    senders = [threading.Thread(target=sender, args=(h, run, schedule, lock, t0), daemon=True)
               for _ in range(SENDERS)]
    completer = threading.Thread(target=crash.completer, args=(h, run), daemon=True)
    stop_chaos = threading.Event()
    chaos_th = threading.Thread(target=chaos, args=(h, run, stop_chaos, figures), daemon=True)
    for t in senders + [completer, chaos_th]:
        t.start()
    last_report = t0
    try:
        while time.monotonic() - t0 < SECONDS and not run.errors:
            time.sleep(1)
            if time.monotonic() - last_report >= 60:
                last_report = time.monotonic()
                harness.log("%.0f s: %d returns accepted (%d still to send), kills %s,"
                            " PostgreSQL kills %d" % (last_report - t0, len(run.sent),
                                                      len(schedule), figures["kills"],
                                                      figures["pg_kills"]))
        stop_chaos.set()
        chaos_th.join(timeout=h.t(120))
        for t in senders:
            t.join(timeout=h.t(180))
        h.check(not run.errors, "; ".join(run.errors))
        h.check(len(run.sent) == n, "sent %d of %d" % (len(run.sent), n))
        t_sent = time.monotonic()
        load_s = t_sent - t0

        h.step("settle: every return refunded")
        h.wait_until(lambda: h.count("FROM intake.returns WHERE status = 'refunded'") == n,
                     300, "all %d returns to be refunded (%s)" % (n, "statuses: see below"),
                     interval=1)
        settle = time.monotonic() - t_sent
    finally:
        run.stop_driver.set()
        stop_chaos.set()
        run.stop_completer.set()
        completer.join(timeout=h.t(30))
    h.step("drain, then the exactly-once check")
    problems, fig = crash.total_queue_check(h, run, n, "soak-%d-" % SEED, drain_s=120)
    kills = figures["kills"]
    print("soak: seconds=%.0f returns=%d rate=%.1f/s kills=%d (%s) pg_kills=%d post_retries=%d"
          " approved=%d received=%d settle=%.0fs lost=%d duplicated=%d stuck=%d dead_letters=%d"
          % (load_s, n, RATE, sum(kills.values()),
             " ".join("%s=%d" % kv for kv in kills.items()), figures["pg_kills"],
             run.post_retries, run.approved, run.received, settle, fig["lost"],
             fig["duplicated"], fig["stuck"], fig["dead_letters"]))
    sys.stdout.flush()
    h.check(figures["pg_kills"] >= 1 or SECONDS < 120, "PostgreSQL was never killed")
    h.check(not problems, "soak found problems:\n  " + "\n  ".join(problems))


if __name__ == "__main__":
    harness.main(scenario)
