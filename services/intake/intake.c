/*
 * intake.c: the intake worker's logic.
 *
 * Intake is where returns enter: the neutral HTTP API (orders and return
 * requests from the platform feeds), the check that a request is about a
 * known order line, and the return.requested event. It also follows every
 * event of every return, so it can answer "where is return X" with a status
 * and a timeline.
 */
#include <stdio.h>
#include <string.h>

#include "intake.h"
#include "rf/ids.h"
#include "rf/jsonv.h"
#include "rf/log.h"

#define MAX_ID 128   /* platform ids and similar */
#define MAX_TEXT 2000 /* free text */
#define MAX_LINES 200

static rf_worker_t *worker; /* set by intake_start */

static const char *const kinds[] = {"refund_only", "return_refund", "exchange", NULL};
static const char *const reasons[] = {"quality",      "wrong_item", "damaged",          "late",
                                      "changed_mind", "size_fit",   "not_as_described", "other",
                                      NULL};

bool intake_reason_known(const char *reason_code) {
    for (const char *const *r = reasons; *r; r++)
        if (strcmp(*r, reason_code) == 0) return true;
    return false;
}

intake_status_t intake_status_after(const rf_event_t *ev) {
    switch (ev->type) {
    case RF_EV_RETURN_REQUESTED: return (intake_status_t){"requested", 0};
    case RF_EV_REVIEW_OPENED: return (intake_status_t){"under_review", 1};
    case RF_EV_RETURN_APPROVED:
        return ev->body.return_approved.goods_expected ? (intake_status_t){"awaiting_return", 3}
                                                       : (intake_status_t){"approved", 2};
    case RF_EV_GOODS_RECEIVED: return (intake_status_t){"received", 4};
    case RF_EV_GOODS_INSPECTED: {
        const char *g = ev->body.goods_inspected.grade;
        bool contradicts = strcmp(g, "empty_box") == 0 || strcmp(g, "wrong_item") == 0;
        return contradicts ? (intake_status_t){"disputed", 5} : (intake_status_t){"received", 4};
    }
    case RF_EV_REFUND_APPROVED: return (intake_status_t){"refunding", 6};
    case RF_EV_REFUND_FAILED: return (intake_status_t){"refund_failed", 7};
    case RF_EV_REFUND_ISSUED: return (intake_status_t){"refunded", 8};
    case RF_EV_RETURN_REJECTED: return (intake_status_t){"rejected", 9};
    case RF_EV_RETURN_CANCELLED: return (intake_status_t){"cancelled", 9};
    default: return (intake_status_t){NULL, -1};
    }
}

/* Record ev in the timeline and move the status. Inside a transaction. */
static rf_apply_result_t follow(rf_db_t *db, const rf_event_t *ev, char *why, size_t whylen) {
    int added = intake_db_timeline_add(db, ev);
    if (added < 0) return RF_APPLY_ERROR;
    if (added == 0) {
        snprintf(why, whylen, "return %s is not known to intake", ev->return_id);
        return RF_APPLY_DEFER;
    }
    intake_status_t st = intake_status_after(ev);
    if (!st.status) return RF_APPLY_OK;
    const char *reject = ev->type == RF_EV_RETURN_REJECTED ? ev->body.return_rejected.reason_code
                                                           : NULL;
    return intake_db_set_status(db, ev->return_id, st.status, st.rank, reject) == 0
               ? RF_APPLY_OK
               : RF_APPLY_ERROR;
}

rf_apply_result_t intake_apply(void *arg, const rf_event_t *ev, char *why, size_t whylen) {
    (void)arg;
    return follow(rf_worker_db(worker), ev, why, whylen);
}

/* ---- POST /v1/orders ------------------------------------------------------------ */

