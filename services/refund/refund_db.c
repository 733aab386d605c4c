/*
 * refund_db.c: the refund worker's SQL, over its own schema only.
 */
#include <stdio.h>
#include <string.h>

#include "refund.h"

/* The plan's columns but its status, as text parameters $1..$18 (p), with
 * the numbers' text in nums. */
static void plan_params(const refund_plan_t *plan, rf_num_t nums[5], const char *p[18]) {
    nums[0] = rf_i64(plan->amount_fen);
    nums[1] = rf_i64(plan->quantity);
    nums[2] = rf_i64(plan->line_paid_fen);
    nums[3] = rf_i64(plan->line_quantity);
    nums[4] = rf_i64(plan->shipping_fen);
    const char *v[18] = {plan->return_id,
                         plan->kind,
                         nums[0].s,
                         plan->goods_expected ? "t" : "f",
                         plan->liability,
                         plan->supplier_id,
                         plan->reason_code,
                         plan->cost_bearer,
                         plan->line_key,
                         nums[1].s,
                         nums[2].s,
                         nums[3].s,
                         nums[4].s,
                         plan->freight_insured ? "t" : "f",
                         plan->platform,
                         plan->shop_id,
                         plan->platform_return_id,
                         NULL};
    memcpy(p, v, sizeof v);
}

#define PLAN_COLUMNS                                                                    \
    "return_id, kind, amount_fen, goods_expected, liability, supplier_id, reason_code," \
    " cost_bearer, line_key, quantity, line_paid_fen, line_quantity, shipping_fen,"     \
    " freight_insured, platform, shop_id, platform_return_id, platform_version, status"
#define PLAN_VALUES                                                                   \
    "$1, $2, $3::bigint, $4::boolean, $5, $6, $7, $8, $9, $10::integer, $11::bigint," \
    " $12::integer, $13::bigint, $14::boolean, $15, $16, $17, $18::bigint, $19"

int refund_db_insert_plan(rf_db_t *db, const refund_plan_t *plan) {
    rf_num_t nums[5], ver = rf_i64(plan->platform_version);
    const char *p[19];
    plan_params(plan, nums, p);
    p[17] = ver.s;
    p[18] = plan->status;
    return (int)rf_db_exec_count(db,
                                 "INSERT INTO plans (" PLAN_COLUMNS ") VALUES (" PLAN_VALUES ")"
                                 " ON CONFLICT (return_id) DO NOTHING",
                                 19, p);
}

int refund_db_write_refund(rf_db_t *db, const refund_plan_t *plan, bool plan_is_new,
                           const refund_write_t *w, bool *claim_opened) {
    rf_num_t nums[5], ver = rf_i64(plan->platform_version), amount = rf_i64(w->money.amount_fen),
                      goods = rf_i64(w->money.goods_fen), ship = rf_i64(w->money.shipping_fen),
                      ded = rf_i64(w->money.deduction_fen), attempts = rf_i64(w->attempts),
                      next = rf_i64(w->next_attempt_ms), claim_amount = rf_i64(w->money.amount_fen);
    const char *p[35];
    plan_params(plan, nums, p);
    const char *rest[] = {ver.s,
                          w->plan_status,
                          plan_is_new ? "t" : "f",
                          w->refund_id,
                          amount.s,
                          w->idempotency_key,
                          w->refund_status,
                          goods.s,
                          ship.s,
                          ded.s,
                          w->platform_ref,
                          w->error,
                          attempts.s,
                          w->next_attempt_ms < 0 ? NULL : next.s,
                          w->claim_id,
                          w->party,
                          w->party_id,
                          claim_amount.s};
    memcpy(p + 17, rest, sizeof rest);
    /* One statement: the plan (new, or its status), the refund, and the
     * claim when the refund was issued to a liable party's account. No row
     * (a plan or refund that exists) is 0 refunds written. */
    PGresult *res = rf_db_query(
        db,
        "WITH p AS (INSERT INTO plans (" PLAN_COLUMNS ") SELECT " PLAN_VALUES
        "   WHERE $20::boolean ON CONFLICT (return_id) DO NOTHING RETURNING return_id),"
        " u AS (UPDATE plans SET status = $19, updated_at = now()"
        "   WHERE return_id = $1 AND NOT $20::boolean RETURNING return_id),"
        " r AS (INSERT INTO refunds (refund_id, return_id, amount_fen, idempotency_key, status,"
        "   goods_fen, shipping_fen, deduction_fen, platform_ref, error, attempts,"
        "   next_attempt_at)"
        "   SELECT $21, k.return_id, $22::bigint, $23, $24, $25::bigint, $26::bigint, $27::bigint,"
        "   $28, $29, $30::integer, now() + $31::bigint * interval '1 millisecond'"
        "   FROM (SELECT return_id FROM p UNION ALL SELECT return_id FROM u) k"
        "   ON CONFLICT DO NOTHING RETURNING return_id),"
        " c AS (INSERT INTO claims (claim_id, return_id, party, party_id, amount_fen)"
        "   SELECT $32, return_id, $33, $34, $35::bigint FROM r WHERE $33::text IS NOT NULL"
        "   ON CONFLICT (return_id) DO NOTHING RETURNING return_id)"
        " SELECT (SELECT count(*) FROM r), (SELECT count(*) FROM c)",
        35, p);
    if (!res) return -1;
    int written = (int)rf_get_i64(res, 0, 0);
    *claim_opened = rf_get_i64(res, 0, 1) > 0;
    PQclear(res);
    return written;
}

