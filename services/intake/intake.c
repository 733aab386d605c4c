/*
 * intake.c: the intake worker's logic.
 *
 * Intake is where returns enter: the neutral HTTP API (orders and return
 * requests from the platform feeds), the shop's acceptability policy
 * (policy.c: known line, quantity, one open return per line, return window,
 * category exclusions), answered at once with a reason code and still
 * recorded when refused, the return.requested event, and the buyer's
 * cancellation (return.cancelled). It also follows every event of every
 * return, so it can answer "where is return X" with a status and a timeline.
 *
 * This file: the HTTP API, the policy file and start-up. A request is taken
 * up by returns.c (as the platform feeds' records are, feeds/), the events
 * are followed by intake_follow.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feeds/feeds.h"
#include "intake.h"
#include "shops/shops.h"
#include "runtime/ids.h"
#include "runtime/jsonv.h"
#include "runtime/log.h"

#define MAX_TEXT 2000 /* free text */

static rf_worker_t *worker; /* set by intake_start */

static const char *const kinds[] = {"refund_only", "return_refund", "exchange", NULL};

/* ---- POST /v1/orders ------------------------------------------------------------ */

static void post_order(rf_http_exchange_t *x) {
    json_t *doc = rf_worker_json_body(x);
    if (!doc) return;
    rf_jsonv_t v = {0};
    intake_order_t o = {0};
    intake_order_line_t lines[INTAKE_ORDER_LINES_MAX];
    o.platform = rf_jsonv_str(doc, "platform", true, 32, &v);
    o.shop_id = rf_jsonv_str(doc, "shop_id", true, INTAKE_ID_MAX, &v);
    o.order_id = rf_jsonv_str(doc, "order_id", true, INTAKE_ID_MAX, &v);
    o.buyer_id = rf_jsonv_str(doc, "buyer_id", false, INTAKE_ID_MAX, &v);
    o.region = rf_jsonv_str(doc, "region", false, 64, &v);
    o.payment_method = rf_jsonv_str(doc, "payment_method", false, 64, &v);
    o.paid_at = rf_jsonv_i64(doc, "paid_at", false, 0, 0, INT64_MAX / 2, &v);
    o.delivered_at = rf_jsonv_i64(doc, "delivered_at", false, 0, 0, INT64_MAX / 2, &v);
    o.shipping_fee_fen = rf_jsonv_i64(doc, "shipping_fee_fen", false, 0, 0, 100000000000LL, &v);
    o.discount_fen = rf_jsonv_i64(doc, "discount_fen", false, 0, 0, 100000000000LL, &v);
    json_t *ins = json_object_get(doc, "freight_insured");
    if (ins && !json_is_boolean(ins) && !v.failed) {
        v.failed = true;
        snprintf(v.message, sizeof v.message, "freight_insured must be true or false");
    }
    o.freight_insured = json_is_true(ins);
    json_t *jl = json_object_get(doc, "lines");
    if (!v.failed && (!json_is_array(jl) || json_array_size(jl) == 0 ||
                      json_array_size(jl) > INTAKE_ORDER_LINES_MAX)) {
        v.failed = true;
        snprintf(v.message, sizeof v.message, "lines must be an array of 1 to %d lines",
                 INTAKE_ORDER_LINES_MAX);
    }
    for (size_t i = 0; !v.failed && i < json_array_size(jl); i++) {
        json_t *l = json_array_get(jl, i);
        if (!json_is_object(l)) {
            v.failed = true;
            snprintf(v.message, sizeof v.message, "lines[%zu] must be an object", i);
            break;
        }
        lines[i] = (intake_order_line_t){
            .line_id = rf_jsonv_str(l, "line_id", true, INTAKE_ID_MAX, &v),
            .sku_id = rf_jsonv_str(l, "sku_id", true, INTAKE_ID_MAX, &v),
            .title = rf_jsonv_str(l, "title", false, 500, &v),
            .category = rf_jsonv_str(l, "category", false, 64, &v),
            .supplier_id = rf_jsonv_str(l, "supplier_id", false, INTAKE_ID_MAX, &v),
            .quantity = rf_jsonv_i64(l, "quantity", true, 0, 1, 100000, &v),
            .unit_price_fen = rf_jsonv_i64(l, "unit_price_fen", true, 0, 0, 10000000000LL, &v),
            .exclusion_confirmed = json_is_true(json_object_get(l, "exclusion_confirmed")),
        };
        o.n_lines = i + 1;
    }
    o.lines = lines;
    if (!v.failed && intake_order_allocate(&o) != 0) {
        v.failed = true;
        snprintf(v.message, sizeof v.message, "discount_fen is more than the order's lines cost");
    }
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
        intake_feed_order_arrived(worker, o.platform, o.order_id);
        rf_http_reply_json(x, 200,
                           json_pack("{s:s, s:s, s:I}", "platform", o.platform, "order_id",
                                     o.order_id, "lines", (json_int_t)o.n_lines));
    }
    json_decref(doc);
}

/* ---- POST /v1/returns ----------------------------------------------------------- */

