/*
 * channels.c: delivering recorded messages, and sending surveys.
 *
 * Every message is recorded once (idempotency key: source event + audience)
 * with status queued. A timer delivers what is due: the log channel (one
 * structured line per message) always, and the HTTP webhook
 * (RF_NOTIFICATION_WEBHOOK_URL) when configured: a JSON POST carrying the
 * message's idempotency key in an Idempotency-Key header, bounded by
 * RF_NOTIFICATION_WEBHOOK_TIMEOUT_MS and sent asynchronously on the worker's
 * loop (rf/httpc.h), so a slow or dead endpoint never holds up the events. A
 * failed call is retried with backoff (the same key: the receiver dedupes),
 * then the message is marked failed.
 *
 * Surveys: a completed return has a survey row with its due time; the tick
 * records the survey message (zh-CN) and announces it with notice.sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notification.h"
#include "rf/httpc.h"
#include "rf/ids.h"
#include "rf/log.h"

int64_t notification_retry_delay_ms(int64_t base_ms, int attempts) {
    if (attempts < 1) attempts = 1;
    int64_t d = base_ms;
    for (int i = 1; i < attempts && d < 3600000; i++) d *= 2;
    return d > 3600000 ? 3600000 : d;
}

/* One webhook call on the wire: what its answer must update. */
typedef struct webhook_call {
    rf_worker_t *worker;
    char notice_id[RF_ID_MAX], return_id[RF_ID_MAX];
    int attempts; /* failed attempts before this one */
} webhook_call_t;

static rf_httpc_t *webhook_client;
static size_t webhook_in_flight;

static void webhook_done(void *arg, long status, const char *body, size_t len, const char *error) {
    (void)body;
    (void)len;
    webhook_call_t *call = arg;
    rf_db_t *db = rf_worker_db(call->worker);
    webhook_in_flight--;
    char err[256] = "";
    if (status == 0)
        snprintf(err, sizeof err, "webhook: %s", error ? error : "no answer");
    else if (status < 200 || status > 299)
        snprintf(err, sizeof err, "webhook answered HTTP %ld", status);
    if (!*err) {
        rf_info("event=notice_delivered channel=log notice_id=%s return_id=%s via=log+webhook",
                call->notice_id, call->return_id);
        notification_db_delivered(db, call->notice_id, "log+webhook");
    } else {
        bool final = call->attempts + 1 >= notification_retry_max;
        int64_t delay = notification_retry_delay_ms(notification_retry_base_ms, call->attempts + 1);
        notification_db_delivery_failed(db, call->notice_id, err, delay, final);
        rf_warn("event=notice_delivery_failed notice_id=%s return_id=%s attempt=%d final=%d"
                " error=\"%s\"",
                call->notice_id, call->return_id, call->attempts + 1, final, err);
    }
    /* A database error above leaves the message queued: it is sent again
     * with the same key, and the receiver dedupes. */
    free(call);
}

/* Start the webhook call of message m (from notification_db_queue_due).
 * 0 started, -1 not (it stays queued for the next tick). */
static int webhook_start(rf_worker_t *w, json_t *m) {
    const char *key = json_string_value(json_object_get(m, "idempotency_key"));
    if (!webhook_client && !(webhook_client = rf_httpc_new(rf_worker_loop(w)))) return -1;
    webhook_call_t *call = calloc(1, sizeof *call);
    char *text = json_dumps(m, JSON_COMPACT);
    char header[RF_ID_MAX + 300];
    snprintf(header, sizeof header, "Idempotency-Key: %s", key);
    const char *headers[] = {header, NULL};
    int rc = -1;
    if (call && text) {
        call->worker = w;
        snprintf(call->notice_id, sizeof call->notice_id, "%s",
                 json_string_value(json_object_get(m, "notice_id")));
        snprintf(call->return_id, sizeof call->return_id, "%s",
                 json_string_value(json_object_get(m, "return_id")));
        call->attempts = (int)json_integer_value(json_object_get(m, "attempts"));
        rc = rf_httpc_post_headers(webhook_client, notification_webhook_url, "application/json",
                                   headers, text, strlen(text), (long)notification_webhook_timeout_ms,
                                   webhook_done, call);
    }
    free(text);
    if (rc != 0) {
        free(call);
        return -1;
    }
    webhook_in_flight++;
    return 0;
}

