/*
 * main.c: the refund worker process, wired into the common skeleton.
 */
#include "refund.h"

extern const rf_migration_t rf_refund_migrations[];
extern const size_t rf_refund_migrations_count;

int main(int argc, char **argv) {
    rf_worker_spec_t spec = {
        .name = "refund",
        .bit = RF_W_REFUND,
        .default_http = "127.0.0.1:8083",
        .migrations = rf_refund_migrations,
        .n_migrations = rf_refund_migrations_count,
        .apply = refund_apply,
        .route = refund_route,
        .start = refund_start,
    };
    return rf_worker_main(&spec, argc, argv);
}
