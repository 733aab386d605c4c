/*
 * notification.c: the notification worker's logic: who is told what about
 * each event, sent at most once per event and audience (the idempotency key).
 * notification_plan knows every notice an event can call for; the shop's
 * policy (notification_policy.c) says which are sent: by default a notice
 * only where someone is told. Messages are zh-CN, amounts in yuan. The
 * messages of a bus batch are recorded together before its COMMIT
 * (notification_batch.c, through the bus's batch hooks): delivered by the
 * log channel there and written once, final; or, with the webhook, queued
 * for channels.c. One notice.sent per event that made a buyer-facing
 * message. The satisfaction survey follows a completed return (at once, in
 * the same statement, or after RF_NOTIFICATION_SURVEY_DELAY_MS); the
 * buyer's answer comes in through POST /v1/feedback (feedback.received).
 */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "notification.h"
#include "runtime/jsonv.h"
#include "runtime/ids.h"
#include "runtime/log.h"

static rf_worker_t *worker;

int64_t notification_delivery_ms = 200;
int64_t notification_survey_delay_ms = 0;

/* Append a message to out and return its body buffer for the caller to fill. */
static char *add(notification_msg_t *out, size_t *n, notification_kind_t kind, const char *channel,
                 const char *template_name) {
    notification_msg_t *m = &out[(*n)++];
    m->kind = kind;
    m->audience = notification_kind_audience(kind);
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
        snprintf(add(out, &n, NK_REQUESTED_BUYER, "platform_im", "request_received"), BODY,
                 "您的退货申请 %s 已收到（申请金额 %s 元），我们会尽快审核。", r,
                 notification_yuan(ev->body.return_requested.requested_amount_fen).s);
        break;
    case RF_EV_REVIEW_OPENED:
        snprintf(add(out, &n, NK_REVIEW_OPENED_OPS, "ops", "review_needed"), BODY,
                 "退货 %s 待人工审核（需 %s 处理）。", r, ev->body.review_opened.required_role);
        break;
    case RF_EV_REVIEW_DEADLINE_NEAR:
        snprintf(add(out, &n, NK_DEADLINE_NEAR_OPS, "ops", "deadline_near"), BODY,
                 "【告警】退货 %s 即将超过平台处理时限，请 %s 立即处理，否则平台将自动同意。", r,
                 ev->body.review_deadline_near.required_role);
        break;
    case RF_EV_RETURN_APPROVED: {
        const rf_body_return_approved_t *b = &ev->body.return_approved;
        if (b->returnless)
            snprintf(add(out, &n, NK_APPROVED_BUYER, "platform_im", "approved_returnless"), BODY,
                     "您的退货 %s 已同意，无需寄回商品，将退款 %s 元。", r,
                     notification_yuan(b->refund_amount_fen).s);
        else
            snprintf(add(out, &n, NK_APPROVED_BUYER, "platform_im",
                         b->goods_expected ? "approved_send_back" : "approved"),
                     BODY,
                     b->goods_expected ? "您的退货 %s 已同意，请寄回商品；退款金额 %s 元。"
                                       : "您的退货 %s 已同意，将退款 %s 元。",
                     r, notification_yuan(b->refund_amount_fen).s);
        if (strcmp(b->liability, "supplier") == 0)
            snprintf(add(out, &n, NK_APPROVED_SUPPLIER, "email", "supplier_return_notice"), BODY,
                     "退货 %s 因商品问题已获同意，涉及金额 %s 元，请知悉。", r,
                     notification_yuan(b->refund_amount_fen).s);
        break;
    }
    case RF_EV_RETURN_REJECTED:
        snprintf(add(out, &n, NK_REJECTED_BUYER, "platform_im", "rejected"), BODY,
                 "很抱歉，您的退货 %s 未通过审核（原因：%s）。", r,
                 ev->body.return_rejected.reason_code);
        break;
    case RF_EV_RETURN_CANCELLED:
        snprintf(add(out, &n, NK_CANCELLED_BUYER, "platform_im", "cancelled"), BODY,
                 "您的退货 %s 已取消。", r);
        break;
    case RF_EV_GOODS_RECEIVED:
        snprintf(add(out, &n, NK_RECEIVED_BUYER, "platform_im", "goods_received"), BODY,
                 "我们已收到退货 %s 的商品，正在验收。", r);
        break;
    case RF_EV_GOODS_INSPECTED:
        if (strcmp(ev->body.goods_inspected.grade, "resellable") != 0)
            snprintf(add(out, &n, NK_INSPECTED_SUPPLIER, "email", "inspection_result"), BODY,
                     "退货 %s 的商品验收结果：%s（处理：%s）。", r, ev->body.goods_inspected.grade,
                     ev->body.goods_inspected.disposition);
        break;
    case RF_EV_REFUND_AWAITING_APPROVAL:
        snprintf(add(out, &n, NK_AWAITING_APPROVAL_OPS, "ops", "finance_approval_needed"), BODY,
                 "退货 %s 的退款 %s 元超过审批额度，待财务审批。", r,
                 notification_yuan(ev->body.refund_awaiting_approval.amount_fen).s);
        break;
    case RF_EV_REFUND_ISSUED:
        snprintf(add(out, &n, NK_REFUNDED_BUYER, "platform_im", "refunded"), BODY,
                 "退货 %s 的退款 %s 元已原路退回，请注意查收。", r,
                 notification_yuan(ev->body.refund_issued.amount_fen).s);
        break;
    case RF_EV_REFUND_FAILED:
        snprintf(add(out, &n, NK_REFUND_FAILED_BUYER, "platform_im", "refund_delayed"), BODY,
                 "很抱歉，退货 %s 的退款 %s 元暂未成功，我们正在处理，请耐心等待。", r,
                 notification_yuan(ev->body.refund_failed.amount_fen).s);
        snprintf(add(out, &n, NK_REFUND_FAILED_OPS, "ops", "refund_failed"), BODY,
                 "【告警】退货 %s 的退款 %s 元执行失败：%s。", r,
                 notification_yuan(ev->body.refund_failed.amount_fen).s,
                 ev->body.refund_failed.error);
        break;
    case RF_EV_OPS_ALERT:
        snprintf(add(out, &n, NK_OPS_ALERT_OPS, "ops", "ops_alert"), BODY,
                 "【告警】%s：%s（退货 %s）%s%s", ev->body.ops_alert.kind,
                 ev->body.ops_alert.subject, r, *ev->body.ops_alert.detail ? "：" : "",
                 ev->body.ops_alert.detail);
        break;
    case RF_EV_RETURN_UPDATED:
        if (strcmp(ev->body.return_updated.platform_status, "arbitration") == 0)
            snprintf(add(out, &n, NK_ARBITRATION_OPS, "ops", "platform_arbitration"), BODY,
                     "【告警】退货 %s 已进入平台介入（%s），请尽快提交凭证。", r,
                     ev->body.return_updated.platform_code);
        break;
    case RF_EV_CLAIM_OPENED:
        snprintf(add(out, &n, NK_CLAIM_SUPPLIER, "email", "claim_opened"), BODY,
                 "退货 %s 已生成索赔单 %s，金额 %s 元。", r, ev->body.claim_opened.claim_id,
                 notification_yuan(ev->body.claim_opened.amount_fen).s);
        break;
    case RF_EV_RESHIP_UPDATED: {
        const char *st = ev->body.reship_updated.state;
        if (strcmp(st, "requested") == 0)
            snprintf(add(out, &n, NK_RESHIP_REQUESTED_SUPPLIER, "email", "reship_request"), BODY,
                     "换货 %s：买家退回的商品已验收，请补发一件新商品。", r);
        else if (strcmp(st, "shipped") == 0)
            snprintf(add(out, &n, NK_RESHIP_SHIPPED_BUYER, "platform_im", "exchange_shipped"), BODY,
                     "换货 %s 的新商品已发出，运单号 %s。", r, ev->body.reship_updated.tracking_no);
        else if (strcmp(st, "delivered") == 0)
            snprintf(add(out, &n, NK_RESHIP_DELIVERED_BUYER, "platform_im", "exchanged"), BODY,
                     "换货 %s 已完成，感谢您的耐心。", r);
        break;
    }
    default: break;
    }
    return n;
}

