#!/usr/bin/env python3
"""42: pushes are answered within the platform's 3 s while PostgreSQL is stalled
(issue 4: record first, process after).

  A. PostgreSQL stalled: the postmaster and every backend are stopped with SIGSTOP
     (queries hang; intake's worker loop, which runs libpq synchronously, hangs with
     them). Kuaishou and Douyin pushes for new refunds keep being answered
     ({"result":1} / {"code":0}) from the feed thread, each well under 3 s, because
     they are only spooled to a local file (fsync) before the answer. Nothing is
     processed meanwhile. After SIGCONT every push is recorded once and every refund
     becomes a return.
  B. the same stall, and intake is killed (SIGKILL) while PostgreSQL is still stopped,
     with answered pushes only in the spool; PostgreSQL resumes, intake restarts,
     drains the spool and creates every return; the platform's retries of the same
     events (sent again after the restart) are deduplicated: no return twice.
Prints pushes, answer times (max, mean), and what was created.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import feedkit  # noqa: E402
import harness  # noqa: E402

FEEDS = feedkit.Feeds(poll_interval_ms=0)  # pushes only: polling would repair anything


def pg_pids(h):
    with open(os.path.join(h.pg_dir, "data", "postmaster.pid")) as f:
        master = int(f.readline())
    pids = [master]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == master:
                    pids.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return pids


def signal_pg(h, sig):
    pids = pg_pids(h)
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    return len(pids)


def push_batch(h, tag, n, times):
    """n new Kuaishou refunds (orders known) and n Douyin after-sales, pushed; the
    refund ids. Checks every answer."""
    ks = FEEDS.standin
    ks_ids, dy_ids = [], []
    now_s = int(time.time())
    for i in range(n):
        rid, oid, sku = ("24200%02d%012d" % (tag, i), "23200%02d%012d" % (tag, i),
                         "33200%02d%012d" % (tag, i))
        rec = ks.add_refund(rid, oid, sku_id=sku, refund_fee=1000, handling_way=10, status=10)
        status, answer, took = FEEDS.ks_push("kwaishop_aftersales_addRefund", rec,
                                             "ev-42-%d-%d" % (tag, i))
        h.check(status == 200 and answer.replace(" ", "") == '{"result":1}',
                "Kuaishou push %d answered %d %s" % (i, status, answer))
        times.append(took)
        ks_ids.append(rid)
        data = {"aftersale_id": "74200%02d%012d" % (tag, i), "p_id": "64200%02d%012d" % (tag, i),
                "s_id": "65200%02d%012d" % (tag, i), "shop_id": "dy-shop", "aftersale_status": 6,
                "aftersale_type": 2, "refund_amount": 800, "reason_code": 1, "apply_time": now_s}
        status, answer, took = FEEDS.dy_push([{"tag": "200", "msg_id": "dy-42-%d-%d" % (tag, i),
                                               "data": data}])
        h.check(status == 200 and '"code":0' in answer.replace(" ", ""),
                "Douyin push %d answered %d %s" % (i, status, answer))
        times.append(took)
        dy_ids.append(data["aftersale_id"])
    return ks_ids, dy_ids


def post_orders(h, tag, n):
    for i in range(n):
        feedkit.post_ks_order(h, "23200%02d%012d" % (tag, i), "33200%02d%012d" % (tag, i),
                              price=1000)
        feedkit.post_ks_order(h, "64200%02d%012d" % (tag, i), "65200%02d%012d" % (tag, i),
                              price=800, platform="douyin", shop="dy-shop")


def all_created(h, ks_ids, dy_ids):
    def done():
        n = h.count("FROM intake.returns WHERE NOT refused AND platform_return_id IN (%s)"
                    % ",".join("'%s'" % x for x in ks_ids + dy_ids))
        return n == len(ks_ids) + len(dy_ids)
    return done


def scenario(h):
    n = 20
    stats = []

    for tag, crash in ((1, False), (2, True)):
        h.step("%s: orders known; PostgreSQL stalled (SIGSTOP postmaster and backends)"
               % ("A" if not crash else "B, with intake killed during the stall"))
        post_orders(h, tag, n // 2)
        post_orders(h, tag + 10, n - n // 2)
        before = h.count("FROM intake.feed_pushes")
        stopped = signal_pg(h, signal.SIGSTOP)
        times = []
        try:
            t0 = time.monotonic()
            ks_ids, dy_ids = push_batch(h, tag, n // 2, times)
            time.sleep(3.0)
            # the worker loop is stuck in libpq now: its API does not answer ...
            try:
                h.http("GET", "intake", "/healthz", retry_for=0, timeout=1)
                api_blocked = False
            except OSError:
                api_blocked = True
            h.check(api_blocked, "intake's API loop answered although PostgreSQL is stopped")
            # ... and pushes are still answered at once
            more_ks, more_dy = push_batch(h, tag + 10, n - n // 2, times)
            ks_ids += more_ks
            dy_ids += more_dy
            time.sleep(max(0.0, 8.0 - (time.monotonic() - t0)))
            stalled_for = time.monotonic() - t0
            if crash:
                h.kill("intake", signal.SIGKILL)
        finally:
            signal_pg(h, signal.SIGCONT)
        h.check(max(times) < 3.0, "slowest answer %.3f s (limit 3 s)" % max(times))
        if crash:
            h.start("intake")
            # the platform retries what it thinks may be lost: the same event ids again
            ks = FEEDS.standin
            for i, rid in enumerate(ks_ids[:5]):
                FEEDS.ks_push("kwaishop_aftersales_addRefund", dict(ks.refunds[rid]),
                              "ev-42-%d-%d" % (tag, i))
        h.wait_until(all_created(h, ks_ids, dy_ids), 60, "every pushed refund to become a return")
        recorded = h.count("FROM intake.feed_pushes") - before
        h.check(recorded == 2 * n, "pushes recorded once each: %d of %d" % (recorded, 2 * n))
        doubles = int(h.psql_val("SELECT count(*) FROM (SELECT platform_return_id FROM"
                                 " intake.returns GROUP BY platform, platform_return_id"
                                 " HAVING count(*) > 1) d"))
        h.check(doubles == 0, "no return twice: %d doubled" % doubles)
        stats.append((tag, crash, stopped, len(times), max(times), sum(times) / len(times),
                      stalled_for, recorded))

    ckpts = h.count("FROM intake.feed_spool_checkpoint")
    h.check(ckpts == 1, "one spool checkpoint across the restart, found %d" % ckpts)
    h.check(h.count("FROM intake.feed_refused") == 0, "nothing refused")
    for tag, crash, stopped, pushes, worst, mean, stalled_for, recorded in stats:
        print("FIGURES 42%s: PostgreSQL stalled (%d processes stopped) %.1f s, intake's API loop"
              " blocked meanwhile; pushes answered"
              " %d (Kuaishou %d, Douyin %d), slowest %.3f s, mean %.3f s (limit 3 s);%s"
              " after resuming: pushes recorded %d, returns created %d, doubled 0"
              % ("A" if not crash else "B", stopped, stalled_for, pushes, pushes // 2,
                 pushes // 2, worst, mean,
                 " intake killed -9 during the stall and restarted, 5 events re-sent;"
                 if crash else "", recorded, recorded), flush=True)


if __name__ == "__main__":
    try:
        harness.main(scenario, worker_env={"intake": FEEDS.env})
    finally:
        FEEDS.close()
