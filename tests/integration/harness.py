"""returnflow integration test harness (Python 3 standard library only).

A scenario is a script tests/integration/NN-what-it-proves.py that does

    import harness
    def scenario(h):                 # h: a harness.Cluster, already running
        h.step("what is being checked")
        r = h.http("POST", "intake", "/v1/orders", {...})
        h.check(r.status == 200, "order accepted: %s" % r)
        ...
    harness.main(scenario)           # exits 0 on success, 1 on failure

harness.main() builds a Cluster: free ports (checked by binding them; taken
outside the kernel's ephemeral range so that a killed worker can always bind
its ports again, see free_ports), a temporary directory, a private PostgreSQL
(deploy/pg.sh init), the five worker binaries as subprocesses (logs in the
temporary directory; RF_ACK_TIMEOUT_MS=500, RF_OUTBOX_POLL_MS=100 unless the
scenario overrides them, an override of None leaving the worker's default),
and waits for every /healthz to answer 200. A
worker that exits on its own during the scenario (one the scenario did not
stop or kill) fails it. Whatever happens (success, failed check, exception,
SIGTERM, SIGINT) everything is torn down: workers stopped (SIGTERM, then
SIGKILL), PostgreSQL stopped, the temporary directory removed (kept, with its
path printed, when the scenario failed or RF_KEEP_TMP=1). On failure the tail
of every worker log is printed.

Environment:
  RF_REPO_ROOT      repository root (default: two levels above this file)
  RF_BUILD          build directory holding bin/rf-* (default build/release,
                    relative to the repository root). When it ends in /san
                    (the address/undefined sanitizer build), timeouts are
                    scaled by 3, ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
                    is set, and the scenario fails if any worker log contains
                    an AddressSanitizer / LeakSanitizer report or a UBSan
                    "runtime error:" (workers are stopped with SIGTERM at the
                    end so that LeakSanitizer runs).
  RF_TIMEOUT_SCALE  override the timeout scale factor
  RF_KEEP_TMP=1     keep the temporary directory even on success
  RF_TEST_LOG_LEVEL worker log level (default info)
  RF_TEST_TMP_PREFIX prefix of the temporary directory under /tmp (default rf-it-)
"""

import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

WORKERS = ("intake", "review", "warehouse", "refund", "notification")
SCHEMAS = WORKERS

# Log lines that mean a sanitizer found something.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "Sanitizer has encountered a fatal error")


class Failure(Exception):
    """A scenario check failed (a clear message, no traceback needed)."""


def _repo_root():
    env = os.environ.get("RF_REPO_ROOT")
    if env:
        return os.path.abspath(env)
    return os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


REPO_ROOT = _repo_root()


def _build_dir():
    b = os.environ.get("RF_BUILD", "build/release")
    if not os.path.isabs(b):
        b = os.path.join(REPO_ROOT, b)
    return os.path.abspath(b)


BUILD = _build_dir()
SANITIZED = BUILD.rstrip("/").endswith("/san")
SCALE = float(os.environ.get("RF_TIMEOUT_SCALE", "3" if SANITIZED else "1"))

_T0 = time.monotonic()


def log(msg):
    """Progress line on stdout, with the elapsed time."""
    sys.stdout.write("[%7.2fs] %s\n" % (time.monotonic() - _T0, msg))
    sys.stdout.flush()


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
        return lo, hi
    except (OSError, ValueError):
        return None


def free_ports(n):
    """n distinct free TCP ports on 127.0.0.1, each checked by binding it (all
    bound at once, then released).

    Ports are taken outside the kernel's ephemeral range when there is room:
    a port handed out by bind(port 0) is an ephemeral one, and while a killed
    worker is down, any outgoing connection (the test's HTTP requests, psql,
    the workers' own) may take it as its local port, making the restart fail
    with EADDRINUSE. Falls back to bind(port 0)."""
    rng = _ephemeral_range()
    candidates = []
    if rng:
        lo, hi = rng
        if lo - 1 >= 12000:
            candidates = list(range(max(10000, lo - 20000), lo))
        elif hi + 1 <= 60000:
            candidates = list(range(hi + 1, 65536))
    random.shuffle(candidates)
    socks, ports = [], []
    try:
        for port in candidates:
            if len(ports) == n:
                break
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                s.close()
                continue
            socks.append(s)
            ports.append(port)
        while len(ports) < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


class Response:
    def __init__(self, status, headers, text):
        self.status = status
        self.headers = headers
        self.text = text
        try:
            self.json = json.loads(text) if text else None
        except ValueError:
            self.json = None

    def get(self, key, default=None):
        return self.json.get(key, default) if isinstance(self.json, dict) else default

    def __repr__(self):
        t = self.text if len(self.text) < 400 else self.text[:400] + "..."
        return "HTTP %d %s" % (self.status, t)


