/*
 * warehouse_db.c: the warehouse worker's SQL, over its own schema only.
 */
#include <stdio.h>
#include <string.h>

#include "warehouse.h"

int warehouse_db_expect(rf_db_t *db, const rf_event_t *ev) {
    const rf_body_return_approved_t *b = &ev->body.return_approved;
    rf_num_t qty = rf_i64(b->quantity > 0 ? b->quantity : 1);
    const char *p[] = {ev->return_id, b->sku_id, b->supplier_id, qty.s,
                       *b->destination ? b->destination : "merchant"};
    return rf_db_exec(db,
                      "INSERT INTO expected_parcels (return_id, sku_id, supplier_id, quantity,"
                      " destination, status) VALUES ($1, $2, $3, $4, $5, 'expected')"
                      " ON CONFLICT (return_id) DO NOTHING",
                      5, p);
}

int warehouse_db_cancel(rf_db_t *db, const char *return_id) {
    const char *p[] = {return_id};
    return rf_db_exec(db,
                      "UPDATE expected_parcels SET status = 'cancelled'"
                      " WHERE return_id = $1 AND status = 'expected'",
                      1, p);
}

int warehouse_db_find_parcel(rf_db_t *db, const char *return_id, const char *tracking_no,
                             warehouse_parcel_t *out) {
    const char *p[] = {return_id, tracking_no};
    PGresult *res = rf_db_query(db,
                                "SELECT return_id, sku_id, supplier_id, status, quantity"
                                " FROM expected_parcels WHERE ($1 <> '' AND return_id = $1)"
                                " OR ($1 = '' AND $2 <> '' AND tracking_no = $2)"
                                " ORDER BY created_at LIMIT 1 FOR UPDATE",
                                2, p);
    if (!res) return -1;
    int found = PQntuples(res) > 0;
    if (found) {
        snprintf(out->return_id, sizeof out->return_id, "%s", rf_get_str(res, 0, 0));
        snprintf(out->sku_id, sizeof out->sku_id, "%s", rf_get_str(res, 0, 1));
        snprintf(out->supplier_id, sizeof out->supplier_id, "%s", rf_get_str(res, 0, 2));
        snprintf(out->status, sizeof out->status, "%s", rf_get_str(res, 0, 3));
        out->quantity = rf_get_i64(res, 0, 4);
    }
    PQclear(res);
    return found;
}

int warehouse_db_receive(rf_db_t *db, const char *receipt_id, const warehouse_parcel_t *parcel,
                         const char *tracking_no, const char *grade, const char *disposition,
                         const char *received_by) {
    const char *p[] = {receipt_id, parcel->return_id, tracking_no, grade, disposition,
                       received_by};
    if (rf_db_exec(db,
                   "INSERT INTO receipts (receipt_id, return_id, tracking_no, grade, disposition,"
                   " received_by, matched) VALUES ($1, $2, NULLIF($3, ''), $4, $5, $6, true)",
                   6, p) != 0)
        return -1;
    const char *q[] = {parcel->return_id};
    if (rf_db_exec(db,
                   "UPDATE expected_parcels SET status = 'received', received_at = now()"
                   " WHERE return_id = $1",
                   1, q) != 0)
        return -1;
    rf_num_t qty = rf_i64(parcel->quantity);
    const char *r[] = {parcel->sku_id, qty.s, warehouse_location(disposition), grade,
                       parcel->return_id, receipt_id};
    return rf_db_exec(db,
                      "INSERT INTO stock_ledger (sku_id, delta, location, reason, return_id,"
                      " receipt_id) VALUES ($1, $2, $3, $4, $5, $6)",
                      6, r);
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
