/*
 * warehouse_db.c: the warehouse worker's SQL, over its own schema only.
 */
#include <stdio.h>
#include <string.h>

#include "warehouse.h"

int warehouse_db_expect(rf_db_t *db, const rf_event_t *ev) {
    const rf_body_return_approved_t *b = &ev->body.return_approved;
    rf_num_t qty = rf_i64(b->quantity > 0 ? b->quantity : 1);
    const char *p[] = {ev->return_id,
                       b->sku_id,
                       b->supplier_id,
                       qty.s,
                       *b->destination ? b->destination : "merchant",
                       b->kind};
    return rf_db_exec(db,
                      "INSERT INTO expected_parcels (return_id, sku_id, supplier_id, quantity,"
                      " destination, status, kind) VALUES ($1, $2, $3, $4, $5, 'expected', $6)"
                      " ON CONFLICT (return_id) DO NOTHING",
                      6, p);
}

int warehouse_db_cancel(rf_db_t *db, const char *return_id) {
    const char *p[] = {return_id};
    return rf_db_exec(db,
                      "UPDATE expected_parcels SET status = 'cancelled'"
                      " WHERE return_id = $1 AND status = 'expected'",
                      1, p);
}

int warehouse_db_receive(rf_db_t *db, const warehouse_receipt_t *rc, warehouse_parcel_t *out) {
    const char *p[] = {rc->return_id,   rc->tracking_no, rc->receipt_id, rc->grade,
                       rc->disposition, rc->received_by, rc->location};
    /* One statement: find the parcel (by return id, else by tracking
     * number) and, when it is expected, mark it received, record the
     * receipt and enter the goods in the stock ledger. */
    PGresult *res = rf_db_query(
        db,
        "WITH p AS (SELECT return_id, sku_id, supplier_id, status, quantity, kind, destination"
        "   FROM expected_parcels WHERE ($1 <> '' AND return_id = $1)"
        "   OR ($1 = '' AND $2 <> '' AND tracking_no = $2)"
        "   ORDER BY created_at LIMIT 1 FOR UPDATE),"
        " u AS (UPDATE expected_parcels e SET status = 'received', received_at = now() FROM p"
        "   WHERE e.return_id = p.return_id AND p.status = 'expected'"
        "   RETURNING e.return_id, e.sku_id, e.quantity),"
        " r AS (INSERT INTO receipts (receipt_id, return_id, tracking_no, grade, disposition,"
        "   received_by, matched) SELECT $3, return_id, NULLIF($2, ''), $4, $5, $6, true FROM u),"
        " l AS (INSERT INTO stock_ledger (sku_id, delta, location, reason, return_id, receipt_id)"
        "   SELECT sku_id, quantity, $7, $4, return_id, $3 FROM u)"
        " SELECT return_id, sku_id, supplier_id, status, quantity, kind, destination FROM p",
        7, p);
    if (!res) return -1;
    int found = PQntuples(res) > 0;
    if (found) {
        snprintf(out->return_id, sizeof out->return_id, "%s", rf_get_str(res, 0, 0));
        snprintf(out->sku_id, sizeof out->sku_id, "%s", rf_get_str(res, 0, 1));
        snprintf(out->supplier_id, sizeof out->supplier_id, "%s", rf_get_str(res, 0, 2));
        snprintf(out->status, sizeof out->status, "%s", rf_get_str(res, 0, 3));
        out->quantity = rf_get_i64(res, 0, 4);
        snprintf(out->kind, sizeof out->kind, "%s", rf_get_str(res, 0, 5));
        snprintf(out->destination, sizeof out->destination, "%s", rf_get_str(res, 0, 6));
    }
    PQclear(res);
    return found;
}

int warehouse_db_unmatched(rf_db_t *db, const char *receipt_id, const char *tracking_no,
                           const char *grade, const char *received_by) {
    const char *p[] = {receipt_id, tracking_no, grade, received_by};
    return rf_db_exec(db,
                      "INSERT INTO receipts (receipt_id, return_id, tracking_no, grade,"
                      " disposition, received_by, matched) VALUES ($1, NULL, NULLIF($2, ''), $3,"
                      " 'quarantine', $4, false)",
                      4, p);
}

int warehouse_db_set_tracking(rf_db_t *db, const char *return_id, const char *tracking_no) {
    const char *p[] = {return_id, tracking_no};
    return (int)rf_db_exec_count(db,
                                 "UPDATE expected_parcels SET tracking_no = $2"
                                 " WHERE return_id = $1 AND status = 'expected'",
                                 2, p);
}

