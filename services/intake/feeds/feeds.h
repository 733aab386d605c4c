/*
 * feeds.h: intake's platform feeds (Kuaishou and Douyin after-sales records
 * coming in), as intake's core sees them: their settings, starting them,
 * telling them an order arrived, and the operator's view of them (the audit
 * route, their counters on /metrics). What the feed files share among
 * themselves is feeds_internal.h, which the core never includes.
 */
#ifndef INTAKE_FEEDS_H
#define INTAKE_FEEDS_H

#include <stdbool.h>
#include <stdint.h>

#include "worker/worker.h"

/* The feeds' settings (the worker's configuration table fills them). */
typedef struct intake_feed_settings {
    char listen[RF_CFG_STR_MAX];    /* RF_INTAKE_FEED_LISTEN */
    char spool_dir[RF_CFG_STR_MAX]; /* RF_INTAKE_FEED_SPOOL_DIR */
    char ks_message_key[RF_CFG_STR_MAX];
    char dy_app_key[RF_CFG_STR_MAX], dy_app_secret[RF_CFG_STR_MAX];
    char ks_reason_map[RF_CFG_STR_MAX], dy_reason_map[RF_CFG_STR_MAX];
    /* Kuaishou API and poller */
    int64_t poll_interval_ms, poll_lag_ms, poll_start_ms, poll_page_size;
    /* Douyin poller */
    int64_t dy_poll_interval_ms, dy_poll_lag_ms;
} intake_feed_settings_t;

extern intake_feed_settings_t intake_feed_settings;

/* feed_worker.c: set up the feeds on the worker (receiver, drain, poller); 0 or -1. */
int intake_feeds_start(rf_worker_t *w);
/* feed_apply.c: an order arrived (feed or POST /v1/orders): create the
 * returns waiting on it. */
void intake_feed_order_arrived(rf_worker_t *w, const char *platform, const char *order_id);
/* feed_ops.c: GET /v1/feeds/audit (true when x was that), and the feed
 * counters on /metrics. */
bool intake_feed_route(rf_worker_t *w, rf_http_exchange_t *x);
void intake_feed_metrics(rf_metrics_out_t *out);

#endif
