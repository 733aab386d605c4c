#!/usr/bin/env python3
"""33-compose: docker-compose.yml agrees with the binaries, deploy/env.example,
the Dockerfile and prometheus.yml, and its set-up runs natively.

Docker cannot run here, so:
  1. `docker-compose config` (Debian's docker-compose) accepts the file; its
     resolved output is what the rest checks;
  2. every worker service runs `rf-<worker>` (a binary this build makes, with
     no argument), sets only variables that binary reads (--print-config) and
     deploy/env.example documents, publishes exactly its RF_<W>_HTTP port,
     exposes its bus port, reaches each peer at that peer's service name and
     bind port, mounts every /run/secrets file it names, starts after
     postgres is healthy and has a health check on its own /healthz; every
     service has a health check; every mounted host path exists;
  3. prometheus.yml scrapes each worker's service name and HTTP port;
     the Dockerfile is multi-stage bookworm, runs install-deps.sh, ends as a
     non-root user and ships every binary the services run (and rf-keygen);
  4. the same set-up natively: deploy/compose/make-secrets.sh writes the
     secrets; a bare PostgreSQL (passwords required) gets the compose init
     script; the five workers start with the compose environment verbatim
     except host names and ports (service names -> 127.0.0.1, ports -> free
     ones, /run/secrets/<name> -> the secret's file) and run returns to the
     end over CURVE.
"""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import deploykit  # noqa: E402


def print_config(h, w):
    out = subprocess.run([os.path.join(h.build, "bin", "rf-" + w), "--print-config"],
                         check=True, capture_output=True, text=True).stdout
    return {ln.split("\t", 1)[0] for ln in out.splitlines() if ln.strip()}


def volumes(svc):
    """[(source, target)] whether docker-compose wrote strings (v1) or maps (v2)."""
    out = []
    for v in svc.get("volumes", []):
        if isinstance(v, str):
            parts = v.split(":")
            out.append((parts[0], parts[1] if len(parts) > 1 else parts[0]))
        else:
            out.append((v.get("source"), v.get("target")))
    return out


def ports(svc):
    """[(host_ip, published, target)] from either form."""
    out = []
    for pp in svc.get("ports", []):
        if isinstance(pp, str):
            parts = pp.split("/")[0].split(":")
            ip = parts[0] if len(parts) == 3 else None
            out.append((ip, int(parts[-2]), int(parts[-1])))
        else:
            out.append((pp.get("host_ip"), int(pp["published"]), int(pp["target"])))
    return out


def secret_names(svc):
    return [s if isinstance(s, str) else s["source"] for s in svc.get("secrets", [])]


def documented(h):
    names = set()
    with open(os.path.join(h.root, "deploy", "env.example")) as f:
        for ln in f:
            m = re.match(r"^#?\s*(RF_[A-Z0-9_]+)=", ln)
            if m:
                names.add(m.group(1))
    return names