class Worker:
    def __init__(self, name, http_port, bus_port):
        self.name = name
        self.http_port = http_port
        self.bus_port = bus_port
        self.proc = None
        self.starts = 0
        self.expected_down = True  # not started yet
        self.log_path = None


class Cluster:
    """A private PostgreSQL and the five workers. See the module docstring."""

    def __init__(self, env=None, worker_env=None, start=True, workers=WORKERS):
        self.env_overrides = dict(env or {})
        self.worker_env = {w: dict(v) for w, v in (worker_env or {}).items()}
        self.scale = SCALE
        self.sanitized = SANITIZED
        self.build = BUILD
        self.root = REPO_ROOT
        self.failed = False
        self._torn_down = False
        self._lock = threading.Lock()
        self.http_retries = {}  # worker -> requests retried after a connection error
        for w in WORKERS:
            path = os.path.join(self.build, "bin", "rf-" + w)
            if not os.access(path, os.X_OK):
                raise Failure("no worker binary %s; build first (make all%s)"
                              % (path, " SANITIZE=address,undefined" if SANITIZED else ""))
        # Short path: the PostgreSQL unix socket path must stay under 107 bytes.
        self.tmp = tempfile.mkdtemp(prefix=os.environ.get("RF_TEST_TMP_PREFIX", "rf-it-"),
                                    dir="/tmp")
        os.chmod(self.tmp, 0o755)  # PostgreSQL runs as another user and must reach pg/
        self.pg_dir = os.path.join(self.tmp, "pg")
        self.log_dir = os.path.join(self.tmp, "logs")
        os.makedirs(self.log_dir)
        ports = free_ports(1 + 2 * len(WORKERS))
        self.pg_port = ports[0]
        self.workers = {}
        for i, w in enumerate(WORKERS):
            self.workers[w] = Worker(w, ports[1 + i], ports[1 + len(WORKERS) + i])
            self.workers[w].log_path = os.path.join(self.log_dir, w + ".log")
        self._pg_started = False
        self._psql_cmd = None
        log("harness: build %s%s, tmp %s, postgres port %d"
            % (self.build, " (sanitizers, timeouts x%g)" % self.scale if SANITIZED else "",
               self.tmp, self.pg_port))
        if start:
            try:
                self.start_postgres()
                self.start_all(workers)
            except BaseException:
                # The caller never gets this cluster to tear down: stop what
                # did start (the other workers, PostgreSQL), or they outlive
                # the run.
                for problem in self.teardown():
                    log("harness: %s" % problem)
                log("harness: kept %s for inspection" % self.tmp)
                raise

    # ---- time ---------------------------------------------------------------------

    def t(self, seconds):
        """A timeout scaled for the build (x3 under the sanitizers)."""
        return seconds * self.scale

    def wait_until(self, predicate, timeout, what="condition", interval=0.1, scale=True):
        """Call predicate() until it returns a true value (returned); Failure after
        timeout seconds (scaled unless scale=False) naming `what`. A predicate
        may raise Failure/OSError meanwhile: retried, the last one is reported."""
        limit = self.t(timeout) if scale else timeout
        deadline = time.monotonic() + limit
        last_err = None
        while True:
            try:
                v = predicate()
                if v:
                    return v
                last_err = None
            except (Failure, OSError, http.client.HTTPException) as e:
                last_err = e
            if time.monotonic() >= deadline:
                raise Failure("timed out after %.0fs waiting for %s%s"
                              % (limit, what, " (last error: %s)" % last_err if last_err else ""))
            time.sleep(interval)

    # ---- checks -----------------------------------------------------------------

    def check(self, cond, msg):
        if not cond:
            raise Failure(msg)

    def step(self, msg):
        log("-- " + msg)

    # ---- PostgreSQL ------------------------------------------------------------------

    def _pg_sh(self, *args, timeout=180):
        cmd = ["sh", os.path.join(self.root, "deploy", "pg.sh")] + [str(a) for a in args]
        p = subprocess.run(cmd, cwd=self.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=timeout)
        if p.returncode != 0:
            raise Failure("%s failed (exit %d):\n%s%s" % (" ".join(cmd), p.returncode, p.stdout,
                                                         p.stderr))
        return p.stdout.strip()

    def start_postgres(self):
        self._pg_started = True
        self._pg_sh("init", self.pg_dir, self.pg_port)
        self._dsn = {w: self._pg_sh("dsn", self.pg_port, w) for w in WORKERS}
        psql = shutil.which("psql") or "psql"
        base = [psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                "-p", str(self.pg_port), "-U", "postgres", "-d", "returnflow",
                "-F", "\x1f", "-R", "\x1e"]
        if os.geteuid() == 0:
            user = "postgres"
            try:
                subprocess.run(["id", "postgres"], check=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            except subprocess.CalledProcessError:
                user = "returnflow"  # what deploy/pg.sh falls back to
            base = ["runuser", "-u", user, "--"] + base
        self._psql_cmd = base
        log("harness: PostgreSQL up on 127.0.0.1:%d" % self.pg_port)

    def psql(self, sql, timeout=60):
        """Run SQL as the superuser; returns a list of rows, each a list of strings
        (NULL as ''). Raises Failure on an SQL error."""
        p = subprocess.run(self._psql_cmd + ["-c", sql], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, cwd="/", timeout=self.t(timeout))
        out = p.stdout.decode("utf-8", "replace")
        if p.returncode != 0:
            raise Failure("psql failed (exit %d) on: %s\n%s" % (p.returncode, sql,
                                                              p.stderr.decode("utf-8", "replace")))
        out = out.rstrip("\n")
        if not out:
            return []
        return [rec.split("\x1f") for rec in out.split("\x1e") if rec != ""]

    def psql_val(self, sql):
        """The single value of a one-row, one-column query ('' for no row)."""
        rows = self.psql(sql)
        return rows[0][0] if rows else ""

    def count(self, sql_from_where):
        """count(*) of 'FROM ... WHERE ...' as an int."""
        return int(self.psql_val("SELECT count(*) " + sql_from_where))

    def dsn(self, worker):
        return self._dsn[worker]

    # ---- workers -------------------------------------------------------------------

    def base_env(self):
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("RF_") and k not in ("RF_BUILD", "RF_REPO_ROOT"):
                del env[k]
        env["RF_LOG_LEVEL"] = os.environ.get("RF_TEST_LOG_LEVEL", "info")
        env["RF_ACK_TIMEOUT_MS"] = "500"
        env["RF_OUTBOX_POLL_MS"] = "100"
        env["RF_DB_WAIT_S"] = "30"
        for w in WORKERS:
            up = w.upper()
            wk = self.workers[w]
            env["RF_%s_BUS" % up] = "tcp://127.0.0.1:%d" % wk.bus_port
            env["RF_%s_HTTP" % up] = "127.0.0.1:%d" % wk.http_port
            if self._pg_started:
                env["RF_%s_DB" % up] = self._dsn[w]
        if self.sanitized:
            env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0"
            env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        env.update(self.env_overrides)
        return without_unset(env)

    def worker_cmd(self, worker):
        return [os.path.join(self.build, "bin", "rf-" + worker)]

    def start(self, worker, env=None, wait=True):
        """Start a worker (it must not be running); wait for its /healthz 200."""
        wk = self.workers[worker]
        if wk.proc is not None and wk.proc.poll() is None:
            raise Failure("start(%s): already running (pid %d)" % (worker, wk.proc.pid))
        e = self.base_env()
        e.update(self.worker_env.get(worker, {}))
        e.update(env or {})
        e = without_unset(e)
        wk.starts += 1
        with open(wk.log_path, "ab") as f:
            f.write(("---- harness: start #%d of %s at %s ----\n"
                     % (wk.starts, worker, time.strftime("%H:%M:%S"))).encode())
            wk.proc = subprocess.Popen(self.worker_cmd(worker), env=e, stdin=subprocess.DEVNULL,
                                       stdout=f, stderr=subprocess.STDOUT, cwd=self.tmp)
        wk.expected_down = False
        if wait:
            self.wait_healthy(worker)
        return wk.proc

    def wait_healthy(self, worker, timeout=30):
        wk = self.workers[worker]

        def healthy():
            if wk.proc.poll() is not None:
                return "exited"
            try:
                r = self.http("GET", worker, "/healthz", retry_for=0, timeout=2)
            except (OSError, http.client.HTTPException):
                return False
            return r.status == 200

        if self.wait_until(healthy, timeout, "%s /healthz to answer 200" % worker,
                           interval=0.05) == "exited":
            raise Failure("%s exited with status %d while starting; its log ends:\n%s"
                          % (worker, wk.proc.returncode, self.log_tail(worker, 30)))

    def start_all(self, workers=WORKERS):
        for w in workers:
            self.start(w, wait=False)
        for w in workers:
            self.wait_healthy(w)
        log("harness: workers up: %s" % ", ".join(
            "%s(http %d, bus %d)" % (w, self.workers[w].http_port, self.workers[w].bus_port)
            for w in workers))

    def pid(self, worker):
        p = self.workers[worker].proc
        return p.pid if p is not None else None

    def alive(self, worker):
        p = self.workers[worker].proc
        return p is not None and p.poll() is None

    def kill(self, worker, sig=signal.SIGKILL, wait=True):
        """Send sig to the worker. For a signal that ends it (SIGKILL, SIGTERM,
        SIGINT) wait for it to exit and return its status."""
        wk = self.workers[worker]
        if wk.proc is None or wk.proc.poll() is not None:
            raise Failure("kill(%s): not running" % worker)
        ends = sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT)
        if ends:
            wk.expected_down = True
        wk.proc.send_signal(sig)
        if ends and wait:
            try:
                return wk.proc.wait(timeout=self.t(20))
            except subprocess.TimeoutExpired:
                wk.proc.kill()
                return wk.proc.wait(timeout=10)
        return None

    def stop(self, worker):
        """A clean stop (SIGTERM); returns the exit status."""
        return self.kill(worker, signal.SIGTERM)

    def restart(self, worker, sig=signal.SIGKILL, env=None):
        if self.alive(worker):
            self.kill(worker, sig)
        return self.start(worker, env=env)

    def unexpected_exits(self):
        """Workers that exited although nobody stopped them: [(name, status)]."""
        out = []
        for w, wk in self.workers.items():
            if wk.proc is not None and not wk.expected_down:
                rc = wk.proc.poll()
                if rc is not None:
                    out.append((w, rc))
        return out

    # ---- HTTP ----------------------------------------------------------------------

    def http(self, method, worker, path, body=None, raw=None, headers=None, retry_for=None,
             timeout=None):
        """One HTTP request to a worker; returns a Response (any status).

        body: JSON-encoded (Content-Type application/json); raw: bytes sent as is.
        Connection errors (refused, reset, closed without answer, timeout) are
        retried for retry_for seconds (default 30, scaled), then raised."""
        wk = self.workers[worker]
        retry_for = self.t(30) if retry_for is None else retry_for
        timeout = self.t(15) if timeout is None else timeout
        hdrs = {"Connection": "close"}
        data = None
        if raw is not None:
            data = raw if isinstance(raw, bytes) else raw.encode()
        elif body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        deadline = time.monotonic() + retry_for
        delay = 0.05
        while True:
            conn = http.client.HTTPConnection("127.0.0.1", wk.http_port, timeout=timeout)
            try:
                conn.request(method, path, body=data, headers=hdrs)
                resp = conn.getresponse()
                text = resp.read().decode("utf-8", "replace")
                return Response(resp.status, dict(resp.getheaders()), text)
            except (OSError, http.client.HTTPException):
                if time.monotonic() >= deadline:
                    raise
                with self._lock:
                    self.http_retries[worker] = self.http_retries.get(worker, 0) + 1
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
            finally:
                conn.close()

    def raw_http(self, worker, method, path, body=b"", headers=None, chunked=False, port=None):
        """One request over a plain socket (Connection: close), tolerating a server
        that answers (413, 431) and stops reading before everything is sent: the
        answer is still read. headers may set Content-Type (default JSON); port
        overrides the worker's HTTP port (e.g. intake's feed address). Returns a
        Response (status 0 when nothing came back)."""
        headers = dict(headers or {})
        head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" % (method, path)
        head += "Content-Type: %s\r\n" % headers.pop("Content-Type", "application/json")
        head += "".join("%s: %s\r\n" % kv for kv in headers.items())
        if chunked:
            head += "Transfer-Encoding: chunked\r\n\r\n"
            parts = [b"%x\r\n%s\r\n" % (len(body[i:i + 65536]), body[i:i + 65536])
                     for i in range(0, len(body), 65536)] + [b"0\r\n\r\n"]
        else:
            head += "Content-Length: %d\r\n\r\n" % len(body)
            parts = [body]
        s = socket.create_connection(("127.0.0.1", port or self.workers[worker].http_port),
                                     timeout=self.t(20))
        data = b""
        try:
            try:
                s.sendall(head.encode())
                for part in parts:
                    s.sendall(part)
            except OSError:
                pass  # refused mid-request: the answer is still there to read
            while True:
                try:
                    chunk = s.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                data += chunk
        finally:
            s.close()
        hdr, _, rest = data.partition(b"\r\n\r\n")
        m = re.match(rb"HTTP/1\.[01] (\d{3})", hdr)
        return Response(int(m.group(1)) if m else 0, {}, rest.decode("utf-8", "replace"))

    def get_json(self, worker, path, expect=200):
        r = self.http("GET", worker, path)
        if r.status != expect:
            raise Failure("GET %s %s: expected %d, got %r" % (worker, path, expect, r))
        return r.json

    # ---- returnflow helpers -----------------------------------------------------------

    def post_order(self, order_id, lines, platform="api", shop_id="shop-1", **extra):
        """lines: [(line_id, quantity, unit_price_fen)] or dicts."""
        now = int(time.time() * 1000)
        body = {"platform": platform, "shop_id": shop_id, "order_id": order_id,
                "buyer_id": "buyer-" + order_id, "region": "Zhejiang",
                "paid_at": now - 10 * 86400000, "delivered_at": now - 3 * 86400000,
                "payment_method": "alipay", "shipping_fee_fen": 800, "lines": []}
        for ln in lines:
            if isinstance(ln, dict):
                body["lines"].append(ln)
            else:
                line_id, qty, price = ln
                body["lines"].append({"line_id": line_id, "sku_id": "sku-" + line_id,
                                      "title": "item " + line_id, "category": "apparel",
                                      "quantity": qty, "unit_price_fen": price,
                                      "supplier_id": "sup-1"})
        body.update(extra)
        r = self.http("POST", "intake", "/v1/orders", body)
        if r.status != 200:
            raise Failure("POST /v1/orders %s: expected 200, got %r" % (order_id, r))
        return r

    def fresh_line(self, prefix="order", quantity=1, unit_price_fen=9000, **extra):
        """Post a new order (so a new buyer: "buyer-" + order id) with one line L1;
        returns (order_id, "L1"). The review rules look at a buyer's returns in
        the last 90 days, and intake allows one open return per line, so a
        scenario that streams many returns gives each its own order."""
        order = uid(prefix)
        self.post_order(order, [("L1", quantity, unit_price_fen)], **extra)
        return order, "L1"

    def return_body(self, platform_return_id, order_id, line_id, kind="refund_only", quantity=1,
                    amount=1000, reason="quality", platform="api", **extra):
        now = int(time.time() * 1000)
        body = {"platform": platform, "platform_return_id": platform_return_id,
                "order_id": order_id, "line_id": line_id, "type": kind, "quantity": quantity,
                "reason_code": reason, "reason_text": "test " + platform_return_id,
                "requested_amount_fen": amount, "requested_at": now,
                "platform_deadline_at": now + 2 * 86400000}
        body.update(extra)
        return body

    def post_return(self, platform_return_id, order_id, line_id, expect=(202,), **kw):
        """POST /v1/returns; returns the return_id (status must be in expect)."""
        r = self.http("POST", "intake", "/v1/returns",
                      self.return_body(platform_return_id, order_id, line_id, **kw))
        if r.status not in expect or not r.get("return_id"):
            raise Failure("POST /v1/returns %s: expected %s, got %r"
                          % (platform_return_id, expect, r))
        return r.json["return_id"]

    def timeline_types(self, return_id):
        """The event types of a return's timeline, in order."""
        return [e["type"] for e in self.return_doc(return_id)["timeline"]]

    def wait_timeline(self, return_id, types, timeout=20):
        """Wait until the timeline of return_id holds every type in types."""
        want = set(types)
        self.wait_until(lambda: want <= set(self.timeline_types(return_id)), timeout,
                        "the timeline of %s to hold %s" % (return_id, sorted(want)))

    def templates(self, return_id, audience=None):
        """Template names of the messages about return_id (optionally one audience)."""
        msgs = self.get_json("notification", "/v1/messages?return_id=" + return_id)["messages"]
        return [m["template"] for m in msgs if audience is None or m["audience"] == audience]

    def return_doc(self, return_id):
        return self.get_json("intake", "/v1/returns/" + return_id)

    def status(self, return_id):
        r = self.http("GET", "intake", "/v1/returns/" + return_id)
        return r.get("status") if r.status == 200 else None

    def wait_status(self, return_id, status, timeout=20):
        statuses = (status,) if isinstance(status, str) else tuple(status)
        seen = {}

        def reached():
            s = self.status(return_id)
            seen["s"] = s
            return s in statuses

        try:
            self.wait_until(reached, timeout, "return %s to reach %s" % (return_id, "|".join(statuses)),
                            interval=0.1)
        except Failure as e:
            raise Failure("%s; it is %s" % (e, seen.get("s"))) from None
        return seen["s"]

    def outbox_counts(self):
        """{schema: rows in its outbox}."""
        sql = " UNION ALL ".join("SELECT '%s', count(*) FROM %s.outbox" % (s, s) for s in SCHEMAS)
        return {r[0]: int(r[1]) for r in self.psql(sql)}

    def dead_letter_counts(self):
        sql = " UNION ALL ".join("SELECT '%s', count(*) FROM %s.dead_letter" % (s, s)
                                 for s in SCHEMAS)
        return {r[0]: int(r[1]) for r in self.psql(sql)}

    def wait_outboxes_empty(self, timeout=30):
        last = {}

        def empty():
            last.update(self.outbox_counts())
            return all(v == 0 for v in last.values())

        try:
            self.wait_until(empty, timeout, "every outbox to drain", interval=0.2)
        except Failure as e:
            raise Failure("%s: outbox rows left %s; oldest: %s"
                          % (e, last, self.psql(
                              " UNION ALL ".join("(SELECT '%s', dest, type, return_id, attempts,"
                                                 " coalesce(last_error, '') FROM %s.outbox"
                                                 " ORDER BY seq LIMIT 3)" % (s, s)
                                                 for s in SCHEMAS)))) from None

    def metrics(self, worker):
        r = self.http("GET", worker, "/metrics")
        if r.status != 200:
            raise Failure("GET %s /metrics: %r" % (worker, r))
        return r.text

    # ---- logs --------------------------------------------------------------------------

    def log_text(self, worker):
        try:
            with open(self.workers[worker].log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, worker, lines=40):
        text = self.log_text(worker).splitlines()
        return "\n".join("    " + ln for ln in text[-lines:])

    def log_grep(self, worker, needle):
        return [ln for ln in self.log_text(worker).splitlines() if needle in ln]

    def sanitizer_reports(self):
        """{worker: [first lines of each report]} from the worker logs."""
        found = {}
        for w in WORKERS:
            lines = self.log_text(w).splitlines()
            hits = [ln for ln in lines if any(m in ln for m in SANITIZER_MARKERS)]
            if hits:
                found[w] = hits[:10]
        return found

    # ---- teardown ------------------------------------------------------------------------

    def stop_workers(self):
        procs = []
        for w, wk in self.workers.items():
            if wk.proc is not None and wk.proc.poll() is None:
                wk.expected_down = True
                try:
                    wk.proc.send_signal(signal.SIGCONT)  # in case a scenario left it stopped
                    wk.proc.send_signal(signal.SIGTERM)
                except OSError:
                    pass
                procs.append((w, wk.proc))
        deadline = time.monotonic() + self.t(15)
        for w, p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log("harness: %s did not stop on SIGTERM; SIGKILL" % w)
                p.kill()
                p.wait(timeout=10)

    def teardown(self):
        """Stop everything; returns a list of problems found at the end (sanitizer
        reports). Safe to call twice."""
        with self._lock:
            if self._torn_down:
                return []
            self._torn_down = True
        problems = []
        try:
            self.stop_workers()
        except Exception as e:  # keep tearing down
            problems.append("stopping workers: %s" % e)
        if self._pg_started:
            try:
                self._pg_sh("stop", self.pg_dir, timeout=150)
            except Exception as e:
                problems.append("stopping PostgreSQL: %s" % e)
        if self.sanitized:
            for w, hits in self.sanitizer_reports().items():
                problems.append("sanitizer report in the %s log:\n%s"
                                % (w, "\n".join("    " + h for h in hits)))
        return problems

    def report_logs(self, lines=40):
        for w in WORKERS:
            sys.stdout.write("---- last %d lines of %s ----\n%s\n"
                             % (lines, self.workers[w].log_path, self.log_tail(w, lines)))
        pglog = os.path.join(self.pg_dir, "log", "postgres.log")
        try:
            with open(pglog, "rb") as f:
                tail = f.read().decode("utf-8", "replace").splitlines()[-15:]
            sys.stdout.write("---- last lines of %s ----\n%s\n"
                             % (pglog, "\n".join("    " + ln for ln in tail)))
        except OSError:
            pass
        sys.stdout.flush()

    def remove_tmp(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def without_unset(env):
    """env without the variables overridden with None: unset, so the worker
    takes its own default."""
    return {k: v for k, v in env.items() if v is not None}


class _Terminated(BaseException):
    pass


def _on_signal(signum, frame):
    raise _Terminated("signal %d" % signum)


def main(scenario, **cluster_kw):
    """Run scenario(cluster) and exit: 0 on success, 1 on failure."""
    name = os.path.basename(sys.argv[0])
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    started = time.monotonic()
    h = None
    failure = None
    try:
        h = Cluster(**cluster_kw)
        scenario(h)
        bad = h.unexpected_exits()
        if bad:
            raise Failure("worker(s) exited on their own during the scenario: %s"
                          % ", ".join("%s (status %d)" % b for b in bad))
    except Failure as e:
        failure = str(e)
    except _Terminated as e:
        failure = "interrupted by %s" % e
    except Exception:
        failure = "unexpected error:\n" + traceback.format_exc()
    problems = []
    if h is not None:
        try:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # finish the teardown
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            problems = h.teardown()
        except Exception:
            problems = ["teardown error:\n" + traceback.format_exc()]
    elapsed = time.monotonic() - started
    if failure is None and problems:
        failure = "\n".join(problems)
    elif failure is not None and problems:
        failure += "\nalso:\n" + "\n".join(problems)
    if failure is not None:
        sys.stdout.write("\nFAIL %s (%.1fs): %s\n" % (name, elapsed, failure))
        if h is not None:
            h.report_logs()
            sys.stdout.write("kept %s for inspection\n" % h.tmp)
            # again after the logs, so that a tail of this output (the test
            # runner's, CI's) still says why the scenario failed
            reason = failure.splitlines()
            if len(reason) > 20:
                reason = reason[:20] + ["... (%d more lines above)" % (len(reason) - 20)]
            sys.stdout.write("FAIL %s: %s\n" % (name, "\n".join(reason)))
        sys.stdout.flush()
        sys.exit(1)
    sys.stdout.write("PASS %s (%.1fs)\n" % (name, elapsed))
    sys.stdout.flush()
    if h is not None:
        if os.environ.get("RF_KEEP_TMP") == "1":
            sys.stdout.write("kept %s (RF_KEEP_TMP=1)\n" % h.tmp)
        else:
            h.remove_tmp()
    sys.exit(0)


def insert_outbox(h, producer, dest, event_id, return_id, type_, payload):
    """Put an event straight into a producer's outbox, as if the producer had
    emitted it (payload: the wire bytes); its dispatcher sends it like any
    other row."""
    h.psql("INSERT INTO %s.outbox (event_id, dest, return_id, type, payload)"
           " VALUES ('%s', '%s', '%s', '%s', decode('%s', 'hex'))"
           % (producer, event_id, dest, return_id, type_, payload.hex()))


def hold_transaction(h, sql):
    """Run sql in a transaction of the test's own (a psql session as the
    superuser) and leave it open, holding whatever locks sql took, as an
    operator's forgotten BEGIN would. Returns the psql process: pass it to
    release_transaction."""
    holder = subprocess.Popen(h._psql_cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, cwd="/")
    holder.stdin.write(("BEGIN;\n%s;\n" % sql).encode())
    holder.stdin.flush()
    return holder


def release_transaction(h, holder):
    """Roll back a hold_transaction's transaction and end its session."""
    holder.stdin.write(b"ROLLBACK;\n")
    holder.stdin.close()
    holder.wait(timeout=h.t(10))


# The environment under which approval_refund_hangs_on's lock hangs refund:
# an apply waits RF_LOCK_WAIT_MS (2 s by default, then the events are
# deferred) for a row another transaction holds; here, 10 minutes.
REFUND_HANGS_ON_LOCKS = {"RF_LOCK_WAIT_MS": "600000"}


def approval_refund_hangs_on(h, order, line, amount=8000):
    """A return approved while refund is down, and its approval made to hang
    refund when applied: the test holds an uncommitted row with the event's
    id in refund.inbox, so refund's apply waits on that row's lock. That is,
    from outside, a consumer that takes the event and never answers. Refund
    must run with REFUND_HANGS_ON_LOCKS in its environment.
    Returns (return id, event id, the psql process holding the lock: see
    release_transaction)."""
    x = h.post_return(uid("x"), order, line, kind="refund_only", amount=amount,
                      reason="quality")
    h.wait_status(x, "under_review")
    h.kill("refund", signal.SIGKILL)
    r = h.http("POST", "review", "/v1/reviews/%s/approve" % x, {"by": "alice"})
    h.check(r.status == 200, "approve %s: %r" % (x, r))
    event_id = h.wait_until(lambda: h.psql_val(
        "SELECT event_id FROM review.outbox WHERE dest = 'refund' AND return_id = '%s'"
        " AND type = 'return.approved'" % x), 10, "the approval of %s in review.outbox" % x)
    holder = hold_transaction(h, "INSERT INTO refund.inbox (event_id, producer, type, return_id)"
                                 " VALUES ('%s', 'review', 'return.approved', '%s')"
                                 % (event_id, x))
    h.wait_until(lambda: h.count("FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
                                 " WHERE a.usename = 'postgres' AND l.locktype = 'transactionid'"
                                 " AND a.state = 'idle in transaction'") > 0,
                 10, "the test's transaction holding %s" % event_id)
    return x, event_id, holder


def release_and_replay(h, holder, dl_id, return_id):
    """Release the lock approval_refund_hangs_on holds, replay review's dead
    letter dl_id, and check that the return is then refunded exactly once."""
    release_transaction(h, holder)
    r = h.http("POST", "review", "/v1/deadletters/%s/replay" % dl_id)
    h.check(r.status == 200 and r.get("result") == "replayed", "replay: %r" % r)
    h.wait_status(return_id, "refunded", 30)
    h.check(h.count("FROM refund.refunds WHERE return_id = '%s'" % return_id) == 1,
            "%s not refunded exactly once" % return_id)


def end_refund_lock_waiters(h):
    """End the backends of ended refund processes still waiting on a held lock."""
    h.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
           " WHERE usename = 'rf_refund' AND wait_event_type = 'Lock'")


