/*
 * main.c: the warehouse worker process, wired into the common skeleton.
 */
#include "warehouse.h"
#include "warehouse_ops.h"

extern const rf_migration_t rf_warehouse_migrations[];
extern const size_t rf_warehouse_migrations_count;

int main(int argc, char **argv) {
    static const rf_config_entry_t config[] = {
        {"RF_WAREHOUSE_SUPPLIER_ACCEPT_DAYS", RF_CFG_INT, &warehouse_supplier_accept_days, "7", 0,
         3650, "days a supplier has to accept goods sent back to it (the acceptance window)"},
    };
    static const rf_route_rule_t rules[] = {
        {"POST", "/v1/receipts", RF_ROLE_WAREHOUSE},
        {"POST", "/v1/parcels/{}/tracking", RF_ROLE_WAREHOUSE | RF_ROLE_CS},
        {"POST", "/v1/supplier-legs/{}", RF_ROLE_WAREHOUSE},
        {"POST", "/v1/reships/{}", RF_ROLE_WAREHOUSE | RF_ROLE_CS},
    };
    rf_worker_spec_t spec = {
        .name = "warehouse",
        .bit = RF_W_WAREHOUSE,
        .default_http = "127.0.0.1:8082",
        .migrations = rf_warehouse_migrations,
        .n_migrations = rf_warehouse_migrations_count,
        .config = config,
        .n_config = sizeof config / sizeof config[0],
        .rules = rules,
        .n_rules = sizeof rules / sizeof rules[0],
        .apply = warehouse_apply,
        .route = warehouse_route,
        .ops_route = warehouse_ops_route,
        .metrics = warehouse_metrics, /* warehouse_report.c */
        .start = warehouse_start,
    };
    return rf_worker_main(&spec, argc, argv);
}
