/*
 * feed_dy_poll.c: the Douyin poller, one per shop (feeds_internal.h).
 *
 * Each shop lists its own after-sales with its own token: afterSale.List by
 * update time (update_start_time / update_end_time, seconds, both ends
 * included; order_by "update_time asc"), pages from 0 while has_more, in
 * windows of at most one day ending a small lag behind now. A listed record
 * newer than what intake applied is recorded as a push to fetch (its
 * afterSale.Detail: a list item has no reason code), in the transaction that
 * moves the shop's checkpoint (feed_window.c), so a restart loses nothing
 * and lists no page twice; the push processing fetches and applies it.
 * Off when RF_DOUYIN_API_URL is empty or RF_DOUYIN_POLL_INTERVAL_MS is 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feeds/feed_douyin_map.h"
#include "feeds/feeds_internal.h"
#include "shops/shops.h"
#include "runtime/ids.h"
#include "runtime/log.h"

#define DAY_MS 86400000LL
#define TICK_MS 500
#define PAGE_SIZE 100

static uv_timer_t poll_timer;
static void on_poll_timer(uv_timer_t *t);

/* A listed record to fetch: recorded once per version, as a push would be. */
static int record_to_fetch(rf_db_t *db, const char *shop_id, const intake_feed_record_t *r) {
    intake_feed_known_t k;
    if (intake_feed_db_known(db, "douyin", r->platform_return_id, &k) != 0) return -1;
    if (k.exists && r->version <= k.version) return 0; /* nothing new */
    rf_num_t v = rf_i64(r->version);
    char event_id[160];
    snprintf(event_id, sizeof event_id, "poll:%s:%lld", r->platform_return_id,
             (long long)r->version);
    json_t *msg = json_pack("{s:s, s:s}", "source", "afterSale.List", "shop_id", shop_id);
    char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    const char *p[] = {event_id, r->platform_return_id, v.s, text};
    int rc = text ? rf_db_exec(db,
                               "INSERT INTO feed_pushes (platform, event_id, topic, biz_id,"
                               " push_version, message, source, received_at)"
                               " VALUES ('douyin', $1, 'poll', $2, $3, $4::jsonb,"
                               " 'afterSale.List', now()) ON CONFLICT DO NOTHING",
                               4, p)
                  : -1;
    free(text);
    return rc;
}

static void on_listed(void *arg, rf_dy_outcome_t outcome, int code, const char *sub_code,
                      json_t *data, const char *raw, const char *error) {
    (void)code;
    (void)sub_code;
    (void)raw;
    char *shop_id = arg;
    intake_feed_shop_t *s = intake_feed_shop("douyin", shop_id);
    free(shop_id);
    if (!s) return;
    s->listing = false;
    if (outcome != RF_DY_OK) {
        intake_dy_back_off(s, outcome, "afterSale.List", error);
        return;
    }
    intake_feed_shop_succeeded(s);
    json_t *items = json_object_get(data, "items");
    bool more = json_is_true(json_object_get(data, "has_more"));
    char next[32] = "";
    if (more) snprintf(next, sizeof next, "%lld", (long long)(atoll(s->pcursor) + 1));
    rf_bus_t *bus = rf_worker_bus(intake_dy.w);
    rf_db_t *db = rf_worker_db(intake_dy.w);
    bool ok = rf_bus_tx_begin(bus) == 0;
    size_t i, n = json_array_size(items);
    json_t *item;
    json_array_foreach(items, i, item) {
        if (!ok) break;
        intake_feed_record_t r;
        char err[200];
        if (intake_feed_from_douyin_list_item(item, s->shop_id, &r, err, sizeof err) != 0) {
            rf_warn("event=douyin_record_unusable source=poll shop_id=%s error=\"%s\"", s->shop_id,
                    err);
            continue;
        }
        ok = record_to_fetch(db, s->shop_id, &r) == 0;
    }
    if (ok) ok = intake_poll_advance(db, s, next) == 0;
    if (ok) ok = rf_bus_tx_commit(bus) == 0;
    if (!ok) {
        rf_bus_tx_rollback(bus);
        intake_dy_back_off(s, RF_DY_TRANSPORT, "afterSale.List", "the page could not be recorded");
        return;
    }
    atomic_fetch_add(&intake_feed_counters.poll_pages, 1);
    atomic_fetch_add(&intake_feed_counters.poll_records, (long long)n);
    s->next_poll_at = 0;
    uv_timer_start(&poll_timer, on_poll_timer, 0, TICK_MS);
}

static void poll_shop(rf_db_t *db, intake_feed_shop_t *s) {
    int64_t now = rf_now_ms();
    const intake_feed_settings_t *set = intake_dy.s;
    if (s->listing || intake_feed_shop_paused(s) || now < s->next_poll_at) return;
    const intake_poll_limits_t lim = {.start_ms = 0,
                                      .lag_ms = set->dy_poll_lag_ms,
                                      .interval_ms = set->dy_poll_interval_ms,
                                      .window_ms = DAY_MS,
                                      .reach_ms = 89 * DAY_MS};
    if (!intake_poll_window(db, s, &lim)) {
        s->next_poll_at = now + (lim.interval_ms < 1000 ? lim.interval_ms : 1000);
        return;
    }
    /* seconds, both ends included: [begin, end) in ms is [begin/1000, end/1000 - 1] */
    int64_t begin_s = s->win_begin / 1000, end_s = s->win_end / 1000 - 1;
    if (end_s < begin_s) end_s = begin_s;
    json_t *param = json_pack("{s:I, s:i, s:I, s:I, s:[s]}", "page", (json_int_t)atoll(s->pcursor),
                              "size", PAGE_SIZE, "update_start_time", (json_int_t)begin_s,
                              "update_end_time", (json_int_t)end_s, "order_by", "update_time asc");
    char *arg = strdup(s->shop_id);
    int rc = arg ? intake_dy_call(s, "afterSale.List", param, on_listed, arg) : -1;
    json_decref(param);
    if (rc == 0) s->listing = true;
    else {
        free(arg);
        s->next_poll_at = now + 1000;
    }
}

static void on_poll_timer(uv_timer_t *t) {
    (void)t;
    intake_feed_poll_active(intake_dy.w, "douyin", poll_shop);
}

void intake_dy_poll_start(rf_worker_t *w) {
    if (intake_dy.s->dy_poll_interval_ms <= 0) return;
    uv_timer_init(rf_worker_loop(w), &poll_timer);
    uv_unref((uv_handle_t *)&poll_timer);
    uv_timer_start(&poll_timer, on_poll_timer, TICK_MS, TICK_MS);
}
