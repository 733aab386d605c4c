/*
 * feed_apply.c: the worker's side of the platform feeds (feeds.h).
 *
 *  - Drain (feed_drain.c), every 50 ms when the receiver made a batch
 *    durable, and twice a second anyway.
 *  - Processing: a Douyin push carries its record; a Kuaishou push carries
 *    only ids, so its record is fetched (feed_poll.c) unless the push is no
 *    newer than what was applied.
 *  - Applying a record version: in updateTime order only (intake_feed_decide):
 *    a new request becomes a return through the same path as POST
 *    /v1/returns (policy checks included), or waits in feed_records (state
 *    pending) until its order arrives; a newer version of a known return
 *    becomes return.cancelled or return.updated.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "feeds/feeds.h"
#include "runtime/ids.h"
#include "runtime/log.h"

intake_feed_settings_t intake_feed_settings;

static struct {
    rf_worker_t *w;
    bool receiving;
    char spool_key[PATH_MAX + 300]; /* "<host>:<spool dir>": this spool's checkpoint */
    long long batches_seen;         /* intake_feed_counters.batches_durable when last drained */
    int64_t last_process_ms;
    uv_timer_t drain_timer;
} fa;

static bool is_kuaishou(const char *platform) { return strcmp(platform, "kuaishou") == 0; }

/* ---- applying one record version ----------------------------------------------------- */

static int emit_cancelled(rf_bus_t *bus, rf_db_t *db, const char *return_id,
                          const intake_feed_record_t *r) {
    rf_event_t ev;
    if (rf_bus_event_init(bus, &ev, RF_EV_RETURN_CANCELLED, return_id, NULL) != 0) return -1;
    char reason[120];
    snprintf(reason, sizeof reason, "%s closed the request (status %s)", r->platform, r->code);
    int rc = rf_event_set_str(&ev.body.return_cancelled.reason, reason);
    if (rc == 0) rc = rf_bus_emit(bus, &ev);
    if (rc == 0) rc = intake_db_timeline_add(db, &ev) == 1 ? 0 : -1;
    if (rc == 0) rc = intake_db_set_status(db, return_id, "cancelled", 9, NULL);
    rf_event_clear(&ev);
    return rc;
}

static int emit_updated(rf_bus_t *bus, rf_db_t *db, const char *return_id,
                        const intake_feed_record_t *r, const intake_feed_known_t *k) {
    rf_event_t ev;
    if (rf_bus_event_init(bus, &ev, RF_EV_RETURN_UPDATED, return_id, NULL) != 0) return -1;
    rf_body_return_updated_t *b = &ev.body.return_updated;
    int rc = rf_event_set_str(&b->platform_status, *r->status ? r->status : "unknown");
    rc |= rf_event_set_str(&b->platform_code, r->code);
    if (strcmp(r->kind, k->kind) != 0) rc |= rf_event_set_str(&b->kind, r->kind);
    rc |= rf_event_set_str(&b->tracking_no, r->tracking_no);
    b->platform_version = r->version;
    b->requested_amount_fen = r->amount_fen;
    if (rc == 0) rc = rf_bus_emit(bus, &ev);
    if (rc == 0) rc = intake_db_timeline_add(db, &ev) == 1 ? 0 : -1;
    rf_event_clear(&ev);
    return rc;
}