def stream_policy_env():
    """Environment for scenarios about delivery and faults that stream many small
    refund_only returns of one buyer over a few order lines: shop policies
    (README "## Policy") that allow several open returns per line and approve a
    refund_only up to 50 yuan whatever the buyer's history. The real defaults refuse
    the second open return of a line and send a buyer's 4th return in 90 days to a
    person, which is not what those scenarios are about. The files live until the
    process exits."""
    import atexit
    d = tempfile.mkdtemp(prefix="rf-policy-")
    intake = os.path.join(d, "intake.json")
    review = os.path.join(d, "review.json")
    with open(intake, "w") as f:
        json.dump({"default": {"one_open_per_line": False}}, f)
    with open(review, "w") as f:
        json.dump({"default": {"rules": [
            {"name": "stream_refund_only", "kind": "refund_only", "max_amount_fen": 5000,
             "outcome": "auto_approve"},
            {"name": "default_manual", "outcome": "manual"}]}}, f)
    atexit.register(shutil.rmtree, d, True)
    return {"RF_INTAKE_POLICY_FILE": intake, "RF_REVIEW_POLICY_FILE": review}


class ReturnStream:
    """A thread posting refund_only returns, one every `pace` seconds, over the
    lines L1..Ln of `order` (see stream_policy_env for the policy that allows
    it). `sent` lists (time.monotonic(), return_id); `errors` what failed."""

    def __init__(self, h, order, n_lines=50, pace=0.1, prefix="s"):
        self.h, self.order, self.n_lines, self.pace, self.prefix = h, order, n_lines, pace, prefix
        self.sent, self.errors, self.stop_event = [], [], threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        i = 0
        try:
            while not self.stop_event.is_set():
                rid = self.h.post_return(uid("%s%d" % (self.prefix, i)), self.order,
                                         "L%d" % (1 + i % self.n_lines), kind="refund_only",
                                         amount=100 + i % 400, reason="late")
                self.sent.append((time.monotonic(), rid))
                i += 1
                time.sleep(self.pace)
        except Exception as e:  # reported by the scenario
            self.errors.append(e)

    def return_ids(self):
        return [rid for _, rid in list(self.sent)]

    def stop(self):
        self.stop_event.set()
        self.thread.join(timeout=self.h.t(30))


