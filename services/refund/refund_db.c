/*
 * refund_db.c: the refund worker's SQL, over its own schema only.
 */
#include <stdio.h>
#include <string.h>

#include "refund.h"

int refund_db_insert_plan(rf_db_t *db, const rf_event_t *ev) {
    const rf_body_return_approved_t *b = &ev->body.return_approved;
    rf_num_t amount = rf_i64(b->refund_amount_fen);
    const char *p[] = {ev->return_id, b->kind,       amount.s, b->goods_expected ? "t" : "f",
                       b->liability,  b->supplier_id};
    return (int)rf_db_exec_count(
        db,
        "INSERT INTO plans (return_id, kind, amount_fen, goods_expected, liability, supplier_id,"
        " status) VALUES ($1, $2, $3, $4, $5, $6, 'waiting_goods')"
        " ON CONFLICT (return_id) DO NOTHING",
        6, p);
}

int refund_db_get_plan(rf_db_t *db, const char *return_id, refund_plan_t *out) {
    const char *p[] = {return_id};
    PGresult *res = rf_db_query(db,
                                "SELECT return_id, kind, liability, supplier_id, status,"
                                " amount_fen, goods_expected FROM plans WHERE return_id = $1"
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
    }
    PQclear(res);
    return found;
}

int refund_db_set_plan_status(rf_db_t *db, const char *return_id, const char *status) {
    const char *p[] = {return_id, status};
    return rf_db_exec(db, "UPDATE plans SET status = $2, updated_at = now() WHERE return_id = $1",
                      2, p);
}

int refund_db_record_refund(rf_db_t *db, const char *refund_id, const char *return_id,
                            int64_t amount_fen, const char *key, const char *platform_ref) {
    rf_num_t amount = rf_i64(amount_fen);
    const char *p[] = {refund_id, return_id, amount.s, key, platform_ref};
    return (int)rf_db_exec_count(db,
                                 "INSERT INTO refunds (refund_id, return_id, amount_fen,"
                                 " idempotency_key, status, platform_ref)"
                                 " VALUES ($1, $2, $3, $4, 'issued', $5)"
                                 " ON CONFLICT DO NOTHING",
                                 5, p);
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
    PGresult *res = rf_db_query(
        db,
        "SELECT COALESCE(json_agg(json_build_object('refund_id', refund_id, 'return_id',"
        " return_id, 'amount_fen', amount_fen, 'status', status, 'idempotency_key',"
        " idempotency_key, 'platform_ref', platform_ref) ORDER BY created_at DESC), '[]'::json)"
        " FROM (SELECT * FROM refunds WHERE $1 = '' OR return_id = $1"
        " ORDER BY created_at DESC LIMIT 1000) r",
        1, p);
    if (!res) return NULL;
    json_t *doc = json_loads(rf_get_str(res, 0, 0), 0, NULL);
    PQclear(res);
    return doc;
}
