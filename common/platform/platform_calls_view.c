/*
 * platform_calls_view.c: what operators see of the decision calls
 * (platform/platform_calls.h): GET /v1/platform-calls with every request and
 * answer, and the calls' gauges on /metrics. Reads only; the sending and the
 * answers are platform_calls.c's.
 */
#include <string.h>

#include "platform/platform_calls.h"
#include "runtime/ids.h"

/* ---- metrics ---------------------------------------------------------------------------------- */

void rf_pcalls_metrics(rf_worker_t *w, rf_metrics_out_t *out, const char *worker_name) {
    static const char *const states[] = {"pending", "succeeded", "failed", "superseded",
                                         "not_sent"};
    json_t *doc = rf_worker_query_json(
        w,
        "SELECT json_build_object('states', COALESCE((SELECT json_object_agg(state, n) FROM"
        " (SELECT state, count(*) AS n FROM platform_calls GROUP BY state) s), '{}'::json),"
        " 'oldest', COALESCE((SELECT extract(epoch FROM now() - min(created_at))::bigint"
        "   FROM platform_calls WHERE state = 'pending'), 0))",
        0, NULL);
    if (!doc) return;
    json_t *st = json_object_get(doc, "states");
    rf_metrics_printf(out, "# HELP rf_platform_calls Decision calls to the platform, by state"
                           " (not_sent: calls off, an operator must act).\n"
                           "# TYPE rf_platform_calls gauge\n");
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
        rf_metrics_printf(out, "rf_platform_calls{worker=\"%s\",state=\"%s\"} %lld\n", worker_name,
                          states[i], (long long)json_integer_value(json_object_get(st, states[i])));
    rf_metrics_printf(out,
                      "# HELP rf_platform_call_oldest_pending_age_seconds Age of the oldest"
                      " platform call not yet answered.\n"
                      "# TYPE rf_platform_call_oldest_pending_age_seconds gauge\n"
                      "rf_platform_call_oldest_pending_age_seconds{worker=\"%s\"} %lld\n",
                      worker_name, (long long)json_integer_value(json_object_get(doc, "oldest")));
    json_decref(doc);
}

/* ---- GET /v1/platform-calls?return_id= -------------------------------------------------------- */

bool rf_pcalls_route(rf_db_t *db, rf_http_exchange_t *x) {
    if (strcmp(rf_http_method(x), "GET") != 0 || strcmp(rf_http_path(x), "/v1/platform-calls") != 0)
        return false;
    char return_id[RF_ID_MAX];
    if (rf_http_query_filter(x, "return_id", return_id, sizeof return_id) < 0) return true;
    const char *p[] = {return_id};
    bool dberr = false;
    json_t *calls = rf_db_query_json(
        db,
        "SELECT COALESCE(json_agg(json_build_object('call_id', c.call_id, 'return_id',"
        " c.return_id, 'platform', c.platform, 'shop_id', c.shop_id,"
        " 'platform_return_id', c.platform_return_id,"
        " 'purpose', c.purpose, 'method', c.method, 'param', c.param, 'idempotency_key',"
        " c.idempotency_key, 'platform_version', c.platform_version, 'context', c.context,"
        " 'state', c.state, 'attempts', c.attempts, 'rate_limited', c.rate_limited,"
        " 'outcome', c.outcome, 'error', c.error,"
        " 'created_at', (extract(epoch FROM c.created_at) * 1000)::bigint,"
        " 'done_at', (extract(epoch FROM c.done_at) * 1000)::bigint,"
        " 'requests', (SELECT COALESCE(json_agg(json_build_object('method', a.method, 'param',"
        "   a.param, 'idempotency_key', a.idempotency_key, 'started_at',"
        "   (extract(epoch FROM a.started_at) * 1000)::bigint, 'duration_ms', a.duration_ms,"
        "   'outcome', a.outcome, 'result_code', a.result_code, 'answer', a.answer,"
        "   'error', a.error) ORDER BY a.id), '[]'::json)"
        "   FROM platform_call_attempts a WHERE a.call_id = c.call_id))"
        " ORDER BY c.call_id), '[]'::json)"
        " FROM (SELECT * FROM platform_calls WHERE $1 = '' OR return_id = $1"
        "   ORDER BY call_id DESC LIMIT 200) c",
        1, p, &dberr);
    if (!calls) rf_http_reply_error(x, 503, "db_unavailable", "database unavailable; retry");
    else
        rf_http_reply_json(x, 200, json_pack("{s:s, s:o}", "return_id", return_id, "calls", calls));
    return true;
}
