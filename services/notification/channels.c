/*
 * channels.c: delivering queued messages, and sending scheduled surveys.
 *
 * Without the webhook every message is delivered by the log channel (one
 * structured line) inside the transaction that records it, and written once
 * in its final state (notification_batch.c). With the HTTP webhook
 * (RF_NOTIFICATION_WEBHOOK_URL) a message waits in deliveries, a queue of
 * its own whose rows leave when delivered: a timer sends what is due as a
 * JSON POST carrying the message's idempotency key in an Idempotency-Key
 * header, bounded by RF_NOTIFICATION_WEBHOOK_TIMEOUT_MS and sent
 * asynchronously on the worker's loop (http/httpc.h), so a slow or dead
 * endpoint never holds up the events. A failed call is retried with backoff
 * (the same key: the receiver dedupes), then the message is given up
 * (failed). A queued message left when the webhook is turned off is
 * delivered by the log channel.
 *
 * Outcomes (delivered, to retry, failed) are recorded in one statement per
 * batch of deliveries: a delivered or failed message leaves the queue and is
 * written to messages, final. Surveys with a delay: a completed return has a
 * schedule row with its due time; the tick records the due surveys' messages
 * (zh-CN) and their survey rows in one statement and announces them with
 * notice.sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notification.h"
#include "http/httpc.h"
#include "runtime/ids.h"
#include "runtime/log.h"

char notification_webhook_url[RF_CFG_STR_MAX];
int64_t notification_webhook_timeout_ms = 2000;
int64_t notification_retry_max = 8;
int64_t notification_retry_base_ms = 1000;

int64_t notification_retry_delay_ms(int64_t base_ms, int attempts) {
    if (attempts < 1) attempts = 1;
    int64_t d = base_ms;
    for (int i = 1; i < attempts && d < 3600000; i++) d *= 2;
    return d > 3600000 ? 3600000 : d;
}

/* Outcomes of delivery attempts not yet recorded: written in one statement
 * (notification_db_delivery_outcomes) per log batch, and per webhook batch
 * once its last answer is in. An outcome lost with a database error leaves
 * its message queued: it is delivered again with the same key, and the
 * receiver dedupes. */
static notification_rows_t outcomes;
static bool outcomes_ready;

static void outcome_add(const char *key, const char *status, const char *via, const char *error,
                        int64_t delay_ms) {
    if (!outcomes_ready && notification_rows_init(&outcomes, OUT_COLS) != 0) return;
    outcomes_ready = true;
    rf_num_t d = rf_i64(delay_ms);
    const char *row[OUT_COLS] = {[OUT_KEY] = key,
                                 [OUT_STATUS] = status,
                                 [OUT_VIA] = via,
                                 [OUT_ERROR] = error,
                                 [OUT_DELAY_MS] = d.s};
    notification_rows_add(&outcomes, row);
}

static void outcomes_write(rf_db_t *db) {
    if (!outcomes_ready || outcomes.n == 0) return;
    if (notification_db_delivery_outcomes(db, &outcomes) != 0)
        rf_warn("event=delivery_outcomes_not_recorded count=%zu error=\"%s\"", outcomes.n,
                rf_db_error(db));
    notification_rows_reset(&outcomes);
}

/* One webhook call on the wire: what its answer must update. */
typedef struct webhook_call {
    rf_worker_t *worker;
    char notice_id[RF_ID_MAX], return_id[RF_ID_MAX];
    char key[RF_ID_MAX + 40]; /* idempotency key: source event id:audience */
    int attempts;             /* failed attempts before this one */
} webhook_call_t;

static rf_httpc_t *webhook_client;
static size_t webhook_in_flight;

static void webhook_done(void *arg, long status, const char *body, size_t len, const char *error) {
    (void)body;
    (void)len;
    webhook_call_t *call = arg;
    webhook_in_flight--;
    char err[256] = "";
    if (status == 0) snprintf(err, sizeof err, "webhook: %s", error ? error : "no answer");
    else if (status < 200 || status > 299)
        snprintf(err, sizeof err, "webhook answered HTTP %ld", status);
    if (!*err) {
        rf_info("event=notice_delivered channel=log notice_id=%s return_id=%s via=log+webhook",
                call->notice_id, call->return_id);
        outcome_add(call->key, "sent", "log+webhook", NULL, 0);
    } else {
        bool final = call->attempts + 1 >= notification_retry_max;
        int64_t delay = notification_retry_delay_ms(notification_retry_base_ms, call->attempts + 1);
        outcome_add(call->key, final ? "failed" : "queued", NULL, err, delay);
        rf_warn("event=notice_delivery_failed notice_id=%s return_id=%s attempt=%d final=%d"
                " error=\"%s\"",
                call->notice_id, call->return_id, call->attempts + 1, final, err);
    }
    /* The batch's last answer: its outcomes in one statement. */
    if (webhook_in_flight == 0) outcomes_write(rf_worker_db(call->worker));
    free(call);
}

/* Start the webhook call of row r of due (from notification_db_queue_due):
 * the message as JSON. 0 started, -1 not (it stays queued for the next tick). */
