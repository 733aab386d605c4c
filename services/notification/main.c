/*
 * main.c: the notification worker process, wired into the common skeleton.
 */
#include "notification.h"

extern const rf_migration_t rf_notification_migrations[];
extern const size_t rf_notification_migrations_count;

int main(int argc, char **argv) {
    rf_worker_spec_t spec = {
        .name = "notification",
        .bit = RF_W_NOTIFICATION,
        .default_http = "127.0.0.1:8084",
        .migrations = rf_notification_migrations,
        .n_migrations = rf_notification_migrations_count,
        .apply = notification_apply,
        .route = notification_route,
        .start = notification_start,
    };
    return rf_worker_main(&spec, argc, argv);
}
