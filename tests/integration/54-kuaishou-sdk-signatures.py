#!/usr/bin/env python3
"""54: returnflow's Kuaishou signatures equal the platform's own client's.

Review signs with MD5 and refund with HMAC_SHA256 (RF_KUAISHOU_SIGN_METHOD), both
against the Kuaishou stand-in. Returns go through both workers' calls (a return
approved by review, received and confirmed by refund; a refund only agreed by
refund). Every call the stand-in received, exactly as sent, is then signed again
by the npm package kuaishou-merchant-open-api (its generateSign, through
tests/ks-sdk/sign-check.js under Node.js) and the two signatures must be equal;
both sign methods must have been seen. A call whose signature was changed must
be caught, so the check itself is shown to fail when it should.
"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import platform_calls_kit as kit  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SDK_DIR = os.path.join(HERE, "..", "ks-sdk")

standin, CLUSTER = kit.setup(kit.AUTO_RULES)
CLUSTER["worker_env"]["review"]["RF_KUAISHOU_SIGN_METHOD"] = "MD5"
CLUSTER["worker_env"]["refund"]["RF_KUAISHOU_SIGN_METHOD"] = "HMAC_SHA256"


def sign_check(calls):
    """Run the package's generateSign over calls; returns (exit code, its report)."""
    node = shutil.which("node")
    if not node or not os.path.isdir(os.path.join(SDK_DIR, "node_modules",
                                                  "kuaishou-merchant-open-api")):
        raise harness.Failure("Node.js or tests/ks-sdk/node_modules is missing: run `make deps`"
                              " (deploy/install-deps.sh installs them)")
    doc = {"sign_secret": standin.sign_secret, "calls": calls}
    out = subprocess.run([node, os.path.join(SDK_DIR, "sign-check.js")], input=json.dumps(doc),
                         capture_output=True, text=True, timeout=60)
    try:
        report = json.loads(out.stdout)
    except ValueError:
        raise harness.Failure("sign-check.js: %s %s" % (out.stdout, out.stderr))
    return out.returncode, report


def scenario(h):
    h.step("a return approved (review, MD5) and confirmed (refund, HMAC_SHA256)")
    oid, rid, version = kit.ks_record(h, standin, "return_refund", amount=3990)
    ret = kit.post_ks_return(h, oid, rid, version, "return_refund", 3990)
    kit.wait_call(h, "review", ret)
    h.wait_timeline(ret, ["return.approved"])
    kit.receive_and_inspect(h, ret)
    h.wait_status(ret, "refunded")

    h.step("a refund only agreed by refund (HMAC_SHA256)")
    oid2, rid2, version2 = kit.ks_record(h, standin, "refund_only", amount=2500, price=2500)
    ret2 = kit.post_ks_return(h, oid2, rid2, version2, "refund_only", 2500, reason="late")
    h.wait_status(ret2, "refunded")

    h.step("every call the stand-in received, signed again by kuaishou-merchant-open-api")
    with standin.lock:
        sent = [dict(p) for _, p, _ in standin.calls if "sign" in p]
    methods = sorted(set(p["method"] for p in sent))
    h.check(set(methods) >= {kit.APPROVE_RETURN, kit.CONFIRM, kit.APPROVE_REFUND},
            "expected returngoods.approve, confirm.receipt and refund.approve among the signed"
            " calls, the stand-in saw %s" % methods)
    rc, report = sign_check(sent)
    harness.log("measured: %s" % json.dumps(report, ensure_ascii=False))
    h.check(rc == 0 and not report["mismatches"] and report["checked"] == len(sent),
            "signatures differ from the package's generateSign: %s" % report)
    h.check(report["by_sign_method"].get("MD5", 0) >= 1
            and report["by_sign_method"].get("HMAC_SHA256", 0) >= 1,
            "both sign methods must be checked: %s" % report["by_sign_method"])

    h.step("a changed signature is caught by the same check")
    bad = [dict(sent[0], sign=sent[0]["sign"][::-1])]
    rc, report = sign_check(bad)
    h.check(rc == 1 and len(report["mismatches"]) == 1,
            "a reversed signature passed the check: %s" % report)


harness.main(scenario, **CLUSTER)
