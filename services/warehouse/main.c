/*
 * main.c: the warehouse worker process, wired into the common skeleton.
 */
#include "warehouse.h"

extern const rf_migration_t rf_warehouse_migrations[];
extern const size_t rf_warehouse_migrations_count;

int main(int argc, char **argv) {
    static const rf_route_rule_t rules[] = {
        {"POST", "/v1/receipts", RF_ROLE_WAREHOUSE},
        {"POST", "/v1/parcels/{}/tracking", RF_ROLE_WAREHOUSE | RF_ROLE_CS},
    };
    rf_worker_spec_t spec = {
        .name = "warehouse",
        .bit = RF_W_WAREHOUSE,
        .default_http = "127.0.0.1:8082",
        .migrations = rf_warehouse_migrations,
        .n_migrations = rf_warehouse_migrations_count,
        .rules = rules,
        .n_rules = sizeof rules / sizeof rules[0],
        .apply = warehouse_apply,
        .route = warehouse_route,
        .start = warehouse_start,
    };
    return rf_worker_main(&spec, argc, argv);
}