def scenario(h):
    try:
        import yaml
    except ImportError:
        raise harness.Failure("python3-yaml missing (docker-compose brings it): sh deploy/install-deps.sh")
    h.step("docker-compose config")
    dc = shutil.which("docker-compose")
    h.check(dc is not None, "docker-compose not installed: sh deploy/install-deps.sh")
    p = subprocess.run([dc, "-f", os.path.join(h.root, "docker-compose.yml"), "config"],
                       cwd=h.root, capture_output=True, text=True, timeout=120)
    h.check(p.returncode == 0, "docker-compose config failed:\n%s" % p.stderr)
    cfg = yaml.safe_load(p.stdout)
    services = cfg["services"]
    h.check(set(services) == set(harness.WORKERS) | {"postgres", "prometheus"},
            "services: %s" % sorted(services))
    declared_secrets = cfg.get("secrets", {})
    docs = documented(h)
    problems = []

    def bad(msg):
        problems.append(msg)

    for name, svc in services.items():
        if "healthcheck" not in svc:
            bad("%s has no health check" % name)
        for src, _target in volumes(svc):
            if src.startswith("/") and not os.path.exists(src):
                bad("%s mounts %s, which does not exist" % (name, src))
        for s in secret_names(svc):
            if s not in declared_secrets:
                bad("%s uses undeclared secret %s" % (name, s))

    http_port, bus_port = {}, {}
    for i, w in enumerate(harness.WORKERS):
        env = services[w]["environment"]
        http_port[w] = int(env["RF_%s_HTTP" % w.upper()].rsplit(":", 1)[1])
        bus_port[w] = int(env["RF_%s_BUS_BIND" % w.upper()].rsplit(":", 1)[1])
    for w in harness.WORKERS:
        svc = services[w]
        env = svc["environment"]
        cmd = svc.get("command")
        if cmd != ["rf-" + w]:
            bad("%s runs %r, not [rf-%s]" % (w, cmd, w))
        if not os.access(os.path.join(h.build, "bin", "rf-" + w), os.X_OK):
            bad("%s: this build has no rf-%s" % (w, w))
        reads = print_config(h, w)
        for k in env:
            if k not in reads:
                bad("%s sets %s, which rf-%s does not read" % (w, k, w))
            if k not in docs:
                bad("%s sets %s, which deploy/env.example does not document" % (w, k))
        for peer in harness.WORKERS:
            want = "tcp://%s:%d" % (peer, bus_port[peer])
            if env.get("RF_%s_BUS" % peer.upper()) != want:
                bad("%s reaches %s at %r, want %s" % (w, peer, env.get("RF_%s_BUS" % peer.upper()), want))
        published = ports(svc)
        if published != [("127.0.0.1", http_port[w], http_port[w])]:
            bad("%s publishes %s, want 127.0.0.1:%d:%d" % (w, published, http_port[w], http_port[w]))
        if str(bus_port[w]) not in [str(x) for x in svc.get("expose", [])]:
            bad("%s does not expose its bus port %d" % (w, bus_port[w]))
        test = " ".join(svc.get("healthcheck", {}).get("test", []))
        if "http://127.0.0.1:%d/healthz" % http_port[w] not in test:
            bad("%s health check %r does not ask its own /healthz" % (w, test))
        if services[w].get("depends_on", {}).get("postgres", {}).get("condition") != "service_healthy":
            bad("%s does not wait for a healthy postgres" % w)
        mounted = set(secret_names(svc))
        for k, v in env.items():
            for ref in re.findall(r"/run/secrets/([A-Za-z0-9_]+)", str(v)):
                if ref not in mounted:
                    bad("%s: %s names /run/secrets/%s, which it does not mount" % (w, k, ref))
        if "passfile=/run/secrets/" not in env.get("RF_%s_DB" % w.upper(), ""):
            bad("%s: its DB password does not come from a passfile secret" % w)
    pg = services["postgres"]
    if not str(pg["image"]).startswith("postgres:15"):
        bad("postgres image %s is not pinned to 15" % pg["image"])
    if not any(t == "/docker-entrypoint-initdb.d" and os.path.exists(os.path.join(src, "10-returnflow.sh"))
               for src, t in volumes(pg)):
        bad("postgres does not mount deploy/compose/initdb")
    pg_secrets = set(secret_names(pg))
    for w in harness.WORKERS:
        if "rf_%s_db_password" % w not in pg_secrets:
            bad("postgres does not get rf_%s_db_password" % w)

    h.step("prometheus.yml and the Dockerfile")
    with open(os.path.join(h.root, "deploy", "prometheus.yml")) as f:
        prom = yaml.safe_load(f)
    targets = set()
    for job in prom["scrape_configs"]:
        if job.get("metrics_path", "/metrics") != "/metrics":
            bad("prometheus job %s scrapes %s" % (job["job_name"], job["metrics_path"]))
        for sc in job.get("static_configs", []):
            targets.update(sc["targets"])
    want = {"%s:%d" % (w, http_port[w]) for w in harness.WORKERS}
    if targets != want:
        bad("prometheus targets %s, want %s" % (sorted(targets), sorted(want)))
    with open(os.path.join(h.root, "deploy", "Dockerfile")) as f:
        dockerfile = f.read()
    froms = re.findall(r"^FROM\s+(\S+)", dockerfile, re.M)
    if len(froms) < 2 or not all("bookworm" in x for x in froms):
        bad("Dockerfile stages %s: want a multi-stage bookworm build" % froms)
    if "install-deps.sh" not in dockerfile:
        bad("Dockerfile does not use deploy/install-deps.sh")
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    if not users or users[-1].split(":")[0] in ("root", "0"):
        bad("Dockerfile does not end as a non-root user: %s" % users)
    for b in ["rf-" + w for w in harness.WORKERS] + ["rf-keygen", "rfctl"]:
        if b not in dockerfile:
            bad("Dockerfile does not ship %s" % b)
    h.check(not problems, "docker-compose.yml disagrees:\n  " + "\n  ".join(problems))
    harness.log("compose file: %d services, %d secrets, every variable read and documented"
                % (len(services), len(declared_secrets)))

    h.step("the compose set-up, natively")
    secrets = os.path.join(h.tmp, "secrets")
    env = dict(os.environ, RETURNFLOW_SECRETS=secrets,
               RF_KEYGEN=os.path.join(h.build, "bin", "rf-keygen"))
    p = subprocess.run(["sh", os.path.join(h.root, "deploy", "compose", "make-secrets.sh")],
                       env=env, capture_output=True, text=True, timeout=60)
    h.check(p.returncode == 0, "make-secrets.sh: %s%s" % (p.stdout, p.stderr))
    secret_file = {k: v["file"].replace(os.path.join(h.root, "deploy/compose/secrets"), secrets)
                   for k, v in declared_secrets.items()}
    pg_port = deploykit.extra_ports(h, 1)[0]
    h.pg_port = pg_port
    h._pg_sh("bare", h.pg_dir, pg_port)
    h._pg_started = True
    pgenv = {k: str(v) for k, v in pg["environment"].items() if not k.endswith("_FILE")}
    pgenv.update(PGHOST="127.0.0.1", PGPORT=str(pg_port), RF_SECRETS_DIR=secrets)
    p = subprocess.run(["sh", os.path.join(h.root, "deploy", "compose", "initdb", "10-returnflow.sh")],
                       env=dict(os.environ, **pgenv), capture_output=True, text=True, timeout=60)
    h.check(p.returncode == 0, "init script: %s%s" % (p.stdout, p.stderr))
    psql = shutil.which("psql") or "psql"
    h._psql_cmd = [psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                   "-p", str(pg_port), "-U", "postgres", "-d", "returnflow", "-F", "\x1f", "-R", "\x1e"]

    def native(value):
        v = str(value)
        for w in harness.WORKERS:
            v = v.replace("tcp://%s:%d" % (w, bus_port[w]), "tcp://127.0.0.1:%d" % h.workers[w].bus_port)
        v = v.replace("host=postgres port=5432", "host=127.0.0.1 port=%d" % pg_port)
        return re.sub(r"/run/secrets/([A-Za-z0-9_]+)", lambda m: secret_file[m.group(1)], v)

    for w in harness.WORKERS:
        pgpass = secret_file["rf_%s_pgpass" % w]
        with open(pgpass) as f:
            text = f.read()
        with open(pgpass, "w") as f:
            f.write(text.replace("postgres:5432:", "127.0.0.1:%d:" % pg_port))
        wenv = {k: native(v) for k, v in services[w]["environment"].items()}
        wenv["RF_%s_HTTP" % w.upper()] = "127.0.0.1:%d" % h.workers[w].http_port
        wenv["RF_%s_BUS_BIND" % w.upper()] = "tcp://127.0.0.1:%d" % h.workers[w].bus_port
        wenv["RF_LOG_LEVEL"] = os.environ.get("RF_TEST_LOG_LEVEL", "info")
        h.worker_env[w] = wenv
        h._dsn = getattr(h, "_dsn", {})
        h._dsn[w] = wenv["RF_%s_DB" % w.upper()]
    harness.log("intake runs with: %s" % " ".join("%s=%s" % kv for kv in sorted(h.worker_env["intake"].items())))
    h.start_all()
    for w in harness.WORKERS:
        h.check(any("curve=on" in ln for ln in h.log_grep(w, "event=bus_started")),
                "%s is not on CURVE" % w)
    token = [ln.split()[0] for ln in open(secret_file["auth_tokens"]) if ln.strip() and not ln.startswith("#")][0]
    auth = {"Authorization": "Bearer " + token}
    orig_http = h.http

    def http_with_token(method, worker, path, body=None, **kw):
        hdrs = dict(kw.pop("headers", None) or {})
        hdrs.update(auth)
        return orig_http(method, worker, path, body, headers=hdrs, **kw)
    h.http = http_with_token
    rids = deploykit.run_returns(h, n_auto=2, n_manual=2, tag="compose")
    print("compose: config ok; %d services checked; natively: %d returns refunded over CURVE"
          " with passfile passwords and token auth" % (len(services), len(rids)))


if __name__ == "__main__":
    harness.main(scenario, start=False)
