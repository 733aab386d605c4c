/*
 * warehouse_report.c: warehouse's operations surface, from its own tables:
 *
 *   GET /v1/reports/quality   parcels still expected (count, oldest age) and
 *                             inspection grades by supplier and by SKU
 *                             (quality faults: goods_damaged, missing_parts,
 *                             wrong_item, empty_box)
 *
 * Metrics: rf_parcels_expected, rf_parcels_oldest_expected_age_seconds.
 */
#include <string.h>

#include "warehouse_ops.h"

#define FAULTS "('goods_damaged','missing_parts','wrong_item','empty_box')"

bool warehouse_ops_route(rf_worker_t *w, rf_http_exchange_t *x) {
    if (strcmp(rf_http_method(x), "GET") != 0 ||
        strcmp(rf_http_path(x), "/v1/reports/quality") != 0)
        return false;
    rf_worker_reply_query(
        w, x,
        "WITH g AS (SELECT p.supplier_id, p.sku_id, r.grade FROM receipts r"
        "  JOIN expected_parcels p USING (return_id))"
        " SELECT json_build_object("
        " 'expected', (SELECT count(*) FROM expected_parcels WHERE status = 'expected'),"
        " 'oldest_expected_age_s', COALESCE((SELECT extract(epoch FROM now() - min(created_at))"
        "  ::bigint FROM expected_parcels WHERE status = 'expected'), 0),"
        " 'unmatched_receipts', (SELECT count(*) FROM receipts WHERE NOT matched),"
        " 'by_supplier', COALESCE((SELECT json_agg(json_build_object('supplier_id', supplier_id,"
        "  'inspected', n, 'quality_faults', f) ORDER BY f DESC, supplier_id) FROM"
        "  (SELECT supplier_id, count(*) AS n, count(*) FILTER (WHERE grade IN " FAULTS ") AS f"
        "  FROM g GROUP BY 1) a), '[]'::json),"
        " 'by_sku', COALESCE((SELECT json_agg(json_build_object('sku_id', sku_id,"
        "  'inspected', n, 'quality_faults', f) ORDER BY f DESC, sku_id) FROM"
        "  (SELECT sku_id, count(*) AS n, count(*) FILTER (WHERE grade IN " FAULTS ") AS f"
        "  FROM g GROUP BY 1) a), '[]'::json),"
        " 'grades', COALESCE((SELECT json_object_agg(grade, n) FROM"
        "  (SELECT grade, count(*) AS n FROM receipts GROUP BY 1) a), '{}'::json))",
        0, NULL);
    return true;
}

void warehouse_metrics(rf_worker_t *w, rf_metrics_out_t *out) {
    json_t *doc = rf_worker_query_json(
        w,
        "SELECT json_build_object('n', count(*), 'age', COALESCE(extract(epoch FROM"
        " now() - min(created_at))::bigint, 0)) FROM expected_parcels WHERE status = 'expected'",
        0, NULL);
    if (!doc) return;
    rf_metrics_printf(out,
                      "# HELP rf_parcels_expected Returned parcels approved and not yet received.\n"
                      "# TYPE rf_parcels_expected gauge\n"
                      "rf_parcels_expected{worker=\"warehouse\"} %lld\n"
                      "# HELP rf_parcels_oldest_expected_age_seconds Age of the oldest parcel "
                      "still expected.\n# TYPE rf_parcels_oldest_expected_age_seconds gauge\n"
                      "rf_parcels_oldest_expected_age_seconds{worker=\"warehouse\"} %lld\n",
                      (long long)json_integer_value(json_object_get(doc, "n")),
                      (long long)json_integer_value(json_object_get(doc, "age")));
    json_decref(doc);
}