static bool read_return(json_t *doc, intake_return_req_t *r, rf_jsonv_t *v) {
    r->platform = rf_jsonv_str(doc, "platform", true, 32, v);
    r->platform_return_id = rf_jsonv_str(doc, "platform_return_id", true, INTAKE_ID_MAX, v);
    r->order_id = rf_jsonv_str(doc, "order_id", true, INTAKE_ID_MAX, v);
    r->line_id = rf_jsonv_str(doc, "line_id", true, INTAKE_ID_MAX, v);
    r->kind = rf_jsonv_oneof(doc, "type", NULL, kinds, v);
    r->quantity = rf_jsonv_i64(doc, "quantity", true, 0, 1, 100000, v);
    r->reason_code = rf_jsonv_oneof(doc, "reason_code", NULL, intake_reasons, v);
    r->reason_text = rf_jsonv_str(doc, "reason_text", false, MAX_TEXT, v);
    r->requested_amount_fen =
        rf_jsonv_i64(doc, "requested_amount_fen", true, 0, 0, 10000000000LL, v);
    r->requested_at = rf_jsonv_i64(doc, "requested_at", false, rf_now_ms(), 1, INT64_MAX / 2, v);
    r->platform_deadline_at =
        rf_jsonv_i64(doc, "platform_deadline_at", false, 0, 0, INT64_MAX / 2, v);
    r->platform_version = rf_jsonv_i64(doc, "platform_version", false, 0, 0, INT64_MAX / 2, v);
    return !v->failed;
}

static void reply_return_id(rf_http_exchange_t *x, int status, const char *return_id,
                            bool duplicate) {
    rf_http_reply_json(x, status,
                       json_pack("{s:s, s:b}", "return_id", return_id, "duplicate", duplicate));
}

static void reply_refused(rf_http_exchange_t *x, const char *return_id, const char *code,
                          const char *msg) {
    rf_http_reply_json(x, 422,
                       json_pack("{s:s, s:s, s:s, s:s}", "error", code, "message", msg, "return_id",
                                 return_id, "status", "rejected"));
}

/* Answers the request; returns after the transaction is closed either way. */
static void create_return(rf_http_exchange_t *x, const intake_return_req_t *r) {
    rf_bus_t *bus = rf_worker_bus(worker);
    intake_create_result_t res;
    if (rf_bus_tx_begin(bus) != 0) goto db_err;
    intake_return_create_tx(worker, r, false, &res);
    switch (res.outcome) {
    case INTAKE_DUPLICATE:
        rf_bus_tx_rollback(bus);
        reply_return_id(x, 200, res.return_id, true);
        return;
    case INTAKE_AMOUNT_EXCEEDED:
        rf_bus_tx_rollback(bus);
        rf_http_reply_error(x, 422, "amount_exceeds_paid", res.msg);
        return;
    case INTAKE_REFUSED:
        if (rf_bus_tx_commit(bus) != 0) goto db_err;
        reply_refused(x, res.return_id, res.code, res.msg);
        return;
    case INTAKE_CREATED:
        if (rf_bus_tx_commit(bus) != 0) goto db_err;
        reply_return_id(x, 202, res.return_id, false);
        return;
    case INTAKE_CREATE_DB_ERROR: break;
    }
db_err:
    rf_bus_tx_rollback(bus);
    rf_http_reply_error(x, 503, "db_unavailable", "could not record the return; retry");
}

/* Whether the pipeline is too far behind to take a new return now: then the
 * caller is told to retry (503 busy) instead of being queued without bound. */
static bool refuse_when_busy(rf_http_exchange_t *x) {
    int64_t backlog;
    if (!intake_pipeline_busy(worker, &backlog)) return false;
    char msg[160];
    snprintf(msg, sizeof msg,
             "the pipeline is behind: %lld events wait for a consumer (limit %lld); retry shortly",
             (long long)backlog, (long long)intake_max_backlog);
    rf_http_reply_error(x, 503, "busy", msg);
    return true;
}

static void post_return(rf_http_exchange_t *x) {
    if (refuse_when_busy(x)) return;
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
    char platform[64], prid[INTAKE_ID_MAX + 1], return_id[RF_ID_MAX];
    if (rf_http_query_param(x, "platform", platform, sizeof platform) <= 0 ||
        rf_http_query_param(x, "platform_return_id", prid, sizeof prid) <= 0) {
        rf_http_reply_error(x, 400, "invalid_query",
                            "give platform and platform_return_id as query parameters");
        return;
    }
    int found =
        intake_db_find_return(rf_worker_db(worker), platform, prid, return_id, sizeof return_id);
    if (found < 0) rf_http_reply_error(x, 503, "db_unavailable", "database unavailable; retry");
    else if (!found) rf_http_reply_error(x, 404, "not_found", "no such return");
    else reply_return(x, return_id);
}

/* ---- POST /v1/returns/{id}/cancel ------------------------------------------------ */

/* The buyer withdrew the request. Allowed until the goods are received (and
 * not for a refund-only return already approved: its refund is under way). */