int refund_db_get_plan(rf_db_t *db, const char *return_id, refund_plan_t *out) {
    const char *p[] = {return_id};
    PGresult *res = rf_db_query(db,
                                "SELECT return_id, kind, liability, supplier_id, status,"
                                " amount_fen, goods_expected, reason_code, cost_bearer, line_key,"
                                " quantity, line_paid_fen, line_quantity, shipping_fen,"
                                " freight_insured, platform, shop_id, platform_return_id,"
                                " platform_version FROM plans WHERE return_id = $1"
                                " FOR UPDATE",
                                1, p);
    if (!res) return -1;
    int found = PQntuples(res) > 0;
    if (found) {
        snprintf(out->return_id, sizeof out->return_id, "%s", rf_get_str(res, 0, 0));
        snprintf(out->kind, sizeof out->kind, "%s", rf_get_str(res, 0, 1));
        snprintf(out->liability, sizeof out->liability, "%s", rf_get_str(res, 0, 2));
        snprintf(out->supplier_id, sizeof out->supplier_id, "%s", rf_get_str(res, 0, 3));
        snprintf(out->status, sizeof out->status, "%s", rf_get_str(res, 0, 4));
        out->amount_fen = rf_get_i64(res, 0, 5);
        out->goods_expected = strcmp(rf_get_str(res, 0, 6), "t") == 0;
        snprintf(out->reason_code, sizeof out->reason_code, "%s", rf_get_str(res, 0, 7));
        snprintf(out->cost_bearer, sizeof out->cost_bearer, "%s", rf_get_str(res, 0, 8));
        snprintf(out->line_key, sizeof out->line_key, "%s", rf_get_str(res, 0, 9));
        out->quantity = rf_get_i64(res, 0, 10);
        out->line_paid_fen = rf_get_i64(res, 0, 11);
        out->line_quantity = rf_get_i64(res, 0, 12);
        out->shipping_fen = rf_get_i64(res, 0, 13);
        out->freight_insured = strcmp(rf_get_str(res, 0, 14), "t") == 0;
        snprintf(out->platform, sizeof out->platform, "%s", rf_get_str(res, 0, 15));
        snprintf(out->shop_id, sizeof out->shop_id, "%s", rf_get_str(res, 0, 16));
        snprintf(out->platform_return_id, sizeof out->platform_return_id, "%s",
                 rf_get_str(res, 0, 17));
        out->platform_version = rf_get_i64(res, 0, 18);
    }
    PQclear(res);
    return found;
}

int refund_db_set_plan_status(rf_db_t *db, const char *return_id, const char *status) {
    const char *p[] = {return_id, status};
    return rf_db_exec(db, "UPDATE plans SET status = $2, updated_at = now() WHERE return_id = $1",
                      2, p);
}

