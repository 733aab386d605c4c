/*
 * notification_db.c: the notification worker's SQL, over its own schema only.
 */
#include <stdio.h>

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
    PGresult *res = rf_db_query(
        db,
        "SELECT COALESCE(json_agg(json_build_object('notice_id', notice_id, 'audience', audience,"
        " 'channel', channel, 'template', template_name, 'body', body,"
        " 'source_event_id', source_event_id) ORDER BY created_at), '[]'::json)"
        " FROM messages WHERE return_id = $1",
        1, p);
    if (!res) return NULL;
    json_t *doc = json_loads(rf_get_str(res, 0, 0), 0, NULL);
    PQclear(res);
    return doc;
}
