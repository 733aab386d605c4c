/*
 * notification_db.c: the notification worker's SQL, over its own schema only.
 */
#include <stdio.h>
#include <string.h>

#include "notification.h"

int notification_db_record(rf_db_t *db, const char *notice_id, const rf_event_t *ev,
                           const notification_msg_t *m) {
    char key[200];
    snprintf(key, sizeof key, "%s:%s", ev->event_id, m->audience);
    const char *p[] = {notice_id,  ev->return_id,    ev->event_id, m->audience,
                       m->channel, m->template_name, m->body,      key};
    return (int)rf_db_exec_count(db,
                                 "INSERT INTO messages (notice_id, return_id, source_event_id,"
                                 " audience, channel, template_name, body, idempotency_key)"
                                 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                                 " ON CONFLICT (idempotency_key) DO NOTHING",
                                 8, p);
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

int notification_db_survey_schedule(rf_db_t *db, const char *return_id, int64_t delay_ms) {
    rf_num_t d = rf_i64(delay_ms);
    const char *p[] = {return_id, d.s};
    return (int)rf_db_exec_count(db,
                                 "INSERT INTO surveys (return_id, due_at) VALUES ($1,"
                                 " now() + $2::bigint * interval '1 millisecond')"
                                 " ON CONFLICT (return_id) DO NOTHING",
                                 2, p);
}

json_t *notification_db_surveys_due(rf_db_t *db) {
    return rf_db_query_list(db,
                            "SELECT return_id FROM surveys WHERE sent_at IS NULL"
                            " AND due_at <= now() ORDER BY due_at LIMIT 100"
                            " FOR UPDATE SKIP LOCKED",
                            0, NULL, false);
}

int notification_db_survey_sent(rf_db_t *db, const char *return_id, const char *notice_id) {
    const char *p[] = {return_id, notice_id};
    return rf_db_exec(db, "UPDATE surveys SET sent_at = now(), notice_id = $2 WHERE return_id = $1",
                      2, p);
}

json_t *notification_db_queue_due(rf_db_t *db, int limit) {
    rf_num_t l = rf_i64(limit);
    const char *p[] = {l.s};
    return rf_db_query_list(
        db,
        "SELECT json_build_object('notice_id', notice_id, 'return_id', return_id, 'audience',"
        " audience, 'channel', channel, 'template', template_name, 'body', body, 'locale', locale,"
        " 'idempotency_key', idempotency_key, 'source_event_id', source_event_id,"
        " 'attempts', attempts) FROM messages WHERE status = 'queued' AND next_attempt_at <= now()"
        " ORDER BY next_attempt_at LIMIT $1::int",
        1, p, true);
}

int notification_db_delivered(rf_db_t *db, const char *notice_id, const char *via) {
    const char *p[] = {notice_id, via};
    return rf_db_exec(db,
                      "UPDATE messages SET status = 'sent', delivered_at = now(),"
                      " delivered_via = $2, attempts = attempts + 1, last_error = NULL"
                      " WHERE notice_id = $1 AND status = 'queued'",
                      2, p);
}

int notification_db_delivery_failed(rf_db_t *db, const char *notice_id, const char *error,
                                    int64_t delay_ms, bool final) {
    rf_num_t d = rf_i64(delay_ms);
    const char *p[] = {notice_id, error, d.s, final ? "failed" : "queued"};
    return rf_db_exec(db,
                      "UPDATE messages SET status = $4, last_error = $2, attempts = attempts + 1,"
                      " next_attempt_at = now() + $3::bigint * interval '1 millisecond'"
                      " WHERE notice_id = $1 AND status = 'queued'",
                      4, p);
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
