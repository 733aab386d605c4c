/*
 * notification_db.c: the notification worker's SQL, over its own schema only.
 */
#include <stdio.h>
#include <string.h>

#include "notification.h"

PGresult *notification_db_record_batch(rf_db_t *db, notification_batch_t *b,
                                       int64_t survey_delay_ms) {
    rf_num_t d = rf_i64(survey_delay_ms);
    const char *p[MSG_COLS + 2];
    for (int c = 0; c < MSG_COLS; c++) p[c] = notification_rows_literal(&b->messages, c);
    p[MSG_COLS] = notification_rows_literal(&b->completed, 0);
    p[MSG_COLS + 1] = d.s;
    /* The messages keep their order (ORDER BY i), and so do the new ones in
     * the answer. A survey message marks its survey sent; a completed
     * return's survey is scheduled. */
    return rf_db_query(
        db,
        "WITH m AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"
        " $5::text[], $6::text[], $7::text[], $8::text[], $9::boolean[]) WITH ORDINALITY"
        " AS m(notice_id, return_id, source_event_id, audience, channel, template_name, body,"
        " causation_id, announce, i)),"
        " ins AS (INSERT INTO messages (notice_id, return_id, source_event_id, audience, channel,"
        " template_name, body, idempotency_key)"
        " SELECT notice_id, return_id, source_event_id, audience, channel, template_name, body,"
        " source_event_id || ':' || audience FROM m ORDER BY i"
        " ON CONFLICT (idempotency_key) DO NOTHING RETURNING notice_id),"
        " sent AS (UPDATE surveys s SET sent_at = now(), notice_id = m.notice_id FROM m"
        " WHERE m.template_name = 'survey' AND s.return_id = m.return_id),"
        " due AS (INSERT INTO surveys (return_id, due_at)"
        " SELECT r, now() + $11::bigint * interval '1 millisecond' FROM unnest($10::text[]) AS r"
        " ON CONFLICT (return_id) DO NOTHING)"
        " SELECT m.notice_id, m.return_id, m.source_event_id, m.audience, m.channel,"
        " m.template_name, m.causation_id FROM m JOIN ins ON ins.notice_id = m.notice_id"
        " WHERE m.announce ORDER BY m.i",
        MSG_COLS + 2, p);
}

json_t *notification_db_list(rf_db_t *db, const char *return_id) {
    const char *p[] = {return_id};
    return rf_db_query_json(
        db,
        "SELECT COALESCE(json_agg(json_build_object('notice_id', notice_id, 'audience', audience,"
        " 'channel', channel, 'template', template_name, 'body', body,"
        " 'source_event_id', source_event_id, 'status', status, 'attempts', attempts,"
        " 'delivered_via', delivered_via, 'locale', locale) ORDER BY created_at), '[]'::json)"
        " FROM messages WHERE return_id = $1",
        1, p, NULL);
}

json_t *notification_db_surveys_due(rf_db_t *db, int limit) {
    rf_num_t l = rf_i64(limit);
    const char *p[] = {l.s};
    return rf_db_query_list(db,
                            "SELECT return_id FROM surveys WHERE sent_at IS NULL"
                            " AND due_at <= now() ORDER BY due_at LIMIT $1::int"
                            " FOR UPDATE SKIP LOCKED",
                            1, p, false);
}

PGresult *notification_db_queue_due(rf_db_t *db, int limit) {
    rf_num_t l = rf_i64(limit);
    const char *p[] = {l.s};
    /* Plain columns in the order of notification_due_col_t. */
    return rf_db_query(db,
                       "SELECT notice_id, return_id, audience, channel, template_name, body,"
                       " locale, idempotency_key, source_event_id, attempts FROM messages"
                       " WHERE status = 'queued' AND next_attempt_at <= now()"
                       " ORDER BY next_attempt_at LIMIT $1::int",
                       1, p);
}

int notification_db_delivery_outcomes(rf_db_t *db, notification_rows_t *outcomes) {
    if (outcomes->n == 0) return 0;
    const char *p[OUT_COLS];
    for (int c = 0; c < OUT_COLS; c++) p[c] = notification_rows_literal(outcomes, c);
    return rf_db_exec(
        db,
        "UPDATE messages m SET status = o.status, attempts = m.attempts + 1,"
        " last_error = o.error,"
        " delivered_at = CASE WHEN o.status = 'sent' THEN now() ELSE m.delivered_at END,"
        " delivered_via = CASE WHEN o.status = 'sent' THEN o.via ELSE m.delivered_via END,"
        " next_attempt_at = CASE WHEN o.status = 'sent' THEN m.next_attempt_at"
        " ELSE now() + o.delay_ms * interval '1 millisecond' END"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[])"
        " AS o(notice_id, status, via, error, delay_ms)"
        " WHERE m.notice_id = o.notice_id AND m.status = 'queued'",
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
