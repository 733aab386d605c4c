/*
 * main.c: the notification worker process, wired into the common skeleton.
 */
#include "notification.h"
#include "notification_ops.h"

extern const rf_migration_t rf_notification_migrations[];
extern const size_t rf_notification_migrations_count;

int main(int argc, char **argv) {
    static const rf_config_entry_t config[] = {
        {"RF_NOTIFICATION_WEBHOOK_URL", RF_CFG_STRING, notification_webhook_url, "", 0, 0,
         "HTTP webhook every message is POSTed to (JSON, Idempotency-Key); empty: log only"},
        {"RF_NOTIFICATION_WEBHOOK_TIMEOUT_MS", RF_CFG_INT, &notification_webhook_timeout_ms, "2000",
         50, 60000, "bound on one webhook call, ms"},
        {"RF_NOTIFICATION_RETRY_MAX", RF_CFG_INT, &notification_retry_max, "8", 1, 1000,
         "delivery attempts of a message before it is marked failed"},
        {"RF_NOTIFICATION_RETRY_BASE_MS", RF_CFG_INT, &notification_retry_base_ms, "1000", 10,
         3600000, "delay before the first delivery retry, doubled each time"},
        {"RF_NOTIFICATION_DELIVERY_MS", RF_CFG_INT, &notification_delivery_ms, "200", 10, 60000,
         "how often the delivery queue and due surveys are looked at, ms"},
        {"RF_NOTIFICATION_POLICY_FILE", RF_CFG_STRING, notification_policy_file, "", 0, 0,
         "per-shop notices as JSON {default, shops: {id: {event: {audience: bool}}}}"},
        {"RF_NOTIFICATION_SURVEY_DELAY_MS", RF_CFG_INT, &notification_survey_delay_ms, "0", 0,
         INT64_MAX / 2, "the satisfaction survey goes out this long after a return completes"},
    };
    static const rf_route_rule_t rules[] = {
        {"POST", "/v1/feedback", RF_ROLE_CS | RF_ROLE_CS_SUPERVISOR},
    };
    rf_worker_spec_t spec = {
        .name = "notification",
        .bit = RF_W_NOTIFICATION,
        .default_http = "127.0.0.1:8084",
        .migrations = rf_notification_migrations,
        .n_migrations = rf_notification_migrations_count,
        .config = config,
        .n_config = sizeof config / sizeof config[0],
        .rules = rules,
        .n_rules = sizeof rules / sizeof rules[0],
        .apply = notification_apply,
        .route = notification_route,
        .ops_route = notification_ops_route,
        .metrics = notification_metrics, /* notification_report.c */
        .start = notification_start,
    };
    return rf_worker_main(&spec, argc, argv);
}
