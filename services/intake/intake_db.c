/*
 * intake_db.c: the intake worker's SQL, over its own schema only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intake.h"
#include "runtime/ids.h"
#include "runtime/log.h"
#include "db/policy_docs.h"

int intake_db_upsert_order(rf_db_t *db, const intake_order_t *o) {
    rf_num_t paid = rf_i64(o->paid_at), delivered = rf_i64(o->delivered_at),
             fee = rf_i64(o->shipping_fee_fen), discount = rf_i64(o->discount_fen);
    const char *p[] = {o->platform,
                       o->order_id,
                       o->shop_id,
                       o->buyer_id,
                       o->region,
                       paid.s,
                       delivered.s,
                       o->payment_method,
                       fee.s,
                       discount.s,
                       o->freight_insured ? "t" : "f"};
    if (rf_db_exec(db,
                   "INSERT INTO orders (platform, order_id, shop_id, buyer_id, region, paid_at,"
                   " delivered_at, payment_method, shipping_fee_fen, discount_fen,"
                   " freight_insured) VALUES ($1, $2, $3, $4, $5,"
                   " to_timestamp(NULLIF($6::bigint, 0) / 1000.0),"
                   " to_timestamp(NULLIF($7::bigint, 0) / 1000.0), $8, $9, $10, $11)"
                   " ON CONFLICT (platform, order_id) DO UPDATE SET shop_id = EXCLUDED.shop_id,"
                   " buyer_id = EXCLUDED.buyer_id, region = EXCLUDED.region,"
                   " paid_at = EXCLUDED.paid_at,"
                   " delivered_at = COALESCE(EXCLUDED.delivered_at, orders.delivered_at),"
                   " payment_method = EXCLUDED.payment_method,"
                   " shipping_fee_fen = EXCLUDED.shipping_fee_fen,"
                   " discount_fen = EXCLUDED.discount_fen,"
                   " freight_insured = EXCLUDED.freight_insured, updated_at = now()",
                   11, p) != 0)
        return -1;
    for (size_t i = 0; i < o->n_lines; i++) {
        const intake_order_line_t *l = &o->lines[i];
        rf_num_t qty = rf_i64(l->quantity), price = rf_i64(l->unit_price_fen),
                 lpaid = rf_i64(l->paid_fen), ship = rf_i64(l->shipping_fen);
        const char *q[] = {o->platform,    o->order_id,
                           l->line_id,     l->sku_id,
                           l->title,       l->category,
                           qty.s,          price.s,
                           l->supplier_id, l->exclusion_confirmed ? "t" : "f",
                           lpaid.s,        ship.s};
        if (rf_db_exec(db,
                       "INSERT INTO order_lines (platform, order_id, line_id, sku_id, title,"
                       " category, quantity, unit_price_fen, supplier_id, exclusion_confirmed,"
                       " paid_fen, shipping_fen)"
                       " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                       " ON CONFLICT (platform, order_id, line_id) DO UPDATE SET"
                       " sku_id = EXCLUDED.sku_id, title = EXCLUDED.title,"
                       " category = EXCLUDED.category, quantity = EXCLUDED.quantity,"
                       " unit_price_fen = EXCLUDED.unit_price_fen,"
                       " supplier_id = EXCLUDED.supplier_id,"
                       " exclusion_confirmed = EXCLUDED.exclusion_confirmed,"
                       " paid_fen = EXCLUDED.paid_fen, shipping_fen = EXCLUDED.shipping_fen",
                       12, q) != 0)
            return -1;
    }
    return 0;
}

int intake_db_find_line(rf_db_t *db, const char *platform, const char *order_id,
                        const char *line_id, intake_line_info_t *out) {
    const char *p[] = {platform, order_id, line_id};
    PGresult *res = rf_db_query(
        db,
        "SELECT o.shop_id, o.buyer_id, o.region, l.sku_id, l.category, l.supplier_id,"
        " l.quantity, l.unit_price_fen,"
        " COALESCE((extract(epoch FROM o.delivered_at) * 1000)::bigint, 0),"
        " COALESCE((SELECT sum(r.quantity) FROM returns r WHERE r.platform = l.platform"
        "   AND r.order_id = l.order_id AND r.line_id = l.line_id"
        "   AND r.status NOT IN ('rejected', 'cancelled')), 0),"
        " COALESCE(l.paid_fen, l.unit_price_fen * l.quantity), l.shipping_fen,"
        " l.exclusion_confirmed, o.freight_insured,"
        " (SELECT count(*) FROM returns r WHERE r.platform = l.platform"
        "   AND r.order_id = l.order_id AND r.line_id = l.line_id"
        "   AND r.status NOT IN ('rejected', 'cancelled', 'refunded', 'exchanged', 'closed')),"
        " COALESCE((SELECT min(r.return_id) FROM returns r WHERE r.platform = l.platform"
        "   AND r.order_id = l.order_id AND r.line_id = l.line_id"
        "   AND r.status NOT IN ('rejected', 'cancelled', 'refunded', 'exchanged', 'closed')),"
        "   '')"
        " FROM order_lines l JOIN orders o USING (platform, order_id)"
        " WHERE l.platform = $1 AND l.order_id = $2 AND l.line_id = $3",
        3, p);
    if (!res) return -1;
    int found = PQntuples(res) > 0;
    if (found) {
        snprintf(out->shop_id, sizeof out->shop_id, "%s", rf_get_str(res, 0, 0));
        snprintf(out->buyer_id, sizeof out->buyer_id, "%s", rf_get_str(res, 0, 1));
        snprintf(out->region, sizeof out->region, "%s", rf_get_str(res, 0, 2));
        snprintf(out->sku_id, sizeof out->sku_id, "%s", rf_get_str(res, 0, 3));
        snprintf(out->category, sizeof out->category, "%s", rf_get_str(res, 0, 4));
        snprintf(out->supplier_id, sizeof out->supplier_id, "%s", rf_get_str(res, 0, 5));
        out->quantity = rf_get_i64(res, 0, 6);
        out->unit_price_fen = rf_get_i64(res, 0, 7);
        out->delivered_at = rf_get_i64(res, 0, 8);
        out->returned_qty = rf_get_i64(res, 0, 9);
        out->paid_fen = rf_get_i64(res, 0, 10);
        out->shipping_fen = rf_get_i64(res, 0, 11);
        out->exclusion_confirmed = strcmp(rf_get_str(res, 0, 12), "t") == 0;
        out->freight_insured = strcmp(rf_get_str(res, 0, 13), "t") == 0;
        out->open_returns = rf_get_i64(res, 0, 14);
        snprintf(out->open_return_id, sizeof out->open_return_id, "%s", rf_get_str(res, 0, 15));
    }
    PQclear(res);
    return found;
}

int intake_db_find_return(rf_db_t *db, const char *platform, const char *platform_return_id,
                          char *return_id, size_t cap) {
    const char *p[] = {platform, platform_return_id};
    PGresult *res = rf_db_query(
        db, "SELECT return_id FROM returns WHERE platform = $1 AND platform_return_id = $2", 2, p);
    if (!res) return -1;
    int found = PQntuples(res) > 0;
    if (found) snprintf(return_id, cap, "%s", rf_get_str(res, 0, 0));
    PQclear(res);
    return found;
}

int intake_db_insert_return(rf_db_t *db, const char *return_id, const intake_return_req_t *r,
                            const char *shop_id, int64_t paid_amount_fen) {
    rf_num_t qty = rf_i64(r->quantity), amount = rf_i64(r->requested_amount_fen),
             paid = rf_i64(paid_amount_fen), at = rf_i64(r->requested_at),
             deadline = rf_i64(r->platform_deadline_at);
    const char *p[] = {
        return_id, r->platform, r->platform_return_id, shop_id,        r->order_id, r->line_id,
        r->kind,   qty.s,       r->reason_code,        r->reason_text, amount.s,    paid.s,
        at.s,      deadline.s};
    return (int)rf_db_exec_count(
        db,
        "INSERT INTO returns (return_id, platform, platform_return_id, shop_id, order_id,"
        " line_id, kind, quantity, reason_code, reason_text, requested_amount_fen,"
        " paid_amount_fen, requested_at, platform_deadline_at) VALUES ($1, $2, $3, $4, $5, $6,"
        " $7, $8, $9, $10, $11, $12, to_timestamp($13::bigint / 1000.0),"
        " to_timestamp(NULLIF($14::bigint, 0) / 1000.0))"
        " ON CONFLICT (platform, platform_return_id) DO NOTHING",
        14, p);
}

int intake_db_insert_refused(rf_db_t *db, const char *return_id, const intake_return_req_t *r,
                             const char *shop_id, const char *reason) {
    rf_num_t qty = rf_i64(r->quantity), amount = rf_i64(r->requested_amount_fen),
             at = rf_i64(r->requested_at), deadline = rf_i64(r->platform_deadline_at);
    const char *p[] = {
        return_id,  r->platform, r->platform_return_id, shop_id,        r->order_id, r->line_id,
        r->kind,    qty.s,       r->reason_code,        r->reason_text, amount.s,    at.s,
        deadline.s, reason};
    return (int)rf_db_exec_count(
        db,
        "INSERT INTO returns (return_id, platform, platform_return_id, shop_id, order_id,"
        " line_id, kind, quantity, reason_code, reason_text, requested_amount_fen,"
        " paid_amount_fen, requested_at, platform_deadline_at, status, status_rank,"
        " reject_reason, refused) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0,"
        " to_timestamp($12::bigint / 1000.0), to_timestamp(NULLIF($13::bigint, 0) / 1000.0),"
        " 'rejected', 9, $14, true)"
        " ON CONFLICT (platform, platform_return_id) DO NOTHING",
        14, p);
}

int intake_db_refused_reason(rf_db_t *db, const char *return_id, char *reason, size_t cap) {
    const char *p[] = {return_id};
    PGresult *res = rf_db_query(db,
                                "SELECT CASE WHEN refused THEN reject_reason ELSE '' END"
                                " FROM returns WHERE return_id = $1",
                                1, p);
    if (!res) return -1;
    int found = PQntuples(res) > 0;
    snprintf(reason, cap, "%s", found ? rf_get_str(res, 0, 0) : "");
    PQclear(res);
    return found;
}

int intake_db_delete_refused(rf_db_t *db, const char *return_id) {
    const char *p[] = {return_id};
    return rf_db_exec(db, "DELETE FROM returns WHERE return_id = $1 AND refused", 1, p);
}

/* The shop's policy is the defaults, then the '*' document, then its own. */
static void policy_default(void *pol) { intake_policy_default(pol); }
static int policy_apply(json_t *doc, void *pol, char *err, size_t errlen) {
    return intake_policy_from_json(doc, pol, err, errlen);
}
static rf_policy_docs_t policy_docs = {.size = sizeof(intake_policy_t),
                                       .slots = 32,
                                       .set_default = policy_default,
                                       .apply = policy_apply};