static void cancel_return(rf_http_exchange_t *x, const char *return_id) {
    json_t *doc = rf_worker_json_body(x);
    if (!doc) return;
    rf_jsonv_t v = {0};
    const char *reason = rf_jsonv_str(doc, "reason", false, 500, &v);
    if (v.failed) {
        rf_http_reply_error(x, 400, "invalid_field", v.message);
        json_decref(doc);
        return;
    }
    rf_bus_t *bus = rf_worker_bus(worker);
    rf_db_t *db = rf_worker_db(worker);
    char status[40];
    int rank = 0, found;
    if (rf_bus_tx_begin(bus) != 0 ||
        (found = intake_db_get_status(db, return_id, status, sizeof status, &rank)) < 0)
        goto db_err;
    bool cancellable = strcmp(status, "requested") == 0 || strcmp(status, "under_review") == 0 ||
                       strcmp(status, "awaiting_return") == 0;
    if (!found || !cancellable) {
        rf_bus_tx_rollback(bus);
        if (!found) rf_http_reply_error(x, 404, "not_found", "no such return");
        else {
            char msg[160];
            snprintf(msg, sizeof msg, "the return is %s: it can no longer be cancelled", status);
            rf_http_reply_error(x, 409, "not_cancellable", msg);
        }
        json_decref(doc);
        return;
    }
    rf_event_t ev;
    if (rf_bus_event_init(bus, &ev, RF_EV_RETURN_CANCELLED, return_id, NULL) != 0) goto db_err;
    int rc = rf_event_set_str(&ev.body.return_cancelled.reason, reason);
    if (rc == 0) rc = rf_bus_emit(bus, &ev);
    if (rc == 0) rc = intake_db_timeline_add(db, &ev) == 1 ? 0 : -1;
    if (rc == 0) rc = intake_db_set_status(db, return_id, "cancelled", 9, NULL);
    rf_event_clear(&ev);
    if (rc != 0 || rf_bus_tx_commit(bus) != 0) goto db_err;
    rf_info("event=return_cancelled return_id=%s was=%s", return_id, status);
    rf_http_reply_json(x, 200,
                       json_pack("{s:s, s:s}", "return_id", return_id, "status", "cancelled"));
    json_decref(doc);
    return;
db_err:
    rf_bus_tx_rollback(bus);
    rf_http_reply_error(x, 503, "db_unavailable", "could not cancel the return; retry");
    json_decref(doc);
}

/* ---- policy ----------------------------------------------------------------------- */

char intake_policy_file[RF_CFG_STR_MAX];

/* Load RF_INTAKE_POLICY_FILE (when set) into the policies table:
 * {"default": {...}, "shops": {"shop-1": {...}}}; every policy is checked
 * first, and a bad file stops start-up. */
static int load_policy_file(rf_db_t *db) {
    if (!*intake_policy_file) return 0;
    json_error_t jerr;
    json_t *doc = json_load_file(intake_policy_file, 0, &jerr);
    if (!doc) {
        rf_error("event=policy_file_invalid file=%s line=%d error=\"%s\"", intake_policy_file,
                 jerr.line, jerr.text);
        return -1;
    }
    int rc = 0;
    json_t *def = json_object_get(doc, "default"), *shops = json_object_get(doc, "shops");
    const char *shop;
    json_t *pol;
    char err[200];
    intake_policy_t scratch;
    intake_policy_default(&scratch);
    if (def && intake_policy_from_json(def, &scratch, err, sizeof err) != 0) rc = -1;
    if (rc == 0 && shops) json_object_foreach(shops, shop, pol) {
            intake_policy_default(&scratch);
            if (intake_policy_from_json(pol, &scratch, err, sizeof err) != 0) {
                rc = -1;
                break;
            }
        }
    if (rc != 0) {
        rf_error("event=policy_file_invalid file=%s error=\"%s\"", intake_policy_file, err);
        json_decref(doc);
        return -1;
    }
    if (rf_db_begin(db) != 0) rc = -1;
    if (rc == 0 && def) {
        char *text = json_dumps(def, JSON_COMPACT);
        rc = text ? intake_db_store_policy(db, "*", text) : -1;
        free(text);
    }
    if (rc == 0 && shops) json_object_foreach(shops, shop, pol) {
            char *text = json_dumps(pol, JSON_COMPACT);
            rc = text ? intake_db_store_policy(db, shop, text) : -1;
            free(text);
            if (rc != 0) break;
        }
    if (rc == 0) rc = rf_db_commit(db);
    else rf_db_rollback(db);
    json_decref(doc);
    intake_db_policy_cache_clear();
    if (rc == 0) rf_info("event=policy_loaded file=%s", intake_policy_file);
    return rc;
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
    else if (post && rf_path_match(path, "/v1/returns/{}/cancel", id, sizeof id))
        cancel_return(x, id);
    else if (intake_feed_route(worker, x) || intake_shops_route(worker, x)) return true;
    else return false;
    return true;
}

int intake_start(void *arg, rf_worker_t *w) {
    (void)arg;
    worker = w;
    intake_follow_start(w);
    if (intake_max_backlog > 0) rf_bus_track_backlog(rf_worker_bus(w));
    if (load_policy_file(rf_worker_db(w)) != 0) return -1;
    if (intake_shops_start(w) != 0) return -1;
    return intake_feeds_start(w);
}
