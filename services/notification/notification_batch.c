/*
 * notification_batch.c: messages gathered for one transaction and recorded
 * together, in one statement (notification_db_record_batch), then each new
 * one announced with notice.sent.
 *
 * The bus applies a batch of events in one transaction; notification_apply
 * only gathers the messages they call for (and the returns they complete),
 * and the bus's batch end hook writes them all before COMMIT, so a message
 * is durably recorded before its event is acknowledged, as before, with one
 * statement per batch instead of one per message.
 */
#include <stdlib.h>
#include <string.h>

#include "notification.h"
#include "rf/ids.h"
#include "rf/log.h"

void notification_batch_init(notification_batch_t *b) {
    b->messages = json_array();
    b->completed = json_array();
}

void notification_batch_clear(notification_batch_t *b) {
    json_array_clear(b->messages);
    json_array_clear(b->completed);
}

void notification_batch_free(notification_batch_t *b) {
    json_decref(b->messages);
    json_decref(b->completed);
    b->messages = b->completed = NULL;
}

bool notification_batch_empty(const notification_batch_t *b) {
    return json_array_size(b->messages) == 0 && json_array_size(b->completed) == 0;
}

int notification_batch_add(notification_batch_t *b, const char *return_id,
                           const char *source_event_id, const char *causation_id, bool announce,
                           const notification_msg_t *m) {
    if (!b->messages || !b->completed) return -1;
    char notice_id[RF_ULID_LEN + 1];
    rf_ulid_new(notice_id);
    /* i: the message's place, which the statement answers for the new ones. */
    json_t *row = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s++, s:s, s:b}", "i",
                            (json_int_t)json_array_size(b->messages) + 1, "notice_id", notice_id,
                            "return_id", return_id, "source_event_id", source_event_id,
                            "audience", m->audience, "channel", m->channel, "template_name",
                            m->template_name, "body", m->body, "idempotency_key",
                            source_event_id, ":", m->audience, "causation_id",
                            causation_id ? causation_id : "", "announce", announce);
    return json_array_append_new(b->messages, row);
}

int notification_batch_complete(notification_batch_t *b, const char *return_id) {
    return b->completed ? json_array_append_new(b->completed, json_string(return_id)) : -1;
}

/* Emit notice.sent for the recorded message m (a row of b->messages). */
static int announce(rf_bus_t *bus, json_t *m) {
#define FIELD(k) json_string_value(json_object_get(m, k))
    const char *causation = FIELD("causation_id");
    rf_event_t ev;
    if (rf_bus_event_init(bus, &ev, RF_EV_NOTICE_SENT, FIELD("return_id"),
                          causation && *causation ? causation : NULL) != 0)
        return -1;
    rf_body_notice_sent_t *b = &ev.body.notice_sent;
    int rc = rf_event_set_str(&b->notice_id, FIELD("notice_id")) |
             rf_event_set_str(&b->channel, FIELD("channel")) |
             rf_event_set_str(&b->audience, FIELD("audience")) |
             rf_event_set_str(&b->template_name, FIELD("template_name")) |
             rf_event_set_str(&b->source_event_id, FIELD("source_event_id"));
#undef FIELD
    if (rc == 0) rc = rf_bus_emit(bus, &ev);
    rf_event_clear(&ev);
    return rc;
}

int notification_batch_write(notification_batch_t *b, rf_bus_t *bus, rf_db_t *db,
                             int64_t survey_delay_ms) {
    if (notification_batch_empty(b)) return 0;
    size_t n = json_array_size(b->messages);
    bool *recorded = calloc(n ? n : 1, sizeof *recorded);
    int rc = recorded ? notification_db_record_batch(db, b->messages, b->completed,
                                                     survey_delay_ms, recorded)
                      : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        json_t *m = json_array_get(b->messages, i);
        /* Not new: that event (or survey) already told that audience. */
        if (!recorded[i] || !json_is_true(json_object_get(m, "announce"))) continue;
        rc = announce(bus, m);
        if (rc == 0 && strcmp(json_string_value(json_object_get(m, "template_name")), "survey") == 0)
            rf_info("event=survey_sent return_id=%s notice_id=%s",
                    json_string_value(json_object_get(m, "return_id")),
                    json_string_value(json_object_get(m, "notice_id")));
    }
    free(recorded);
    notification_batch_clear(b);
    return rc;
}
