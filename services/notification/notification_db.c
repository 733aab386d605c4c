/*
 * notification_db.c: the notification worker's SQL, over its own schema only.
 */
#include <stdio.h>
#include <string.h>

#include "notification.h"

PGresult *notification_db_record_batch(rf_db_t *db, notification_batch_t *b,
                                       int64_t survey_delay_ms) {
    rf_num_t d = rf_i64(survey_delay_ms);
    const char *p[MSG_COLS + 6];
    for (int c = 0; c < MSG_COLS; c++) p[c] = notification_rows_literal(&b->messages, c);
    p[MSG_COLS] = notification_rows_literal(&b->completed, 0);
    p[MSG_COLS + 1] = d.s;
    p[MSG_COLS + 2] = b->webhook ? "t" : "f";
    p[MSG_COLS + 3] = notification_rows_literal(&b->shops, 0);
    p[MSG_COLS + 4] = notification_rows_literal(&b->shops, 1);
    /* The messages keep their order (ORDER BY i), and so do the new ones in
     * the answer. Each is written once: without the webhook ($12 false) in
     * messages, final (the log channel delivered it in this transaction);
     * with it in deliveries, until delivered. Either way not when its key is
     * in the other table already (a message queued before the webhook was
     * turned off, or delivered since). A new survey message writes its
     * survey row, once, and its schedule (if any) leaves; a return completed
     * with a delay gets its schedule, once; shops are remembered. */
    return rf_db_query(
        db,
        "WITH m AS (SELECT m.*, m.source_event_id || ':' || m.audience AS ikey"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"
        " $5::text[], $6::text[], $7::text[], $8::text[], $9::boolean[]) WITH ORDINALITY"
        " AS m(notice_id, return_id, source_event_id, audience, channel, template_name, body,"
        " causation_id, announce, i)),"
        " fin AS (INSERT INTO messages (idempotency_key, notice_id, return_id, source_event_id,"
        " audience, channel, template_name, body, status, attempts, delivered_at, delivered_via)"
        " SELECT ikey, notice_id, return_id, source_event_id, audience, channel, template_name,"
        " body, 'sent', 1, now(), 'log' FROM m WHERE NOT $12::boolean"
        " AND NOT EXISTS (SELECT 1 FROM deliveries q WHERE q.idempotency_key = m.ikey)"
        " ORDER BY i ON CONFLICT (idempotency_key) DO NOTHING RETURNING notice_id),"
        " queued AS (INSERT INTO deliveries (idempotency_key, notice_id, return_id,"
        " source_event_id, audience, channel, template_name, body)"
        " SELECT ikey, notice_id, return_id, source_event_id, audience, channel, template_name,"
        " body FROM m WHERE $12::boolean"
        " AND NOT EXISTS (SELECT 1 FROM messages x WHERE x.idempotency_key = m.ikey)"
        " ORDER BY i ON CONFLICT (idempotency_key) DO NOTHING RETURNING notice_id),"
        " new AS (SELECT notice_id FROM fin UNION ALL SELECT notice_id FROM queued),"
        " unscheduled AS (DELETE FROM survey_schedule s USING m WHERE m.template_name = 'survey'"
        " AND s.return_id = m.return_id RETURNING s.return_id, s.due_at),"
        " surveyed AS (INSERT INTO surveys (return_id, due_at, sent_at, notice_id)"
        " SELECT m.return_id, COALESCE((SELECT u.due_at FROM unscheduled u"
        " WHERE u.return_id = m.return_id), now()), now(), m.notice_id"
        " FROM m JOIN new ON new.notice_id = m.notice_id WHERE m.template_name = 'survey'"
        " ON CONFLICT (return_id) DO NOTHING),"
        " scheduled AS (INSERT INTO survey_schedule (return_id, due_at)"
        " SELECT r, now() + $11::bigint * interval '1 millisecond' FROM unnest($10::text[]) AS r"
        " WHERE NOT EXISTS (SELECT 1 FROM surveys s WHERE s.return_id = r)"
        " ON CONFLICT (return_id) DO NOTHING),"
        " shops AS (INSERT INTO return_shops (return_id, shop_id)"
        " SELECT * FROM unnest($13::text[], $14::text[]) ON CONFLICT (return_id) DO NOTHING)"
        " SELECT m.notice_id, m.return_id, m.source_event_id, m.audience, m.channel,"
        " m.template_name, m.causation_id, m.announce FROM m JOIN new ON new.notice_id ="
        " m.notice_id ORDER BY m.i",
        MSG_COLS + 5, p);
}

int notification_db_return_shop(rf_db_t *db, const char *return_id, char *shop, size_t cap) {
    const char *p[] = {return_id};
    PGresult *res = rf_db_query(db, "SELECT shop_id FROM return_shops WHERE return_id = $1", 1, p);
    if (!res) return -1;
    int found = PQntuples(res) > 0;
    if (found) snprintf(shop, cap, "%s", rf_get_str(res, 0, 0));
    PQclear(res);
    return found;
}

