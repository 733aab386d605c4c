/*
 * main.c: the review worker process: its settings, migrations, event handler
 * and HTTP routes, wired into the common worker skeleton.
 */
#include "review.h"
#include "review_ops.h"
#include "platform/platform_calls.h"

extern const rf_migration_t rf_review_migrations[];
extern const size_t rf_review_migrations_count;

int main(int argc, char **argv) {
    static const rf_config_entry_t config[] = {
        {"RF_REVIEW_AUTO_APPROVE_MAX_FEN", RF_CFG_INT, &review_auto_approve_max_fen, "5000", 0,
         INT64_MAX / 2, "refund-only requests up to this many fen are approved automatically"},
        {"RF_REVIEW_CS_LIMIT_FEN", RF_CFG_INT, &review_cs_limit_fen, "50000", 0, INT64_MAX / 2,
         "customer service decides up to this many fen; above it a CS supervisor"},
        {"RF_REVIEW_RETURN_SHIPPING_COST_FEN", RF_CFG_INT, &review_return_shipping_cost_fen, "1000",
         0, INT64_MAX / 2,
         "return shipping cost: a return_refund worth less is refunded without the goods"},
        {"RF_REVIEW_DEADLINE_SCAN_MS", RF_CFG_INT, &review_deadline_scan_ms, "1000", 50, 3600000,
         "how often tasks are scanned for a near deadline, ms"},
        {"RF_REVIEW_POLICY_FILE", RF_CFG_STRING, review_policy_file, "", 0, 0,
         "JSON review policies {default, shops, suppliers} loaded at start; empty: defaults"},
        REVIEW_OPS_CONFIG,
        RF_PCALLS_CONFIG,
    };
    static const rf_route_rule_t rules[] = {
        {"POST", "/v1/reviews/{}/approve", RF_ROLE_CS | RF_ROLE_CS_SUPERVISOR},
        {"POST", "/v1/reviews/{}/reject", RF_ROLE_CS | RF_ROLE_CS_SUPERVISOR},
    };
    rf_worker_spec_t spec = {
        .name = "review",
        .bit = RF_W_REVIEW,
        .default_http = "127.0.0.1:8081",
        .migrations = rf_review_migrations,
        .n_migrations = rf_review_migrations_count,
        .config = config,
        .n_config = sizeof config / sizeof config[0],
        .rules = rules,
        .n_rules = sizeof rules / sizeof rules[0],
        .apply = review_apply,
        .route = review_route,
        .ops_route = review_ops_route,
        .metrics = review_metrics, /* review_report.c */
        .start = review_start,
    };
    return rf_worker_main(&spec, argc, argv);
}