notification_yuan_t notification_yuan(int64_t fen) {
    notification_yuan_t y;
    const char *sign = fen < 0 ? "-" : "";
    uint64_t a = fen < 0 ? (uint64_t)0 - (uint64_t)fen : (uint64_t)fen;
    snprintf(y.s, sizeof y.s, "%s%llu.%02llu", sign, (unsigned long long)(a / 100),
             (unsigned long long)(a % 100));
    return y;
}

bool notification_completes(const rf_event_t *ev) {
    return ev->type == RF_EV_REFUND_ISSUED ||
           (ev->type == RF_EV_RESHIP_UPDATED &&
            strcmp(ev->body.reship_updated.state, "delivered") == 0);
}

void notification_survey_msg(const char *return_id, notification_msg_t *m) {
    m->kind = NK_SURVEY_BUYER;
    m->audience = "buyer";
    m->channel = "platform_im";
    m->template_name = "survey";
    snprintf(m->body, sizeof m->body,
             "您的售后 %s 已完成。请为本次服务打分（1-5 分）并留下您的意见，感谢您的支持！",
             return_id);
}

/* The messages of the bus batch being applied: gathered by
 * notification_apply, written in one statement by the batch end hook (both
 * hooks are installed by notification_start, before any event arrives). */
static notification_batch_t applying;

