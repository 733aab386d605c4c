/*
 * notification.c: the notification worker's logic: who is told what about
 * each event, sent at most once per event and audience (the idempotency key),
 * each message announced with notice.sent. Sending here means recording the
 * message for its channel; the channel gateways are separate.
 */
#include <stdio.h>
#include <string.h>

#include "notification.h"
#include "rf/ids.h"
#include "rf/log.h"

static rf_worker_t *worker;

/* Append a message to out and return its body buffer for the caller to fill. */
static char *add(notification_msg_t *out, size_t *n, const char *audience, const char *channel,
                 const char *template_name) {
    notification_msg_t *m = &out[(*n)++];
    m->audience = audience;
    m->channel = channel;
    m->template_name = template_name;
    m->body[0] = '\0';
    return m->body;
}

#define BODY sizeof out[0].body

size_t notification_plan(const rf_event_t *ev, notification_msg_t out[NOTIFICATION_MAX_PER_EVENT]) {
    size_t n = 0;
    const char *r = ev->return_id;
    switch (ev->type) {
    case RF_EV_RETURN_REQUESTED:
        snprintf(add(out, &n, "buyer", "platform_im", "request_received"), BODY,
                 "We have your return request %s (%lld fen) and will review it shortly.", r,
                 (long long)ev->body.return_requested.requested_amount_fen);
        break;
    case RF_EV_REVIEW_OPENED:
        snprintf(add(out, &n, "ops", "ops", "review_needed"), BODY,
                 "Return %s waits for review by %s.", r, ev->body.review_opened.required_role);
        break;
    case RF_EV_RETURN_APPROVED: {
        const rf_body_return_approved_t *b = &ev->body.return_approved;
        snprintf(add(out, &n, "buyer", "platform_im",
                     b->goods_expected ? "approved_send_back" : "approved"),
                 BODY, "Your return %s is approved; refund of %lld fen.", r,
                 (long long)b->refund_amount_fen);
        if (strcmp(b->liability, "supplier") == 0)
            snprintf(add(out, &n, "supplier", "email", "supplier_return_notice"), BODY,
                     "A return (%s) was approved for a fault on your goods; %lld fen at stake.",
                     r, (long long)b->refund_amount_fen);
        break;
    }
    case RF_EV_RETURN_REJECTED:
        snprintf(add(out, &n, "buyer", "platform_im", "rejected"), BODY,
                 "Your return %s was not accepted (%s).", r, ev->body.return_rejected.reason_code);
        break;
    case RF_EV_RETURN_CANCELLED:
        snprintf(add(out, &n, "buyer", "platform_im", "cancelled"), BODY,
                 "Your return %s is cancelled.", r);
        break;
    case RF_EV_GOODS_RECEIVED:
        snprintf(add(out, &n, "buyer", "platform_im", "goods_received"), BODY,
                 "We received the goods for return %s.", r);
        break;
    case RF_EV_GOODS_INSPECTED:
        if (strcmp(ev->body.goods_inspected.grade, "resellable") != 0)
            snprintf(add(out, &n, "supplier", "email", "inspection_result"), BODY,
                     "Returned goods for %s were graded %s.", r, ev->body.goods_inspected.grade);
        break;
    case RF_EV_REFUND_ISSUED:
        snprintf(add(out, &n, "buyer", "platform_im", "refunded"), BODY,
                 "Your refund for return %s (%lld fen) is on its way.", r,
                 (long long)ev->body.refund_issued.amount_fen);
        break;
    case RF_EV_REFUND_FAILED:
        snprintf(add(out, &n, "ops", "ops", "refund_failed"), BODY,
                 "Refund for return %s failed: %s.", r, ev->body.refund_failed.error);
        break;
    case RF_EV_CLAIM_OPENED:
        snprintf(add(out, &n, "supplier", "email", "claim_opened"), BODY,
                 "A claim was opened for return %s: %lld fen.", r,
                 (long long)ev->body.claim_opened.amount_fen);
        break;
    default: break;
    }
    return n;
}

static int emit_sent(rf_bus_t *bus, const rf_event_t *src, const char *notice_id,
                     const notification_msg_t *m) {
    rf_event_t ev;
    if (rf_bus_event_init(bus, &ev, RF_EV_NOTICE_SENT, src->return_id, src->event_id) != 0)
        return -1;
    rf_body_notice_sent_t *b = &ev.body.notice_sent;
    int rc = rf_event_set_str(&b->notice_id, notice_id) | rf_event_set_str(&b->channel, m->channel) |
             rf_event_set_str(&b->audience, m->audience) |
             rf_event_set_str(&b->template_name, m->template_name) |
             rf_event_set_str(&b->source_event_id, src->event_id);
    if (rc == 0) rc = rf_bus_emit(bus, &ev);
    rf_event_clear(&ev);
    return rc;
}

rf_apply_result_t notification_apply(void *arg, const rf_event_t *ev, char *why, size_t whylen) {
    (void)arg;
    (void)why;
    (void)whylen;
    rf_bus_t *bus = rf_worker_bus(worker);
    rf_db_t *db = rf_worker_db(worker);
    notification_msg_t msgs[NOTIFICATION_MAX_PER_EVENT];
    size_t n = notification_plan(ev, msgs);
    for (size_t i = 0; i < n; i++) {
        char notice_id[RF_ULID_LEN + 1];
        rf_ulid_new(notice_id);
        int recorded = notification_db_record(db, notice_id, ev, &msgs[i]);
        if (recorded < 0) return RF_APPLY_ERROR;
        if (recorded == 0) continue; /* this event already told this audience */
        if (emit_sent(bus, ev, notice_id, &msgs[i]) != 0) return RF_APPLY_ERROR;
    }
    return RF_APPLY_OK;
}

/* GET /v1/messages?return_id=X */
bool notification_route(void *arg, rf_http_exchange_t *x) {
    (void)arg;
    if (strcmp(rf_http_method(x), "GET") != 0 || strcmp(rf_http_path(x), "/v1/messages") != 0)
        return false;
    char return_id[RF_ID_MAX];
    if (rf_http_query_param(x, "return_id", return_id, sizeof return_id) <= 0) {
        rf_http_reply_error(x, 400, "invalid_query", "give return_id as a query parameter");
        return true;
    }
    json_t *list = notification_db_list(rf_worker_db(worker), return_id);
    if (!list) rf_http_reply_error(x, 503, "db_unavailable", "database unavailable; retry");
    else rf_http_reply_json(x, 200, json_pack("{s:o}", "messages", list));
    return true;
}

int notification_start(void *arg, rf_worker_t *w) {
    (void)arg;
    worker = w;
    return 0;
}
