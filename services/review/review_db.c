/*
 * review_db.c: the review worker's SQL, over its own schema only.
 */
#include <stdio.h>
#include <string.h>

#include "review.h"

int review_db_insert_task(rf_db_t *db, const rf_event_t *ev, const review_verdict_t *v,
                          const char *liability) {
    const rf_body_return_requested_t *b = &ev->body.return_requested;
    rf_num_t qty = rf_i64(b->quantity), req = rf_i64(b->requested_amount_fen),
             paid = rf_i64(b->paid_amount_fen), deadline = rf_i64(b->platform_deadline_at);
    const char *p[] = {ev->return_id, b->platform,   b->shop_id,     b->platform_return_id,
                       b->kind,       qty.s,         b->reason_code, req.s,
                       paid.s,        b->sku_id,     b->supplier_id, b->category,
                       b->buyer_id,   deadline.s,    v->required_role, liability};
    return (int)rf_db_exec_count(
        db,
        "INSERT INTO tasks (return_id, platform, shop_id, platform_return_id, kind, quantity,"
        " reason_code, requested_amount_fen, paid_amount_fen, sku_id, supplier_id, category,"
        " buyer_id, deadline_at, status, required_role, liability) VALUES ($1, $2, $3, $4, $5,"
        " $6, $7, $8, $9, $10, $11, $12, $13, to_timestamp(NULLIF($14::bigint, 0) / 1000.0),"
        " 'pending', $15, $16) ON CONFLICT (return_id) DO NOTHING",
        16, p);
}

int review_db_get_task(rf_db_t *db, const char *return_id, review_task_t *out) {
    const char *p[] = {return_id};
    PGresult *res = rf_db_query(db,
                                "SELECT return_id, kind, status, sku_id, supplier_id, liability,"
                                " quantity, requested_amount_fen, paid_amount_fen"
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
    }
    PQclear(res);
    return found;
}

int review_db_decide(rf_db_t *db, const char *return_id, const char *status,
                     const char *decided_by, const char *reason_code, const char *note) {
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
        db, "UPDATE tasks SET status = 'cancelled' WHERE return_id = $1 AND status = 'pending'",
        1, p);
    if (n < 0) return -1;
    if (n == 0) return 0;
    return rf_db_exec(db,
                      "INSERT INTO decisions (return_id, decision, decided_by)"
                      " VALUES ($1, 'cancelled', 'buyer')",
                      1, p);
}

int review_db_mark_disputed(rf_db_t *db, const char *return_id, const char *grade) {
    const char *p[] = {return_id, grade};
    int64_t n = rf_db_exec_count(db, "UPDATE tasks SET disputed = true WHERE return_id = $1", 1,
                                 p);
    if (n <= 0) return (int)n;
    return rf_db_exec(db,
                      "INSERT INTO decisions (return_id, decision, decided_by, reason_code)"
                      " VALUES ($1, 'disputed', 'warehouse', $2)",
                      2, p);
}

json_t *review_db_list(rf_db_t *db, const char *status) {
    const char *p[] = {status};
    PGresult *res = rf_db_query(
        db,
        "SELECT COALESCE(json_agg(json_build_object('return_id', return_id, 'status', status,"
        " 'kind', kind, 'reason_code', reason_code, 'requested_amount_fen', requested_amount_fen,"
        " 'required_role', required_role, 'liability', liability, 'disputed', disputed,"
        " 'deadline_at', (extract(epoch FROM deadline_at) * 1000)::bigint)"
        " ORDER BY deadline_at NULLS LAST, created_at), '[]'::json)"
        " FROM (SELECT * FROM tasks WHERE status = $1 ORDER BY created_at LIMIT 1000) t",
        1, p);
    if (!res) return NULL;
    json_t *doc = json_loads(rf_get_str(res, 0, 0), 0, NULL);
    PQclear(res);
    return doc;
}
