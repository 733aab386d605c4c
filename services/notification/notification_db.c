/*
 * notification_db.c: the notification worker's SQL, over its own schema only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notification.h"

int notification_db_record_batch(rf_db_t *db, json_t *messages, json_t *completed,
                                 int64_t survey_delay_ms, bool *recorded) {
    size_t n = json_array_size(messages);
    char *m = json_dumps(messages, JSON_COMPACT), *c = json_dumps(completed, JSON_COMPACT);
    rf_num_t d = rf_i64(survey_delay_ms);
    const char *p[] = {m, c, d.s};
    /* The messages keep their order (ORDER BY i); the answer names the new
     * ones by place. A survey message marks its survey sent; a completed
     * return's survey is scheduled. */
    PGresult *res =
        m && c ? rf_db_query(db,
                             "WITH m AS (SELECT * FROM json_to_recordset($1::json) AS m(i int,"
                             " notice_id text, return_id text, source_event_id text, audience text,"
                             " channel text, template_name text, body text, idempotency_key text)),"
                             " ins AS (INSERT INTO messages (notice_id, return_id, source_event_id,"
                             " audience, channel, template_name, body, idempotency_key)"
                             " SELECT notice_id, return_id, source_event_id, audience, channel,"
                             " template_name, body, idempotency_key FROM m ORDER BY i"
                             " ON CONFLICT (idempotency_key) DO NOTHING RETURNING notice_id),"
                             " sent AS (UPDATE surveys s SET sent_at = now(), notice_id = m.notice_id"
                             " FROM m WHERE m.template_name = 'survey' AND s.return_id = m.return_id),"
                             " due AS (INSERT INTO surveys (return_id, due_at)"
                             " SELECT r, now() + $3::bigint * interval '1 millisecond'"
                             " FROM json_array_elements_text($2::json) AS r"
                             " ON CONFLICT (return_id) DO NOTHING)"
                             " SELECT m.i FROM m JOIN ins ON ins.notice_id = m.notice_id",
                             3, p)
               : NULL;
    free(m);
    free(c);
    if (!res) return -1;
    for (size_t i = 0; i < n; i++) recorded[i] = false;
    for (int r = 0; r < PQntuples(res); r++) {
        int64_t i = rf_get_i64(res, r, 0);
        if (i >= 1 && (size_t)i <= n) recorded[i - 1] = true;
    }
    PQclear(res);
    return 0;
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

int notification_db_delivery_outcomes(rf_db_t *db, json_t *outcomes) {
    if (json_array_size(outcomes) == 0) return 0;
    char *o = json_dumps(outcomes, JSON_COMPACT);
    if (!o) return -1;
    const char *p[] = {o};
    int rc = rf_db_exec(
        db,
        "UPDATE messages m SET status = o.status, attempts = m.attempts + 1,"
        " last_error = o.error,"
        " delivered_at = CASE WHEN o.status = 'sent' THEN now() ELSE m.delivered_at END,"
        " delivered_via = CASE WHEN o.status = 'sent' THEN o.via ELSE m.delivered_via END,"
        " next_attempt_at = CASE WHEN o.status = 'sent' THEN m.next_attempt_at"
        " ELSE now() + o.delay_ms * interval '1 millisecond' END"
        " FROM json_to_recordset($1::json) AS o(notice_id text, status text, via text,"
        " error text, delay_ms bigint)"
        " WHERE m.notice_id = o.notice_id AND m.status = 'queued'",
        1, p);
    free(o);
    return rc;
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