json_t *notification_db_list(rf_db_t *db, const char *return_id) {
    const char *p[] = {return_id};
    /* The delivered (or failed) messages, and those still queued. */
    return rf_db_query_json(
        db,
        "SELECT COALESCE(json_agg(j ORDER BY created_at, notice_id), '[]'::json) FROM ("
        " SELECT created_at, notice_id, json_build_object('notice_id', notice_id,"
        " 'audience', audience, 'channel', channel, 'template', template_name, 'body', body,"
        " 'source_event_id', source_event_id, 'status', status, 'attempts', attempts,"
        " 'delivered_via', delivered_via, 'locale', locale) AS j"
        " FROM messages WHERE return_id = $1"
        " UNION ALL SELECT created_at, notice_id, json_build_object('notice_id', notice_id,"
        " 'audience', audience, 'channel', channel, 'template', template_name, 'body', body,"
        " 'source_event_id', source_event_id, 'status', 'queued', 'attempts', attempts,"
        " 'delivered_via', NULL, 'locale', locale, 'last_error', last_error)"
        " FROM deliveries WHERE return_id = $1) x",
        1, p, NULL);
}

json_t *notification_db_surveys_due(rf_db_t *db, int limit) {
    rf_num_t l = rf_i64(limit);
    const char *p[] = {l.s};
    return rf_db_query_list(db,
                            "SELECT return_id FROM survey_schedule WHERE due_at <= now()"
                            " ORDER BY due_at LIMIT $1::int FOR UPDATE SKIP LOCKED",
                            1, p, false);
}

PGresult *notification_db_queue_due(rf_db_t *db, int limit) {
    rf_num_t l = rf_i64(limit);
    const char *p[] = {l.s};
    /* Plain columns in the order of notification_due_col_t. */
    return rf_db_query(db,
                       "SELECT notice_id, return_id, audience, channel, template_name, body,"
                       " locale, idempotency_key, source_event_id, attempts FROM deliveries"
                       " WHERE next_attempt_at <= now() ORDER BY next_attempt_at LIMIT $1::int",
                       1, p);
}

int notification_db_delivery_outcomes(rf_db_t *db, notification_rows_t *outcomes) {
    if (outcomes->n == 0) return 0;
    const char *p[OUT_COLS];
    for (int c = 0; c < OUT_COLS; c++) p[c] = notification_rows_literal(outcomes, c);
    /* A message that waited for the webhook is written to messages once,
     * here, final, as its queue row leaves: three row writes in all (queue
     * insert, queue delete, message insert). Writing it to messages when
     * queued and updating it when delivered would be four (and an update
     * of the large table, leaving a dead row to vacuum); messages stays
     * insert-only. A retry updates only the queue row. */
    return rf_db_exec(
        db,
        "WITH o AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"
        " $5::bigint[]) AS o(ikey, status, via, error, delay_ms)),"
        " retry AS (UPDATE deliveries q SET attempts = q.attempts + 1, last_error = o.error,"
        " next_attempt_at = now() + o.delay_ms * interval '1 millisecond'"
        " FROM o WHERE o.status = 'queued' AND q.idempotency_key = o.ikey),"
        " done AS (DELETE FROM deliveries q USING o WHERE o.status IN ('sent', 'failed')"
        " AND q.idempotency_key = o.ikey RETURNING q.*, o.status AS outcome, o.via AS via,"
        " o.error AS error)"
        " INSERT INTO messages (idempotency_key, notice_id, return_id, source_event_id,"
        " audience, channel, template_name, body, locale, status, attempts, delivered_at,"
        " delivered_via, last_error, created_at)"
        " SELECT idempotency_key, notice_id, return_id, source_event_id, audience, channel,"
        " template_name, body, locale, outcome, attempts + 1,"
        " CASE WHEN outcome = 'sent' THEN now() END, CASE WHEN outcome = 'sent' THEN via END,"
        " CASE WHEN outcome = 'sent' THEN last_error ELSE error END, created_at FROM done"
        " ON CONFLICT (idempotency_key) DO NOTHING",
        OUT_COLS, p);
}

int notification_db_feedback(rf_db_t *db, const char *return_id, int64_t score,
                             const char *comment) {
    const char *p[] = {return_id};
    PGresult *res =
        rf_db_query(db, "SELECT sent_at IS NOT NULL FROM surveys WHERE return_id = $1", 1, p);
    if (!res) return -1;
    bool sent = PQntuples(res) > 0 && strcmp(rf_get_str(res, 0, 0), "t") == 0;
    PQclear(res);
    if (!sent) return -2;
    rf_num_t s = rf_i64(score);
    const char *q[] = {return_id, s.s, comment};
    return (int)rf_db_exec_count(db,
                                 "INSERT INTO feedback (return_id, score, comment)"
                                 " VALUES ($1, $2, $3) ON CONFLICT (return_id) DO NOTHING",
                                 3, q);
}
