/*
 * warehouse.c: the warehouse worker's logic.
 *
 * An approved return that sends goods back becomes an expected parcel. When
 * a parcel arrives (POST /v1/receipts) it is matched by return id or tracking
 * number, graded, given a disposition, and entered in the stock ledger; then
 * goods.received and goods.inspected go out. A parcel that matches nothing is
 * recorded as unmatched, never dropped. Goods going on to the supplier get a
 * supplier leg with its acceptance window; an exchange whose goods are back
 * gets a reship request (reship.updated), moved to shipped and delivered
 * through the API (legs.c holds both state machines).
 */
#include <stdio.h>
#include <string.h>

#include "runtime/ids.h"
#include "runtime/jsonv.h"
#include "runtime/log.h"
#include "warehouse.h"

static rf_worker_t *worker;
int64_t warehouse_supplier_accept_days = 7;

static const char *const grades[] = {"resellable", "packaging_damaged", "goods_damaged",
                                     "wrong_item", "missing_parts",     "empty_box",
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
    if (rc == 0 &&
        rf_bus_event_init(bus, &insp, RF_EV_GOODS_INSPECTED, p->return_id, rec.event_id) == 0) {
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

static int emit_reship(rf_bus_t *bus, const char *return_id, const char *state,
                       const char *supplier_id, const char *tracking_no) {
    rf_event_t ev;
    if (rf_bus_event_init(bus, &ev, RF_EV_RESHIP_UPDATED, return_id, NULL) != 0) return -1;
    int rc = rf_event_set_str(&ev.body.reship_updated.state, state) |
             rf_event_set_str(&ev.body.reship_updated.supplier_id, supplier_id) |
             rf_event_set_str(&ev.body.reship_updated.tracking_no, tracking_no);
    if (rc == 0) rc = rf_bus_emit(bus, &ev);
    rf_event_clear(&ev);
    return rc;
}

/* What follows a receipt: goods going on to the supplier get a supplier leg;
 * an exchange whose goods came back as sent gets its reship request. */
static int after_receipt(rf_bus_t *bus, rf_db_t *db, const warehouse_parcel_t *parcel,
                         const char *grade, const char *disposition) {
    if (warehouse_needs_supplier_leg(parcel->destination, disposition)) {
        if (warehouse_db_leg_open(db, parcel, warehouse_supplier_accept_days) < 0) return -1;
        rf_info("event=supplier_leg_requested return_id=%s supplier_id=%s accept_days=%lld",
                parcel->return_id, parcel->supplier_id, (long long)warehouse_supplier_accept_days);
    }
    bool contradicts = strcmp(grade, "empty_box") == 0 || strcmp(grade, "wrong_item") == 0;
    if (strcmp(parcel->kind, "exchange") == 0 && !contradicts) {
        int opened = warehouse_db_reship_open(db, parcel);
        if (opened < 0) return -1;
        if (opened == 1) {
            if (emit_reship(bus, parcel->return_id, "requested", parcel->supplier_id, "") != 0)
                return -1;
            rf_info("event=reship_requested return_id=%s supplier_id=%s", parcel->return_id,
                    parcel->supplier_id);
        }
    }
    return 0;
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
    const char *disposition = warehouse_disposition(grade);
    const char *location = warehouse_location(disposition);
    warehouse_receipt_t receipt = {receipt_id,  return_id, tracking_no, grade,
                                   disposition, location,  by};
    int found;
    if (rf_bus_tx_begin(bus) != 0 || (found = warehouse_db_receive(db, &receipt, &parcel)) < 0)
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
    if (emit_goods(bus, &parcel, receipt_id, tracking_no, grade, disposition, by) != 0 ||
        after_receipt(bus, db, &parcel, grade, disposition) != 0 || rf_bus_tx_commit(bus) != 0)
        goto db_err;
    rf_info("event=parcel_received return_id=%s receipt_id=%s grade=%s disposition=%s",
            parcel.return_id, receipt_id, grade, disposition);
    rf_http_reply_json(x, 200,
                       json_pack("{s:s, s:s, s:b, s:s, s:s}", "receipt_id", receipt_id, "return_id",
                                 parcel.return_id, "matched", 1, "grade", grade, "disposition",
                                 disposition));
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
        rf_http_reply_json(
            x, 200, json_pack("{s:s, s:s}", "return_id", return_id, "tracking_no", tracking_no));
    json_decref(doc);
}

static const char *who_acts(rf_http_exchange_t *x, json_t *doc, rf_jsonv_t *v) {
    const char *by = rf_worker_actor(x, doc, false, v);
    return *by ? by : "warehouse";
}

/* POST /v1/supplier-legs/{return_id} {state, tracking_no?, note?}: the leg
 * moves along requested -> in_transit -> supplier_received -> credit
 * issued | denied; a move after the acceptance window is recorded as late. */
static void post_leg(rf_http_exchange_t *x, const char *return_id) {
    json_t *doc = rf_worker_json_body(x);
    if (!doc) return;
    rf_jsonv_t v = {0};
    const char *state = rf_jsonv_str(doc, "state", true, 32, &v);
    const char *tracking_no = rf_jsonv_str(doc, "tracking_no", false, 64, &v);
    const char *note = rf_jsonv_str(doc, "note", false, 2000, &v);
    const char *by = who_acts(x, doc, &v);
    if (!v.failed && !warehouse_leg_state_known(state)) {
        v.failed = true;
        snprintf(v.message, sizeof v.message, "state %s is not a supplier leg state", state);
    }
    if (v.failed) {
        rf_http_reply_error(x, 400, "invalid_field", v.message);
        json_decref(doc);
        return;
    }
    rf_db_t *db = rf_worker_db(worker);
    char from[32];
    bool late = false;
    int found;
    if (rf_db_begin(db) != 0 ||
        (found = warehouse_db_leg_state(db, return_id, from, sizeof from, &late)) < 0)
        goto db_err;
    if (!found || !warehouse_leg_can_move(from, state)) {
        rf_db_rollback(db);
        if (!found) rf_http_reply_error(x, 404, "not_found", "no supplier leg for that return");
        else {
            char msg[160];
            snprintf(msg, sizeof msg, "a supplier leg cannot move from %s to %s", from, state);
            rf_http_reply_error(x, 409, "bad_transition", msg);
        }
        json_decref(doc);
        return;
    }
    if (warehouse_db_leg_move(db, return_id, state, by, tracking_no, note, late) != 0 ||
        rf_db_commit(db) != 0)
        goto db_err;
    rf_info("event=supplier_leg return_id=%s from=%s to=%s late=%d by=%s", return_id, from, state,
            late, by);
    rf_http_reply_json(
        x, 200, json_pack("{s:s, s:s, s:b}", "return_id", return_id, "state", state, "late", late));
    json_decref(doc);
    return;
db_err:
    rf_db_rollback(db);
    rf_http_reply_error(x, 503, "db_unavailable", "could not move the supplier leg; retry");
    json_decref(doc);
}

/* POST /v1/reships/{return_id} {state: shipped | delivered, tracking_no?} */
static void post_reship(rf_http_exchange_t *x, const char *return_id) {
    json_t *doc = rf_worker_json_body(x);
    if (!doc) return;
    rf_jsonv_t v = {0};
    static const char *const states[] = {"shipped", "delivered", NULL};
    const char *state = rf_jsonv_oneof(doc, "state", NULL, states, &v);
    const char *tracking_no = rf_jsonv_str(doc, "tracking_no", false, 64, &v);
    if (v.failed) {
        rf_http_reply_error(x, 400, "invalid_field", v.message);
        json_decref(doc);
        return;
    }
    rf_bus_t *bus = rf_worker_bus(worker);
    rf_db_t *db = rf_worker_db(worker);
    char from[32], supplier_id[128];
    int found;
    if (rf_bus_tx_begin(bus) != 0 ||
        (found = warehouse_db_reship_state(db, return_id, from, sizeof from, supplier_id,
                                           sizeof supplier_id)) < 0)
        goto db_err;
    if (!found || !warehouse_reship_can_move(from, state)) {
        rf_bus_tx_rollback(bus);
        if (!found) rf_http_reply_error(x, 404, "not_found", "no reship for that return");
        else {
            char msg[160];
            snprintf(msg, sizeof msg, "a reship cannot move from %s to %s", from, state);
            rf_http_reply_error(x, 409, "bad_transition", msg);
        }
        json_decref(doc);
        return;
    }
    if (warehouse_db_reship_move(db, return_id, state, tracking_no) != 0 ||
        emit_reship(bus, return_id, state, supplier_id, tracking_no) != 0 ||
        rf_bus_tx_commit(bus) != 0)
        goto db_err;
    rf_info("event=reship return_id=%s from=%s to=%s", return_id, from, state);
    rf_http_reply_json(x, 200, json_pack("{s:s, s:s}", "return_id", return_id, "state", state));
    json_decref(doc);
    return;
db_err:
    rf_bus_tx_rollback(bus);
    rf_http_reply_error(x, 503, "db_unavailable", "could not record the reship; retry");
    json_decref(doc);
}

static void get_legs(rf_http_exchange_t *x) {
    char supplier[128], overdue[8];
    if (rf_http_query_filter(x, "supplier_id", supplier, sizeof supplier) < 0) return;
    bool only =
        rf_http_query_param(x, "overdue", overdue, sizeof overdue) > 0 && strcmp(overdue, "0") != 0;
    json_t *list = warehouse_db_legs(rf_worker_db(worker), supplier, only);
    if (!list) rf_http_reply_error(x, 503, "db_unavailable", "database unavailable; retry");
    else rf_http_reply_json(x, 200, json_pack("{s:o}", "supplier_legs", list));
}

bool warehouse_route(void *arg, rf_http_exchange_t *x) {
    (void)arg;
    char id[RF_ID_MAX];
    const char *path = rf_http_path(x);
    if (strcmp(rf_http_method(x), "GET") == 0) {
        if (strcmp(path, "/v1/supplier-legs") != 0) return false;
        get_legs(x);
        return true;
    }
    if (strcmp(rf_http_method(x), "POST") != 0) return false;
    if (strcmp(path, "/v1/receipts") == 0) post_receipt(x);
    else if (rf_path_match(path, "/v1/parcels/{}/tracking", id, sizeof id)) post_tracking(x, id);
    else if (rf_path_match(path, "/v1/supplier-legs/{}", id, sizeof id)) post_leg(x, id);
    else if (rf_path_match(path, "/v1/reships/{}", id, sizeof id)) post_reship(x, id);
    else return false;
    return true;
}

int warehouse_start(void *arg, rf_worker_t *w) {
    (void)arg;
    worker = w;
    return 0;
}