int intake_db_load_policy(rf_db_t *db, const char *shop_id, intake_policy_t *pol) {
    return rf_policy_docs_load(&policy_docs, db, shop_id, pol);
}

void intake_db_policy_cache_clear(void) { rf_policy_docs_forget(&policy_docs); }

int intake_db_store_policy(rf_db_t *db, const char *shop_id, const char *doc_json) {
    return rf_policy_docs_store(db, shop_id, doc_json);
}

int intake_db_get_status(rf_db_t *db, const char *return_id, char *status, size_t cap, int *rank) {
    const char *p[] = {return_id};
    PGresult *res = rf_db_query(
        db, "SELECT status, status_rank FROM returns WHERE return_id = $1 FOR UPDATE", 1, p);
    if (!res) return -1;
    int found = PQntuples(res) > 0;
    if (found) {
        snprintf(status, cap, "%s", rf_get_str(res, 0, 0));
        *rank = (int)rf_get_i64(res, 0, 1);
    }
    PQclear(res);
    return found;
}

int intake_db_timeline_add(rf_db_t *db, const rf_event_t *ev) {
    json_t *body = rf_event_body_json(ev);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) return -1;
    rf_num_t at = rf_i64(ev->occurred_at);
    const char *p[] = {ev->return_id, ev->event_id, rf_event_type_name(ev->type),
                       ev->producer,  at.s,         text};
    int64_t n = rf_db_exec_count(
        db,
        "INSERT INTO timeline (return_id, event_id, type, producer, occurred_at, body)"
        " SELECT $1, $2, $3, $4, to_timestamp($5::bigint / 1000.0), $6::jsonb"
        " WHERE EXISTS (SELECT 1 FROM returns WHERE return_id = $1)"
        " ON CONFLICT (event_id) DO NOTHING",
        6, p);
    free(text);
    return n < 0 ? -1 : (int)n;
}

