/*
 * feed_poll.c: the Kuaishou poller, one per shop (feeds_internal.h).
 *
 * Each shop lists its own refunds with its own token:
 * open.seller.order.refund.pcursor.list (GET) of every refund (type 9) by
 * update time (queryType 2) in windows of at most one day, ending a small
 * lag behind now, page by page to "nomore" (currentPage counts the pages of
 * the window: 1 with the empty pcursor). The window and its next pcursor are
 * kept per shop in feed_poll_checkpoint and move in the same transaction as
 * the page's records, so a restart resumes at the page it stopped at: no
 * window is skipped or listed again. Rate limits and failures back off that
 * shop only (feed_ks.c).
 *
 * The shops polled: every active Kuaishou shop (shops/shops.h), and the shop
 * "" when a fixed RF_KUAISHOU_ACCESS_TOKEN is set. Off when
 * RF_KUAISHOU_API_URL is empty or RF_KUAISHOU_POLL_INTERVAL_MS is 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feeds/feeds_internal.h"
#include "shops/shops.h"
#include "runtime/ids.h"
#include "runtime/log.h"

#define DAY_MS 86400000LL
#define TICK_MS 500

static uv_timer_t poll_timer;
static void on_poll_timer(uv_timer_t *t);

/* One page's records, applied with the checkpoint's move in one transaction. */
static bool apply_page(intake_feed_shop_t *s, json_t *list, const char *next,
                       intake_feed_record_t *recs, bool *needs_order, bool *usable, bool *fetched) {
    rf_bus_t *bus = rf_worker_bus(intake_ks.w);
    size_t n = json_array_size(list);
    bool ok = rf_bus_tx_begin(bus) == 0;
    for (size_t i = 0; ok && i < n; i++) {
        char err[200];
        json_t *entry = json_array_get(list, i);
        usable[i] = intake_feed_from_kuaishou(entry, &recs[i], err, sizeof err) == 0;
        if (!usable[i]) {
            rf_warn("event=kuaishou_record_unusable source=poll shop_id=%s error=\"%s\"",
                    s->shop_id, err);
            continue;
        }
        snprintf(recs[i].shop_id, sizeof recs[i].shop_id, "%s", s->shop_id);
        /* A list entry (the declared list view) has no logisticsInfo: a return
         * on its way back is applied from its detail, which names the parcel
         * (applied from the entry only when the detail cannot be asked now;
         * a known tracking number then stays). */
        if (!json_object_get(entry, "logisticsInfo") &&
            strcmp(recs[i].status, "return_in_transit") == 0 &&
            intake_ks_fetch_refund(s->shop_id, recs[i].platform_return_id) == 0) {
            fetched[i] = true;
            continue;
        }
        ok = intake_feed_apply_in_tx(intake_ks.w, &recs[i], &needs_order[i]) >= 0;
    }
    if (ok) ok = intake_poll_advance(rf_worker_db(intake_ks.w), s, next) == 0;
    if (ok) ok = rf_bus_tx_commit(bus) == 0;
    if (!ok) rf_bus_tx_rollback(bus);
    return ok;
}