static void batch_begin(void *arg) {
    (void)arg;
    notification_batch_clear(&applying); /* what a rolled back batch left */
}

static int batch_end(void *arg, rf_bus_t *bus) {
    (void)arg;
    (void)bus;
    applying.webhook = *notification_webhook_url;
    return notification_batch_write(&applying, rf_worker_bus(worker), rf_worker_db(worker),
                                    notification_survey_delay_ms);
}

/* The policy for ev's return. Without shop sections, the default. Else the
 * shop from the event where it says (return.requested, return.approved),
 * remembered for the return's later events when the shop has its own;
 * otherwise what was remembered (the cache, then return_shops). 0 or -1. */
static int policy_for(const rf_event_t *ev, notification_policy_t *p) {
    *p = notification_policy_of_shop(NULL, NULL);
    if (notification_policy_shops() == 0) return 0;
    const char *shop = NULL;
    if (ev->type == RF_EV_RETURN_REQUESTED) shop = ev->body.return_requested.shop_id;
    else if (ev->type == RF_EV_RETURN_APPROVED && ev->body.return_approved.shop_id &&
             *ev->body.return_approved.shop_id)
        shop = ev->body.return_approved.shop_id;
    if (shop) {
        bool own;
        *p = notification_policy_of_shop(shop, &own);
        notification_shop_remember(ev->return_id, own ? shop : "");
        if (own && ev->type == RF_EV_RETURN_REQUESTED)
            return notification_batch_shop(&applying, ev->return_id, shop);
        return 0;
    }
    if (notification_shop_cached(ev->return_id, &shop) == 1) {
        *p = notification_policy_of_shop(shop, NULL);
        return 0;
    }
    char found[RF_ID_MAX];
    int rc = notification_db_return_shop(rf_worker_db(worker), ev->return_id, found, sizeof found);
    if (rc < 0) return -1;
    notification_shop_remember(ev->return_id, rc == 1 ? found : "");
    if (rc == 1) *p = notification_policy_of_shop(found, NULL);
    return 0;
}

rf_apply_result_t notification_apply(void *arg, const rf_event_t *ev, char *why, size_t whylen) {
    (void)arg;
    (void)why;
    (void)whylen;
    notification_msg_t msgs[NOTIFICATION_MAX_PER_EVENT];
    size_t n = notification_plan(ev, msgs);
    bool completes = notification_completes(ev);
    if (n == 0 && !completes) return RF_APPLY_OK; /* most events: nothing to look up */
    notification_policy_t policy;
    if (policy_for(ev, &policy) != 0) return RF_APPLY_ERROR;
    /* Only buyer-facing messages are announced (notice.sent, one per event:
     * notification_batch_write); an alert is not part of a return's story
     * (and may be about an event whose return intake never knew). */
    for (size_t i = 0; i < n; i++)
        if (notification_policy_sends(policy, msgs[i].kind) &&
            notification_batch_add(&applying, ev->return_id, ev->event_id, ev->event_id,
                                   strcmp(msgs[i].audience, "buyer") == 0, &msgs[i]) != 0)
            return RF_APPLY_ERROR;
    /* A completed return gets a satisfaction survey: at once, written with
     * this batch (the survey row once, with its message), or scheduled and
     * sent by the delivery timer once it is due. */
    if (completes && notification_policy_sends(policy, NK_SURVEY_BUYER)) {
        if (notification_survey_delay_ms > 0) {
            if (notification_batch_complete(&applying, ev->return_id) != 0) return RF_APPLY_ERROR;
        } else {
            notification_msg_t m;
            char source[RF_ID_MAX + 8];
            snprintf(source, sizeof source, "survey:%s", ev->return_id);
            notification_survey_msg(ev->return_id, &m);
            if (notification_batch_add(&applying, ev->return_id, source, ev->event_id, true, &m) !=
                0)
                return RF_APPLY_ERROR;
        }
    }
    return RF_APPLY_OK;
}

/* POST /v1/feedback {return_id, score 1..5, comment}: the buyer's answer to
 * the survey; recorded once, announced with feedback.received. */
