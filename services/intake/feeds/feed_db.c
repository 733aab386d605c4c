/*
 * feed_db.c: the SQL of intake's platform feeds (feeds_internal.h), over the tables
 * of sql/003_feeds.sql.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feeds/feeds_internal.h"

int intake_feed_db_known(rf_db_t *db, const char *platform, const char *prid,
                         intake_feed_known_t *k) {
    memset(k, 0, sizeof *k);
    const char *p[] = {platform, prid};
    PGresult *res = rf_db_query(
        db,
        "SELECT f.version, COALESCE(f.platform_status, ''), COALESCE(f.kind, ''),"
        " f.tracking_no, f.amount_fen,"
        " EXISTS (SELECT 1 FROM returns r WHERE r.platform = $1"
        "   AND r.platform_return_id = $2 AND NOT r.refused)"
        " FROM feed_records f WHERE f.platform = $1 AND f.platform_return_id = $2 FOR UPDATE",
        2, p);
    if (!res) return -1;
    if (PQntuples(res) > 0) {
        k->exists = true;
        k->version = rf_get_i64(res, 0, 0);
        snprintf(k->status, sizeof k->status, "%s", rf_get_str(res, 0, 1));
        snprintf(k->kind, sizeof k->kind, "%s", rf_get_str(res, 0, 2));
        snprintf(k->tracking_no, sizeof k->tracking_no, "%s", rf_get_str(res, 0, 3));
        k->amount_fen = rf_get_i64(res, 0, 4);
        k->has_return = strcmp(rf_get_str(res, 0, 5), "t") == 0;
    }
    PQclear(res);
    if (!k->exists) {
        /* A return entered through the neutral API before the feed saw it. */
        char rid[64];
        int found = intake_db_find_return(db, platform, prid, rid, sizeof rid);
        if (found < 0) return -1;
        if (found) {
            char refused[64];
            if (intake_db_refused_reason(db, rid, refused, sizeof refused) < 0) return -1;
            k->has_return = !*refused;
        }
    }
    return 0;
}

int intake_feed_db_store(rf_db_t *db, const intake_feed_record_t *r, const char *state,
                         const char *note) {
    json_t *doc = intake_feed_record_json(r);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text) return -1;
    rf_num_t version = rf_i64(r->version), amount = rf_i64(r->amount_fen);
    const char *p[] = {r->platform,
                       r->platform_return_id,
                       r->order_id,
                       version.s,
                       *r->status ? r->status : NULL,
                       r->code,
                       *r->kind ? r->kind : NULL,
                       amount.s,
                       r->tracking_no,
                       state,
                       text,
                       note ? note : ""};
    int rc = rf_db_exec(
        db,
        "INSERT INTO feed_records (platform, platform_return_id, order_id, version,"
        " platform_status, platform_code, kind, amount_fen, tracking_no, state, record, note)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12)"
        " ON CONFLICT (platform, platform_return_id) DO UPDATE SET order_id = EXCLUDED.order_id,"
        " version = EXCLUDED.version, platform_status = EXCLUDED.platform_status,"
        " platform_code = EXCLUDED.platform_code, kind = EXCLUDED.kind,"
        " amount_fen = EXCLUDED.amount_fen, tracking_no = EXCLUDED.tracking_no,"
        " state = EXCLUDED.state, record = EXCLUDED.record, note = EXCLUDED.note,"
        " updated_at = now()",
        12, p);
    free(text);
    return rc;
}

int intake_feed_db_ask_order(rf_db_t *db, const char *platform, const char *shop_id,
                             const char *order_id) {
    const char *p[] = {platform, order_id, shop_id};
    return rf_db_exec(db,
                      "INSERT INTO feed_order_asks (platform, order_id, shop_id, asked_at)"
                      " VALUES ($1, $2, $3, 'epoch') ON CONFLICT DO NOTHING",
                      3, p);
}

json_t *intake_feed_db_pending(rf_db_t *db, const char *platform, const char *order_id) {
    const char *p[] = {platform, order_id};
    return rf_db_query_list(db,
                            "SELECT record::text FROM feed_records WHERE platform = $1"
                            " AND order_id = $2 AND state = 'pending'"
                            " ORDER BY platform_return_id",
                            2, p, true);
}
