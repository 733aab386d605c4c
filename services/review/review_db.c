/*
 * review_db.c: the review worker's SQL, over its own schema only.
 */
#include <stdio.h>
#include <string.h>

#include "review.h"
#include "runtime/ids.h"
#include "runtime/log.h"
#include "db/policy_docs.h"

int review_db_create_task(rf_db_t *db, review_task_t *t, const char *rule_name,
                          const review_decision_t *d) {
    rf_num_t qty = rf_i64(t->quantity), req = rf_i64(t->requested_amount_fen),
             paid = rf_i64(t->paid_amount_fen), deadline = rf_i64(t->deadline_at),
             version = rf_i64(t->platform_version), lp = rf_i64(t->line_paid_fen),
             lq = rf_i64(t->line_quantity), sh = rf_i64(t->shipping_fen);
    const char *status = d ? (d->approve ? "approved" : "rejected") : "pending";
    const char *p[] = {t->return_id,
                       t->platform,
                       t->shop_id,
                       t->platform_return_id,
                       t->kind,
                       qty.s,
                       t->reason_code,
                       req.s,
                       paid.s,
                       t->sku_id,
                       t->supplier_id,
                       t->category,
                       t->buyer_id,
                       deadline.s,
                       status,
                       t->required_role,
                       t->liability,
                       version.s,
                       t->cost_bearer,
                       t->returnless ? "t" : "f",
                       t->freight_insured ? "t" : "f",
                       t->line_key,
                       lp.s,
                       lq.s,
                       sh.s,
                       rule_name,
                       d ? d->by : NULL,
                       d ? d->reason_code : NULL,
                       d ? d->note : NULL};
    /* One statement: the task as the rules left it, with the destination of
     * its supplier's goods, and, when the rules decided it, the decision;
     * nothing when the task exists (a redelivery). */
    PGresult *res = rf_db_query(
        db,
        "WITH t AS (INSERT INTO tasks (return_id, platform, shop_id, platform_return_id, kind,"
        " quantity, reason_code, requested_amount_fen, paid_amount_fen, sku_id, supplier_id,"
        " category, buyer_id, deadline_at, status, required_role, liability, platform_version,"
        " cost_bearer, destination, returnless, freight_insured, line_key, line_paid_fen,"
        " line_quantity, shipping_fen, rule_name, decided_by, decided_at, reject_reason, note)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,"
        " to_timestamp(NULLIF($14::bigint, 0) / 1000.0), $15, $16, $17, $18, $19,"
        " COALESCE((SELECT destination FROM suppliers WHERE supplier_id = $11), 'merchant'),"
        " $20, $21, $22, $23, $24, $25, $26, $27::text,"
        " CASE WHEN $27::text IS NOT NULL THEN now() END, $28, $29)"
        " ON CONFLICT (return_id) DO NOTHING"
        " RETURNING return_id, status, decided_by, reject_reason, note, destination),"
        " d AS (INSERT INTO decisions (return_id, decision, decided_by, reason_code, note)"
        " SELECT return_id, status, decided_by, reject_reason, note FROM t"
        " WHERE decided_by IS NOT NULL)"
        " SELECT destination FROM t",
        29, p);
    if (!res) return -1;
    int inserted = PQntuples(res) > 0;
    if (inserted) snprintf(t->destination, sizeof t->destination, "%s", rf_get_str(res, 0, 0));
    PQclear(res);
    return inserted;
}

