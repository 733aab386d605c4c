/*
 * main.c: the intake worker process: wires its migrations, event handler and
 * HTTP routes into the common worker skeleton.
 */
#include "intake.h"
#include "intake_ops.h"

extern const rf_migration_t rf_intake_migrations[];
extern const size_t rf_intake_migrations_count;

int main(int argc, char **argv) {
    static const rf_config_entry_t config[] = {
        {"RF_INTAKE_POLICY_FILE", RF_CFG_STRING, intake_policy_file, "", 0, 0,
         "JSON return policies {default, shops: {shop_id: ...}} loaded at start; empty: defaults"},
    };
    rf_worker_spec_t spec = {
        .name = "intake",
        .bit = RF_W_INTAKE,
        .default_http = "127.0.0.1:8080",
        .migrations = rf_intake_migrations,
        .n_migrations = rf_intake_migrations_count,
        .config = config,
        .n_config = sizeof config / sizeof config[0],
        .apply = intake_apply,
        .route = intake_route,
        .ops_route = intake_ops_route, .metrics = intake_metrics, /* intake_report.c */
        .start = intake_start,
    };
    return rf_worker_main(&spec, argc, argv);
}
