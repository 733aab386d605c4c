/*
 * feed_dy.c: intake's Douyin calls, each with its shop's token and backoff
 * (feeds_internal.h, feed_shops.c), asynchronous on the worker's loop
 * (platform/dy_client.h):
 *
 *  - afterSale.Detail for an after-sale the poller listed (a list item has no
 *    reason code): the poller records it as a push to fetch, in the page's
 *    transaction, so a restart loses none; the detail is applied and the
 *    pushes it answers marked processed;
 *  - order.orderDetail for a return waiting on an order intake does not
 *    know (without the API such a return waits for POST /v1/orders).
 * Off when RF_DOUYIN_API_URL is empty.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feeds/feed_douyin_map.h"
#include "feeds/feeds_internal.h"
#include "runtime/ids.h"
#include "runtime/log.h"
#include "runtime/secrets.h"

#define CALL_TIMEOUT_MS 10000
#define MAX_ORDER_LINES 64

intake_dy_t intake_dy;

bool intake_dy_enabled(void) { return intake_dy.enabled; }

void intake_dy_back_off(intake_feed_shop_t *s, rf_dy_outcome_t outcome, const char *what,
                        const char *error) {
    intake_feed_shop_back_off(s,
                              outcome == RF_DY_RATE_LIMITED    ? "rate_limited"
                              : outcome == RF_DY_TOKEN_INVALID ? "token_invalid"
                                                               : "failed",
                              what, error);
}

int intake_dy_call(intake_feed_shop_t *s, const char *method, json_t *param, rf_dy_done_fn cb,
                   void *arg) {
    if (!intake_dy.enabled || intake_feed_shop_paused(s)) return -1;
    char token[1024];
    int rc = -1;
    if (intake_feed_shop_token(intake_dy.w, s, NULL, token, sizeof token) == 1)
        rc = rf_dy_call(intake_dy.http, &intake_dy.cfg, method, param, token, NULL, rf_now_ms(),
                        CALL_TIMEOUT_MS, cb, arg);
    rf_secrets_wipe(token, sizeof token);
    return rc;
}

/* ---- fetches ---------------------------------------------------------------------------- */

typedef struct dy_fetch {
    bool order;
    char shop_id[128];
    char id[64];
} dy_fetch_t;

static void aftersale_fetched(const dy_fetch_t *f, json_t *data) {
    intake_feed_record_t r;
    char err[200];
    if (intake_feed_from_douyin_detail(data, f->shop_id, &r, err, sizeof err) != 0) {
        rf_warn("event=douyin_record_unusable aftersale_id=%s error=\"%s\"", f->id, err);
        intake_ks_pushes_answered(intake_dy.w, "douyin", f->id, INT64_MAX / 2, err);
        return;
    }
    int a = intake_feed_apply(intake_dy.w, &r);
    if (a >= 0)
        intake_ks_pushes_answered(intake_dy.w, "douyin", f->id, r.version,
                                  intake_feed_action_name((intake_feed_action_t)a));
}

static void order_fetched(const dy_fetch_t *f, json_t *data) {
    intake_order_t o;
    intake_order_line_t lines[MAX_ORDER_LINES];
    char ids[INTAKE_DY_ORDER_IDS(MAX_ORDER_LINES)], err[200] = "";
    bool mapped = intake_feed_order_from_douyin(data, &o, lines, MAX_ORDER_LINES, ids, sizeof ids,
                                                err, sizeof err) == 0;
    if (mapped) o.shop_id = f->shop_id; /* the shop whose token saw it */
    intake_feed_order_fetched(intake_dy.w, "douyin", "order.orderDetail", f->id, &o, mapped, err);
}

static void on_fetched(void *arg, rf_dy_outcome_t outcome, int code, const char *sub_code,
                       json_t *data, const char *raw, const char *error) {
    (void)code;
    (void)sub_code;
    (void)raw;
    dy_fetch_t *f = arg;
    const char *what = f->order ? "order.orderDetail" : "afterSale.Detail";
    intake_feed_shop_t *shop = intake_feed_shop("douyin", f->shop_id);
    if (outcome == RF_DY_REFUSED) {
        atomic_fetch_add(&intake_feed_counters.fetch_failures, 1);
        rf_warn("event=douyin_call_refused shop_id=%s call=%s id=%s error=\"%s\"", f->shop_id, what,
                f->id, error ? error : "");
        if (!f->order)
            intake_ks_pushes_answered(intake_dy.w, "douyin", f->id, INT64_MAX / 2,
                                      error ? error : "refused");
    } else if (outcome != RF_DY_OK) {
        if (shop) intake_dy_back_off(shop, outcome, what, error);
    } else {
        if (shop) intake_feed_shop_succeeded(shop);
        if (f->order) order_fetched(f, data);
        else aftersale_fetched(f, data);
    }
    free(f);
}

static int fetch(bool order, const char *shop_id, const char *id) {
    intake_feed_shop_t *shop = intake_feed_shop("douyin", shop_id);
    if (!intake_dy.enabled || !shop || !*shop_id || intake_feed_shop_paused(shop)) return -1;
    dy_fetch_t *f = calloc(1, sizeof *f);
    if (!f) return -1;
    f->order = order;
    snprintf(f->shop_id, sizeof f->shop_id, "%s", shop_id);
    snprintf(f->id, sizeof f->id, "%s", id);
    json_t *param =
        order ? json_pack("{s:s}", "shop_order_id", id) : json_pack("{s:s}", "after_sale_id", id);
    int rc = intake_dy_call(shop, order ? "order.orderDetail" : "afterSale.Detail", param,
                            on_fetched, f);
    json_decref(param);
    if (rc != 0) {
        free(f);
        return -1;
    }
    atomic_fetch_add(&intake_feed_counters.fetches, 1);
    return 0;
}

int intake_dy_fetch_aftersale(const char *shop_id, const char *aftersale_id) {
    return fetch(false, shop_id, aftersale_id);
}

int intake_dy_fetch_order(const char *shop_id, const char *order_id) {
    return fetch(true, shop_id, order_id);
}

int intake_dy_start(rf_worker_t *w, const intake_feed_settings_t *s, char *err, size_t errlen) {
    intake_dy.w = w;
    intake_dy.s = s;
    if (rf_dy_settings_load(&intake_dy.cfg) != 0) {
        snprintf(err, errlen, "bad Douyin API settings (each is named in the log above)");
        return -1;
    }
    if (!rf_dy_enabled()) return 0;
    intake_dy.http = rf_httpc_new(rf_worker_loop(w));
    if (!intake_dy.http) {
        snprintf(err, errlen, "cannot set up the HTTP client");
        return -1;
    }
    intake_dy.enabled = true;
    intake_dy_poll_start(w);
    rf_info("event=douyin_api_ready url=%s poll_interval_ms=%lld", intake_dy.cfg.api_url,
            (long long)s->poll_interval_ms);
    return 0;
}
