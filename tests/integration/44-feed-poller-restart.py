#!/usr/bin/env python3
"""44: the Kuaishou poller restarted in the middle neither skips nor repeats a window
(issue 4, "Kuaishou polling").

300 refunds updated over the last five days are on the stand-in (no pushes at all).
intake polls open.seller.order.refund.pcursor.list by update time (queryType 2) from a
start point five days back, in windows of at most one day, 10 records a page, following
pcursor to "nomore". Calls are slowed (0.1 s each) so that intake can be killed with
SIGKILL in the middle of a window (its checkpoint shows a pcursor); it is restarted and
finishes. Midway the stand-in answers rate limits: the poller backs off and resumes.

From the stand-in's record of every call: the windows are contiguous from the start
point (each begins where the previous ended), none longer than one day; each window's
pages follow the cursor chain from "" to "nomore"; no page of any window is listed
twice except at most the one in flight when intake was killed (answered, not yet
recorded); every refund ends in intake with the platform's version.
Prints windows, pages, list calls per window, repeats, rate limits and backoff.
"""
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import feedkit  # noqa: E402
import harness  # noqa: E402

DAY = 86400000
N = 300
NOW = int(time.time() * 1000)
START = NOW - 5 * DAY - 3600000
FEEDS = feedkit.Feeds(poll_interval_ms=1000, poll_lag_ms=1000, page_size=10, start_ms=START)


def checkpoint(h):
    rows = h.psql("SELECT window_begin, window_end, pcursor, windows_done"
                  " FROM intake.feed_poll_checkpoint WHERE platform = 'kuaishou'")
    return (int(rows[0][0]), int(rows[0][1]), rows[0][2], int(rows[0][3])) if rows else None


def platform_records():
    """The refunds (and their orders) exist before intake first polls."""
    ks = FEEDS.standin
    for i in range(N):
        rid, oid, sku = "2450000%012d" % i, "2350000%012d" % i, "3350000%012d" % i
        ks.add_order(oid, (sku, 1, 9000), recv_time=NOW - 6 * DAY)
        t = NOW - 5 * DAY + i * (5 * DAY - 120000) // N
        ks.add_refund(rid, oid, sku_id=sku, refund_fee=1000, create_time=t)
    ks.delay_s["*"] = 0.1


def scenario(h):
    ks = FEEDS.standin

    h.step("kill intake in the middle of a window")
    cp = h.wait_until(lambda: (lambda c: c if c and c[3] >= 2 and c[2] else None)(checkpoint(h)),
                      60, "the poller inside its third window or later")
    h.kill("intake", signal.SIGKILL)
    time.sleep(0.5)  # a call the stand-in was answering is recorded by now
    calls_at_kill = len(ks.calls_of("open.seller.order.refund.pcursor.list"))
    print("killed at checkpoint window [%d, %d) pcursor %r, windows done %d"
          % (cp[0] - START, cp[1] - START, cp[2], cp[3]), flush=True)

    h.step("restart; rate limits midway; the poller finishes")
    h.start("intake")
    time.sleep(1.0)
    ks.rate_limit_next = 3
    latest = max(r["updateTime"] for r in ks.refunds.values())
    h.wait_until(lambda: (lambda c: c and c[0] > latest and c[1] == c[0])(checkpoint(h)), 120,
                 "the poller past the newest record")
    ks.delay_s["*"] = 0

    h.step("windows from the stand-in's call record")
    calls = ks.calls_of("open.seller.order.refund.pcursor.list")
    ok_calls, limited = [], 0
    for method, params, answer in calls:
        if answer.get("result") != 1:
            limited += answer.get("result") == 803
            continue
        p = json.loads(params["param"])
        h.check(p.get("queryType") == 2 and 1 <= p.get("pageSize", 0) <= 100,
                "list by update time with a page size: %r" % p)
        ok_calls.append((p["beginTime"], p["endTime"], p.get("pcursor", ""),
                         answer["data"]["pcursor"]))
    windows = {}
    for b, e, cur, nxt in ok_calls:
        windows.setdefault((b, e), []).append((cur, nxt))
    keys = sorted(windows)
    h.check(keys[0][0] == START, "first window begins at the start point")
    for (b1, e1), (b2, e2) in zip(keys, keys[1:]):
        h.check(e1 == b2, "windows contiguous: [%d,%d) then [%d,%d)" % (b1, e1, b2, e2))
    for b, e in keys:
        h.check(0 < e - b <= DAY, "window of %d ms" % (e - b))
    repeats = []
    for key in keys:
        pages = windows[key]
        seen = {}
        for cur, nxt in pages:
            seen.setdefault(cur, []).append(nxt)
        # the cursor chain: "" -> ... -> "nomore", each page listed once
        cur, chain = "", 0
        while cur != "nomore":
            h.check(cur in seen, "window %r: page %r never listed (skipped)" % (key, cur))
            chain += 1
            cur = seen[cur][0]
        for c, answers in seen.items():
            if len(answers) > 1:
                repeats.append((key, c, len(answers)))
    in_flight = None
    before = [c for c in calls[:calls_at_kill] if c[2].get("result") == 1]
    if before:
        p = json.loads(before[-1][1]["param"])
        in_flight = ((p["beginTime"], p["endTime"]), p.get("pcursor", ""))
    h.check(all((k, c) == in_flight and n == 2 for k, c, n in repeats),
            "pages listed twice: %r (only the one in flight at the kill may be: %r)"
            % (repeats, in_flight))
    got = feedkit.feed_records(h, "kuaishou")
    missing = [r for r in ks.refunds if got.get(r, (None,))[0] != ks.refunds[r]["updateTime"]]
    h.check(not missing, "refunds not polled: %d" % len(missing))
    m = h.metrics("intake")
    limited_metric = [ln for ln in m.splitlines() if ln.startswith("rf_feed_rate_limited_total")]
    per_window = [len(windows[k]) for k in keys]
    print("FIGURES 44: windows %d (each <= 1 day, contiguous from the start point), list calls"
          " answered %d, per window %s; pages listed twice %d (%s); refunds polled %d of %d;"
          " rate-limit answers %d (%s), backed off and resumed"
          % (len(keys), len(ok_calls), per_window, len(repeats),
             "the page in flight at the kill" if repeats else "none", N - len(missing), N,
             limited, limited_metric[0] if limited_metric else "?"), flush=True)


if __name__ == "__main__":
    try:
        platform_records()
        harness.main(scenario, worker_env={"intake": FEEDS.env})
    finally:
        FEEDS.close()
