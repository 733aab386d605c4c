/*
 * channels.c: delivering recorded messages, and sending surveys.
 *
 * Every message is recorded once (idempotency key: source event + audience)
 * with status queued. A timer delivers what is due: the log channel (one
 * structured line per message) always, and the HTTP webhook
 * (RF_NOTIFICATION_WEBHOOK_URL) when configured: a JSON POST carrying the
 * message's idempotency key in an Idempotency-Key header, bounded by
 * RF_NOTIFICATION_WEBHOOK_TIMEOUT_MS. A failed call is retried with backoff
 * (the same key: the receiver dedupes), then the message is marked failed. A
 * tick stops at the first webhook failure, so a dead endpoint holds the loop
 * for at most one timeout per tick.
 *
 * Surveys: a completed return has a survey row with its due time; the tick
 * records the survey message (zh-CN) and announces it with notice.sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "notification.h"
#include "rf/ids.h"
#include "rf/log.h"

int64_t notification_retry_delay_ms(int64_t base_ms, int attempts) {
    if (attempts < 1) attempts = 1;
    int64_t d = base_ms;
    for (int i = 1; i < attempts && d < 3600000; i++) d *= 2;
    return d > 3600000 ? 3600000 : d;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *userdata) {
    (void)ptr;
    (void)userdata;
    return size * nmemb;
}

int notification_webhook_post(const char *url, const char *json, const char *key,
                              int64_t timeout_ms, char *err, size_t errlen) {
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(err, errlen, "curl_easy_init failed");
        return -1;
    }
    char header[300];
    snprintf(header, sizeof header, "Idempotency-Key: %s", key);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, header);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "webhook: %s", curl_easy_strerror(rc));
        return -1;
    }
    if (status < 200 || status > 299) {
        snprintf(err, errlen, "webhook answered HTTP %ld", status);
        return -1;
    }
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
    json_t *due = notification_db_queue_due(db, (int)limit);
    size_t n = json_array_size(due);
    /* One transaction (one commit) for the whole pass, not one per message;
     * a message whose mark is lost with it is delivered again (at least once,
     * the idempotency key tells the receiver). */
    bool tx = json_array_size(due) > 0 && rf_db_begin(db) == 0;
    size_t i;
    json_t *m;
    json_array_foreach(due, i, m) {
        const char *id = json_string_value(json_object_get(m, "notice_id"));
        const char *rid = json_string_value(json_object_get(m, "return_id"));
        const char *tpl = json_string_value(json_object_get(m, "template"));
        const char *aud = json_string_value(json_object_get(m, "audience"));
        const char *key = json_string_value(json_object_get(m, "idempotency_key"));
        int attempts = (int)json_integer_value(json_object_get(m, "attempts"));
        if (!id || !rid || !key) continue;
        const char *via = "log";
        if (*notification_webhook_url) {
            char *text = json_dumps(m, JSON_COMPACT);
            char err[256] = "";
            int ok = text ? notification_webhook_post(notification_webhook_url, text, key,
                                                      notification_webhook_timeout_ms, err,
                                                      sizeof err)
                          : -1;
            free(text);
            if (ok != 0) {
                bool final = attempts + 1 >= notification_retry_max;
                int64_t delay = notification_retry_delay_ms(notification_retry_base_ms,
                                                            attempts + 1);
                notification_db_delivery_failed(db, id, err, delay, final);
                rf_warn("event=notice_delivery_failed notice_id=%s return_id=%s attempt=%d"
                        " final=%d error=\"%s\"",
                        id, rid, attempts + 1, final, err);
                n = 0; /* the endpoint is in trouble: try the rest next tick */
                break;
            }
            via = "log+webhook";
        }
        rf_info("event=notice_delivered channel=log notice_id=%s return_id=%s audience=%s"
                " template=%s via=%s",
                id, rid, aud ? aud : "", tpl ? tpl : "", via);
        notification_db_delivered(db, id, via);
    }
    if (tx && rf_db_commit(db) != 0) rf_db_rollback(db);
    json_decref(due);
    return n;
}