int refund_db_open_claim(rf_db_t *db, const char *claim_id, const char *return_id,
                         const char *party, const char *party_id, int64_t amount_fen) {
    rf_num_t amount = rf_i64(amount_fen);
    const char *p[] = {claim_id, return_id, party, party_id, amount.s};
    return (int)rf_db_exec_count(db,
                                 "INSERT INTO claims (claim_id, return_id, party, party_id,"
                                 " amount_fen) VALUES ($1, $2, $3, $4, $5)"
                                 " ON CONFLICT (return_id) DO NOTHING",
                                 5, p);
}

json_t *refund_db_list(rf_db_t *db, const char *return_id) {
    const char *p[] = {return_id};
    return rf_db_query_json(
        db,
        "SELECT COALESCE(json_agg(json_build_object('refund_id', refund_id, 'return_id',"
        " return_id, 'amount_fen', amount_fen, 'status', status, 'idempotency_key',"
        " idempotency_key, 'platform_ref', platform_ref, 'goods_fen', goods_fen,"
        " 'shipping_fen', shipping_fen, 'deduction_fen', deduction_fen, 'attempts', attempts,"
        " 'error', error, 'approved_by', approved_by) ORDER BY created_at DESC), '[]'::json)"
        " FROM (SELECT * FROM refunds WHERE $1 = '' OR return_id = $1"
        " ORDER BY created_at DESC LIMIT 1000) r",
        1, p, NULL);
}

int refund_db_line_facts(rf_db_t *db, const refund_plan_t *plan, refund_line_t *out) {
    const char *p[] = {plan->line_key, plan->return_id};
    /* What earlier refunds of the line took (none counted without a line
     * key), and whether this return has a plan and a refund yet. */
    PGresult *res =
        rf_db_query(db,
                    "SELECT COALESCE(sum(p.quantity), 0), COALESCE(sum(r.amount_fen), 0),"
                    " EXISTS (SELECT 1 FROM plans WHERE return_id = $2),"
                    " EXISTS (SELECT 1 FROM refunds WHERE return_id = $2)"
                    " FROM plans p JOIN refunds r USING (return_id)"
                    " WHERE $1 <> '' AND p.line_key = $1 AND p.return_id <> $2"
                    " AND r.status IN ('awaiting_approval', 'pending', 'issued')",
                    2, p);
    if (!res) return -1;
    out->units_before = rf_get_i64(res, 0, 0);
    out->fen_before = rf_get_i64(res, 0, 1);
    out->plan_exists = strcmp(rf_get_str(res, 0, 2), "t") == 0;
    out->refund_exists = strcmp(rf_get_str(res, 0, 3), "t") == 0;
    PQclear(res);
    return 0;
}

int refund_db_get_refund(rf_db_t *db, const char *return_id, refund_row_t *out) {
    const char *p[] = {return_id};
    PGresult *res = rf_db_query(db,
                                "SELECT refund_id, return_id, status, idempotency_key, amount_fen,"
                                " attempts FROM refunds WHERE return_id = $1 FOR UPDATE",
                                1, p);
    if (!res) return -1;
    int found = PQntuples(res) > 0;
    if (found) {
        snprintf(out->refund_id, sizeof out->refund_id, "%s", rf_get_str(res, 0, 0));
        snprintf(out->return_id, sizeof out->return_id, "%s", rf_get_str(res, 0, 1));
        snprintf(out->status, sizeof out->status, "%s", rf_get_str(res, 0, 2));
        snprintf(out->idempotency_key, sizeof out->idempotency_key, "%s", rf_get_str(res, 0, 3));
        out->amount_fen = rf_get_i64(res, 0, 4);
        out->attempts = rf_get_i64(res, 0, 5);
    }
    PQclear(res);
    return found;
}

int refund_db_refund_issued(rf_db_t *db, const char *refund_id, const char *platform_ref) {
    const char *p[] = {refund_id, platform_ref};
    return rf_db_exec(db,
                      "UPDATE refunds SET status = 'issued', platform_ref = $2, error = NULL,"
                      " attempts = attempts + 1, next_attempt_at = NULL, updated_at = now()"
                      " WHERE refund_id = $1",
                      2, p);
}