static void post_order(rf_http_exchange_t *x) {
    json_t *doc = rf_worker_json_body(x);
    if (!doc) return;
    rf_jsonv_t v = {0};
    intake_order_t o = {0};
    intake_order_line_t lines[MAX_LINES];
    o.platform = rf_jsonv_str(doc, "platform", true, 32, &v);
    o.shop_id = rf_jsonv_str(doc, "shop_id", true, MAX_ID, &v);
    o.order_id = rf_jsonv_str(doc, "order_id", true, MAX_ID, &v);
    o.buyer_id = rf_jsonv_str(doc, "buyer_id", false, MAX_ID, &v);
    o.region = rf_jsonv_str(doc, "region", false, 64, &v);
    o.payment_method = rf_jsonv_str(doc, "payment_method", false, 64, &v);
    o.paid_at = rf_jsonv_i64(doc, "paid_at", false, 0, 0, INT64_MAX / 2, &v);
    o.delivered_at = rf_jsonv_i64(doc, "delivered_at", false, 0, 0, INT64_MAX / 2, &v);
    o.shipping_fee_fen = rf_jsonv_i64(doc, "shipping_fee_fen", false, 0, 0, 100000000000LL, &v);
    json_t *jl = json_object_get(doc, "lines");
    if (!v.failed && (!json_is_array(jl) || json_array_size(jl) == 0 ||
                      json_array_size(jl) > MAX_LINES)) {
        v.failed = true;
        snprintf(v.message, sizeof v.message, "lines must be an array of 1 to %d lines",
                 MAX_LINES);
    }
    for (size_t i = 0; !v.failed && i < json_array_size(jl); i++) {
        json_t *l = json_array_get(jl, i);
        if (!json_is_object(l)) {
            v.failed = true;
            snprintf(v.message, sizeof v.message, "lines[%zu] must be an object", i);
            break;
        }
        lines[i] = (intake_order_line_t){
            .line_id = rf_jsonv_str(l, "line_id", true, MAX_ID, &v),
            .sku_id = rf_jsonv_str(l, "sku_id", true, MAX_ID, &v),
            .title = rf_jsonv_str(l, "title", false, 500, &v),
            .category = rf_jsonv_str(l, "category", false, 64, &v),
            .supplier_id = rf_jsonv_str(l, "supplier_id", false, MAX_ID, &v),
            .quantity = rf_jsonv_i64(l, "quantity", true, 0, 1, 100000, &v),
            .unit_price_fen = rf_jsonv_i64(l, "unit_price_fen", true, 0, 0, 10000000000LL, &v),
        };
        o.n_lines = i + 1;
    }
    o.lines = lines;
    if (v.failed) {
        rf_http_reply_error(x, 400, "invalid_field", v.message);
        json_decref(doc);
        return;
    }
    rf_bus_t *bus = rf_worker_bus(worker);
    if (rf_bus_tx_begin(bus) != 0 || intake_db_upsert_order(rf_worker_db(worker), &o) != 0 ||
        rf_bus_tx_commit(bus) != 0) {
        rf_bus_tx_rollback(bus);
        rf_http_reply_error(x, 503, "db_unavailable", "could not record the order; retry");
    } else {
        rf_info("event=order_recorded platform=%s order_id=%s lines=%zu", o.platform, o.order_id,
                o.n_lines);
        rf_http_reply_json(x, 200,
                           json_pack("{s:s, s:s, s:I}", "platform", o.platform, "order_id",
                                     o.order_id, "lines", (json_int_t)o.n_lines));
    }
    json_decref(doc);
}

/* ---- POST /v1/returns ----------------------------------------------------------- */

