/*
 * review.c: the review worker's logic.
 *
 * Every return request gets a task. A small refund-only request is approved
 * at once; everything else waits for a person (customer service up to a
 * limit, a CS supervisor above it), who approves or rejects it through the
 * HTTP API. Liability (who bears the cost) follows from the reason.
 */
#include <stdio.h>
#include <string.h>

#include "review.h"
#include "rf/ids.h"
#include "rf/jsonv.h"
#include "rf/log.h"

int64_t review_auto_approve_max_fen = 5000;
int64_t review_cs_limit_fen = 50000;

static rf_worker_t *worker;

static const char *const reject_reasons[] = {
    "window_expired",   "category_excluded", "quantity_exceeded", "duplicate_request",
    "order_unknown",    "condition_failed",  "reviewer_rejected", NULL};

review_verdict_t review_first_look(const char *kind, int64_t requested_amount_fen) {
    if (strcmp(kind, "refund_only") == 0 && requested_amount_fen <= review_auto_approve_max_fen)
        return (review_verdict_t){true, "auto"};
    return (review_verdict_t){false,
                              requested_amount_fen > review_cs_limit_fen ? "cs_supervisor" : "cs"};
}

const char *review_liability(const char *reason_code) {
    if (strcmp(reason_code, "quality") == 0 || strcmp(reason_code, "wrong_item") == 0 ||
        strcmp(reason_code, "not_as_described") == 0)
        return "supplier";
    if (strcmp(reason_code, "damaged") == 0 || strcmp(reason_code, "late") == 0) return "carrier";
    if (strcmp(reason_code, "changed_mind") == 0 || strcmp(reason_code, "size_fit") == 0)
        return "buyer";
    return "merchant";
}

bool review_reject_reason_known(const char *code) {
    for (const char *const *r = reject_reasons; *r; r++)
        if (strcmp(*r, code) == 0) return true;
    return false;
}

/* ---- events out ----------------------------------------------------------------- */

static int emit_approved(rf_bus_t *bus, const review_task_t *t, int64_t amount,
                         const char *decided_by, const char *causation) {
    rf_event_t ev;
    if (rf_bus_event_init(bus, &ev, RF_EV_RETURN_APPROVED, t->return_id, causation) != 0)
        return -1;
    rf_body_return_approved_t *b = &ev.body.return_approved;
    int rc = rf_event_set_str(&b->kind, t->kind) | rf_event_set_str(&b->decided_by, decided_by) |
             rf_event_set_str(&b->liability, t->liability) |
             rf_event_set_str(&b->destination, "merchant") |
             rf_event_set_str(&b->sku_id, t->sku_id) |
             rf_event_set_str(&b->supplier_id, t->supplier_id);
    b->refund_amount_fen = amount;
    b->goods_expected = strcmp(t->kind, "refund_only") != 0;
    b->quantity = t->quantity;
    if (rc == 0) rc = rf_bus_emit(bus, &ev);
    rf_event_clear(&ev);
    return rc;
}

static int emit_rejected(rf_bus_t *bus, const char *return_id, const char *reason_code,
                         const char *decided_by, const char *note) {
    rf_event_t ev;
    if (rf_bus_event_init(bus, &ev, RF_EV_RETURN_REJECTED, return_id, NULL) != 0) return -1;
    rf_body_return_rejected_t *b = &ev.body.return_rejected;
    int rc = rf_event_set_str(&b->reason_code, reason_code) |
             rf_event_set_str(&b->decided_by, decided_by) | rf_event_set_str(&b->note, note);
    if (rc == 0) rc = rf_bus_emit(bus, &ev);
    rf_event_clear(&ev);
    return rc;
}

