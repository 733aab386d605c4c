/*
 * feed_ops.c: the operator's view of the platform feeds (feeds.h):
 * GET /v1/feeds/audit (refused messages with reason, raw body and source)
 * and the feed counters on /metrics.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "feeds/feeds_internal.h"

bool intake_feed_route(rf_worker_t *w, rf_http_exchange_t *x) {
    if (strcmp(rf_http_method(x), "GET") != 0 || strcmp(rf_http_path(x), "/v1/feeds/audit") != 0)
        return false;
    char platform[32] = "", limit_text[16] = "";
    if (rf_http_query_filter(x, "platform", platform, sizeof platform) < 0 ||
        rf_http_query_filter(x, "limit", limit_text, sizeof limit_text) < 0)
        return true;
    long limit = *limit_text ? strtol(limit_text, NULL, 10) : 100;
    if (limit < 1 || limit > 1000) limit = 100;
    rf_num_t lim = rf_i64(limit);
    const char *p[] = {platform, lim.s};
    rf_worker_reply_query(
        w, x,
        "SELECT json_build_object('refused', COALESCE(json_agg(json_build_object('id', id,"
        " 'platform', platform, 'reason', reason, 'source', source, 'body', body,"
        " 'received_at', (extract(epoch FROM received_at) * 1000)::bigint) ORDER BY id DESC),"
        " '[]'::json), 'total', (SELECT count(*) FROM feed_refused"
        "   WHERE $1 = '' OR platform = $1))"
        " FROM (SELECT * FROM feed_refused WHERE $1 = '' OR platform = $1"
        "   ORDER BY id DESC LIMIT $2::int) a",
        2, p);
    return true;
}

void intake_feed_metrics(rf_metrics_out_t *out) {
    intake_feed_counters_t *c = &intake_feed_counters;
    static const char *const platforms[] = {"kuaishou", "douyin"};
    rf_metrics_printf(out, "# HELP rf_feed_pushes_received_total Push messages accepted at the"
                           " door, by platform.\n# TYPE rf_feed_pushes_received_total counter\n");
    for (int i = 0; i < 2; i++)
        rf_metrics_printf(out, "rf_feed_pushes_received_total{platform=\"%s\"} %lld\n",
                          platforms[i], (long long)atomic_load(&c->received[i]));
    rf_metrics_printf(out, "# HELP rf_feed_pushes_refused_total Push messages refused (bad key,"
                           " sign or body), by platform.\n# TYPE rf_feed_pushes_refused_total"
                           " counter\n");
    for (int i = 0; i < 2; i++)
        rf_metrics_printf(out, "rf_feed_pushes_refused_total{platform=\"%s\"} %lld\n", platforms[i],
                          (long long)atomic_load(&c->refused[i]));
    static const struct {
        const char *name, *help;
        size_t off;
    } simple[] = {
        {"rf_feed_heartbeats_total", "Kuaishou heartbeat pushes answered.",
         offsetof(intake_feed_counters_t, heartbeats)},
        {"rf_feed_spool_errors_total", "Spool writes or syncs that failed (push answered 503).",
         offsetof(intake_feed_counters_t, spool_errors)},
        {"rf_feed_pushes_recorded_total", "Pushes recorded in the database (first copy).",
         offsetof(intake_feed_counters_t, recorded)},
        {"rf_feed_pushes_deduped_total", "Copies of pushes already recorded (same event id).",
         offsetof(intake_feed_counters_t, deduped)},
        {"rf_feed_pushes_processed_total", "Pushes processed.",
         offsetof(intake_feed_counters_t, processed)},
        {"rf_feed_records_stale_total", "Record versions not newer than the applied one.",
         offsetof(intake_feed_counters_t, stale)},
        {"rf_feed_returns_created_total", "Returns created from platform records.",
         offsetof(intake_feed_counters_t, created)},
        {"rf_feed_returns_updated_total", "return.updated emitted.",
         offsetof(intake_feed_counters_t, updated)},
        {"rf_feed_returns_cancelled_total", "return.cancelled emitted for a platform closure.",
         offsetof(intake_feed_counters_t, cancelled)},
        {"rf_feed_returns_pending_total", "Records that waited for their order.",
         offsetof(intake_feed_counters_t, pending)},
        {"rf_feed_fetches_total", "Record and order fetches from the platform API.",
         offsetof(intake_feed_counters_t, fetches)},
        {"rf_feed_fetch_failures_total", "Fetches that failed (retried later).",
         offsetof(intake_feed_counters_t, fetch_failures)},
        {"rf_feed_rate_limited_total", "API answers that were rate limits (backed off).",
         offsetof(intake_feed_counters_t, rate_limited)},
        {"rf_feed_poll_windows_total", "Poll windows listed to the end.",
         offsetof(intake_feed_counters_t, poll_windows)},
        {"rf_feed_poll_pages_total", "Poll list pages processed.",
         offsetof(intake_feed_counters_t, poll_pages)},
        {"rf_feed_orders_fetched_total", "Orders fetched for returns waiting on them.",
         offsetof(intake_feed_counters_t, orders_fetched)},
    };
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
        rf_metrics_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %lld\n", simple[i].name,
                          simple[i].help, simple[i].name, simple[i].name,
                          (long long)atomic_load((atomic_llong *)((char *)c + simple[i].off)));
    rf_metrics_printf(out,
                      "# HELP rf_feed_poll_lag_seconds How far the poller's checkpoint is"
                      " behind now.\n# TYPE rf_feed_poll_lag_seconds gauge\n"
                      "rf_feed_poll_lag_seconds %.3f\n",
                      (double)atomic_load(&c->poll_lag_ms) / 1000.0);
}
