/*
 * notification_batch.c: messages gathered for one transaction and recorded
 * together, in one statement (notification_db_record_batch): without the
 * webhook the log channel delivers each new one right here (a structured
 * line) and the statement writes it final, once; then one notice.sent per
 * event that made a new buyer-facing message.
 *
 * The bus applies a batch of events in one transaction; notification_apply
 * only gathers the messages they call for (and the returns they complete),
 * and the bus's batch end hook writes them all before COMMIT, so a message
 * is durably recorded before its event is acknowledged, as before, with one
 * statement per batch instead of one per message.
 */
#include <string.h>

#include "notification.h"
#include "runtime/ids.h"
#include "runtime/log.h"

int notification_batch_init(notification_batch_t *b) {
    b->webhook = false;
    return notification_rows_init(&b->messages, MSG_COLS) |
           notification_rows_init(&b->completed, 1) | notification_rows_init(&b->shops, 2);
}

int notification_batch_clear(notification_batch_t *b) {
    return notification_rows_reset(&b->messages) | notification_rows_reset(&b->completed) |
           notification_rows_reset(&b->shops);
}

void notification_batch_free(notification_batch_t *b) {
    notification_rows_free(&b->messages);
    notification_rows_free(&b->completed);
    notification_rows_free(&b->shops);
}

bool notification_batch_empty(const notification_batch_t *b) {
    return b->messages.n == 0 && b->completed.n == 0 && b->shops.n == 0;
}

int notification_batch_add(notification_batch_t *b, const char *return_id,
                           const char *source_event_id, const char *causation_id, bool announce,
                           const notification_msg_t *m) {
    char notice_id[RF_ULID_LEN + 1];
    rf_ulid_new(notice_id);
    /* The idempotency key, source_event_id:audience, is made by the statement. */
    const char *row[MSG_COLS] = {
        [MSG_NOTICE_ID] = notice_id,
        [MSG_RETURN_ID] = return_id,
        [MSG_SOURCE_EVENT_ID] = source_event_id,
        [MSG_AUDIENCE] = m->audience,
        [MSG_CHANNEL] = m->channel,
        [MSG_TEMPLATE] = m->template_name,
        [MSG_BODY] = m->body,
        [MSG_CAUSATION_ID] = causation_id,
        [MSG_ANNOUNCE] = announce ? "t" : "f",
    };
    return notification_rows_add(&b->messages, row);
}

int notification_batch_complete(notification_batch_t *b, const char *return_id) {
    const char *row[] = {return_id};
    return notification_rows_add(&b->completed, row);
}

int notification_batch_shop(notification_batch_t *b, const char *return_id, const char *shop_id) {
    const char *row[] = {return_id, shop_id};
    return notification_rows_add(&b->shops, row);
}

/* Emit notice.sent for row r of the new messages. */
static int announce(rf_bus_t *bus, const PGresult *res, int r) {
    const char *causation = rf_get_str(res, r, NEW_CAUSATION_ID);
    rf_event_t ev;
    if (rf_bus_event_init(bus, &ev, RF_EV_NOTICE_SENT, rf_get_str(res, r, NEW_RETURN_ID),
                          *causation ? causation : NULL) != 0)
        return -1;
    rf_body_notice_sent_t *b = &ev.body.notice_sent;
    int rc = rf_event_set_str(&b->notice_id, rf_get_str(res, r, NEW_NOTICE_ID)) |
             rf_event_set_str(&b->channel, rf_get_str(res, r, NEW_CHANNEL)) |
             rf_event_set_str(&b->audience, rf_get_str(res, r, NEW_AUDIENCE)) |
             rf_event_set_str(&b->template_name, rf_get_str(res, r, NEW_TEMPLATE)) |
             rf_event_set_str(&b->source_event_id, rf_get_str(res, r, NEW_SOURCE_EVENT_ID));
    if (rc == 0) rc = rf_bus_emit(bus, &ev);
    rf_event_clear(&ev);
    return rc;
}

int notification_batch_write(notification_batch_t *b, rf_bus_t *bus, rf_db_t *db,
                             int64_t survey_delay_ms) {
    if (notification_batch_empty(b)) return 0;
    PGresult *res = notification_db_record_batch(db, b, survey_delay_ms);
    int rc = res ? 0 : -1;
    /* Only the new ones: a message already recorded told its audience. One
     * notice.sent per event (causation) whose new messages include a
     * buyer's: the first (an event's messages are next to each other). */
    const char *announced = NULL;
    for (int r = 0; rc == 0 && res && r < PQntuples(res); r++) {
        const char *id = rf_get_str(res, r, NEW_NOTICE_ID);
        const char *rid = rf_get_str(res, r, NEW_RETURN_ID);
        const char *tmpl = rf_get_str(res, r, NEW_TEMPLATE);
        const char *cause = rf_get_str(res, r, NEW_CAUSATION_ID);
        /* The log channel finished within this transaction: the line, and
         * the row already final (a batch rolled back logs again when it is
         * applied again: at least once, with the same key). */
        if (!b->webhook)
            rf_info("event=notice_delivered channel=log notice_id=%s return_id=%s audience=%s"
                    " template=%s via=log",
                    id, rid, rf_get_str(res, r, NEW_AUDIENCE), tmpl);
        if (strcmp(tmpl, "survey") == 0)
            rf_info("event=survey_sent return_id=%s notice_id=%s", rid, id);
        if (strcmp(rf_get_str(res, r, NEW_ANNOUNCE), "t") != 0) continue;
        if (*cause && announced && strcmp(announced, cause) == 0) continue;
        rc = announce(bus, res, r);
        announced = *cause ? cause : NULL;
    }
    if (res) PQclear(res);
    if (notification_batch_clear(b) != 0) rc = -1;
    return rc;
}
