/*
 * intake_report.c: intake's operations surface. Lists and reports computed
 * from intake's own tables only (returns, orders, order_lines, timeline):
 *
 *   GET /v1/returns[?state=&shop=&older_than_s=&limit=]   returns, newest first
 *       (with platform and platform_return_id: the single lookup in intake.c)
 *   GET /v1/reports/states                                 returns by state
 *   GET /v1/reports/sla[?within_s=]                        deadlines near or passed
 *   GET /v1/reports/returns[?days=]                        the after-sales analysis
 *
 * Metrics: rf_returns{state}, rf_returns_deadline_at_risk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intake.h"
#include "feeds/feeds.h"
#include "intake_ops.h"

/* Statuses in which the seller still has to act before the platform's deadline. */
#define SELLER_TURN \
    "('requested','under_review','disputed','received','refund_pending_approval','refund_failed')"

static int64_t query_int(rf_http_exchange_t *x, const char *name, int64_t dflt, int64_t lo,
                         int64_t hi) {
    char buf[32];
    int n = rf_http_query_param(x, name, buf, sizeof buf);
    if (n == -2) return -1; /* too long to be a number in range */
    if (n <= 0) return dflt;
    char *end;
    long long v = strtoll(buf, &end, 10);
    if (*end || v < lo || v > hi) return -1;
    return v;
}

static void list_returns(rf_worker_t *w, rf_http_exchange_t *x) {
    char state[40] = "", shop[130] = "", older[24], limit[24];
    if (rf_http_query_filter(x, "state", state, sizeof state) < 0 ||
        rf_http_query_filter(x, "shop", shop, sizeof shop) < 0)
        return;
    int64_t older_s = query_int(x, "older_than_s", 0, 0, 100LL * 365 * 86400);
    int64_t lim = query_int(x, "limit", 100, 1, 1000);
    if (older_s < 0 || lim < 0) {
        rf_http_reply_error(x, 400, "invalid_query",
                            "older_than_s must be 0 or more seconds and limit 1 to 1000");
        return;
    }
    snprintf(older, sizeof older, "%lld", (long long)older_s);
    snprintf(limit, sizeof limit, "%lld", (long long)lim);
    const char *p[] = {state, shop, older, limit};
    rf_worker_reply_query(
        w, x,
        "SELECT json_build_object('returns', COALESCE(json_agg(json_build_object("
        " 'return_id', return_id, 'platform', platform, 'platform_return_id', platform_return_id,"
        " 'shop_id', shop_id, 'order_id', order_id, 'kind', kind, 'status', status,"
        " 'reason_code', reason_code, 'requested_amount_fen', requested_amount_fen,"
        " 'requested_at', (extract(epoch FROM requested_at) * 1000)::bigint,"
        " 'updated_at', (extract(epoch FROM updated_at) * 1000)::bigint,"
        " 'platform_deadline_at', (extract(epoch FROM platform_deadline_at) * 1000)::bigint,"
        " 'age_s', extract(epoch FROM now() - requested_at)::bigint)"
        " ORDER BY requested_at DESC), '[]'::json))"
        " FROM (SELECT * FROM returns WHERE ($1 = '' OR status = $1) AND ($2 = '' OR shop_id = $2)"
        "  AND requested_at <= now() - make_interval(secs => $3::bigint)"
        "  ORDER BY requested_at DESC LIMIT $4::int) r",
        4, p);
}

static void report_states(rf_worker_t *w, rf_http_exchange_t *x) {
    rf_worker_reply_query(
        w, x,
        "SELECT json_build_object('states', COALESCE((SELECT json_object_agg(status, n)"
        " FROM (SELECT status, count(*) AS n FROM returns GROUP BY status) s), '{}'::json),"
        " 'oldest_open', (SELECT json_build_object('return_id', return_id, 'status', status,"
        "  'age_s', extract(epoch FROM now() - requested_at)::bigint) FROM returns"
        "  WHERE status IN " SELLER_TURN " ORDER BY requested_at LIMIT 1))",
        0, NULL);
}

