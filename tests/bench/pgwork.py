"""pgwork.py: the database's own counters of the work per return, for bench.py.

Snapshots taken before and after the measured load; the difference divided
by the returns completed gives, per return:

  - statements the workers ran (pg_stat_statements calls of the rf_* roles,
    top-level statements), by worker and by kind (SELECT, INSERT, UPDATE,
    DELETE, WITH, and BEGIN/COMMIT and other utility statements);
  - row writes per table (pg_stat_user_tables of database returnflow:
    n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del per schema.table), sorted
    by writes.

pg_stat_statements must be loaded (shared_preload_libraries; bench.py sets it
for the cluster it starts); without it the statements are left out. The
server publishes a backend's table counters at most once a second, so the
caller waits a little after the load drained before the second snapshot.
"""
import re

KINDS = ("select", "insert", "update", "delete", "with", "utility")


def kind_of(query):
    m = re.match(r"^\s*(\w+)", query or "")
    word = m.group(1).lower() if m else ""
    if word in ("select", "insert", "update", "delete", "with"):
        return word
    return "utility"


def has_statements(h):
    """Whether pg_stat_statements is loaded and its extension created."""
    try:
        h.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        h.psql_val("SELECT count(*) FROM pg_stat_statements")
        return True
    except Exception:  # not in shared_preload_libraries
        return False


def statements_snapshot(h):
    """{(role, kind): calls} of the workers' roles, and the entries evicted
    so far (pg_stat_statements_info.dealloc: counts lost when it grows)."""
    rows = h.psql("SELECT r.rolname, s.query, s.calls FROM pg_stat_statements s"
                  " JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname LIKE 'rf\\_%'"
                  " AND s.toplevel")
    snap = {}
    for role, query, calls in rows:
        key = (role[len("rf_"):], kind_of(query))
        snap[key] = snap.get(key, 0) + int(calls)
    dealloc = int(h.psql_val("SELECT dealloc FROM pg_stat_statements_info") or 0)
    return {"calls": snap, "dealloc": dealloc}


def statements_per_return(before, after, n):
    """Statements per return: total, by kind, by worker."""
    n = max(n, 1)
    d = {k: after["calls"].get(k, 0) - before["calls"].get(k, 0)
         for k in set(before["calls"]) | set(after["calls"])}
    by_kind = {k: round(sum(v for (_, kk), v in d.items() if kk == k) / n, 2) for k in KINDS}
    workers = sorted({w for w, _ in d})
    by_worker = {w: round(sum(v for (ww, _), v in d.items() if ww == w) / n, 2) for w in workers}
    total = sum(d.values()) / n
    return {"total": round(total, 2),
            "without_utility": round(total - by_kind["utility"], 2),
            "by_kind": by_kind, "by_worker": by_worker,
            "entries_evicted": after["dealloc"] - before["dealloc"]}


def tables_snapshot(h):
    """{schema.table: [ins, upd, hot_upd, del]} of database returnflow."""
    rows = h.psql("SELECT schemaname || '.' || relname, n_tup_ins, n_tup_upd, n_tup_hot_upd,"
                  " n_tup_del FROM pg_stat_user_tables")
    return {t: [int(x) for x in v] for t, *v in rows}


def row_writes_per_return(before, after, n):
    """Per table with any write during the load: inserts, updates (of which
    HOT) and deletes per return, sorted by writes; and their sums."""
    n = max(n, 1)
    out = []
    for t in set(after) | set(before):
        a = after.get(t, [0, 0, 0, 0])
        b = before.get(t, [0, 0, 0, 0])
        ins, upd, hot, dele = (a[i] - b[i] for i in range(4))
        if ins or upd or dele:
            out.append({"table": t, "inserts": round(ins / n, 2), "updates": round(upd / n, 2),
                        "hot_updates": round(hot / n, 2), "deletes": round(dele / n, 2),
                        "writes": round((ins + upd + dele) / n, 2)})
    out.sort(key=lambda r: (-r["writes"], r["table"]))
    total = {k: round(sum(r[k] for r in out), 2)
             for k in ("inserts", "updates", "hot_updates", "deletes", "writes")}
    return {"tables": out, "total": total}


def format_row_writes(rw):
    """The per-table table, as lines."""
    lines = ["%-36s %9s %9s %9s %9s %9s" % ("row writes per return (table)", "inserts",
                                            "updates", "(HOT)", "deletes", "writes")]
    for r in rw["tables"] + [dict(rw["total"], table="total")]:
        lines.append("  %-34s %9.2f %9.2f %9.2f %9.2f %9.2f" % (
            r["table"], r["inserts"], r["updates"], r["hot_updates"], r["deletes"], r["writes"]))
    return lines


def format_statements(st):
    """The statements per return, as lines."""
    return [
        "%-44s %s" % ("statements per return (pg_stat_statements)",
                      "%.1f, %.1f without BEGIN/COMMIT and other utility" % (
                          st["total"], st["without_utility"])),
        "%-44s %s" % ("  by kind", "  ".join("%s %.2f" % (k, st["by_kind"][k]) for k in KINDS)),
        "%-44s %s" % ("  by worker", "  ".join("%s %.2f" % kv for kv in st["by_worker"].items())
                      + (" (%d entries evicted: counts low)" % st["entries_evicted"]
                         if st["entries_evicted"] else "")),
    ]