int review_db_get_task(rf_db_t *db, const char *return_id, review_task_t *out) {
    const char *p[] = {return_id};
    PGresult *res = rf_db_query(db,
                                "SELECT return_id, kind, status, sku_id, supplier_id, liability,"
                                " quantity, requested_amount_fen, paid_amount_fen, shop_id,"
                                " reason_code, cost_bearer, destination, line_key,"
                                " required_role, line_paid_fen, line_quantity, shipping_fen,"
                                " freight_insured, returnless, platform, platform_return_id,"
                                " category, buyer_id, platform_state, platform_version,"
                                " COALESCE((extract(epoch FROM deadline_at) * 1000)::bigint, 0)"
                                " FROM tasks WHERE return_id = $1 FOR UPDATE",
                                1, p);
    if (!res) return -1;
    int found = PQntuples(res) > 0;
    if (found) {
        snprintf(out->return_id, sizeof out->return_id, "%s", rf_get_str(res, 0, 0));
        snprintf(out->kind, sizeof out->kind, "%s", rf_get_str(res, 0, 1));
        snprintf(out->status, sizeof out->status, "%s", rf_get_str(res, 0, 2));
        snprintf(out->sku_id, sizeof out->sku_id, "%s", rf_get_str(res, 0, 3));
        snprintf(out->supplier_id, sizeof out->supplier_id, "%s", rf_get_str(res, 0, 4));
        snprintf(out->liability, sizeof out->liability, "%s", rf_get_str(res, 0, 5));
        out->quantity = rf_get_i64(res, 0, 6);
        out->requested_amount_fen = rf_get_i64(res, 0, 7);
        out->paid_amount_fen = rf_get_i64(res, 0, 8);
        snprintf(out->shop_id, sizeof out->shop_id, "%s", rf_get_str(res, 0, 9));
        snprintf(out->reason_code, sizeof out->reason_code, "%s", rf_get_str(res, 0, 10));
        snprintf(out->cost_bearer, sizeof out->cost_bearer, "%s", rf_get_str(res, 0, 11));
        snprintf(out->destination, sizeof out->destination, "%s", rf_get_str(res, 0, 12));
        snprintf(out->line_key, sizeof out->line_key, "%s", rf_get_str(res, 0, 13));
        snprintf(out->required_role, sizeof out->required_role, "%s", rf_get_str(res, 0, 14));
        out->line_paid_fen = rf_get_i64(res, 0, 15);
        out->line_quantity = rf_get_i64(res, 0, 16);
        out->shipping_fen = rf_get_i64(res, 0, 17);
        out->freight_insured = strcmp(rf_get_str(res, 0, 18), "t") == 0;
        out->returnless = strcmp(rf_get_str(res, 0, 19), "t") == 0;
        snprintf(out->platform, sizeof out->platform, "%s", rf_get_str(res, 0, 20));
        snprintf(out->platform_return_id, sizeof out->platform_return_id, "%s",
                 rf_get_str(res, 0, 21));
        snprintf(out->category, sizeof out->category, "%s", rf_get_str(res, 0, 22));
        snprintf(out->buyer_id, sizeof out->buyer_id, "%s", rf_get_str(res, 0, 23));
        snprintf(out->platform_state, sizeof out->platform_state, "%s", rf_get_str(res, 0, 24));
        out->platform_version = rf_get_i64(res, 0, 25);
        out->deadline_at = rf_get_i64(res, 0, 26);
    }
    PQclear(res);
    return found;
}

int review_db_decide(rf_db_t *db, const char *return_id, const char *status, const char *decided_by,
                     const char *reason_code, const char *note) {
    const char *p[] = {return_id, status, decided_by, reason_code, note};
    if (rf_db_exec(db,
                   "UPDATE tasks SET status = $2, decided_by = $3, decided_at = now(),"
                   " reject_reason = $4, note = $5 WHERE return_id = $1",
                   5, p) != 0)
        return -1;
    return rf_db_exec(db,
                      "INSERT INTO decisions (return_id, decision, decided_by, reason_code, note)"
                      " VALUES ($1, $2, $3, $4, $5)",
                      5, p);
}

int review_db_cancel(rf_db_t *db, const char *return_id) {
    const char *p[] = {return_id};
    int64_t n = rf_db_exec_count(
        db, "UPDATE tasks SET status = 'cancelled' WHERE return_id = $1 AND status = 'pending'", 1,
        p);
    if (n < 0) return -1;
    if (n == 0) return 0;
    return rf_db_exec(db,
                      "INSERT INTO decisions (return_id, decision, decided_by)"
                      " VALUES ($1, 'cancelled', 'buyer')",
                      1, p);
}