/* Record and announce the survey of each due return (one transaction). */
static void send_surveys(rf_worker_t *w) {
    rf_bus_t *bus = rf_worker_bus(w);
    rf_db_t *db = rf_worker_db(w);
    if (rf_bus_tx_begin(bus) != 0) return;
    json_t *due = notification_db_surveys_due(db);
    int rc = due ? 0 : -1;
    size_t i;
    json_t *rid;
    json_array_foreach(due, i, rid) {
        const char *return_id = json_string_value(rid);
        char notice_id[RF_ULID_LEN + 1], source[RF_ID_MAX + 8];
        rf_ulid_new(notice_id);
        snprintf(source, sizeof source, "survey:%s", return_id);
        notification_msg_t m = {"buyer", "platform_im", "survey", ""};
        snprintf(m.body, sizeof m.body,
                 "您的售后 %s 已完成。请为本次服务打分（1-5 分）并留下您的意见，感谢您的支持！",
                 return_id);
        rf_event_t src;
        if (rf_event_init(&src, RF_EV_NOTICE_SENT) != 0) {
            rc = -1;
            break;
        }
        int recorded = rf_event_set_str(&src.event_id, source) |
                               rf_event_set_str(&src.return_id, return_id)
                           ? -1
                           : notification_db_record(db, notice_id, &src, &m);
        rf_event_clear(&src);
        if (recorded < 0 || notification_db_survey_sent(db, return_id, notice_id) != 0) {
            rc = -1;
            break;
        }
        if (recorded == 0) continue;
        rf_event_t ev;
        if (rf_bus_event_init(bus, &ev, RF_EV_NOTICE_SENT, return_id, NULL) != 0) {
            rc = -1;
            break;
        }
        rf_body_notice_sent_t *b = &ev.body.notice_sent;
        rc = rf_event_set_str(&b->notice_id, notice_id) |
             rf_event_set_str(&b->channel, "platform_im") | rf_event_set_str(&b->audience, "buyer") |
             rf_event_set_str(&b->template_name, "survey") |
             rf_event_set_str(&b->source_event_id, source);
        if (rc == 0) rc = rf_bus_emit(bus, &ev);
        rf_event_clear(&ev);
        if (rc != 0) break;
        rf_info("event=survey_sent return_id=%s notice_id=%s", return_id, notice_id);
    }
    json_decref(due);
    if (rc != 0 || rf_bus_tx_commit(bus) != 0) rf_bus_tx_rollback(bus);
}

size_t notification_deliver_due(rf_worker_t *w, size_t limit, bool surveys) {
    rf_db_t *db = rf_worker_db(w);
    if (!rf_db_connected(db)) return 0;
    if (surveys) send_surveys(w);
    /* Webhook calls run on the loop (rf/httpc.h); the next batch is read only
     * when the last one has been answered, so a message is never on the wire
     * twice at once and a slow endpoint never blocks the worker. */
    if (webhook_in_flight > 0) return 0;
    /* The webhook's calls go out at once: at most 100 in flight. */
    json_t *due = notification_db_queue_due(db, *notification_webhook_url && limit > 100
                                                    ? 100
                                                    : (int)limit);
    size_t n = json_array_size(due);
    /* The log channel marks its batch in one transaction (one commit), not
     * one per message; a message whose mark is lost with it is delivered
     * again (at least once, the idempotency key tells the receiver). */
    bool tx = n > 0 && !*notification_webhook_url && rf_db_begin(db) == 0;
    size_t i;
    json_t *m;
    json_array_foreach(due, i, m) {
        const char *id = json_string_value(json_object_get(m, "notice_id"));
        const char *rid = json_string_value(json_object_get(m, "return_id"));
        const char *key = json_string_value(json_object_get(m, "idempotency_key"));
        if (!id || !rid || !key) continue;
        if (*notification_webhook_url) {
            if (webhook_start(w, m) != 0) break;
            continue;
        }
        const char *tpl = json_string_value(json_object_get(m, "template"));
        const char *aud = json_string_value(json_object_get(m, "audience"));
        rf_info("event=notice_delivered channel=log notice_id=%s return_id=%s audience=%s"
                " template=%s via=log",
                id, rid, aud ? aud : "", tpl ? tpl : "");
        notification_db_delivered(db, id, "log");
    }
    if (tx && rf_db_commit(db) != 0) rf_db_rollback(db);
    json_decref(due);
    return *notification_webhook_url ? 0 : n; /* webhook: the next batch after the answers */
}