static bool read_return(json_t *doc, intake_return_req_t *r, rf_jsonv_t *v) {
    r->platform = rf_jsonv_str(doc, "platform", true, 32, v);
    r->platform_return_id = rf_jsonv_str(doc, "platform_return_id", true, MAX_ID, v);
    r->order_id = rf_jsonv_str(doc, "order_id", true, MAX_ID, v);
    r->line_id = rf_jsonv_str(doc, "line_id", true, MAX_ID, v);
    r->kind = rf_jsonv_oneof(doc, "type", NULL, kinds, v);
    r->quantity = rf_jsonv_i64(doc, "quantity", true, 0, 1, 100000, v);
    r->reason_code = rf_jsonv_oneof(doc, "reason_code", NULL, reasons, v);
    r->reason_text = rf_jsonv_str(doc, "reason_text", false, MAX_TEXT, v);
    r->requested_amount_fen =
        rf_jsonv_i64(doc, "requested_amount_fen", true, 0, 0, 10000000000LL, v);
    r->requested_at = rf_jsonv_i64(doc, "requested_at", false, rf_now_ms(), 1, INT64_MAX / 2, v);
    r->platform_deadline_at =
        rf_jsonv_i64(doc, "platform_deadline_at", false, 0, 0, INT64_MAX / 2, v);
    return !v->failed;
}

static int emit_requested(rf_bus_t *bus, const char *return_id, const intake_return_req_t *r,
                          const intake_line_info_t *line, int64_t paid) {
    rf_event_t ev;
    if (rf_bus_event_init(bus, &ev, RF_EV_RETURN_REQUESTED, return_id, NULL) != 0) return -1;
    rf_body_return_requested_t *b = &ev.body.return_requested;
    int rc = 0;
    rc |= rf_event_set_str(&b->platform, r->platform);
    rc |= rf_event_set_str(&b->shop_id, line->shop_id);
    rc |= rf_event_set_str(&b->platform_return_id, r->platform_return_id);
    rc |= rf_event_set_str(&b->order_id, r->order_id);
    rc |= rf_event_set_str(&b->line_id, r->line_id);
    rc |= rf_event_set_str(&b->kind, r->kind);
    rc |= rf_event_set_str(&b->reason_code, r->reason_code);
    rc |= rf_event_set_str(&b->reason_text, r->reason_text);
    rc |= rf_event_set_str(&b->buyer_id, line->buyer_id);
    rc |= rf_event_set_str(&b->sku_id, line->sku_id);
    rc |= rf_event_set_str(&b->supplier_id, line->supplier_id);
    rc |= rf_event_set_str(&b->category, line->category);
    rc |= rf_event_set_str(&b->region, line->region);
    b->quantity = r->quantity;
    b->requested_amount_fen = r->requested_amount_fen;
    b->paid_amount_fen = paid;
    b->requested_at = r->requested_at;
    b->platform_deadline_at = r->platform_deadline_at;
    b->delivered_at = line->delivered_at;
    if (rc == 0) rc = rf_bus_emit(bus, &ev);
    if (rc == 0) rc = intake_db_timeline_add(rf_bus_db(bus), &ev) == 1 ? 0 : -1;
    rf_event_clear(&ev);
    return rc;
}

static void reply_return_id(rf_http_exchange_t *x, int status, const char *return_id,
                            bool duplicate) {
    rf_http_reply_json(x, status,
                       json_pack("{s:s, s:b}", "return_id", return_id, "duplicate", duplicate));
}