static void report_sla(rf_worker_t *w, rf_http_exchange_t *x) {
    int64_t within = query_int(x, "within_s", 86400, 0, 365LL * 86400);
    if (within < 0) {
        rf_http_reply_error(x, 400, "invalid_query", "within_s must be 0 or more seconds");
        return;
    }
    char wb[24];
    snprintf(wb, sizeof wb, "%lld", (long long)within);
    const char *p[] = {wb};
    rf_worker_reply_query(
        w, x,
        "SELECT json_build_object('within_s', $1::bigint, 'returns',"
        " COALESCE(json_agg(json_build_object('return_id', return_id, 'platform', platform,"
        "  'platform_return_id', platform_return_id, 'shop_id', shop_id, 'status', status,"
        "  'kind', kind, 'requested_amount_fen', requested_amount_fen,"
        "  'platform_deadline_at', (extract(epoch FROM platform_deadline_at) * 1000)::bigint,"
        "  'seconds_left', extract(epoch FROM platform_deadline_at - now())::bigint,"
        "  'passed', platform_deadline_at < now())"
        "  ORDER BY platform_deadline_at), '[]'::json))"
        " FROM returns WHERE platform_deadline_at IS NOT NULL AND status IN " SELLER_TURN
        " AND platform_deadline_at < now() + make_interval(secs => $1::bigint)",
        1, p);
}

/* The after-sales analysis over returns requested in the last `days` days.
 * Return rates compare units returned with units sold on the order lines of
 * orders paid in the same window. */
static void report_returns(rf_worker_t *w, rf_http_exchange_t *x) {
    int64_t days = query_int(x, "days", 90, 1, 3660);
    if (days < 0) {
        rf_http_reply_error(x, 400, "invalid_query", "days must be 1 to 3660");
        return;
    }
    char db[24];
    snprintf(db, sizeof db, "%lld", (long long)days);
    const char *p[] = {db};
    rf_worker_reply_query(
        w, x,
        "WITH r AS (SELECT r.*, l.sku_id, l.title, l.supplier_id, o.region"
        "  FROM returns r JOIN order_lines l USING (platform, order_id, line_id)"
        "  JOIN orders o USING (platform, order_id)"
        "  WHERE r.requested_at >= now() - make_interval(days => $1::int)"
        "  AND r.status <> 'cancelled'),"
        " sold AS (SELECT l.sku_id, l.supplier_id, sum(l.quantity) AS units"
        "  FROM order_lines l JOIN orders o USING (platform, order_id)"
        "  WHERE COALESCE(o.paid_at, o.updated_at) >= now() - make_interval(days => $1::int)"
        "  GROUP BY 1, 2),"
        " ttr AS (SELECT extract(epoch FROM min(t.occurred_at) - r.requested_at) AS s"
        "  FROM r JOIN timeline t ON t.return_id = r.return_id AND t.type = 'refund.issued'"
        "  GROUP BY r.return_id, r.requested_at),"
        " total AS (SELECT count(*) AS n FROM r)"
        " SELECT json_build_object("
        " 'days', $1::int, 'returns', (SELECT n FROM total),"
        " 'reasons', COALESCE((SELECT json_agg(json_build_object('reason', reason_code, 'count', n,"
        "   'share', round(n::numeric / (SELECT n FROM total), 4)) ORDER BY n DESC, reason_code)"
        "   FROM (SELECT reason_code, count(*) AS n FROM r GROUP BY 1) a), '[]'::json),"
        " 'by_day', COALESCE((SELECT json_agg(json_build_object('day', d, 'count', n) ORDER BY d)"
        "   FROM (SELECT to_char(requested_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS d, count(*) AS n"
        "   FROM r GROUP BY 1) a), '[]'::json),"
        " 'by_week', COALESCE((SELECT json_agg(json_build_object('week', d, 'count', n) ORDER BY d)"
        "   FROM (SELECT to_char(requested_at AT TIME ZONE 'UTC', 'IYYY-\"W\"IW') AS d, count(*) "
        "AS n"
        "   FROM r GROUP BY 1) a), '[]'::json),"
        " 'by_region', COALESCE((SELECT json_agg(json_build_object('region', g, 'count', n,"
        "   'share', round(n::numeric / (SELECT n FROM total), 4)) ORDER BY n DESC, g)"
        "   FROM (SELECT CASE WHEN region = '' THEN '(unknown)' ELSE region END AS g, count(*) AS n"
        "   FROM r GROUP BY 1) a), '[]'::json),"
        " 'by_sku', COALESCE((SELECT json_agg(json_build_object('sku_id', a.sku_id, 'title', "
        "a.title,"
        "   'supplier_id', a.supplier_id, 'returns', a.n, 'units_returned', a.units,"
        "   'units_sold', COALESCE(s.units, 0), 'return_rate',"
        "   CASE WHEN COALESCE(s.units, 0) > 0 THEN round(a.units::numeric / s.units, 4) END,"
        "   'not_as_described', a.nad, 'not_as_described_share', round(a.nad::numeric / a.n, 4))"
        "   ORDER BY a.n DESC, a.sku_id)"
        "   FROM (SELECT sku_id, supplier_id, max(title) AS title, count(*) AS n,"
        "   sum(quantity) AS units, count(*) FILTER (WHERE reason_code = 'not_as_described') AS nad"
        "   FROM r GROUP BY 1, 2) a"
        "   LEFT JOIN sold s USING (sku_id, supplier_id)), '[]'::json),"
        " 'by_supplier', COALESCE((SELECT json_agg(json_build_object('supplier_id', a.g,"
        "   'returns', a.n, 'units_returned', a.units, 'units_sold', COALESCE(s.units, 0),"
        "   'return_rate', CASE WHEN COALESCE(s.units, 0) > 0"
        "   THEN round(a.units::numeric / s.units, 4) END, 'quality_faults', a.q)"
        "   ORDER BY a.n DESC, a.g)"
        "   FROM (SELECT supplier_id AS g, count(*) AS n, sum(quantity) AS units,"
        "   count(*) FILTER (WHERE reason_code IN ('quality', 'wrong_item')) AS q"
        "   FROM r GROUP BY 1) a"
        "   LEFT JOIN (SELECT supplier_id AS g, sum(units) AS units FROM sold GROUP BY 1) s"
        "   USING (g)), '[]'::json),"
        " 'time_to_refund', (SELECT json_build_object('refunded', count(*),"
        "   'p50_s', round(percentile_cont(0.5) WITHIN GROUP (ORDER BY s)::numeric, 1),"
        "   'p90_s', round(percentile_cont(0.9) WITHIN GROUP (ORDER BY s)::numeric, 1)) FROM ttr),"
        " 'not_as_described_flagged', COALESCE((SELECT json_agg(json_build_object('sku_id', sku_id,"
        "   'title', title, 'returns', n, 'not_as_described', nad,"
        "   'share', round(nad::numeric / n, 4)) ORDER BY nad::numeric / n DESC, sku_id)"
        "   FROM (SELECT sku_id, max(title) AS title, count(*) AS n,"
        "   count(*) FILTER (WHERE reason_code = 'not_as_described') AS nad FROM r GROUP BY 1) a"
        "   WHERE nad >= 2 AND nad::numeric / n >= 0.3), '[]'::json))",
        1, p);
}

