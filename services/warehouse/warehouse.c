/*
 * warehouse.c: the warehouse worker's logic.
 *
 * An approved return that sends goods back becomes an expected parcel. When
 * a parcel arrives (POST /v1/receipts) it is matched by return id or tracking
 * number, graded, given a disposition, and entered in the stock ledger; then
 * goods.received and goods.inspected go out. A parcel that matches nothing is
 * recorded as unmatched, never dropped.
 */
#include <stdio.h>
#include <string.h>

#include "rf/ids.h"
#include "rf/jsonv.h"
#include "rf/log.h"
#include "warehouse.h"

static rf_worker_t *worker;

static const char *const grades[] = {"resellable",    "packaging_damaged", "goods_damaged",
                                     "wrong_item",    "missing_parts",     "empty_box",
                                     NULL};

bool warehouse_grade_known(const char *grade) {
    for (const char *const *g = grades; *g; g++)
        if (strcmp(*g, grade) == 0) return true;
    return false;
}

const char *warehouse_disposition(const char *grade) {
    if (strcmp(grade, "resellable") == 0) return "restock";
    if (strcmp(grade, "goods_damaged") == 0 || strcmp(grade, "missing_parts") == 0)
        return "return_to_supplier";
    if (strcmp(grade, "empty_box") == 0) return "scrap";
    return "quarantine"; /* packaging_damaged, wrong_item: a person looks again */
}

const char *warehouse_location(const char *disposition) {
    if (strcmp(disposition, "restock") == 0) return "stock";
    if (strcmp(disposition, "return_to_supplier") == 0) return "supplier";
    if (strcmp(disposition, "scrap") == 0) return "scrap";
    return "quarantine";
}

rf_apply_result_t warehouse_apply(void *arg, const rf_event_t *ev, char *why, size_t whylen) {
    (void)arg;
    rf_db_t *db = rf_worker_db(worker);
    switch (ev->type) {
    case RF_EV_RETURN_APPROVED:
        if (!ev->body.return_approved.goods_expected) return RF_APPLY_OK;
        return warehouse_db_expect(db, ev) == 0 ? RF_APPLY_OK : RF_APPLY_ERROR;
    case RF_EV_RETURN_CANCELLED:
        return warehouse_db_cancel(db, ev->return_id) == 0 ? RF_APPLY_OK : RF_APPLY_ERROR;
    default:
        snprintf(why, whylen, "warehouse does not consume %s", rf_event_type_name(ev->type));
        return RF_APPLY_REJECT;
    }
}

static int emit_goods(rf_bus_t *bus, const warehouse_parcel_t *p, const char *receipt_id,
                      const char *tracking_no, const char *grade, const char *disposition,
                      const char *by) {
    rf_event_t rec, insp;
    if (rf_bus_event_init(bus, &rec, RF_EV_GOODS_RECEIVED, p->return_id, NULL) != 0) return -1;
    int rc = rf_event_set_str(&rec.body.goods_received.receipt_id, receipt_id) |
             rf_event_set_str(&rec.body.goods_received.tracking_no, tracking_no) |
             rf_event_set_str(&rec.body.goods_received.received_by, by);
    if (rc == 0) rc = rf_bus_emit(bus, &rec);
    if (rc == 0 && rf_bus_event_init(bus, &insp, RF_EV_GOODS_INSPECTED, p->return_id,
                                     rec.event_id) == 0) {
        rf_body_goods_inspected_t *b = &insp.body.goods_inspected;
        rc = rf_event_set_str(&b->receipt_id, receipt_id) | rf_event_set_str(&b->grade, grade) |
             rf_event_set_str(&b->disposition, disposition) |
             rf_event_set_str(&b->sku_id, p->sku_id) | rf_event_set_str(&b->inspected_by, by);
        b->quantity = p->quantity;
        if (rc == 0) rc = rf_bus_emit(bus, &insp);
        rf_event_clear(&insp);
    } else if (rc == 0) {
        rc = -1;
    }
    rf_event_clear(&rec);
    return rc;
}

