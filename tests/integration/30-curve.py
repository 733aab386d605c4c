#!/usr/bin/env python3
"""30-curve: with CURVE keys configured every bus link is encrypted and
authenticated, the pipeline works as before, and a peer whose key is not
listed gets nothing through and is logged.

  - rf-keygen makes a key pair per worker (secret files 0600, one public key
    list); every worker starts with RF_CURVE_SECRET_KEY_FILE (its own) and
    RF_CURVE_PUBLIC_KEYS_FILE and logs curve=on;
  - returns run end to end (refund_only approved automatically, return_refund
    approved and received) and are refunded;
  - an impostor: a second rf-review with a key pair of its own (not in the
    list the real workers read), its own database, pointed at the real
    workers; a forged return.approved put in its outbox is never applied by
    anyone (no inbox row, no refund), stays unacknowledged in the impostor's
    outbox, and every real consumer logs bus_peer_refused with the impostor's
    public key;
  - a key file readable by others, or a list without the worker's own key,
    stops start-up with a clear message.
"""
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import deploykit  # noqa: E402


def keygen(h, out_dir, *names):
    p = subprocess.run([os.path.join(h.build, "bin", "rf-keygen"), out_dir] + list(names),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    h.check(p.returncode == 0, "rf-keygen %s: %s" % (out_dir, p.stdout))
    return p.stdout


def scenario(h):
    h.step("keys: rf-keygen for the five workers")
    keys = os.path.join(h.tmp, "keys")
    harness.log(keygen(h, keys).strip())
    pub_file = os.path.join(keys, "public_keys")
    listed = dict(ln.split() for ln in open(pub_file) if ln.strip())
    h.check(sorted(listed) == sorted(harness.WORKERS), "public_keys lists %s" % sorted(listed))
    for w in harness.WORKERS:
        mode = os.stat(os.path.join(keys, w + ".key")).st_mode & 0o777
        h.check(mode == 0o600, "%s.key has mode %o, want 600" % (w, mode))
    p = subprocess.run([os.path.join(h.build, "bin", "rf-keygen"), keys, "review"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    h.check(p.returncode != 0 and "exists" in p.stdout, "rf-keygen overwrote a key: %s" % p.stdout)

    h.env_overrides["RF_CURVE_PUBLIC_KEYS_FILE"] = pub_file
    for w in harness.WORKERS:
        h.worker_env.setdefault(w, {})["RF_CURVE_SECRET_KEY_FILE"] = os.path.join(keys, w + ".key")
    h.start_postgres()
    h.start_all()
    for w in harness.WORKERS:
        h.check(any("curve=on" in ln for ln in h.log_grep(w, "event=bus_started")),
                "%s did not start with curve=on:\n%s" % (w, h.log_tail(w, 10)))

    h.step("the pipeline, encrypted")
    t0 = time.monotonic()
    rids = deploykit.run_returns(h, n_auto=4, n_manual=2, tag="curve")
    harness.log("%d returns refunded over CURVE links in %.1fs" % (len(rids), time.monotonic() - t0))
    h.wait_outboxes_empty(30)
    for w in harness.WORKERS:
        h.check(not h.log_grep(w, "bus_peer_refused"), "%s refused a listed peer:\n%s"
                % (w, "\n".join(h.log_grep(w, "bus_peer_refused")[:3])))

    h.step("an impostor with an unlisted key")
    rogue_keys = os.path.join(h.tmp, "rogue")
    keygen(h, rogue_keys, "review")
    rogue_pub = open(os.path.join(rogue_keys, "public_keys")).read().split()[1]
    # The impostor knows every real server key; only its own key is its own.
    rogue_list = os.path.join(rogue_keys, "list")
    with open(rogue_list, "w") as f:
        for name, key in listed.items():
            f.write("%s %s\n" % (name, rogue_pub if name == "review" else key))
    h.psql("CREATE DATABASE rogue")
    h.psql("GRANT CREATE ON DATABASE rogue TO rf_review")
    ports = deploykit.extra_ports(h, 2)
    rogue = deploykit.Extra(h, "review", "rogue-review", {
        "RF_REVIEW_DB": h.dsn("review").replace("dbname=returnflow", "dbname=rogue"),
        "RF_REVIEW_BUS": "tcp://127.0.0.1:%d" % ports[1],
        "RF_CURVE_SECRET_KEY_FILE": os.path.join(rogue_keys, "review.key"),
        "RF_CURVE_PUBLIC_KEYS_FILE": rogue_list,
    }, ports[0])
    extras = [rogue]
    try:
        rogue.wait_healthy()
        forged_rid = harness.ulid()
        ev_id, payload = harness.event_payload(
            "return.approved", forged_rid, "review",
            {"decided_by": "impostor", "refund_only": True, "amount_fen": 999999,
             "liable_party": "merchant", "cost_bearer": "merchant"})
        rogue_psql = [a if a != "returnflow" else "rogue" for a in h._psql_cmd]
        sql = ("INSERT INTO review.outbox (event_id, dest, return_id, type, payload)"
               " SELECT '%s', d, '%s', 'return.approved', decode('%s', 'hex')"
               " FROM unnest(ARRAY['intake','warehouse','refund','notification']) d"
               % (ev_id, forged_rid, payload.hex()))
        p = subprocess.run(rogue_psql + ["-c", sql], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, cwd="/")
        h.check(p.returncode == 0, "insert into the impostor's outbox: %s" % p.stdout)
        harness.log("forged return.approved %s (return %s) waits in the impostor's outbox"
                    % (ev_id, forged_rid))

        def refused_everywhere():
            return all(any(rogue_pub in ln for ln in h.log_grep(w, "event=bus_peer_refused"))
                       for w in ("intake", "warehouse", "refund", "notification"))
        h.wait_until(refused_everywhere, 20, "every consumer to log the impostor's key")
        time.sleep(h.t(3))  # plenty of resend attempts by now
        for w in ("intake", "warehouse", "refund", "notification"):
            h.check(h.count("FROM %s.inbox WHERE event_id = '%s'" % (w, ev_id)) == 0,
                    "%s applied the impostor's event" % w)
            line = next(ln for ln in h.log_grep(w, "event=bus_peer_refused") if rogue_pub in ln)
            harness.log("%s: %s" % (w, line.strip()[:200]))
        h.check(h.count("FROM refund.plans WHERE return_id = '%s'" % forged_rid) == 0,
                "a refund plan exists for the forged return")
        p = subprocess.run(rogue_psql + ["-c", "SELECT count(*) FROM review.outbox"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd="/")
        left = p.stdout.decode().strip()
        h.check(left.strip("\x1e") == "4", "the impostor's outbox should still hold its 4 rows"
                " (nothing acknowledged), holds %r" % left)
        h.check(not any(rogue_pub in ln for ln in h.log_grep("review", "bus_peer_admitted")),
                "the impostor was admitted")
    finally:
        problems = deploykit.stop_all(extras)
    h.check(not problems, "; ".join(problems))

    h.step("bad key set-ups stop start-up")
    loose = os.path.join(h.tmp, "loose.key")
    shutil.copy(os.path.join(keys, "refund.key"), loose)
    os.chmod(loose, 0o644)
    e = h.base_env()
    e["RF_CURVE_SECRET_KEY_FILE"] = loose
    e["RF_REFUND_BUS"] = "tcp://127.0.0.1:%d" % deploykit.extra_ports(h, 1)[0]
    e["RF_REFUND_HTTP"] = "127.0.0.1:%d" % deploykit.extra_ports(h, 1)[0]
    p = subprocess.run(h.worker_cmd("refund"), env=e, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=h.t(30), cwd=h.tmp)
    out = p.stdout.decode("utf-8", "replace")
    h.check(p.returncode != 0 and "chmod 600" in out, "world-readable key: rc %d %s"
            % (p.returncode, out[-300:]))
    e["RF_CURVE_SECRET_KEY_FILE"] = os.path.join(rogue_keys, "review.key")
    p = subprocess.run(h.worker_cmd("refund"), env=e, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=h.t(30), cwd=h.tmp)
    out = p.stdout.decode("utf-8", "replace")
    h.check(p.returncode != 0 and "lists no key for refund matching" in out,
            "a secret key not in the list: rc %d %s" % (p.returncode, out[-300:]))
    print("curve test: returns=%d refunded over CURVE; impostor key %s refused by 4 consumers,"
          " 0 of its events applied" % (len(rids), rogue_pub))


if __name__ == "__main__":
    harness.main(scenario, start=False)
