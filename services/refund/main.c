/*
 * main.c: the refund worker process, wired into the common skeleton.
 */
#include "refund.h"
#include "refund_ops.h"
#include "platform/platform_calls.h"

extern const rf_migration_t rf_refund_migrations[];
extern const size_t rf_refund_migrations_count;

int main(int argc, char **argv) {
    static const rf_config_entry_t config[] = {
        {"RF_REFUND_FINANCE_THRESHOLD_FEN", RF_CFG_INT, &refund_finance_threshold_fen, "100000", 0,
         INT64_MAX / 2, "refunds above this many fen wait for a finance approval"},
        {"RF_REFUND_RETURN_SHIPPING_FEN", RF_CFG_INT, &refund_return_shipping_fen, "0", 0,
         100000000,
         "return shipping deducted when the buyer bears it uninsured (0: buyer pays"
         " the carrier directly)"},
        {"RF_REFUND_RETRY_MAX", RF_CFG_INT, &refund_retry_max, "5", 1, 100,
         "platform refund attempts before refund.failed"},
        {"RF_REFUND_RETRY_BASE_MS", RF_CFG_INT, &refund_retry_base_ms, "500", 10, 3600000,
         "delay before the first retry of a failed refund call, doubled each time"},
        {"RF_REFUND_SANDBOX_FAIL_AMOUNT_FEN", RF_CFG_INT, &refund_sandbox_fail_amount_fen, "0", 0,
         INT64_MAX / 2, "sandbox adapter: refuse calls of exactly this amount (0: never; tests)"},
        RF_PCALLS_CONFIG,
    };
    static const rf_route_rule_t rules[] = {
        {"POST", "/v1/refunds/{}/approve", RF_ROLE_FINANCE},
        {"POST", "/v1/claims/{}/settle", RF_ROLE_FINANCE},
        {"POST", "/v1/claims/{}/write-off", RF_ROLE_FINANCE},
    };
    rf_worker_spec_t spec = {
        .name = "refund",
        .bit = RF_W_REFUND,
        .default_http = "127.0.0.1:8083",
        .migrations = rf_refund_migrations,
        .n_migrations = rf_refund_migrations_count,
        .config = config,
        .n_config = sizeof config / sizeof config[0],
        .rules = rules,
        .n_rules = sizeof rules / sizeof rules[0],
        .apply = refund_apply,
        .route = refund_route,
        .ops_route = refund_ops_route,
        .metrics = refund_metrics, /* refund_report.c */
        .start = refund_start,
    };
    return rf_worker_main(&spec, argc, argv);
}
