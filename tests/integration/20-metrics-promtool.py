#!/usr/bin/env python3
"""20-metrics-promtool: every worker's /metrics is valid Prometheus text (promtool
check metrics accepts it) and carries what operations watch:

  - the common series: outbox pending / in flight / oldest age per destination,
    inbox applied and duplicates, dead letters;
  - latency histograms: rf_apply_seconds per event type applied, and
    rf_http_request_seconds per method and route (ids folded into "{}");
  - the services' own: returns by state (intake), review tasks near or past their
    platform deadline (review, RF_REVIEW_DEADLINE_WARN_S), parcels expected
    (warehouse), refund plans and claims owed (refund), messages (notification);
  - every worker serves at /ops exactly the page in common/http/ops.html (embedded
    at build time);
  - no buyer phone number or address reaches a log line.
"""
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

PHONE = "13800138000"
ADDRESS = "No. 88 Wensan Road, Xihu District"


def promtool_check(h, worker, text):
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    h.check(p.returncode == 0, "promtool rejects %s /metrics (exit %d):\n%s%s"
            % (worker, p.returncode, p.stdout, p.stderr))


def sample(text, name, **labels):
    """Value of the first sample of `name` whose labels include `labels`."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            return float(m.group(4))
    return None


def scenario(h):
    if not shutil.which("promtool"):
        raise harness.Failure("promtool not found: install Debian's prometheus package "
                              "(deploy/install-deps.sh)")
    h.step("promtool accepts a fresh worker's /metrics (no traffic yet: empty histograms)")
    for w in harness.WORKERS:
        promtool_check(h, w, h.http("GET", w, "/metrics").text)

    h.step("traffic: returns in several states, one near its platform deadline")
    order = harness.uid("order")
    h.post_order(order, [("L1", 5, 3000), ("L2", 5, 90000)], buyer_phone=PHONE,
                 address=ADDRESS)
    now = int(time.time() * 1000)
    small = h.post_return(harness.uid("s"), order, "L1", kind="refund_only", amount=3000,
                          buyer_phone=PHONE, address=ADDRESS)
    near = h.post_return(harness.uid("n"), order, "L2", kind="return_refund", amount=90000,
                         reason="not_as_described", platform_deadline_at=now + 3600 * 1000)
    h.wait_status(small, "refunded")
    h.wait_status(near, "under_review")

    h.step("promtool accepts every worker's /metrics")
    pages = {}
    for w in harness.WORKERS:
        r = h.http("GET", w, "/metrics")
        h.check(r.status == 200, "%s /metrics: %r" % (w, r))
        h.check(r.headers.get("Content-Type", "").startswith("text/plain"),
                "%s /metrics content type %r" % (w, r.headers.get("Content-Type")))
        # A second scrape, so the /metrics route itself has a histogram too.
        r = h.http("GET", w, "/metrics")
        promtool_check(h, w, r.text)
        pages[w] = r.text
        harness.log("%s: %d metric lines, promtool ok" % (w, len(r.text.splitlines())))

    h.step("the series operations watch are there")
    for w, text in pages.items():
        for name in ("rf_up", "rf_db_up", "rf_inbox_applied_total", "rf_inbox_duplicates_total",
                     "rf_dead_letters"):
            h.check(sample(text, name, worker=w) is not None, "%s lacks %s" % (w, name))
        h.check(sample(text, "rf_http_request_seconds_count", worker=w, method="GET",
                       route="/metrics") is not None, "%s lacks the /metrics route histogram" % w)
    h.check(sample(pages["review"], "rf_outbox_pending", dest="warehouse") is not None,
            "review lacks rf_outbox_pending toward warehouse")
    h.check(sample(pages["review"], "rf_outbox_oldest_age_seconds", dest="refund") is not None,
            "review lacks rf_outbox_oldest_age_seconds")
    h.check((sample(pages["refund"], "rf_apply_seconds_count", type="return.approved") or 0) >= 1,
            "refund has no apply histogram for return.approved")
    h.check(sample(pages["refund"], "rf_apply_seconds_bucket", type="return.approved",
                   le="+Inf") is not None, "refund's apply histogram has no +Inf bucket")
    h.check((sample(pages["intake"], "rf_http_request_seconds_count", method="POST",
                    route="/v1/returns") or 0) >= 2, "intake lacks POST /v1/returns timings")
    h.check(sample(pages["intake"], "rf_returns", state="refunded") == 1,
            "intake rf_returns{state=refunded} is not 1")
    h.check(sample(pages["intake"], "rf_returns", state="under_review") == 1,
            "intake rf_returns{state=under_review} is not 1")
    h.check(sample(pages["review"], "rf_review_deadline_near") == 1,
            "review rf_review_deadline_near is not 1 (deadline in an hour, warn 6 h)")
    h.check(sample(pages["review"], "rf_review_deadline_passed") == 0,
            "review rf_review_deadline_passed is not 0")
    h.check(sample(pages["review"], "rf_review_tasks", status="pending") == 1,
            "review rf_review_tasks{status=pending} is not 1")
    for w, name in (("warehouse", "rf_parcels_expected"), ("refund", "rf_claims_open_fen"),
                    ("notification", "rf_messages")):
        h.check(sample(pages[w], name) is not None, "%s lacks %s" % (w, name))
    # ids in paths are folded: one label for every return
    h.http("GET", "intake", "/v1/returns/" + small)
    h.http("GET", "intake", "/v1/returns/" + near)
    text = h.http("GET", "intake", "/metrics").text
    h.check((sample(text, "rf_http_request_seconds_count", route="/v1/returns/{}") or 0) >= 2,
            "GET /v1/returns/<id> not counted under one route label")
    h.check(small not in text and near not in text, "a return id leaked into a route label")
    promtool_check(h, "intake", text)

    h.step("every worker serves the ops page, with CORS for the others")
    with open(os.path.join(harness.REPO_ROOT, "common", "http", "ops.html"), encoding="utf-8") as f:
        page = f.read()
    for w in harness.WORKERS:
        r = h.http("GET", w, "/ops")
        h.check(r.status == 200 and r.text == page, "%s /ops is not common/http/ops.html: %r"
                % (w, r))
        h.check(r.headers.get("Access-Control-Allow-Origin") == "*", "%s: no CORS header" % w)
    r = h.http("OPTIONS", "review", "/v1/reviews/x/approve")
    h.check(r.status == 204 and "authorization" in r.headers.get("Access-Control-Allow-Headers", ""),
            "preflight: %r %r" % (r, r.headers))

    h.step("no buyer phone number or address in any log")
    for w in harness.WORKERS:
        with open(h.workers[w].log_path, errors="replace") as f:
            text = f.read()
        h.check(PHONE not in text and "Wensan" not in text,
                "%s's log contains the buyer's phone number or address" % w)
    harness.log("metrics ok on all five workers")


if __name__ == "__main__":
    harness.main(scenario, worker_env={"review": {"RF_REVIEW_DEADLINE_WARN_S": "21600"}})
