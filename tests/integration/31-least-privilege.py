#!/usr/bin/env python3
"""31-least-privilege: one database role per worker, owning only its schema;
every worker's role gets "permission denied" on every other schema, for both
set-ups that create the roles:

  1. `make run`'s (deploy/pg.sh init): the five workers run, then each role
     rf_W reads its own schema and is refused reading, deleting from and
     creating tables in each other schema (and creating in schema public);
  2. docker compose's (deploy/compose/initdb/10-returnflow.sh, the official
     postgres image's init script), run against a bare private cluster
     (deploy/pg.sh bare) where every role but the superuser needs its
     password: the passwords come from secret files, the workers connect with
     a libpq passfile= in their conninfo (as in docker-compose.yml), returns
     run end to end, the same refusals hold, and a role without its password
     cannot connect at all.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import deploykit  # noqa: E402


def scenario(h):
    h.step("make run's set-up (deploy/pg.sh init): every role refused outside its schema")
    h.start_postgres()
    h.start_all()
    deploykit.run_returns(h, n_auto=1, n_manual=1, tag="lp")
    n1 = deploykit.check_isolation(h)
    harness.log("pg.sh set-up: %d refusals checked, all 'permission denied'" % n1)
    h.stop_workers()
    h._pg_sh("stop", h.pg_dir)

    h.step("compose's set-up (deploy/compose/initdb) on a bare cluster with passwords")
    pg2 = os.path.join(h.tmp, "pgc")
    port2 = deploykit.extra_ports(h, 1)[0]
    h._pg_sh("bare", pg2, port2)
    try:
        secrets = os.path.join(h.tmp, "secrets")
        os.makedirs(secrets, mode=0o700)
        passfile = os.path.join(secrets, "pgpass")
        with open(passfile, "w") as pf:
            for w in harness.WORKERS:
                pw = "pw-%s-%s" % (w, harness.uid("s"))
                with open(os.path.join(secrets, "rf_%s_db_password" % w), "w") as f:
                    f.write(pw + "\n")
                pf.write("127.0.0.1:%d:returnflow:rf_%s:%s\n" % (port2, w, pw))
        os.chmod(passfile, 0o600)
        env = dict(os.environ, PGHOST="127.0.0.1", PGPORT=str(port2), POSTGRES_USER="postgres",
                   POSTGRES_DB="returnflow", RF_SECRETS_DIR=secrets)
        script = os.path.join(h.root, "deploy", "compose", "initdb", "10-returnflow.sh")
        for attempt in (1, 2):  # idempotent: a second run changes nothing
            p = subprocess.run(["sh", script], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, cwd="/", timeout=h.t(60))
            h.check(p.returncode == 0, "init script run %d failed:\n%s" % (attempt, p.stdout))
        harness.log(p.stdout.strip())

        ok, out = deploykit.psql_as(h, "rf_review", "SELECT 1", port=port2)
        h.check(not ok and ("password" in out), "rf_review connected without a password: %r" % out)

        # The workers against that cluster, with passfile= in their conninfo.
        pg_port_1 = h.pg_port
        h.pg_port = port2
        for w in harness.WORKERS:
            h._dsn[w] = ("host=127.0.0.1 port=%d dbname=returnflow user=rf_%s passfile=%s"
                         % (port2, w, passfile))
        h._psql_cmd = [a if a != str(pg_port_1) else str(port2) for a in h._psql_cmd]
        h.start_all()
        rids = deploykit.run_returns(h, n_auto=2, n_manual=1, tag="lpc")
        n2 = deploykit.check_isolation(h, port=port2, password_file=passfile)
        owners = h.psql("SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace"
                        " WHERE nspname IN ('intake','review','warehouse','refund','notification')"
                        " ORDER BY 1")
        h.check(all(o == "rf_" + n for n, o in owners) and len(owners) == 5,
                "schema owners: %s" % owners)
        harness.log("compose set-up: %d returns refunded with passwords from a passfile;"
                    " %d refusals checked, all 'permission denied'" % (len(rids), n2))
        print("least privilege: pg.sh set-up %d refusals, compose init set-up %d refusals,"
              " 0 permitted" % (n1, n2))
        h.stop_workers()
    finally:
        h._pg_sh("stop", pg2)


if __name__ == "__main__":
    harness.main(scenario, start=False)