/* Answers the request; returns after the transaction is closed either way. */
static void create_return(rf_http_exchange_t *x, const intake_return_req_t *r) {
    rf_bus_t *bus = rf_worker_bus(worker);
    rf_db_t *db = rf_worker_db(worker);
    char return_id[RF_ID_MAX];
    intake_line_info_t line;
    if (rf_bus_tx_begin(bus) != 0) goto db_err;
    int found = intake_db_find_return(db, r->platform, r->platform_return_id, return_id,
                                      sizeof return_id);
    if (found < 0) goto db_err;
    if (found) {
        rf_bus_tx_rollback(bus);
        reply_return_id(x, 200, return_id, true);
        return;
    }
    int has_line = intake_db_find_line(db, r->platform, r->order_id, r->line_id, &line);
    if (has_line < 0) goto db_err;
    const char *code = NULL;
    char msg[256];
    int64_t paid = line.unit_price_fen * r->quantity;
    if (!has_line) {
        code = "order_unknown";
        snprintf(msg, sizeof msg, "order %s line %s on %s is not known; send the order first",
                 r->order_id, r->line_id, r->platform);
    } else if (r->quantity > line.quantity - line.returned_qty) {
        code = "quantity_exceeded";
        snprintf(msg, sizeof msg, "quantity %lld exceeds the %lld units ordered and not returned",
                 (long long)r->quantity, (long long)(line.quantity - line.returned_qty));
    } else if (r->requested_amount_fen > paid) {
        code = "amount_exceeds_paid";
        snprintf(msg, sizeof msg, "requested_amount_fen %lld exceeds the %lld fen paid",
                 (long long)r->requested_amount_fen, (long long)paid);
    }
    if (code) {
        rf_bus_tx_rollback(bus);
        rf_http_reply_error(x, 422, code, msg);
        return;
    }
    rf_ulid_new(return_id);
    int inserted = intake_db_insert_return(db, return_id, r, line.shop_id, paid);
    if (inserted != 1) goto db_err;
    if (emit_requested(bus, return_id, r, &line, paid) != 0) goto db_err;
    if (rf_bus_tx_commit(bus) != 0) goto db_err;
    rf_info("event=return_requested return_id=%s platform=%s platform_return_id=%s kind=%s",
            return_id, r->platform, r->platform_return_id, r->kind);
    reply_return_id(x, 202, return_id, false);
    return;
db_err:
    rf_bus_tx_rollback(bus);
    rf_http_reply_error(x, 503, "db_unavailable", "could not record the return; retry");
}

static void post_return(rf_http_exchange_t *x) {
    json_t *doc = rf_worker_json_body(x);
    if (!doc) return;
    rf_jsonv_t v = {0};
    intake_return_req_t r;
    if (!read_return(doc, &r, &v)) rf_http_reply_error(x, 400, "invalid_field", v.message);
    else create_return(x, &r);
    json_decref(doc);
}

/* ---- GET /v1/returns ------------------------------------------------------------ */

static void reply_return(rf_http_exchange_t *x, const char *return_id) {
    bool dberr;
    json_t *doc = intake_db_return_json(rf_worker_db(worker), return_id, &dberr);
    if (doc) rf_http_reply_json(x, 200, doc);
    else if (dberr) rf_http_reply_error(x, 503, "db_unavailable", "database unavailable; retry");
    else rf_http_reply_error(x, 404, "not_found", "no such return");
}

static void find_return(rf_http_exchange_t *x) {
    char platform[64], prid[MAX_ID + 1], return_id[RF_ID_MAX];
    if (rf_http_query_param(x, "platform", platform, sizeof platform) <= 0 ||
        rf_http_query_param(x, "platform_return_id", prid, sizeof prid) <= 0) {
        rf_http_reply_error(x, 400, "invalid_query",
                            "give platform and platform_return_id as query parameters");
        return;
    }
    int found = intake_db_find_return(rf_worker_db(worker), platform, prid, return_id,
                                      sizeof return_id);
    if (found < 0) rf_http_reply_error(x, 503, "db_unavailable", "database unavailable; retry");
    else if (!found) rf_http_reply_error(x, 404, "not_found", "no such return");
    else reply_return(x, return_id);
}

bool intake_route(void *arg, rf_http_exchange_t *x) {
    (void)arg;
    const char *method = rf_http_method(x), *path = rf_http_path(x);
    char id[RF_ID_MAX];
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    if (post && strcmp(path, "/v1/orders") == 0) post_order(x);
    else if (post && strcmp(path, "/v1/returns") == 0) post_return(x);
    else if (get && strcmp(path, "/v1/returns") == 0) find_return(x);
    else if (get && rf_path_match(path, "/v1/returns/{}", id, sizeof id)) reply_return(x, id);
    else return false;
    return true;
}

int intake_start(void *arg, rf_worker_t *w) {
    (void)arg;
    worker = w;
    return 0;
}