int review_db_platform_updated(rf_db_t *db, const rf_event_t *ev) {
    const rf_body_return_updated_t *b = &ev->body.return_updated;
    rf_num_t version = rf_i64(b->platform_version), amount = rf_i64(b->requested_amount_fen);
    const char *p[] = {ev->return_id, b->platform_status, b->platform_code};
    const char *q[] = {ev->return_id, b->platform_status, version.s, amount.s, b->kind};
    /* A platform intervention puts an open task in front of a supervisor; a
     * newer record keeps the task's version current (the next call sends it)
     * and, while nobody has decided yet, what the buyer now asks; every
     * change is kept with the decisions so a reviewer sees what the platform
     * said. An older update never overwrites a newer one. */
    if (rf_db_exec_count(db,
                         "UPDATE tasks SET platform_version = $3::bigint,"
                         " requested_amount_fen = CASE WHEN status = 'pending' AND $4::bigint > 0"
                         "   THEN $4::bigint ELSE requested_amount_fen END,"
                         " kind = CASE WHEN status = 'pending' AND $5 <> '' THEN $5 ELSE kind END,"
                         " required_role = CASE WHEN $2 = 'arbitration' AND status = 'pending'"
                         "   THEN 'cs_supervisor' ELSE required_role END"
                         " WHERE return_id = $1 AND platform_version < $3::bigint",
                         5, q) < 0)
        return -1;
    return rf_db_exec(db,
                      "INSERT INTO decisions (return_id, decision, decided_by, reason_code, note)"
                      " SELECT $1, 'platform_update', 'platform', $2, $3"
                      " WHERE EXISTS (SELECT 1 FROM tasks WHERE return_id = $1)",
                      3, p);
}

int review_db_set_required_role(rf_db_t *db, const char *return_id, const char *role) {
    const char *p[] = {return_id, role};
    return rf_db_exec(db, "UPDATE tasks SET required_role = $2 WHERE return_id = $1", 2, p);
}

int review_db_set_platform_state(rf_db_t *db, const char *return_id, const char *state) {
    const char *p[] = {return_id, state};
    return rf_db_exec(db, "UPDATE tasks SET platform_state = $2 WHERE return_id = $1", 2, p);
}

int64_t review_db_call_count(rf_db_t *db, const char *return_id) {
    const char *p[] = {return_id};
    PGresult *res =
        rf_db_query(db, "SELECT count(*) FROM platform_calls WHERE return_id = $1", 1, p);
    if (!res) return -1;
    int64_t n = rf_get_i64(res, 0, 0);
    PQclear(res);
    return n;
}

int review_db_platform_changed(rf_db_t *db, const char *return_id, int64_t version,
                               int64_t amount_fen, const char *kind, const char *required_role,
                               const char *note) {
    rf_num_t v = rf_i64(version), a = rf_i64(amount_fen);
    const char *p[] = {return_id, v.s, a.s, kind, required_role, note};
    if (rf_db_exec(db,
                   "UPDATE tasks SET platform_version = $2, requested_amount_fen = $3, kind = $4,"
                   " required_role = $5, status = 'pending', platform_state = '',"
                   " decided_by = NULL, decided_at = NULL WHERE return_id = $1",
                   5, p) != 0)
        return -1;
    const char *q[] = {return_id, note};
    return rf_db_exec(db,
                      "INSERT INTO decisions (return_id, decision, decided_by, note)"
                      " VALUES ($1, 'platform_changed', 'platform', $2)",
                      2, q);
}

int review_db_platform_refused(rf_db_t *db, const char *return_id, const char *error) {
    const char *p[] = {return_id, error};
    if (rf_db_exec(db,
                   "UPDATE tasks SET status = 'pending', platform_state = 'refused',"
                   " decided_by = NULL, decided_at = NULL WHERE return_id = $1",
                   1, p) != 0)
        return -1;
    return rf_db_exec(db,
                      "INSERT INTO decisions (return_id, decision, decided_by, note)"
                      " VALUES ($1, 'platform_refused', 'platform', $2)",
                      2, p);
}

int review_db_mark_disputed(rf_db_t *db, const char *return_id, const char *grade) {
    const char *p[] = {return_id, grade};
    /* Back to review as a dispute: a supervisor decides it again. */
    int64_t n = rf_db_exec_count(db,
                                 "UPDATE tasks SET disputed = true, status = 'disputed',"
                                 " required_role = 'cs_supervisor' WHERE return_id = $1"
                                 " AND status IN ('approved', 'pending')",
                                 1, p);
    if (n <= 0) return (int)n;
    return rf_db_exec(db,
                      "INSERT INTO decisions (return_id, decision, decided_by, reason_code)"
                      " VALUES ($1, 'disputed', 'warehouse', $2)",
                      2, p);
}