/* Create the return of a new request, or leave it waiting for its order. */
static int create_or_wait(rf_db_t *db, const intake_feed_record_t *r, bool *needs_order) {
    intake_line_info_t line;
    int has_line = intake_db_find_line(db, r->platform, r->order_id, r->line_id, &line);
    if (has_line < 0) return -1;
    if (!has_line) {
        *needs_order = true;
        atomic_fetch_add(&intake_feed_counters.pending, 1);
        return intake_feed_db_store(db, r, "pending", "waiting for the order") == 0 &&
                       intake_feed_db_ask_order(db, r->platform, r->order_id) == 0
                   ? 0
                   : -1;
    }
    intake_return_req_t req = {
        .platform = r->platform,
        .platform_return_id = r->platform_return_id,
        .order_id = r->order_id,
        .line_id = r->line_id,
        .kind = r->kind,
        .reason_code = r->reason_code,
        .reason_text = r->reason_text,
        .quantity = r->quantity,
        .requested_amount_fen = r->amount_fen,
        .requested_at = r->requested_at > 0 ? r->requested_at : r->version,
        .platform_deadline_at = r->deadline_at,
        .platform_version = r->version,
    };
    intake_create_result_t res;
    intake_return_create_tx(&req, true, &res);
    switch (res.outcome) {
    case INTAKE_CREATED:
        atomic_fetch_add(&intake_feed_counters.created, 1);
        return intake_feed_db_store(db, r, "created", "");
    case INTAKE_DUPLICATE: return intake_feed_db_store(db, r, "created", "entered through the API");
    case INTAKE_REFUSED:
    case INTAKE_AMOUNT_EXCEEDED: return intake_feed_db_store(db, r, "refused", res.code);
    case INTAKE_CREATE_DB_ERROR: break;
    }
    return -1;
}

/* Apply r inside the caller's transaction. retry: r is the pending record
 * itself, offered again because its order arrived. The action, or -1. */
static int apply_tx(rf_worker_t *w, const intake_feed_record_t *r, bool retry, bool *needs_order) {
    rf_bus_t *bus = rf_worker_bus(w);
    rf_db_t *db = rf_worker_db(w);
    intake_feed_known_t k;
    if (intake_feed_db_known(db, r->platform, r->platform_return_id, &k) != 0) return -1;
    if (retry && k.exists && k.version == r->version) k.exists = false;
    intake_feed_action_t a = intake_feed_decide(&k, r);
    char return_id[RF_ID_MAX] = "";
    if (k.has_return && intake_db_find_return(db, r->platform, r->platform_return_id, return_id,
                                              sizeof return_id) < 0)
        return -1;
    int rc = 0;
    switch (a) {
    case INTAKE_FEED_STALE: return (int)a;
    case INTAKE_FEED_NOTE:
        rc = intake_feed_db_store(db, r, k.has_return ? "created" : "noted",
                                  *r->status ? "" : "a status the mapping does not know");
        break;
    case INTAKE_FEED_CREATE: rc = create_or_wait(db, r, needs_order); break;
    case INTAKE_FEED_CANCEL:
        rc = emit_cancelled(bus, db, return_id, r);
        if (rc == 0) rc = intake_feed_db_store(db, r, "created", "");
        break;
    case INTAKE_FEED_UPDATE:
        rc = emit_updated(bus, db, return_id, r, &k);
        if (rc == 0) rc = intake_feed_db_store(db, r, "created", "");
        break;
    }
    return rc == 0 ? (int)a : -1;
}

static void count_action(int a, const intake_feed_record_t *r) {
    if (a == INTAKE_FEED_STALE) atomic_fetch_add(&intake_feed_counters.stale, 1);
    else if (a == INTAKE_FEED_CANCEL) atomic_fetch_add(&intake_feed_counters.cancelled, 1);
    else if (a == INTAKE_FEED_UPDATE) atomic_fetch_add(&intake_feed_counters.updated, 1);
    if (a != INTAKE_FEED_STALE)
        rf_info("event=feed_record_applied platform=%s platform_return_id=%s version=%lld"
                " status=%s code=%s action=%s",
                r->platform, r->platform_return_id, (long long)r->version,
                *r->status ? r->status : "unknown", r->code,
                intake_feed_action_name((intake_feed_action_t)a));
}

static int apply_one(rf_worker_t *w, const intake_feed_record_t *r, bool retry) {
    rf_bus_t *bus = rf_worker_bus(w);
    bool needs_order = false;
    if (rf_bus_tx_begin(bus) != 0) return -1;
    int a = apply_tx(w, r, retry, &needs_order);
    if (a < 0 || rf_bus_tx_commit(bus) != 0) {
        rf_bus_tx_rollback(bus);
        return -1;
    }
    count_action(a, r);
    if (needs_order && is_kuaishou(r->platform)) intake_ks_fetch_order(r->order_id);
    return a;
}

int intake_feed_apply(rf_worker_t *w, const intake_feed_record_t *r) {
    return apply_one(w, r, false);
}