int warehouse_db_leg_open(rf_db_t *db, const warehouse_parcel_t *parcel, int64_t accept_days) {
    rf_num_t qty = rf_i64(parcel->quantity), days = rf_i64(accept_days);
    const char *p[] = {parcel->return_id, parcel->supplier_id, parcel->sku_id, qty.s, days.s};
    int64_t n = rf_db_exec_count(db,
                                 "INSERT INTO supplier_legs (return_id, supplier_id, sku_id,"
                                 " quantity, state, accept_by) VALUES ($1, $2, $3, $4, 'requested',"
                                 " now() + $5::bigint * interval '1 day')"
                                 " ON CONFLICT (return_id) DO NOTHING",
                                 5, p);
    if (n <= 0) return (int)n;
    const char *q[] = {parcel->return_id};
    return rf_db_exec(db,
                      "INSERT INTO supplier_leg_history (return_id, state, by_user)"
                      " VALUES ($1, 'requested', 'warehouse')",
                      1, q) == 0
               ? 1
               : -1;
}

int warehouse_db_leg_state(rf_db_t *db, const char *return_id, char *state, size_t cap,
                           bool *late) {
    const char *p[] = {return_id};
    PGresult *res = rf_db_query(db,
                                "SELECT state, now() > accept_by FROM supplier_legs"
                                " WHERE return_id = $1 FOR UPDATE",
                                1, p);
    if (!res) return -1;
    int found = PQntuples(res) > 0;
    if (found) {
        snprintf(state, cap, "%s", rf_get_str(res, 0, 0));
        *late = strcmp(rf_get_str(res, 0, 1), "t") == 0;
    }
    PQclear(res);
    return found;
}

int warehouse_db_leg_move(rf_db_t *db, const char *return_id, const char *state, const char *by,
                          const char *tracking_no, const char *note, bool late) {
    const char *p[] = {return_id, state, tracking_no, note};
    if (rf_db_exec(db,
                   "UPDATE supplier_legs SET state = $2,"
                   " tracking_no = COALESCE(NULLIF($3, ''), tracking_no),"
                   " note = COALESCE(NULLIF($4, ''), note), updated_at = now()"
                   " WHERE return_id = $1",
                   4, p) != 0)
        return -1;
    const char *q[] = {return_id, state, by, late ? "t" : "f"};
    return rf_db_exec(db,
                      "INSERT INTO supplier_leg_history (return_id, state, by_user, late)"
                      " VALUES ($1, $2, $3, $4)",
                      4, q);
}

json_t *warehouse_db_legs(rf_db_t *db, const char *supplier_id, bool overdue_only) {
    const char *p[] = {supplier_id, overdue_only ? "t" : "f"};
    return rf_db_query_json(
        db,
        "SELECT COALESCE(json_agg(json_build_object('return_id', return_id, 'supplier_id',"
        " supplier_id, 'sku_id', sku_id, 'quantity', quantity, 'state', state,"
        " 'accept_by', (extract(epoch FROM accept_by) * 1000)::bigint,"
        " 'overdue', state IN ('requested', 'in_transit') AND now() > accept_by,"
        " 'tracking_no', tracking_no) ORDER BY accept_by), '[]'::json)"
        " FROM (SELECT * FROM supplier_legs WHERE ($1 = '' OR supplier_id = $1)"
        " AND (NOT $2::boolean OR (state IN ('requested', 'in_transit') AND now() > accept_by))"
        " ORDER BY accept_by LIMIT 1000) l",
        2, p, NULL);
}

int warehouse_db_reship_open(rf_db_t *db, const warehouse_parcel_t *parcel) {
    rf_num_t qty = rf_i64(parcel->quantity);
    const char *p[] = {parcel->return_id, parcel->supplier_id, parcel->sku_id, qty.s};
    return (int)rf_db_exec_count(db,
                                 "INSERT INTO reships (return_id, supplier_id, sku_id, quantity,"
                                 " state) VALUES ($1, $2, $3, $4, 'requested')"
                                 " ON CONFLICT (return_id) DO NOTHING",
                                 4, p);
}

int warehouse_db_reship_state(rf_db_t *db, const char *return_id, char *state, size_t cap,
                              char *supplier_id, size_t scap) {
    const char *p[] = {return_id};
    PGresult *res = rf_db_query(
        db, "SELECT state, supplier_id FROM reships WHERE return_id = $1 FOR UPDATE", 1, p);
    if (!res) return -1;
    int found = PQntuples(res) > 0;
    if (found) {
        snprintf(state, cap, "%s", rf_get_str(res, 0, 0));
        snprintf(supplier_id, scap, "%s", rf_get_str(res, 0, 1));
    }
    PQclear(res);
    return found;
}

int warehouse_db_reship_move(rf_db_t *db, const char *return_id, const char *state,
                             const char *tracking_no) {
    const char *p[] = {return_id, state, tracking_no};
    return rf_db_exec(db,
                      "UPDATE reships SET state = $2,"
                      " tracking_no = COALESCE(NULLIF($3, ''), tracking_no), updated_at = now()"
                      " WHERE return_id = $1",
                      3, p);
}
