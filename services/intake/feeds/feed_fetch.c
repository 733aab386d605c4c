/*
 * feed_fetch.c: the records intake asks Kuaishou for, each of one shop
 * (feeds_internal.h), asynchronous on the worker's loop:
 *
 *  - refund detail (open.seller.order.refund.detail, GET) for a push that
 *    carries only ids; then the pushes the record answers are marked processed;
 *  - order detail (open.order.detail, GET) for a return waiting on an order
 *    intake does not know; asked again every few seconds until it comes
 *    (the timer also asks Douyin's, feed_dy.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feeds/feeds_internal.h"
#include "runtime/ids.h"
#include "runtime/log.h"

#define INFLIGHT_MAX 64

typedef enum fetch_kind { FETCH_REFUND, FETCH_ORDER } fetch_kind_t;

typedef struct fetch {
    fetch_kind_t kind;
    char shop_id[128];
    char id[64];
} fetch_t;

static struct {
    char inflight[INFLIGHT_MAX][200]; /* "r:<shop>:<refundId>" / "o:<shop>:<oid>" */
    uv_timer_t ask_timer;
} fx;

size_t intake_ks_inflight(void) {
    size_t n = 0;
    for (size_t i = 0; i < INFLIGHT_MAX; i++) n += fx.inflight[i][0] != '\0';
    return n;
}

static void key_of(const fetch_t *f, char *out, size_t cap) {
    snprintf(out, cap, "%c:%s:%s", f->kind == FETCH_REFUND ? 'r' : 'o', f->shop_id, f->id);
}

static int inflight_slot(const char *key, bool take) {
    int free_slot = -1;
    for (int i = 0; i < INFLIGHT_MAX; i++) {
        if (strcmp(fx.inflight[i], key) == 0) return -2; /* already asked */
        if (!fx.inflight[i][0] && free_slot < 0) free_slot = i;
    }
    if (take && free_slot >= 0) snprintf(fx.inflight[free_slot], sizeof fx.inflight[0], "%s", key);
    return free_slot;
}

static void inflight_done(const char *key) {
    for (int i = 0; i < INFLIGHT_MAX; i++)
        if (strcmp(fx.inflight[i], key) == 0) fx.inflight[i][0] = '\0';
}

json_t *intake_ks_id_json(const char *id) {
    char *end;
    long long v = strtoll(id, &end, 10);
    return *id && *end == '\0' ? json_integer(v) : json_string(id);
}

