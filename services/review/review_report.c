/*
 * review_report.c: review's operations surface, from its own tasks table:
 *
 *   GET /v1/reports/review   pending tasks by required role, oldest age,
 *                            tasks near (RF_REVIEW_DEADLINE_WARN_S) or past
 *                            their platform deadline
 *
 * Metrics: rf_review_tasks{status}, rf_review_deadline_near,
 * rf_review_deadline_passed, rf_review_oldest_pending_age_seconds.
 */
#include <stdio.h>
#include <string.h>

#include "review_ops.h"
#include "platform/platform_calls.h"

int64_t review_deadline_warn_s = 21600;

#define SUMMARY_SQL                                                                            \
    "SELECT json_build_object('warn_s', $1::bigint,"                                           \
    " 'tasks', COALESCE((SELECT json_object_agg(status, n) FROM"                               \
    "  (SELECT status, count(*) AS n FROM tasks GROUP BY status) s), '{}'::json),"             \
    " 'pending_by_role', COALESCE((SELECT json_object_agg(required_role, n) FROM"              \
    "  (SELECT required_role, count(*) AS n FROM tasks WHERE status = 'pending'"               \
    "  GROUP BY 1) s), '{}'::json),"                                                           \
    " 'oldest_pending_age_s', COALESCE((SELECT extract(epoch FROM now() - min(created_at))"    \
    "  ::bigint FROM tasks WHERE status = 'pending'), 0),"                                     \
    " 'deadline_near', (SELECT count(*) FROM tasks WHERE status = 'pending'"                   \
    "  AND deadline_at >= now() AND deadline_at < now() + make_interval(secs => $1::bigint))," \
    " 'deadline_passed', (SELECT count(*) FROM tasks WHERE status = 'pending'"                 \
    "  AND deadline_at < now()))"

bool review_ops_route(rf_worker_t *w, rf_http_exchange_t *x) {
    if (strcmp(rf_http_method(x), "GET") != 0 || strcmp(rf_http_path(x), "/v1/reports/review") != 0)
        return false;
    char warn[24];
    snprintf(warn, sizeof warn, "%lld", (long long)review_deadline_warn_s);
    const char *p[] = {warn};
    rf_worker_reply_query(w, x, SUMMARY_SQL, 1, p);
    return true;
}

void review_metrics(rf_worker_t *w, rf_metrics_out_t *out) {
    static const char *const statuses[] = {"pending", "approved", "rejected", "cancelled"};
    char warn[24];
    snprintf(warn, sizeof warn, "%lld", (long long)review_deadline_warn_s);
    const char *p[] = {warn};
    json_t *doc = rf_worker_query_json(w, SUMMARY_SQL, 1, p);
    if (!doc) return;
    json_t *t = json_object_get(doc, "tasks");
    rf_metrics_printf(out, "# HELP rf_review_tasks Review tasks, by status.\n"
                           "# TYPE rf_review_tasks gauge\n");
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        rf_metrics_printf(out, "rf_review_tasks{worker=\"review\",status=\"%s\"} %lld\n",
                          statuses[i],
                          (long long)json_integer_value(json_object_get(t, statuses[i])));
    rf_metrics_printf(
        out,
        "# HELP rf_review_deadline_near Pending reviews whose platform deadline is within "
        "RF_REVIEW_DEADLINE_WARN_S.\n# TYPE rf_review_deadline_near gauge\n"
        "rf_review_deadline_near{worker=\"review\"} %lld\n"
        "# HELP rf_review_deadline_passed Pending reviews past their platform deadline.\n"
        "# TYPE rf_review_deadline_passed gauge\n"
        "rf_review_deadline_passed{worker=\"review\"} %lld\n"
        "# HELP rf_review_oldest_pending_age_seconds Age of the oldest pending review.\n"
        "# TYPE rf_review_oldest_pending_age_seconds gauge\n"
        "rf_review_oldest_pending_age_seconds{worker=\"review\"} %lld\n",
        (long long)json_integer_value(json_object_get(doc, "deadline_near")),
        (long long)json_integer_value(json_object_get(doc, "deadline_passed")),
        (long long)json_integer_value(json_object_get(doc, "oldest_pending_age_s")));
    json_decref(doc);
    rf_pcalls_metrics(w, out, "review");
}