int intake_feed_apply_in_tx(rf_worker_t *w, const intake_feed_record_t *r, bool *needs_order) {
    int a = apply_tx(w, r, false, needs_order);
    if (a >= 0) count_action(a, r);
    return a;
}

void intake_feed_order_arrived(rf_worker_t *w, const char *platform, const char *order_id) {
    rf_db_t *db = rf_worker_db(w);
    json_t *list = intake_feed_db_pending(db, platform, order_id);
    size_t i;
    json_t *doc;
    json_array_foreach(list, i, doc) {
        intake_feed_record_t r;
        if (intake_feed_record_from_json(doc, &r) == 0 && apply_one(w, &r, true) >= 0)
            rf_info("event=feed_pending_released platform=%s platform_return_id=%s order_id=%s",
                    platform, r.platform_return_id, order_id);
    }
    json_decref(list);
    const char *p[] = {platform, order_id};
    rf_db_exec(db, "DELETE FROM feed_order_asks WHERE platform = $1 AND order_id = $2", 2, p);
}

/* ---- processing pushes ---------------------------------------------------------------- */

static void mark_processed(rf_db_t *db, const char *platform, const char *event_id,
                           const char *outcome) {
    const char *p[] = {platform, event_id, outcome};
    rf_db_exec(db,
               "UPDATE feed_pushes SET processed_at = now(), outcome = $3"
               " WHERE platform = $1 AND event_id = $2",
               3, p);
    atomic_fetch_add(&intake_feed_counters.processed, 1);
}

/* Once a Kuaishou record was fetched and applied: the pushes it answers. */
void intake_feed_pushes_answered(rf_worker_t *w, const char *platform, const char *biz_id,
                                 int64_t version, const char *outcome) {
    rf_num_t v = rf_i64(version);
    const char *p[] = {platform, biz_id, v.s, outcome};
    int64_t n = rf_db_exec_count(rf_worker_db(w),
                                 "UPDATE feed_pushes SET processed_at = now(), outcome = $4"
                                 " WHERE platform = $1 AND biz_id = $2 AND processed_at IS NULL"
                                 " AND push_version <= $3::bigint",
                                 4, p);
    if (n > 0) atomic_fetch_add(&intake_feed_counters.processed, n);
}

static int64_t applied_version(rf_db_t *db, const char *platform, const char *prid) {
    const char *p[] = {platform, prid};
    PGresult *res = rf_db_query(db,
                                "SELECT version FROM feed_records WHERE platform = $1"
                                " AND platform_return_id = $2",
                                2, p);
    if (!res) return -1;
    int64_t v = PQntuples(res) > 0 ? rf_get_i64(res, 0, 0) : 0;
    PQclear(res);
    return v;
}

static void process_push(rf_db_t *db, const char *platform, const char *event_id,
                         const char *biz_id, int64_t push_version, json_t *message) {
    if (!is_kuaishou(platform)) {
        intake_feed_record_t r;
        char err[200];
        if (intake_feed_from_douyin(json_object_get(message, "data"), &r, err, sizeof err) != 0) {
            mark_processed(db, platform, event_id, err);
            return;
        }
        int a = intake_feed_apply(fa.w, &r);
        if (a >= 0) mark_processed(db, platform, event_id, intake_feed_action_name(a));
        return;
    }
    int64_t applied = applied_version(db, platform, biz_id);
    if (applied < 0) return;
    if (push_version > 0 && push_version <= applied) {
        atomic_fetch_add(&intake_feed_counters.stale, 1);
        mark_processed(db, platform, event_id, "stale");
        return;
    }
    /* The push carries ids and a status only: the record is fetched. */
    if (intake_ks_enabled()) intake_ks_fetch_refund(biz_id);
}

/* The oldest unprocessed pushes of each platform (Kuaishou's only while its
 * API can be asked: they wait for it, without holding up Douyin's). */