static void on_listed(void *arg, rf_ks_outcome_t outcome, int result_code, json_t *data,
                      const char *raw, const char *error) {
    (void)result_code;
    (void)raw;
    char *shop_id = arg;
    intake_feed_shop_t *s = intake_feed_shop("kuaishou", shop_id);
    free(shop_id);
    if (!s) return;
    s->listing = false;
    if (outcome != RF_KS_OK) {
        intake_ks_back_off(s, outcome, "refund.pcursor.list", error);
        return;
    }
    intake_feed_shop_succeeded(s);
    json_t *list = json_object_get(data, "refundOrderInfoList");
    const char *next = json_string_value(json_object_get(data, "pcursor"));
    size_t n = json_array_size(list), m = n ? n : 1;
    intake_feed_record_t *recs = calloc(m, sizeof *recs);
    bool *needs_order = calloc(m, sizeof *needs_order), *usable = calloc(m, sizeof *usable),
         *fetched = calloc(m, sizeof *fetched);
    bool ok = recs && needs_order && usable && fetched &&
              apply_page(s, list, next ? next : "", recs, needs_order, usable, fetched);
    if (!ok) {
        intake_ks_back_off(s, RF_KS_TRANSPORT, "refund.pcursor.list",
                           "the page could not be recorded");
    } else {
        atomic_fetch_add(&intake_feed_counters.poll_pages, 1);
        bool more = next && *next && strcmp(next, "nomore") != 0;
        s->page = more ? s->page + 1 : 1;
        s->next_poll_at = 0; /* the next page (or window) at once */
        uv_timer_start(&poll_timer, on_poll_timer, 0, TICK_MS);
        atomic_fetch_add(&intake_feed_counters.poll_records, (long long)n);
        for (size_t i = 0; i < n; i++) {
            if (!usable[i] || fetched[i]) continue;
            intake_ks_pushes_answered(intake_ks.w, "kuaishou", recs[i].platform_return_id,
                                      recs[i].version, "applied from the poll");
            if (needs_order[i]) intake_ks_fetch_order(s->shop_id, recs[i].order_id);
        }
        rf_debug("event=kuaishou_poll_page shop_id=%s begin=%lld end=%lld records=%zu next=%s",
                 s->shop_id, (long long)s->win_begin, (long long)s->win_end, n, next ? next : "");
    }
    free(recs);
    free(needs_order);
    free(usable);
    free(fetched);
}

/* One shop's turn: list its next page when it is due. */
static void poll_shop(rf_db_t *db, intake_feed_shop_t *s) {
    int64_t now = rf_now_ms();
    if (s->listing || intake_feed_shop_paused(s) || now < s->next_poll_at) return;
    const intake_poll_limits_t lim = {.start_ms = intake_ks.s->poll_start_ms,
                                      .lag_ms = intake_ks.s->poll_lag_ms,
                                      .interval_ms = intake_ks.s->poll_interval_ms,
                                      .window_ms = DAY_MS,
                                      .reach_ms = 89 * DAY_MS};
    if (!intake_poll_window(db, s, &lim)) {
        s->next_poll_at =
            now + (intake_ks.s->poll_interval_ms < 1000 ? intake_ks.s->poll_interval_ms : 1000);
        return;
    }
    /* the declared request: beginTime, endTime, type (9: every refund; 8 would
     * be those waiting for a refund only), pageSize, currentPage and pcursor
     * required; queryType 2: by update time. A window resumed after a restart
     * is past its first page: its page number counts on from 2. */
    if (!s->pcursor[0]) s->page = 1;
    else if (s->page < 2) s->page = 2;
    json_t *param = json_pack("{s:I, s:I, s:i, s:I, s:I, s:i, s:s}", "beginTime",
                              (json_int_t)s->win_begin, "endTime", (json_int_t)s->win_end, "type",
                              9, "pageSize", (json_int_t)intake_ks.s->poll_page_size, "currentPage",
                              (json_int_t)s->page, "queryType", 2, "pcursor", s->pcursor);
    char *arg = strdup(s->shop_id);
    int rc = arg ? intake_ks_call(s, "open.seller.order.refund.pcursor.list", param, on_listed, arg)
                 : -1;
    json_decref(param);
    if (rc == 0) s->listing = true;
    else {
        free(arg);
        s->next_poll_at = now + 1000;
    }
}

static void on_poll_timer(uv_timer_t *t) {
    (void)t;
    rf_db_t *db = rf_worker_db(intake_ks.w);
    if (!rf_db_connected(db)) return;
    if (*intake_ks.cfg.access_token) {
        intake_feed_shop_t *fixed = intake_feed_shop("kuaishou", "");
        if (fixed) poll_shop(db, fixed);
    }
    intake_feed_poll_active(intake_ks.w, "kuaishou", poll_shop);
}

void intake_ks_poll_start(rf_worker_t *w) {
    if (intake_ks.s->poll_interval_ms <= 0) return;
    uv_timer_init(rf_worker_loop(w), &poll_timer);
    uv_unref((uv_handle_t *)&poll_timer);
    uv_timer_start(&poll_timer, on_poll_timer, TICK_MS, TICK_MS);
}