def uid(prefix="x"):
    """A short unique id for platform ids in one run."""
    return "%s-%d-%06x" % (prefix, int(time.time()), random.getrandbits(24))


def platform_id():
    """A real-length platform id: 19 digits, as Kuaishou's refundId and oid and
    Douyin's aftersale_id are (short ids hide buffer bugs); below 2^63, as the
    platforms' ids (Java longs) are."""
    return str(random.randint(10**18, 2**63 - 1))


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid():
    """A fresh ULID (26 Crockford base32 characters), like the workers' ids."""
    n = (int(time.time() * 1000) << 80) | random.getrandbits(80)
    return "".join(_CROCKFORD[(n >> (5 * i)) & 31] for i in range(25, -1, -1))


# ---- a minimal msgpack encoder, enough to craft events (proto/WIRE.md) ---------------


def msgpack(obj):
    """Encode str / int / bool / dict (str keys) / list as msgpack bytes."""
    if obj is True:
        return b"\xc3"
    if obj is False:
        return b"\xc2"
    if obj is None:
        return b"\xc0"
    if isinstance(obj, int):
        if 0 <= obj < 128:
            return bytes([obj])
        if -32 <= obj < 0:
            return (obj & 0xff).to_bytes(1, "big")
        return b"\xd3" + obj.to_bytes(8, "big", signed=True)
    if isinstance(obj, str):
        b = obj.encode("utf-8")
        if len(b) < 32:
            return bytes([0xa0 | len(b)]) + b
        if len(b) < 256:
            return b"\xd9" + bytes([len(b)]) + b
        if len(b) < 65536:
            return b"\xda" + len(b).to_bytes(2, "big") + b
        return b"\xdb" + len(b).to_bytes(4, "big") + b
    if isinstance(obj, dict):
        n = len(obj)
        head = bytes([0x80 | n]) if n < 16 else b"\xde" + n.to_bytes(2, "big")
        return head + b"".join(msgpack(k) + msgpack(v) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        n = len(obj)
        head = bytes([0x90 | n]) if n < 16 else b"\xdc" + n.to_bytes(2, "big")
        return head + b"".join(msgpack(v) for v in obj)
    raise TypeError("cannot encode %r" % (obj,))


def event_payload(type_, return_id, producer, body, event_id=None, v=1, causation_id=""):
    """(event_id, msgpack bytes) of an event as the workers encode it."""
    event_id = event_id or ulid()
    env = {"v": v, "event_id": event_id, "type": type_, "return_id": return_id,
           "causation_id": causation_id, "producer": producer,
           "occurred_at": int(time.time() * 1000), "body": body}
    return event_id, msgpack(env)