static void process(void) {
    rf_db_t *db = rf_worker_db(fa.w);
    const char *p[] = {intake_ks_enabled() ? "t" : "f"};
    PGresult *res = rf_db_query(
        db,
        "(SELECT platform, event_id, biz_id, push_version, message::text, seq"
        "  FROM feed_pushes WHERE processed_at IS NULL AND platform = 'douyin'"
        "  ORDER BY seq LIMIT 100)"
        " UNION ALL"
        " (SELECT platform, event_id, biz_id, push_version, message::text, seq"
        "  FROM feed_pushes WHERE processed_at IS NULL AND platform = 'kuaishou' AND $1::bool"
        "  ORDER BY seq LIMIT 100)"
        " ORDER BY seq",
        1, p);
    if (!res) return;
    for (int i = 0; i < PQntuples(res); i++) {
        json_t *message = json_loads(rf_get_str(res, i, 4), 0, NULL);
        process_push(db, rf_get_str(res, i, 0), rf_get_str(res, i, 1), rf_get_str(res, i, 2),
                     rf_get_i64(res, i, 3), message);
        json_decref(message);
    }
    PQclear(res);
}

/* Every 50 ms: drain and process when the receiver made a batch durable
 * since the last look, and in any case twice a second (what a failed drain
 * left, fetches to retry). */
static void on_drain_timer(uv_timer_t *t) {
    (void)t;
    if (!rf_db_connected(rf_worker_db(fa.w))) return;
    long long batches = atomic_load(&intake_feed_counters.batches_durable);
    int64_t now = rf_now_ms();
    if (batches == fa.batches_seen && now - fa.last_process_ms < 500) return;
    fa.batches_seen = batches;
    fa.last_process_ms = now;
    if (fa.receiving)
        intake_feed_drain(rf_worker_db(fa.w), intake_feed_settings.spool_dir, fa.spool_key);
    /* Recorded, but processed (turned into returns and events) only while
     * the pipeline keeps up. */
    int64_t backlog;
    if (!intake_pipeline_busy(&backlog)) process();
}

/* ---- start ------------------------------------------------------------------------------ */

static void stop_receiver(void) { intake_feed_receiver_stop(); }

int intake_feeds_start(rf_worker_t *w) {
    intake_feed_settings_t *s = &intake_feed_settings;
    fa.w = w;
    char err[300];
    if (intake_feed_set_reason_map("kuaishou", s->ks_reason_map, err, sizeof err) != 0 ||
        intake_feed_set_reason_map("douyin", s->dy_reason_map, err, sizeof err) != 0) {
        rf_error("event=config_invalid setting=RF_KUAISHOU_REASON_MAP/RF_DOUYIN_REASON_MAP"
                 " error=\"%s\"",
                 err);
        return -1;
    }
    if ((*s->dy_app_key != '\0') != (*s->dy_app_secret != '\0')) {
        rf_error("event=config_invalid setting=RF_DOUYIN_APP_KEY error=\"RF_DOUYIN_APP_KEY and"
                 " RF_DOUYIN_APP_SECRET go together\"");
        return -1;
    }
    uv_loop_t *loop = rf_worker_loop(w);
    fa.receiving = *s->ks_message_key || *s->dy_app_key;
    if (fa.receiving) {
        /* what an earlier run spooled is drained at the first tick */
        fa.batches_seen = -1;
        if (intake_feed_receiver_start(s, err, sizeof err) != 0) {
            rf_error("event=config_invalid setting=RF_INTAKE_FEED_LISTEN error=\"%s\"", err);
            return -1;
        }
        char host[256] = "", dir[PATH_MAX] = "";
        gethostname(host, sizeof host - 1);
        if (!realpath(s->spool_dir, dir)) snprintf(dir, sizeof dir, "%s", s->spool_dir);
        snprintf(fa.spool_key, sizeof fa.spool_key, "%s:%s", host, dir);
        atexit(stop_receiver);
    }
    if (intake_ks_start(w, s, err, sizeof err) != 0) {
        rf_error("event=config_invalid setting=RF_KUAISHOU_API_URL error=\"%s\"", err);
        return -1;
    }
    uv_timer_init(loop, &fa.drain_timer);
    uv_unref((uv_handle_t *)&fa.drain_timer);
    uv_timer_start(&fa.drain_timer, on_drain_timer, 50, 50);
    return 0;
}