/* POST /v1/receipts {return_id | tracking_no, condition, received_by} */
static void post_receipt(rf_http_exchange_t *x) {
    json_t *doc = rf_worker_json_body(x);
    if (!doc) return;
    rf_jsonv_t v = {0};
    const char *return_id = rf_jsonv_str(doc, "return_id", false, 64, &v);
    const char *tracking_no = rf_jsonv_str(doc, "tracking_no", false, 64, &v);
    const char *grade = rf_jsonv_oneof(doc, "condition", "resellable", grades, &v);
    const char *by = rf_jsonv_str(doc, "received_by", false, 128, &v);
    if (!v.failed && !*return_id && !*tracking_no) {
        v.failed = true;
        snprintf(v.message, sizeof v.message, "give return_id or tracking_no");
    }
    if (v.failed) {
        rf_http_reply_error(x, 400, "invalid_field", v.message);
        json_decref(doc);
        return;
    }
    if (!*by) by = "warehouse";
    rf_bus_t *bus = rf_worker_bus(worker);
    rf_db_t *db = rf_worker_db(worker);
    char receipt_id[RF_ULID_LEN + 1];
    rf_ulid_new(receipt_id);
    warehouse_parcel_t parcel;
    int found;
    if (rf_bus_tx_begin(bus) != 0 ||
        (found = warehouse_db_find_parcel(db, return_id, tracking_no, &parcel)) < 0)
        goto db_err;
    if (!found) {
        if (warehouse_db_unmatched(db, receipt_id, tracking_no, grade, by) != 0 ||
            rf_bus_tx_commit(bus) != 0)
            goto db_err;
        rf_warn("event=parcel_unmatched receipt_id=%s return_id=%s tracking_no=%s", receipt_id,
                return_id, tracking_no);
        rf_http_reply_json(x, 202,
                           json_pack("{s:s, s:b, s:s}", "receipt_id", receipt_id, "matched", 0,
                                     "message", "no expected parcel matches; kept as unmatched"));
        json_decref(doc);
        return;
    }
    if (strcmp(parcel.status, "expected") != 0) {
        rf_bus_tx_rollback(bus);
        char msg[128];
        snprintf(msg, sizeof msg, "the parcel for return %s is already %s", parcel.return_id,
                 parcel.status);
        rf_http_reply_error(x, 409, "already_handled", msg);
        json_decref(doc);
        return;
    }
    const char *disposition = warehouse_disposition(grade);
    if (warehouse_db_receive(db, receipt_id, &parcel, tracking_no, grade, disposition, by) != 0 ||
        emit_goods(bus, &parcel, receipt_id, tracking_no, grade, disposition, by) != 0 ||
        rf_bus_tx_commit(bus) != 0)
        goto db_err;
    rf_info("event=parcel_received return_id=%s receipt_id=%s grade=%s disposition=%s",
            parcel.return_id, receipt_id, grade, disposition);
    rf_http_reply_json(x, 200,
                       json_pack("{s:s, s:s, s:b, s:s, s:s}", "receipt_id", receipt_id,
                                 "return_id", parcel.return_id, "matched", 1, "grade", grade,
                                 "disposition", disposition));
    json_decref(doc);
    return;
db_err:
    rf_bus_tx_rollback(bus);
    rf_http_reply_error(x, 503, "db_unavailable", "could not record the receipt; retry");
    json_decref(doc);
}

/* POST /v1/parcels/{return_id}/tracking {tracking_no}: the buyer's return
 * tracking number, so the parcel is matched by it on arrival. */
static void post_tracking(rf_http_exchange_t *x, const char *return_id) {
    json_t *doc = rf_worker_json_body(x);
    if (!doc) return;
    rf_jsonv_t v = {0};
    const char *tracking_no = rf_jsonv_str(doc, "tracking_no", true, 64, &v);
    if (v.failed) {
        rf_http_reply_error(x, 400, "invalid_field", v.message);
        json_decref(doc);
        return;
    }
    int set = warehouse_db_set_tracking(rf_worker_db(worker), return_id, tracking_no);
    if (set < 0) rf_http_reply_error(x, 503, "db_unavailable", "database unavailable; retry");
    else if (set == 0)
        rf_http_reply_error(x, 404, "not_found", "no parcel of that return is expected");
    else
        rf_http_reply_json(x, 200, json_pack("{s:s, s:s}", "return_id", return_id,
                                             "tracking_no", tracking_no));
    json_decref(doc);
}

bool warehouse_route(void *arg, rf_http_exchange_t *x) {
    (void)arg;
    char id[RF_ID_MAX];
    if (strcmp(rf_http_method(x), "POST") != 0) return false;
    if (strcmp(rf_http_path(x), "/v1/receipts") == 0) post_receipt(x);
    else if (rf_path_match(rf_http_path(x), "/v1/parcels/{}/tracking", id, sizeof id))
        post_tracking(x, id);
    else return false;
    return true;
}

int warehouse_start(void *arg, rf_worker_t *w) {
    (void)arg;
    worker = w;
    return 0;
}