static int emit_opened(rf_bus_t *bus, const rf_event_t *req, const char *role) {
    rf_event_t ev;
    if (rf_bus_event_init(bus, &ev, RF_EV_REVIEW_OPENED, req->return_id, req->event_id) != 0)
        return -1;
    int rc = rf_event_set_str(&ev.body.review_opened.task_id, req->return_id) |
             rf_event_set_str(&ev.body.review_opened.required_role, role);
    ev.body.review_opened.deadline_at = req->body.return_requested.platform_deadline_at;
    if (rc == 0) rc = rf_bus_emit(bus, &ev);
    rf_event_clear(&ev);
    return rc;
}

/* ---- events in ------------------------------------------------------------------ */

static rf_apply_result_t on_requested(rf_bus_t *bus, rf_db_t *db, const rf_event_t *ev) {
    const rf_body_return_requested_t *b = &ev->body.return_requested;
    review_verdict_t v = review_first_look(b->kind, b->requested_amount_fen);
    const char *liability = review_liability(b->reason_code);
    int inserted = review_db_insert_task(db, ev, &v, liability);
    if (inserted < 0) return RF_APPLY_ERROR;
    if (inserted == 0) return RF_APPLY_OK; /* already reviewed */
    if (!v.auto_approve) return emit_opened(bus, ev, v.required_role) == 0 ? RF_APPLY_OK
                                                                           : RF_APPLY_ERROR;
    review_task_t t;
    if (review_db_get_task(db, ev->return_id, &t) != 1) return RF_APPLY_ERROR;
    int64_t amount = b->requested_amount_fen < b->paid_amount_fen ? b->requested_amount_fen
                                                                   : b->paid_amount_fen;
    if (review_db_decide(db, ev->return_id, "approved", "auto", NULL, "automatic rule") != 0 ||
        emit_approved(bus, &t, amount, "auto", ev->event_id) != 0)
        return RF_APPLY_ERROR;
    rf_info("event=auto_approved return_id=%s amount_fen=%lld", ev->return_id,
            (long long)amount);
    return RF_APPLY_OK;
}

rf_apply_result_t review_apply(void *arg, const rf_event_t *ev, char *why, size_t whylen) {
    (void)arg;
    rf_bus_t *bus = rf_worker_bus(worker);
    rf_db_t *db = rf_worker_db(worker);
    switch (ev->type) {
    case RF_EV_RETURN_REQUESTED: return on_requested(bus, db, ev);
    case RF_EV_RETURN_CANCELLED:
        return review_db_cancel(db, ev->return_id) < 0 ? RF_APPLY_ERROR : RF_APPLY_OK;
    case RF_EV_GOODS_INSPECTED: {
        const char *g = ev->body.goods_inspected.grade;
        if (strcmp(g, "empty_box") != 0 && strcmp(g, "wrong_item") != 0) return RF_APPLY_OK;
        return review_db_mark_disputed(db, ev->return_id, g) < 0 ? RF_APPLY_ERROR : RF_APPLY_OK;
    }
    default:
        snprintf(why, whylen, "review does not consume %s", rf_event_type_name(ev->type));
        return RF_APPLY_REJECT;
    }
}

/* ---- HTTP: POST /v1/reviews/{id}/approve|reject, GET /v1/reviews --------------- */