json_t *review_db_list(rf_db_t *db, const char *status) {
    const char *p[] = {status};
    return rf_db_query_json(
        db,
        "SELECT COALESCE(json_agg(json_build_object('return_id', return_id, 'status', status,"
        " 'kind', kind, 'reason_code', reason_code, 'requested_amount_fen', requested_amount_fen,"
        " 'required_role', required_role, 'liability', liability, 'disputed', disputed,"
        " 'platform', platform, 'platform_state', platform_state,"
        " 'deadline_at', (extract(epoch FROM deadline_at) * 1000)::bigint)"
        " ORDER BY deadline_at NULLS LAST, created_at), '[]'::json)"
        " FROM (SELECT * FROM tasks WHERE status = $1 ORDER BY created_at LIMIT 1000) t",
        1, p, NULL);
}

/* The shop's policy is the defaults, then the '*' document, then its own. */
static void policy_default(void *pol) { review_policy_default(pol); }
static int policy_apply(json_t *doc, void *pol, char *err, size_t errlen) {
    return review_policy_from_json(doc, pol, err, errlen);
}
static rf_policy_docs_t policy_docs = {.size = sizeof(review_policy_t),
                                       .slots = 16,
                                       .set_default = policy_default,
                                       .apply = policy_apply};

int review_db_load_policy(rf_db_t *db, const char *shop_id, review_policy_t *pol) {
    return rf_policy_docs_load(&policy_docs, db, shop_id, pol);
}

void review_db_policy_cache_clear(void) { rf_policy_docs_forget(&policy_docs); }

int review_db_store_policy(rf_db_t *db, const char *shop_id, const char *doc_json) {
    return rf_policy_docs_store(db, shop_id, doc_json);
}

int review_db_store_supplier(rf_db_t *db, const char *supplier_id, const char *destination,
                             const char *return_address_id) {
    const char *p[] = {supplier_id, destination, return_address_id ? return_address_id : ""};
    return rf_db_exec(db,
                      "INSERT INTO suppliers (supplier_id, destination, return_address_id)"
                      " VALUES ($1, $2, $3) ON CONFLICT (supplier_id) DO UPDATE SET"
                      " destination = EXCLUDED.destination,"
                      " return_address_id = EXCLUDED.return_address_id, updated_at = now()",
                      3, p);
}

int review_db_supplier_address(rf_db_t *db, const char *supplier_id, char *out, size_t cap) {
    const char *p[] = {supplier_id};
    PGresult *res =
        rf_db_query(db, "SELECT return_address_id FROM suppliers WHERE supplier_id = $1", 1, p);
    if (!res) return -1;
    snprintf(out, cap, "%s", PQntuples(res) > 0 ? rf_get_str(res, 0, 0) : "");
    PQclear(res);
    return 0;
}

int64_t review_db_buyer_returns(rf_db_t *db, const review_task_t *t) {
    if (!*t->buyer_id) return 0;
    const char *p[] = {t->shop_id, t->buyer_id, t->return_id};
    PGresult *res = rf_db_query(db,
                                "SELECT count(*) FROM tasks WHERE shop_id = $1 AND buyer_id = $2"
                                " AND return_id <> $3 AND status <> 'cancelled'"
                                " AND created_at > now() - interval '90 days'",
                                3, p);
    if (!res) return -1;
    int64_t n = rf_get_i64(res, 0, 0);
    PQclear(res);
    return n;
}

json_t *review_db_take_deadline_alerts(rf_db_t *db, int64_t within_ms) {
    rf_num_t w = rf_i64(within_ms);
    const char *p[] = {w.s};
    return rf_db_query_list(
        db,
        "WITH due AS (SELECT return_id FROM tasks WHERE status = 'pending'"
        "   AND alerted_at IS NULL AND deadline_at IS NOT NULL"
        "   AND deadline_at <= now() + $1::bigint * interval '1 millisecond'"
        "   ORDER BY deadline_at LIMIT 200 FOR UPDATE SKIP LOCKED)"
        " UPDATE tasks t SET alerted_at = now() FROM due WHERE t.return_id = due.return_id"
        " RETURNING json_build_object('return_id', t.return_id, 'required_role',"
        "   t.required_role, 'deadline_at', (extract(epoch FROM t.deadline_at) * 1000)::bigint)",
        1, p, true);
}
