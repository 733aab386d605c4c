"""Helpers shared by the deployment scenarios (3x-*.py): extra worker processes
outside the harness's one-per-worker set (replicas, impostors), extra
PostgreSQL clusters, running returns end to end, and role checks.

Not a scenario itself (run-tests.sh runs only NN-*.py)."""

import os
import signal
import subprocess
import time

import harness


def extra_ports(h, n):
    """n free ports distinct from the harness's own (not yet bound when the
    cluster was made with start=False)."""
    taken = {h.pg_port} | {w.http_port for w in h.workers.values()} | \
        {w.bus_port for w in h.workers.values()}
    while True:
        ports = harness.free_ports(n)
        if not taken & set(ports):
            return ports


class Extra:
    """A worker process the harness does not manage (a replica, an impostor).
    Stopped by stop() or stop_all(); its log is in the harness's log dir."""

    def __init__(self, h, worker, label, env, http_port):
        self.h, self.worker, self.label, self.http_port = h, worker, label, http_port
        self.log_path = os.path.join(h.log_dir, "%s.log" % label)
        e = h.base_env()
        e.update(h.worker_env.get(worker, {}))
        e.update(env)
        e["RF_%s_HTTP" % worker.upper()] = "127.0.0.1:%d" % http_port
        with open(self.log_path, "ab") as f:
            f.write(("---- deploykit: start %s at %s ----\n" % (label, time.strftime("%H:%M:%S"))).encode())
            self.proc = subprocess.Popen(h.worker_cmd(worker), env=e, stdin=subprocess.DEVNULL,
                                         stdout=f, stderr=subprocess.STDOUT, cwd=h.tmp)

    def wait_healthy(self, timeout=30):
        def healthy():
            if self.proc.poll() is not None:
                return "exited"
            conn = harness.http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=2)
            try:
                conn.request("GET", "/healthz")
                return conn.getresponse().status == 200
            finally:
                conn.close()
        if self.h.wait_until(healthy, timeout, "%s /healthz" % self.label, interval=0.05) == "exited":
            raise harness.Failure("%s exited (%d) while starting:\n%s"
                                  % (self.label, self.proc.returncode, self.log_tail()))

    def alive(self):
        return self.proc.poll() is None

    def kill(self, sig=signal.SIGKILL):
        if self.alive():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=self.h.t(20))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=30):
        return "\n".join("    " + ln for ln in self.log_text().splitlines()[-n:])


def stop_all(extras):
    """SIGTERM (so sanitizer leak checks run), then SIGKILL; report sanitizer hits."""
    problems = []
    for x in extras:
        if x.alive():
            x.proc.send_signal(signal.SIGCONT)
            x.proc.send_signal(signal.SIGTERM)
    for x in extras:
        try:
            x.proc.wait(timeout=x.h.t(15))
        except subprocess.TimeoutExpired:
            x.proc.kill()
            x.proc.wait(timeout=10)
        hits = [ln for ln in x.log_text().splitlines()
                if any(m in ln for m in harness.SANITIZER_MARKERS)]
        if hits:
            problems.append("sanitizer report in %s:\n%s" % (x.label, "\n".join(hits[:10])))
    return problems


def psql_as(h, role, sql, port=None, dbname="returnflow", password_file=None):
    """Run sql connected as role (not the superuser); returns (ok, stdout+stderr)."""
    cmd = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
           "-p", str(port or h.pg_port), "-U", role, "-d", dbname, "-c", sql]
    env = dict(os.environ)
    if password_file:
        env["PGPASSFILE"] = password_file
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd="/", env=env,
                       timeout=h.t(60))
    return p.returncode == 0, p.stdout.decode("utf-8", "replace").strip()


# One representative table per schema (all created by the workers' migrations).
TABLES = {"intake": "returns", "review": "tasks", "warehouse": "receipts",
          "refund": "refunds", "notification": "messages"}


def check_isolation(h, port=None, password_file=None):
    """Each worker role: reads its own schema; gets "permission denied" reading,
    writing or creating in every other schema, and on schema public. Returns
    the number of denials checked."""
    denials = 0
    for role_w in harness.WORKERS:
        role = "rf_" + role_w
        ok, out = psql_as(h, role, "SELECT count(*) FROM %s.%s" % (role_w, TABLES[role_w]),
                          port=port, password_file=password_file)
        h.check(ok, "%s cannot read its own schema: %s" % (role, out))
        for other in harness.WORKERS:
            if other == role_w:
                continue
            for sql in ("SELECT count(*) FROM %s.%s" % (other, TABLES[other]),
                        "DELETE FROM %s.outbox" % other,
                        "CREATE TABLE %s.intruder (x int)" % other):
                ok, out = psql_as(h, role, sql, port=port, password_file=password_file)
                h.check(not ok and "permission denied" in out,
                        "%s on %s: expected permission denied, got ok=%s %r"
                        % (role, sql, ok, out))
                denials += 1
        ok, out = psql_as(h, role, "CREATE TABLE public.intruder (x int)", port=port,
                          password_file=password_file)
        h.check(not ok and "permission denied" in out,
                "%s creating in schema public: ok=%s %r" % (role, ok, out))
        denials += 1
    return denials


def run_returns(h, n_auto=3, n_manual=2, tag="dk", count=None, timeout=60):
    """Send n_auto small refund_only returns (normally approved automatically)
    and n_manual return_refund returns, drive every one to the end (approve
    what waits for a person, receive the parcels warehouse expects) and wait
    until all are refunded. count: a function like h.count reaching
    warehouse's schema (default h.count). Returns the return ids."""
    count = count or h.count
    rids = []
    for i in range(n_auto + n_manual):
        order = harness.uid("%s-order%d" % (tag, i))  # one buyer per return
        h.post_order(order, [("L1", 1, 9000)])
        if i < n_auto:
            rids.append(h.post_return(harness.uid("%s-a" % tag), order, "L1", kind="refund_only",
                                      amount=1000 + i))
        else:
            rids.append(h.post_return(harness.uid("%s-m" % tag), order, "L1",
                                      kind="return_refund", amount=6000 + i, reason="size_fit"))
    complete(h, rids, count, timeout)
    return rids


def complete(h, rids, count=None, timeout=60):
    """Drive rids to refunded: approve those under review, receive the parcels
    warehouse expects; Failure naming the stragglers after timeout."""
    count = count or h.count
    done_approve, done_receive = set(), set()
    deadline = time.monotonic() + h.t(timeout)
    while True:
        left = []
        for rid in rids:
            st = h.status(rid)
            if st == "refunded":
                continue
            left.append((rid, st))
            if st == "under_review" and rid not in done_approve:
                r = h.http("POST", "review", "/v1/reviews/%s/approve" % rid, {"by": "deploykit"})
                if r.status in (200, 409):
                    done_approve.add(rid)
            elif st == "awaiting_return" and rid not in done_receive:
                if count("FROM warehouse.expected_parcels WHERE return_id = '%s'"
                         " AND status = 'expected'" % rid) == 1:
                    r = h.http("POST", "warehouse", "/v1/receipts",
                               {"return_id": rid, "condition": "resellable",
                                "received_by": "deploykit"})
                    h.check(r.status in (200, 409), "receipt %s: %r" % (rid, r))
                    done_receive.add(rid)
        if not left:
            return
        if time.monotonic() > deadline:
            raise harness.Failure("returns not refunded after %ds: %s" % (timeout, left[:10]))
        time.sleep(0.1)
