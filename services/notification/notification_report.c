/*
 * notification_report.c: notification's operations surface, from its own
 * tables:
 *
 *   GET /v1/reports/satisfaction   messages by audience (delivered, failed or
 *                                  still queued), and the satisfaction
 *                                  survey results (responses, average score,
 *                                  distribution) from the first table of the
 *                                  schema with an integer score (or rating)
 *                                  column, when there is one
 *
 * Metrics: rf_messages{audience}.
 */
#include <string.h>

#include "notification_ops.h"

#define MESSAGES_SQL                                                                              \
    "SELECT json_build_object('messages', COALESCE((SELECT json_object_agg(audience, n) FROM"     \
    " (SELECT audience, count(*) AS n FROM (SELECT audience FROM messages UNION ALL"              \
    "  SELECT audience FROM deliveries) a GROUP BY 1) m), '{}'::json),"                           \
    " 'survey_table', (SELECT json_build_array(table_name, column_name)"                          \
    "  FROM information_schema.columns WHERE table_schema = current_schema()"                     \
    "  AND column_name IN ('score', 'rating') AND data_type IN ('smallint', 'integer', 'bigint')" \
    "  ORDER BY table_name, column_name LIMIT 1))"

static bool plain_ident(const char *s) {
    if (!s || !*s || strlen(s) > 60) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')) return false;
    return true;
}

bool notification_ops_route(rf_worker_t *w, rf_http_exchange_t *x) {
    if (strcmp(rf_http_method(x), "GET") != 0 ||
        strcmp(rf_http_path(x), "/v1/reports/satisfaction") != 0)
        return false;
    json_t *doc = rf_worker_query_json(w, MESSAGES_SQL, 0, NULL);
    if (!doc) {
        rf_http_reply_error(x, 503, "db_unavailable", "database unavailable; retry");
        return true;
    }
    json_t *survey = NULL;
    json_t *st = json_object_get(doc, "survey_table");
    const char *table = json_string_value(json_array_get(st, 0));
    const char *col = json_string_value(json_array_get(st, 1));
    if (plain_ident(table) && plain_ident(col)) { /* names from the catalog, checked */
        char sql[1024];
        snprintf(sql, sizeof sql,
                 "SELECT json_build_object('table', '%s', 'responses', count(%s),"
                 " 'average', round(avg(%s)::numeric, 2),"
                 " 'distribution', COALESCE((SELECT json_object_agg(v, n) FROM"
                 "  (SELECT %s AS v, count(*) AS n FROM %s WHERE %s IS NOT NULL GROUP BY 1) d),"
                 "  '{}'::json)) FROM %s",
                 table, col, col, col, table, col, table);
        survey = rf_worker_query_json(w, sql, 0, NULL);
    }
    json_object_del(doc, "survey_table");
    json_object_set_new(doc, "survey",
                        survey ? survey : json_pack("{s:i, s:n}", "responses", 0, "average"));
    rf_http_reply_json(x, 200, doc);
    return true;
}

void notification_metrics(rf_worker_t *w, rf_metrics_out_t *out) {
    static const char *const audiences[] = {"buyer", "supplier", "ops"};
    json_t *doc = rf_worker_query_json(w, MESSAGES_SQL, 0, NULL);
    if (!doc) return;
    json_t *m = json_object_get(doc, "messages");
    rf_metrics_printf(out, "# HELP rf_messages Messages recorded, by audience.\n"
                           "# TYPE rf_messages gauge\n");
    for (size_t i = 0; i < sizeof audiences / sizeof audiences[0]; i++)
        rf_metrics_printf(out, "rf_messages{worker=\"notification\",audience=\"%s\"} %lld\n",
                          audiences[i],
                          (long long)json_integer_value(json_object_get(m, audiences[i])));
    json_decref(doc);
}