int intake_db_set_status(rf_db_t *db, const char *return_id, const char *status, int rank,
                         const char *reject_reason) {
    rf_num_t r = rf_i64(rank);
    const char *p[] = {return_id, status, r.s, reject_reason};
    return rf_db_exec(db,
                      "UPDATE returns SET status = $2, status_rank = $3::int,"
                      " reject_reason = COALESCE($4, reject_reason), updated_at = now()"
                      " WHERE return_id = $1 AND status_rank < $3::int",
                      4, p);
}

json_t *intake_db_return_json(rf_db_t *db, const char *return_id, bool *dberr) {
    const char *p[] = {return_id};
    return rf_db_query_json(
        db,
        "SELECT json_build_object('return_id', r.return_id, 'status', r.status,"
        " 'reject_reason', r.reject_reason, 'refused', r.refused, 'platform', r.platform,"
        " 'platform_return_id', r.platform_return_id, 'shop_id', r.shop_id,"
        " 'order_id', r.order_id, 'line_id', r.line_id, 'type', r.kind,"
        " 'quantity', r.quantity, 'reason_code', r.reason_code, 'reason_text', r.reason_text,"
        " 'requested_amount_fen', r.requested_amount_fen,"
        " 'paid_amount_fen', r.paid_amount_fen,"
        " 'requested_at', (extract(epoch FROM r.requested_at) * 1000)::bigint,"
        " 'platform_deadline_at', (extract(epoch FROM r.platform_deadline_at) * 1000)::bigint,"
        " 'updated_at', (extract(epoch FROM r.updated_at) * 1000)::bigint,"
        " 'platform_status', f.platform_status, 'platform_code', f.platform_code,"
        " 'platform_version', f.version,"
        " 'timeline', COALESCE((SELECT json_agg(json_build_object('event_id', t.event_id,"
        "   'type', t.type, 'producer', t.producer,"
        "   'occurred_at', (extract(epoch FROM t.occurred_at) * 1000)::bigint,"
        "   'body', t.body) ORDER BY t.occurred_at, t.id)"
        "   FROM timeline t WHERE t.return_id = r.return_id), '[]'::json))"
        " FROM returns r LEFT JOIN feed_records f ON f.platform = r.platform"
        " AND f.platform_return_id = r.platform_return_id WHERE r.return_id = $1",
        1, p, dberr);
}