bool intake_ops_route(rf_worker_t *w, rf_http_exchange_t *x) {
    if (strcmp(rf_http_method(x), "GET") != 0) return false;
    const char *path = rf_http_path(x);
    if (strcmp(path, "/v1/returns") == 0) {
        /* With platform or platform_return_id, at any length, it is the single
         * lookup (intake.c). */
        if (rf_http_query_has(x, "platform_return_id") || rf_http_query_has(x, "platform"))
            return false;
        list_returns(w, x);
    } else if (strcmp(path, "/v1/reports/states") == 0) report_states(w, x);
    else if (strcmp(path, "/v1/reports/sla") == 0) report_sla(w, x);
    else if (strcmp(path, "/v1/reports/returns") == 0) report_returns(w, x);
    else return false;
    return true;
}

void intake_metrics(rf_worker_t *w, rf_metrics_out_t *out) {
    intake_feed_metrics(out); /* counters only: shown even when the database is not */
    static const char *const states[] = {
        "requested",       "under_review", "approved",      "rejected",
        "awaiting_return", "received",     "disputed",      "refund_pending_approval",
        "refunding",       "refunded",     "refund_failed", "exchange_shipped",
        "exchanged",       "cancelled",    "closed"};
    json_t *doc = rf_worker_query_json(
        w,
        "SELECT json_build_object('states', COALESCE((SELECT json_object_agg(status, n) FROM"
        " (SELECT status, count(*) AS n FROM returns GROUP BY status) s), '{}'::json),"
        " 'at_risk', (SELECT count(*) FROM returns WHERE platform_deadline_at IS NOT NULL"
        "  AND status IN " SELLER_TURN " AND platform_deadline_at < now() + interval '1 day'))",
        0, NULL);
    if (!doc) return;
    json_t *st = json_object_get(doc, "states");
    rf_metrics_printf(out, "# HELP rf_returns Returns known to intake, by state.\n"
                           "# TYPE rf_returns gauge\n");
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
        rf_metrics_printf(out, "rf_returns{worker=\"intake\",state=\"%s\"} %lld\n", states[i],
                          (long long)json_integer_value(json_object_get(st, states[i])));
    rf_metrics_printf(out,
                      "# HELP rf_returns_deadline_at_risk Returns awaiting the seller whose "
                      "platform deadline passes within a day (or has passed).\n"
                      "# TYPE rf_returns_deadline_at_risk gauge\n"
                      "rf_returns_deadline_at_risk{worker=\"intake\"} %lld\n",
                      (long long)json_integer_value(json_object_get(doc, "at_risk")));
    json_decref(doc);
}
