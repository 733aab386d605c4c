/*
 * refund_report.c: refund's operations surface, from its own tables:
 *
 *   GET /v1/reports/claims   claims by party (supplier, carrier): count,
 *                            amount, amount still owed (status open), and
 *                            refund totals
 *
 * Metrics: rf_refund_plans{status}, rf_claims_open_fen.
 */
#include <string.h>

#include "refund_ops.h"
#include "platform/platform_calls.h"

bool refund_ops_route(rf_worker_t *w, rf_http_exchange_t *x) {
    if (strcmp(rf_http_method(x), "GET") != 0 || strcmp(rf_http_path(x), "/v1/reports/claims") != 0)
        return false;
    rf_worker_reply_query(
        w, x,
        "SELECT json_build_object("
        " 'claims', COALESCE((SELECT json_agg(json_build_object('party', party, 'party_id', "
        "party_id,"
        "  'claims', n, 'amount_fen', amt, 'owed_fen', owed) ORDER BY owed DESC, party, party_id)"
        "  FROM (SELECT party, party_id, count(*) AS n, sum(amount_fen) AS amt,"
        "  COALESCE(sum(amount_fen) FILTER (WHERE status = 'open'), 0) AS owed"
        "  FROM claims GROUP BY 1, 2) c), '[]'::json),"
        " 'refunds', (SELECT json_build_object('issued', count(*) FILTER (WHERE status = 'issued'),"
        "  'failed', count(*) FILTER (WHERE status = 'failed'),"
        "  'issued_fen', COALESCE(sum(amount_fen) FILTER (WHERE status = 'issued'), 0))"
        "  FROM refunds),"
        " 'plans', COALESCE((SELECT json_object_agg(status, n) FROM"
        "  (SELECT status, count(*) AS n FROM plans GROUP BY 1) p), '{}'::json))",
        0, NULL);
    return true;
}

void refund_metrics(rf_worker_t *w, rf_metrics_out_t *out) {
    json_t *doc = rf_worker_query_json(
        w,
        "SELECT json_build_object('plans', COALESCE((SELECT json_object_agg(status, n) FROM"
        " (SELECT status, count(*) AS n FROM plans GROUP BY 1) p), '{}'::json),"
        " 'owed', (SELECT COALESCE(sum(amount_fen), 0) FROM claims WHERE status = 'open'))",
        0, NULL);
    if (!doc) return;
    rf_metrics_printf(out, "# HELP rf_refund_plans Refund plans, by status.\n"
                           "# TYPE rf_refund_plans gauge\n");
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(doc, "plans"), k, v) {
        char label[48];
        size_t i = 0;
        for (; k[i] && i + 1 < sizeof label; i++)
            label[i] = (k[i] >= 'a' && k[i] <= 'z') || k[i] == '_' ? k[i] : '_';
        label[i] = '\0';
        rf_metrics_printf(out, "rf_refund_plans{worker=\"refund\",status=\"%s\"} %lld\n", label,
                          (long long)json_integer_value(v));
    }
    rf_metrics_printf(out,
                      "# HELP rf_claims_open_fen Amount claimed from suppliers and carriers and "
                      "not yet settled, fen.\n# TYPE rf_claims_open_fen gauge\n"
                      "rf_claims_open_fen{worker=\"refund\"} %lld\n",
                      (long long)json_integer_value(json_object_get(doc, "owed")));
    json_decref(doc);
    rf_pcalls_metrics(w, out, "refund");
}