static int webhook_start(rf_worker_t *w, const PGresult *due, int r) {
    const char *key = rf_get_str(due, r, DUE_IDEMPOTENCY_KEY);
    if (!webhook_client && !(webhook_client = rf_httpc_new(rf_worker_loop(w)))) return -1;
    webhook_call_t *call = calloc(1, sizeof *call);
    json_t *m = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "notice_id",
        rf_get_str(due, r, DUE_NOTICE_ID), "return_id", rf_get_str(due, r, DUE_RETURN_ID),
        "audience", rf_get_str(due, r, DUE_AUDIENCE), "channel", rf_get_str(due, r, DUE_CHANNEL),
        "template", rf_get_str(due, r, DUE_TEMPLATE), "body", rf_get_str(due, r, DUE_BODY),
        "locale", rf_get_str(due, r, DUE_LOCALE), "idempotency_key", key, "source_event_id",
        rf_get_str(due, r, DUE_SOURCE_EVENT_ID), "attempts",
        (json_int_t)rf_get_i64(due, r, DUE_ATTEMPTS));
    char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
    json_decref(m);
    char header[RF_ID_MAX + 300];
    snprintf(header, sizeof header, "Idempotency-Key: %s", key);
    const char *headers[] = {header, NULL};
    int rc = -1;
    if (call && text) {
        call->worker = w;
        snprintf(call->notice_id, sizeof call->notice_id, "%s", rf_get_str(due, r, DUE_NOTICE_ID));
        snprintf(call->return_id, sizeof call->return_id, "%s", rf_get_str(due, r, DUE_RETURN_ID));
        snprintf(call->key, sizeof call->key, "%s", key);
        call->attempts = (int)rf_get_i64(due, r, DUE_ATTEMPTS);
        rc = rf_httpc_post_headers(webhook_client, notification_webhook_url, "application/json",
                                   headers, text, strlen(text),
                                   (long)notification_webhook_timeout_ms, webhook_done, call);
    }
    free(text);
    if (rc != 0) {
        free(call);
        return -1;
    }
    webhook_in_flight++;
    return 0;
}

size_t notification_send_surveys(rf_worker_t *w, size_t limit) {
    static notification_batch_t surveys;
    static bool surveys_ready;
    rf_bus_t *bus = rf_worker_bus(w);
    rf_db_t *db = rf_worker_db(w);
    if (!surveys_ready && notification_batch_init(&surveys) != 0) return 0;
    surveys_ready = true;
    if (!rf_db_connected(db) || rf_bus_tx_begin(bus) != 0) return 0;
    json_t *due = notification_db_surveys_due(db, (int)limit);
    int rc = due ? 0 : -1;
    size_t i;
    json_t *rid;
    json_array_foreach(due, i, rid) {
        const char *return_id = json_string_value(rid);
        char source[RF_ID_MAX + 8];
        snprintf(source, sizeof source, "survey:%s", return_id);
        notification_msg_t m;
        notification_survey_msg(return_id, &m);
        if ((rc = notification_batch_add(&surveys, return_id, source, NULL, true, &m)) != 0) break;
    }
    surveys.webhook = *notification_webhook_url;
    /* One statement records the messages and their survey rows. */
    if (rc == 0) rc = notification_batch_write(&surveys, bus, db, 0);
    notification_batch_clear(&surveys);
    size_t n = rc == 0 ? json_array_size(due) : 0;
    json_decref(due);
    if (rc != 0 || rf_bus_tx_commit(bus) != 0) {
        rf_bus_tx_rollback(bus);
        return 0;
    }
    return n;
}

size_t notification_deliver_due(rf_worker_t *w, size_t limit) {
    rf_db_t *db = rf_worker_db(w);
    if (!rf_db_connected(db)) return 0;
    /* Webhook calls run on the loop (http/httpc.h); the next batch is read only
     * when the last one has been answered, so a message is never on the wire
     * twice at once and a slow endpoint never blocks the worker. */
    if (webhook_in_flight > 0) return 0;
    outcomes_write(db); /* any left by a batch whose start failed part way */
    bool webhook = *notification_webhook_url;
    /* The webhook's calls go out at once: at most 100 in flight. */
    PGresult *due = notification_db_queue_due(db, webhook && limit > 100 ? 100 : (int)limit);
    int n = due ? PQntuples(due) : 0;
    for (int r = 0; r < n; r++) {
        const char *id = rf_get_str(due, r, DUE_NOTICE_ID);
        if (webhook) {
            if (webhook_start(w, due, r) != 0) break;
            continue;
        }
        rf_info("event=notice_delivered channel=log notice_id=%s return_id=%s audience=%s"
                " template=%s via=log",
                id, rf_get_str(due, r, DUE_RETURN_ID), rf_get_str(due, r, DUE_AUDIENCE),
                rf_get_str(due, r, DUE_TEMPLATE));
        outcome_add(rf_get_str(due, r, DUE_IDEMPOTENCY_KEY), "sent", "log", NULL, 0);
    }
    if (due) PQclear(due);
    /* The log channel's batch (messages queued before the webhook was
     * turned off): its outcomes in one statement. A batch whose outcome is
     * lost is delivered again (at least once; the idempotency key tells the
     * receiver). */
    if (!webhook) outcomes_write(db);
    return webhook ? 0 : (size_t)n; /* webhook: the next batch after the answers */
}