static void decide(rf_http_exchange_t *x, const char *return_id, bool approve) {
    json_t *doc = rf_worker_json_body(x);
    if (!doc) return;
    rf_jsonv_t v = {0};
    /* The decider is the token's user; without authentication (development)
     * the body must say who decides. */
    const rf_principal_t *who = rf_worker_principal(x);
    bool authenticated = who && who->authenticated;
    const char *by = rf_jsonv_str(doc, "by", !authenticated, 128, &v);
    if (authenticated) by = who->user;
    const char *note = rf_jsonv_str(doc, "note", false, 2000, &v);
    const char *reason = approve ? NULL : rf_jsonv_str(doc, "reason_code", false, 64, &v);
    int64_t amount = rf_jsonv_i64(doc, "refund_amount_fen", false, -1, 0, INT64_MAX / 2, &v);
    if (!approve && !v.failed && !*reason) reason = "reviewer_rejected";
    if (!approve && !v.failed && !review_reject_reason_known(reason)) {
        v.failed = true;
        snprintf(v.message, sizeof v.message, "reason_code %s is not a rejection reason", reason);
    }
    if (v.failed) {
        rf_http_reply_error(x, 400, "invalid_field", v.message);
        json_decref(doc);
        return;
    }
    rf_bus_t *bus = rf_worker_bus(worker);
    rf_db_t *db = rf_worker_db(worker);
    review_task_t t;
    int found;
    if (rf_bus_tx_begin(bus) != 0 || (found = review_db_get_task(db, return_id, &t)) < 0)
        goto db_err;
    if (!found || strcmp(t.status, "pending") != 0) {
        rf_bus_tx_rollback(bus);
        if (!found) rf_http_reply_error(x, 404, "not_found", "no review task for that return");
        else {
            char msg[128];
            snprintf(msg, sizeof msg, "the return is already %s", t.status);
            rf_http_reply_error(x, 409, "already_decided", msg);
        }
        json_decref(doc);
        return;
    }
    if (authenticated && who->role == RF_ROLE_CS && t.requested_amount_fen > review_cs_limit_fen) {
        rf_bus_tx_rollback(bus);
        char msg[160];
        snprintf(msg, sizeof msg,
                 "%lld fen is above customer service's limit of %lld fen: a cs_supervisor decides",
                 (long long)t.requested_amount_fen, (long long)review_cs_limit_fen);
        rf_http_reply_error(x, 403, "above_cs_limit", msg);
        json_decref(doc);
        return;
    }
    if (amount < 0) amount = t.requested_amount_fen;
    if (amount > t.paid_amount_fen) {
        rf_bus_tx_rollback(bus);
        rf_http_reply_error(x, 422, "amount_exceeds_paid",
                            "refund_amount_fen is more than was paid for the line");
        json_decref(doc);
        return;
    }
    if (review_db_decide(db, return_id, approve ? "approved" : "rejected", by, reason, note) != 0)
        goto db_err;
    if ((approve ? emit_approved(bus, &t, amount, by, NULL)
                 : emit_rejected(bus, return_id, reason, by, note)) != 0)
        goto db_err;
    if (rf_bus_tx_commit(bus) != 0) goto db_err;
    rf_info("event=%s return_id=%s by=%s", approve ? "approved" : "rejected", return_id, by);
    rf_http_reply_json(x, 200,
                       json_pack("{s:s, s:s}", "return_id", return_id, "status",
                                 approve ? "approved" : "rejected"));
    json_decref(doc);
    return;
db_err:
    rf_bus_tx_rollback(bus);
    rf_http_reply_error(x, 503, "db_unavailable", "could not record the decision; retry");
    json_decref(doc);
}

static void list_reviews(rf_http_exchange_t *x) {
    char status[32];
    if (rf_http_query_param(x, "status", status, sizeof status) <= 0) strcpy(status, "pending");
    json_t *list = review_db_list(rf_worker_db(worker), status);
    if (!list) rf_http_reply_error(x, 503, "db_unavailable", "database unavailable; retry");
    else rf_http_reply_json(x, 200, json_pack("{s:o}", "reviews", list));
}

bool review_route(void *arg, rf_http_exchange_t *x) {
    (void)arg;
    const char *method = rf_http_method(x), *path = rf_http_path(x);
    char id[RF_ID_MAX];
    bool post = strcmp(method, "POST") == 0;
    if (post && rf_path_match(path, "/v1/reviews/{}/approve", id, sizeof id)) decide(x, id, true);
    else if (post && rf_path_match(path, "/v1/reviews/{}/reject", id, sizeof id))
        decide(x, id, false);
    else if (strcmp(method, "GET") == 0 && strcmp(path, "/v1/reviews") == 0) list_reviews(x);
    else return false;
    return true;
}

int review_start(void *arg, rf_worker_t *w) {
    (void)arg;
    worker = w;
    return 0;
}