void intake_ks_pushes_answered(rf_worker_t *w, const char *platform, const char *biz_id,
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

static void refund_fetched(const fetch_t *f, json_t *data) {
    intake_feed_record_t r;
    char err[200];
    rf_worker_t *w = intake_ks.w;
    if (intake_feed_from_kuaishou(data, &r, err, sizeof err) != 0) {
        rf_warn("event=kuaishou_record_unusable refund_id=%s error=\"%s\"", f->id, err);
        intake_ks_pushes_answered(w, "kuaishou", f->id, INT64_MAX / 2, err);
        return;
    }
    snprintf(r.shop_id, sizeof r.shop_id, "%s", f->shop_id); /* the shop whose token saw it */
    int a = intake_feed_apply(w, &r);
    if (a >= 0)
        intake_ks_pushes_answered(w, "kuaishou", f->id, r.version,
                                  intake_feed_action_name((intake_feed_action_t)a));
}

static void order_fetched(const fetch_t *f, json_t *data) {
    intake_order_t o;
    intake_order_line_t lines[64];
    char ids[64 * (3 + 2 * 64)], err[200] = "";
    bool mapped =
        intake_feed_order_from_kuaishou(data, &o, lines, 64, ids, sizeof ids, err, sizeof err) == 0;
    intake_feed_order_fetched(intake_ks.w, "kuaishou", "open.order.detail", f->id, &o, mapped, err);
}

static void on_fetched(void *arg, rf_ks_outcome_t outcome, int result_code, json_t *data,
                       const char *raw, const char *error) {
    (void)result_code;
    (void)raw;
    fetch_t *f = arg;
    char key[200];
    key_of(f, key, sizeof key);
    inflight_done(key);
    const char *what = f->kind == FETCH_REFUND ? "refund.detail" : "order.detail";
    intake_feed_shop_t *shop = intake_feed_shop("kuaishou", f->shop_id);
    if (outcome == RF_KS_REFUSED) {
        /* The platform said no: no pause. An order is asked again later; the
         * pushes of a refund it will not show are closed with the answer (the
         * poller still brings the record if it exists). */
        atomic_fetch_add(&intake_feed_counters.fetch_failures, 1);
        rf_warn("event=kuaishou_call_refused shop_id=%s call=%s id=%s error=\"%s\"", f->shop_id,
                what, f->id, error ? error : "");
        if (f->kind == FETCH_REFUND)
            intake_ks_pushes_answered(intake_ks.w, "kuaishou", f->id, INT64_MAX / 2,
                                      error ? error : "refused");
    } else if (outcome != RF_KS_OK) {
        if (shop) intake_ks_back_off(shop, outcome, what, error);
    } else {
        if (shop) intake_feed_shop_succeeded(shop);
        if (f->kind == FETCH_REFUND) refund_fetched(f, data);
        else order_fetched(f, data);
    }
    free(f);
}

static int fetch(fetch_kind_t kind, const char *shop_id, const char *id) {
    intake_feed_shop_t *shop = intake_feed_shop("kuaishou", shop_id);
    if (!intake_ks.enabled || !shop || intake_feed_shop_paused(shop)) return -1;
    fetch_t *f = calloc(1, sizeof *f);
    if (!f) return -1;
    f->kind = kind;
    snprintf(f->shop_id, sizeof f->shop_id, "%s", shop_id);
    snprintf(f->id, sizeof f->id, "%s", id);
    char key[200];
    key_of(f, key, sizeof key);
    int slot = inflight_slot(key, false);
    if (slot < 0) {
        free(f);
        return slot == -2 ? 0 : -1; /* asked already / busy: the next pass asks */
    }
    json_t *param = kind == FETCH_REFUND ? json_pack("{s:o}", "refundId", intake_ks_id_json(id))
                                         : json_pack("{s:o}", "oid", intake_ks_id_json(id));
    int rc = intake_ks_call(
        shop, kind == FETCH_REFUND ? "open.seller.order.refund.detail" : "open.order.detail", param,
        on_fetched, f);
    json_decref(param);
    if (rc != 0) {
        free(f);
        return -1;
    }
    inflight_slot(key, true);
    atomic_fetch_add(&intake_feed_counters.fetches, 1);
    return 0;
}

int intake_ks_fetch_refund(const char *shop_id, const char *refund_id) {
    return fetch(FETCH_REFUND, shop_id, refund_id);
}

int intake_ks_fetch_order(const char *shop_id, const char *order_id) {
    return fetch(FETCH_ORDER, shop_id, order_id);
}

int intake_feed_fetch_order(const char *platform, const char *shop_id, const char *order_id) {
    if (strcmp(platform, "kuaishou") == 0) return intake_ks_fetch_order(shop_id, order_id);
    if (strcmp(platform, "douyin") == 0) return intake_dy_fetch_order(shop_id, order_id);
    return -1;
}

/* Orders still asked for (a failed or lost fetch): again every few seconds,
 * of the platforms whose API is on (a Douyin return without it waits for
 * POST /v1/orders). */
static void on_ask_timer(uv_timer_t *t) {
    rf_worker_t *w = t->data;
    rf_db_t *db = rf_worker_db(w);
    if (!rf_db_connected(db)) return;
    const char *p[] = {intake_ks_enabled() ? "t" : "f", intake_dy_enabled() ? "t" : "f"};
    PGresult *res =
        rf_db_query(db,
                    "UPDATE feed_order_asks SET asked_at = now(),"
                    " attempts = attempts + 1 WHERE (platform, order_id) IN"
                    " (SELECT platform, order_id FROM feed_order_asks"
                    "  WHERE ((platform = 'kuaishou' AND $1::bool)"
                    "   OR (platform = 'douyin' AND $2::bool))"
                    "  AND asked_at < now() - interval '5 seconds'"
                    "  ORDER BY asked_at LIMIT 16) RETURNING platform, shop_id, order_id",
                    2, p);
    for (int i = 0; res && i < PQntuples(res); i++)
        intake_feed_fetch_order(rf_get_str(res, i, 0), rf_get_str(res, i, 1),
                                rf_get_str(res, i, 2));
    if (res) PQclear(res);
}

void intake_feed_asks_start(rf_worker_t *w) {
    uv_loop_t *loop = rf_worker_loop(w);
    uv_timer_init(loop, &fx.ask_timer);
    fx.ask_timer.data = w;
    uv_unref((uv_handle_t *)&fx.ask_timer);
    uv_timer_start(&fx.ask_timer, on_ask_timer, 2000, 2000);
}
