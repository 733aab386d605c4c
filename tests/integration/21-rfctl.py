#!/usr/bin/env python3
"""21-rfctl: the operator's tool against a live system, with tokens and roles.

Every command runs as a subprocess, as a person would run it, against the
workers of this cluster (RF_*_HTTP): status, returns list|show (filters),
review list|approve|reject, receive, refunds list|approve, dlq
list|show|replay|discard (a poison event makes a real dead letter), sla,
report (its output on the test data is printed in this log). Checked: tables
for people, --json that parses, exit codes (0 done, 1 refused or unreachable,
2 usage), clear messages on 401/403/404 and on a worker that is down.
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

TOKENS = {
    "cs": ("cs-token-0123456789abcdef", "alice"),
    "cs_supervisor": ("sup-token-0123456789abcdef", "sam"),
    "warehouse": ("wh-token-0123456789abcdef", "wendy"),
    "finance": ("fin-token-0123456789abcdef", "fiona"),
    "admin": ("admin-token-0123456789abcdef", "root-ops"),
}


class Rfctl:
    def __init__(self, h):
        self.h = h
        self.bin = os.path.join(h.build, "bin", "rfctl")
        self.env = dict(os.environ)
        for k in list(self.env):
            if k.startswith("RF_") and k not in ("RF_BUILD", "RF_REPO_ROOT"):
                del self.env[k]
        for w in harness.WORKERS:
            self.env["RF_%s_HTTP" % w.upper()] = "127.0.0.1:%d" % h.workers[w].http_port
        if h.sanitized:
            self.env["ASAN_OPTIONS"] = "detect_leaks=1"

    def __call__(self, *args, role=None, expect=0, show=True):
        env = dict(self.env)
        if role:
            env["RF_TOKEN"] = TOKENS[role][0]
        p = subprocess.run([self.bin] + list(args), env=env, capture_output=True, text=True,
                           timeout=self.h.t(60))
        if show:
            harness.log("$ %srfctl %s  -> exit %d" % ("RF_TOKEN=<%s> " % role if role else "",
                                                      " ".join(args), p.returncode))
            for line in (p.stdout + p.stderr).rstrip("\n").splitlines():
                sys.stdout.write("    | %s\n" % line)
        self.h.check(p.returncode == expect, "rfctl %s: exit %d, expected %d\nstdout: %s\nstderr: %s"
                     % (" ".join(args), p.returncode, expect, p.stdout, p.stderr))
        return p

    def json(self, *args, role=None, expect=0):
        p = self(*(("--json",) + args), role=role, expect=expect, show=False)
        try:
            return json.loads(p.stdout)
        except ValueError:
            raise harness.Failure("rfctl --json %s printed no JSON: %r" % (" ".join(args), p.stdout))


def insert_poison(h, schema, dest, return_id):
    event_id = harness.ulid()
    harness.insert_outbox(h, schema, dest, event_id, return_id, "return.approved",
                          bytes.fromhex("c1c1c1deadbeef"))
    return event_id


def scenario(h):
    rf = Rfctl(h)
    now = int(time.time() * 1000)

    h.step("test data: two orders, four SKUs, two suppliers, two regions")
    a = harness.uid("oa")
    h.post_order(a, [("L1", 5, 3000), ("L2", 5, 90000)])
    b = harness.uid("ob")
    h.post_order(b, [
        {"line_id": "T1", "sku_id": "SKU-TEE", "title": "Linen tee", "category": "apparel",
         "quantity": 5, "unit_price_fen": 4000, "supplier_id": "SUP-YIWU"},
        {"line_id": "T2", "sku_id": "SKU-TEE", "title": "Linen tee", "category": "apparel",
         "quantity": 5, "unit_price_fen": 4000, "supplier_id": "SUP-YIWU"},
        {"line_id": "M1", "sku_id": "SKU-MUG", "title": "Tea mug", "category": "kitchen",
         "quantity": 4, "unit_price_fen": 2000, "supplier_id": "SUP-YIWU"}],
        region="Guangdong", shop_id="shop-2")
    small = h.post_return(harness.uid("r"), a, "L1", kind="refund_only", amount=3000,
                          reason="quality")
    # Refunded before the buyer's next requests (review looks at a buyer's recent returns).
    h.wait_status(small, "refunded")
    big = h.post_return(harness.uid("r"), a, "L2", kind="return_refund", amount=90000,
                        reason="not_as_described", platform_deadline_at=now + 3600 * 1000)
    tee1 = h.post_return(harness.uid("r"), b, "T1", kind="return_refund", amount=4000,
                         reason="not_as_described")
    tee2 = h.post_return(harness.uid("r"), b, "T2", kind="return_refund", amount=4000,
                         reason="not_as_described")
    mug = h.post_return(harness.uid("r"), b, "M1", kind="return_refund", amount=2000,
                        reason="changed_mind", platform_deadline_at=now + 2 * 86400 * 1000)
    h.wait_status(small, "refunded")
    for r in (big, tee1, tee2, mug):
        h.wait_status(r, "under_review")

    h.step("usage errors exit 2")
    p = rf(expect=2)
    h.check("usage: rfctl" in p.stderr, "no usage text")
    rf("frobnicate", expect=2)
    rf("returns", "list", "--older-than", "soon", expect=2)
    rf("returns", "list", "--colour", "red", expect=2)
    rf("dlq", "show", "nonsense", expect=2)
    rf("help")

    h.step("status: every worker up, queues, dead letters")
    p = rf("status")
    h.check(p.stdout.count(" up ") >= 5 and "reviews pending" in p.stdout, "status table: %r" % p.stdout)
    doc = rf.json("status")
    h.check(len(doc["workers"]) == 5 and all(w["up"] and w["database"] for w in doc["workers"]),
            "status --json: %r" % doc)
    review = [w for w in doc["workers"] if w["worker"] == "review"][0]
    h.check(review["queue_depth"] == 4, "review queue depth %r, expected 4" % review)

    h.step("returns list (filters) and show (timeline)")
    p = rf("returns", "list")
    h.check(all(r in p.stdout for r in (small, big, tee1, tee2, mug)), "returns list lacks ids")
    doc = rf.json("returns", "list", "--state", "under_review")
    h.check(sorted(r["return_id"] for r in doc["returns"]) == sorted([big, tee1, tee2, mug]),
            "--state under_review: %r" % doc)
    doc = rf.json("returns", "list", "--shop", "shop-2")
    h.check(sorted(r["return_id"] for r in doc["returns"]) == sorted([tee1, tee2, mug]),
            "--shop shop-2: %r" % doc)
    doc = rf.json("returns", "list", "--older-than", "1h")
    h.check(doc["returns"] == [], "--older-than 1h: %r" % doc)
    p = rf("returns", "show", small)
    h.check("return.requested" in p.stdout and "refund.issued" in p.stdout and "refunded" in p.stdout,
            "returns show: no timeline")
    doc = rf.json("returns", "show", small)
    h.check(doc["status"] == "refunded" and len(doc["timeline"]) >= 3, "show --json: %r" % doc)
    p = rf("returns", "show", "01NOSUCHRETURN0000000000000", expect=1)
    h.check("404" in p.stderr, "unknown return: %r" % p.stderr)

    h.step("sla: the return due in an hour is listed")
    p = rf("sla", "--within", "6h")
    h.check(big in p.stdout and mug not in p.stdout, "sla 6h: %r" % p.stdout)
    doc = rf.json("sla", "--within", "3d")
    ids = [r["return_id"] for r in doc["returns"]]
    h.check(big in ids and mug in ids, "sla 3d --json: %r" % doc)

    h.step("review: list, refusals (401, 403), approve and reject with the right roles")
    p = rf("review", "list")
    h.check(big in p.stdout and tee1 in p.stdout, "review list: %r" % p.stdout)
    doc = rf.json("review", "list")
    h.check(len(doc["reviews"]) == 4, "review list --json: %r" % doc)
    p = rf("review", "approve", big, expect=1)
    h.check("401" in p.stderr and "RF_TOKEN" in p.stderr, "no token: %r" % p.stderr)
    p = rf("review", "approve", big, role="warehouse", expect=1)
    h.check("403" in p.stderr, "warehouse approving: %r" % p.stderr)
    p = rf("review", "approve", big, role="cs", expect=1)
    h.check("403" in p.stderr and "above_cs_limit" in p.stderr, "cs above its limit: %r" % p.stderr)
    rf("review", "approve", big, "--note", "checked photos", role="cs_supervisor")
    rf("review", "reject", tee2, "--reason", "condition_failed", role="cs")
    doc = rf.json("review", "approve", tee1, role="cs")
    h.check(doc.get("status") == "approved", "approve --json: %r" % doc)
    h.wait_status(tee2, "rejected")
    h.check(h.psql_val("SELECT decided_by FROM review.tasks WHERE return_id = '%s'" % big) == "sam",
            "the decision was not recorded as the token's user")

    h.step("receive: warehouse books the parcels in")
    h.wait_status(big, "awaiting_return")
    h.wait_status(tee1, "awaiting_return")
    rf("receive", big, "--condition", "resellable", role="cs", expect=1)
    rf("receive", big, "--condition", "resellable", role="warehouse")
    doc = rf.json("receive", tee1, "--condition", "goods_damaged", role="warehouse")
    h.check(isinstance(doc, dict), "receive --json: %r" % doc)

    h.step("refunds: list, and finance approval of a large refund")
    st = h.wait_status(big, ("refunded", "refund_pending_approval"))
    if st == "refund_pending_approval":
        rf("refunds", "approve", big, role="cs", expect=1)
        rf("refunds", "approve", big, role="finance")
        h.wait_status(big, "refunded")
    else:
        p = rf("refunds", "approve", big, role="finance", expect=1)
        harness.log("NOTE: refund %s was issued without finance approval; POST "
                    "/v1/refunds/{id}/approve answered: %s" % (big, p.stderr.strip()))
    p = rf("refunds", "list")
    h.check(small in p.stdout and big in p.stdout, "refunds list: %r" % p.stdout)
    doc = rf.json("refunds", "list", "--return", small)
    h.check(len(doc["refunds"]) == 1 and doc["refunds"][0]["return_id"] == small,
            "refunds list --return: %r" % doc)

    h.step("dlq: a poison event becomes a dead letter; show, replay (admin only), discard")
    poison = insert_poison(h, "review", "refund", small)
    h.wait_until(lambda: h.count("FROM review.dead_letter WHERE event_id = '%s'" % poison) == 1,
                 20, "the poison to be dead-lettered")
    dl_id = h.psql_val("SELECT id FROM review.dead_letter WHERE event_id = '%s'" % poison)
    ref = "review:%s" % dl_id
    p = rf("dlq", "list")
    h.check(ref in p.stdout and "return.approved" in p.stdout, "dlq list: %r" % p.stdout)
    doc = rf.json("dlq", "list")
    h.check([d["ref"] for d in doc["dead_letters"]] == [ref], "dlq list --json: %r" % doc)
    doc = rf.json("dlq", "list", "--worker", "refund")
    h.check(doc["dead_letters"] == [], "dlq list --worker refund: %r" % doc)
    p = rf("dlq", "show", ref)
    h.check(poison in p.stdout, "dlq show: %r" % p.stdout)
    rf("dlq", "show", "review:999999", expect=1)
    p = rf("dlq", "replay", ref, role="finance", expect=1)
    h.check("403" in p.stderr, "finance replaying: %r" % p.stderr)
    rf("dlq", "replay", ref, role="admin")
    h.wait_until(lambda: h.count("FROM review.dead_letter WHERE event_id = '%s'" % poison) == 1,
                 20, "the replayed poison to be dead-lettered again")
    ref = "review:%s" % h.psql_val("SELECT id FROM review.dead_letter WHERE event_id = '%s'" % poison)
    rf("dlq", "discard", ref, role="admin")
    doc = rf.json("dlq", "list")
    h.check(doc["dead_letters"] == [], "dead letters left after discard: %r" % doc)
    p = rf("status")

    h.step("report: the after-sales analysis of the test data")
    h.wait_status(big, "refunded")
    # Two buyers answer the satisfaction survey (sent once a return completes).
    for rid, score in ((small, 5), (big, 2)):
        h.wait_until(lambda rid=rid, score=score: h.http(
            "POST", "notification", "/v1/feedback", {"return_id": rid, "score": score},
            headers={"Authorization": "Bearer " + TOKENS["cs"][0]}).status == 200,
            20, "the survey answer for %s to be accepted" % rid)
    p = rf("report")
    for want in ("Reasons", "not_as_described", "By SKU", "SKU-TEE", "By supplier", "SUP-YIWU",
                 "Guangdong", "p50", "Satisfaction"):
        h.check(want in p.stdout, "report lacks %r" % want)
    doc = rf.json("report")
    ret = doc["returns"]
    h.check(ret["returns"] == 5, "report counts %r returns, expected 5" % ret["returns"])
    share = sum(r["share"] for r in ret["reasons"])
    h.check(abs(share - 1) < 0.01, "reason shares add up to %r" % share)
    tee = [s for s in ret["by_sku"] if s["sku_id"] == "SKU-TEE"][0]
    h.check(tee["units_sold"] == 10 and tee["units_returned"] == 2 and abs(tee["return_rate"] - 0.2) < 1e-9,
            "SKU-TEE: %r" % tee)
    h.check([s["sku_id"] for s in ret["not_as_described_flagged"]] == ["SKU-TEE"],
            "flagged SKUs: %r" % ret["not_as_described_flagged"])
    h.check(ret["time_to_refund"]["refunded"] >= 2 and ret["time_to_refund"]["p50_s"] is not None,
            "time to refund: %r" % ret["time_to_refund"])
    h.check({r["region"] for r in ret["by_region"]} == {"Zhejiang", "Guangdong"},
            "regions: %r" % ret["by_region"])
    h.check(doc["claims"] is not None and doc["quality"] is not None and
            doc["satisfaction"] is not None, "report parts missing: %r" % doc.keys())
    survey = doc["satisfaction"]["survey"]
    h.check(survey["responses"] == 2 and abs(float(survey["average"]) - 3.5) < 1e-9,
            "satisfaction: %r" % survey)

    h.step("a worker down: status and report say so and exit 1")
    h.stop("notification")
    p = rf("status", expect=1)
    h.check("DOWN" in p.stdout and "1 worker down" in p.stderr, "status with a worker down: %r" % p)
    p = rf("report", expect=1)
    h.check("notification" in p.stderr and "did not answer" in p.stderr, "report: %r" % p.stderr)
    doc = rf.json("status", expect=1)
    h.check(doc["down"] == 1, "status --json down: %r" % doc)
    harness.log("rfctl ok")


if __name__ == "__main__":
    import tempfile
    fd, tokens_path = tempfile.mkstemp(suffix=".tokens")
    with os.fdopen(fd, "w") as f:
        for role, (token, user) in TOKENS.items():
            f.write("%s %s %s\n" % (token, user, role))
    os.chmod(tokens_path, 0o644)
    try:
        harness.main(scenario, env={"RF_AUTH_TOKENS_FILE": tokens_path})
    finally:
        os.unlink(tokens_path)
