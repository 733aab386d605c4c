/*
 * main.c: the intake worker process: wires its migrations, event handler and
 * HTTP routes into the common worker skeleton.
 */
#include "intake.h"

extern const rf_migration_t rf_intake_migrations[];
extern const size_t rf_intake_migrations_count;

int main(int argc, char **argv) {
    rf_worker_spec_t spec = {
        .name = "intake",
        .bit = RF_W_INTAKE,
        .default_http = "127.0.0.1:8080",
        .migrations = rf_intake_migrations,
        .n_migrations = rf_intake_migrations_count,
        .apply = intake_apply,
        .route = intake_route,
        .start = intake_start,
    };
    return rf_worker_main(&spec, argc, argv);
}
