/*
 * feed_worker.c: the platform feeds on the worker's loop (feeds.h): their
 * start, and the timer that drains the spool and processes the pushes.
 *
 *  - Start: the reason maps and keys checked, the receiver thread
 *    (feed_receiver.c) and the Kuaishou API (feed_poll.c) started.
 *  - Drain (feed_drain.c), every 50 ms when the receiver made a batch
 *    durable, and twice a second anyway.
 *  - Processing: a Douyin push carries its record, applied at once
 *    (feed_apply.c); a Kuaishou push carries only ids, so its record is
 *    fetched (feed_poll.c) unless the push is no newer than what was applied.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "feeds/feeds_internal.h"
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
} fw;

static bool is_kuaishou(const char *platform) { return strcmp(platform, "kuaishou") == 0; }

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
    if (!is_kuaishou(platform) && !json_object_get(message, "data")) {
        /* a record the poller listed: fetched (its detail has the reason) */
        int64_t applied = applied_version(db, platform, biz_id);
        if (applied < 0) return;
        if (push_version <= applied) {
            atomic_fetch_add(&intake_feed_counters.stale, 1);
            mark_processed(db, platform, event_id, "stale");
            return;
        }
        const char *shop = json_string_value(json_object_get(message, "shop_id"));
        intake_dy_fetch_aftersale(shop ? shop : "", biz_id);
        return;
    }
    if (!is_kuaishou(platform)) {
        intake_feed_record_t r;
        char err[200];
        if (intake_feed_from_douyin(json_object_get(message, "data"), &r, err, sizeof err) != 0) {
            mark_processed(db, platform, event_id, err);
            return;
        }
        int a = intake_feed_apply(fw.w, &r);
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
    /* The push carries ids and a status only: the record is fetched, with
     * the token of the shop the push names (openId: the shop's open_id). */
    const char *shop = json_string_value(json_object_get(message, "openId"));
    if (intake_ks_enabled()) intake_ks_fetch_refund(shop ? shop : "", biz_id);
}

/* The oldest unprocessed pushes of each platform (Kuaishou's only while its
 * API can be asked: they wait for it, without holding up Douyin's). */
static void process(void) {
    rf_db_t *db = rf_worker_db(fw.w);
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
    if (!rf_db_connected(rf_worker_db(fw.w))) return;
    long long batches = atomic_load(&intake_feed_counters.batches_durable);
    int64_t now = rf_now_ms();
    if (batches == fw.batches_seen && now - fw.last_process_ms < 500) return;
    fw.batches_seen = batches;
    fw.last_process_ms = now;
    if (fw.receiving)
        intake_feed_drain(rf_worker_db(fw.w), intake_feed_settings.spool_dir, fw.spool_key);
    /* Recorded, but processed (turned into returns and events) only while
     * the pipeline keeps up. */
    int64_t backlog;
    if (!intake_pipeline_busy(fw.w, &backlog)) process();
}

/* ---- start ------------------------------------------------------------------------------ */

static void stop_receiver(void) { intake_feed_receiver_stop(); }

int intake_feeds_start(rf_worker_t *w) {
    intake_feed_settings_t *s = &intake_feed_settings;
    fw.w = w;
    char err[300];
    if (intake_feed_set_reason_map("kuaishou", s->ks_reason_map, err, sizeof err) != 0 ||
        intake_feed_set_reason_map("douyin", s->dy_reason_map, err, sizeof err) != 0) {
        rf_error("event=config_invalid setting=RF_KUAISHOU_REASON_MAP/RF_DOUYIN_REASON_MAP"
                 " error=\"%s\"",
                 err);
        return -1;
    }
    /* the Douyin app's key and secret sign its pushes and its API calls alike */
    snprintf(s->dy_app_key, sizeof s->dy_app_key, "%s", rf_dy_app_key);
    snprintf(s->dy_app_secret, sizeof s->dy_app_secret, "%s", rf_dy_app_secret);
    if ((*s->dy_app_key != '\0') != (*s->dy_app_secret != '\0')) {
        rf_error("event=config_invalid setting=RF_DOUYIN_APP_KEY error=\"RF_DOUYIN_APP_KEY and"
                 " RF_DOUYIN_APP_SECRET go together\"");
        return -1;
    }
    uv_loop_t *loop = rf_worker_loop(w);
    fw.receiving = *s->ks_message_key || *s->dy_app_key;
    if (fw.receiving) {
        /* what an earlier run spooled is drained at the first tick */
        fw.batches_seen = -1;
        if (intake_feed_receiver_start(s, err, sizeof err) != 0) {
            rf_error("event=config_invalid setting=RF_INTAKE_FEED_LISTEN error=\"%s\"", err);
            return -1;
        }
        char host[256] = "", dir[PATH_MAX] = "";
        gethostname(host, sizeof host - 1);
        if (!realpath(s->spool_dir, dir)) snprintf(dir, sizeof dir, "%s", s->spool_dir);
        snprintf(fw.spool_key, sizeof fw.spool_key, "%s:%s", host, dir);
        atexit(stop_receiver);
    }
    if (intake_ks_start(w, s, err, sizeof err) != 0) {
        rf_error("event=config_invalid setting=RF_KUAISHOU_API_URL error=\"%s\"", err);
        return -1;
    }
    if (intake_dy_start(w, s, err, sizeof err) != 0) {
        rf_error("event=config_invalid setting=RF_DOUYIN_API_URL error=\"%s\"", err);
        return -1;
    }
    intake_feed_fetch_orders_with(intake_feed_fetch_order);
    if (intake_ks_enabled() || intake_dy_enabled()) intake_feed_asks_start(w);
    uv_timer_init(loop, &fw.drain_timer);
    uv_unref((uv_handle_t *)&fw.drain_timer);
    uv_timer_start(&fw.drain_timer, on_drain_timer, 50, 50);
    return 0;
}
