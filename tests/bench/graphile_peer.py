"""graphile_peer.py: the bench's peer, graphile-worker, on the bench's own server.

graphile-worker (npm, pinned by tests/bench/peer/package-lock.json) is a
widely used PostgreSQL job queue. Here it carries eight chained durable jobs
per "return" (each job's handler adds the next, tests/bench/peer/peer.js) at
its fastest documented settings: a local queue (jobs fetched and locked in
batches), batched job completion, many concurrent jobs and a pool to match.
It runs in database `peer` of the PostgreSQL cluster the bench started, in
the same run, so that its figures and returnflow's come from the same
server under the same conditions.

install() puts the npm packages into tests/bench/peer/node_modules with
`npm ci` when they are missing; run() queues the first job of each return
(set-up, not measured), then runs one worker pool until every job ran, and
returns its figures: jobs and returns per second sustained, the whole run's
time, CPU per return of node and of PostgreSQL, WAL records and bytes per
return, and the jobs that ran twice or never.
"""
import json
import os
import shutil
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEER_DIR = os.path.join(HERE, "peer")
DATABASE = "peer"


def install():
    """npm ci into tests/bench/peer when graphile-worker is not installed;
    None when ready, else why not."""
    if os.path.isdir(os.path.join(PEER_DIR, "node_modules", "graphile-worker")):
        return None
    if not shutil.which("node") or not shutil.which("npm"):
        return "node and npm are needed (deploy/install-deps.sh installs them)"
    p = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PEER_DIR,
                       capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        return "npm ci in tests/bench/peer failed: %s" % (p.stdout + p.stderr)[-600:]
    return None


def _node(step, env, timeout):
    p = subprocess.run(["node", os.path.join(PEER_DIR, "peer.js"), step], cwd=PEER_DIR,
                       env=env, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError("peer.js %s failed (exit %d): %s" % (step, p.returncode,
                                                              (p.stdout + p.stderr)[-600:]))
    return json.loads(p.stdout.strip().splitlines()[-1])


def run(h, returns, steps, concurrency, local_queue, complete_batch_ms, pool,
        postgres_cpu_seconds, pg_counters):
    """Run the peer for `returns` chains of `steps` jobs. postgres_cpu_seconds()
    and pg_counters() (commits, WAL syncs, WAL records, full-page images, WAL
    bytes) are the bench's own readings of the server, taken around the run."""
    why = install()
    if why:
        return {"error": why}
    if not h.psql_val("SELECT 1 FROM pg_database WHERE datname = '%s'" % DATABASE):
        h.psql("CREATE DATABASE %s" % DATABASE)
    env = dict(os.environ,
               PEER_DSN="postgres://postgres@127.0.0.1:%d/%s" % (h.pg_port, DATABASE),
               PEER_RETURNS=str(returns), PEER_STEPS=str(steps),
               PEER_CONCURRENCY=str(concurrency), PEER_LOCAL_QUEUE=str(local_queue),
               PEER_COMPLETE_BATCH=str(complete_batch_ms),
               PEER_POOL=str(pool if pool > 0 else concurrency + 2))
    try:
        _node("setup", env, 300)
        time.sleep(1.1)  # the set-up's statistics published before the count starts
        cpu0, pg0 = postgres_cpu_seconds(), pg_counters()
        out = _node("run", env, 600 + returns * steps / 100)
        time.sleep(1.1)
        cpu1, pg1 = postgres_cpu_seconds(), pg_counters()
    except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
        return {"error": str(e)[-600:]}
    n = max(returns, 1)
    out["postgres_cpu_us_per_return"] = round((cpu1 - cpu0) / n * 1e6, 1)
    out["node_cpu_us_per_return"] = round(out.pop("node_cpu_s") / n * 1e6, 1)
    out["cpu_us_per_return"] = round(out["postgres_cpu_us_per_return"] +
                                     out["node_cpu_us_per_return"], 1)
    out["commits_per_return"] = round((pg1[0] - pg0[0]) / n, 2)
    out["wal_records_per_return"] = round((pg1[2] - pg0[2]) / n, 1)
    out["wal_bytes_per_return"] = round((pg1[4] - pg0[4]) / n)
    out["database"] = DATABASE
    return out


def format_lines(p, row="%-44s %s"):
    """The peer's lines of the bench's table."""
    if p.get("error"):
        return [row % ("peer: graphile-worker", "failed: %s" % p["error"][:300])]
    s = p["settings"]
    return [
        row % ("peer: graphile-worker %s (node %s)" % (p["version"], p["node"]),
               "%d chains of %d durable jobs, database %s of the same server" % (
                   p["returns"], p["steps"], p["database"])),
        row % ("  settings", "concurrentJobs %d, maxPoolSize %d, localQueue.size %d,"
               " completeJobBatchDelay %d ms" % (s["concurrentJobs"], s["maxPoolSize"],
                                                 s["localQueueSize"],
                                                 s["completeJobBatchDelay"])),
        row % ("  jobs per s, sustained", "%s (middle 80%% of jobs, over %s s; all in %s s)" % (
            p["jobs_per_s"], p["seconds_10_90"], p["seconds"])),
        row % ("  RETURNS per s, sustained (jobs/s / %d)" % p["steps"],
               "%s (whole run %s)" % (p["returns_per_s"], p["returns_per_s_whole_run"])),
        row % ("  per return", "CPU %.0f us (node %.0f, PostgreSQL %.0f), %.2f commits,"
               " %.1f WAL records, %.1f kB of WAL" % (
                   p["cpu_us_per_return"], p["node_cpu_us_per_return"],
                   p["postgres_cpu_us_per_return"], p["commits_per_return"],
                   p["wal_records_per_return"], p["wal_bytes_per_return"] / 1024)),
        row % ("  exactly once", "ran twice %d, never ran %d, left in the queue %d" % (
            p["ran_twice"], p["never_ran"], p["jobs_left"])),
    ]