int refund_db_refund_attempt_failed(rf_db_t *db, const char *refund_id, const char *error,
                                    int64_t delay_ms, bool final) {
    rf_num_t d = rf_i64(delay_ms);
    const char *p[] = {refund_id, error, d.s, final ? "failed" : "pending"};
    return rf_db_exec(db,
                      "UPDATE refunds SET status = $4, error = $2, attempts = attempts + 1,"
                      " next_attempt_at = CASE WHEN $4 = 'pending'"
                      "   THEN now() + $3::bigint * interval '1 millisecond' END,"
                      " updated_at = now() WHERE refund_id = $1",
                      4, p);
}

int refund_db_refund_park(rf_db_t *db, const char *refund_id) {
    const char *p[] = {refund_id};
    return rf_db_exec(db,
                      "UPDATE refunds SET next_attempt_at = NULL, updated_at = now()"
                      " WHERE refund_id = $1",
                      1, p);
}

int refund_db_refund_approve(rf_db_t *db, const char *refund_id, const char *by) {
    const char *p[] = {refund_id, by};
    return rf_db_exec(db,
                      "UPDATE refunds SET status = 'pending', approved_by = $2,"
                      " approved_at = now(), next_attempt_at = now(), updated_at = now()"
                      " WHERE refund_id = $1 AND status = 'awaiting_approval'",
                      2, p);
}

int refund_db_refund_cancel(rf_db_t *db, const char *return_id) {
    const char *p[] = {return_id};
    return rf_db_exec(db,
                      "UPDATE refunds SET status = 'cancelled', next_attempt_at = NULL,"
                      " updated_at = now() WHERE return_id = $1 AND status = 'awaiting_approval'",
                      1, p);
}

json_t *refund_db_due_retries(rf_db_t *db) {
    return rf_db_query_list(db,
                            "SELECT return_id FROM refunds WHERE status = 'pending'"
                            " AND next_attempt_at <= now() ORDER BY next_attempt_at LIMIT 100",
                            0, NULL, false);
}

int refund_db_sandbox_call(rf_db_t *db, const refund_call_t *call, const char *ref) {
    rf_num_t amount = rf_i64(call->amount_fen);
    const char *p[] = {call->idempotency_key, call->return_id, call->refund_id, amount.s, ref};
    return rf_db_exec(db,
                      "INSERT INTO sandbox_calls (idempotency_key, return_id, refund_id,"
                      " amount_fen, platform_ref) VALUES ($1, $2, $3, $4, $5)"
                      " ON CONFLICT (idempotency_key) DO UPDATE SET"
                      " calls = sandbox_calls.calls + 1, last_at = now()",
                      5, p);
}

int refund_db_claim_close(rf_db_t *db, const char *claim_id, const char *status, const char *by,
                          const char *note) {
    const char *p[] = {claim_id, status, by, note};
    return (int)rf_db_exec_count(db,
                                 "UPDATE claims SET status = $2, closed_by = $3,"
                                 " closed_at = now(), note = $4"
                                 " WHERE claim_id = $1 AND status = 'open'",
                                 4, p);
}

json_t *refund_db_supplier_balance(rf_db_t *db, const char *supplier_id) {
    const char *p[] = {supplier_id};
    return rf_db_query_json(
        db,
        "SELECT json_build_object('supplier_id', $1::text,"
        " 'owed_fen', COALESCE(sum(amount_fen) FILTER (WHERE status = 'open'), 0),"
        " 'settled_fen', COALESCE(sum(amount_fen) FILTER (WHERE status = 'settled'), 0),"
        " 'written_off_fen', COALESCE(sum(amount_fen) FILTER (WHERE status = 'written_off'), 0),"
        " 'open_claims', count(*) FILTER (WHERE status = 'open'),"
        " 'claims', count(*))"
        " FROM claims WHERE party = 'supplier' AND party_id = $1",
        1, p, NULL);
}

json_t *refund_db_claims(rf_db_t *db, const char *party_id) {
    const char *p[] = {party_id};
    return rf_db_query_json(
        db,
        "SELECT COALESCE(json_agg(json_build_object('claim_id', claim_id, 'return_id', return_id,"
        " 'party', party, 'party_id', party_id, 'amount_fen', amount_fen, 'status', status,"
        " 'closed_by', closed_by, 'note', note) ORDER BY created_at), '[]'::json)"
        " FROM (SELECT * FROM claims WHERE $1 = '' OR party_id = $1"
        " ORDER BY created_at DESC LIMIT 1000) c",
        1, p, NULL);
}