static void post_feedback(rf_http_exchange_t *x) {
    json_t *doc = rf_worker_json_body(x);
    if (!doc) return;
    rf_jsonv_t v = {0};
    const char *return_id = rf_jsonv_str(doc, "return_id", true, RF_ID_MAX - 1, &v);
    int64_t score = rf_jsonv_i64(doc, "score", true, 0, 1, 5, &v);
    const char *comment = rf_jsonv_str(doc, "comment", false, 2000, &v);
    if (v.failed) {
        rf_http_reply_error(x, 400, "invalid_field", v.message);
        json_decref(doc);
        return;
    }
    rf_bus_t *bus = rf_worker_bus(worker);
    rf_db_t *db = rf_worker_db(worker);
    int n;
    if (rf_bus_tx_begin(bus) != 0 ||
        (n = notification_db_feedback(db, return_id, score, comment)) == -1)
        goto db_err;
    if (n == -2 || n == 0) {
        rf_bus_tx_rollback(bus);
        if (n == -2) rf_http_reply_error(x, 404, "no_survey", "no survey was sent for that return");
        else rf_http_reply_error(x, 409, "already_answered", "the survey was already answered");
        json_decref(doc);
        return;
    }
    rf_event_t ev;
    if (rf_bus_event_init(bus, &ev, RF_EV_FEEDBACK_RECEIVED, return_id, NULL) != 0) goto db_err;
    ev.body.feedback_received.score = score;
    int rc = rf_event_set_str(&ev.body.feedback_received.comment, comment);
    if (rc == 0) rc = rf_bus_emit(bus, &ev);
    rf_event_clear(&ev);
    if (rc != 0 || rf_bus_tx_commit(bus) != 0) goto db_err;
    rf_info("event=feedback_received return_id=%s score=%lld", return_id, (long long)score);
    rf_http_reply_json(x, 200,
                       json_pack("{s:s, s:I}", "return_id", return_id, "score", (json_int_t)score));
    json_decref(doc);
    return;
db_err:
    rf_bus_tx_rollback(bus);
    rf_http_reply_error(x, 503, "db_unavailable", "could not record the feedback; retry");
    json_decref(doc);
}

/* GET /v1/messages?return_id=X, POST /v1/feedback */
bool notification_route(void *arg, rf_http_exchange_t *x) {
    (void)arg;
    if (strcmp(rf_http_method(x), "POST") == 0 && strcmp(rf_http_path(x), "/v1/feedback") == 0) {
        post_feedback(x);
        return true;
    }
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

static uv_timer_t delivery_timer;

#define DELIVERY_BATCH 500  /* messages per transaction */
#define DELIVERY_BATCHES 40 /* at most per tick, so the loop stays responsive */

/* Deliver what is due, batch after batch while full ones come back, so the
 * queue keeps up with thousands of messages a second. */
static void deliver_tick(uv_timer_t *t) {
    (void)t;
    for (int i = 0; i < DELIVERY_BATCHES; i++)
        if (notification_send_surveys(worker, DELIVERY_BATCH) < DELIVERY_BATCH) break;
    for (int i = 0; i < DELIVERY_BATCHES; i++)
        if (notification_deliver_due(worker, DELIVERY_BATCH) < DELIVERY_BATCH) break;
}

int notification_start(void *arg, rf_worker_t *w) {
    (void)arg;
    worker = w;
    if (notification_policy_load() != 0) return -1;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) return -1;
    if (notification_batch_init(&applying) != 0) return -1;
    /* Every row notification writes is keyed by what caused it (a message by
     * its event and audience, a survey by its return), ON CONFLICT DO
     * NOTHING, and notice.sent follows only a message newly written: an
     * event applied twice has its effect once without an inbox row (the
     * bus's own_dedup). A redelivery then counts as applied, not as a
     * duplicate. */
    rf_bus_set_batch_hooks(
        rf_worker_bus(w),
        &(rf_bus_batch_hooks_t){.flush = batch_end, .discard = batch_begin, .own_dedup = true});
    rf_info("event=notification_channels log=1 webhook=%s shops_with_policy=%zu",
            *notification_webhook_url ? "1" : "0", notification_policy_shops());
    uv_timer_init(rf_worker_loop(w), &delivery_timer);
    uv_unref((uv_handle_t *)&delivery_timer);
    uv_timer_start(&delivery_timer, deliver_tick, (uint64_t)notification_delivery_ms,
                   (uint64_t)notification_delivery_ms);
    return 0;
}
