#!/usr/bin/env python3
"""06-roles: actions need a bearer token whose role allows them, and every
decision records the person behind the token.

  - no token, or an unknown one, on an action: 401; a token of the wrong role: 403
    naming the roles that may; reading (GET) needs no token;
  - customer service (cs) approves within its limit; above RF_REVIEW_CS_LIMIT_FEN it
    gets 403 above_cs_limit and a cs_supervisor decides; the decision records the
    token's user, not whatever name the body claims;
  - warehouse receipts need the warehouse role; dead-letter replays need admin;
  - a tokens file with a bad line stops start-up with a message naming the file.
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

TOKENS = {
    "cs": ("cs-token-0123456789abcdef", "alice"),
    "cs_supervisor": ("sup-token-0123456789abcdef", "sam"),
    "warehouse": ("wh-token-0123456789abcdef", "wendy"),
    "finance": ("fin-token-0123456789abcdef", "fiona"),
    "admin": ("admin-token-0123456789abcdef", "root-ops"),
}


def bearer(role):
    return {"Authorization": "Bearer " + TOKENS[role][0]}


def scenario(h):
    order = harness.uid("order")
    h.post_order(order, [("L1", 5, 20000), ("L2", 5, 90000)])
    small = h.post_return(harness.uid("s"), order, "L1", kind="return_refund", amount=20000,
                          reason="size_fit")
    big = h.post_return(harness.uid("b"), order, "L2", kind="return_refund", amount=90000,
                        reason="quality")
    h.wait_status(small, "under_review")
    h.wait_status(big, "under_review")

    h.step("no token, an unknown token, the wrong role")
    path = "/v1/reviews/%s/approve" % small
    r = h.http("POST", "review", path, {"by": "mallory"})
    h.check(r.status == 401 and r.get("error") == "unauthorized", "no token: %r" % r)
    r = h.http("POST", "review", path, {}, headers={"Authorization": "Bearer not-a-real-token-xyz"})
    h.check(r.status == 401, "unknown token: %r" % r)
    r = h.http("POST", "review", path, {}, headers=bearer("warehouse"))
    h.check(r.status == 403 and "cs" in r.get("message", ""), "warehouse approving: %r" % r)
    r = h.http("GET", "review", "/v1/reviews")
    h.check(r.status == 200, "reading the review queue without a token: %r" % r)
    h.check(h.status(small) == "under_review", "a refused request changed the return")

    h.step("cs within its limit; above it only a supervisor")
    r = h.http("POST", "review", path, {"by": "someone-else"}, headers=bearer("cs"))
    h.check(r.status == 200, "cs approving 200 yuan: %r" % r)
    r = h.http("POST", "review", "/v1/reviews/%s/approve" % big, {}, headers=bearer("cs"))
    h.check(r.status == 403 and r.get("error") == "above_cs_limit", "cs approving 900 yuan: %r" % r)
    r = h.http("POST", "review", "/v1/reviews/%s/approve" % big, {},
               headers=bearer("cs_supervisor"))
    h.check(r.status == 200, "supervisor approving 900 yuan: %r" % r)
    by = dict(h.psql("SELECT return_id, decided_by FROM review.tasks WHERE return_id IN ('%s', '%s')"
                     % (small, big)))
    h.check(by.get(small) == "alice" and by.get(big) == "sam",
            "decisions recorded as %s, expected alice and sam (the tokens' users)" % by)

    h.step("receipts need the warehouse role")
    for rid in (small, big):
        h.wait_until(lambda rid=rid: h.count("FROM warehouse.expected_parcels WHERE return_id"
                                             " = '%s'" % rid) == 1, 20, "parcel of %s" % rid)
    r = h.http("POST", "warehouse", "/v1/receipts", {"return_id": small}, headers=bearer("cs"))
    h.check(r.status == 403, "cs receiving goods: %r" % r)
    r = h.http("POST", "warehouse", "/v1/receipts", {"return_id": small, "condition": "resellable"},
               headers=bearer("warehouse"))
    h.check(r.status == 200, "warehouse receiving goods: %r" % r)
    r = h.http("POST", "warehouse", "/v1/receipts", {"return_id": big, "condition": "resellable"},
               headers=bearer("admin"))
    h.check(r.status == 200, "admin may do everything: %r" % r)
    h.wait_status(small, "refunded")
    h.wait_status(big, "refunded")

    h.step("dead-letter actions need admin")
    r = h.http("POST", "refund", "/v1/deadletters/1/replay", headers=bearer("finance"))
    h.check(r.status == 403, "finance replaying a dead letter: %r" % r)
    r = h.http("POST", "refund", "/v1/deadletters/1/replay", headers=bearer("admin"))
    h.check(r.status == 404, "admin replaying an unknown dead letter: %r" % r)

    h.step("a bad tokens file stops start-up, naming it")
    with tempfile.NamedTemporaryFile("w", suffix=".tokens", delete=False) as f:
        f.write("short-token bob cs\n")
        bad = f.name
    env = h.base_env()
    env["RF_AUTH_TOKENS_FILE"] = bad
    p = subprocess.run([os.path.join(h.build, "bin", "rf-review")], env=env,
                       capture_output=True, text=True, timeout=h.t(20))
    os.unlink(bad)
    h.check(p.returncode == 2 and bad in p.stderr and "RF_AUTH_TOKENS_FILE" in p.stderr,
            "bad tokens file: exit %d, stderr %r" % (p.returncode, p.stderr))
    harness.log("roles ok: 401/403 as expected, decisions by alice and sam")


if __name__ == "__main__":
    fd, tokens_path = tempfile.mkstemp(suffix=".tokens")
    with os.fdopen(fd, "w") as f:
        for role, (token, user) in TOKENS.items():
            f.write("%s %s %s\n" % (token, user, role))
    os.chmod(tokens_path, 0o644)
    try:
        harness.main(scenario, env={"RF_AUTH_TOKENS_FILE": tokens_path})
    finally:
        os.unlink(tokens_path)
